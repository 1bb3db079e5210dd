"""Scale benchmark: the real ingest and retrieval code against a Chroma server, 500 to 1,000,000 abstracts.

For each size N it generates N synthetic papers (`tests.support.synthetic`, seed 0), starts
``chroma run`` on a free loopback port with a fresh folder, bulk-ingests the JSONL file through
`rag.index.bulk.bulk_ingest` (the real loader, chunking, heads-last upserts and streaming BM25
rebuild), reopens the index as a new process would (`PaperIndex` check), and times ~100 queries per
retrieval mode through `rag.retrieval.HybridRetriever`.

Vectors come from `tests.support.hash_embedding.HashEmbedding`, a cheap deterministic random projection of
hashed word counts (384-d, normalized), NOT the MiniLM model: embedding a million abstracts with
MiniLM would take ~36 CPU-hours here. Everything else is the production code path, so the numbers
describe Chroma's and BM25's behaviour at scale, not the embedding model's. ``--seeds`` measures
the 487 seed papers with the real MiniLM on the embedded store instead.

Each size runs in its own subprocess (clean peak-RSS numbers) and its result is merged into
``benchmarks/results/scale.json``; ``--plot`` redraws ``scale.png`` from that file.

    .venv/bin/python -m benchmarks.scale --sizes 500 10000 100000
    .venv/bin/python -m benchmarks.scale --seeds
    .venv/bin/python -m benchmarks.scale --plot
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.common import (
    RESULTS,
    RssSampler,
    dir_size,
    machine,
    package_versions,
    percentiles,
    proc_status,
    write_json,
)
from rag.settings import REPO_ROOT, Settings
from tests.support.hash_embedding import HashEmbedding
from tests.support.processes import chroma_server
from tests.support.synthetic import write_jsonl

OUT = RESULTS / "scale.json"
PLOT = RESULTS / "scale.png"
MODES = ("bm25", "dense", "hybrid")
log = logging.getLogger("benchmarks.scale")


def queries(n: int = 100) -> list[str]:
    """The 68 dev-set questions (long, paraphrased) topped up with seed titles (short)."""
    from rag.corpus import load_corpus

    lines = (REPO_ROOT / "eval" / "questions" / "seeds_dev.jsonl").read_text().splitlines()
    found = [json.loads(line)["question"] for line in lines if line.strip()][:n]
    titles = [p.title for p in load_corpus([REPO_ROOT / "seeds"]).papers]
    return found + titles[: n - len(found)]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def corpus_file(work: Path, n: int) -> tuple[Path, float]:
    """``syn-N.jsonl`` (made once, then reused); the seconds making it took (0 if cached).

    Paper i depends only on (seed, i), so a smaller corpus is the first N lines of a larger one.
    """
    folder = work / "corpora"
    path = folder / f"syn-{n}.jsonl"
    if path.exists():
        return path, 0.0
    started = time.perf_counter()
    larger = sorted((int(p.stem.split("-")[1]), p) for p in folder.glob("syn-*.jsonl") if int(p.stem.split("-")[1]) > n)
    if larger:
        tmp = path.with_name(path.name + ".part")
        with larger[0][1].open("rb") as source, tmp.open("wb") as out:
            for _, line in zip(range(n), source, strict=False):
                out.write(line)
        tmp.replace(path)
    else:
        write_jsonl(path, n, seed=0)
    return path, time.perf_counter() - started


def time_retrieval(retriever, questions: list[str], repeat_warmup: int = 5) -> dict[str, Any]:
    """p50/p95 of `retrieve_papers` per mode, plus the parts of a query measured on their own."""
    index = retriever.index
    for q in questions[:repeat_warmup]:
        for mode in MODES:
            retriever.retrieve_papers(q, mode=mode)
    result: dict[str, Any] = {}
    for mode in MODES:
        times = []
        for q in questions:
            started = time.perf_counter()
            retriever.retrieve_papers(q, mode=mode)
            times.append((time.perf_counter() - started) * 1000)
        result[mode] = percentiles(times)
    parts: dict[str, list[float]] = {"stamp_check": [], "bm25_search": [], "query_embedding": [], "chroma_query": [],
                                     "fetch_papers": []}
    bm25 = index.bm25()
    for q in questions:
        t0 = time.perf_counter()
        index.store.stamp()
        t1 = time.perf_counter()
        hits = bm25.search(q, retriever.candidates)
        t2 = time.perf_counter()
        index.embedder.get_query_embedding(q)
        t3 = time.perf_counter()
        retriever.dense(q)
        t4 = time.perf_counter()
        index.papers([pid for pid, _ in hits[: retriever.top_k]])
        t5 = time.perf_counter()
        for key, value in zip(parts, (t1 - t0, t2 - t1, t3 - t2, t4 - t3 - (t3 - t2), t5 - t4), strict=True):
            parts[key].append(value * 1000)
    result["parts"] = {key: percentiles(values) for key, values in parts.items()}
    return result


def point_settings(point: Path, server) -> Settings:
    """Settings of one size's collection: BM25 under ``point/data``, Chroma through ``server``."""
    return Settings(data_dir=point / "data", seeds_dir=point / "no-seeds", collection="scale",
                    chroma_host=server.host, chroma_port=server.port)


def measure_point(n: int, work: Path, batch: int, n_queries: int, resume_max: int,
                  budget_s: float | None = None, workers: int = 1, keep: bool = False) -> dict[str, Any]:
    """One size, in this process: generate, serve, ingest, reopen, resume, query.

    With ``budget_s``, ingestion stops after the step running when the budget runs out (then BM25
    is rebuilt and everything is measured at the size reached: ``n`` is then below ``target_n``).
    """
    from rag.index import PaperIndex
    from rag.index.bulk import bulk_ingest
    from rag.retrieval import HybridRetriever

    corpus, generated = corpus_file(work, n)
    point = work / f"n{n}"
    shutil.rmtree(point, ignore_errors=True)
    point.mkdir(parents=True)
    embedder = HashEmbedding()
    result: dict[str, Any] = {"n": n, "corpus_mb": round(corpus.stat().st_size / 1e6, 1),
                              "corpus_generation_s": round(generated, 1), "batch_papers": batch,
                              "ingest_workers": workers}
    with chroma_server(point / "chroma", point / "chroma.log") as server:
        settings = point_settings(point, server)
        client_cpu0, server_cpu0 = time.process_time(), cpu_seconds(server.process.pid)
        with RssSampler(server.process.pid) as server_rss, PaperIndex(settings, embedder) as index:
            report = bulk_ingest(index, [corpus], batch_papers=batch, progress=sys.stderr.isatty(),
                                 stop_after_s=budget_s, workers=workers)
            client_cpu, server_cpu = time.process_time() - client_cpu0, cpu_seconds(server.process.pid) - server_cpu0
            chunks = index.store.chunk_count()
        if report.stopped_early:
            result.update(target_n=n, n=report.added, stopped_early=True)
            n = report.added
        result["ingest"] = {
            "papers": report.added, "chunks": chunks, "survey_s": round(report.phases["survey"], 1),
            "write_s": round(report.phases["write"], 1), "bm25_build_s": round(report.phases["bm25"], 1),
            "docs_per_s": round(n / report.phases["write"], 1),
            "docs_per_s_with_bm25": round(n / (report.phases["write"] + report.phases["bm25"]), 1),
            "client_cpu_ms_per_doc": round(1000 * client_cpu / n, 2),
            "server_cpu_ms_per_doc": round(1000 * server_cpu / n, 2),
            "server_peak_rss_mb": round(server_rss.peak / 1e6), "client_peak_rss_mb": round(
                proc_status()["VmHWM"] / 1e6),
        }
        # papers handed to ingest vs seconds: the rate as the collection grows (thinned to ~50 points)
        every = max(1, len(report.steps) // 50)
        thinned = report.steps[::every]
        result["ingest"]["progress"] = thinned + report.steps[-1:] if thinned[-1:] != report.steps[-1:] else thinned
        log.warning("n=%d ingest %s", n, {k: v for k, v in result["ingest"].items() if k != "progress"})
        result["disk_mb"] = {"chroma": round(dir_size(point / "chroma") / 1e6, 1),
                             "bm25": round(dir_size(settings.store.bm25_dir / "scale") / 1e6, 1)}

        result["open"], index = open_costs(settings, embedder)
        try:
            if n <= resume_max:  # a rerun of the same file: every paper found stored and unchanged
                again = bulk_ingest(index, [corpus], batch_papers=batch, progress=False)
                result["rerun"] = {"unchanged": again.unchanged, "seconds": round(again.phases["write"], 1),
                                   "docs_per_s": round(n / again.phases["write"], 1)}
            retriever = HybridRetriever(index, top_k=6, candidates=40, rrf_k=60)
            result["retrieval"] = time_retrieval(retriever, queries(n_queries))
            result["load_average_after_queries"] = [round(x, 2) for x in os.getloadavg()]
            result["server_rss_after_queries_mb"] = round(proc_status(server.process.pid)["VmRSS"] / 1e6)
            result["client_rss_after_queries_mb"] = round(proc_status()["VmRSS"] / 1e6)
        finally:
            index.close()
    if not keep:
        shutil.rmtree(point, ignore_errors=True)
    return result


def open_costs(settings: Settings, embedder, parts: bool = True) -> tuple[dict[str, Any], Any]:
    """What a new process pays to open the collection, then (``parts``) the full check's reads timed one by one.

    ``total_s`` is `PaperIndex` opening as `rag` does; ``full_check`` says whether it read every paper
    or trusted BM25's saved stamp (large collections). The parts are what the full check reads: every
    paper's head, every chunk id, and the BM25 index. Returns the numbers and the open index.
    """
    from rag.index import PaperIndex
    from rag.index.bm25 import Bm25Index

    started = time.perf_counter()
    index = PaperIndex(settings, embedder)
    opened = time.perf_counter() - started
    timed, heads = {}, {}
    reads = (("heads_read", lambda: heads.update(index.store.paper_states())),
             ("chunk_ids_scan", lambda: index.store.incomplete_papers(heads=heads)),
             ("bm25_load", lambda: Bm25Index.read(index.bm25_dir)))
    try:
        for name, call in reads if parts else ():
            started = time.perf_counter()
            call()
            timed[f"{name}_s"] = round(time.perf_counter() - started, 2)
    except BaseException:
        index.close()
        raise
    return {"total_s": round(opened, 2), "full_check": index.full_check, **timed, "notices": index.notices}, index


def reopen_point(n: int, work: Path) -> dict[str, Any]:
    """Open a size kept by ``--keep`` twice with the current code (the second open finds what the first
    repaired or stamped): to re-measure opening after a change without ingesting again."""
    point = work / f"n{n}"
    if not (point / "chroma").is_dir():
        sys.exit(f"{point} holds no kept store: run --sizes {n} --keep first")
    opens = []
    with chroma_server(point / "chroma", point / "chroma.log") as server:
        settings = point_settings(point, server)
        for _ in range(2):
            costs, index = open_costs(settings, HashEmbedding(), parts=False)
            index.close()
            opens.append(costs)
    return {"opens": opens, "load_average": [round(x, 2) for x in os.getloadavg()]}


def measure_seeds(work: Path, n_queries: int) -> dict[str, Any]:
    """The 487 seeds with the real MiniLM on the embedded store (what `make run` uses)."""
    from rag.corpus import load_corpus
    from rag.index import PaperIndex
    from rag.models.embedding import make_embedding
    from rag.retrieval import HybridRetriever

    point = work / "seeds"
    shutil.rmtree(point, ignore_errors=True)
    settings = Settings(data_dir=point, seeds_dir=REPO_ROOT / "seeds", collection="seeds")
    embedder = make_embedding(settings)
    papers = load_corpus([settings.store.seeds_dir]).papers
    with PaperIndex(settings, embedder) as index:
        started, cpu = time.perf_counter(), time.process_time()
        report = index.ingest(papers, progress=False)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        retrieval = settings.retrieval
        retriever = HybridRetriever(index, top_k=retrieval.top_k, candidates=retrieval.candidates,
                                    rrf_k=retrieval.rrf_k)
        result = {"n": len(papers), "embedding": embedder.model_name, "store": "embedded (PersistentClient)",
                  "embed_batch_size": settings.embedding.batch_size, "embed_threads": settings.embedding.threads,
                  "ingest": {"chunks": report.chunks, "seconds": round(seconds, 1),
                             "docs_per_s": round(len(papers) / seconds, 2),
                             "cpu_s_per_doc": round(cpu / len(papers), 3)},
                  "disk_mb": {"chroma": round(dir_size(settings.store.chroma_dir) / 1e6, 1),
                              "bm25": round(dir_size(settings.store.bm25_dir) / 1e6, 1)},
                  "retrieval": time_retrieval(retriever, queries(n_queries)),
                  "load_average_after_queries": [round(x, 2) for x in os.getloadavg()],
                  "client_rss_mb": round(proc_status()["VmRSS"] / 1e6)}
    shutil.rmtree(point, ignore_errors=True)
    return result


def merge(key: str, value: dict[str, Any]) -> None:
    data = json.loads(OUT.read_text()) if OUT.exists() else {}
    data.setdefault("about", {})
    data["about"].update({
        "what": "Real ingest + retrieval code against `chroma run` on loopback (points) or the embedded store "
                "(seeds_minilm). Points use HashEmbedding: a seeded random projection of hashed word counts, "
                "384-d, normalized -- cheap deterministic vectors, NOT MiniLM (see benchmarks/scale.py).",
        "corpus": "tests/support/synthetic.py, seed 0: sentence-level remix of the 487 seed abstracts",
        "retrieval": "HybridRetriever.retrieve_papers, top_k 6, 40 candidates per retriever, 100 queries "
                     "(68 dev questions + 32 seed titles), 5 warm-up queries; p50/p95 in ms",
        "machine": machine(),
        "versions": package_versions("chromadb", "bm25s", "numpy", "onnxruntime"),
    })
    if key == "seeds_minilm":
        data[key] = value
    else:
        points = [p for p in data.get("points", []) if p["n"] != value["n"]]
        data["points"] = sorted([*points, value], key=lambda p: p["n"])
    write_json(OUT, data)


def plot() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = json.loads(OUT.read_text())
    points = [p for p in data.get("points", []) if "retrieval" in p]
    ns = [p["n"] for p in points]
    fig, axes = plt.subplots(1, 4, figsize=(20, 4.4))
    ax = axes[0]
    for mode, style in zip(MODES, ("o-", "s-", "^-"), strict=True):
        ax.plot(ns, [p["retrieval"][mode]["p50_ms"] for p in points], style, label=f"{mode} p50")
        ax.plot(ns, [p["retrieval"][mode]["p95_ms"] for p in points], style, alpha=0.35, label=f"{mode} p95")
    seeds = data.get("seeds_minilm")
    if seeds:
        ax.plot([seeds["n"]], [seeds["retrieval"]["hybrid"]["p50_ms"]], "k*", markersize=12,
                label="hybrid p50, seeds, MiniLM")
    ax.axhline(20, color="grey", linestyle=":", linewidth=1)
    ax.axhline(100, color="grey", linestyle="--", linewidth=1)
    ax.set(xscale="log", yscale="log", xlabel="abstracts", ylabel="ms per query", title="Retrieval latency")
    ax.legend(fontsize=7)
    ax = axes[1]
    alone = [p for p in points if not p.get("stopped_early")]  # a budget-stopped run shared the CPU
    ax.plot([p["n"] for p in alone], [p["ingest"]["docs_per_s"] for p in alone], "o-",
            label="ingest (check, chunk, embed*, upsert)")
    ax.plot([p["n"] for p in alone], [p["ingest"]["docs_per_s_with_bm25"] for p in alone], "s-",
            label="incl. BM25 rebuild")
    ax.set(xscale="log", xlabel="abstracts", ylabel="abstracts / s", title="Bulk ingest (*hash vectors)",
           ylim=(0, None))
    ax.legend(fontsize=7)
    ax = axes[2]
    ax.plot(ns, [p["disk_mb"]["chroma"] / 1000 for p in points], "o-", label="Chroma folder (GB)")
    ax.plot(ns, [p["disk_mb"]["bm25"] / 1000 for p in points], "s-", label="BM25 folder (GB)")
    ax.plot(ns, [p["ingest"]["server_peak_rss_mb"] / 1000 for p in points], "^-", label="server peak RSS (GB)")
    ax.plot(ns, [p["ingest"]["client_peak_rss_mb"] / 1000 for p in points], "v-", label="client peak RSS (GB)")
    ax.set(xscale="log", yscale="log", xlabel="abstracts", ylabel="GB", title="Disk and memory")
    ax.legend(fontsize=7)
    ax = axes[3]
    full = [(p["n"], p["open"]["total_s"]) for p in points if p["open"].get("full_check", True)]
    trusted = [(p["n"], o["total_s"]) for p in points
               for o in [p["open"], *p.get("reopen", {}).get("opens", [])] if o.get("full_check") is False]
    ax.plot(*zip(*full, strict=True), "o-", label="full check (every paper's head and chunk id)")
    if trusted:
        ax.plot(*zip(*trusted, strict=True), "*", markersize=12, label="BM25 stamp trusted")
    ax.set(xscale="log", yscale="log", xlabel="abstracts", ylabel="seconds", title="Opening a collection")
    ax.legend(fontsize=7)
    fig.suptitle("paper-rag at scale: Chroma server on loopback, 2 cores (dotted 20 ms, dashed 100 ms)", fontsize=10)
    fig.tight_layout()
    fig.savefig(PLOT, dpi=110)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[])
    parser.add_argument("--seeds", action="store_true", help="the 487 seeds with the real MiniLM, embedded store")
    parser.add_argument("--plot", action="store_true")
    parser.add_argument("--work", type=Path, default=Path("/tmp/paper-rag-bench"))
    parser.add_argument("--batch", type=int, default=1024, help="papers per ingest step")
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--resume-max", type=int, default=100_000, help="largest size that is also re-ingested")
    parser.add_argument("--workers", type=int, default=1, help="ingest steps in flight at once (threads)")
    parser.add_argument("--keep", action="store_true", help="keep each size's store folder under --work")
    parser.add_argument("--budget-min", type=float, default=None,
                        help="stop ingesting after this many minutes and measure at the size reached")
    parser.add_argument("--reopen", type=int, metavar="N",
                        help="time opening the kept size N again with the current code (twice)")
    parser.add_argument("--point", type=int, help=argparse.SUPPRESS)  # internal: one size, result on stdout
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args.work.mkdir(parents=True, exist_ok=True)
    if args.point is not None:
        value = measure_point(args.point, args.work, args.batch, args.queries, args.resume_max,
                              None if args.budget_min is None else args.budget_min * 60, args.workers, args.keep)
        print(json.dumps(value))
        return
    for n in args.sizes:
        command = [sys.executable, "-m", "benchmarks.scale", "--point", str(n), "--work", str(args.work),
                   "--batch", str(args.batch), "--queries", str(args.queries), "--resume-max", str(args.resume_max),
                   "--workers", str(args.workers), *(["--budget-min", str(args.budget_min)] if args.budget_min else []),
                   *(["--keep"] if args.keep else [])]
        started = time.perf_counter()
        done = subprocess.run(command, stdout=subprocess.PIPE, text=True, cwd=REPO_ROOT)
        if done.returncode != 0:
            sys.exit(f"size {n} failed (exit {done.returncode})")
        value = json.loads(done.stdout.strip().splitlines()[-1])
        value["wall_s"] = round(time.perf_counter() - started, 1)
        merge("points", value)
        print(f"n={n}: {json.dumps(value)}", flush=True)
    if args.reopen is not None:
        data = json.loads(OUT.read_text())
        point = next(p for p in data["points"] if p["n"] == args.reopen)
        point["reopen"] = reopen_point(args.reopen, args.work)
        merge("points", point)
        print(json.dumps(point["reopen"]), flush=True)
    if args.seeds:
        merge("seeds_minilm", measure_seeds(args.work, args.queries))
        print(json.dumps(json.loads(OUT.read_text())["seeds_minilm"]), flush=True)
    if args.sizes or args.seeds or args.plot:
        plot()


if __name__ == "__main__":
    main()
