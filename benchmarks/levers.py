"""First-token levers against answer quality: each configuration answers the same dev questions.

Runs ``rag eval`` (`eval.cli.eval_command`, compare mode) over every second question of
``eval/questions/seeds_dev.jsonl`` (34 questions, every type) for each lever in `LEVERS`, with the
embedded models over the seeds. Speed (first token, whole answer) is reported beside must_mention,
citation precision/recall and abstention, so a faster configuration that answers worse is visible.
Threads and batch size do not change what the model writes; `benchmarks.llm_speed` measures them.

Outputs ``benchmarks/results/levers/`` (the eval's report.md, metrics.json, per-configuration
results) and ``benchmarks/results/levers.png``. Rerunning resumes finished questions.

    .venv/bin/python -m benchmarks.levers      # ~30 min on an idle 2-core machine
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from benchmarks.common import RESULTS
from rag.settings import REPO_ROOT

OUT = RESULTS / "levers"
PLOT = RESULTS / "levers.png"
DEV_SET = REPO_ROOT / "eval" / "questions" / "seeds_dev.jsonl"
LEVERS = (
    "context_tokens=500",
    "context_tokens=250",
    "llamacpp_model=qwen2.5-coder-0.5b",
    "llamacpp_model=qwen2.5-coder-0.5b,context_tokens=500",
)


def subset(path: Path, every: int = 2) -> Path:
    """Every ``every``-th question of the dev set, written to ``OUT`` (the eval's resume check hashes it)."""
    lines = [line for line in DEV_SET.read_text(encoding="utf-8").splitlines() if line.strip()]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines[::every]), encoding="utf-8")
    return path


def label(config: str) -> str:
    """``llamacpp_model_qwen2.5-coder-0.5b_context_tokens_500`` -> ``0.5B, context 500``."""
    model = "0.5B" if "0.5b" in config else "1.5B"
    context = config.split("context_tokens_")[1].split("_")[0] if "context_tokens_" in config else "1000"
    return f"{model}, context {context}" + (" (default)" if config == "default" else "")


def plot() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    configs = json.loads((OUT / "metrics.json").read_text())  # configuration name -> metrics
    keys = ("must_mention", "citation_precision", "citation_recall", "abstention_accuracy")
    fig, axes = plt.subplots(1, len(keys), figsize=(16, 4.2), sharex=True)
    for (name, metrics), marker in zip(configs.items(), "os^vDP", strict=False):
        overall = metrics["overall"]
        for ax, key in zip(axes, keys, strict=True):
            ax.plot(overall["first_token_ms_p50"] / 1000, overall[key], marker, markersize=8, label=label(name))
    for ax, key in zip(axes, keys, strict=True):
        ax.axvline(4, color="grey", linestyle=":", linewidth=1)
        ax.set(xlabel="first answer token p50 (s)", title=key, ylim=(0, 1.05), xlim=(0, None))
    axes[0].legend(fontsize=7, loc="lower right")
    fig.suptitle("First-token levers on 34 dev questions: quality against speed (dotted: the 4 s target)",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(PLOT, dpi=110)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--plot", action="store_true", help="only redraw the PNG from the results")
    parser.add_argument("--lever", action="append", help="a key=value[,key=value] configuration (default: LEVERS)")
    args = parser.parse_args(argv)
    if not args.plot:
        from eval.cli import eval_command

        eval_command(subset(OUT / "questions.jsonl"), out=OUT, compare=args.lever or list(LEVERS))
    plot()
    print(f"wrote {OUT.relative_to(REPO_ROOT)}/ and {PLOT.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()
