"""``rag eval``: run a question set through the engine and write results, metrics and a report."""

from __future__ import annotations

import json
import re
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console

from eval.metrics import aggregate_by_type
from eval.questions import QuestionSetError, load_questions
from eval.report import write_report
from eval.runner import RESULTS_FILE, ResumeMismatch, read_results, run
from rag import Assistant, RagError, Settings, describe_invalid

err = Console(stderr=True, soft_wrap=True)
app = typer.Typer(add_completion=False)


@dataclass(frozen=True)
class Config:
    """A named set of settings overrides to evaluate."""

    name: str
    overrides: dict


def parse_config(spec: str) -> Config:
    """``path/to/file.toml`` (named after the file) or ``key=value[,key=value]`` (named after itself)."""
    path = Path(spec)
    if spec.endswith(".toml"):
        if not path.is_file():
            raise typer.BadParameter(f"{spec}: no such TOML file")
        return Config(path.stem, tomllib.loads(path.read_text(encoding="utf-8")))
    overrides = {}
    for part in spec.split(","):
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"{spec!r}: expected key=value[,key=value] or a .toml file")
        overrides[key.strip()] = value.strip()
    return Config(re.sub(r"[^\w.-]+", "_", spec), overrides)


@app.command()
def eval_command(
    questions: Annotated[list[Path], typer.Argument(help="Question sets (JSONL); several are evaluated as one.")],
    split: Annotated[str | None, typer.Option(help="Only the questions of this split (e.g. tune, heldout).")]
    = None,
    collection: Annotated[str | None, typer.Option(help="Collection to evaluate (default: settings).")] = None,
    corpus: Annotated[Path | None, typer.Option(help="Ingest this corpus file or folder first (idempotent).")]
    = None,
    out: Annotated[Path, typer.Option(help="Output folder; rerunning into it resumes.")] = Path("eval-out"),
    retrieval_only: Annotated[bool, typer.Option("--retrieval-only", help="Only retrieval metrics (no LLM).")]
    = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print metrics.json on stdout.")] = False,
    compare: Annotated[list[str] | None, typer.Option(help="Also evaluate this configuration: a .toml file or "
                                                           "key=value[,key=value]; repeat for several.")] = None,
    recheck: Annotated[list[Path] | None, typer.Option(
        help="Re-check the replies saved in this earlier run (its folder or results.jsonl) with today's rules "
             "instead of asking the model; repeat for several (a later run's row wins). Questions it did not "
             "answer are left out.")] = None,
) -> None:
    """Evaluate retrieval and answers over a question set: results.jsonl, metrics.json, report.md, plots."""
    configs = [Config("default", {}), *(parse_config(spec) for spec in compare or [])]
    started = time.perf_counter()
    try:
        items = load_questions(questions, split=split)
        saved = None
        if recheck:
            saved = saved_rows(recheck)
            items = [q for q in items if q.id in saved]
            if not items:
                raise QuestionSetError("the runs to re-check answered none of these questions")
        base = Assistant(Settings(), progress=not as_json)
        collection = collection or base.settings.store.collection
        if corpus is not None:
            report = base.ingest([corpus], collection=collection, progress=not as_json)
            err.print(f"{collection}: {report.summary()}", highlight=False)
        elif collection == base.settings.store.collection:
            base.seed()  # an empty default collection is filled from the seeds, as `rag ask` does
        results = {}
        for config in configs:
            assistant = base.variant(Settings(**config.overrides))
            folder = out if len(configs) == 1 else out / config.name
            rows = run(assistant, items, folder, collection=collection, retrieval_only=retrieval_only,
                       progress=not as_json, label_text=config.name, saved=saved)
            results[config.name] = (rows, aggregate_by_type(rows))
    except ValidationError as error:
        err.print(f"[bold red]error:[/] invalid settings:\n{describe_invalid(error)}", highlight=False)
        raise typer.Exit(1) from None
    except (QuestionSetError, RagError, ResumeMismatch) as error:
        err.print(f"[bold red]error:[/] {error}", highlight=False)
        raise typer.Exit(1) from None
    kind = "retrieval-only" if retrieval_only else "saved replies re-checked" if recheck else "full"
    names = ", ".join(path.name for path in questions) + (f" ({split} split)" if split else "")
    metrics = write_report(out, results, title=f"Evaluation of {names} on `{collection}` ({kind})",
                           seconds=time.perf_counter() - started)
    if as_json:
        print(json.dumps(metrics, indent=2))
    else:
        err.print(f"wrote {out}/report.md, metrics.json and results.jsonl", highlight=False)


def saved_rows(runs: list[Path]) -> dict[str, dict]:
    """The answered rows of earlier runs by question id, a later run's winning."""
    rows: dict[str, dict] = {}
    for run_path in runs:
        path = run_path / RESULTS_FILE if run_path.is_dir() else run_path
        if not path.is_file():
            raise QuestionSetError(f"{run_path}: no {RESULTS_FILE} to re-check")
        rows.update({qid: row for qid, row in read_results(path).items() if "raw_answer" in row})
    return rows


def main(args: list[str]) -> None:
    """Run ``rag eval`` with its command-line arguments."""
    app(args, prog_name="rag eval")
