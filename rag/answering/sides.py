"""The two sides of a comparison, each matched to the source that covers its words best."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rag.answering.answer import Source
from rag.answering.profile import QuestionProfile
from rag.text import content_terms


@dataclass(frozen=True)
class Side:
    text: str  # as the question names or describes it
    rank: int  # the source that covers it best
    coverage: float


def coverage(text: str, source: Source, weight: Callable[[str], float]) -> float:
    """IDF-weighted share of the text's content terms in the source's title and abstract."""
    wanted = set(content_terms(text))
    total = sum(weight(t) for t in wanted)
    found = wanted & set(content_terms(f"{source.title} {source.abstract}"))
    return sum(weight(t) for t in found) / total if total else 0.0


def comparison_sides(profile: QuestionProfile, sources: list[Source], weight: Callable[[str], float],
                     min_coverage: float) -> list[Side]:
    """Each side of the comparison with its best source; none when the question does not tell its sides apart, a
    side is covered by no source to ``min_coverage``, or both sides come down to one paper."""
    if profile.sides is None or not sources:
        return []
    sides = []
    for text in profile.sides:
        scored = [(coverage(text, s, weight), -s.rank, s.rank) for s in sources]
        best, _, rank = max(scored)
        if best < min_coverage:
            return []
        sides.append(Side(text, rank, best))
    return sides if sides[0].rank != sides[1].rank else []
