"""Repair of half-written papers and of a BM25 index out of step with Chroma.

The in-process tests damage a real embedded Chroma store (real MiniLM vectors) the way an
interrupted or racing writer can, and check that ingest never takes a damaged paper for
"unchanged" and that opening the store removes what cannot be trusted. The subprocess test is
what a user sees: ``rag ingest`` / ``rag ask`` printing why they rebuilt BM25 from Chroma."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from rag.corpus import Paper
from rag.index import PaperIndex
from rag.index.ingest import ingest_papers
from rag.index.store import PaperStore, chunk_id, connect, disconnect
from rag.models.embedding import make_embedding
from tests.reliability.conftest import rag_env, rag_settings, run_rag, synthetic_papers, view_store, write_jsonl


def long_abstract(topic: str, sentences: int = 30) -> str:
    return " ".join(f"Finding {i} shows that {topic} behaves differently under condition {i}."
                    for i in range(sentences))


PAPERS = [
    Paper(id="short", title="Graph solvers that converge", abstract="We learn fixed points of graph systems.",
          metadata={"sources": ["a.jsonl"]}),
    Paper(id="missing-middle", title="Sparse attention kernels", abstract=long_abstract("sparse attention"),
          metadata={"sources": ["a.jsonl"]}),
    Paper(id="head-less", title="Protein backbone diffusion", abstract=long_abstract("protein diffusion"),
          metadata={"sources": ["a.jsonl"]}),
    Paper(id="two-versions", title="Tokenizer-free language models", abstract=long_abstract("byte-level models"),
          metadata={"sources": ["a.jsonl"]}),
]


def damage(store: PaperStore) -> None:
    """What interrupted or racing writers leave: a missing chunk, a missing head, a chunk of another version."""
    store.collection.delete(ids=[chunk_id("missing-middle", 1)])
    store.collection.delete(ids=[chunk_id("head-less", 0)])
    row = store.collection.get(ids=[chunk_id("two-versions", 1)], include=["metadatas"])
    store.collection.update(ids=row["ids"], metadatas=[{**row["metadatas"][0], "content_hash": "0123456789abcdef"}])


def test_half_written_papers_are_never_unchanged_and_are_rewritten_whole(settings, embedder):
    with PaperIndex(settings, embedder, "repair") as index:
        first = index.ingest(PAPERS, progress=False)
        assert (first.added, first.chunks > len(PAPERS)) == (4, True)
        chunks = index.store.chunk_count()
        damage(index.store)
        assert {s.paper_id for s in index.store.incomplete_papers()} == {"missing-middle", "head-less"}
        assert not index.store.chunk_states(["two-versions"])["two-versions"].complete

    # check=False: open as a server client does, without removing anything, so ingest must repair
    with PaperIndex(settings, embedder, "repair", check=False) as index:
        report = index.ingest(PAPERS, progress=False)
        assert (report.added, report.updated, report.unchanged, report.repaired) == (0, 0, 1, 3)
        assert "3 repaired (left incomplete by an interrupted ingest)" in report.summary()
        assert index.store.incomplete_papers() == []
        assert index.store.chunk_count() == chunks
        stored = index.papers([p.id for p in PAPERS])
        assert {pid: p.abstract for pid, p in stored.items()} == {p.id: p.abstract for p in PAPERS}
        assert sorted(index.bm25().paper_ids) == sorted(p.id for p in PAPERS)
        assert index.bm25().search("protein diffusion backbone", 1)[0][0] == "head-less"


def test_opening_an_embedded_store_removes_half_written_papers_with_a_notice(settings, embedder, caplog):
    with PaperIndex(settings, embedder, "orphans") as index:
        index.ingest(PAPERS, progress=False)
        damage(index.store)
    with PaperIndex(settings, embedder, "orphans") as index:
        assert len(index.notices) == 2, index.notices
        assert re.match(r"removed 2 incomplete paper\(s\) from 'orphans' left by an interrupted ingest \(.*"
                        r"head-less \(\d+ chunk\(s\) without its first chunk\).*ingest their file again",
                        index.notices[0])
        assert index.notices[1] == ("BM25 index of 'orphans' was out of step with Chroma (4 papers saved, 2 in "
                                    "Chroma); rebuilt it from Chroma")
        assert index.notices[0] in caplog.text  # logged as a warning: the rag command prints those
        assert index.store.collection.get(where={"paper_id": "head-less"})["ids"] == []
        assert sorted(index.bm25().paper_ids) == ["short", "two-versions"]
        # a chunk of another version is not visible in the ids: the ingest the message asks for finds it
        report = index.ingest(PAPERS, progress=False)
        assert (report.added, report.repaired, report.unchanged) == (2, 1, 1)
        assert index.store.incomplete_papers() == [] and index.paper_count() == 4
        assert not any(s.hashes != {s.head["content_hash"]} for s in index.store.chunk_states().values())


def test_a_long_lived_index_follows_changes_made_behind_its_back(settings, embedder, tmp_path):
    """The stamp (chunk count + generation token) makes `bm25` resync from Chroma without reopening,
    even when an update keeps the chunk count: what a UI process sees when another process (with its
    own BM25 folder) ingests through a Chroma server. Here both share one embedded client."""
    index = PaperIndex(settings, embedder, "follow")
    index.ingest(PAPERS[:1], progress=False)
    elsewhere = settings.replace(data_dir=tmp_path / "elsewhere")
    other = PaperIndex(elsewhere, embedder, "follow", client=index.client)  # another writer, its own BM25
    other.ingest(PAPERS[1:], progress=False)
    assert sorted(index.bm25().paper_ids) == sorted(p.id for p in PAPERS)
    same_size = Paper(id="short", title=PAPERS[0].title, abstract="We learn fixed points of hypergraph systems.",
                      metadata={"sources": ["a.jsonl"]})
    count = index.store.chunk_count()
    other.ingest([same_size], progress=False)
    assert index.store.chunk_count() == count
    assert index.bm25().search("hypergraph", 1)[0][0] == "short"
    assert index.notices == []  # following other writers is expected, not a warning
    index.close()


@pytest.mark.slow
def test_bm25_missing_corrupt_or_behind_its_back_is_rebuilt_and_the_user_is_told(tmp_path, standin):
    data = tmp_path / "data"
    env = rag_env(data, standin)
    settings = rag_settings(data, standin)
    corpus = write_jsonl(tmp_path / "a.jsonl", synthetic_papers(30))
    args = ["ingest", str(corpus), "--collection", "bmx"]
    assert run_rag(args, env).returncode == 0
    folder = settings.store.bm25_dir / "bmx"

    shutil.rmtree(folder)  # 1. the BM25 folder is gone
    missing = run_rag(args, env)
    assert "WARNING rag.index: BM25 index of 'bmx' was missing; rebuilt it from Chroma (30 papers)" in missing.stderr
    assert "bmx: 0 added, 0 updated, 30 unchanged" in missing.stdout
    assert view_store(settings, "bmx").bm25 == {f"syn-{i:05d}" for i in range(30)}

    damaged = folder / "data.csc.index.npy"  # 2. a damaged file (half of it lost)
    damaged.write_bytes(damaged.read_bytes()[: damaged.stat().st_size // 2])
    corrupt = run_rag(args, env)
    rebuilt = re.search(r"BM25 index of 'bmx' was unreadable \(.+\); rebuilt it from Chroma \(30 papers\)",
                        corrupt.stderr)
    assert rebuilt, corrupt.stderr[-2000:]
    assert view_store(settings, "bmx").bm25_fingerprint == view_store(settings, "bmx").fingerprint

    # 3. papers written into Chroma behind BM25's back (this code path never touches BM25)
    client = connect(settings)
    try:
        embedder = make_embedding(settings)
        store = PaperStore(client, "bmx", embedder.model_name, embedder.dimension)
        extra = [Paper(id=p["id"], title=p["title"], abstract=p["abstract"], metadata={"sources": ["b.jsonl"]})
                 for p in synthetic_papers(10, start=30)]
        ingest_papers(extra, store, embedder, max_tokens=settings.embedding.chunk_tokens, overlap=1, progress=False)
    finally:
        disconnect(client, settings)
    asked = run_rag(["ask", "Replication 1 of this study, record 35", "--json", "--collection", "bmx"], env)
    assert asked.returncode == 0, asked.stderr[-2000:]
    assert ("WARNING rag.index: BM25 index of 'bmx' was out of step with Chroma (30 papers saved, 40 in Chroma); "
            "rebuilt it from Chroma") in asked.stderr
    assert json.loads(asked.stdout)["sources"]
    view = view_store(settings, "bmx")
    assert len(view.bm25) == 40 and view.bm25 == view.papers
