"""Rows of the arXiv metadata snapshot (the public Kaggle / arXiv dataset, JSON lines) -> `Paper`.

A row looks like ``{"id": "0704.0001", "submitter": ..., "authors": "C. Bal\\'azs, E. L. Berger",
"title": ..., "journal-ref": ..., "doi": ..., "categories": "hep-ph", "abstract": ...,
"versions": [{"version": "v1", "created": "Mon, 2 Apr 2007 ..."}], "update_date": "2008-11-13",
"authors_parsed": [["Balázs", "C.", ""], ...]}``. Titles and abstracts carry hard line breaks and
indentation: whitespace is collapsed. Author names carry LaTeX accents: decoded.
"""

from __future__ import annotations

from rag.corpus.identifiers import normalize_arxiv_id
from rag.corpus.latex import decode_latex
from rag.corpus.paper import BadRecord, Paper, clean_text
from rag.corpus.scholarly import scholarly_paper, split_authors, year_of

SNAPSHOT_ONLY_FIELDS = ("versions", "update_date", "authors_parsed", "submitter", "journal-ref")


def is_arxiv_row(record: dict) -> bool:
    """Whether a JSON object is a row of the arXiv snapshot: an ``id`` that is an arXiv id, text
    ``title``/``abstract``/``categories`` and at least one field only the snapshot has."""
    return (
        isinstance(record.get("id"), str)
        and isinstance(record.get("categories"), str)
        and isinstance(record.get("abstract"), str)
        and any(name in record for name in SNAPSHOT_ONLY_FIELDS)
        and normalize_arxiv_id(record["id"]) is not None
    )


def snapshot_authors(record: dict) -> list[str]:
    """"First Last" names from ``authors_parsed`` ([last, first, suffix]) or else the ``authors`` string."""
    parsed = record.get("authors_parsed")
    if isinstance(parsed, list) and parsed and all(isinstance(p, list) for p in parsed):
        names = [" ".join(clean_text(part) for part in (p[1:2] + p[0:1] + p[2:3]) if clean_text(part)) for p in parsed]
    else:
        names = split_authors(str(record.get("authors") or ""))
    return [decoded for name in names if (decoded := clean_text(decode_latex(name)))]


def submission_year(arxiv_id: str, record: dict) -> int | None:
    """The year of the first version: from the id (``2401.00001``, ``hep-th/9901001``), else the dates."""
    digits = arxiv_id.rsplit("/", 1)[-1][:2]
    if digits.isdigit():
        yy = int(digits)
        return 1900 + yy if yy >= 91 else 2000 + yy
    versions = record.get("versions")
    first = versions[0].get("created") if isinstance(versions, list) and versions and isinstance(versions[0], dict) \
        else None
    return year_of(first) or year_of(record.get("update_date"))


def arxiv_row_to_paper(record: dict, source: str, line: int) -> Paper | BadRecord:
    """One snapshot row as a `Paper` with id ``arxiv:<id>``; venue is the journal reference, else arXiv."""
    arxiv_id = normalize_arxiv_id(record["id"])
    assert arxiv_id is not None  # `is_arxiv_row` checked it
    return scholarly_paper(
        label=f"arXiv {arxiv_id}",
        title=record.get("title"),
        abstract=record.get("abstract"),
        source=source,
        line=line,
        authors=snapshot_authors(record),
        year=submission_year(arxiv_id, record),
        venue=clean_text(record.get("journal-ref") or "") or "arXiv",
        doi=record.get("doi"),
        arxiv_id=arxiv_id,
        url=f"https://arxiv.org/abs/{arxiv_id}",
        extra={"categories": clean_text(record.get("categories") or "")},
    )
