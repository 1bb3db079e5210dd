"""Bulk ingestion of large corpora: streamed, in large steps, with a progress bar and ETA, resumable.

    rag ingest big.jsonl --collection big --bulk --batch 1024

* **Constant memory in the texts**: a first pass validates and counts the records (the total for
  the ETA); the second streams them (`rag.corpus.stream`); only paper ids are remembered.
* **Large steps**: ``batch_papers`` papers are checked, embedded and upserted per step (upserts
  split at the server's maximum batch size), so per-call overheads are paid rarely.
* **Resumable**: the ordinary ingest guarantees hold (stable ids, heads-last atomic papers), so
  after an interruption the same command skips every stored paper as unchanged and repairs a
  half-written one.
* **BM25 once**: rebuilt once at the end from Chroma, streaming (`PaperIndex.rebuild_bm25`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from itertools import islice
from pathlib import Path

from tqdm import tqdm

from rag.corpus import Paper
from rag.corpus.stream import stream_corpus
from rag.index.ingest import IngestReport, Progress, ingest_papers
from rag.index.paper_index import PaperIndex

BULK_BATCH = 1024


def add_sources(index: PaperIndex, extra: dict[str, list[str]], batch: int = 1000) -> int:
    """Extend stored papers' source lists (repeats met later in a stream); returns how many changed."""
    changed = 0
    ids = list(extra)
    for start in range(0, len(ids), batch):
        states = index.store.chunk_states(ids[start : start + batch])
        for pid in ids[start : start + batch]:
            state = states.get(pid)
            if state is None or state.head is None:
                continue
            merged = state.sources + [s for s in extra[pid] if s not in state.sources]
            if merged != state.sources:
                index.store.set_sources(pid, int(state.head["n_chunks"]), merged)
                changed += 1
    if changed:
        index.store.touch()
    return changed


def ingest_in_threads(papers: Iterable[Paper], index: PaperIndex, workers: int, total: int, progress: bool,
                      on_step: Progress | None, options: dict) -> IngestReport:
    """`ingest_papers` over whole steps handed to ``workers`` threads; the reports are summed.

    Steps hold distinct papers (the stream yields each id once), so concurrent steps never write
    the same paper; every guarantee of a single step (heads last, repair) holds per step.
    """
    iterator, lock, failed = iter(papers), threading.Lock(), threading.Event()
    total_report = IngestReport(collection=index.name)
    handed_out = 0
    started = time.perf_counter()

    def work(bar: tqdm) -> None:
        while not failed.is_set():
            with lock:
                step = list(islice(iterator, options["batch_papers"]))
            if not step:
                return
            try:
                done = ingest_papers(step, index.store, index.embedder, progress=False, **options)
            except BaseException:
                failed.set()
                raise
            with lock:
                nonlocal handed_out
                total_report.add(done)
                handed_out += len(step)
                bar.update(len(step))
                if on_step is not None:
                    on_step(handed_out, total)

    with tqdm(total=total, unit="paper", desc=f"ingest {index.name}", disable=not progress) as bar, \
            ThreadPoolExecutor(workers) as pool:
        for future in [pool.submit(work, bar) for _ in range(workers)]:
            future.result()
    total_report.seconds = time.perf_counter() - started
    return total_report


def bulk_ingest(index: PaperIndex, paths: Iterable[Path], *, batch_papers: int = BULK_BATCH, skip_bad: bool = False,
                progress: bool = True, on_step: Progress | None = None, stop_after_s: float | None = None,
                workers: int = 1) -> IngestReport:
    """Stream ``paths`` into ``index`` in steps of ``batch_papers``, then rebuild BM25 once.

    ``workers`` > 1 runs that many steps at once in threads: one prepares (chunks, embeds) while
    another waits for the store, which pays when the embedding is cheap or remote (an Ollama
    server on a GPU host) and the store is the bottleneck. With the embedded MiniLM, which already
    uses every core, keep 1.

    ``stop_after_s`` ends the run cleanly after the step in progress when that many seconds have
    passed (what an interruption leaves, minus the half-written step); the same call resumes it.
    """
    started = time.perf_counter()
    stream, found = stream_corpus(paths, skip_bad=skip_bad, limits=index.settings.corpus)
    surveyed = time.perf_counter()
    stopped = False

    steps: list[tuple[int, float]] = []

    def papers():
        nonlocal stopped
        for count, paper in enumerate(stream):
            if count % batch_papers == 0:
                steps.append((count, round(time.perf_counter() - surveyed, 2)))
                if stop_after_s is not None and time.perf_counter() - started > stop_after_s:
                    stopped = True
                    return
            yield paper
        steps.append((stream.unique, round(time.perf_counter() - surveyed, 2)))

    embedding = index.settings.embedding
    options = {"max_tokens": embedding.chunk_tokens, "overlap": embedding.chunk_overlap_sentences,
               "batch_papers": batch_papers}
    if workers <= 1:
        report = ingest_papers(papers(), index.store, index.embedder, total=found.records, progress=progress,
                               on_step=on_step, **options)
    else:
        report = ingest_in_threads(papers(), index, workers, found.records, progress, on_step, options)
    written = time.perf_counter()
    changed = add_sources(index, stream.extra_sources)
    report.bm25_rebuilt = index.store.stamp() != index.bm25_stamp  # written to (every write bumps the stamp)
    if report.bm25_rebuilt:
        index.rebuild_bm25()  # once, streaming
    done = time.perf_counter()
    report.records, report.duplicates, report.bad = stream.records, stream.duplicates, stream.bad
    report.sources_updated += changed
    report.phases = {"survey": surveyed - started, "write": written - surveyed, "bm25": done - written}
    report.steps, report.stopped_early = steps, stopped
    report.seconds = done - started
    return report
