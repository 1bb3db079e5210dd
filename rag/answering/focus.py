"""How many retrieved papers the model reads: those whose fused score is close to the best one's, or all of them
for a question about several papers (which papers, a comparison). A lookup is usually answered by one or two
papers, and every paper left out is about 170 tokens the model does not read."""

from __future__ import annotations

from rag.answering.profile import QuestionProfile
from rag.answering.prompt import rank_weight
from rag.retrieval import RetrievedPaper


def focused(papers: list[RetrievedPaper], profile: QuestionProfile, gap: float) -> list[RetrievedPaper]:
    """The best papers: every one whose fused score is within ``gap`` of the best (at least the best one), or all
    of them when the question asks about several papers (a list, a comparison)."""
    if not papers or profile.about_several:
        return papers
    best = papers[0].score
    return [p for p in papers if p.score >= best - gap] or papers[:1]


def context_share(kept: int, retrieved: int) -> float:
    """The share of the abstracts' token budget that ``kept`` of ``retrieved`` papers would get (`rank_weight`, as
    `rag.answering.prompt.fit_sources` shares it), so fewer papers mean fewer tokens to read."""
    weights = [rank_weight(rank) for rank in range(1, max(kept, retrieved) + 1)]
    return sum(weights[:kept]) / sum(weights)
