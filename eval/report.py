"""Writing an evaluation's outputs: metrics.json, report.md and its PNG plots (matplotlib)."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt

from eval.metrics import ANSWER_KEYS, LATENCY_KEYS, RETRIEVAL_KEYS
from rag import GRADES

QUALITY_KEYS = (*RETRIEVAL_KEYS, *ANSWER_KEYS)


def fmt(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:,.0f}"
    return str(value)


def table(rows: dict[str, dict], keys: tuple[str, ...], first: str) -> str:
    """A markdown table: one row per entry of ``rows``, one column per key present in any row."""
    keys = tuple(k for k in keys if any(r.get(k) is not None for r in rows.values()))
    lines = [f"| {first} | " + " | ".join(keys) + " |", "|---" * (len(keys) + 1) + "|"]
    lines += [f"| {name} | " + " | ".join(fmt(r.get(k)) for k in keys) + " |" for name, r in rows.items()]
    return "\n".join(lines)


def bar_chart(groups: dict[str, dict], keys: tuple[str, ...], title: str, path: Path) -> None:
    """Grouped bars: one group per metric key, one bar per entry of ``groups`` (types or configs)."""
    keys = tuple(k for k in keys if any(g.get(k) is not None for g in groups.values()))
    if not keys:
        return
    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(keys) * max(1, len(groups)) ** 0.5), 4))
    width = 0.8 / max(1, len(groups))
    for i, (name, values) in enumerate(groups.items()):
        xs = [k + i * width for k in range(len(keys))]
        ax.bar(xs, [values.get(key) or 0.0 for key in keys], width, label=name)
    ax.set_xticks([k + width * (len(groups) - 1) / 2 for k in range(len(keys))], keys, rotation=30, ha="right")
    ax.set_ylim(0, 1.05)
    ax.set_title(title)
    ax.legend(fontsize=8, ncols=min(4, len(groups)))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def latency_chart(rows_by_config: dict[str, list[dict]], path: Path) -> bool:
    """Box plots of retrieval, first-token and total latency (seconds); False when nothing was timed."""
    series = {}
    for config, rows in rows_by_config.items():
        for name in ("retrieval_ms", "first_token_ms", "total_ms"):
            values = [r["timings"][name] / 1000 for r in rows if r.get("timings", {}).get(name) is not None]
            if values:
                series[f"{config}\n{name.removesuffix('_ms')}"] = values
    if not series:
        return False
    fig, ax = plt.subplots(figsize=(max(6.0, 1.2 * len(series)), 4))
    ax.boxplot(list(series.values()), tick_labels=list(series.keys()))
    ax.set_ylabel("seconds")
    ax.set_yscale("log")
    ax.set_title("Latency per question")
    plt.setp(ax.get_xticklabels(), fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def write_report(out_dir: Path, results: dict[str, tuple[list[dict], dict]], *, title: str, seconds: float) -> dict:
    """Write metrics.json, report.md and plots for one or more configurations; return metrics.json's content.

    ``results`` maps a configuration name to its rows and their `aggregate_by_type` metrics.
    """
    single = len(results) == 1
    metrics = next(iter(results.values()))[1] if single else {name: m for name, (_, m) in results.items()}
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")

    lines = [f"# {title}", "", f"{sum(len(rows) for rows, _ in results.values())} question runs in "
             f"{seconds / 60:.1f} min.", ""]
    overall = {name: m["overall"] for name, (_, m) in results.items()}
    if not single:
        lines += ["## Configurations side by side", "", table(overall, ("questions", *QUALITY_KEYS), "config"), "",
                  table(overall, LATENCY_KEYS, "config"), ""]
        bar_chart(overall, QUALITY_KEYS, "Metrics by configuration", out_dir / "compare.png")
        lines += ["![metrics by configuration](compare.png)", ""]
    for name, (_, m) in results.items():
        heading = "Results" if single else f"Configuration `{name}`"
        by_type = {"overall": m["overall"], **m["by_type"]}
        lines += [f"## {heading}", "", table(by_type, ("questions", *QUALITY_KEYS), "type"), "",
                  table({"overall": m["overall"]}, LATENCY_KEYS, ""), ""]
        grades = {kind: values.get("grades", {}) for kind, values in by_type.items()}
        lines += ["Grades (answered, partly answered, quoted evidence, not in the collection):", "",
                  table(grades, GRADES, "type"), ""]
        if rules := m["overall"].get("rules"):
            counts = {rule: {"count": n} for rule, n in rules.items()}
            lines += ["What the rules did (drop: a claim removed; re-cite, attach, add: a citation changed; the "
                      "answer rules: its grade):", "", table(counts, ("count",), "rule"), ""]
        plot = f"by_type{'' if single else '_' + name}.png"
        bar_chart(m["by_type"], QUALITY_KEYS, f"Metrics by question type ({name})", out_dir / plot)
        lines += [f"![metrics by question type]({plot})", ""]
    if latency_chart({name: rows for name, (rows, _) in results.items()}, out_dir / "latency.png"):
        lines += ["## Latency", "", "![latency](latency.png)", ""]
    (out_dir / "report.md").write_text("\n".join(lines))
    return metrics
