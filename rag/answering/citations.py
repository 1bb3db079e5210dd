"""Checking an LLM answer's citations against the abstracts it was given.

Each sentence is cut into claims, one per group of ``[n]`` markers (the text since the previous
group). A marker stays only if it names a provided source that supports its claim: enough of the
claim's content words occur in that source's title and abstract. A wrong marker is replaced by the
source that does support the claim, or removed; an unmarked claim that one source clearly supports
gets that source. Every kept citation carries the abstract sentence that best supports it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.answering.models import Citation, Source
from rag.text import content_terms, split_sentences

MARKER_GROUP = re.compile(
    r"\s*\[(?:(?:sources?|papers?|refs?)\s*)?(\d+(?:\s*(?:[,;]|and|-|–)\s*(?:(?:sources?|papers?)\s*)?\d+)*)\]",
    re.IGNORECASE,
)
MIN_CLAIM_TERMS = 3
CLEAR_MARGIN = 0.15


@dataclass
class SourceText:
    """A source prepared for matching: content terms of the whole paper and of each sentence."""

    source: Source
    terms: set[str]
    sentences: list[tuple[str, set[str]]]

    @classmethod
    def of(cls, source: Source) -> SourceText:
        sentences = [(s, set(content_terms(s))) for s in split_sentences(source.abstract)]
        return cls(source, set(content_terms(source.title)).union(*(t for _, t in sentences)), sentences)

    def support(self, claim: set[str]) -> float:
        """Share of the claim's terms found in this paper's title or abstract."""
        return len(claim & self.terms) / len(claim) if claim else 0.0

    def quote(self, claim: set[str]) -> str:
        """The abstract sentence sharing the most terms with the claim."""
        best = max(self.sentences, key=lambda item: len(claim & item[1]), default=("", set()))
        return best[0]


def parse_numbers(group: str) -> list[int]:
    """``"1, 3-4"`` -> ``[1, 3, 4]``."""
    numbers: list[int] = []
    for part in re.split(r"\s*(?:[,;]|and)\s*", group):
        bounds = [int(n) for n in re.findall(r"\d+", part)]
        if len(bounds) == 2 and re.search(r"[-–]", part) and bounds[0] <= bounds[1] <= bounds[0] + 20:
            numbers.extend(range(bounds[0], bounds[1] + 1))
        else:
            numbers.extend(bounds)
    return numbers


@dataclass
class CheckedAnswer:
    text: str
    citations: list[Citation]
    supported_claims: int
    claims: int


class CitationChecker:
    """Validates and repairs ``[n]`` markers against numbered sources (numbers are source ranks)."""

    def __init__(self, sources: list[Source], threshold: float):
        self.sources = {s.rank: SourceText.of(s) for s in sources}
        self.threshold = threshold

    def best_source(self, claim: set[str]) -> tuple[int | None, float, float]:
        """The best supporting source number, its support, and the runner-up's support."""
        ranked = sorted(((st.support(claim), n) for n, st in self.sources.items()), reverse=True)
        if not ranked:
            return None, 0.0, 0.0
        runner_up = ranked[1][0] if len(ranked) > 1 else 0.0
        return ranked[0][1], ranked[0][0], runner_up

    def check_markers(self, numbers: list[int], claim: set[str]) -> list[int]:
        """Keep the markers whose source supports the claim; otherwise substitute the one that does."""
        valid = [n for n in dict.fromkeys(numbers) if n in self.sources]
        if len(claim) < MIN_CLAIM_TERMS:
            return valid  # too little content to judge; in-range markers stand
        kept = [n for n in valid if self.sources[n].support(claim) >= self.threshold]
        if len(valid) > 1:
            # a claim drawing on several papers: each must support part of it, together enough
            partial = [n for n in valid if self.sources[n].support(claim) >= self.threshold / 2]
            union = set().union(*(claim & self.sources[n].terms for n in partial))
            if len(union) / len(claim) >= self.threshold:
                kept = partial
        if not kept:
            best, support, _ = self.best_source(claim)
            if best is not None and support >= self.threshold:
                kept = [best]
        return kept

    def check(self, answer: str) -> CheckedAnswer:
        """The answer with repaired markers, and one `Citation` per cited source (first use's quote)."""
        quotes: dict[int, str] = {}
        sentences_out: list[str] = []
        claims = supported = 0
        for sentence in split_sentences(answer) or [answer.strip()]:
            sentence_terms = set(content_terms(MARKER_GROUP.sub(" ", sentence)))
            if not sentence_terms and MARKER_GROUP.search(sentence):
                continue  # a stray marker with no claim of its own, e.g. a trailing "[1]"
            pieces: list[str] = []
            position = 0
            for match in MARKER_GROUP.finditer(sentence):
                text = sentence[position : match.start()]
                claim = set(content_terms(text))
                if len(claim) < MIN_CLAIM_TERMS:
                    claim = sentence_terms
                kept = self.check_markers(parse_numbers(match.group(1)), claim)
                claims += 1
                supported += bool(kept)
                for n in kept:
                    quotes.setdefault(n, self.sources[n].quote(claim))
                pieces.append(text + "".join(f" [{n}]" for n in kept))
                position = match.end()
            tail = sentence[position:]
            tail_claim = set(content_terms(tail))
            if len(tail_claim) >= MIN_CLAIM_TERMS + 1:
                claims += 1
                best, support, runner_up = self.best_source(tail_claim)
                if best is not None and support >= self.threshold:
                    supported += 1
                    if not pieces and support >= self.threshold + CLEAR_MARGIN and support > runner_up:
                        quotes.setdefault(best, self.sources[best].quote(tail_claim))
                        tail = attach_marker(tail, best)
            pieces.append(tail)
            sentences_out.append(re.sub(r"\s+([.,;:!?])", r"\1", "".join(pieces)).strip())
        citations = [
            Citation(number=n, paper_id=self.sources[n].source.paper_id, title=self.sources[n].source.title,
                     quote=quote)
            for n, quote in quotes.items()
        ]
        return CheckedAnswer(" ".join(s for s in sentences_out if s), citations, supported, claims)


def attach_marker(text: str, number: int) -> str:
    """Put ``[n]`` before the sentence's final punctuation."""
    stripped = text.rstrip()
    if stripped and stripped[-1] in ".!?":
        return f"{stripped[:-1]} [{number}]{stripped[-1]}"
    return f"{stripped} [{number}]"
