"""Fitting sources into the prompt: keep each abstract's sentences most relevant to the question."""

from __future__ import annotations

from collections.abc import Callable
from math import sqrt

from rag.answering.models import Source
from rag.text import content_terms, split_sentences


def compress_abstract(abstract: str, question_terms: set[str], budget: int, count: Callable[[str], int]) -> str:
    """The abstract's sentences sharing most terms with the question (earlier ones first on ties), in
    their original order, within ``budget`` tokens; the whole abstract if it already fits."""
    if count(abstract) <= budget:
        return abstract
    sentences = split_sentences(abstract)
    overlap = [len(question_terms & set(content_terms(s))) for s in sentences]
    order = sorted(range(len(sentences)), key=lambda i: (-overlap[i], i))
    chosen: list[int] = []
    used = 0
    for i in order:
        cost = count(sentences[i])
        if used + cost > budget and chosen:
            continue
        chosen.append(i)
        used += cost
    return " ".join(sentences[i] for i in sorted(chosen))


def fit_sources(sources: list[Source], question: str, budget: int, count: Callable[[str], int]) -> list[Source]:
    """Copies of the sources whose titles and abstracts together fit ``budget`` tokens. Higher-ranked
    sources get a larger share (weight 1/sqrt(rank)); titles are always kept whole."""
    if not sources:
        return []
    terms = set(content_terms(question))
    abstract_budget = budget - sum(count(s.title) for s in sources)
    weights = [1 / sqrt(s.rank) for s in sources]
    shares = [max(40, int(abstract_budget * w / sum(weights))) for w in weights]
    return [
        s.model_copy(update={"abstract": compress_abstract(s.abstract, terms, share, count)})
        for s, share in zip(sources, shares, strict=True)
    ]
