"""Researchers' formats at scale: each reader alone (time, peak memory), and a 10,000-row arXiv snapshot
slice streamed through the bulk ingest.

The corpora are synthetic (`tests.support.synthetic`, seed 0: seed abstracts remixed sentence by sentence),
written in each format as the real exports look: a BibTeX library, a RIS export, arXiv snapshot rows
(hard-wrapped titles and abstracts), OpenAlex works as JSON lines (inverted-index abstracts), a PubMed
XML file (structured abstracts). Each reader runs in a fresh subprocess, so its peak RSS (``VmHWM``) is
its own; running it at two sizes shows whether memory stays flat. The bulk ingest uses the hash
embedding (`HashEmbedding`): the store and the reader are real, the vectors are not MiniLM.

    .venv/bin/python -m benchmarks.formats --sizes 1000 10000            # ~3 min; writes results/formats.json
    .venv/bin/python -m benchmarks.formats --sizes 100000 --formats pubmed --bulk-size 0 --out /tmp/pubmed.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import RESULTS, machine, package_versions, proc_status, write_json
from rag.settings import REPO_ROOT
from tests.support.synthetic_formats import FORMATS, write_corpus

OUT = RESULTS / "formats.json"
def read_only(path: Path) -> dict[str, Any]:
    """Run in a subprocess: every record of ``path`` through its reader; counts, time, peak RSS."""
    from rag.corpus import BadRecord, iter_records

    with contextlib.suppress(OSError):  # reset the peak RSS to the current RSS: the peak is then the reader's
        Path("/proc/self/clear_refs").write_text("5")
    base = proc_status()
    started, cpu = time.perf_counter(), time.process_time()
    papers = bad = 0
    for item in iter_records([path]):
        if isinstance(item, BadRecord):
            bad += 1
        else:
            papers += 1
    wall = time.perf_counter() - started
    return {"papers": papers, "bad": bad, "wall_s": round(wall, 2), "cpu_s": round(time.process_time() - cpu, 2),
            "papers_per_s": round(papers / wall, 1), "rss_before_mb": round(base["VmRSS"] / 2**20, 1),
            "peak_rss_mb": round(proc_status()["VmHWM"] / 2**20, 1),
            "peak_over_start_mb": round((proc_status()["VmHWM"] - base["VmRSS"]) / 2**20, 1)}


def bulk(path: Path, work: Path) -> dict[str, Any]:
    """Run in a subprocess: `bulk_ingest` of ``path`` into an embedded store with hash vectors."""
    from rag.index import PaperIndex
    from rag.index.bulk import bulk_ingest
    from rag.settings import Settings
    from tests.support.hash_embedding import HashEmbedding

    settings = Settings(data_dir=work / "data", seeds_dir=work / "no-seeds")
    with PaperIndex(settings, HashEmbedding(), "formats-bulk") as index:
        report = bulk_ingest(index, [path], progress=False)
        stored = index.paper_count()
    phases = report.phases
    return {"records": report.records, "added": report.added, "chunks": report.chunks,
            "bad": len(report.bad), "stored": stored, "survey_s": round(phases["survey"], 1),
            "write_s": round(phases["write"], 1), "bm25_s": round(phases["bm25"], 1),
            "papers_per_s": round(report.added / max(phases["write"], 1e-9), 1),
            "peak_rss_mb": round(proc_status()["VmHWM"] / 2**20, 1)}


def in_subprocess(function: str, *args: str) -> dict[str, Any]:
    code = (f"import json, sys; from pathlib import Path; from benchmarks.formats import {function}; "
            f"print(json.dumps({function}(*map(Path, sys.argv[1:]))))")
    done = subprocess.run([sys.executable, "-c", code, *args], cwd=REPO_ROOT, capture_output=True, text=True,
                          check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--formats", nargs="+", choices=list(FORMATS), default=list(FORMATS))
    parser.add_argument("--bulk-size", type=int, default=10000, help="arXiv rows to bulk-ingest (0: none)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    results: dict[str, Any] = {"machine": machine(), "readers": [], "bulk": None, "packages": package_versions(
        "bibtexparser", "rispy", "lxml", "pdfminer.six", "chromadb")}
    with tempfile.TemporaryDirectory(prefix="rag-formats-") as tmp:
        work = Path(tmp)
        for n in args.sizes:
            for fmt in args.formats:
                path = write_corpus(fmt, n, work)
                row = {"format": fmt, "n": n, "file_mb": round(path.stat().st_size / 2**20, 1),
                       **in_subprocess("read_only", str(path))}
                print(json.dumps(row), flush=True)
                results["readers"].append(row)
                path.unlink()
        if args.bulk_size:
            path = write_corpus("arxiv", args.bulk_size, work)
            results["bulk"] = {"format": "arxiv", "n": args.bulk_size, **in_subprocess("bulk", str(path), str(work))}
            print(json.dumps(results["bulk"]), flush=True)
    write_json(args.out, results)


if __name__ == "__main__":
    main()
