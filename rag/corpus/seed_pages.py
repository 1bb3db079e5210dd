"""Parser for scraped "Daily Papers" listing pages: page chrome, then title / abstract lines.

A page starts with navigation chrome that differs per file (``new``, ``Subscribe``,
``Daily Papers``, a date such as ``Aug 14``...), sometimes with ``Subscribe`` glued to the
first title. Records follow as a title line then an abstract line, with or without blank lines
between them, and the last line may lack a trailing newline.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from rag.corpus.paper import BadRecord, Paper, clean_text, paper_id_from_title
from rag.corpus.text_files import read_lines

CHROME_LINES = {
    "new",
    "subscribe",
    "daily papers",
    "byak and the research community",
    "get trending papers in your email inbox!",
    "get trending papers in your email inbox once a day!",
}
DATE_LINE = re.compile(r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]* \d{1,2}(?:, \d{4})?")
GLUED_SUBSCRIBE = re.compile(r"Subscribe(?=[^a-z\s])")
MAX_TITLE_CHARS = 300
MIN_ABSTRACT_CHARS = 100


def is_chrome(line: str) -> bool:
    """True for navigation lines of the listing page that are not part of any record."""
    return line.casefold() in CHROME_LINES or DATE_LINE.fullmatch(line) is not None


def record_lines(lines: Iterable[tuple[int, str]]) -> Iterator[tuple[int, str]]:
    """Non-blank lines, cleaned (`clean_text`), with their line numbers; page chrome removed."""
    in_header = True
    for number, raw in lines:
        line = clean_text(raw)
        if not line or is_chrome(line):
            continue
        if in_header and GLUED_SUBSCRIBE.match(line):
            line = line.removeprefix("Subscribe").strip()
        in_header = False
        yield number, line


def parse_seed_page(text: str, source: str) -> Iterator[Paper | BadRecord]:
    """Parse the text of one listing page (see `parse_seed_lines`)."""
    yield from parse_seed_lines(enumerate(text.splitlines(), start=1), source)


def parse_seed_lines(lines: Iterable[tuple[int, str]], source: str) -> Iterator[Paper | BadRecord]:
    """Yield one `Paper` per title/abstract pair, or a `BadRecord` where the pairing breaks."""
    pending: tuple[int, str] | None = None  # a title waiting for its abstract
    found = 0
    for number, line in record_lines(lines):
        if pending is None:
            if len(line) > MAX_TITLE_CHARS:
                yield BadRecord(file=source, line=number, problem="abstract without a title line before it")
            else:
                pending = (number, line)
            continue
        title_line, title = pending
        if len(line) < MIN_ABSTRACT_CHARS:
            yield BadRecord(
                file=source, line=title_line, problem=f"title {title[:60]!r} has no abstract line after it"
            )
            pending = (number, line)
            continue
        found += 1
        pending = None
        yield Paper(
            id=paper_id_from_title(title),
            title=title,
            abstract=line,
            metadata={"sources": [source], "line": title_line},
        )
    if pending is not None:
        title_line, title = pending
        yield BadRecord(file=source, line=title_line, problem=f"title {title[:60]!r} has no abstract line after it")
    if found == 0 and pending is None:
        yield BadRecord(file=source, line=1, problem="no papers found (expected title and abstract lines)")


def read_seed_page(path: Path) -> Iterator[Paper | BadRecord]:
    """Parse one listing page from disk; undecodable lines are reported and skipped."""
    lines: list[tuple[int, str]] = []
    for item in read_lines(path):
        if isinstance(item, BadRecord):
            yield item
        else:
            lines.append(item)
    if lines:
        yield from parse_seed_lines(lines, path.name)
