"""The public API (`import rag`) on a real embedded Chroma store with MiniLM: collections (ingest whole and
streamed, list, sources, delete, rebuild with another embedding model), and the assistant as a LlamaIndex
query engine, used through LlamaIndex's own interfaces. The LLM is the scripted fake (a test double)."""

from __future__ import annotations

import json

import pytest
from llama_index.core.base.response.schema import Response
from llama_index.core.tools import QueryEngineTool

import rag
from rag import Assistant, CorpusError, Library, StoreError
from tests.reliability.papers import REVERSAL_QUESTION, REVERSAL_REPLY, SMALL_SEED_FILE
from tests.support.fakes import scripted
from tests.support.hash_embedding import HashEmbedding

ROWS = [
    {"id": "krr", "title": "Kernel Ridge Regression on Graphs",
     "abstract": "We fit kernel ridge regression to node labels of large graphs. It reaches 91.2% accuracy on Cora."},
    {"id": "ice", "title": "Sea Ice Forecasting with Neural Operators",
     "abstract": "A Fourier neural operator forecasts Arctic sea ice concentration 30 days ahead."},
]


def write_jsonl(path, rows, extra: str = ""):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + extra)
    return path


@pytest.fixture
def library(settings, embedder):
    library = Library(settings, embedder, progress=False)
    yield library
    library.close()


def test_ingest_whole_and_streamed_list_sources_and_delete(library, tmp_path):
    corpus = write_jsonl(tmp_path / "mine.jsonl", ROWS, extra="{broken\n")
    with pytest.raises(CorpusError, match=r"mine\.jsonl:3: invalid JSON"):
        library.ingest([corpus], collection="mine")
    assert "mine" not in {c.name for c in library.collections()}, "an aborted ingest creates nothing"

    steps: list[tuple[int, int]] = []
    report = library.ingest([corpus], collection="mine", skip_bad=True, progress=lambda *step: steps.append(step))
    assert (report.records, report.added, report.papers_now, len(report.bad)) == (2, 2, 2, 1)
    assert steps[0] == (0, 2) and steps[-1] == (2, 2)

    streamed = library.ingest([SMALL_SEED_FILE], collection="mine", bulk=True, batch=16)
    assert streamed.added == 43 and streamed.phases.keys() == {"survey", "write", "bm25"}
    assert streamed.papers_now == streamed.added + 2
    again = library.ingest([SMALL_SEED_FILE], collection="mine")
    assert (again.added, again.unchanged) == (0, streamed.added)

    listed = {c.name: c for c in library.collections()}
    assert listed["mine"].papers == streamed.papers_now and listed["mine"].usable
    assert listed["mine"].embed_model == library.embedder.model_name
    assert library.sources("mine") == {"mine.jsonl": 2, SMALL_SEED_FILE.name: streamed.added}

    library.delete_collection("mine")
    assert "mine" not in {c.name for c in library.collections()}
    assert not (library.settings.store.bm25_dir / "mine").exists()
    with pytest.raises(StoreError, match="no collection named 'mine'"):
        library.delete_collection("mine")
    with pytest.raises(StoreError, match="not a valid collection name"):
        library.index("x")


def test_rebuild_embeds_the_stored_papers_with_the_new_model(settings, embedder, tmp_path):
    corpus = write_jsonl(tmp_path / "mine.jsonl", ROWS)
    with Library(settings, embedder, progress=False) as library:
        library.ingest([corpus], collection="mine")
    hashed = Library(settings, HashEmbedding(), progress=False)
    try:
        (listed,) = hashed.collections()
        assert not listed.usable, "built with MiniLM: the hash embedding cannot search it"
        with pytest.raises(rag.EmbeddingMismatch, match="rag rebuild --collection mine"):
            hashed.index("mine")
        report = hashed.rebuild("mine")
        assert (report.added, report.papers_now) == (2, 2)
        (listed,) = hashed.collections()
        assert listed.usable and listed.embed_model == "hash-projection-384" and listed.name == "mine"
        papers = {p.paper_id: p for p in Assistant(settings, library=hashed).retrieve("sea ice operator",
                                                                                    collection="mine")}
        assert papers["ice"].abstract == ROWS[1]["abstract"] and papers["ice"].metadata["sources"] == ["mine.jsonl"]
    finally:
        hashed.close()


@pytest.fixture
def assistant(settings, embedder) -> Assistant:
    assistant = Assistant(settings, llm=scripted(REVERSAL_REPLY), embedder=embedder, progress=False)
    assistant.library.ingest([SMALL_SEED_FILE], collection=settings.store.collection)
    return assistant


def test_query_engine_answers_with_the_cited_papers_as_source_nodes(assistant):
    engine = assistant.as_query_engine(top_k=4)
    response = engine.query(REVERSAL_QUESTION)
    assert isinstance(response, Response)
    answer = response.metadata["answer"]
    assert str(response) == answer.answer and "binding problem" in str(response) and "[1]" in str(response)
    (node,) = response.source_nodes
    assert node.node.metadata["title"].startswith("Is the Reversal Curse a Binding Problem")
    assert node.node.metadata["quote"] in node.node.get_content() and node.node.metadata["number"] == 1
    assert len(answer.sources) == 4

    tool = QueryEngineTool.from_defaults(engine, name="papers", description="Answers from paper abstracts.")
    output = tool.call(REVERSAL_QUESTION)
    assert output.content == answer.answer and output.raw_output.source_nodes


def test_query_engine_streams_then_holds_the_checked_answer(assistant):
    response = assistant.as_query_engine(streaming=True).query(REVERSAL_QUESTION)
    words = list(response.response_gen)
    assert len(words) > 5 and "".join(words).strip() == REVERSAL_REPLY
    final = response.get_response()
    assert final.response == response.metadata["answer"].answer
    assert final.source_nodes and final.source_nodes[0].node.metadata["number"] == 1


def test_an_unanswerable_question_gives_no_source_nodes(assistant):
    response = assistant.as_query_engine().query("Which protein language model was trained on Martian genomes?")
    assert response.metadata["abstained"] and response.source_nodes == []


def test_module_level_functions_use_the_environment(settings, monkeypatch, tmp_path):
    monkeypatch.setenv("RAG_DATA_DIR", str(settings.store.data_dir))
    monkeypatch.setenv("RAG_SEEDS_DIR", str(SMALL_SEED_FILE.parent / "none"))
    monkeypatch.setenv("RAG_COLLECTION", "api")
    monkeypatch.setattr(rag, "_default", None)
    rag.get_settings.cache_clear()
    try:
        report = rag.ingest([write_jsonl(tmp_path / "mine.jsonl", ROWS)])
        assert (report.collection, report.added) == ("api", 2)
        assert [c.name for c in rag.collections()] == ["api"] and rag.sources() == {"mine.jsonl": 2}
        assert rag.retrieve("Arctic sea ice forecasts", top_k=1)[0].paper_id == "ice"
        rag.delete_collection("api")
        assert rag.collections() == []
    finally:
        rag.default_assistant().library.close()
        rag.get_settings.cache_clear()
