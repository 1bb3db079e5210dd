"""JSON corpora: JSON lines (``.jsonl``) and JSON documents (``.json``), each record routed by its content.

A record is an arXiv snapshot row (`is_arxiv_row`), an OpenAlex work (`is_openalex_work`), or else a
plain record (`record_to_paper`: ``title``, ``abstract``, optional ``id`` kept as given). Detection is
per record, so plain JSONL rows keep their fields and ids and mixed files work.

A ``.json`` file holds one record, a list of records, an OpenAlex API page ``{"meta": ..., "results":
[...]}``, or JSON lines (streamed). A document is read whole (API pages are small; large dumps come as
JSON lines); each of its records is reported at the line where it starts, and a syntax error ends the
file with a bad record at its line, after the records before it.

Decoding holds to the limits of `rag.corpus.json_values` (number size, nesting depth, field sizes): a
record over one is a bad record, measured before it is read.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from rag.corpus.arxiv import arxiv_row_to_paper, is_arxiv_row
from rag.corpus.json_values import BadJson, Decoder
from rag.corpus.limits import DEFAULT_LIMITS
from rag.corpus.openalex import is_openalex_work, work_to_paper
from rag.corpus.paper import BadRecord, Paper
from rag.corpus.tabular import record_to_paper
from rag.corpus.text_files import read_lines
from rag.settings import CorpusSettings

WHITESPACE = " \t\r\n"


def json_record_to_paper(record: object, source: str, line: int, decoder: Decoder) -> Paper | BadRecord:
    """One parsed JSON record as a `Paper` (or `BadRecord`), by what kind of record it is, once it is known to be
    within the decoder's limits."""
    if problem := decoder.problem(record):
        return BadRecord(file=source, line=line, problem=problem)
    if isinstance(record, dict):
        if is_arxiv_row(record):
            return arxiv_row_to_paper(record, source, line)
        if is_openalex_work(record):
            return work_to_paper(record, source, line)
    return record_to_paper(record, source, line)  # type: ignore[arg-type]


def read_jsonl(path: Path, limits: CorpusSettings = DEFAULT_LIMITS) -> Iterator[Paper | BadRecord]:
    """One JSON object per line; blank lines are ignored. Streams the file."""
    decoder = Decoder(limits)
    for item in read_lines(path):
        if isinstance(item, BadRecord):
            yield item
            continue
        number, line = item
        if not line.strip():
            continue
        try:
            record = decoder.whole(line)
        except BadJson as error:
            yield BadRecord(file=path.name, line=number, problem=error.problem)
            continue
        yield json_record_to_paper(record, path.name, number, decoder)


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


def array_items(text: str, pos: int, decoder: Decoder) -> Iterator[tuple[int, object]]:
    """``(offset, value)`` of each item of the JSON array starting at ``text[pos] == "["``."""
    pos = skip_space(text, pos + 1)
    if text.startswith("]", pos):
        return
    while True:
        value, end = decoder.at(text, pos)
        yield pos, value
        pos = skip_space(text, end)
        if text.startswith("]", pos):
            return
        if not text.startswith(",", pos):
            error = json.JSONDecodeError("Expecting ',' delimiter", text, pos)
            raise BadJson(pos, f"invalid JSON: {error.msg} at column {error.colno}")
        pos = skip_space(text, pos + 1)


def results_array(text: str, pos: int, decoder: Decoder) -> int | None:
    """The offset of the top-level ``"results"`` array of the object starting at ``pos``, if it has one."""
    pos = skip_space(text, pos + 1)
    while text.startswith('"', pos):
        key, pos = decoder.at(text, pos)
        pos = skip_space(text, pos)
        pos = skip_space(text, pos + 1)  # the ":" (the document was already decoded whole)
        if key == "results" and text.startswith("[", pos):
            return pos
        _, pos = decoder.at(text, pos)
        pos = skip_space(text, pos)
        pos = skip_space(text, pos + 1) if text.startswith(",", pos) else pos
    return None


def document_records(text: str, decoder: Decoder) -> Iterator[tuple[int, object]]:
    """``(offset, record)`` for each record of a JSON document: the items of a top-level list or of
    an API page's ``results``, else the document itself. Raises `BadJson` where it breaks."""
    start = skip_space(text, 0)
    if text.startswith("[", start):
        yield from array_items(text, start, decoder)
        return
    document = decoder.whole(text)
    if isinstance(document, dict) and isinstance(document.get("results"), list):
        at = results_array(text, start, decoder)
        if at is not None:
            yield from array_items(text, at, decoder)
            return
    yield start, document


def is_json_lines(path: Path, decoder: Decoder) -> bool:
    """Whether a file is JSON lines: its first line is a whole JSON value and more text follows."""
    with path.open("rb") as handle:
        first = handle.readline()
        more = handle.read(4096).strip()
    try:
        decoder.whole(first.removeprefix(b"\xef\xbb\xbf").decode("utf-8"))
    except (BadJson, UnicodeDecodeError):
        return False
    return bool(more)


def read_json(path: Path, limits: CorpusSettings = DEFAULT_LIMITS) -> Iterator[Paper | BadRecord]:
    """JSON lines (streamed), or a JSON document (one record, a list, an OpenAlex API page) read whole."""
    decoder = Decoder(limits)
    if is_json_lines(path, decoder):
        yield from read_jsonl(path, limits)
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
        for offset, record in document_records(text, decoder):
            yield json_record_to_paper(record, path.name, lines.at(offset), decoder)
    except BadJson as error:
        yield BadRecord(file=path.name, line=lines.at(error.offset), problem=error.problem)
