"""The answer's grade, decided by an ordered table of answer rules: answered, partly answered, quoted evidence, or
not in the collection.

`ANSWER_RULES` look, in order, at what came of the model's reply (withheld, refused, the checked answer) in the
light of the question's profile; the first that returns an `Outcome` decides. A missing figure or a side of a
comparison never throws the rest away: the checked claims stay and the answer says which part the abstracts do
not give. When the reply could not be checked (or the model refused) while the best paper covers the question
well, the answer is that paper's best sentences, quoted and cited, labelled as quoted evidence, never as the
model's answer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from rag.answering.answer import Citation, Grade
from rag.answering.citations import CheckedAnswer, CitationChecker
from rag.answering.markers import marker_numbers
from rag.answering.profile import Kind, Part, QuestionProfile
from rag.answering.prompt import ABSTAIN_TEXT
from rag.answering.support import MARKER_GROUP, SourceText, names_in, numbers_in, states_figure
from rag.text import content_terms, split_sentences

UNSUPPORTED_NOTE = " (The model's reply was not supported by the retrieved abstracts.)"
WITHHELD_NOTE = " (The model's reply repeated the assistant's instructions and was withheld.)"
NO_FIGURE_NOTE = " (The question asks for a figure, and the model's checked reply gives none.)"
RESTATED_NOTE = " (The model's reply only said back the question or a paper's title.)"
EVIDENCE_HEAD = "Quoted from [{n}] (the model's reply could not be checked):"


@dataclass
class Outcome:
    grade: Grade
    text: str
    citations: list[Citation]
    rule: str
    reason: str
    missing: list[str] = field(default_factory=list)


@dataclass
class Attempt:
    """What became of the model's reply, for the answer rules."""

    profile: QuestionProfile
    checker: CitationChecker  # over every source
    checked: CheckedAnswer | None  # None when there was no reply to check (withheld, refused, empty)
    withheld: bool = False
    missing_sides: list[str] = field(default_factory=list)  # sides of a comparison no checked claim covers


@dataclass(frozen=True)
class AnswerRule:
    name: str
    decides: str
    apply: Callable[[Attempt], Outcome | None]


def not_found(rule: str, reason: str, note: str = "") -> Outcome:
    return Outcome(Grade.NOT_FOUND, ABSTAIN_TEXT + note, [], rule, reason)


def quoted_evidence(attempt: Attempt) -> Outcome | None:
    """The best paper's sentences, quoted with its number, when they give what the question asks: the paper whose
    words cover the question best covers it well (``evidence_coverage``) or is the paper retrieval ranks first (a
    paraphrased question shares few words with any abstract), and for every part of the question one of its
    sentences holds ``part_coverage`` of the part's asked words (a figure part: with a number the question does
    not give). None otherwise, and for questions about several papers, naming papers or yes/no."""
    profile, checker = attempt.profile, attempt.checker
    policy = checker.policy
    if profile.about_several or profile.names_a_paper or profile.is_(Kind.YES_NO) or not checker.sources:
        return None
    coverage = checker.coverage()
    best = max(coverage, key=lambda n: (coverage[n], -n))
    if policy.evidence_coverage > 1 or (coverage[best] < policy.evidence_coverage and not checker.first_and_best(best)):
        return None  # off, or neither covering the question well nor the paper retrieval ranks first
    source = checker.sources[best]
    chosen: list[str] = []
    for part in profile.parts:
        covering = part_sentences(checker, source, part)
        if not covering:
            return None
        chosen.append(covering[0])
    quotes = [text for text, _ in source.sentences if text in chosen][: policy.evidence_sentences]
    text = EVIDENCE_HEAD.format(n=best) + " " + " ".join(f"“{q}”" for q in quotes) + f" [{best}]"
    citation = Citation(number=best, paper_id=source.source.paper_id, title=source.source.title, quote=quotes[0])
    return Outcome(Grade.EVIDENCE, text, [citation], "quoted evidence", "")


def fallback(rule: str, reason: str, note: str, attempt: Attempt) -> Outcome:
    """Quoted evidence when the best paper covers the question well, else not in the collection."""
    evidence = quoted_evidence(attempt)
    if evidence is None:
        return not_found(rule, reason, note)
    evidence.rule, evidence.reason = rule, f"{reason}; the best paper's sentences are quoted instead"
    return evidence


def withheld(attempt: Attempt) -> Outcome | None:
    if not attempt.withheld:
        return None
    return not_found("withheld", "the reply repeated the assistant's instructions", WITHHELD_NOTE)


def refused(attempt: Attempt) -> Outcome | None:
    if attempt.checked is not None:
        return None
    return fallback("refused", "the model said the collection does not answer, or wrote nothing", "", attempt)


def unsupported(attempt: Attempt) -> Outcome | None:
    if attempt.checked is None or attempt.checked.citations:
        return None
    return fallback("nothing supported", "no claim of the reply was supported by the abstracts", UNSUPPORTED_NOTE,
                    attempt)


def only_says_back(attempt: Attempt) -> Outcome | None:
    """For a question asking for facts (not which paper, not yes/no), a reply whose every sentence only says back
    the question or names a paper is no answer: "What architecture, which sizes?" is not answered by a title (but
    "What is it called?" is)."""
    if attempt.checked is None or not says_nothing_new(attempt.profile, attempt.checker, attempt.checked.text):
        return None
    return fallback("only says back", "the reply only said back the question or a paper's title", RESTATED_NOTE,
                    attempt)


def says_nothing_new(profile: QuestionProfile, checker: CitationChecker, text: str) -> bool:
    """Whether ``text`` answers a question asking for facts with nothing but the question's words and the titles
    of the papers it cites: no sentence adds a number, a name or words of its own or of a cited paper. False for
    a question asking which paper(s) or yes/no, which a title or a restatement can answer."""
    if profile.names_a_paper or profile.about_several or profile.is_(Kind.YES_NO):
        return False
    sentences = checker.sentences(text)
    for sentence in sentences:
        cited = [n for n in marker_numbers(sentence) if n in checker.sources]
        # the titles of the papers it cites are known words, except to "what is it called?" (a name answers it)
        titled = [] if profile.is_(Kind.NAME) else cited
        plain = MARKER_GROUP.sub(" ", sentence)
        if checker.adds_to_question(plain, titled) or any(checker.adds_from_paper(plain, n) for n in cited):
            return False  # a sentence that says something
    return bool(sentences)


def lists_titles_only(profile: QuestionProfile, checker: CitationChecker, text: str) -> bool:
    """Whether ``text`` answers a question about one paper with nothing but titles of the sources (the model
    copied its source list), none of which fits the question: no paper was named for it."""
    if profile.lists_papers or not profile.asked:
        return False
    sentences = checker.sentences(text)
    titled = [checker.titled_source(MARKER_GROUP.sub(" ", s), marker_numbers(s)) for s in sentences]
    return bool(sentences) and None not in titled and not any(map(checker.answers_question, titled))


def says_more(attempt: Attempt) -> bool:
    """Whether some sentence of the checked answer says more than the question (a number or name it lacks, or
    enough other words): it answers something, not only the question back."""
    checked, checker = attempt.checked, attempt.checker
    return checked is not None and any(checker.tells_more(MARKER_GROUP.sub(" ", s))
                                       for s in split_sentences(checked.text))


def missing_figure(attempt: Attempt) -> Outcome | None:
    """A question asking for a figure whose checked answer gives none: when another part of the question is
    answered, answered with the cited paper's sentence for each figure part quoted (`with_quoted_parts`), or
    partly answered for the parts no sentence gives; else quoted evidence or not in the collection."""
    profile, checked = attempt.profile, attempt.checked
    if checked is None or not profile.needs_figure or states_figure(checked.text, profile.asked):
        return None
    if any(not p.needs_figure for p in profile.parts) and says_more(attempt):
        text, quoted = with_quoted_parts(attempt, checked.text, checked.citations)
        missing = [p.text for p in profile.figure_parts if p.text not in quoted]
        reason = "the checked reply gives no figure for: " + "; ".join(p.text for p in profile.figure_parts)
        if not missing:
            return Outcome(Grade.ANSWERED, text, checked.citations, "missing figure", reason + "; its paper's "
                           "sentence is quoted")
        return Outcome(Grade.PARTIAL, text + missing_note(missing), checked.citations, "missing figure", reason,
                       missing)
    return fallback("missing figure", "the question asks for a figure and the checked reply gives none",
                    NO_FIGURE_NOTE, attempt)


def missing_side(attempt: Attempt) -> Outcome | None:
    """A comparison whose checked answer covers one side only: partly answered."""
    checked = attempt.checked
    if checked is None or not attempt.missing_sides:
        return None
    missing = attempt.missing_sides
    return Outcome(Grade.PARTIAL, checked.text + missing_note(missing), checked.citations, "missing side",
                   "no checked claim is about: " + "; ".join(missing), missing)


def answered(attempt: Attempt) -> Outcome:
    checked = attempt.checked
    assert checked is not None
    text, quoted = with_quoted_parts(attempt, checked.text, checked.citations)
    reason = "quoted for: " + "; ".join(quoted) if quoted else ""
    return Outcome(Grade.ANSWERED, text, checked.citations, "answered", reason)


def with_quoted_parts(attempt: Attempt, text: str, citations: list[Citation]) -> tuple[str, list[str]]:
    """A facts question's checked answer with the sentences of its paper for the parts of the question it leaves
    unanswered, quoted. A part's sentences are the first cited paper's that hold at least ``part_coverage`` of the
    part's asked words (for a figure part, with a number the question lacks); what a sentence states is its numbers
    and names beyond the question (a figure part: its numbers). A part is unanswered when the answer states
    nothing any of its sentences states, and says too few of the words its best sentence (the most of the part's
    words, then of the question's) adds to the question (``said_share``); that sentence is then quoted.
    Returns the text and the parts quoted for. Not for questions about several papers or yes/no."""
    profile, checker = attempt.profile, attempt.checker
    if profile.about_several or profile.is_(Kind.YES_NO) or not citations or citations[0].number not in checker.sources:
        return text, []
    policy = checker.policy
    number = citations[0].number
    source = checker.sources[number]
    said = checker.claim(text)
    said_facts = said.numbers | said.names | names_in(text)
    said_terms = set(content_terms(text))
    source_terms = dict(source.sentences)
    quotes: list[str] = []
    parts: list[str] = []
    for part in profile.parts:
        figure = part.needs_figure and profile.needs_figure
        covering = part_sentences(checker, source, part)
        stated = [(claim.numbers if figure else claim.numbers | claim.names)
                  for claim in map(checker.claim, covering)]
        if (not covering or not stated[0] or covering[0] in quotes or any(s & said_facts for s in stated)
                or says_most(source_terms[covering[0]] - checker.question_terms, said_terms, policy.said_share)):
            continue  # nothing to quote, or the answer already says what a sentence for this part does
        quotes.append(covering[0])
        parts.append(part.text)
    if not quotes:
        return text, []
    ordered = [s for s, _ in source.sentences if s in quotes]
    return text + f" Quoted from [{number}]: " + " ".join(f"“{q}”" for q in ordered), parts


def part_sentences(checker: CitationChecker, source: SourceText, part: Part) -> list[str]:
    """The source's sentences for one part of the question, best first: those holding ``part_coverage`` of the
    part's asked words (IDF-weighted; for a part asking a figure, with a number the question lacks), ranked by that
    share, then by the question's words they hold."""
    profile = checker.profile
    figure = part.needs_figure and profile.needs_figure
    asked_numbers = numbers_in(profile.asked)
    wanted = set(content_terms(part.asked))
    total = sum(checker.weight(t) for t in wanted) or 1.0
    scored = sorted(((sum(checker.weight(t) for t in wanted & terms) / total,
                      sum(checker.weight(t) for t in checker.question_terms & terms), sentence)
                     for sentence, terms in source.sentences if not figure or numbers_in(sentence) - asked_numbers),
                    reverse=True)
    return [sentence for share, _, sentence in scored if share >= checker.policy.part_coverage]


def says_most(added: set[str], said: set[str], share: float) -> bool:
    """Whether ``said`` holds at least ``share`` of the words a sentence ``added`` to the question (none added: it
    says nothing more)."""
    return len(added & said) >= share * len(added)


def missing_note(parts: list[str]) -> str:
    """`` (The abstracts do not give: how many layers it has.)``"""
    said = "; ".join(p.rstrip(" ?.") for p in parts)
    return f" (The abstracts checked do not give: {said[:1].lower()}{said[1:]}.)" if said else ""


ANSWER_RULES: tuple[AnswerRule, ...] = (
    AnswerRule("withheld", "a reply repeating the rules is withheld: not in the collection", withheld),
    AnswerRule("refused", "the model refused (after a second look): quoted evidence if the best paper covers the "
               "question well, else not in the collection", refused),
    AnswerRule("nothing supported", "no claim survived the check: quoted evidence or not in the collection",
               unsupported),
    AnswerRule("only says back", "a facts question answered only by the question's words or a title: quoted "
               "evidence or not in the collection", only_says_back),
    AnswerRule("missing figure", "a figure is asked and none is given: partly answered if the question has a part "
               "asking no figure and the answer says more than the question, else quoted evidence or not in the "
               "collection",
               missing_figure),
    AnswerRule("missing side", "a comparison covering one side: partly answered", missing_side),
    AnswerRule("answered", "the checked claims stand", answered),
)


def grade(attempt: Attempt) -> Outcome:
    """The first answer rule's outcome."""
    return next(o for rule in ANSWER_RULES if (o := rule.apply(attempt)) is not None)

