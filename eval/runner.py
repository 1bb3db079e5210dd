"""Running a question set through the assistant, one JSON line per question, resumable."""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

from tqdm import tqdm

from eval.metrics import (
    citation_precision,
    citation_recall,
    citation_validity,
    must_mention,
    retrieval_metrics,
)
from eval.questions import Question, paper_keys
from rag import Answer, Assistant

RETRIEVAL_DEPTH = 10  # the @10 metrics need ten ranked papers whatever the answer's top_k
RUN_FILE = "run.json"
RESULTS_FILE = "results.jsonl"


SECOND_LOOK_OPENING = "According to [1],"  # how a second look's reply opens (rows saved without `second_look`)


class ResumeMismatch(ValueError):
    """The output folder holds results of a different run."""


class RecheckMismatch(RuntimeError):
    """A saved reply cannot be re-checked: retrieval now yields other sources than the run's."""


def gold_labels(question: Question) -> list[set[str]]:
    """One set of match keys per gold paper (ids and titles given in the same order describe one paper)."""
    count = max(len(question.gold_ids), len(question.gold_titles))
    labels = []
    for i in range(count):
        keys = set()
        if i < len(question.gold_ids):
            keys.add(f"id:{question.gold_ids[i]}")
        if i < len(question.gold_titles):
            keys |= {k for k in paper_keys("", question.gold_titles[i]) if k.startswith("title:")}
        labels.append(keys)
    return labels


def label(paper_id: str, title: str, gold: list[set[str]]) -> str:
    """``gold:<n>`` for the n-th gold paper, else the paper's own id."""
    keys = paper_keys(paper_id, title)
    return next((f"gold:{n}" for n, g in enumerate(gold) if g & keys), paper_id)


def run_signature(assistant: Assistant, questions: list[Question], collection: str, retrieval_only: bool) -> dict:
    """What must match for a rerun into the same folder to resume instead of mixing runs."""
    settings = assistant.settings
    asked = json.dumps([q.model_dump() for q in questions], sort_keys=True, ensure_ascii=False)
    return {
        "questions_sha256": hashlib.sha256(asked.encode()).hexdigest(),
        "collection": collection,
        "retrieval_only": retrieval_only,
        "settings": {name: value for name, value in settings.flat().items() if name in EVAL_SETTINGS},
        "embed_model": assistant.embed_model,
    }


EVAL_SETTINGS = {
    "retrieval_mode", "top_k", "candidates", "rrf_k", "chunk_tokens", "llm_provider", "ollama_model",
    "llamacpp_model", "context_tokens", "max_answer_tokens", "temperature", "support_threshold", "abstain_threshold",
    "prompt_cache", "kv_type", "second_look_threshold", "second_look_papers", "on_topic_share", "abstain_similarity",
    "seed", "list_judge", "list_judge_margin", "llamacpp_flash_attn",
    "prompt_cache_live_head", "source_gap", "list_candidates", "verdict_support", "verdict_papers",
}


def recheck_question(assistant: Assistant, question: Question, collection: str, saved: dict) -> dict:
    """One results.jsonl row from a saved one: its retrieval as saved, and the answer today's rules give to its
    saved reply and list judgements (`Assistant.recheck`); `ReplayExhausted` when the answer needs a generation
    the run did not save, `RecheckMismatch` when retrieval no longer yields the saved sources."""
    gold = gold_labels(question)
    titles = [source["title"] for source in saved["sources"]]
    judged = {titles[int(rank) - 1]: p for rank, p in saved.get("judged", {}).items() if int(rank) <= len(titles)}
    ranking = [source["paper_id"] for source in saved["sources"]] + [p["paper_id"] for p in saved["retrieved"]]
    answer = assistant.recheck(question.question, saved["raw_answer"], second_look=saved_second_look(saved),
                               judged=judged, ranking=list(dict.fromkeys(ranking)), collection=collection)
    if [s.paper_id for s in answer.sources] != [source["paper_id"] for source in saved["sources"]]:
        raise RecheckMismatch("retrieval no longer yields the saved run's sources")
    row = {key: saved[key] for key in ("id", "question", "type", "gold", "retrieved")}
    row.update(answer_fields(answer, question, gold, {f"gold:{n}" for n in range(len(gold))}))
    row["timings"] = saved["timings"]  # the run's: a re-check takes no time worth reporting
    return row


def saved_second_look(saved: dict) -> bool:
    """Whether a saved reply is a second look's (rows written before `Answer.second_look` existed: it opens as a
    second look does and the answer said so, or abstained)."""
    if "second_look" in saved:
        return saved["second_look"]
    return saved["raw_answer"].startswith(SECOND_LOOK_OPENING) and (
        saved["abstained"] or any("second look" in notice for notice in saved.get("notices", [])))


def evaluate_question(assistant: Assistant, question: Question, collection: str, retrieval_only: bool) -> dict:
    """One results.jsonl row: the retrieval ranking, and unless retrieval-only, the checked answer."""
    gold = gold_labels(question)
    gold_set = {f"gold:{n}" for n in range(len(gold))}
    started = time.perf_counter()
    papers = assistant.retrieve(question.question, top_k=RETRIEVAL_DEPTH, collection=collection)
    retrieval_ms = (time.perf_counter() - started) * 1000
    ranking = [label(p.paper_id, p.title, gold) for p in papers]
    row: dict = {
        "id": question.id,
        "question": question.question,
        "type": question.type,
        "gold": question.gold_ids or question.gold_titles,
        "retrieved": [{"rank": p.rank, "paper_id": p.paper_id, "title": p.title, "score": round(p.score, 4),
                       "gold": lbl in gold_set} for p, lbl in zip(papers, ranking, strict=True)],
        "metrics": retrieval_metrics(ranking, gold_set, [p.score for p in papers]),
        "timings": {"retrieval_ms": round(retrieval_ms, 1)},
    }
    if retrieval_only:
        return row
    row.update(answer_fields(assistant.ask(question.question, collection=collection), question, gold, gold_set))
    return row


def answer_fields(answer: Answer, question: Question, gold: list[set[str]], gold_set: set[str]) -> dict:
    """The answer part of a results row, with its per-question answer metrics."""
    cited = [label(c.paper_id, c.title, gold) for c in answer.citations]
    metrics = {
        "must_mention": must_mention("" if answer.abstained else answer.answer, question.must_mention),
        "citation_validity": citation_validity(answer.raw_answer, len(answer.sources)),
        "citation_precision": citation_precision(cited, gold_set),
        "citation_recall": citation_recall(cited, gold_set),
    }
    return {
        "answer": answer.answer,
        "raw_answer": answer.raw_answer,
        "second_look": answer.second_look,
        "judged": answer.judged,
        "abstained": answer.abstained,
        "grade": answer.grade,
        "missing": answer.missing,
        "trail": [hit.model_dump() for hit in answer.trail],
        "verdict": answer.verdict.model_dump() if answer.verdict else None,
        "gold_verdict": question.verdict,
        "notices": answer.notices,
        "citations": [c.model_dump() for c in answer.citations],
        "sources": [s.model_dump() for s in answer.sources],
        "llm": f"{answer.llm_provider}:{answer.llm_model}",
        "metrics": {k: v for k, v in metrics.items() if v is not None},
        "timings": {**answer.timings.model_dump(), "load_1min": round(os.getloadavg()[0], 2)},
    }


def read_results(path: Path) -> dict[str, dict]:
    """Finished rows by question id (a torn last line from an interrupted run, and failed questions, are left out)."""
    rows: dict[str, dict] = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if "error" not in row:  # failed questions are asked again
                rows[row["id"]] = row
    return rows


def run(
    assistant: Assistant,
    questions: list[Question],
    out_dir: Path,
    *,
    collection: str,
    retrieval_only: bool,
    progress: bool = True,
    label_text: str = "eval",
    saved: dict[str, dict] | None = None,
) -> list[dict]:
    """Evaluate every question not already in ``out_dir/results.jsonl``; return all rows in question order. With
    ``saved`` (rows of earlier runs by question id), re-check their replies instead of asking the model."""
    out_dir.mkdir(parents=True, exist_ok=True)
    signature = run_signature(assistant, questions, collection, retrieval_only)
    if saved is not None:
        signature["recheck"] = hashlib.sha256(json.dumps(saved, sort_keys=True).encode()).hexdigest()
    run_file = out_dir / RUN_FILE
    if run_file.is_file() and json.loads(run_file.read_text()) != signature:
        raise ResumeMismatch(f"{out_dir} holds results of a different run (other questions or settings); "
                             "pass another --out or delete that folder")
    run_file.write_text(json.dumps(signature, indent=2))
    results_path = out_dir / RESULTS_FILE
    done = read_results(results_path)
    compact(results_path, done)
    todo = [q for q in questions if q.id not in done]
    with results_path.open("a", encoding="utf-8") as results, tqdm(
        total=len(questions), initial=len(questions) - len(todo), desc=label_text, unit="q", disable=not progress
    ) as bar:
        for question in todo:
            try:
                row = (evaluate_question(assistant, question, collection, retrieval_only) if saved is None
                       else recheck_question(assistant, question, collection, saved[question.id]))
            except Exception as error:  # recorded as an error row (retried by the next run into this folder)
                message = f"{type(error).__name__}: {error}"
                row = {"id": question.id, "question": question.question, "type": question.type,
                       "gold": question.gold_ids or question.gold_titles, "error": message}
                bar.write(f"{question.id}: {message}")
            results.write(json.dumps(row, ensure_ascii=False) + "\n")
            results.flush()
            done[question.id] = row
            bar.update()
    return [done[q.id] for q in questions if q.id in done]


def compact(path: Path, rows: dict[str, dict]) -> None:
    """Rewrite results.jsonl with only its complete rows, so appending never follows a torn line."""
    if path.is_file():
        tmp = path.with_suffix(".tmp")
        tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows.values()), encoding="utf-8")
        tmp.replace(path)
