"""The scale path: BM25 builder equal to bm25s, streaming rebuild equal to the snapshot, memory-mapped
loading, the streaming corpus reader, and bulk ingestion that resumes after an interruption.

Vectors come from the benchmarks' `HashEmbedding` (deterministic, instant): what is tested here
does not depend on what the vectors mean."""

from __future__ import annotations

import json

import bm25s
import numpy as np
import pytest

from rag.corpus import CorpusError, load_corpus
from rag.corpus.stream import stream_corpus
from rag.index import PaperIndex, bm25, count_papers
from rag.index.bm25 import Bm25Index
from rag.index.bulk import bulk_ingest
from rag.text import content_terms
from tests.conftest import SEEDS
from tests.support.hash_embedding import HashEmbedding
from tests.support.synthetic import synthetic_records, write_jsonl


@pytest.fixture(scope="module")
def hashed() -> HashEmbedding:
    return HashEmbedding(buckets=1 << 12)


def test_builder_scores_are_bit_identical_to_bm25s():
    papers = sorted((p.id, f"{p.title}\n{p.abstract}", p.sources) for p in load_corpus([SEEDS]).papers)
    papers += [("empty", "the of and", ["x"]), ("tiny", "Graphs.", ["x"])]
    papers.sort()
    reference = bm25s.BM25()
    reference.index([content_terms(text) for _, text, _ in papers], show_progress=False)
    built = Bm25Index.build(papers, "fp")
    assert built.paper_ids == [p[0] for p in papers]
    assert set(built.retriever.vocab_dict) == set(reference.vocab_dict)

    def column(retriever, term):
        j, indptr = retriever.vocab_dict[term], retriever.scores["indptr"]
        rows = retriever.scores["indices"][indptr[j] : indptr[j + 1]]
        return dict(zip(rows.tolist(), retriever.scores["data"][indptr[j] : indptr[j + 1]].tolist(), strict=True))

    assert all(column(built.retriever, t) == column(reference, t) for t in reference.vocab_dict if t)
    old = Bm25Index(reference, built.paper_ids, built.sources, "fp")
    for title in [p[1].split("\n")[0] for p in papers[:60]]:
        assert built.search(title, 40) == old.search(title, 40)
    assert built.idf("diffus") == old.idf("diffus")


def test_large_saved_index_is_memory_mapped_and_answers_the_same(tmp_path, monkeypatch):
    papers = [(r["id"], f"{r['title']}\n{r['abstract']}", ["s.jsonl"]) for r in synthetic_records(300)]
    built = Bm25Index.build(papers, "fp")
    built.save(tmp_path / "bm25")
    small, _ = Bm25Index.read(tmp_path / "bm25")
    assert not isinstance(small.retriever.scores["data"], np.memmap)  # small: read into memory as before
    monkeypatch.setattr(bm25, "MMAP_BYTES", 1)
    mapped, state = Bm25Index.read(tmp_path / "bm25")
    assert state == "ok" and isinstance(mapped.retriever.scores["data"], np.memmap)
    built.save(tmp_path / "bm25")  # a save swaps the folder under the mapped index: it keeps working
    for _, text, _ in papers[:20]:
        query = text.split("\n")[0]
        assert mapped.search(query, 10) == built.search(query, 10) == small.search(query, 10)


def test_streaming_reader_dedups_like_load_corpus(tmp_path):
    records = list(synthetic_records(40))
    write_jsonl(tmp_path / "a.jsonl", 30)
    (tmp_path / "b.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records[25:40] + records[:2]))
    stream, found = stream_corpus([tmp_path / "a.jsonl", tmp_path / "b.jsonl"])
    streamed = list(stream)
    loaded = load_corpus([tmp_path / "a.jsonl", tmp_path / "b.jsonl"])
    assert found.records == stream.records == loaded.records == 47
    assert [p.id for p in streamed] == [p.id for p in loaded.papers] and stream.duplicates == 7
    assert stream.extra_sources == {p.id: ["b.jsonl"] for p in loaded.papers if p.sources == ["a.jsonl", "b.jsonl"]}
    (tmp_path / "c.jsonl").write_text('{"title": "no abstract"}\n')
    with pytest.raises(CorpusError):  # like load_corpus: nothing to write when a record is bad
        stream_corpus([tmp_path / "a.jsonl", tmp_path / "c.jsonl"])
    stream, found = stream_corpus([tmp_path / "a.jsonl", tmp_path / "c.jsonl"], skip_bad=True)
    assert len(list(stream)) == 30 and len(stream.bad) == len(found.bad) == 1


def test_bulk_ingest_resumes_after_an_interruption(settings, hashed, tmp_path):
    write_jsonl(tmp_path / "a.jsonl", 300)
    (tmp_path / "b.jsonl").write_text("".join(json.dumps(r) + "\n" for r in synthetic_records(5)))
    files = [tmp_path / "a.jsonl", tmp_path / "b.jsonl"]

    class Interrupted(Exception):
        pass

    def explode_after(count):
        def embed(texts, _seen=[0]):  # noqa: B006 -- a counter shared by the calls of this run
            _seen[0] += 1
            if _seen[0] > count:
                raise Interrupted
            return original(texts)
        return embed

    with PaperIndex(settings, hashed, "bulk") as index:
        original = hashed.embed
        object.__setattr__(hashed, "embed", explode_after(2))  # dies in the third step of 64 papers
        try:
            with pytest.raises(Interrupted):
                bulk_ingest(index, files, batch_papers=64, progress=False)
        finally:
            object.__delattr__(hashed, "embed")
        assert index.paper_count() == 128
        report = bulk_ingest(index, files, batch_papers=64, progress=False)
        assert report.bm25_rebuilt
        assert (report.unchanged, report.added, report.duplicates, report.sources_updated) == \
            (128, 172, 5, 5)
        stored, fingerprint = index.store.snapshot()
        assert len(stored) == 300 and index.store.incomplete_papers() == []
        assert stored["syn-0000002"].sources == ["a.jsonl", "b.jsonl"]
        assert index.bm25().fingerprint == fingerprint and sorted(index.bm25().paper_ids) == sorted(stored)

        visited = {}
        assert index.store.scan_papers(lambda p: visited.setdefault(p.paper_id, p), batch=97) == fingerprint
        assert visited == stored and count_papers(index.store.collection, batch=97) == 300
        again = bulk_ingest(index, files, batch_papers=64, progress=False)
        assert (again.unchanged, again.sources_updated, again.bm25_rebuilt) == (300, 0, False)


def test_bulk_ingest_with_two_workers_stores_the_same(settings, hashed, tmp_path):
    write_jsonl(tmp_path / "a.jsonl", 200)
    with PaperIndex(settings, hashed, "one") as one, PaperIndex(settings, hashed, "two", client=one.client) as two:
        first = bulk_ingest(one, [tmp_path / "a.jsonl"], batch_papers=16, progress=False)
        second = bulk_ingest(two, [tmp_path / "a.jsonl"], batch_papers=16, progress=False, workers=2)
        assert (second.added, second.chunks) == (first.added, first.chunks) == \
            (200, first.chunks)
        assert one.store.fingerprint() == two.store.fingerprint() and two.store.incomplete_papers() == []
        assert two.bm25().fingerprint == two.store.fingerprint() and len(two.bm25()) == 200


def test_large_collection_follows_other_writers_by_generation_without_counting(settings, hashed, tmp_path,
                                                                              monkeypatch):
    settings = settings.replace(large_collection_chunks=1)  # every collection counts as large
    write_jsonl(tmp_path / "a.jsonl", 40)
    with PaperIndex(settings, hashed, "big") as index:
        bulk_ingest(index, [tmp_path / "a.jsonl"], batch_papers=16, progress=False)
        assert len(index.bm25()) == 40
        elsewhere = settings.replace(data_dir=tmp_path / "elsewhere")
        other = PaperIndex(elsewhere, hashed, "big", client=index.client)
        counted = []
        monkeypatch.setattr(type(index.store.collection), "count", lambda self: counted.append(1) or 0)
        assert len(index.bm25()) == 40 and counted == []  # unchanged: one generation read, no count
        monkeypatch.undo()
        (tmp_path / "b.jsonl").write_text("".join(json.dumps(r) + "\n" for r in synthetic_records(5, start=40)))
        bulk_ingest(other, [tmp_path / "b.jsonl"], progress=False)
        assert len(index.bm25()) == 45  # another writer's rag ingest bumped the generation: followed at once


def test_papers_by_chunk_id_equal_the_snapshot_even_when_damaged(settings, hashed, tmp_path):
    from rag.index.store import chunk_id

    write_jsonl(tmp_path / "a.jsonl", 30)
    small_chunks = settings.replace(chunk_tokens=64)  # most papers get several chunks
    with PaperIndex(small_chunks, hashed, "byid") as index:
        bulk_ingest(index, [tmp_path / "a.jsonl"], progress=False)
        ids = [f"syn-{i:07d}" for i in range(0, 30, 3)] + ["not-there"]
        index.store.collection.delete(ids=[chunk_id(ids[1], 1)])  # a paper missing a middle chunk
        index.store.collection.delete(ids=[chunk_id(ids[2], 0)])  # a paper without its head
        by_id, snapshot = index.store.papers(ids), index.store.snapshot(ids)[0]
        assert by_id == snapshot and len(by_id) == 9 and ids[2] not in by_id
        assert all(len(index.store.chunk_states([pid])[pid].positions) > 1 for pid in ids[3:6])


def test_a_large_collection_opens_without_reading_its_papers_unless_a_write_is_cut_short(
        settings, hashed, tmp_path, monkeypatch):
    """Opening trusts BM25's saved (count, generation) stamp only while no write has begun since."""
    from rag.index.bm25 import STAMP
    from rag.index.store import PaperStore, chunk_id

    settings = settings.replace(large_collection_chunks=1)  # every collection counts as large
    write_jsonl(tmp_path / "a.jsonl", 40)
    with PaperIndex(settings, hashed, "fast") as index:
        bulk_ingest(index, [tmp_path / "a.jsonl"], batch_papers=16, progress=False)
        longer = [meta["paper_id"] for meta in index.store.collection.get(where={"chunk": 1}, limit=2)["metadatas"]]
    reads = []
    paper_states = PaperStore.paper_states
    monkeypatch.setattr(PaperStore, "paper_states", lambda *a, **k: reads.append(1) or paper_states(*a, **k))

    def reopen(then=None) -> tuple[bool, list[str], int]:
        """Open the collection: (whether it read the papers, its notices, BM25's size); then ``then(store)``."""
        reads.clear()
        with PaperIndex(settings, hashed, "fast") as index:
            opened = (bool(reads), index.notices, len(index.bm25()))
            if then:
                then(index.store)
        return opened

    assert reopen() == (False, [], 40)  # in step since the bulk ingest saved BM25: nothing read

    def cut_mid_paper(store):  # a write began, then died having swapped a head chunk for a stray one
        store.begin_write()
        row = store.collection.get(ids=[chunk_id(longer[0], 1)], include=["metadatas", "documents", "embeddings"])
        store.collection.delete(ids=[chunk_id(longer[0], 0)])
        store.collection.upsert(ids=["stray#1"], embeddings=row["embeddings"], documents=row["documents"],
                                metadatas=[{**row["metadatas"][0], "paper_id": "stray"}])

    reopen(then=cut_mid_paper)  # the chunk count is unchanged: only the "writing" token tells
    full, notices, size = reopen()
    assert (full, size) == (True, 39) and notices[0].startswith("removed 2 incomplete paper(s) from 'fast'")
    assert reopen() == (False, [], 39)  # the repair's own write ended clean: trusted again

    reopen(then=PaperStore.begin_write)  # a write cut short after its last change: checked, nothing to say
    assert reopen() == (True, [], 39)
    assert reopen() == (False, [], 39)

    # an edit outside `rag` (no token) is seen when it changes the chunk count
    reopen(then=lambda store: store.collection.delete(ids=[chunk_id(longer[1], 0)]))
    full, notices, size = reopen()
    assert (full, size) == (True, 38) and notices[0].startswith("removed 1 incomplete paper(s)")

    (settings.store.bm25_dir / "fast" / STAMP).unlink()  # BM25 saved by a version without stamps
    assert reopen() == (True, [], 38)  # checked once, found in step, stamped
    assert reopen() == (False, [], 38)
