"""BibTeX libraries (``.bib`` from Zotero, JabRef, Mendeley) -> `Paper`, parsed by bibtexparser 2.x.

LaTeX is decoded to text (``{\\"u}`` -> ``ü``, ``{GPT}`` -> ``GPT``, ``\\emph{x}`` -> ``x``, ``--`` ->
``–``; math such as ``$O(n^2)$`` is kept as written), ``@string`` macros and ``#`` concatenation are
resolved (`rag.corpus.bibtex_values`, which also holds fields to their size limits before any LaTeX is
decoded), and names become "First Last". An entry without an abstract is a bad record like any other
(``entry smith2020 has no abstract``): listed, and aborting the load unless bad records are skipped
(``--skip-bad``). So is an entry the parser could not read (an unbalanced brace): bibtexparser stops
such an entry at the next line that starts with ``@`` and goes on with the rest of the file. An entry
holding a line that is not UTF-8 (or has a NUL byte) is dropped; that line is the bad record.

The file is streamed: it is cut at lines starting with ``@`` into pieces of about `ENTRIES_PER_PARSE`
entries, each parsed on its own with the ``@string`` macros defined before it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

import bibtexparser
from bibtexparser import middlewares
from bibtexparser.model import DuplicateBlockKeyBlock, Entry, ParsingFailedBlock

from rag.corpus.bibtex_values import PROBLEM, ExpandValues
from rag.corpus.identifiers import arxiv_id_from_url
from rag.corpus.latex import DECODER
from rag.corpus.limits import DEFAULT_LIMITS
from rag.corpus.paper import BadRecord, Paper
from rag.corpus.scholarly import scholarly_paper
from rag.corpus.text_files import read_lines
from rag.settings import CorpusSettings

# The splitter logs each entry it gives up on; we report those as bad records instead.
logging.getLogger("bibtexparser.splitter").setLevel(logging.ERROR)

ENTRIES_PER_PARSE = 200
BLOCK_START = re.compile(r"\s*@[A-Za-z]+")
BLOCK_KEY = re.compile(r"@\s*[A-Za-z]+\s*[{(]\s*([^,\s{}()]+)")
VENUE_FIELDS = ("journal", "journaltitle", "booktitle", "publisher", "school", "institution")


def parse_stack(macros: dict[str, str | None], limits: CorpusSettings) -> list:
    """Values evaluated (macros, ``#``, enclosing) within the limits, keys lower-cased, LaTeX decoded, names split
    and merged."""
    return [
        ExpandValues(macros, limits),
        middlewares.NormalizeFieldKeys(),
        middlewares.LatexDecodingMiddleware(decoder=DECODER),
        middlewares.SeparateCoAuthors(),
        middlewares.SplitNameParts(),
        middlewares.MergeNameParts(style="first"),
    ]


def pieces(lines: Iterable[tuple[int, str]]) -> Iterator[tuple[int, str]]:
    """``(first line number, text)`` pieces of the file, cut before lines starting with ``@``."""
    buffer: list[str] = []
    first, blocks = 1, 0
    for number, line in lines:
        if BLOCK_START.match(line):
            if blocks >= ENTRIES_PER_PARSE:
                yield first, "\n".join(buffer)
                buffer, first, blocks = [], number, 0
            blocks += 1
        elif not buffer:
            first = number
        buffer.append(line)
    if buffer:
        yield first, "\n".join(buffer)


def field(entry: Entry, *names: str) -> str | list | None:
    """The first of the named fields an entry has (keys are lower-cased), or None."""
    for name in names:
        if name in entry.fields_dict and entry.fields_dict[name].value not in ("", None):
            return entry.fields_dict[name].value
    return None


def entry_arxiv_id(entry: Entry) -> str | None:
    """The arXiv id: ``eprint`` with ``archiveprefix``/``eprinttype`` arXiv, Mendeley's ``arxivid``, or an
    arxiv.org ``url``."""
    archive = str(field(entry, "archiveprefix", "eprinttype") or "").casefold()
    if archive == "arxiv" and (eprint := field(entry, "eprint")):
        return str(eprint)
    if arxivid := field(entry, "arxivid"):
        return str(arxivid)
    return arxiv_id_from_url(field(entry, "url"))


def entry_to_paper(entry: Entry, source: str, line: int) -> Paper | BadRecord:
    """One BibTeX entry as a `Paper` (key, type and metadata kept) or a `BadRecord`."""
    authors = field(entry, "author")
    return scholarly_paper(
        label=f"entry {entry.key}",
        title=field(entry, "title"),
        abstract=field(entry, "abstract"),
        source=source,
        line=line,
        authors=authors if isinstance(authors, list) else [authors] if authors else [],
        year=field(entry, "year", "date"),
        venue=field(entry, *VENUE_FIELDS),
        doi=field(entry, "doi"),
        arxiv_id=entry_arxiv_id(entry),
        pmid=field(entry, "pmid"),
        url=field(entry, "url"),
        extra={"bibtex_key": entry.key, "bibtex_type": entry.entry_type.lower()},
    )


def failure(block: ParsingFailedBlock, source: str, line: int) -> BadRecord:
    """A bad record for a block the parser gave up on, naming the entry key when it can be read."""
    key = BLOCK_KEY.match((block.raw or "").lstrip())
    name = f"entry {key.group(1)}" if key else "block"
    reason = getattr(block.error, "abort_reason", "") or str(block.error)
    if "closing" in reason or "end of file" in reason:
        reason = "unbalanced braces or quotes (a `{` or `\"` opened in it is never closed)"
    return BadRecord(file=source, line=line, problem=f"{name} is malformed: {reason.strip()}")


def read_bibtex(path: Path, limits: CorpusSettings = DEFAULT_LIMITS) -> Iterator[Paper | BadRecord]:
    """Every entry of a ``.bib`` file in order, as a `Paper` or a `BadRecord`; comments and macros skipped."""
    bad: list[BadRecord] = []
    macros: dict[str, str | None] = {}  # @string name -> value (None: over the size limit), in file order
    first_seen: dict[str, int] = {}

    def good_lines() -> Iterator[tuple[int, str]]:
        for item in read_lines(path):
            if isinstance(item, BadRecord):
                bad.append(item)
                yield item.line, ""  # keep the line count; the bad line is reported
            else:
                yield item

    for first, text in pieces(good_lines()):
        yield from bad
        spoiled = [record.line for record in bad]  # an entry holding a bad line is dropped: that line is reported
        bad.clear()
        library = bibtexparser.parse_string(text, parse_stack=parse_stack(macros, limits))
        starts = [first + (block.start_line or 0) for block in library.blocks]
        for block, line, end in zip(library.blocks, starts, [*starts[1:], None], strict=False):
            if any(line <= number and (end is None or number < end) for number in spoiled):
                continue
            if isinstance(block, (Entry, DuplicateBlockKeyBlock)):
                if block.key in first_seen:
                    yield BadRecord(file=path.name, line=line, problem=f"entry key {block.key} is used twice "
                                    f"in this file (first at line {first_seen[block.key]})")
                elif isinstance(block, Entry):
                    first_seen[block.key] = line
                    problem = block.parser_metadata.get(PROBLEM)
                    yield BadRecord(file=path.name, line=line, problem=f"entry {block.key}: {problem}") if problem \
                        else entry_to_paper(block, path.name, line)
            elif isinstance(block, ParsingFailedBlock):
                yield failure(block, path.name, line)
    yield from bad
