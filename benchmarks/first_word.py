"""Time to the first word and to the checked answer by question type, today's answer path against the first
paper's cached state, cold (papers never met) and warm (met once), from `rag eval` runs of the same questions.

``runs``: each `rag eval` output folder given as ``--run LABEL=FOLDER`` (default: the committed dev-set runs in
``eval/results/seeds_first_paper/``: today's path, the first paper cached with six papers (its whole abstract, or
cut once without the question: the reverted variant) and with ``RAG_SOURCE_GAP=0.05``, each cold and warm)
summarised per question type: first word (of a written reply), first text shown (the first word, or the answer
when no reply is written: a list from the judge alone, a refusal before the model) and whole answer p50 / p95,
prompt tokens and tokens read p50, papers restored from the cache, the load average, and the run's quality figures.

``--warm N`` also reads N seed papers (spread over the seeds) into an empty prompt cache, as `rag cache warm` does
with ``RAG_PROMPT_CACHE=--warm-mode`` (first: each paper as an answer's first paper and as the list judge reads it;
off, the default setting: as the list judge reads it), and reports seconds and bytes per reading and the whole
seeds' warm time and size at those rates.

Writes ``benchmarks/results/NAME.json`` and ``NAME.png`` (``--name``, default ``first_word``).

    .venv/bin/python -m benchmarks.first_word           # a few seconds: it reads the runs' results
    .venv/bin/python -m benchmarks.first_word --warm 24 # ~3 min more on an idle 2-core machine
    .venv/bin/python -m benchmarks.first_word --plot    # only redraw the PNG
    .venv/bin/python -m benchmarks.first_word --name judge_warm --warm-mode off --warm 24 \
        --title "'which papers' questions: reply then judge, against the judge alone" \
        --run "reply + judge, judge cold=eval/results/judge_lists/cold" \
        --run "reply + judge, judge warm=eval/results/judge_lists/warm" \
        --run "judge alone, cold=eval/results/judge_lists/judge_cold" \
        --run "judge alone, warm=eval/results/judge_lists/judge_warm"
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import RESULTS, machine, package_versions, write_json
from rag.settings import REPO_ROOT

RUNS = REPO_ROOT / "eval" / "results" / "seeds_first_paper"
DEFAULT_RUNS = {"today": RUNS / "today", "first paper, cold": RUNS / "first" / "cold",
                "first paper, warm": RUNS / "first" / "warm",
                "first paper cut once, cold (reverted)": RUNS / "first_cut" / "cold",
                "first paper cut once, warm (reverted)": RUNS / "first_cut" / "warm",
                "first paper + gap 0.05, cold (number line layout)": RUNS / "source_gap_0.05" / "cold",
                "first paper + gap 0.05, warm (number line layout)": RUNS / "source_gap_0.05" / "warm"}
TITLE = "dev questions: today's answer path against the first paper restored from the cache"
QUALITY = ("must_mention", "citation_precision", "citation_recall", "abstention_accuracy", "false_abstention_rate")
TYPES = ("lookup", "which-paper", "comparison", "multi", "unanswerable", "overall")


def p(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 1) if values else None


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Timing percentiles (seconds) and token counts of a set of eval rows."""
    timings = [r["timings"] for r in rows]
    first = [t["first_token_ms"] / 1000 for t in timings if t.get("first_token_ms") is not None]
    shown = [(t["first_token_ms"] if t.get("first_token_ms") is not None else t["total_ms"]) / 1000 for t in timings]
    total = [t["total_ms"] / 1000 for t in timings]
    return {"questions": len(rows), "asked_the_model": len(first),
            "first_word_s_p50": p(first, 50), "first_word_s_p95": p(first, 95),
            "first_text_s_p50": p(shown, 50), "first_text_s_p95": p(shown, 95),
            "answer_s_p50": p(total, 50), "answer_s_p95": p(total, 95),
            "prompt_tokens_p50": p([t["prompt_tokens"] for t in timings if t.get("prompt_tokens")], 50),
            "tokens_read_p50": p([t["prompt_tokens_read"] for t in timings if t.get("prompt_tokens")], 50),
            "papers_from_cache": sum(t.get("papers_from_cache") or 0 for t in timings)}


def run_summary(folder: Path) -> dict[str, Any]:
    rows = [json.loads(line) for line in (folder / "results.jsonl").read_text().splitlines() if line.strip()]
    metrics = json.loads((folder / "metrics.json").read_text())
    overall = metrics.get("overall", metrics)
    loads = [r["timings"]["load_1min"] for r in rows if r["timings"].get("load_1min") is not None]
    by_type = {kind: summarise([r for r in rows if kind == "overall" or r["type"] == kind]) for kind in TYPES}
    return {"folder": str(folder.relative_to(REPO_ROOT) if folder.is_relative_to(REPO_ROOT) else folder),
            "load_1min": [min(loads), max(loads)] if loads else None,
            "quality": {key: overall.get(key) for key in QUALITY},
            "by_type": {kind: summary for kind, summary in by_type.items() if summary["questions"]}}


def cache_entries(folder: Path) -> list[tuple[str, int]]:
    """(kind, bytes) of each prompt-cache entry file: a paper's ``block`` or a ``prefix`` (the rules)."""
    from rag.models.kvcache.store import SUFFIX, read_header

    return [(header["key"]["kind"], path.stat().st_size) for path in folder.rglob(f"*{SUFFIX}")
            if (header := read_header(path)) is not None]


def warm_cost(count: int, mode: str = "first") -> dict[str, Any]:
    """Seconds and bytes per paper read into an empty prompt cache (``RAG_PROMPT_CACHE=mode``), over ``count`` seed
    papers, and the whole seeds' warm time and size at those rates."""
    import rag
    from rag.corpus import load_corpus

    papers = load_corpus(sorted((REPO_ROOT / "seeds").glob("*.txt"))).papers
    chosen = papers[:: max(1, len(papers) // count)][:count]
    settings = rag.Settings()
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder)
        (data / "models").symlink_to(settings.store.models_dir.resolve())
        corpus = data / "papers.jsonl"
        corpus.write_text("".join(json.dumps({"title": p.title, "abstract": p.abstract}) + "\n" for p in chosen))
        assistant = rag.Assistant(settings.replace(data_dir=data, prompt_cache=mode, collection="warm"),
                                  progress=False)
        assistant.library.ingest([corpus], collection="warm")
        laps: list[float] = []
        clock = time.perf_counter()

        def lap(done: int, total: int) -> None:
            nonlocal clock
            now = time.perf_counter()
            laps.append(now - clock)
            clock = now

        started = time.perf_counter()
        read = assistant.warm_cache("warm", on_progress=lap)
        seconds = time.perf_counter() - started
        entries = [size for kind, size in cache_entries(data / "prompt-cache") if kind == "block"]
    readings = 2 if mode != "off" else 1  # as an answer reads it (first, all) and as the list judge does
    tokens = readings * sum(assistant.llm.count_tokens(p.title + p.abstract) for p in chosen)
    all_tokens = readings * sum(assistant.llm.count_tokens(p.title + p.abstract) for p in papers)
    per_token, bytes_per_token = seconds / tokens, sum(entries) / tokens
    answer_laps = laps[: len(chosen)] if readings == 2 else []
    return {"mode": mode, "papers": len(chosen), "readings": read, "seconds": round(seconds, 1),
            "answer_reading_s_p50": p(answer_laps, 50), "judge_reading_s_p50": p(laps[len(answer_laps):], 50),
            "entry_mb_p50": round(float(np.median(entries)) / 2**20, 2) if entries else None,
            "seeds": {"papers": len(papers), "tokens_read": all_tokens,
                      "warm_minutes": round(all_tokens * per_token / 60, 1),
                      "gigabytes": round(all_tokens * bytes_per_token / 2**30, 2)},
            "load_1min": round(os.getloadavg()[0], 2)}


def plot(data: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = data["runs"]
    kinds = [k for k in TYPES if any(k in r["by_type"] for r in runs.values())]
    fig, axes = plt.subplots(1, 2, figsize=(15, 5.4), sharey=False)
    width = 0.8 / max(1, len(runs))
    for axis, key, target in ((axes[0], "first_text_s_p50", 4), (axes[1], "answer_s_p50", 8)):
        for i, (label, run) in enumerate(runs.items()):
            # runs summarised before first_text was counted: their first word
            values = [(s := run["by_type"].get(k, {})).get(key, s.get("first_word_s_p50")) or 0 for k in kinds]
            axis.bar([x + (i - (len(runs) - 1) / 2) * width for x in range(len(kinds))], values, width, label=label)
        axis.axhline(target, color="grey", linestyle=":", linewidth=1)
        axis.set_xticks(range(len(kinds)), kinds)
        axis.set(ylabel="seconds (p50)", title=key.replace("_s_p50", "").replace("_", " ") + f" (dotted: {target} s)")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=8, frameon=False)
    fig.suptitle(f"Embedded 1.5B on {data['machine']['cores']} cores: {data.get('title', TITLE)}", fontsize=10)
    fig.tight_layout(rect=(0, 0.12, 1, 1))
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", action="append", metavar="LABEL=FOLDER", help="a rag eval output folder")
    parser.add_argument("--warm", type=int, metavar="N", help="also time reading N seed papers into the cache")
    parser.add_argument("--warm-mode", default="first", choices=("off", "first", "all"),
                        help="RAG_PROMPT_CACHE while warming (off: only the list judge's readings)")
    parser.add_argument("--name", default="first_word", help="results file name (JSON and PNG)")
    parser.add_argument("--title", default=TITLE, help="the plot's title")
    parser.add_argument("--plot", action="store_true", help="only redraw the PNG from the JSON")
    args = parser.parse_args(argv)
    out, png = RESULTS / f"{args.name}.json", RESULTS / f"{args.name}.png"
    if not args.plot:
        runs = dict(item.split("=", 1) for item in args.run) if args.run else DEFAULT_RUNS
        data = {"about": __doc__.split("\n\n")[0].replace("\n", " "), "title": args.title, "machine": machine(),
                "versions": package_versions("llama_cpp_python"),
                "runs": {label: run_summary(Path(folder)) for label, folder in runs.items()}}
        if args.warm:
            data["warming"] = warm_cost(args.warm, args.warm_mode)
        elif out.exists() and "warming" in (earlier := json.loads(out.read_text())):
            data["warming"] = earlier["warming"]
        write_json(out, data)
    plot(json.loads(out.read_text()), png)
    print(f"wrote {out.relative_to(REPO_ROOT)} and {png.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()
