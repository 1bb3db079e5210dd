"""Deciding that the collection does not answer a question: before the LLM, and from its reply."""

from __future__ import annotations

import re
from collections.abc import Callable

from rag.retrieval import RetrievedPaper
from rag.text import split_sentences

REFUSAL = re.compile(
    r"(collection|sources?|abstracts?|papers?|context)\s+(does|do)\s+not\s+(answer|contain|mention|provide|say)"
    r"|not\s+(enough|sufficient)\s+information|cannot\s+(be\s+)?answer|can't\s+answer|no\s+information\s+(about|on)"
    r"|(is|are)\s+not\s+(mentioned|discussed|covered|addressed)|i\s+(do\s+not|don't)\s+know",
    re.IGNORECASE,
)


def model_refused(text: str) -> bool:
    """True when the reply opens by saying the sources do not answer."""
    sentences = split_sentences(text)
    return bool(sentences and REFUSAL.search(sentences[0]))


def without_refusals(text: str) -> str:
    """The reply without sentences saying the sources do not answer (small models append one to an answer)."""
    return " ".join(s for s in split_sentences(text) if not REFUSAL.search(s))


def retrieval_is_weak(question: str, papers: list[RetrievedPaper], min_coverage: float,
                      weight: Callable[[str], float] | None = None, min_similarity: float | None = None) -> bool:
    """True when no retrieved paper is on topic: none covers ``min_coverage`` of the question's (IDF-weighted)
    terms, and none is at least ``min_similarity`` close to it by embedding (which sees a question paraphrased
    away from the abstract's words, or misspelt; None = words alone)."""
    if not papers:
        return True
    if min_similarity is not None and any((p.dense_similarity or 0.0) >= min_similarity for p in papers):
        return False
    return max(p.term_coverage(question, weight) for p in papers) < min_coverage
