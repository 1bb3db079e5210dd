"""Yes/no questions: the model's verdict on the claim, from the best papers alone, read from its next-token
probabilities (as the list judge reads P(Yes)).

Word overlap cannot see polarity: "X suppresses inflammation" and "X promotes inflammation" share their words. So a
yes/no question is not answered by a generated reply: each of the best papers is shown to the model alone with
the claim, asked whether its abstract supports the claim, contradicts it or neither, and the answer is the
verdict of the paper that takes the clearest stand, shown with the abstract's sentence closest to the claim. A
verdict below the policy's threshold is no verdict: the sentence is quoted as evidence instead. A "yes" is never
shown for a claim its paper contradicts, since that paper's verdict is the answer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from rag.answering.answer import Citation, ClaimVerdict, Source
from rag.answering.citations import CitationChecker
from rag.answering.grading import Grade, Outcome
from rag.answering.judge import JudgePrompt, judge_prompt
from rag.answering.prompt import ABSTAIN_TEXT
from rag.text import content_terms, most_relevant_sentence

VERDICT_SYSTEM = "You judge whether a paper's abstract supports a claim."


class Stance(StrEnum):
    SUPPORTS = "supports"
    CONTRADICTS = "contradicts"
    NEITHER = "neither"


STANCE_WORDS: tuple[tuple[str, ...], ...] = (
    ("Supports", " Supports", "supports", "Support"),
    ("Contradicts", " Contradicts", "contradicts", "Contradict"),
    ("Neither", " Neither", "neither"),
)
STANCES = (Stance.SUPPORTS, Stance.CONTRADICTS, Stance.NEITHER)


def verdict_line(claim: str) -> str:
    return (f"Claim: {claim}\n\nDoes the abstract above support this claim, contradict it, or neither? "
            "Answer Supports, Contradicts or Neither.")


def verdict_prompt(claim: str, source: Source) -> JudgePrompt:
    """Fixed rules, the paper's block (cached), then the claim and the question."""
    return judge_prompt("", source.title, source.abstract, verdict_line(claim), system=VERDICT_SYSTEM)


@dataclass(frozen=True)
class PaperVerdict:
    """One paper's stance on the claim, the model's probability of each stance, and the sentence it rests on."""

    rank: int
    stance: Stance
    probability: float
    probabilities: dict[str, float]
    sentence: str


def judge_claim(claim: str, sources: list[Source], ask: Callable[[JudgePrompt], list[float] | None],
                weight: Callable[[str], float] | None = None) -> list[PaperVerdict] | None:
    """Each source's verdict on the claim (None when the model gives no probabilities)."""
    verdicts = []
    for source in sources:
        shares = ask(verdict_prompt(claim, source))
        if shares is None:
            return None
        best = max(range(len(STANCES)), key=lambda i: shares[i])
        sentence = most_relevant_sentence(source.abstract, claim, weight) or source.title
        verdicts.append(PaperVerdict(source.rank, STANCES[best], shares[best],
                                     {s.value: round(p, 4) for s, p in zip(STANCES, shares, strict=True)}, sentence))
    return verdicts


def deciding(verdicts: list[PaperVerdict], threshold: float) -> PaperVerdict | None:
    """The paper taking the clearest stand (supports or contradicts at ``threshold`` or above), the best-ranked
    on a tie; None when none does."""
    standing = [v for v in verdicts if v.stance != Stance.NEITHER and v.probability >= threshold]
    return max(standing, key=lambda v: (v.probability, -v.rank)) if standing else None


def verdict_text(verdict: PaperVerdict) -> str:
    """``Yes: [1] supports it: “...” [1].`` or ``No: [1] contradicts it: “...” [1].``"""
    word = "Yes" if verdict.stance == Stance.SUPPORTS else "No"
    said = "supports the claim" if verdict.stance == Stance.SUPPORTS else "reports the opposite"
    return f"{word}: [{verdict.rank}] {said}: “{verdict.sentence}” [{verdict.rank}]"


def verdict_citation(verdict: PaperVerdict, checker: CitationChecker) -> Citation:
    source = checker.sources[verdict.rank].source
    return Citation(number=verdict.rank, paper_id=source.paper_id, title=source.title, quote=verdict.sentence)


def verdict_outcome(claim: str, verdicts: list[PaperVerdict], checker: CitationChecker, threshold: float
                    ) -> tuple[Outcome, ClaimVerdict | None]:
    """The answer to a yes/no question: the deciding paper's verdict with the sentence it rests on; without one,
    the sentence of the paper covering the claim best quoted as evidence (when it covers the claim well), else not
    in the collection."""
    decided = deciding(verdicts, threshold)
    if decided is not None:
        outcome = Outcome(Grade.ANSWERED, verdict_text(decided), [verdict_citation(decided, checker)], "verdict",
                          f"[{decided.rank}] {decided.stance.value} the claim (P = {decided.probability:.2f})")
        return outcome, ClaimVerdict(stance=decided.stance.value, probability=round(decided.probability, 4),
                                     number=decided.rank, probabilities=decided.probabilities)
    coverage = checker.coverage_of(set(content_terms(claim)))
    covering = [v for v in verdicts if coverage.get(v.rank, 0.0) >= checker.policy.evidence_coverage]
    reason = f"no paper supports or contradicts the claim with P >= {threshold:g}"
    if not covering:
        return Outcome(Grade.NOT_FOUND, ABSTAIN_TEXT, [], "no verdict", reason + ", and none covers it well"), None
    best = max(covering, key=lambda v: (coverage[v.rank], -v.rank))
    text = (f"Not settled: the model could not tell whether [{best.rank}] supports the claim or not. It says: "
            f"“{best.sentence}” [{best.rank}]")
    return Outcome(Grade.EVIDENCE, text, [verdict_citation(best, checker)], "no verdict",
                   reason + "; the closest sentence is quoted"), None
