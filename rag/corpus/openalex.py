"""OpenAlex works (as the API and the snapshot give them) -> `Paper`.

OpenAlex ships no plain abstract: ``abstract_inverted_index`` maps each word to the positions it
takes (``{"Despite": [0], "their": [1, 7], ...}``), rebuilt here into text in word order. A work
without one (null or empty; about half of older works) is a bad record. The arXiv id, which
OpenAlex does not list under ``ids``, is read from an arXiv DOI or an arxiv.org location.
"""

from __future__ import annotations

from rag.corpus.identifiers import arxiv_id_from_url
from rag.corpus.paper import BadRecord, Paper, clean_text
from rag.corpus.scholarly import scholarly_paper

OPENALEX = "https://openalex.org/"


def is_openalex_work(record: dict) -> bool:
    """Whether a JSON object is an OpenAlex work: it has ``abstract_inverted_index`` (even null), or an
    OpenAlex work id and no plain ``abstract``."""
    if "abstract_inverted_index" in record:
        return True
    return str(record.get("id") or "").startswith(f"{OPENALEX}W") and "abstract" not in record


def rebuild_abstract(index: object) -> str | None:
    """The abstract in word order from an inverted index; None when it is not a word -> positions map."""
    if not isinstance(index, dict):
        return None
    placed: list[tuple[int, str]] = []
    for word, positions in index.items():
        if not isinstance(positions, list) or not all(isinstance(p, int) for p in positions):
            return None
        placed.extend((position, word) for position in positions)
    return " ".join(word for _, word in sorted(placed))


def nested(record: dict, *keys: str) -> object:
    """``record[k1][k2]...``, or None where any level is missing or not an object."""
    value: object = record
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def work_arxiv_id(work: dict) -> str | None:
    """The arXiv id from any of the work's locations (landing page or PDF link on arxiv.org)."""
    locations = work.get("locations") if isinstance(work.get("locations"), list) else []
    for location in [work.get("primary_location"), *locations, work.get("best_oa_location")]:
        if isinstance(location, dict):
            for link in (location.get("landing_page_url"), location.get("pdf_url")):
                if found := arxiv_id_from_url(link):
                    return found
    return None


def work_to_paper(work: dict, source: str, line: int) -> Paper | BadRecord:
    """One work as a `Paper`: title, abstract rebuilt, authors, year, venue, DOI / arXiv id / PMID."""
    short_id = str(work.get("id") or "").removeprefix(OPENALEX)
    label = f"work {short_id}" if short_id else "work"
    index = work.get("abstract_inverted_index")
    if not index:
        return BadRecord(file=source, line=line, problem=f"{label} has no abstract (abstract_inverted_index is "
                         f"{'empty' if index == {} else 'null' if index is None else 'missing'})")
    abstract = rebuild_abstract(index)
    if abstract is None:
        return BadRecord(file=source, line=line, problem=f"{label}: abstract_inverted_index is not a map of words "
                         "to lists of positions")
    authorships = work.get("authorships") if isinstance(work.get("authorships"), list) else []
    authors = [clean_text(nested(a, "author", "display_name") or "") for a in authorships]
    return scholarly_paper(
        label=label,
        title=work.get("title") or work.get("display_name"),
        abstract=abstract,
        source=source,
        line=line,
        authors=authors,
        year=work.get("publication_year") or work.get("publication_date"),
        venue=nested(work, "primary_location", "source", "display_name"),
        doi=work.get("doi") or nested(work, "ids", "doi"),
        arxiv_id=work_arxiv_id(work),
        pmid=nested(work, "ids", "pmid"),
        extra={"openalex_id": short_id, "pmcid": str(nested(work, "ids", "pmcid") or "").rsplit("/", 1)[-1]},
    )
