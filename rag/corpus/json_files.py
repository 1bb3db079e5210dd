"""JSON corpora: JSON lines (``.jsonl``) and JSON documents (``.json``), each record routed by its content.

A record is an arXiv snapshot row (`is_arxiv_row`), an OpenAlex work (`is_openalex_work`), or else a
plain record (`record_to_paper`: ``title``, ``abstract``, optional ``id`` kept as given). Detection is
per record, so plain JSONL rows keep their fields and ids and mixed files work.

A ``.json`` file holds one record, a list of records, an OpenAlex API page ``{"meta": ..., "results":
[...]}``, or JSON lines (streamed). A document is read whole (API pages are small; large dumps come as
JSON lines); each of its records is reported at the line where it starts, and a syntax error ends the
file with a bad record at its line, after the records before it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from rag.corpus.arxiv import arxiv_row_to_paper, is_arxiv_row
from rag.corpus.openalex import is_openalex_work, work_to_paper
from rag.corpus.paper import BadRecord, Paper
from rag.corpus.tabular import record_to_paper
from rag.corpus.text_files import read_lines

DECODER = json.JSONDecoder()
WHITESPACE = " \t\r\n"


def json_record_to_paper(record: object, source: str, line: int) -> Paper | BadRecord:
    """One parsed JSON record as a `Paper` (or `BadRecord`), by what kind of record it is."""
    if isinstance(record, dict):
        if is_arxiv_row(record):
            return arxiv_row_to_paper(record, source, line)
        if is_openalex_work(record):
            return work_to_paper(record, source, line)
    return record_to_paper(record, source, line)  # type: ignore[arg-type]


def read_jsonl(path: Path) -> Iterator[Paper | BadRecord]:
    """One JSON object per line; blank lines are ignored. Streams the file."""
    for item in read_lines(path):
        if isinstance(item, BadRecord):
            yield item
            continue
        number, line = item
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            yield BadRecord(file=path.name, line=number, problem=f"invalid JSON: {error.msg} at column {error.colno}")
            continue
        yield json_record_to_paper(record, path.name, number)


class Lines:
    """Line numbers of offsets in a text, counted incrementally for increasing offsets."""

    def __init__(self, text: str):
        self.text, self.offset, self.line = text, 0, 1

    def at(self, offset: int) -> int:
        self.line += self.text.count("\n", self.offset, offset)
        self.offset = offset
        return self.line


def skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in WHITESPACE:
        pos += 1
    return pos


def array_items(text: str, pos: int) -> Iterator[tuple[int, object]]:
    """``(offset, value)`` of each item of the JSON array starting at ``text[pos] == "["``."""
    pos = skip_space(text, pos + 1)
    if text.startswith("]", pos):
        return
    while True:
        value, end = DECODER.raw_decode(text, pos)
        yield pos, value
        pos = skip_space(text, end)
        if text.startswith("]", pos):
            return
        if not text.startswith(",", pos):
            raise json.JSONDecodeError("Expecting ',' delimiter", text, pos)
        pos = skip_space(text, pos + 1)


def results_array(text: str, pos: int) -> int | None:
    """The offset of the top-level ``"results"`` array of the object starting at ``pos``, if it has one."""
    pos = skip_space(text, pos + 1)
    while text.startswith('"', pos):
        key, pos = DECODER.raw_decode(text, pos)
        pos = skip_space(text, pos)
        pos = skip_space(text, pos + 1)  # the ":" (the document was already decoded whole)
        if key == "results" and text.startswith("[", pos):
            return pos
        _, pos = DECODER.raw_decode(text, pos)
        pos = skip_space(text, pos)
        pos = skip_space(text, pos + 1) if text.startswith(",", pos) else pos
    return None


def document_records(text: str) -> Iterator[tuple[int, object]]:
    """``(offset, record)`` for each record of a JSON document: the items of a top-level list or of
    an API page's ``results``, else the document itself. Raises `json.JSONDecodeError` where it breaks."""
    start = skip_space(text, 0)
    if text.startswith("[", start):
        yield from array_items(text, start)
        return
    document, _ = DECODER.raw_decode(text, start)
    if isinstance(document, dict) and isinstance(document.get("results"), list):
        at = results_array(text, start)
        if at is not None:
            yield from array_items(text, at)
            return
    yield start, document


def is_json_lines(path: Path) -> bool:
    """Whether a file is JSON lines: its first line is a whole JSON value and more text follows."""
    with path.open("rb") as handle:
        first = handle.readline()
        more = handle.read(4096).strip()
    try:
        json.loads(first.removeprefix(b"\xef\xbb\xbf"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        return False
    return bool(more)


def read_json(path: Path) -> Iterator[Paper | BadRecord]:
    """JSON lines (streamed), or a JSON document (one record, a list, an OpenAlex API page) read whole."""
    if is_json_lines(path):
        yield from read_jsonl(path)
        return
    try:
        text = path.read_bytes().removeprefix(b"\xef\xbb\xbf").decode("utf-8")
    except UnicodeDecodeError as error:
        yield BadRecord(file=path.name, line=1, problem=f"not UTF-8 (byte at offset {error.start})")
        return
    if not text.strip():
        yield BadRecord(file=path.name, line=1, problem="file is empty")
        return
    lines = Lines(text)
    try:
        for offset, record in document_records(text):
            yield json_record_to_paper(record, path.name, lines.at(offset))
    except json.JSONDecodeError as error:
        yield BadRecord(file=path.name, line=error.lineno, problem=f"invalid JSON: {error.msg} at column {error.colno}")
