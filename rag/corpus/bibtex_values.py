"""BibTeX field values evaluated as BibTeX does: ``{...}``, ``"..."`` and numbers as text, ``@string`` macro
names replaced by their values, parts joined by ``#`` (``abstract = intro # " with differential privacy"``).

bibtexparser 2.1's `ResolveStringReferencesMiddleware` replaces a value only when it is one macro name
whole, and its `RemoveEnclosingMiddleware` breaks ``#`` expressions; concatenation support is an open
pull request upstream (python-bibtexparser #565). `ExpandValues` replaces both. As in BibTeX, a macro is
known from its ``@string`` on, and a name no ``@string`` defined (``month = jan``) stays as written.

Expansion is bounded: a value that macros would grow past ``limits.max_field_chars`` (a macro holding ten
copies of the one before, level after level) is not built; a field over its own limit (title, abstract,
others) is not kept. Such an entry carries the problem in its parser metadata (`PROBLEM`) and its long
fields are emptied, so nothing expensive (LaTeX decoding) is done with them.
"""

from __future__ import annotations

import re

from bibtexparser.library import Library
from bibtexparser.middlewares.middleware import LibraryMiddleware
from bibtexparser.model import Entry, String

from rag.corpus.limits import field_limit, over_limit
from rag.settings import CorpusSettings

PROBLEM = "rag_problem"
NAME = re.compile(r"[^\s\"#%'(),={}]+")  # a macro name, or a number


class TooLong(Exception):
    """A value grew past the limit while it was being built."""


def enclosed(value: str, start: int) -> int:
    """The end of the ``{...}`` or ``"..."`` part starting at ``start`` (braces nest; a quote inside braces is
    text); -1 when it is never closed."""
    closing = "}" if value[start] == "{" else '"'
    depth = 0
    for pos in range(start + 1, len(value)):
        char = value[pos]
        if char == closing and depth == 0:
            return pos + 1
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth < 0:
                return -1
    return -1


def evaluate(value: str, macros: dict[str, str | None], cap: int) -> str | None:
    """The text of a BibTeX value expression, or None when it is not one (then it is kept as written).

    A macro that is too long (None in ``macros``), or macros making the result longer than ``cap`` characters,
    raise `TooLong`.
    """
    parts: list[str] = []
    size = pos = 0
    expanded = False
    while True:
        while pos < len(value) and value[pos].isspace():
            pos += 1
        if pos < len(value) and value[pos] in '{"':
            end = enclosed(value, pos)
            if end < 0:
                return None
            part = value[pos + 1 : end - 1]
        elif match := NAME.match(value, pos):
            end = match.end()
            name = match.group().casefold()
            expanded = expanded or name in macros
            part = macros[name] if name in macros else match.group()
            if part is None:
                raise TooLong
        else:
            return None
        size += len(part)
        if size > cap and expanded:
            raise TooLong
        parts.append(part)
        pos = end
        while pos < len(value) and value[pos].isspace():
            pos += 1
        if pos == len(value):
            return "".join(parts)
        if value[pos] != "#":
            return None
        pos += 1


class ExpandValues(LibraryMiddleware):
    """Evaluates every ``@string`` (in file order, into ``macros``, shared by the pieces of one file) and every
    entry field; marks entries with a field over its limit (see the module docstring)."""

    def __init__(self, macros: dict[str, str | None], limits: CorpusSettings):
        super().__init__(allow_inplace_modification=True)
        self.macros = macros
        self.limits = limits

    @classmethod
    def metadata_key(cls) -> str:
        return "rag_expand_values"

    def transform(self, library: Library) -> Library:
        cap = self.limits.max_field_chars
        for block in library.blocks:
            if isinstance(block, String) and isinstance(block.value, str):
                try:
                    self.macros[block.key.casefold()] = evaluate(block.value, self.macros, cap)
                except TooLong:
                    self.macros[block.key.casefold()] = None
            elif isinstance(block, Entry):
                self.expand_entry(block, cap)
        return library

    def expand_entry(self, entry: Entry, cap: int) -> None:
        for field in entry.fields:
            if not isinstance(field.value, str):
                continue
            name = field.key.casefold()
            limit, setting = field_limit(name, self.limits)
            try:
                text = evaluate(field.value, self.macros, cap)
            except TooLong:
                problem = f"field {name!r} expands through @string macros to over {cap:,} characters " \
                          "(RAG_MAX_FIELD_CHARS)"
            else:
                text = field.value if text is None else text
                problem = over_limit(f"field {name!r}", len(text), limit, setting) if len(text) > limit else None
            if problem:
                entry.parser_metadata.setdefault(PROBLEM, problem)
                text = ""
            field.value = text
