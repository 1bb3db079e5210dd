"""Crash safety of ``rag ingest``: SIGKILL a real ingest process midway through 1,500 papers, then
once more exactly between a batch's chunks and its head chunks, and rerun: the collection ends with
exactly the right papers, every paper's chunks 0..n-1 complete, BM25 in step with Chroma. Run twice:
with the full check at every open, and with every collection counted as large, where opening trusts
BM25's saved stamp unless the generation token says a write began and did not finish."""

from __future__ import annotations

import random
import re
import time

import pytest

from tests.reliability.conftest import (
    kill_when,
    rag_env,
    rag_settings,
    run_rag,
    start_rag,
    synthetic_papers,
    view_store,
    write_jsonl,
)

TOTAL = 1500


@pytest.mark.slow
@pytest.mark.parametrize("large_from", ["200000", "0"], ids=["full-check", "trusted-stamp"])
def test_kill_9_midway_and_between_chunks_then_rerun_completes_exactly(tmp_path, standin, large_from):
    corpus = write_jsonl(tmp_path / "big.jsonl", synthetic_papers(TOTAL))
    data = tmp_path / "data"
    env = rag_env(data, standin, RAG_LARGE_COLLECTION_CHUNKS=large_from)
    settings = rag_settings(data, standin)
    args = ["ingest", str(corpus), "--collection", "crash"]
    timings = {}

    # 1. kill -9 from outside once about a third is in, at a random moment inside the next batch
    started = time.monotonic()
    process = start_rag(args, env, tmp_path / "run1.err")
    seen = kill_when(process, tmp_path / "run1.err", at_least=TOTAL // 3, delay=random.uniform(0.0, 0.6))
    assert process.returncode == -9
    after_kill = view_store(settings, "crash")
    timings["run1"] = time.monotonic() - started
    assert seen <= len(after_kill.papers) < TOTAL
    assert after_kill.chunks > 0
    # whatever the moment, every paper a reader can see is whole
    assert not {pid: d for pid, d in after_kill.incomplete.items() if pid in after_kill.papers}

    # 2. a second run dies by SIGKILL right after a batch's non-head chunks were written
    started = time.monotonic()
    hooked = start_rag(args, env, tmp_path / "run2.err", module="tests.reliability.crash_hook")
    assert hooked.wait(timeout=240) == -9, (tmp_path / "run2.err").read_text()
    assert "crash_hook: SIGKILL before writing" in (tmp_path / "run2.err").read_text()
    cut = view_store(settings, "crash")
    timings["run2"] = time.monotonic() - started
    half_written = set(cut.incomplete)
    assert half_written, "the hooked run should have left papers cut between their chunks"
    assert not half_written & cut.papers  # head-less: invisible to every reader, counted nowhere
    assert cut.papers >= after_kill.papers

    # 3. a plain rerun repairs and completes
    started = time.monotonic()
    rerun = run_rag(args, env)
    timings["run3"] = time.monotonic() - started
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    removed = re.search(r"removed (\d+) incomplete paper\(s\) from 'crash' left by an interrupted ingest",
                        rerun.stderr)
    assert removed and int(removed.group(1)) == len(half_written), rerun.stderr[-3000:]
    # run 2 found the BM25 index run 1 never saved out of step, and rebuilt it before dying
    assert "BM25 index of 'crash' was out of step with Chroma (0 papers saved" in (tmp_path / "run2.err").read_text()
    counts = re.search(r"crash: (\d+) added, 0 updated, (\d+) unchanged", rerun.stdout)
    assert counts, rerun.stdout
    added, unchanged = map(int, counts.groups())
    assert unchanged == len(cut.papers) and added == TOTAL - len(cut.papers)
    assert f"crash now holds {TOTAL} papers" in rerun.stdout

    final = view_store(settings, "crash")
    assert final.papers == {f"syn-{i:05d}" for i in range(TOTAL)}
    assert final.titles == TOTAL  # no paper stored twice
    assert final.incomplete == {}  # every paper's chunks 0..n-1 present, one version
    assert final.bm25 == final.papers and final.bm25_fingerprint == final.fingerprint
    assert half_written <= final.papers

    again = run_rag(args, env)  # idempotent: nothing left to do, nothing to warn about
    assert f"crash: 0 added, 0 updated, {TOTAL} unchanged" in again.stdout
    assert "WARNING" not in again.stderr, again.stderr[-2000:]
    print(f"\nkilled at {seen}/{TOTAL} (visible after kill: {len(after_kill.papers)}, chunks {after_kill.chunks}); "
          f"hooked kill left {len(half_written)} head-less papers; rerun: {added} added, {unchanged} unchanged; "
          f"{final.chunks} chunks; seconds {', '.join(f'{k} {v:.1f}' for k, v in timings.items())}")

