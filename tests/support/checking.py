"""Building a citation checker the way the tests describe it: sources, a support threshold, a question."""

from __future__ import annotations

from collections.abc import Callable

from rag.answering.answer import Source
from rag.answering.citations import CitationChecker
from rag.answering.policy import AnswerPolicy
from rag.answering.profile import profile_question


def make_checker(sources: list[Source], threshold: float = 0.5, *, question: str = "",
                 weight: Callable[[str], float] | None = None, on_topic: float = 0.0,
                 judge: Callable[[int], bool | None] | None = None, forced: bool = False) -> CitationChecker:
    """A checker over ``sources`` for ``question`` (none: no question-relative rule applies), on-topic rule off
    unless ``on_topic`` is given; ``forced``: the reply was opened for the model (a second look)."""
    policy = AnswerPolicy(support=threshold, on_topic=on_topic)
    return CitationChecker(sources, profile_question(question), policy, weight=weight, judge=judge, forced=forced)
