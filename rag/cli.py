"""The ``rag`` command line: ask, ingest, info, delete, rebuild, eval, ui. It uses only the public API
(`rag`); the evaluation and the chat UI are imported when their command runs."""

from __future__ import annotations

import ipaddress
import json
import logging
import sys
import threading
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from tqdm import tqdm

from rag import (
    BULK_BATCH,
    PROFILES,
    SUPPORTED_EXTENSIONS,
    TOP_K_MAX,
    Answer,
    AnswerProgress,
    Assistant,
    Library,
    ModelUnavailable,
    RagError,
    Settings,
    Stage,
    answer_bibtex,
    answer_markdown,
    describe_invalid,
    plan_llm,
    prompt_cache_stats,
)

app = typer.Typer(help="Local question answering over research-paper abstracts, with checked citations.",
                  no_args_is_help=True, add_completion=False)
err = Console(stderr=True, soft_wrap=True)
out = Console()
chosen_profile: str | None = None  # --profile, before the command


@app.callback()
def options(
    profile: Annotated[str | None, typer.Option(help=f"Named settings preset: {', '.join(PROFILES)} (also "
                                                     "RAG_PROFILE).")] = None,
) -> None:
    global chosen_profile
    chosen_profile = profile


def load_settings(**overrides) -> Settings:
    """The settings from the environment, rag.toml, ``--profile`` and the command's options."""
    given = {k: v for k, v in overrides.items() if v is not None}
    if chosen_profile:
        given["profile"] = chosen_profile
    try:
        return Settings(**given)
    except ValidationError as error:
        fail(f"invalid settings (environment RAG_*, options or rag.toml):\n{describe_invalid(error)}\n"
             "See docs/configuration.md for each setting's range.")
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
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    raise typer.Exit(code)


def print_answer(answer: Answer, streamed: bool) -> None:
    if streamed:
        out.print("\n[dim]checked answer:[/]")
    for notice in answer.notices:
        err.print(f"[yellow]note:[/] {notice}", highlight=False)
    if answer.grade_label:
        out.print(f"[bold]{answer.grade_label}:[/]")
    out.print(answer.answer, highlight=False, markup=False)
    if removed := answer.removed():
        err.print(f"[dim]{len(removed)} claim(s) removed by the citation check:[/]")
        for hit in removed:
            err.print(f"  [dim]- “{escape(hit.claim)}”: {escape(hit.reason)} ({escape(hit.rule)})[/]", highlight=False)
    if answer.citations:
        out.print("\n[bold]Sources[/]")
        for c in answer.citations:
            out.print(f"[{c.number}] [bold]{escape(c.title)}[/]  ({escape(c.paper_id)})", highlight=False)
            if about := paper_line(c.paper):
                out.print(f"    {about}", highlight=False, markup=False)
            if not answer.quotes_already(c):
                out.print(f"    “{c.quote}”", style="dim", highlight=False, markup=False)
    elif answer.sources:
        out.print("\n[bold]Closest sources[/]")
        for s in answer.sources:
            out.print(f"[{s.rank}] {s.title}  (score {s.score:.2f})", highlight=False)
    t = answer.timings
    first = "-" if t.first_token_ms is None else f"{t.first_token_ms / 1000:.1f} s"
    err.print(f"[dim]{answer.llm_provider}:{answer.llm_model} · retrieval {t.retrieval_ms:.0f} ms · "
              f"first token {first} · total {t.total_ms / 1000:.1f} s[/]")


def paper_line(paper) -> str:
    """Authors, year, venue and link of a paper, on one line (empty when none is known)."""
    parts = [paper.short_authors(), str(paper.year or ""), paper.venue or "", paper.link or ""]
    return " · ".join(part for part in parts if part)


class Format(StrEnum):
    text = "text"
    markdown = "markdown"
    bibtex = "bibtex"
    json = "json"


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question to answer.")],
    output: Annotated[Format, typer.Option(
        "--format", help="text: streamed, then the checked answer; markdown: the answer with a numbered reference "
        "list; bibtex: the cited papers as BibTeX entries; json: the Answer as one JSON object.")] = Format.text,
    as_json: Annotated[bool, typer.Option("--json", help="Same as --format json.")] = False,
    top_k: Annotated[int | None, typer.Option("--top-k", help=f"Papers to retrieve (1-{TOP_K_MAX}).")] = None,
    collection: Annotated[str | None, typer.Option(help="Collection to answer from.")] = None,
    source: Annotated[str | None, typer.Option(help="Only papers from this corpus file.")] = None,
    year_from: Annotated[int | None, typer.Option("--year-from", help="Only papers from this year on.")] = None,
    year_to: Annotated[int | None, typer.Option("--year-to", help="Only papers up to this year.")] = None,
    author: Annotated[str | None, typer.Option(help="Only papers by this author (a name or part of one, any "
                                                    "case: Hinton).")] = None,
) -> None:
    """Answer a question with citations, streaming the model's words as they come."""
    if as_json:
        output = Format.json
    settings = load_settings(top_k=top_k)
    answer = None
    streamed = False
    text = output is Format.text
    try:
        assistant = Assistant(settings, progress=text)
        if collection in (None, settings.store.collection):
            assistant.seed()
        progress = AnswerProgress()
        for event in assistant.stream(question, collection=collection, source=source, year_from=year_from,
                                      year_to=year_to, author=author):
            stage = progress.update(event)
            if not text or stage is Stage.DONE:
                continue
            if stage is Stage.SOURCES:
                err.print(f"[dim]{len(progress.sources)} sources found; generating...[/]")
            elif stage is Stage.SECOND_LOOK:
                err.print(f"\n[dim]the model said the collection does not answer; reading the best "
                          f"{len(progress.reread)} sources again...[/]")
            elif stage is Stage.JUDGING and progress.judging.done == 0:
                what = "which of the sources the question asks for" if progress.text else "the claim against"
                err.print(f"\n[dim]checking {what} {progress.judging.papers} sources one by one...[/]")
            elif stage is Stage.COMPLETING:
                err.print(f"\n[dim]the answer left out {escape(progress.part)}; reading its paper alone...[/]")
            elif stage is Stage.WRITING and sys.stdout.isatty():
                streamed = True
                out.print(progress.piece, end="", highlight=False, markup=False)
        answer = progress.answer
    except RagError as error:
        fail(str(error))
    if output is Format.json:
        print(answer.model_dump_json())
    elif output is Format.markdown:
        print(answer_markdown(answer), end="")
    elif output is Format.bibtex:
        entries = answer_bibtex(answer)
        if not entries:
            err.print("[yellow]note:[/] the answer cites no papers: no BibTeX entries", highlight=False)
        print(entries, end="")
    else:
        print_answer(answer, streamed)


@app.command()
def ingest(
    paths: Annotated[list[Path] | None, typer.Argument(
        help=f"Files or folders ({', '.join(SUPPORTED_EXTENSIONS)}); default: the seeds.")] = None,
    collection: Annotated[str | None, typer.Option(help="Collection to write into.")] = None,
    skip_bad: Annotated[bool, typer.Option("--skip-bad", help="Ingest the good records, report the bad ones.")]
    = False,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Delete the collection first, once the files are "
                                                             "read.")] = False,
    bulk: Annotated[bool, typer.Option("--bulk", help="Stream the files in steps (constant memory, no size "
                                                       "limit, BM25 rebuilt once at the end): for large corpora.")]
    = False,
    batch: Annotated[int, typer.Option(min=1, max=100_000, help="Papers per step with --bulk.")] = BULK_BATCH,
) -> None:
    """Add papers to a collection (idempotent: unchanged papers are skipped)."""
    settings = load_settings(collection=collection)
    try:
        library = Library(settings)
        report = library.ingest(paths or [settings.store.seeds_dir], skip_bad=skip_bad, bulk=bulk, rebuild=rebuild,
                                batch=batch)
    except RagError as error:
        fail(str(error))
    if not bulk:
        err.print(f"read {report.records} records: {report.records - report.duplicates} unique papers, "
                  f"{report.duplicates} duplicates merged")
    out.print(f"{report.collection}: {report.summary()}", highlight=False, markup=False)
    out.print(f"{report.collection} now holds {report.papers_now} papers", highlight=False)


@app.command()
def info(as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False) -> None:
    """Show the effective settings, the collections and which models are active (nothing is loaded); exits 1 when
    the store could not be opened."""
    settings = load_settings()
    report: dict = {"profile": settings.profile, "settings": json.loads(json.dumps(settings.flat(), default=str))}
    try:
        library = Library(settings, progress=False)
        report["collections"] = {c.name: {"papers": c.papers, "chunks": c.chunks, "embed_model": c.embed_model,
                                          "usable": c.usable} for c in library.collections()}
        report["embedding"] = {"provider": settings.embedding.provider, "model": library.embedder.model_name}
    except RagError as error:
        report["collections"] = {"error": str(error)}
        report["embedding"] = {"provider": settings.embedding.provider, "error": str(error)}
    try:
        plan = plan_llm(settings.llm)
        report["llm"] = {"provider": plan.provider, "model": plan.model, "reason": plan.reason}
    except ModelUnavailable as error:
        report["llm"] = {"error": str(error)}
    stats = prompt_cache_stats(settings)
    report["prompt_cache"] = None if stats is None else {
        "folder": str(settings.store.prompt_cache_dir), "entries": stats.entries, "bytes": stats.bytes,
        "max_bytes": stats.max_bytes, "hits": stats.hits, "misses": stats.misses,
        "hit_rate": round(stats.hit_rate, 3)}
    if as_json:
        print(json.dumps(report, indent=2, default=str))
    else:
        print_info(report, settings.profile)
    if "error" in report["collections"]:
        fail(report["collections"]["error"])


def print_info(report: dict, profile: str) -> None:
    """`rag info`'s report as text."""
    out.print(f"[bold]Settings[/] (profile {profile}; env RAG_*, or rag.toml)")
    for key, value in report["settings"].items():
        out.print(f"  {key} = {value}", highlight=False, markup=False)
    out.print("[bold]Collections[/]")
    for name, row in report["collections"].items():
        out.print(f"  {name}: {row}", highlight=False, markup=False)
    embedding = report["embedding"]
    out.print(f"[bold]Embedding[/]  {escape(str(embedding.get('model', embedding.get('error'))))}", highlight=False)
    llm = report["llm"]
    status = llm.get("reason", llm.get("error"))
    out.print(f"[bold]LLM[/]  {llm.get('provider', '-')}:{llm.get('model', '-')}  {status}", highlight=False)
    cached = report["prompt_cache"]
    out.print("[bold]Prompt cache[/]  " + ("off" if cached is None else
              f"{cached['entries']} entries, {cached['bytes'] / 2**30:.2f} of {cached['max_bytes'] / 2**30:.1f} GB, "
              f"hit rate {cached['hit_rate']:.0%} ({cached['hits']} hits, {cached['misses']} misses)"),
              highlight=False)


@app.command()
def delete(collection: Annotated[str, typer.Argument(help="The collection to delete.")]) -> None:
    """Delete a collection and its BM25 index."""
    settings = load_settings()
    try:
        Library(settings, progress=False).delete_collection(collection)
    except RagError as error:
        fail(str(error))
    out.print(f"deleted {collection}", highlight=False)


@app.command()
def rebuild(collection: Annotated[str | None, typer.Option(help="Collection to rebuild (default: settings).")]
            = None) -> None:
    """Embed a collection's papers again with the active embedding model (after changing RAG_EMBED_PROVIDER)."""
    settings = load_settings(collection=collection)
    try:
        report = Library(settings).rebuild()
    except RagError as error:
        fail(str(error))
    out.print(f"{report.collection}: {report.summary()}; {report.papers_now} papers", highlight=False)


@app.command("eval", add_help_option=False,
             context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def evaluate(ctx: typer.Context) -> None:
    """Evaluate answers over question sets (`rag eval --help` for the options)."""
    from eval.cli import main as eval_main

    if chosen_profile:
        import os

        os.environ["RAG_PROFILE"] = chosen_profile
    eval_main(ctx.args)


@app.command()
def ui(
    host: Annotated[str | None, typer.Option(help="Interface to bind (default 127.0.0.1: this machine only).")] = None,
    port: Annotated[int | None, typer.Option(help="Port to serve on (default 7860).")] = None,
    allow_remote: Annotated[bool, typer.Option(
        "--allow-remote", help="Allow a --host other than loopback (other machines can connect; set "
        "RAG_UI_PASSWORD to require a login).")] = False,
) -> None:
    """Open the chat UI in the browser (the seeds are ingested first if the default collection is empty)."""
    settings = load_settings(ui_host=host, ui_port=port, ui_allow_remote=allow_remote or None)
    if not is_loopback(settings.ui.host) and not settings.ui.allow_remote:
        fail(f"refusing to serve on {settings.ui.host}: other machines could reach the chat UI. Pass "
             "--allow-remote (or set RAG_UI_ALLOW_REMOTE=true) to do it on purpose, and set RAG_UI_PASSWORD "
             "(and RAG_UI_USERNAME) to require a login; or keep the default --host 127.0.0.1.")
    password = settings.ui.password.get_secret_value() if settings.ui.password else ""
    if not is_loopback(settings.ui.host):
        if password:
            err.print(f"serving on {settings.ui.host}: login required (user {settings.ui.username!r})",
                      highlight=False)
        else:
            err.print(f"[yellow]warning:[/] serving on {settings.ui.host} without a login: anyone who can reach "
                      "this port can use the chat UI and add papers; set RAG_UI_PASSWORD to require one",
                      highlight=False)
    try:
        assistant = Assistant(settings)
        name = settings.store.collection
        err.print(f"opening collection {name!r} (an empty one is filled from the seeds first)")
        assistant.seed()
        err.print(f"{name}: {assistant.paper_count()} papers")
        try:
            chosen = assistant.llm
            err.print(f"LLM {chosen.provider}:{chosen.model} ({chosen.reason})", highlight=False)
        except ModelUnavailable as error:
            err.print(f"[yellow]warning:[/] {error}", highlight=False)
        from ui.app import build_app, launch

        launch(build_app(assistant), settings, on_ready=lambda: warm_in_background(assistant))
    except RagError as error:
        fail(str(error))
    except OSError as error:  # typically: the port is taken
        fail(f"cannot serve on {settings.ui.host}:{settings.ui.port} ({error}). Pick another port with --port.")


def warm_in_background(assistant: Assistant) -> None:
    """Read the default collection's papers into the prompt cache while the UI waits for questions (a
    question always goes first), unless ``RAG_WARM_WHEN_IDLE`` is false."""
    if not assistant.settings.llm.warm_when_idle:
        return

    def warm() -> None:
        try:
            read = assistant.warm_cache()
            if read:
                err.print(f"[dim]prompt cache: read {read} papers ahead of questions[/]")
        except Exception as error:  # warming is an optimization: never take the UI down
            err.print(f"[yellow]warning:[/] warming the prompt cache stopped: {error}", highlight=False)

    threading.Thread(target=warm, name="warm-prompt-cache", daemon=True).start()


cache = typer.Typer(help="The embedded model's prompt cache: each paper read once, reused where it is read again.")
app.add_typer(cache, name="cache")


@cache.command("warm")
def cache_warm(collection: Annotated[str | None, typer.Option(help="Collection to warm (default: settings).")]
               = None) -> None:
    """Read every paper of a collection into the prompt cache now (those not there yet), as the list judge reads it
    and, with RAG_PROMPT_CACHE first or all, as an answer does."""
    settings = load_settings(collection=collection)
    try:
        assistant = Assistant(settings)
        assistant.seed()
        llm = assistant.llm
        if not llm.caches_judged_papers:
            fail(f"nothing to warm: the LLM in use ({llm.provider}:{llm.model}) is not the embedded model")
        if not llm.reuses_pieces and settings.answering.list_judge > 1:
            fail("nothing to warm: the prompt cache is off (RAG_PROMPT_CACHE=off) and so is the list judge "
                 "(RAG_LIST_JUDGE above 1)")
        with tqdm(unit="reading", desc=f"warm {settings.store.collection}") as bar:
            def show(done: int, total: int) -> None:
                bar.total = total
                bar.n = done
                bar.refresh()

            read = assistant.warm_cache(on_progress=show)
    except RagError as error:
        fail(str(error))
    stats = prompt_cache_stats(settings)
    out.print(f"read {read} paper blocks; the cache holds {stats.entries} entries, {stats.bytes / 2**30:.2f} GB")


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    app()


if __name__ == "__main__":
    main()
