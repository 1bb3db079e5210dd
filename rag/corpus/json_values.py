"""JSON decoded within limits. Python's `json` takes any number (and raises ValueError past 4,300 digits),
``NaN`` and ``Infinity``, and raises RecursionError on deep nesting. Here a number over the limit (or not
finite, or not JSON) is noted and read as 0, so the record it is in can be decoded to its end and the
records after it still read; `Decoder.problem` then names it, with the record's nesting depth and each
field's size measured before the record is read. Invalid JSON, or nesting too deep to decode, is a
`BadJson` at its offset.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from contextlib import contextmanager

from rag.corpus.limits import size_problem
from rag.settings import CorpusSettings


class BadJson(Exception):
    """JSON that cannot be read within the limits: ``offset`` into the text, ``problem`` to report."""

    def __init__(self, offset: int, problem: str):
        super().__init__(problem)
        self.offset, self.problem = offset, problem


class Decoder:
    """Strict JSON within ``limits``: numbers of at most ``max_json_number_chars`` characters and finite, no
    ``NaN`` or ``Infinity``, nesting at most ``max_json_depth`` deep; every failure is a `BadJson`."""

    def __init__(self, limits: CorpusSettings):
        self.limits = limits
        self.refused: str | None = None  # what the value decoded last holds that the limits refuse
        self.json = json.JSONDecoder(parse_int=lambda text: self.number(text, int),
                                     parse_float=lambda text: self.number(text, float),
                                     parse_constant=self.constant)

    def number(self, text: str, kind: type) -> int | float:
        longest = self.limits.max_json_number_chars
        if len(text) > longest:
            return self.refuse(f"a number is written with {len(text):,} characters, over the limit of {longest:,} "
                               "(RAG_MAX_JSON_NUMBER_CHARS)")
        value = kind(text)
        return self.refuse(f"the number {text} is too large to store") if kind is float and math.isinf(value) \
            else value

    def constant(self, name: str) -> int:
        return self.refuse(f"{name} is not a JSON number")

    def refuse(self, problem: str) -> int:
        self.refused = self.refused or problem
        return 0

    def too_deep(self) -> str:
        return f"JSON nested more than {self.limits.max_json_depth} levels deep (RAG_MAX_JSON_DEPTH)"

    @contextmanager
    def reading(self, pos: int) -> Iterator[None]:
        """Turns what decoding JSON at ``pos`` may raise into `BadJson`."""
        try:
            yield
        except json.JSONDecodeError as error:
            raise BadJson(error.pos, f"invalid JSON: {error.msg.removesuffix(' at')} at column {error.colno}") \
                from None
        except RecursionError:
            raise BadJson(pos, self.too_deep()) from None

    def at(self, text: str, pos: int) -> tuple[object, int]:
        """``(value, end)`` of the JSON value starting at ``pos``."""
        self.refused = None
        with self.reading(pos):
            return self.json.raw_decode(text, pos)

    def whole(self, text: str) -> object:
        """The one JSON value ``text`` holds (white space around it allowed)."""
        self.refused = None
        with self.reading(0):
            return self.json.decode(text)

    def problem(self, record: object) -> str | None:
        """Why the record decoded last is over a limit (a number, nesting depth, a field's size), or None."""
        if self.refused:
            return self.refused
        if depth_of(record, self.limits.max_json_depth) > self.limits.max_json_depth:
            return self.too_deep()
        if isinstance(record, dict):
            return next(filter(None, (size_problem(str(key), value, self.limits) for key, value in record.items())),
                        None)
        return None


def depth_of(value: object, limit: int) -> int:
    """How deeply objects and arrays nest in ``value`` (a scalar 0, ``[]`` 1), counted up to ``limit + 1``."""
    deepest, stack = 0, [(value, 1)]
    while stack and deepest <= limit:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest
