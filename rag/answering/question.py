"""Checking and cleaning a question before it is searched for or put in a prompt."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from rag.errors import QuestionError

ANSI_ESCAPE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?")
WORD = re.compile(r"\w", re.UNICODE)


def strip_controls(text: str) -> str:
    """``text`` without terminal escape sequences and control/format characters (whitespace becomes a space)."""
    text = ANSI_ESCAPE.sub(" ", text)
    return "".join(
        " " if ch.isspace() else ch
        for ch in text
        if ch.isspace() or unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Cn")
    )


def truncate(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, at a word boundary when one is near the end."""
    if len(text) <= limit:
        return text
    cut = text[:limit]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit * 0.8 else cut).rstrip()


def clean_question(question: str, max_chars: int) -> tuple[str, list[str]]:
    """The question as it will be used, and notices for the reader (e.g. that it was shortened).

    Control characters and terminal escapes are removed, whitespace is collapsed, and a question
    longer than ``max_chars`` characters (``RAG_MAX_QUESTION_CHARS``) is cut there. Raises
    `QuestionError` for a question that is empty or has no letters or digits.
    """
    if not isinstance(question, str):
        raise QuestionError(f"the question must be text, not {type(question).__name__}")
    text = " ".join(strip_controls(question).split())
    if not text:
        raise QuestionError("the question is empty")
    if not WORD.search(text):
        raise QuestionError("the question has no words in it (only punctuation or symbols)")
    notices: list[str] = []
    if len(text) > max_chars:
        notices.append(
            f"The question was {len(text):,} characters long; only its first {max_chars:,} were used "
            "(RAG_MAX_QUESTION_CHARS)."
        )
        text = truncate(text, max_chars)
    return text, notices


@dataclass(frozen=True)
class Turn:
    """One earlier chat message, for follow-up questions; an answer's ``papers`` are the ids of the papers it
    cited (a follow-up such as "which of them ...?" chooses among them)."""

    role: str
    content: str
    papers: tuple[str, ...] = ()
