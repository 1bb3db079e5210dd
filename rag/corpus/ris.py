"""RIS files (``.ris`` from reference managers and publishers) -> `Paper`, fields mapped by rispy.

Fields read: abstract ``AB`` (else ``N2``), title ``TI`` (else ``T1``), authors ``AU`` (else ``A1``),
year ``PY`` (else ``Y1``, ``DA``), ``DO``, ``UR``, venue ``JO``/``T2``/``JF``/``JA``/``T3``, PubMed id in
``AN`` when the database is PubMed. Records are cut here (``TY`` starts one, ``ER`` ends it), so each
keeps its start line and a record without ``ER`` is reported instead of silently dropped.

Lines without a tag follow the RIS specification: a field longer than 70 characters may be broken after
its 70th character and go on on the next line, so an untagged line after a line of at least `WRAP`
characters of data continues that field (joined with a space: exporters break lines between words).
Any other untagged line inside a record makes the record bad, reported at that line: nothing is glued
onto a field it does not belong to. A line that is not UTF-8 or holds a NUL byte also drops its record
(that line is the bad record).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from rispy import RisParser

from rag.corpus.identifiers import arxiv_id_from_url, normalize_doi
from rag.corpus.paper import BadRecord, Paper, clean_text
from rag.corpus.scholarly import person_name, scholarly_paper
from rag.corpus.text_files import read_lines

WRAP = 70  # characters of data after which the RIS specification allows a field to go on on the next line
VENUE_KEYS = ("journal_name", "secondary_title", "alternate_title3", "alternate_title2", "tertiary_title")


def first(record: dict, *keys: str) -> object:
    """The first of the named rispy keys with a value (a list gives its first item)."""
    for key in keys:
        value = record.get(key)
        if isinstance(value, list):
            value = next((v for v in value if clean_text(v)), None)
        if value not in (None, ""):
            return value
    return None


def record_to_paper(record: dict, source: str, line: int) -> Paper | BadRecord:
    """One rispy record as a `Paper` or a `BadRecord` ("record at line N has no abstract")."""
    urls = [u for u in record.get("urls") or [] if clean_text(u)]
    doi = record.get("doi")
    database = clean_text(record.get("name_of_database") or "").casefold()
    accession = record.get("accession_number") if "pubmed" in database or "medline" in database else None
    authors = record.get("authors") or record.get("first_authors") or []
    title = first(record, "title", "primary_title")
    return scholarly_paper(
        label=f"record {clean_text(title)[:60]!r}" if title else "record",
        title=title,
        abstract=first(record, "abstract", "notes_abstract"),
        source=source,
        line=line,
        authors=[person_name(a) for a in authors],
        year=first(record, "year", "publication_year", "date"),
        venue=first(record, *VENUE_KEYS),
        doi=doi if normalize_doi(doi) else None,
        arxiv_id=next(filter(None, map(arxiv_id_from_url, urls)), None),
        pmid=accession,
        url=urls[0] if urls else None,
    )


def read_ris(path: Path) -> Iterator[Paper | BadRecord]:
    """Every record of a RIS file in order; a record cut short (no ``ER`` before the next ``TY`` or the
    end of the file), a stray untagged line in a record and lines outside any record are reported with their
    line."""
    parser = RisParser()
    record: list[str] = []  # the record's lines, each field's continuation lines joined onto it
    start = 0
    stray: int | None = None  # first line of text outside any record
    wrapped = False  # whether the last line read carried WRAP characters of data (the next may continue it)
    spoiled = False  # whether the record holds an unreadable line (reported as it was read)
    untagged: BadRecord | None = None  # the record's first stray untagged line (reported at its end)

    for item in read_lines(path):
        if isinstance(item, BadRecord):
            yield item
            spoiled = spoiled or bool(record)
            continue
        number, line = item
        if not line.strip():
            continue
        tag = parser.parse_line(line)[0]
        if tag == parser.START_TAG:
            if record:
                yield BadRecord(file=path.name, line=start, problem=f"record has no end line (ER) before the next "
                                f"record at line {number}")
            record, start, spoiled, untagged = [line], number, False, None
        elif not record:
            stray = number if stray is None else stray
            continue
        elif tag is None and wrapped:
            record[-1] = f"{record[-1].rstrip()} {line.strip()}"
        elif tag is None:
            untagged = untagged or BadRecord(file=path.name, line=number, problem=(
                f"line has no RIS tag ('XX  - ') and does not continue a field: only a field longer than {WRAP} "
                "characters may go on on the next line"))
        elif tag == parser.END_TAG:
            if untagged:
                yield untagged
            elif not spoiled:
                yield record_to_paper(parser.parse_lines(iter([*record, line]))[0], path.name, start)
            record = []
            continue
        else:
            record.append(line)
        wrapped = len((line[6:] if tag else line).rstrip()) >= WRAP
    if record:
        yield BadRecord(file=path.name, line=start, problem="record has no end line (ER): the file ends inside it")
    if stray is not None and start == 0:
        yield BadRecord(file=path.name, line=stray, problem="no RIS records found (expected a line 'TY  - JOUR')")
