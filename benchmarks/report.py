"""Markdown tables from the benchmark results (what the README's "Performance and scale" section shows).

    .venv/bin/python -m benchmarks.report
"""

from __future__ import annotations

import json

from benchmarks.common import RESULTS


def open_cell(point: dict) -> str:
    """Opening a size's collection: with the full check, and trusting BM25's stamp where measured.

    When every open trusted the stamp, the full check is the sum of its reads timed on their own.
    """
    opens = [point["open"], *point.get("reopen", {}).get("opens", [])]
    full = [o["total_s"] for o in opens if o.get("full_check", True)]
    if not full:
        full = [sum(point["open"][f"{name}_s"] for name in ("heads_read", "chunk_ids_scan", "bm25_load"))]
    trusted = [o["total_s"] for o in opens if o.get("full_check") is False]
    return f"{full[0]:.1f} s / " + (f"{trusted[-1]:.1f} s" if trusted else "-")


def scale_table() -> str:
    data = json.loads((RESULTS / "scale.json").read_text())
    rows = ["| abstracts | chunks | ingest docs/s | BM25 build | Chroma disk | BM25 disk | server RSS peak | "
            "client RSS peak | open: full check / stamp trusted | bm25 p50 / p95 | dense p50 / p95 | "
            "hybrid p50 / p95 |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for p in data.get("points", []):
        ingest, r = p["ingest"], p.get("retrieval", {})
        n = f"{p['n']:,}" + (" (a 1M run stopped by its time budget, CPU shared)" if p.get("stopped_early") else "")

        def mode(name, r=r):
            return f"{r[name]['p50_ms']:.0f} / {r[name]['p95_ms']:.0f} ms" if name in r else "-"

        rows.append(
            f"| {n} | {ingest['chunks']:,} | {ingest['docs_per_s']:.0f} | {ingest['bm25_build_s']:.0f} s | "
            f"{size(p['disk_mb']['chroma'])} | {size(p['disk_mb']['bm25'])} | "
            f"{size(ingest['server_peak_rss_mb'])} | {size(ingest['client_peak_rss_mb'])} | "
            f"{open_cell(p)} | {mode('bm25')} | {mode('dense')} | {mode('hybrid')} |")
    seeds = data.get("seeds_minilm")
    if seeds:
        r = seeds["retrieval"]
        rows.append(
            f"| {seeds['n']} seeds, MiniLM, embedded store | {seeds['ingest']['chunks']} | "
            f"{seeds['ingest']['docs_per_s']:.1f} | - | {size(seeds['disk_mb']['chroma'])} | "
            f"{size(seeds['disk_mb']['bm25'])} | (in process) | {size(seeds['client_rss_mb'])} | - | "
            + " | ".join(f"{r[m]['p50_ms']:.0f} / {r[m]['p95_ms']:.0f} ms" for m in ("bm25", "dense", "hybrid")) + " |")
    return "\n".join(rows)


def parts_table() -> str:
    data = json.loads((RESULTS / "scale.json").read_text())
    names = ["stamp_check", "bm25_search", "query_embedding", "chroma_query", "fetch_papers"]
    rows = ["| abstracts | " + " | ".join(n.replace("_", " ") for n in names) + " |",
            "|---:|" + "---:|" * len(names)]
    points = [(f"{p['n']:,}", p["retrieval"]["parts"]) for p in data.get("points", []) if "retrieval" in p]
    if data.get("seeds_minilm"):
        points.append(("487 seeds (MiniLM)", data["seeds_minilm"]["retrieval"]["parts"]))
    for label, parts in points:
        rows.append(f"| {label} | " + " | ".join(f"{parts[n]['p50_ms']:.1f}" for n in names) + " |")
    return "\n".join(rows)


def embedding_table() -> str:
    data = json.loads((RESULTS / "embedding.json").read_text())
    rows = ["| setup | batch | input order | wall s / abstract | CPU s / abstract | abstracts / s |",
            "|---|---:|---|---:|---:|---:|"]
    for r in data["rows"]:
        rows.append(f"| {r['setup']} | {r['batch']} | {'by length' if r['sorted_by_length'] else 'as given'} | "
                    f"{r['wall_s_per_abstract']:.3f} | {r['cpu_s_per_abstract']:.3f} | {r['abstracts_per_s']:.1f} |")
    return "\n".join(rows)


def bm25_table() -> str:
    data = json.loads((RESULTS / "bm25_build.json").read_text())
    rows = ["| abstracts | build | time | peak RSS | disk | load (read / mmap) | search p50 (read / mmap) |",
            "|---:|---|---:|---:|---:|---:|---:|"]
    for r in data["rows"]:
        if "failed" in r:
            rows.append(f"| {r['n']:,} | {r['method']} | failed ({r['failed']}) | | | | |")
            continue
        rows.append(f"| {r['n']:,} | {r['method']} | {r['build_wall_s']:.0f} s | {size(r['build_peak_rss_mb'])} | "
                    f"{size(r['disk_mb'])} | {r['load_read_s']:.2f} / {r['load_mmap_s']:.2f} s | "
                    f"{r['search_read']['p50_ms']:.1f} / {r['search_mmap']['p50_ms']:.1f} ms |")
    return "\n".join(rows)


def size(mb: float) -> str:
    return f"{mb / 1000:.1f} GB" if mb >= 1000 else f"{mb:.0f} MB" if mb >= 10 else f"{mb:.1f} MB"


if __name__ == "__main__":
    for title, table in (("scale", scale_table), ("query parts (p50 ms)", parts_table),
                         ("embedding", embedding_table), ("bm25", bm25_table)):
        print(f"### {title}\n\n{table()}\n")
