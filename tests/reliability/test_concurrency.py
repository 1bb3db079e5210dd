"""Several processes and one store. Embedded: the first process owns the Chroma folder and a second
one is refused at once with the fix. Chroma server: two ingesting processes and a querying one at
the same time, with nothing lost and every BM25 index (one per data folder) ending equal to Chroma."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from rag.corpus import Paper
from rag.index import PaperIndex
from rag.index.store import chunk_id
from rag.models.embedding import make_embedding
from tests.reliability.conftest import (
    REPO,
    progress_of,
    rag_env,
    rag_settings,
    run_rag,
    start_rag,
    synthetic_papers,
    view_store,
    write_jsonl,
)


@pytest.mark.slow
def test_second_process_on_an_embedded_store_is_refused_at_once_naming_the_owner(tmp_path, standin):
    data = tmp_path / "data"
    env = rag_env(data, standin)
    big = write_jsonl(tmp_path / "big.jsonl", synthetic_papers(1000))
    small = write_jsonl(tmp_path / "small.jsonl", synthetic_papers(20, tag="late"))
    owner = start_rag(["ingest", str(big), "--collection", "locked"], env, tmp_path / "owner.err")
    try:
        deadline = time.monotonic() + 120
        while progress_of(tmp_path / "owner.err") < 64:  # it has the store open and is writing
            assert owner.poll() is None and time.monotonic() < deadline, (tmp_path / "owner.err").read_text()
            time.sleep(0.05)
        started = time.monotonic()
        refused = run_rag(["ingest", str(small), "--collection", "locked"], env)
        refused_after = time.monotonic() - started
        assert owner.poll() is None, "the owner should still be running: the second process must not wait"
    finally:
        owner_out, _ = owner.communicate(timeout=240)
    folder = (data / "chroma").resolve()
    assert refused.returncode == 1
    expected = (f"error: another process (pid {owner.pid}) is using {folder}; stop it or run a Chroma server: "
                f"chroma run --path {folder} --host 127.0.0.1 --port 8000 and set RAG_CHROMA_HOST=127.0.0.1")
    assert expected in refused.stderr, refused.stderr
    assert "ingest locked" not in refused.stderr  # refused before embedding anything
    assert owner.returncode == 0 and "locked now holds 1000 papers" in owner_out, owner_out

    after = run_rag(["ingest", str(small), "--collection", "locked"], env)  # the lock went with the owner
    assert after.returncode == 0 and "locked: 20 added" in after.stdout, after.stderr[-2000:]
    assert "locked now holds 1020 papers" in after.stdout
    print(f"\nrefused in {refused_after:.1f} s (process start included): {refused.stderr.strip()}")


@pytest.mark.slow
def test_two_ingesters_and_a_querier_share_a_chroma_server_without_loss(tmp_path, standin, chroma_server):
    shared = tmp_path / "ingesters"  # both ingesters on one machine: one data folder, one BM25 folder
    elsewhere = tmp_path / "querier"  # the querier as if on another machine: its own BM25 folder
    base = write_jsonl(tmp_path / "base.jsonl", synthetic_papers(20, tag="base"))
    file_a = write_jsonl(tmp_path / "a.jsonl", synthetic_papers(400, tag="a"))
    file_b = write_jsonl(tmp_path / "b.jsonl", synthetic_papers(400, start=100, tag="b"))
    env = rag_env(shared, standin, **chroma_server.env())
    assert run_rag(["ingest", str(base), "--collection", "shared"], env).returncode == 0

    stop = tmp_path / "stop"
    querier = subprocess.Popen([sys.executable, "-m", "tests.reliability.worker", "shared", str(stop)],
                               env={**rag_env(elsewhere, standin, **chroma_server.env()), "PYTHONPATH": str(REPO)},
                               cwd=REPO, stdout=subprocess.PIPE, stderr=(tmp_path / "querier.err").open("w"),
                               text=True)
    try:
        ready = json.loads(querier.stdout.readline() or "{}")
        assert ready.get("papers") == 20, (tmp_path / "querier.err").read_text()[-3000:]
        started = time.monotonic()
        ingesters = [start_rag(["ingest", str(f), "--collection", "shared"], env, tmp_path / f"{f.stem}.err")
                     for f in (file_a, file_b)]
        outputs = [p.communicate(timeout=300)[0] for p in ingesters]
        ingest_seconds = time.monotonic() - started
        stop.touch()
        out, _ = querier.communicate(timeout=120)
    finally:
        if querier.poll() is None:
            querier.kill()
    for process, output, name in zip(ingesters, outputs, ("a", "b"), strict=True):
        assert process.returncode == 0, (tmp_path / f"{name}.err").read_text()[-3000:]
        assert "shared: 400 added, 0 updated, 0 unchanged" in output, output
    assert querier.returncode == 0, (tmp_path / "querier.err").read_text()[-3000:]
    report = json.loads(out.strip().splitlines()[-1])
    assert report["errors"] == [], report["errors"][:3]
    assert report["queries"] > 0
    assert report["bm25_papers"] == report["chroma_papers"] == 820 and report["bm25_matches_chroma"]

    view = view_store(rag_settings(shared, standin, chroma_host=chroma_server.host, chroma_port=chroma_server.port),
                      "shared")
    expected = ({f"base-{i:05d}" for i in range(20)} | {f"a-{i:05d}" for i in range(400)}
                | {f"b-{i:05d}" for i in range(100, 500)})
    assert view.papers == expected and view.titles == 820
    assert view.incomplete == {}
    assert view.bm25 == expected and view.bm25_fingerprint == view.fingerprint  # the shared BM25 folder
    print(f"\n2 x 400 papers ingested concurrently in {ingest_seconds:.1f} s while {report['queries']} queries ran "
          f"(0 errors); BM25 sizes the querier saw: {report['bm25_sizes_seen']}; final: {len(view.papers)} papers, "
          f"{view.chunks} chunks")


def test_a_server_client_reports_incomplete_papers_but_leaves_them_to_their_writer(tmp_path, standin, chroma_server):
    settings = rag_settings(tmp_path / "data", standin, chroma_host=chroma_server.host,
                            chroma_port=chroma_server.port)
    embedder = make_embedding(settings)
    papers = [Paper(id=p["id"], title=p["title"], abstract=p["abstract"], metadata={"sources": ["s.jsonl"]})
              for p in synthetic_papers(5, tag="srv")]
    with PaperIndex(settings, embedder, "in-flight") as index:
        index.ingest(papers, progress=False)
        index.store.collection.delete(ids=[chunk_id("srv-00002", 0)])  # as if its writer were mid-paper
        left = index.store.chunk_count()
    with PaperIndex(settings, embedder, "in-flight") as index:
        assert index.notices[0].startswith("1 paper(s) in 'in-flight' are incomplete (srv-00002 (")
        assert index.notices[0].endswith("another process may be writing them now; if not, `rag ingest` of their "
                                         "file repairs them")
        assert index.store.chunk_count() == left  # nothing deleted
        assert index.paper_count() == 4 and len(index.bm25()) == 4
        report = index.ingest(papers, progress=False)
        assert (report.added, report.repaired, report.unchanged) == (0, 1, 4)
        assert index.paper_count() == 5 and index.store.incomplete_papers() == []
