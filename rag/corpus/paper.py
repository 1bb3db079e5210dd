"""The `Paper` record every loader produces, text cleaning, and stable ids derived from titles."""

from __future__ import annotations

import hashlib
import re
import unicodedata

from pydantic import BaseModel, Field

CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")  # C0 and C1, but tab and line ends


def clean_text(value: object) -> str:
    """Text of a field with control characters (C0 and C1) removed and whitespace (newlines too) collapsed."""
    return " ".join(CONTROL_CHARS.sub(" ", str(value)).split())


def normalize_title(title: str) -> str:
    """Lower-case, accent-folded, punctuation-free form of a title, for matching and ids."""
    text = unicodedata.normalize("NFKD", title).casefold()
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return " ".join(re.findall(r"\w+", text))


def paper_id_from_title(title: str) -> str:
    """A stable id for a paper without one: a short hash of its normalized title."""
    digest = hashlib.sha1(normalize_title(title).encode("utf-8")).hexdigest()
    return f"p-{digest[:16]}"


class Paper(BaseModel):
    """One paper: id, title, abstract and free-form metadata (url, authors, sources, ...)."""

    id: str
    title: str
    abstract: str
    metadata: dict[str, object] = Field(default_factory=dict)

    @property
    def sources(self) -> list[str]:
        """The corpus files this paper was read from."""
        return list(self.metadata.get("sources", []))  # type: ignore[arg-type]

    def content_hash(self) -> str:
        """Changes whenever the title or abstract changes; used to detect updates on re-ingest."""
        text = f"{self.title}\n{self.abstract}".encode()
        return hashlib.sha256(text).hexdigest()[:16]


class BadRecord(BaseModel):
    """A record a loader could not read: where it is and what is wrong."""

    file: str
    line: int
    problem: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.problem}"
