"""Plain records (a JSONL line, a CSV row) with ``id``, ``title``, ``abstract`` and extras; CSV files."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

from rag.corpus.paper import BadRecord, Paper, clean_text, paper_id_from_title
from rag.corpus.scholarly import common_keys
from rag.corpus.text_files import read_lines

REQUIRED_FIELDS = ("title", "abstract")
OPTIONAL_FIELDS = ("url", "authors", "published")


def metadata_value(value: object) -> str | int | float | bool:
    """A value Chroma can store as metadata: scalars as they are, lists of scalars joined, anything
    else (objects, nested lists) as compact JSON text."""
    if isinstance(value, (str, int, float, bool)):
        return clean_text(value) if isinstance(value, str) else value
    if isinstance(value, list) and all(isinstance(v, (str, int, float, bool)) for v in value):
        return ", ".join(clean_text(v) for v in value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def record_to_paper(record: dict, source: str, line: int) -> Paper | BadRecord:
    """Validate one parsed record; a given ``id`` is kept, otherwise derived from the title. Extras are
    kept, with the common keys (`common_keys`: authors list, year, doi, ...) normalized over them."""
    if not isinstance(record, dict):
        return BadRecord(file=source, line=line, problem=f"expected a JSON object, got {type(record).__name__}")
    not_text = [name for name in (*REQUIRED_FIELDS, "id") if isinstance(record.get(name), (dict, list, bool))]
    if not_text:
        return BadRecord(file=source, line=line, problem=f"field(s) {', '.join(not_text)} must be text, "
                         f"not {type(record[not_text[0]]).__name__}")
    missing = [name for name in REQUIRED_FIELDS if not clean_text(record.get(name) or "")]
    if missing:
        return BadRecord(file=source, line=line, problem=f"missing or empty field(s): {', '.join(missing)}")
    title = clean_text(record["title"])
    abstract = clean_text(record["abstract"])
    given_id = clean_text(record.get("id") or "")
    extras = {
        str(key): metadata_value(value)
        for key, value in record.items()
        if key not in ("id", "title", "abstract") and value not in (None, "", [], {})
    }
    return Paper(
        id=given_id or paper_id_from_title(title),
        title=title,
        abstract=abstract,
        metadata={**extras, **common_keys(record), "sources": [source], "line": line},
    )


class CsvLines:
    """The decoded lines of a file for the csv module, noting for each row the line it starts on and the last line
    read; an undecodable line is collected into ``bad`` and read as an empty line."""

    def __init__(self, path: Path):
        self.bad: list[BadRecord] = []
        self.start = self.last = 0
        self._lines = read_lines(path)

    def __iter__(self) -> Iterator[str]:
        for item in self._lines:
            if isinstance(item, BadRecord):
                self.bad.append(item)
                self.last = item.line
                yield "\n"
            else:
                self.last, text = item
                if not self.start and text.strip():
                    self.start = self.last
                yield text + "\n"

    def next_row(self, reader: csv.DictReader) -> dict:
        """The reader's next row (StopIteration at the end); ``start`` and ``last`` then span it."""
        self.start = 0
        return next(reader)

    def take_bad(self) -> list[BadRecord]:
        found, self.bad = self.bad, []
        return found


def row_problem(error: csv.Error) -> str:
    """A csv module error as a sentence."""
    reason = str(error)
    if reason == "unexpected end of data":
        return "a quoted field opened in this row is never closed: the rest of the file was read into it"
    if reason.startswith("field larger than field limit"):
        return f"a field is over {csv.field_size_limit():,} characters long (the CSV reader's limit)"
    return f"malformed CSV row: {reason}"


def read_csv(path: Path) -> Iterator[Paper | BadRecord]:
    """A CSV file with a header row naming at least ``title`` and ``abstract``. Quoting is strict (a quote inside
    an unquoted field, or one never closed, is an error); each row is reported at the line it starts on, and a
    row holding an undecodable line is dropped (that line is reported)."""
    lines = CsvLines(path)
    reader = csv.DictReader(lines, strict=True)
    try:
        header = reader.fieldnames or []
    except csv.Error as error:
        yield BadRecord(file=path.name, line=1, problem=f"unreadable CSV header: {error}")
        return
    yield from lines.take_bad()
    missing = [name for name in REQUIRED_FIELDS if name not in header]
    if missing:
        yield BadRecord(
            file=path.name,
            line=1,
            problem=f"CSV header lacks column(s) {', '.join(missing)} (found: {', '.join(header) or 'nothing'})",
        )
        return
    while True:
        try:
            row = lines.next_row(reader)
        except StopIteration:
            break
        except csv.Error as error:
            row = None
            yield BadRecord(file=path.name, line=lines.start or lines.last, problem=row_problem(error))
        bad = lines.take_bad()
        yield from bad
        if row is None or bad:
            continue
        if None in row:
            yield BadRecord(file=path.name, line=lines.start, problem="row has more fields than the header")
        elif any(value is None for value in row.values()):
            yield BadRecord(file=path.name, line=lines.start, problem="row has fewer fields than the header")
        else:
            yield record_to_paper(row, path.name, lines.start)
