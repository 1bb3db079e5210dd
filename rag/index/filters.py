"""What a search may return: papers from one corpus file, of a range of years, by an author.

Both sides of the index filter before ranking, so ``top_k`` matching papers come back: Chroma with a
``where`` clause on each chunk's metadata (``sources``, ``year``, ``author_keys``: works on a Chroma
server too), BM25 with a mask over its rows (`Bm25Index.search`). A paper without a year or authors
never matches a year or author filter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rag.corpus.scholarly import author_keys, author_query, year_of
from rag.errors import QuestionError

YEAR_MIN, YEAR_MAX = 1500, 2099


def chunk_filter_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    """The filter keys a paper's chunks carry, from its metadata: ``year`` as an int and ``author_keys``
    (`rag.corpus.scholarly.name_keys` of every author); a key is left out when the paper has no value."""
    keys: dict[str, Any] = {}
    if (year := year_of(metadata.get("year"))) is not None:
        keys["year"] = year
    if found := author_keys(metadata.get("authors")):
        keys["author_keys"] = found
    return keys


def check_year(name: str, value: object) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not YEAR_MIN <= value <= YEAR_MAX:
        raise QuestionError(f"{name} must be a year from {YEAR_MIN} to {YEAR_MAX}, not {value!r}")
    return value


@dataclass(frozen=True)
class PaperFilter:
    """Conditions every returned paper meets; empty (false) when there are none."""

    source: str | None = None
    year_from: int | None = None
    year_to: int | None = None
    author: str | None = None  # an `author_query` key

    @classmethod
    def of(cls, source: str | None = None, year_from: int | None = None, year_to: int | None = None,
           author: str | None = None) -> PaperFilter:
        """A filter from the options of `rag.ask`; `QuestionError` for a year out of range, a reversed range
        or an author without a letter or digit."""
        year_from, year_to = check_year("year_from", year_from), check_year("year_to", year_to)
        if year_from is not None and year_to is not None and year_from > year_to:
            raise QuestionError(f"year_from ({year_from}) is after year_to ({year_to})")
        key = None
        if author is not None and str(author).strip():
            key = author_query(author)
            if not key:
                raise QuestionError(f"the author filter {author!r} has no letters or digits")
        return cls(source or None, year_from, year_to, key)

    def __bool__(self) -> bool:
        return any(value is not None for value in (self.source, self.year_from, self.year_to, self.author))

    def where(self) -> dict[str, Any] | None:
        """The Chroma ``where`` clause over chunk metadata, or None."""
        clauses: list[dict[str, Any]] = []
        if self.source:
            clauses.append({"sources": {"$contains": self.source}})
        if self.year_from is not None:
            clauses.append({"year": {"$gte": self.year_from}})
        if self.year_to is not None:
            clauses.append({"year": {"$lte": self.year_to}})
        if self.author:
            clauses.append({"author_keys": {"$contains": self.author}})
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}
