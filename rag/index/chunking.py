"""Sentence-aligned, overlapping chunks of an abstract that fit the embedding model's window."""

from __future__ import annotations

from collections.abc import Callable

from rag.text import split_sentences

TokenCounter = Callable[[str], int]


def embed_text(title: str, chunk: str) -> str:
    """The exact text embedded for a chunk: the title travels with every chunk."""
    return f"title: {title}\n\n{chunk}"


def split_long_sentence(sentence: str, budget: int, count: TokenCounter) -> list[str]:
    """Cut a sentence longer than the budget into word runs that fit."""
    parts: list[str] = []
    words: list[str] = []
    for word in sentence.split():
        if words and count(" ".join([*words, word])) > budget:
            parts.append(" ".join(words))
            words = []
        words.append(word)
    if words:
        parts.append(" ".join(words))
    return parts


def chunk_abstract(
    title: str, abstract: str, *, max_tokens: int, overlap_sentences: int, count: TokenCounter
) -> list[str]:
    """Pack whole sentences into chunks of at most ``max_tokens`` (title included).

    Neighbouring chunks share ``overlap_sentences`` sentences so a claim spanning a boundary
    is still embedded whole somewhere. An abstract that fits is returned as one chunk.
    """
    if count(embed_text(title, abstract)) <= max_tokens:
        return [abstract]
    budget = max(16, max_tokens - count(embed_text(title, "")))
    sentences: list[str] = []
    for sentence in split_sentences(abstract):
        sentences.extend(split_long_sentence(sentence, budget, count) if count(sentence) > budget else [sentence])

    chunks: list[str] = []
    start = 0
    while start < len(sentences):
        end = start + 1
        while end < len(sentences) and count(" ".join(sentences[start : end + 1])) <= budget:
            end += 1
        chunks.append(" ".join(sentences[start:end]))
        if end >= len(sentences):
            break
        start = max(start + 1, end - overlap_sentences)
    return chunks
