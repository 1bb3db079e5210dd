"""Bibliographic records -> `Paper`: the metadata keys every researcher's format is normalized to.

Keys (only those known are set): ``authors`` (list of "First Last"), ``year`` (int), ``venue``,
``doi``, ``arxiv_id``, ``pmid``, ``url`` (given, else a canonical link), plus ``sources`` and
``line`` as every loader sets them. The id follows `rag.corpus.identifiers`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from rag.corpus.identifiers import (
    arxiv_id_from_doi,
    canonical_url,
    normalize_arxiv_id,
    normalize_doi,
    normalize_pmid,
    scholarly_id,
)
from rag.corpus.paper import BadRecord, Paper, clean_text, normalize_title

YEAR = re.compile(r"(?<!\d)(1[5-9]\d\d|20\d\d)(?!\d)")
AUTHOR_SEPARATORS = re.compile(r"\s*;\s*|\s+and\s+", re.IGNORECASE)


def year_of(value: object) -> int | None:
    """The first plausible four-digit year in a value (``2024``, ``"2024-01-01"``, ``"2020///"``)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if 1500 <= value <= 2099 else None
    match = YEAR.search(str(value or ""))
    return int(match.group(1)) if match else None


def person_name(name: object) -> str:
    """"Last, First" (or "Last, Jr., First") as "First Last" ("First Last Jr."); other forms as they are."""
    parts = [clean_text(p) for p in clean_text(name).split(",")]
    if len(parts) == 2 and all(parts):
        return f"{parts[1]} {parts[0]}"
    if len(parts) == 3 and all(parts):
        return f"{parts[2]} {parts[0]} {parts[1]}"
    return clean_text(name)


def split_authors(text: str) -> list[str]:
    """Names from one string: separated by ";" or "and", or by commas when each part is a whole name
    ("Ada Lovelace, Alan Turing"); a lone "Last, First" stays one name."""
    names: list[str] = []
    for part in AUTHOR_SEPARATORS.split(clean_text(text)):
        pieces = [p.strip() for p in part.split(",") if p.strip()]
        if len(pieces) > 1 and all(" " in p or "." in p for p in pieces):
            names.extend(pieces)
        elif part.strip():
            names.append(person_name(part))
    return names


def author_list(value: object) -> list[str]:
    """Authors as a list of "First Last" strings, from a list of names or one string of several."""
    if isinstance(value, str):
        return split_authors(value)
    if isinstance(value, (list, tuple)):
        return [name for item in value if isinstance(item, str) and (name := person_name(item))]
    return []


def scholarly_paper(
    *,
    label: str,
    title: object,
    abstract: object,
    source: str,
    line: int,
    authors: Iterable[str] = (),
    year: object = None,
    venue: object = None,
    doi: object = None,
    arxiv_id: object = None,
    pmid: object = None,
    url: object = None,
    extra: dict[str, object] | None = None,
) -> Paper | BadRecord:
    """A `Paper` with normalized metadata, or a `BadRecord` ("``label`` has no abstract") when the title
    or abstract is missing; ``label`` names the record in the source ("entry smith2020", "PMID 123")."""
    title, abstract = clean_text(title or ""), clean_text(abstract or "")
    missing = [name for name, text in (("title", title), ("abstract", abstract)) if not text]
    if missing:
        return BadRecord(file=source, line=line, problem=f"{label} has no {' and no '.join(missing)}")
    doi = normalize_doi(doi)
    arxiv_id = normalize_arxiv_id(arxiv_id) or arxiv_id_from_doi(doi)
    pmid = normalize_pmid(pmid)
    known = {
        "authors": [name for name in (clean_text(a) for a in authors) if name],
        "year": year_of(year),
        "venue": clean_text(venue or ""),
        "doi": doi,
        "arxiv_id": arxiv_id,
        "pmid": pmid,
        "url": clean_text(url or "") or canonical_url(doi=doi, arxiv_id=arxiv_id, pmid=pmid),
        **(extra or {}),
    }
    metadata = {key: value for key, value in known.items() if value not in (None, "", [])}
    return Paper(
        id=scholarly_id(title=title, doi=doi, arxiv_id=arxiv_id, pmid=pmid),
        title=title,
        abstract=abstract,
        metadata={**metadata, "sources": [source], "line": line},
    )


def common_keys(record: dict) -> dict[str, object]:
    """The normalized keys a plain JSONL/CSV record offers cheaply (its id is not touched): ``authors``
    as a list, ``year`` from ``year``/``published``/``date``, ``venue`` from ``venue``/``journal``,
    ``doi``/``arxiv_id``/``pmid`` normalized, and a canonical ``url`` when none is given."""
    found: dict[str, object] = {}
    if authors := author_list(record.get("authors")):
        found["authors"] = authors
    if year := next(filter(None, (year_of(record.get(k)) for k in ("year", "published", "date"))), None):
        found["year"] = year
    if venue := clean_text(record.get("venue") or record.get("journal") or ""):
        found["venue"] = venue
    ids = {"doi": normalize_doi(record.get("doi")), "arxiv_id": normalize_arxiv_id(record.get("arxiv_id")),
           "pmid": normalize_pmid(record.get("pmid"))}
    found.update({key: value for key, value in ids.items() if value})
    if not clean_text(record.get("url") or "") and (url := canonical_url(**ids)):
        found["url"] = url
    return found


MAX_NAME_WORDS = 6  # longer "names" (an organisation spelled out) keep only their first and last words' runs


def name_words(name: object) -> list[str]:
    """A name's words, lower-case and accent-folded: "Geoffrey E. Hinton" -> ["geoffrey", "e", "hinton"]."""
    return normalize_title(str(name or "")).split()


def name_keys(name: object) -> set[str]:
    """The ways an author filter may name this author: every run of its words ("hinton", "geoffrey e",
    "geoffrey e hinton"), first and last name ("geoffrey hinton"), and initials with the last name ("g hinton",
    "g e hinton"); single letters are not keys on their own."""
    words = name_words(name)
    if len(words) > MAX_NAME_WORDS:
        words = words[:2] + words[-2:]
    keys = {" ".join(words[i:j]) for i in range(len(words)) for j in range(i + 1, len(words) + 1)}
    if len(words) >= 2:
        keys.add(f"{words[0]} {words[-1]}")
        keys.add(f"{words[0][0]} {words[-1]}")
        keys.add(" ".join([*(w[0] for w in words[:-1]), words[-1]]))
    return {key for key in keys if len(key) > 1}


def author_keys(authors: object) -> list[str]:
    """Sorted `name_keys` of every author (a list of names, or the comma-joined string older versions stored)."""
    return sorted(set().union(*(name_keys(name) for name in author_list(authors))))


def author_query(text: object) -> str:
    """An author filter as the key it must match: "Hinton" -> "hinton", "G. Hinton" -> "g hinton"."""
    return " ".join(name_words(text))
