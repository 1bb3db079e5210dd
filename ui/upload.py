"""Adding papers from the browser: uploaded corpus files -> the collection, with a report."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

from rag import Assistant, BadRecord, IngestReport, RagError, printable

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
MAX_BAD_SHOWN = 50


@dataclass
class UploadResult:
    """What an upload did: counts, the bad records (file:line: problem), or an error."""

    collection: str
    files: list[str] = field(default_factory=list)
    records: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    bad: list[BadRecord] = field(default_factory=list)
    error: str | None = None
    papers_now: int | None = None

    def take(self, report: IngestReport) -> None:
        """Copy what an ingest did."""
        self.records, self.bad, self.papers_now = report.records, report.bad, report.papers_now
        self.added, self.updated, self.unchanged = report.added, report.updated, report.unchanged


def ingest_files(assistant: Assistant, paths: Sequence[str | Path], collection: str | None,
                 progress: Progress | None = None) -> UploadResult:
    """Read the files (bad records are skipped and listed) and upsert their papers into ``collection``.

    ``paths`` are the temporary files Gradio saved the upload to: only they are opened, and only their
    base names are shown (control characters escaped, `printable`). Files are parsed (never executed or
    unpickled) within the same limits as `rag ingest` (`rag.Settings` section ``corpus``); a file over
    ``upload_max_mb`` is refused before it is read.
    """
    name = collection or assistant.settings.store.collection
    result = UploadResult(collection=name, files=[printable(Path(p).name) for p in paths])
    if not paths:
        result.error = "No file was uploaded."
        return result
    limit_mb = assistant.settings.ui.upload_max_mb
    too_large = [p for p in map(Path, paths) if p.is_file() and p.stat().st_size > limit_mb * 2**20]
    if too_large:
        sizes = ", ".join(f"{printable(p.name)} ({p.stat().st_size / 2**20:.1f} MB)" for p in too_large)
        result.error = (f"{sizes}: larger than the {limit_mb} MB upload limit (RAG_UPLOAD_MAX_MB); nothing was "
                        "added. Split the file, or use `rag ingest` on the command line.")
        return result
    try:
        result.take(assistant.ingest(paths, collection=name, skip_bad=True, progress=progress or False))
        if not result.records and not result.bad:
            result.error = "No papers were found in the file."
    except (RagError, ValueError, OSError) as error:  # unsupported type, unreadable file, store errors
        log.warning("upload failed: %s", error)
        result.error = str(error)
    except Exception as error:  # never a stack trace in the browser; the log keeps it
        log.exception("upload failed")
        result.error = f"{type(error).__name__}: {error}"
    return result


def bad_line(record: BadRecord) -> str:
    return f"{printable(Path(record.file).name)}:{record.line}: {printable(record.problem)}"


def upload_report(result: UploadResult) -> str:
    """The HTML report shown under the upload box."""
    files = escape(", ".join(result.files)) or "the upload"
    parts: list[str] = []
    if result.error:
        parts.append(f'<p class="upload-error"><strong>Could not add {files}.</strong> {escape(result.error)}</p>')
    elif result.records:
        parts.append(
            f'<p class="upload-ok"><strong>{escape(result.collection)}</strong>: '
            f'<span class="count-added">{result.added} added</span>, '
            f'<span class="count-updated">{result.updated} updated</span>, '
            f'<span class="count-skipped">{result.unchanged} skipped (unchanged)</span>'
            + (f" · {result.papers_now} papers in the collection" if result.papers_now is not None else "")
            + "</p>"
        )
    if result.bad:
        shown = "".join(f"<li>{escape(bad_line(b))}</li>" for b in result.bad[:MAX_BAD_SHOWN])
        more = f"<li>… and {len(result.bad) - MAX_BAD_SHOWN} more</li>" if len(result.bad) > MAX_BAD_SHOWN else ""
        head = (f"{len(result.bad)} bad record{'s' if len(result.bad) != 1 else ''} skipped"
                if result.records else f"Nothing was added: {len(result.bad)} bad record(s)")
        parts.append(f'<div class="upload-bad"><p>{head}:</p><ul>{shown}{more}</ul></div>')
    return "".join(parts)
