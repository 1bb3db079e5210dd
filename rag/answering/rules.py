"""The citation check's rules, as ordered tables: where to change when a citation stands.

Each rule looks at one claim (its text, the sources it cites, what it states) in the context of the question's
profile, the sources and the `AnswerPolicy`, and returns a `Verdict` (keep, re-cite, attach or drop the claim's
citations, with a reason) or None to leave the claim to the next rule. The first verdict decides. `MARKED_RULES`
judge a claim that cites sources; `UNMARKED_RULES` a sentence that cites none; `TAIL_RULES` the words after a
sentence's last marker. A sentence whose every citation was removed is dropped. The checker
(`rag.answering.citations.CitationChecker`) applies them and keeps every verdict that changed something as the
answer's trail."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from rag.answering.profile import Kind
from rag.answering.support import Claim, names_in
from rag.text import content_terms

if TYPE_CHECKING:
    from rag.answering.citations import CitationChecker


class Action(StrEnum):
    KEEP = "keep"  # the claim stands with (some of) the citations it made
    RECITE = "re-cite"  # another source supports it: that one is cited instead
    ATTACH = "attach"  # an unmarked claim gets the one source that clearly supports it
    DROP = "drop"  # the claim, or the sentence, is removed


@dataclass(frozen=True)
class Verdict:
    rule: str
    action: Action
    numbers: tuple[int, ...]  # the citations the claim keeps (none when dropped)
    reason: str


@dataclass
class ClaimCase:
    """One claim before the rules: its text, the sources it cites, and what it states."""

    text: str
    cited: list[int]
    claim: Claim
    sentence_claim: Claim  # the whole sentence's claim, for a piece too short to judge alone
    subject_item: bool  # "[n] trains ...": the marker is the sentence's subject (a list item)
    checker: CitationChecker


@dataclass(frozen=True)
class Rule:
    name: str
    decides: str  # what it decides, for the reader and docs/architecture.md
    apply: Callable[[ClaimCase], Verdict | None]


def verdict(rule: str, case: ClaimCase, kept: list[int], reason: str) -> Verdict:
    """KEEP when the kept citations are among those made, RECITE when one is new, DROP when none is kept."""
    if not kept:
        return Verdict(rule, Action.DROP, (), reason)
    action = Action.KEEP if set(kept) <= set(case.cited) else Action.RECITE
    return Verdict(rule, action, tuple(kept), reason)


# --- claims that cite sources -------------------------------------------------------------------
def forced_name(case: ClaimCase) -> Verdict | None:
    """In a reply opened for the model (the second look), a claim saying a name of the question that its paper does
    not name ("According to [1], Sophia is ...", [1] never naming Sophia) is about something else: dropped."""
    checker = case.checker
    if not checker.forced or not (unnamed := checker.unnamed(case.text, checker.valid(case.cited))):
        return None
    return verdict("forced name", case, [], f"the paper does not name {', '.join(unnamed)}")


def listed_title(case: ClaimCase) -> Verdict | None:
    """A claim that is (most of) a paper's title says "this paper answers the question": it stands if that paper
    is one the question asks for (the judge's verdict, else its words)."""
    checker = case.checker
    titled = checker.titled_source(case.text, case.cited) if checker.profile.asked else None
    if titled is None:
        return None
    if checker.answers_question(titled):
        return verdict("listed title", case, [titled], "the listed paper fits the question")
    return verdict("listed title", case, [], f"[{titled}] is not one of the papers the question asks for "
                   f"({checker.why_not_listed(titled)})")


def list_item(case: ClaimCase) -> Verdict | None:
    """``[n] trains ...``: the marker is the subject; paper n must fit the question or support the claim (to "which
    paper", an item saying the question back names paper n if it is the first and best-covering paper)."""
    checker = case.checker
    if not (case.subject_item and content_terms(case.text)):
        return None
    restated = checker.profile.is_(Kind.WHICH_PAPER) and checker.restates_question(case.text)
    kept = [n for n in case.cited if checker.judged(n) is not False and (checker.answers_question(n) or (
        n in checker.sources and checker.support(n, case.claim) >= checker.policy.support) or (
        restated and checker.first_and_best(n)))][:1]
    return verdict("list item", case, kept, "the paper fits the question" if kept else
                   "the paper neither fits the question nor states the claim")


def named_paper(case: ClaimCase) -> Verdict | None:
    """To "which paper ...?", a claim citing one paper and only saying back the question (or the paper's title)
    means "this paper is the one": it stands if that paper is the first and best-covering one
    (`CitationChecker.first_and_best`; a paraphrased question shares few words with any abstract)."""
    checker = case.checker
    profile = checker.profile
    valid = checker.valid(case.cited)
    if (not profile.names_a_paper or profile.lists_papers or len(valid) != 1 or not content_terms(case.text)
            or checker.adds_to_question(case.text, valid)):
        return None
    if not checker.first_and_best(valid[0]):
        return None
    return verdict("named paper", case, valid, "the reply names this paper for the question, and it fits")


def said_back_with_facts(case: ClaimCase) -> Verdict | None:
    """A claim citing one paper, saying the question back with a number or name added ("The work that ... trains 1%
    of the weights [1]."): it stands if its paper states what it adds and is the first and best-covering one
    (`CitationChecker.adds_facts_to_question`)."""
    checker = case.checker
    valid = checker.valid(case.cited)
    # "According to [1], ...": the piece is too short, its sentence is the claim
    if len(valid) != 1 or not checker.adds_facts_to_question(checker.judged_claim(case), valid[0]):
        return None
    return verdict("said back with facts", case, valid, "its paper states what it adds to the question")


def short_claim(case: ClaimCase) -> Verdict | None:
    """A claim (and sentence) of too few words to judge by them: its citations stand if their paper is on the
    question's topic."""
    checker = case.checker
    claim = case.claim if len(case.claim.terms) >= checker.policy.min_claim_terms else case.sentence_claim
    if len(claim.terms) >= checker.policy.min_claim_terms or claim.numbers:
        return None
    kept = [n for n in checker.valid(case.cited) if checker.on_topic(n)]
    return verdict("short claim", case, kept, "too short to judge by its words; the paper is on topic" if kept
                   else "too short to judge by its words, and the paper is off the question's topic")


def supported_together(case: ClaimCase) -> Verdict | None:
    """A claim citing several papers: each supports part of it (half the threshold), together enough, with every
    number and name it states, and each is on topic."""
    checker = case.checker
    valid = checker.valid(case.cited)
    if len(valid) < 2:
        return None
    claim = checker.judged_claim(case)
    threshold = checker.policy.support
    partial = [n for n in valid if checker.support(n, claim) >= threshold / 2]
    if not partial:
        return None
    union = set().union(*(claim.terms & checker.sources[n].terms for n in partial))
    covered = sum(map(checker.weight, union)) / max(1e-9, sum(map(checker.weight, claim.terms)))
    together = " ".join(checker.sources[n].letters for n in partial)
    if (covered < threshold or not claim.numbers <= set().union(*(checker.sources[n].numbers for n in partial))
            or not all(name in together for name in claim.names)):
        return None
    kept = [n for n in partial if checker.on_topic(n)]
    if not kept:
        return None
    return verdict("supported together", case, kept, "the cited papers support it together")


def supported(case: ClaimCase) -> Verdict | None:
    """Each citation stands if its paper contains enough of the claim's (IDF-weighted) words and everything it
    states, and is on the question's topic."""
    checker = case.checker
    claim = checker.judged_claim(case)
    kept = [n for n in checker.valid(case.cited)
            if checker.support(n, claim) >= checker.policy.support and checker.on_topic(n)]
    if not kept:
        return None
    dropped = [n for n in case.cited if n not in kept]
    return verdict("supported", case, kept, "its paper states it" if not dropped else
                   "; ".join(checker.why_unsupported(n, claim) for n in dropped))


def recited(case: ClaimCase) -> Verdict | None:
    """No cited paper supports the claim, another one on topic does: that one is cited instead. Not a claim that
    says back the question's description of the paper it cites, when that is the first and best-covering paper
    (`CitationChecker.about_asked_paper`): it is about that paper, and another paper's figures do not make it true."""
    checker = case.checker
    claim = checker.judged_claim(case)
    best, support, _ = checker.best_source(claim)
    if best is None or support < checker.policy.support or not checker.on_topic(best):
        return None
    if best not in case.cited and checker.about_asked_paper(claim, checker.valid(case.cited)):
        return None
    return verdict("re-cited", case, [best], f"[{best}] states it"
                   + "".join(f"; {checker.why_unsupported(n, claim)}" for n in dict.fromkeys(case.cited)))


def unsupported(case: ClaimCase) -> Verdict:
    """Nothing supports the claim: its citations go (and its sentence, if it keeps none)."""
    checker = case.checker
    claim = checker.judged_claim(case)
    reasons = [checker.why_unsupported(n, claim) for n in dict.fromkeys(case.cited)] or ["no source supports it"]
    return verdict("unsupported", case, [], "; ".join(reasons))


FORCED_NAME = Rule("forced name", "in a second look's reply, a claim saying a name of the question its paper does "
                   "not name is dropped", forced_name)
MARKED_RULES: tuple[Rule, ...] = (
    FORCED_NAME,
    Rule("listed title", "a paper's title stands for the paper: kept if it fits the question", listed_title),
    Rule("list item", "\"[n] trains ...\": kept if paper n fits the question or states the claim", list_item),
    Rule("named paper", "to \"which paper\", the question said back with one paper cited: kept if it is the first "
         "and best-covering paper", named_paper),
    Rule("said back with facts", "the question said back with numbers or names its paper states: kept if that "
         "paper is the first and best-covering one", said_back_with_facts),
    Rule("short claim", "too few words to judge: kept if the cited paper is on topic", short_claim),
    Rule("supported together", "several cited papers support parts of the claim, together enough", supported_together),
    Rule("supported", "the cited paper contains the claim's words, numbers, names and measures, and is on topic",
         supported),
    Rule("re-cited", "another paper on topic supports the claim: it is cited instead, unless the claim describes "
         "the asked paper", recited),
    Rule("unsupported", "no paper supports the claim: its citations are removed", unsupported),
)


# --- sentences that cite nothing ------------------------------------------------------------------
def clear_source(case: ClaimCase) -> Verdict | None:
    """An unmarked claim that one paper clearly supports (by `clear_margin` over the threshold and over the
    runner-up), on topic, and that says more than the question, gets that paper."""
    checker = case.checker
    policy = checker.policy
    if len(case.claim.terms) < policy.min_claim_terms + 1:
        return None
    best, support, runner_up = checker.best_source(case.claim)
    if (best is None or support < policy.support + policy.clear_margin or support <= runner_up
            or not checker.on_topic(best) or not checker.tells_more(case.text)):
        return None
    return Verdict("clear source", Action.ATTACH, (best,), f"[{best}] clearly states it")


def unbacked_statement(case: ClaimCase) -> Verdict | None:
    """An unmarked claim stating a figure or name that no paper on the question's topic supports is dropped."""
    checker = case.checker
    if not (case.claim.numbers or case.claim.names) or checker.backed(case.claim):
        return None
    stated = sorted(case.claim.numbers) + sorted(case.claim.names)
    return Verdict("unbacked statement", Action.DROP, (), f"no paper on topic states {', '.join(stated)}")


def named_source(case: ClaimCase) -> Verdict | None:
    """An unmarked claim (more than ``min_claim_terms`` words) naming something beyond the question that exactly
    one paper names, a paper on the question's topic stating everything the claim states, gets that paper ("... is
    called AdaMEOW."); not a claim saying a name of the question that no paper names ("Omegance was implemented in
    SDXL, FLUX and UViT" is not the one paper naming UViT's when no paper names SDXL)."""
    checker = case.checker
    if not case.claim.names or len(case.claim.terms) <= checker.policy.min_claim_terms:
        return None  # a bare name ("PWNED") is no claim
    if any(all(name not in source.letters for source in checker.sources.values())
           for name in names_in(case.text) - case.claim.names):
        return None  # it says a name of the question no paper names: no paper can state it
    naming = [n for n, source in checker.sources.items() if all(name in source.letters for name in case.claim.names)]
    if len(naming) != 1:
        return None
    number = naming[0]
    if checker.sources[number].problem(case.claim) is not None or not checker.on_topic(number):
        return None
    return Verdict("named source", Action.ATTACH, (number,), f"[{number}] alone names what it states")


UNBACKED_STATEMENT = Rule("unbacked statement", "an unmarked figure or name no paper on topic states is dropped",
                          unbacked_statement)
UNMARKED_RULES: tuple[Rule, ...] = (
    FORCED_NAME,
    Rule("clear source", "an unmarked claim one paper clearly states gets that paper", clear_source),
    Rule("named source", "an unmarked claim naming what only one paper on topic names gets that paper", named_source),
    UNBACKED_STATEMENT,
)
# the words after a sentence's last marker: the sentence already cites its papers, so nothing is attached
TAIL_RULES: tuple[Rule, ...] = (FORCED_NAME, UNBACKED_STATEMENT)
