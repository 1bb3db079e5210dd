"""BM25 at scale without Chroma: build time, peak memory, size, load time and query latency.

Compares the previous build (``content_terms`` token lists for every paper, then
``bm25s.BM25().index``) with `rag.index.bm25.Bm25Builder` (term counts per paper, vectorized
scores; bit-identical results), each in a fresh subprocess so peak RSS is its own. Texts are
title + abstract of the synthetic corpus (`tests.support.synthetic`, seed 0).

    .venv/bin/python -m benchmarks.bm25_build --sizes 10000 100000 1000000
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.common import RESULTS, dir_size, machine, package_versions, percentiles, proc_status, write_json
from rag.settings import REPO_ROOT

OUT = RESULTS / "bm25_build.json"


def texts(corpus: Path, n: int):
    with corpus.open() as lines:
        for _, line in zip(range(n), lines, strict=False):
            record = json.loads(line)
            yield record["id"], f"{record['title']}\n{record['abstract']}", ["syn.jsonl"]


def one(method: str, corpus: Path, n: int, work: Path, n_queries: int) -> dict[str, Any]:
    import bm25s

    from benchmarks.scale import queries
    from rag.index.bm25 import Bm25Builder, Bm25Index
    from rag.text import content_terms

    base = proc_status()["VmRSS"]
    cpu, wall = time.process_time(), time.perf_counter()
    if method == "bm25s":  # what rebuild_bm25 did before: every paper's token list in memory, then bm25s
        papers = list(texts(corpus, n))
        retriever = bm25s.BM25()
        retriever.index([content_terms(text) for _, text, _ in papers], show_progress=False)
        index = Bm25Index(retriever, [p[0] for p in papers], [p[2] for p in papers], "x")
        del papers
    else:
        builder = Bm25Builder()
        for paper_id, text, sources in texts(corpus, n):
            builder.add(paper_id, text, sources)
        index = builder.finish("x")
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    peak = proc_status()["VmHWM"] - base
    folder = work / f"bm25-{method}-{n}"
    shutil.rmtree(folder, ignore_errors=True)
    index.save(folder)
    result = {"method": method, "n": n, "build_wall_s": round(wall, 1), "build_cpu_s": round(cpu, 1),
              "build_peak_rss_mb": round(peak / 1e6), "disk_mb": round(dir_size(folder) / 1e6, 1),
              "nnz": len(index.retriever.scores["data"]), "vocabulary": len(index.retriever.vocab_dict)}
    del index
    for mmap in (False, True):
        started = time.perf_counter()
        loaded, _ = Bm25Index.read(folder, mmap=mmap)
        result[f"load_{'mmap' if mmap else 'read'}_s"] = round(time.perf_counter() - started, 2)
        times = []
        for q in queries(n_queries):
            started = time.perf_counter()
            loaded.search(q, 40)
            times.append((time.perf_counter() - started) * 1000)
        result[f"search_{'mmap' if mmap else 'read'}"] = percentiles(times)
        del loaded
    shutil.rmtree(folder, ignore_errors=True)
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000])
    parser.add_argument("--methods", nargs="*", default=["bm25s", "builder"])
    parser.add_argument("--work", type=Path, default=Path("/tmp/paper-rag-bench"))
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--one", nargs=2, help=argparse.SUPPRESS)  # internal: METHOD N
    args = parser.parse_args(argv)
    from benchmarks.scale import corpus_file

    if args.one:
        method, n = args.one[0], int(args.one[1])
        print(json.dumps(one(method, corpus_file(args.work, n)[0], n, args.work, args.queries)))
        return
    data = json.loads(OUT.read_text()) if OUT.exists() else {"rows": []}
    for n in args.sizes:
        corpus_file(args.work, n)
        for method in args.methods:
            done = subprocess.run([sys.executable, "-m", "benchmarks.bm25_build", "--one", method, str(n), "--work",
                                   str(args.work), "--queries", str(args.queries)], stdout=subprocess.PIPE, text=True,
                                  cwd=REPO_ROOT)
            if done.returncode != 0:
                row = {"method": method, "n": n, "failed": f"exit {done.returncode}"}
            else:
                row = json.loads(done.stdout.strip().splitlines()[-1])
            print(json.dumps(row), flush=True)
            data["rows"] = [r for r in data["rows"] if (r["method"], r["n"]) != (method, n)] + [row]
            data["rows"].sort(key=lambda r: (r["n"], r["method"]))
            data["about"] = {"what": "BM25 over title + abstract of synthetic papers, no Chroma: the previous build "
                                     "(token lists + bm25s.BM25.index) vs rag.index.bm25.Bm25Builder; search = "
                                     "Bm25Index.search, 40 hits, 100 queries", "machine": machine(),
                             "versions": package_versions("bm25s", "numpy")}
            write_json(OUT, data)


if __name__ == "__main__":
    main()
