"""The ``rag`` command line, run in-process with Typer's runner."""

from __future__ import annotations

import json

import bibtexparser
import pytest
from bibtexparser.middlewares import LatexDecodingMiddleware
from typer.testing import CliRunner

from rag.cli import app
from tests.conftest import REPO
from tests.support.ollama_standin import OllamaStandIn

runner = CliRunner()


def env_for(settings, **extra) -> dict[str, str]:
    return {"RAG_DATA_DIR": str(settings.store.data_dir), "RAG_SEEDS_DIR": str(settings.store.seeds_dir), **extra}


def test_ingest_jsonl_reports_counts_and_is_idempotent(tmp_path, settings):
    corpus = tmp_path / "mine.jsonl"
    corpus.write_text(
        json.dumps({"id": "x1", "title": "Kernel ridge regression on graphs",
                    "abstract": "We fit kernel ridge regression to node labels of large graphs."}) + "\n"
        "{broken\n"
    )
    env = env_for(settings)
    failed = runner.invoke(app, ["ingest", str(corpus), "--collection", "mine"], env=env)
    assert failed.exit_code == 1 and "mine.jsonl:2: invalid JSON" in failed.output
    ok = runner.invoke(app, ["ingest", str(corpus), "--collection", "mine", "--skip-bad"], env=env)
    assert ok.exit_code == 0, ok.output
    assert "1 added, 0 updated, 0 unchanged" in ok.output and "mine.jsonl:2" in ok.output
    again = runner.invoke(app, ["ingest", str(corpus), "--collection", "mine", "--skip-bad"], env=env)
    assert "0 added, 0 updated, 1 unchanged" in again.output


def test_bulk_ingest_streams_a_file_over_the_size_limit(tmp_path, settings):
    from tests.support.synthetic import write_jsonl

    corpus = tmp_path / "big.jsonl"
    write_jsonl(corpus, 40)
    with corpus.open("a") as extra:
        extra.write("{broken\n" + " " * 2**20 + "\n")  # a blank line of 1 MB: over the 1 MB limit
    env = env_for(settings, RAG_INGEST_MAX_MB="1")
    refused = runner.invoke(app, ["ingest", str(corpus), "--collection", "big"], env=env)
    assert refused.exit_code == 1 and "rag ingest --bulk" in refused.output
    bad = runner.invoke(app, ["ingest", str(corpus), "--collection", "big", "--bulk"], env=env)
    assert bad.exit_code == 1 and "big.jsonl:41: invalid JSON" in bad.output, bad.output
    ok = runner.invoke(app, ["ingest", str(corpus), "--collection", "big", "--bulk", "--batch", "16", "--skip-bad"],
                       env=env)
    assert ok.exit_code == 0, ok.output
    assert "40 added, 0 updated, 0 unchanged" in ok.output and "big now holds 40 papers" in ok.output
    again = runner.invoke(app, ["ingest", str(corpus), "--collection", "big", "--bulk", "--skip-bad"], env=env)
    assert "0 added, 0 updated, 40 unchanged" in again.output


def test_invalid_setting_is_reported(settings):
    result = runner.invoke(app, ["ask", "hi"], env={**env_for(settings), "RAG_TOP_K": "0"})
    assert result.exit_code == 1 and "top_k" in result.output


@pytest.mark.slow
def test_ask_json_prints_the_answer_structure(seed_settings, seed_index):
    with OllamaStandIn(["qwen2.5:3b-instruct"]) as server:
        env = env_for(seed_settings, RAG_OLLAMA_HOST=server.url, RAG_LLM_PROVIDER="ollama")
        result = runner.invoke(app, ["ask", "Which method learns fixed points of graph systems?", "--json",
                                     "--top-k", "3"], env=env)
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert set(answer) >= {"answer", "abstained", "grade", "missing", "trail", "verdict", "citations", "sources",
                           "timings", "llm_model", "embed_model"}
    assert answer["grade"] in {"answered", "partial", "evidence", "not-found"}
    assert answer["trail"][-1]["action"] == answer["grade"]  # the last rule set the grade
    assert len(answer["sources"]) == 3
    assert set(answer["sources"][0]) == {"rank", "paper_id", "title", "score", "paper", "evidence"}
    assert set(answer["timings"]) >= {"retrieval_ms", "first_token_ms", "total_ms", "tokens_per_s"}
    assert answer["citations"] and set(answer["citations"][0]) == {"number", "paper_id", "title", "quote", "paper"}
    assert answer["citations"][0]["paper"]["authors"] == [], "the seed pages carry no authors"


@pytest.mark.slow
def test_cache_warm_says_there_is_nothing_to_warm_for_an_ollama_model(seed_settings, seed_index):
    with OllamaStandIn(["qwen2.5:3b-instruct"]) as server:
        env = env_for(seed_settings, RAG_OLLAMA_HOST=server.url, RAG_LLM_PROVIDER="ollama")
        result = runner.invoke(app, ["cache", "warm"], env=env)
    assert result.exit_code == 1
    assert "nothing to warm: the LLM in use (ollama:qwen2.5:3b-instruct) is not the embedded model" in result.output


@pytest.mark.slow
def test_info_lists_collections_and_models(seed_settings, seed_index):
    result = runner.invoke(app, ["info", "--json"], env={**env_for(seed_settings), "RAG_OLLAMA_HOST":
                                                         "http://127.0.0.1:9"})
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["collections"]["seeds"]["papers"] == 487
    assert report["embedding"]["model"] == "all-MiniLM-L6-v2-onnx-int8"
    assert report["llm"]["provider"] == "llamacpp"


FILES = REPO / "tests" / "corpus_files"
PFN_QUESTION = "How do prior-data fitted networks approximate Bayesian inference?"


def test_ask_prints_markdown_or_bibtex_of_the_filtered_papers(settings):
    """`rag ask --format markdown|bibtex` with the year and author filters, over the researchers' formats (the
    Ollama stand-in answers with source [1]'s first sentence)."""
    env = env_for(settings)
    files = [str(FILES / name) for name in ("library.bib", "export.ris", "arxiv-snapshot.jsonl", "pubmed.xml")]
    ingested = runner.invoke(app, ["ingest", *files, "--collection", "library", "--skip-bad"], env=env)
    assert ingested.exit_code == 0 and "library now holds 9 papers" in ingested.output, ingested.output
    with OllamaStandIn(["qwen2.5:3b-instruct"]) as server:
        env = {**env, "RAG_OLLAMA_HOST": server.url, "RAG_LLM_PROVIDER": "ollama"}
        ask = ["ask", PFN_QUESTION, "--collection", "library", "--year-from", "2022", "--author", "müller"]
        markdown = runner.invoke(app, [*ask, "--format", "markdown"], env=env)
        bibtex = runner.invoke(app, [*ask, "--format", "bibtex"], env=env)
        as_json = runner.invoke(app, [*ask, "--json", "--year-to", "2021"], env=env)
    assert markdown.exit_code == 0, markdown.output
    assert markdown.stdout.startswith(f"## {PFN_QUESTION}\n\nCurrently, it is hard to reap the benefits")
    assert ("\n- [1] Samuel Müller, Noah Hollmann, Sebastian Pineda Arango, Josif Grabocka, Frank Hutter (2022). "
            "*Transformers Can Do Bayesian Inference*. International Conference on Learning Representations. "
            "<https://arxiv.org/abs/2112.10510>\n  > Currently, it is hard") in markdown.stdout
    assert bibtex.exit_code == 0, bibtex.output
    (entry,) = bibtexparser.parse_string(bibtex.stdout, append_middleware=[LatexDecodingMiddleware()]).entries
    assert entry.key == "muller2022transformers" and entry["author"].startswith("Samuel Müller and Noah Hollmann")
    assert as_json.exit_code == 1 and "year_from (2022) is after year_to (2021)" in as_json.output
