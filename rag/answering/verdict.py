"""Yes/no questions: the model's verdict on the claim, from the best papers alone, read from its next-token
probabilities (as the list judge reads P(Yes)).

Word overlap cannot see polarity: "X suppresses inflammation" and "X promotes inflammation" share their words. So a
yes/no question is not answered by a generated reply: each of the best papers is shown to the model alone, once
with the claim and once with its negation ("It is not true that ..."), and asked whether its abstract supports the
statement, contradicts it or neither. A small model answers "Supports" to nearly any statement on the paper's topic,
so a stance counts only against the negation: the answer is yes when the model supports the claim almost surely
(`AnswerPolicy.verdict_support`) and clearly more than its negation (`verdict_yes_margin`), and no when it supports
the negation clearly more than the claim (`verdict_no_margin`) and its likeliest stance on the claim itself is
"Contradicts". The answer is that paper's verdict with the abstract's sentence closest to the claim. Without a
verdict, that sentence is quoted as evidence, never as a yes or a no.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from rag.answering.answer import Citation, ClaimVerdict, Grade, Source
from rag.answering.citations import CitationChecker
from rag.answering.grading import Outcome
from rag.answering.judge import JudgePrompt, judge_prompt
from rag.answering.policy import AnswerPolicy
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


def negation(claim: str) -> str:
    """``"X lowers Y"`` -> ``"It is not true that X lowers Y"``."""
    return f"It is not true that {claim[:1].lower()}{claim[1:]}" if claim[1:2].islower() else \
        f"It is not true that {claim}"


def verdict_prompt(claim: str, source: Source) -> JudgePrompt:
    """Fixed rules, the paper's block (cached: the claim and its negation share it), then the claim and the
    question."""
    return judge_prompt("", source.title, source.abstract, verdict_line(claim), system=VERDICT_SYSTEM)


@dataclass(frozen=True)
class PaperVerdict:
    """What the model says of one paper against the claim and against its negation (each: the probabilities of
    Supports, Contradicts, Neither), and the abstract's sentence closest to the claim."""

    rank: int
    claim: tuple[float, float, float]
    negated: tuple[float, float, float]
    sentence: str

    def stance(self, policy: AnswerPolicy) -> Stance:
        """Supports or contradicts when the model's stance holds against the negation (module docstring), else
        neither."""
        support, negated_support = self.claim[0], self.negated[0]
        if support >= policy.verdict_support and support - negated_support >= policy.verdict_yes_margin:
            return Stance.SUPPORTS
        likeliest = max(range(len(STANCES)), key=lambda i: self.claim[i])
        if negated_support - support >= policy.verdict_no_margin and STANCES[likeliest] == Stance.CONTRADICTS:
            return Stance.CONTRADICTS
        return Stance.NEITHER

    def strength(self) -> float:
        """How far the model's support of the claim and of its negation lie apart."""
        return abs(self.claim[0] - self.negated[0])

    def probabilities(self) -> dict[str, float]:
        return {**{s.value: round(p, 4) for s, p in zip(STANCES, self.claim, strict=True)},
                **{f"not {s.value}": round(p, 4) for s, p in zip(STANCES, self.negated, strict=True)}}


def judge_claim(claim: str, sources: list[Source], ask: Callable[[JudgePrompt], list[float] | None],
                weight: Callable[[str], float] | None = None) -> list[PaperVerdict] | None:
    """Each source judged against the claim and its negation (None when the model gives no probabilities)."""
    verdicts = []
    for source in sources:
        shares = [ask(verdict_prompt(statement, source)) for statement in (claim, negation(claim))]
        if any(s is None for s in shares):
            return None
        sentence = most_relevant_sentence(source.abstract, claim, weight) or source.title
        verdicts.append(PaperVerdict(source.rank, tuple(shares[0]), tuple(shares[1]), sentence))
    return verdicts


def deciding(verdicts: list[PaperVerdict], policy: AnswerPolicy) -> PaperVerdict | None:
    """The paper taking the clearest stand (supports or contradicts, see `PaperVerdict.stance`), the best-ranked on
    a tie; None when none does."""
    standing = [v for v in verdicts if v.stance(policy) != Stance.NEITHER]
    return max(standing, key=lambda v: (v.strength(), -v.rank)) if standing else None


def verdict_text(verdict: PaperVerdict, stance: Stance) -> str:
    """``Yes: [1] supports the claim: “...” [1]`` or ``No: [1] reports the opposite: “...” [1]``."""
    word = "Yes" if stance == Stance.SUPPORTS else "No"
    said = "supports the claim" if stance == Stance.SUPPORTS else "reports the opposite"
    return f"{word}: [{verdict.rank}] {said}: “{verdict.sentence}” [{verdict.rank}]"


def verdict_citation(verdict: PaperVerdict, checker: CitationChecker) -> Citation:
    source = checker.sources[verdict.rank].source
    return Citation(number=verdict.rank, paper_id=source.paper_id, title=source.title, quote=verdict.sentence)


def verdict_outcome(claim: str, verdicts: list[PaperVerdict], checker: CitationChecker
                    ) -> tuple[Outcome, ClaimVerdict | None]:
    """The answer to a yes/no question: the deciding paper's verdict with the sentence it rests on; without one,
    the sentence of the paper covering the claim best quoted as evidence (when it covers the claim well), else not
    in the collection."""
    policy = checker.policy
    decided = deciding(verdicts, policy)
    if decided is not None:
        stance = decided.stance(policy)
        probability = decided.claim[STANCES.index(stance)]
        outcome = Outcome(Grade.ANSWERED, verdict_text(decided, stance), [verdict_citation(decided, checker)],
                          "verdict", f"[{decided.rank}] {stance.value} the claim (P = {probability:.2f}; its "
                          f"negation: P(supports) = {decided.negated[0]:.2f})")
        return outcome, ClaimVerdict(stance=stance.value, probability=round(probability, 4), number=decided.rank,
                                     probabilities=decided.probabilities())
    coverage = checker.coverage_of(set(content_terms(claim)))
    covering = [v for v in verdicts if coverage.get(v.rank, 0.0) >= policy.evidence_coverage]
    reason = "no paper supports or contradicts the claim clearly more than its negation"
    if not covering:
        return Outcome(Grade.NOT_FOUND, ABSTAIN_TEXT, [], "no verdict", reason + ", and none covers it well"), None
    best = max(covering, key=lambda v: (coverage[v.rank], -v.rank))
    text = (f"Not settled: the model could not tell whether [{best.rank}] supports the claim or not. It says: "
            f"“{best.sentence}” [{best.rank}]")
    return Outcome(Grade.EVIDENCE, text, [verdict_citation(best, checker)], "no verdict",
                   reason + "; the closest sentence is quoted"), None
