"""The chat UI under load: 8 `gradio_client` sessions at once, 2 questions each, through the ``/ask``
API endpoint the UI exposes, over a small real collection (real MiniLM, real Chroma) and a fake LLM
that takes a fixed time per answer (`tests.fakes.ScriptedLLM` with a per-word delay). The queue
runs one generation at a time, so most requests wait: every one must be answered (or wait in the
queue and then be answered), none may fail. Latencies are recorded in
``test-artifacts/ui_load.json``; nothing is asserted about speed."""

from __future__ import annotations

import json
import os
import statistics
import threading
import time
from datetime import UTC, datetime

import numpy as np
import pytest

from rag import Assistant, Settings
from rag.corpus import load_corpus
from tests.conftest import SEEDS
from tests.reliability.conftest import REPO
from tests.support.fakes import scripted
from tests.support.processes import free_port

CLIENTS = 8
QUESTIONS = ["What does the Reversal Curse paper conjecture?", "What causes the Reversal Curse in language models?"]
REPLY = (
    "The Reversal Curse is a manifestation of the long-standing binding problem in cognitive science [1]. "
    "The authors identify the inconsistency and entanglements of concept representations as its two causes [1]."
)
WORD_DELAY = 0.03  # seconds per streamed word: about 0.9 s per answer
RESULTS = REPO / "test-artifacts" / "ui_load.json"


@pytest.fixture(scope="module")
def ui_url(tmp_path_factory, embedder):
    """The real app (`ui.app.build_app` + `launch`) on a loopback port, over 30 seed papers."""
    from ui.app import build_app, launch

    data = tmp_path_factory.mktemp("ui-load")
    settings = Settings(data_dir=data, seeds_dir=data / "no-seeds", collection="papers")
    assistant = Assistant(settings, llm=scripted(REPLY, delay=WORD_DELAY), embedder=embedder, progress=False)
    papers = load_corpus([SEEDS / "000_3499132bda6d8b8b.txt"]).papers[:30]
    assistant.index().ingest(papers, progress=False)
    app = build_app(assistant)
    url = launch(app, settings, host="127.0.0.1", port=free_port(), block=False)
    yield url
    app.close()
    assistant.index().close()


@pytest.mark.slow
def test_eight_parallel_sessions_are_all_answered_through_the_queue(ui_url):
    from gradio_client import Client

    barrier = threading.Barrier(CLIENTS)
    records: list[dict] = []
    errors: list[str] = []
    lock = threading.Lock()

    def session(number: int) -> None:
        try:
            client = Client(ui_url, verbose=False, analytics_enabled=False)
            barrier.wait(timeout=60)
            for question in QUESTIONS:
                started = time.perf_counter()
                job = client.submit(question, api_name="/ask")
                ranks = []
                while not job.done():
                    status = job.status()
                    if status.code.value == "IN_QUEUE" and status.rank is not None:
                        ranks.append(status.rank)
                    time.sleep(0.02)
                answer = job.result(timeout=120)
                with lock:
                    records.append({"client": number, "question": question, "seconds": time.perf_counter() - started,
                                    "max_queue_rank": max(ranks, default=None), "answer": answer})
        except Exception as error:  # recorded and asserted on below, with the others
            with lock:
                errors.append(f"client {number}: {type(error).__name__}: {error}")

    started = time.perf_counter()
    threads = [threading.Thread(target=session, args=(n,), daemon=True) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=240)
    wall = time.perf_counter() - started
    assert not any(t.is_alive() for t in threads), "a session did not finish within 240 s"

    seconds = sorted(r["seconds"] for r in records)
    queued = [r for r in records if r["max_queue_rank"] is not None]
    summary = {
        "what": f"{CLIENTS} gradio_client sessions x {len(QUESTIONS)} questions via /ask, fake LLM "
                f"{WORD_DELAY} s/word ({len(REPLY.split())} words), one generation at a time",
        "requests": len(records) + len(errors),
        "answered": len(records),
        "errors": len(errors),
        "p50_s": round(float(np.percentile(seconds, 50)), 3) if seconds else None,
        "p95_s": round(float(np.percentile(seconds, 95)), 3) if seconds else None,
        "max_s": round(seconds[-1], 3) if seconds else None,
        "mean_s": round(statistics.fmean(seconds), 3) if seconds else None,
        "wall_s": round(wall, 3),
        "seen_waiting_in_queue": len(queued),
        "max_queue_rank_seen": max((r["max_queue_rank"] for r in queued), default=None),
        "latencies_s": [round(s, 3) for s in seconds],
        "machine": {"cpus": os.cpu_count(), "loadavg_1m": round(os.getloadavg()[0], 2)},
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"\nUI load: {summary['answered']}/{summary['requests']} answered, {summary['errors']} errors, "
          f"p50 {summary['p50_s']} s, p95 {summary['p95_s']} s, max {summary['max_s']} s, wall {summary['wall_s']} s, "
          f"{summary['seen_waiting_in_queue']} seen waiting in the queue "
          f"(deepest rank {summary['max_queue_rank_seen']}) -> {RESULTS.relative_to(REPO)}")

    assert errors == []
    assert len(records) == CLIENTS * len(QUESTIONS)
    for record in records:
        answer = record["answer"]
        assert answer["question"] == record["question"]
        assert not answer["abstained"] and answer["citations"], answer
        assert answer["answer"].startswith("The Reversal Curse is a manifestation")
        assert "Reversal Curse" in answer["sources"][0]["title"]
    assert queued, "with one generation at a time and 8 sessions, some requests must have waited in the queue"
