"""What one record may hold, checked for every record of every reader (`checked`, applied by
`rag.corpus.iter_records`) before anything is chunked, embedded or stored.

* Sizes (`CorpusSettings`): the title, the abstract, and every other field (a list counts whole). A record
  over a limit is a bad record naming the field, its size, the limit and its setting; it is never cut.
* Text: valid Unicode (no lone surrogates, which the tokenizer and Chroma refuse) and no control
  characters (readers clean those from titles and abstracts; a field name or an identifier may still
  hold one).
* Names: the source file's name is stored and shown `printable` (control characters escaped), in the
  paper's sources and in every bad record, whose problem text is escaped the same way.
"""

from __future__ import annotations

import re

from rag.corpus.paper import BadRecord, Paper
from rag.settings import CorpusSettings
from rag.text import printable

DEFAULT_LIMITS = CorpusSettings()
SURROGATE = re.compile("[\ud800-\udfff]")
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
BOOKKEEPING = ("sources", "line")  # metadata every reader sets itself


def field_limit(name: str, limits: CorpusSettings) -> tuple[int, str]:
    """``(limit, setting name)`` for a field: the title and abstract have their own, others share one."""
    if name in ("title", "abstract"):
        return getattr(limits, f"max_{name}_chars"), f"max_{name}_chars"
    return limits.max_field_chars, "max_field_chars"


def over_limit(what: str, size: int, limit: int, setting: str) -> str:
    """The problem text for a field over its limit."""
    return f"{what} is {size:,} characters long, over the limit of {limit:,} (RAG_{setting.upper()})"


def size_of(value: object) -> int:
    """Characters in a value: a text's length; a list's or object's texts (keys too) and numbers added up."""
    size, stack = 0, [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
        elif item is not None:
            size += len(item) if isinstance(item, str) else len(str(item))
    return size


def size_problem(name: str, value: object, limits: CorpusSettings) -> str | None:
    """The problem of a field over its limit, or None."""
    limit, setting = field_limit(name, limits)
    size = size_of(value)
    return over_limit(name if name in ("title", "abstract") else f"field {name!r}", size, limit, setting) \
        if size > limit else None


def text_problem(where: str, text: str) -> str | None:
    """The problem of text the embedder or the store would refuse (a lone surrogate, a control character)."""
    if found := SURROGATE.search(text):
        return f"{where} is not valid Unicode (a lone surrogate {found.group()!r} at character {found.start() + 1})"
    if found := CONTROL.search(text):
        return f"{where} holds a control character ({found.group()!r} at character {found.start() + 1})"
    return None


def texts(paper: Paper) -> list[tuple[str, str]]:
    """``(where, text)`` for every text of a paper: id, title, abstract, metadata names and text values."""
    found = [("the id", paper.id), ("the title", paper.title), ("the abstract", paper.abstract)]
    for key, value in paper.metadata.items():
        found.append(("a field name", key))
        items = value if isinstance(value, list) else [value]
        found.extend((f"field {key!r}", item) for item in items if isinstance(item, str))
    return found


def paper_problem(paper: Paper, limits: CorpusSettings) -> str | None:
    """Why a paper cannot be stored as read, or None."""
    fields = {"id": paper.id, "title": paper.title, "abstract": paper.abstract,
              **{key: value for key, value in paper.metadata.items() if key not in BOOKKEEPING}}
    for name, value in fields.items():
        if problem := size_problem(name, value, limits):
            return problem
    return next(filter(None, (text_problem(where, text) for where, text in texts(paper))), None)


def checked(item: Paper | BadRecord, source: str, limits: CorpusSettings) -> Paper | BadRecord:
    """A reader's record with its file named ``source`` (already `printable`): a bad record with its problem
    escaped, a paper as it is, or a bad record when the paper breaks a limit (`paper_problem`)."""
    if isinstance(item, BadRecord):
        return BadRecord(file=source, line=item.line, problem=printable(item.problem))
    item.metadata["sources"] = [source]
    if problem := paper_problem(item, limits):
        return BadRecord(file=source, line=int(item.metadata.get("line") or 1), problem=printable(problem))
    return item
