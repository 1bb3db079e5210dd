"""``rag eval`` end to end on real collections (real Chroma, real MiniLM): outputs, resume, compare, errors."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from eval.metrics import aggregate
from eval.questions import load_questions
from eval.runner import run
from rag import Assistant
from rag.cli import app
from rag.corpus import load_corpus
from rag.models.llm import LanguageModel
from tests.support.fakes import scripted

runner = CliRunner()

PAPERS = [
    {"id": "krr", "title": "Kernel Ridge Regression on Graphs",
     "abstract": "We fit kernel ridge regression to node labels of large graphs. It reaches 91.2% accuracy on Cora."},
    {"id": "tok", "title": "Byte-Level Tokenizers for Speech",
     "abstract": "We tokenize raw speech into bytes and train a transformer on 960 hours of LibriSpeech."},
    {"id": "ice", "title": "Sea Ice Forecasting with Neural Operators",
     "abstract": "A Fourier neural operator forecasts Arctic sea ice concentration 30 days ahead."},
]
QUESTIONS = [
    {"id": "q1", "question": "What accuracy does kernel ridge regression reach on Cora?", "type": "lookup",
     "gold_ids": ["krr"], "must_mention": ["91.2"]},
    {"id": "q2", "question": "Which paper forecasts arctic ice with a neural operator?", "type": "which-paper",
     "gold_titles": ["Sea ice forecasting with neural operators"]},
    {"id": "q3", "question": "Which paper studies protein folding on quantum computers?", "type": "unanswerable"},
]


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture
def eval_files(tmp_path, settings):
    env = {"RAG_DATA_DIR": str(settings.store.data_dir), "RAG_SEEDS_DIR": str(settings.store.seeds_dir)}
    return env, write_jsonl(tmp_path / "papers.jsonl", PAPERS), write_jsonl(tmp_path / "q.jsonl", QUESTIONS)


def test_retrieval_only_eval_writes_results_metrics_and_report(tmp_path, eval_files):
    env, corpus, questions = eval_files
    out = tmp_path / "out"
    args = ["eval", str(questions), "--collection", "tiny", "--corpus", str(corpus), "--out", str(out),
            "--retrieval-only", "--json"]
    result = runner.invoke(app, args, env=env)
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout)
    assert metrics["overall"]["questions"] == 3
    assert metrics["overall"]["hit@1"] == 1.0 and metrics["overall"]["mrr@10"] == 1.0
    assert set(metrics["by_type"]) == {"lookup", "which-paper", "unanswerable"}
    assert metrics["overall"]["retrieval_ms_p50"] > 0
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == ["q1", "q2", "q3"]
    assert rows[1]["retrieved"][0]["paper_id"] == "ice" and rows[1]["retrieved"][0]["gold"]
    assert rows[2]["metrics"] == {}
    assert json.loads((out / "metrics.json").read_text()) == metrics
    report = (out / "report.md").read_text()
    assert "| lookup |" in report and (out / "by_type.png").is_file()
    assert (out / "latency.png").is_file()

    # a rerun resumes: nothing is evaluated twice
    again = runner.invoke(app, args, env=env)
    assert again.exit_code == 0, again.output
    assert len((out / "results.jsonl").read_text().splitlines()) == 3

    # a different question set into the same folder is refused, not mixed in
    write_jsonl(questions, QUESTIONS[:2])
    mixed = runner.invoke(app, args, env=env)
    assert mixed.exit_code == 1 and "different run" in mixed.output


def test_compare_mode_runs_each_configuration(tmp_path, eval_files):
    env, corpus, questions = eval_files
    out = tmp_path / "cmp"
    config = tmp_path / "deep.toml"
    config.write_text("top_k = 8\nretrieval_mode = 'dense'\n")
    result = runner.invoke(app, ["eval", str(questions), "--collection", "tiny", "--corpus", str(corpus),
                                 "--out", str(out), "--retrieval-only", "--json",
                                 "--compare", "retrieval_mode=bm25", "--compare", str(config)], env=env)
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout)
    assert set(metrics) == {"default", "retrieval_mode_bm25", "deep"}
    assert json.loads((out / "deep" / "run.json").read_text())["settings"]["retrieval_mode"] == "dense"
    assert (out / "compare.png").is_file()
    assert "## Configurations side by side" in (out / "report.md").read_text()


def test_bad_question_file_names_file_and_line(tmp_path, eval_files):
    env, _, _ = eval_files
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "question": "ok?"}\n{"id": "b"}\nnot json\n{"id": "a", "question": "again?"}\n')
    result = runner.invoke(app, ["eval", str(bad), "--retrieval-only"], env=env)
    assert result.exit_code == 1
    for expected in ("bad.jsonl:2: question", "bad.jsonl:3: invalid JSON", "bad.jsonl:4: id 'a' repeats line 1"):
        assert expected in result.output


def test_bad_compare_spec_is_a_usage_error(eval_files):
    env, _, questions = eval_files
    result = runner.invoke(app, ["eval", str(questions), "--compare", "top_k"], env=env)
    assert result.exit_code == 2 and "key=value" in result.output


@pytest.mark.llm
@pytest.mark.slow
def test_short_full_run_with_the_embedded_model(tmp_path, seed_settings, seed_index):
    questions = write_jsonl(tmp_path / "q.jsonl", [
        {"id": "reversal", "question": "What does the Reversal Curse paper conjecture is the cause of the curse?",
         "type": "lookup", "gold_titles": ["Is the Reversal Curse a Binding Problem? Uncovering Limitations of "
                                           "Transformers from a Basic Generalization Failure"],
         "must_mention": ["binding"]},
        {"id": "martian", "question": "Which protein language model was trained on the Martian genome dataset?",
         "type": "unanswerable"},
    ])
    env = {"RAG_DATA_DIR": str(seed_settings.store.data_dir), "RAG_SEEDS_DIR": str(seed_settings.store.seeds_dir),
           "RAG_LLM_PROVIDER": "llamacpp"}
    result = runner.invoke(app, ["eval", str(questions), "--out", str(tmp_path / "out"), "--json"], env=env)
    assert result.exit_code == 0, result.output
    overall = json.loads(result.stdout)["overall"]
    assert overall["abstention_accuracy"] == 1.0 and overall["false_abstention_rate"] == 0.0
    assert overall["citation_recall"] == 1.0 and overall["must_mention"] == 1.0
    assert overall["first_token_ms_p50"] > 0 and overall["tokens_per_s"] > 0
    rows = [json.loads(line) for line in (tmp_path / "out" / "results.jsonl").read_text().splitlines()]
    assert rows[0]["citations"] and rows[0]["llm"].startswith("llamacpp:")


class FailingOnce:
    """A stand-in LLM (test double) whose first answer fails with a timeout, then replies normally."""

    def __init__(self, reply: str):
        self.calls = 0
        self.reply = scripted(reply).llm

    def stream_chat(self, messages, **kwargs):
        self.calls += 1
        if self.calls == 1:
            raise TimeoutError("timed out")
        return self.reply.stream_chat(messages, **kwargs)


def test_a_failed_question_is_recorded_and_retried_on_resume(tmp_path, settings, embedder):
    questions = write_jsonl(tmp_path / "q.jsonl", QUESTIONS[:2])
    papers = write_jsonl(tmp_path / "papers.jsonl", PAPERS)
    failing = FailingOnce("Kernel ridge regression reaches 91.2% accuracy on Cora [1].")
    assistant = Assistant(settings, llm=LanguageModel(failing, "llamacpp", "fake", "test double"), embedder=embedder,
                          progress=False)
    assistant.index("tiny").ingest(load_corpus([papers]).papers, progress=False)
    items = load_questions(questions)
    rows = run(assistant, items, tmp_path / "out", collection="tiny", retrieval_only=False,
               progress=False)
    assert "error" in rows[0] and "error" not in rows[1]
    assert aggregate(rows)["errors"] == 1
    again = run(assistant, items, tmp_path / "out", collection="tiny", retrieval_only=False,
                progress=False)
    assert [("error" in r) for r in again] == [False, False]
    assert again[0]["metrics"]["must_mention"] == 1.0


def test_any_failure_in_a_question_is_an_error_row_and_the_run_goes_on(tmp_path, settings, embedder, monkeypatch):
    """Not only LLM errors: a bug met on one question (here the citation check raising) is recorded with its
    type and message, and the other questions are still evaluated."""
    from rag.answering.citations import CitationChecker

    original, calls = CitationChecker.check, []

    def failing_first(self, answer):
        calls.append(answer)
        if len(calls) == 1:
            raise IndexError("string index out of range")
        return original(self, answer)

    monkeypatch.setattr(CitationChecker, "check", failing_first)
    questions = write_jsonl(tmp_path / "q.jsonl", QUESTIONS[:2])
    papers = write_jsonl(tmp_path / "papers.jsonl", PAPERS)
    reply = "A Fourier neural operator forecasts Arctic sea ice concentration 30 days ahead [1]."  # answers q2
    assistant = Assistant(settings, llm=scripted(reply), embedder=embedder, progress=False)
    assistant.index("tiny").ingest(load_corpus([papers]).papers, progress=False)
    rows = run(assistant, load_questions(questions), tmp_path / "out", collection="tiny", retrieval_only=False,
               progress=False)
    assert rows[0]["error"] == "IndexError: string index out of range"
    assert "error" not in rows[1] and rows[1]["citations"]


class NoModel(LanguageModel):
    """A language model that must not be asked: a re-check replays what the run saved."""

    def __init__(self):
        super().__init__(None, "none", "none", "test double", window=4096)

    def stream(self, messages, pieces=None, opening=""):
        raise AssertionError("the model was asked during a re-check")


def test_a_recheck_answers_saved_replies_with_todays_rules_without_the_model(tmp_path, settings, embedder):
    """The deterministic scripted LLM answers a run; re-checking that run gives the same rows with no model, and
    a saved reply citing the wrong paper is re-cited by the check as it stands today."""
    questions = write_jsonl(tmp_path / "q.jsonl", QUESTIONS[:2])
    papers = write_jsonl(tmp_path / "papers.jsonl", PAPERS)
    reply = "Kernel ridge regression reaches 91.2% accuracy on Cora [1]."
    assistant = Assistant(settings, llm=scripted(reply), embedder=embedder, progress=False)
    assistant.index("tiny").ingest(load_corpus([papers]).papers, progress=False)
    items = load_questions(questions)
    rows = run(assistant, items, tmp_path / "run", collection="tiny", retrieval_only=False, progress=False)
    saved = {row["id"]: row for row in rows}
    rechecker = Assistant(settings, llm=NoModel(), embedder=embedder, progress=False)
    again = run(rechecker, items, tmp_path / "recheck", collection="tiny", retrieval_only=False, progress=False,
                saved=saved)
    assert [(r["answer"], r["grade"], r["metrics"]) for r in again] == [
        (r["answer"], r["grade"], r["metrics"]) for r in rows]
    krr = next(n for n, s in enumerate(saved["q1"]["sources"], 1) if s["paper_id"] == "krr")
    wrong = next(n for n, s in enumerate(saved["q1"]["sources"], 1) if s["paper_id"] != "krr")
    edited = {"q1": {**saved["q1"], "raw_answer": f"Kernel ridge regression reaches 91.2% accuracy on Cora [{wrong}]."}}
    (row,) = run(rechecker, items[:1], tmp_path / "edited", collection="tiny", retrieval_only=False, progress=False,
                 saved=edited)
    assert [c["paper_id"] for c in row["citations"]] == ["krr"] and f"[{krr}]" in row["answer"]
