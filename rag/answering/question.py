"""Checking and cleaning a question before it is searched for or put in a prompt."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from rag.errors import QuestionError
from rag.text import content_terms

ANSI_ESCAPE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?")
WORD = re.compile(r"\w", re.UNICODE)
# "How much faster ...?", "What top-1 accuracy ...?", "By how many points ...?": the answer is a figure
ASKS_FOR_FIGURE = re.compile(
    r"\bhow\s+(?:much|many|fast|large|big|long|often)\b|\bby\s+how\b|\b(?:what|which)\s+(?:[\w-]+\s+){0,3}?"
    r"(?:scores?|accuracy|error|perplexity|speed|size|rates?|ranks?|values?|numbers?|percentage|fid|bleu|auroc|m?ap|miou|mrr"
    r"|latency|reduction|improvement|gains?)\b", re.IGNORECASE)
# "Which paper ...?", "What recent works ...?": the answer names papers, whatever else the question mentions
ASKS_FOR_PAPERS = re.compile(r"^\W*(?:which|what)\s+(?:[\w-]+\s+){0,3}?(?:papers?|works?|stud(?:y|ies)|articles?"
                             r"|publications?)\b", re.IGNORECASE)
FOLLOW_UP_WORDS = re.compile(
    r"\b(it|its|they|them|their|this|that|these|those|the (paper|method|model|approach|authors?|study))\b",
    re.IGNORECASE,
)


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


def asks_for_figure(question: str) -> bool:
    """Whether the question asks for a number: how much, how many, what accuracy / score / rank / value ..."""
    return bool(ASKS_FOR_FIGURE.search(question))


def answer_needs_figure(question: str) -> bool:
    """Whether an answer to the question must state a number: it asks for one, and not for papers ("Which paper
    reports how much ...?" is answered by a paper)."""
    return asks_for_figure(question) and not ASKS_FOR_PAPERS.match(question)


@dataclass(frozen=True)
class Turn:
    """One earlier chat message, for follow-up questions."""

    role: str
    content: str


def fold_history(question: str, history: Sequence[Turn | dict] | None, max_chars: int | None = None) -> str:
    """The retrieval query: a follow-up ("what data did it use?") is joined to the previous question
    (cut to ``max_chars`` characters, like any question)."""
    if not history:
        return question
    turns = [t if isinstance(t, Turn) else Turn(t["role"], t["content"]) for t in history]
    previous = [" ".join(str(t.content).split()) for t in turns if t.role == "user" and str(t.content).strip()]
    if not previous:
        return question
    if FOLLOW_UP_WORDS.search(question) or len(content_terms(question)) < 3:
        earlier = truncate(previous[-1], max_chars) if max_chars else previous[-1]
        return f"{earlier} {question}"
    return question
