"""The ``rag`` command line: ask, ingest, info, eval. It only calls the public API and the index."""

from __future__ import annotations

import ipaddress
import json
import logging
import shutil
import sys
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console

from eval.cli import eval_command
from rag.answering.models import Answer, Done, SourcesFound, Token
from rag.assistant import Assistant, QuestionError
from rag.corpus import CorpusError, load_corpus
from rag.index import PaperIndex, StoreError, connect, count_papers, list_collections
from rag.index.bulk import BULK_BATCH, bulk_ingest
from rag.models.files import ModelUnavailable
from rag.models.llm import LLMError
from rag.settings import Settings, describe_invalid

app = typer.Typer(help="Local question answering over research-paper abstracts, with checked citations.",
                  no_args_is_help=True, add_completion=False)
err = Console(stderr=True, soft_wrap=True)
out = Console()

KNOWN_ERRORS = (ModelUnavailable, LLMError, StoreError, CorpusError, QuestionError, FileNotFoundError,
                ValidationError)


def load_settings(**overrides) -> Settings:
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as error:
        fail(f"invalid settings (environment RAG_*, options or rag.toml):\n{describe_invalid(error)}\n"
             "See the Configuration table in README.md for each setting's range.")
    except (OSError, ValueError) as error:  # an unreadable or malformed rag.toml
        fail(f"cannot read the settings file: {error}")


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def fail(message: str, code: int = 1):
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


def print_answer(answer: Answer, streamed: bool) -> None:
    if streamed:
        out.print("\n[dim]checked answer:[/]")
    for notice in answer.notices:
        err.print(f"[yellow]note:[/] {notice}", highlight=False)
    out.print(answer.answer, highlight=False)
    if answer.citations:
        out.print("\n[bold]Sources[/]")
        for c in answer.citations:
            out.print(f"[{c.number}] [bold]{c.title}[/]  ({c.paper_id})", highlight=False)
            out.print(f"    “{c.quote}”", style="dim", highlight=False)
    elif answer.sources:
        out.print("\n[bold]Closest sources[/]")
        for s in answer.sources:
            out.print(f"[{s.rank}] {s.title}  (score {s.score:.2f})", highlight=False)
    t = answer.timings
    first = "-" if t.first_token_ms is None else f"{t.first_token_ms / 1000:.1f} s"
    err.print(f"[dim]{answer.llm_provider}:{answer.llm_model} · retrieval {t.retrieval_ms:.0f} ms · "
              f"first token {first} · total {t.total_ms / 1000:.1f} s[/]")


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question to answer.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the Answer as one JSON object.")] = False,
    top_k: Annotated[int | None, typer.Option("--top-k", help="Papers to retrieve.")] = None,
    collection: Annotated[str | None, typer.Option(help="Collection to answer from.")] = None,
    source: Annotated[str | None, typer.Option(help="Only papers from this corpus file.")] = None,
) -> None:
    """Answer a question with citations, streaming the model's words as they come."""
    settings = load_settings(top_k=top_k)
    try:
        assistant = Assistant(settings, progress=not as_json)
        answer = None
        streamed = False
        for event in assistant.stream(question, collection=collection, source=source):
            if isinstance(event, SourcesFound) and not as_json:
                err.print(f"[dim]{len(event.sources)} sources found; generating...[/]")
            elif isinstance(event, Token) and not as_json and sys.stdout.isatty():
                streamed = True
                out.print(event.text, end="", highlight=False)
            elif isinstance(event, Done):
                answer = event.answer
    except KNOWN_ERRORS as error:
        fail(str(error))
    if as_json:
        print(answer.model_dump_json())
    else:
        print_answer(answer, streamed)


@app.command()
def ingest(
    paths: Annotated[list[Path] | None, typer.Argument(help="Files or folders (.jsonl, .csv, .txt listing pages).")]
    = None,
    collection: Annotated[str | None, typer.Option(help="Collection to write into.")] = None,
    skip_bad: Annotated[bool, typer.Option("--skip-bad", help="Ingest the good records, report the bad ones.")]
    = False,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Delete the collection first (e.g. after changing "
                                                             "the embedding model).")] = False,
    bulk: Annotated[bool, typer.Option("--bulk", help="Stream the files in steps (constant memory, no size "
                                                       "limit, BM25 rebuilt once at the end): for large corpora.")]
    = False,
    batch: Annotated[int, typer.Option(min=1, max=100_000, help="Papers per step with --bulk.")] = BULK_BATCH,
) -> None:
    """Add papers to a collection (idempotent: unchanged papers are skipped). Default: the seeds."""
    settings = load_settings(collection=collection)
    paths = paths or [settings.seeds_dir]
    try:
        corpus = None if bulk else load_corpus(paths, skip_bad=skip_bad, max_bytes=settings.ingest_max_mb * 2**20)
        client = connect(settings)  # first: a store another process owns is refused before any model loads
        if rebuild:
            if settings.collection in list_collections(client):
                client.delete_collection(settings.collection)
            shutil.rmtree(settings.bm25_dir / settings.collection, ignore_errors=True)
        assistant = Assistant(settings)
        # opening checks the store: half-written papers and a BM25 index out of step are reported and repaired
        index = PaperIndex(settings, assistant.embedder, settings.collection, client=client)
        if corpus is None:
            summary = bulk_ingest(index, paths, batch_papers=batch, skip_bad=skip_bad).summary()
        else:
            err.print(f"read {corpus.records} records: {len(corpus.papers)} unique papers, "
                      f"{corpus.duplicates} duplicates merged")
            report = index.ingest(corpus.papers, total=len(corpus.papers))
            report.bad = corpus.bad
            summary = report.summary()
    except KNOWN_ERRORS as error:
        fail(str(error))
    out.print(f"{settings.collection}: {summary}", highlight=False)
    out.print(f"{settings.collection} now holds {index.paper_count()} papers", highlight=False)


@app.command()
def info(as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False) -> None:
    """Show the effective settings, the collections and which models are active."""
    settings = load_settings()
    from rag.models.llm import choose_llm

    report: dict = {"settings": json.loads(settings.model_dump_json())}
    try:
        client = connect(settings)
        collections = list_collections(client)
        for name, row in collections.items():
            row["papers"] = count_papers(client.get_collection(name))
        report["collections"] = collections
    except KNOWN_ERRORS as error:
        report["collections"] = {"error": str(error)}
    report["embedding"] = {"provider": settings.embed_provider,
                           "model": "all-MiniLM-L6-v2-onnx-int8" if settings.embed_provider == "onnx"
                           else f"ollama:{settings.embed_ollama_model}"}
    try:
        chosen = choose_llm(settings, progress=False)
        report["llm"] = {"provider": chosen.provider, "model": chosen.model, "reason": chosen.reason}
    except ModelUnavailable as error:
        report["llm"] = {"error": str(error)}
    if as_json:
        print(json.dumps(report, indent=2, default=str))
        return
    out.print("[bold]Settings[/] (env RAG_*, or rag.toml)")
    for key, value in report["settings"].items():
        out.print(f"  {key} = {value}", highlight=False)
    out.print("[bold]Collections[/]")
    for name, row in report["collections"].items():
        out.print(f"  {name}: {row}", highlight=False)
    out.print(f"[bold]Embedding[/]  {report['embedding']['model']}", highlight=False)
    llm = report["llm"]
    status = llm.get("reason", llm.get("error"))
    out.print(f"[bold]LLM[/]  {llm.get('provider', '-')}:{llm.get('model', '-')}  {status}", highlight=False)


app.command("eval")(eval_command)


@app.command()
def ui(
    host: Annotated[str | None, typer.Option(help="Interface to bind (default 127.0.0.1: this machine only).")] = None,
    port: Annotated[int | None, typer.Option(help="Port to serve on (default 7860).")] = None,
    allow_remote: Annotated[bool, typer.Option(
        "--allow-remote", help="Allow a --host other than loopback (other machines can connect; set "
        "RAG_UI_PASSWORD to require a login).")] = False,
) -> None:
    """Open the chat UI in the browser (the seeds are ingested first if the collection is empty)."""
    settings = load_settings(ui_host=host, ui_port=port, ui_allow_remote=allow_remote or None)
    if not is_loopback(settings.ui_host) and not settings.ui_allow_remote:
        fail(f"refusing to serve on {settings.ui_host}: other machines could reach the chat UI. Pass "
             "--allow-remote (or set RAG_UI_ALLOW_REMOTE=true) to do it on purpose, and set RAG_UI_PASSWORD "
             "(and RAG_UI_USERNAME) to require a login; or keep the default --host 127.0.0.1.")
    password = settings.ui_password.get_secret_value() if settings.ui_password else ""
    if not is_loopback(settings.ui_host):
        if password:
            err.print(f"serving on {settings.ui_host}: login required (user {settings.ui_username!r})",
                      highlight=False)
        else:
            err.print(f"[yellow]warning:[/] serving on {settings.ui_host} without a login: anyone who can reach "
                      "this port can use the chat UI and add papers; set RAG_UI_PASSWORD to require one",
                      highlight=False)
    try:
        assistant = Assistant(settings)
        err.print(f"opening collection {settings.collection!r} (an empty one is filled from the seeds first)")
        err.print(f"{settings.collection}: {assistant.index().paper_count()} papers")
        try:
            chosen = assistant.llm
            err.print(f"LLM {chosen.provider}:{chosen.model} ({chosen.reason})", highlight=False)
        except ModelUnavailable as error:
            err.print(f"[yellow]warning:[/] {error}", highlight=False)
        from ui.app import build_app, launch

        launch(build_app(assistant), settings)
    except KNOWN_ERRORS as error:
        fail(str(error))
    except OSError as error:  # typically: the port is taken
        fail(f"cannot serve on {settings.ui_host}:{settings.ui_port} ({error}). Pick another port with --port.")


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    app()


if __name__ == "__main__":
    main()
