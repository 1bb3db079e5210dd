"""The two sides of a comparison, each matched to the source the retriever ranks first for the side's own words."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rag.answering.answer import Source
from rag.answering.profile import QuestionProfile


@dataclass(frozen=True)
class Side:
    text: str  # as the question names or describes it
    rank: int  # the source the retriever ranks first for it


def comparison_sides(profile: QuestionProfile, sources: list[Source],
                     ranked: Callable[[str], list[str]]) -> list[Side]:
    """Each side of the comparison with its source: the first of ``sources`` among the paper ids ``ranked`` gives
    for the side's text (the hybrid retriever, so a side described in other words than its abstract's still finds
    its paper). None when the question does not tell its sides apart, no source is among a side's papers, or both
    sides come down to one paper."""
    if profile.sides is None or not sources:
        return []
    ranks = {s.paper_id: s.rank for s in sources}
    sides = []
    for text in profile.sides:
        rank = next((ranks[paper_id] for paper_id in ranked(text) if paper_id in ranks), None)
        if rank is None:
            return []
        sides.append(Side(text, rank))
    return sides if sides[0].rank != sides[1].rank else []
