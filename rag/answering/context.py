"""Fitting sources into the prompt: keep each abstract's sentences most relevant to the question."""

from __future__ import annotations

from collections.abc import Callable

from rag.answering.models import Source
from rag.text import content_terms, split_sentences


def compress_abstract(abstract: str, question_terms: set[str], budget: int, count: Callable[[str], int]) -> str:
    """The abstract's first sentence plus its sentences sharing most terms with the question, in
    their original order, within ``budget`` tokens; the whole abstract if it already fits."""
    if count(abstract) <= budget:
        return abstract
    sentences = split_sentences(abstract)
    overlap = [len(question_terms & set(content_terms(s))) for s in sentences]
    order = [0, *sorted(range(1, len(sentences)), key=lambda i: (-overlap[i], i))]
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
    """Copies of the sources whose abstracts together fit ``budget`` tokens (titles always kept)."""
    if not sources:
        return []
    terms = set(content_terms(question))
    per_source = max(40, budget // len(sources) - max(count(s.title) for s in sources))
    return [s.model_copy(update={"abstract": compress_abstract(s.abstract, terms, per_source, count)}) for s in sources]
