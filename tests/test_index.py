"""Ingestion on a real embedded Chroma store with the real MiniLM model: idempotency, updates,
chunking of long abstracts, BM25 kept in step, and embedding-model mismatch detection."""

from __future__ import annotations

import pytest

from rag.corpus import Paper
from rag.errors import EmbeddingMismatch
from rag.index import PaperIndex
from rag.index.bm25 import Bm25Index
from rag.settings import Settings

LONG = " ".join(f"Sentence number {i} describes a distinct finding about sparse attention kernels." for i in range(40))


def paper(pid: str, title: str, abstract: str, source: str = "a.jsonl") -> Paper:
    return Paper(id=pid, title=title, abstract=abstract, metadata={"sources": [source]})


PAPERS = [
    paper("p1", "Graph solvers that converge", "We learn fixed points of graph systems with guaranteed convergence."),
    paper("p2", "Sparse attention at scale", LONG),
    paper("p3", "Protein folding with diffusion", "A diffusion model generates protein backbones from noise."),
]


def test_reingest_adds_nothing_and_changed_abstract_replaces(settings, embedder):
    index = PaperIndex(settings, embedder, "test-idem")
    first = index.ingest(PAPERS, progress=False)
    assert (first.added, first.updated, first.unchanged) == (3, 0, 0)
    chunks = index.store.chunk_count()
    assert chunks > 3  # the long abstract was split into several chunks

    again = index.ingest(PAPERS, progress=False)
    assert (again.added, again.updated, again.unchanged, again.chunks) == (0, 0, 3, 0)
    assert index.store.chunk_count() == chunks

    changed = paper("p3", "Protein folding with diffusion", "A flow-matching model designs enzymes instead.")
    report = index.ingest([changed], progress=False)
    assert (report.added, report.updated) == (0, 1)
    assert index.papers(["p3"])["p3"].abstract == "A flow-matching model designs enzymes instead."
    assert index.bm25().search("enzymes flow matching", 3)[0][0] == "p3"
    assert index.bm25().search("backbones noise", 3) == []
    assert index.paper_count() == 3


def test_long_abstract_is_chunked_within_window_and_reassembled(settings, embedder):
    index = PaperIndex(settings, embedder, "test-chunks")
    index.ingest(PAPERS, progress=False)
    rows = index.store.collection.get(where={"paper_id": "p2"}, include=["documents"])
    assert len(rows["ids"]) >= 3
    for document in rows["documents"]:
        text = f"title: Sparse attention at scale\n\n{document}"
        assert embedder.count_tokens(text) <= settings.embedding.chunk_tokens
    assert index.papers(["p2"])["p2"].abstract == LONG


def test_same_paper_from_another_file_extends_sources(settings, embedder):
    index = PaperIndex(settings, embedder, "test-sources")
    index.ingest(PAPERS[:1], progress=False)
    report = index.ingest([paper("p1", PAPERS[0].title, PAPERS[0].abstract, source="b.csv")], progress=False)
    assert report.unchanged == 1
    assert index.papers(["p1"])["p1"].sources == ["a.jsonl", "b.csv"]


def test_dense_search_explores_as_many_candidates_as_configured_also_in_an_older_collection(settings, embedder):
    """Chroma rebuilds its HNSW graph from its log in each process, differently each time; a narrow search (its
    default explores 100) missed a seed question's nearest chunk in some processes."""
    narrow = Settings(data_dir=settings.store.data_dir, seeds_dir=settings.store.seeds_dir, hnsw_ef_search=100)
    index = PaperIndex(narrow, embedder, "test-ef")
    index.ingest(PAPERS, progress=False)
    assert index.store.collection.configuration["hnsw"]["ef_search"] == 100
    index.close()
    reopened = PaperIndex(settings, embedder, "test-ef")
    assert reopened.store.collection.configuration["hnsw"]["ef_search"] == settings.store.hnsw_ef_search == 1000
    assert set(reopened.papers([p.id for p in PAPERS])) == {p.id for p in PAPERS}  # nothing lost


def test_embedding_model_mismatch_is_a_clear_error(settings, embedder):
    PaperIndex(settings, embedder, "test-mismatch").ingest(PAPERS[:1], progress=False)

    class OtherModel:
        model_name = "ollama:nomic-embed-text"
        dimension = 768

    expected = r"all-MiniLM-L6-v2-onnx-int8.*384.*nomic-embed-text.*768.*rag rebuild --collection test-mismatch"
    with pytest.raises(EmbeddingMismatch, match=expected):
        PaperIndex(settings, OtherModel(), "test-mismatch")


def test_bm25_out_of_step_is_rebuilt_from_chroma(settings, embedder):
    index = PaperIndex(settings, embedder, "test-sync")
    index.ingest(PAPERS, progress=False)
    Bm25Index.build([("ghost", "ghost paper", [])], "stale").save(index.bm25_dir)
    reopened = PaperIndex(settings, embedder, "test-sync")
    assert sorted(reopened.bm25().paper_ids) == ["p1", "p2", "p3"]
