"""Plain records (a JSONL line, a CSV row) with ``id``, ``title``, ``abstract`` and extras; CSV files."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
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


def good_lines(path: Path, bad: list[BadRecord]) -> Iterable[str]:
    """Decoded lines for the csv module, collecting undecodable ones into ``bad``."""
    for item in read_lines(path):
        if isinstance(item, BadRecord):
            bad.append(item)
            yield "\n"  # keep the csv reader's line numbers aligned with the file's
        else:
            yield item[1] + "\n"


def read_csv(path: Path) -> Iterator[Paper | BadRecord]:
    """A CSV file with a header row naming at least ``title`` and ``abstract``."""
    bad: list[BadRecord] = []
    reader = csv.DictReader(good_lines(path, bad))
    try:
        header = reader.fieldnames or []
    except csv.Error as error:
        yield BadRecord(file=path.name, line=1, problem=f"unreadable CSV header: {error}")
        return
    yield from bad
    bad.clear()
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
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            row = None
            yield BadRecord(file=path.name, line=reader.line_num, problem=f"malformed CSV row: {error}")
        yield from bad
        bad.clear()
        if row is None:
            continue
        if None in row:
            yield BadRecord(file=path.name, line=reader.line_num, problem="row has more fields than the header")
        elif any(value is None for value in row.values()):
            yield BadRecord(file=path.name, line=reader.line_num, problem="row has fewer fields than the header")
        else:
            yield record_to_paper(row, path.name, reader.line_num)
