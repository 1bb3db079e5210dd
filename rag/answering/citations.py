"""Checking an LLM answer's citations against the abstracts it was given.

The reply is cut into sentences and each sentence into claims, one per group of ``[n]`` markers (the text since the
previous group). The rules of `rag.answering.rules` decide, in order, which citations each claim keeps: a marker
stays only if its paper supports the claim (enough of its IDF-weighted words, every number and name it adds to the
question, what each figure measures) and is on the question's topic; a wrong marker is replaced by the source that
does support the claim, or removed; a sentence left with none of the citations it made is dropped. An unmarked
claim that one source clearly supports gets that source; one stating a figure or name that no source on the
question's topic supports is dropped. Every kept citation carries the abstract sentence that best supports it, and
every verdict that changed something is kept in the trail (`CheckedAnswer.trail`).

Small models also write markers apart from their claims: a leading ``[1] Claim.`` is moved to the end, a sentence
after a claim that only points at a source ("[2]", "This score is from [2].") belongs to that claim, and a reply made
only of markers (the answer to "which papers ...?") becomes one sentence per paper, each checked against the
question. In an answer citing several papers, a sentence that describes its one cited paper without naming it ("The
first paper ...", "The VLM paper that ...") gets the paper's short name after the description. In an answer to a
comparison, a sentence that turns from one side to the other ("A uses X, while the second uses Y [2].") is checked
one side at a time.

Given a judge (`rag.answering.judge.PaperJudge`, for a question asking which papers), the judge decides which
papers fit the question: a citation of a paper it rejects is dropped (with its sentence, if it had no other),
and every paper it accepts that the reply left out is listed by title.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from rag.answering.answer import Citation, RuleHit, Source
from rag.answering.markers import marker_numbers, parse_numbers
from rag.answering.policy import AnswerPolicy
from rag.answering.profile import Kind, QuestionProfile, profile_question
from rag.answering.rules import FORCED_NAME, MARKED_RULES, TAIL_RULES, UNMARKED_RULES, Action, ClaimCase, Verdict
from rag.answering.support import (
    MARKER_GROUP,
    OWN_VOICE,
    Claim,
    SourceText,
    introduced_names,
    letters_and_digits,
    names_in,
    numbers_in,
)
from rag.text import content_terms, split_sentences

# Words of sentences that only point at a source ("This is stated in [1].", "This figure is from paper [2].").
POINTER_TERMS = frozenset(content_terms(
    "this is stated mentioned described reported presented discussed noted explained found given see refer according "
    "source abstract information paper figure number value score result"))
# "The first paper ...", "The VLM paper that ...", "This method ...": a sentence about a paper it describes
DESCRIBED_PAPER = re.compile(r"^(?:the|this|that)\s+(?:[\w-]+\s+){0,4}?"
                             r"(?:paper|method|work|study|approach|model|framework|technique)\b", re.IGNORECASE)
# where a comparison's sentence turns to the other side: ", while the second ...", "; the theory paper ...",
# ", whereas ZeroI2V ...", ", and the encoder's second stage ..." (the connective goes; what follows names or
# describes a paper); a contrast before a plain "and"
TURNS_TO = (r"\s+(?=(?:(?:the|its|their|this|that)\s+(?:[\w'’-]+\s+){0,3}?"
            r"(?:second|other|latter|former|first|paper|method|work|study|approach|model|one|review)\b|[A-Z]))")
SIDE_TURNS = (re.compile(r"(?:,?\s+(?:while|whereas|but)|;)" + TURNS_TO), re.compile(r",?\s+and" + TURNS_TO))
# a contrast between two figures turns too, whatever follows it: "A reaches 84.1%, while the token-mixing MLP
# reaches 83.8%"
FIGURE_TURN = re.compile(r"(?:,\s+(?:while|whereas)|;)\s+")


@dataclass
class CheckedAnswer:
    text: str
    citations: list[Citation]
    trail: list[RuleHit] = field(default_factory=list)  # every verdict that changed a claim, in order
    dropped: int = 0  # claims removed


class CitationChecker:
    """Validates and repairs ``[n]`` markers against numbered sources (numbers are source ranks)."""

    def __init__(self, sources: list[Source], profile: QuestionProfile | str = "", policy: AnswerPolicy | None = None,
                 *, weight: Callable[[str], float] | None = None, judge: Callable[[int], bool | None] | None = None,
                 forced: bool = False):
        self.policy = policy or AnswerPolicy()
        self.forced = forced  # the reply was opened for the model (a second look): it may answer what it should not
        self.profile = profile if isinstance(profile, QuestionProfile) else profile_question(profile)
        self.sources = {s.rank: SourceText.of(s, self.policy) for s in sources}
        self.judge = judge
        # a follow-up is checked against what it asks together with its earlier question
        query = self.profile.query
        self.question_terms = set(content_terms(query))
        self.question_numbers = numbers_in(query)
        self.question_letters = letters_and_digits(query)
        self.question_names = dict(self.profile.subject_names)
        self.weight = weight or (lambda term: 1.0)
        self._coverage: dict[int, float] | None = None
        self.subject_items: set[str] = set()

    # --- what the rules ask -----------------------------------------------------------------------
    def claim(self, text: str) -> Claim:
        return Claim.of(text, self.question_numbers, self.question_letters, self.policy)

    def valid(self, numbers: list[int]) -> list[int]:
        """The cited numbers that name a source, once each."""
        return [n for n in dict.fromkeys(numbers) if n in self.sources]

    def judged_claim(self, case: ClaimCase) -> Claim:
        """The claim the rules judge: the piece's own, or its whole sentence's when the piece has too few words."""
        return case.claim if len(case.claim.terms) >= self.policy.min_claim_terms else case.sentence_claim

    def support(self, number: int, claim: Claim) -> float:
        """IDF-weighted share of the claim's terms found in source ``number``, or of its own words (those the
        question lacks; numbers are checked as numbers) when there are at least ``min_claim_terms`` of them and that
        is more: a reply that restates a paraphrased question before answering it ("The PEFT approach that ...
        modifies the special token representations") is judged on what it adds, not on the question's words. 0 if
        the source lacks a stated number or name."""
        source = self.sources[number]
        if not claim.terms or not source.states(claim):
            return 0.0
        own = self.own_words(claim)
        if len(own) >= self.policy.min_claim_terms:
            return max(self.share(claim.terms, source), self.share(own, source))
        return self.share(claim.terms, source)

    def own_words(self, claim: Claim) -> set[str]:
        """The claim's words the question lacks, numbers apart (they are checked as numbers)."""
        return {t for t in claim.terms - self.question_terms if not any(c.isdigit() for c in t)}

    def share(self, terms: set[str], source: SourceText) -> float:
        """IDF-weighted share of ``terms`` found in the source."""
        total = sum(self.weight(t) for t in terms)
        return sum(self.weight(t) for t in terms & source.terms) / total if total else 0.0

    def why_unsupported(self, number: int, claim: Claim) -> str:
        """Why source ``number`` does not stand for the claim, for the trail."""
        if number not in self.sources:
            return f"[{number}] is not a source"
        if self.judged(number) is False:
            return f"[{number}] is not one of the papers the question asks for (the model judged it)"
        if problem := self.sources[number].problem(claim):
            return f"[{number}] {problem}"
        support = self.support(number, claim)
        if support < self.policy.support:
            return f"[{number}] has too few of its words ({support:.2f} < {self.policy.support:g})"
        return f"[{number}] is off the question's topic"

    def why_not_listed(self, number: int) -> str:
        if self.judged(number) is False:
            return "the model judged it"
        return "by its words"

    def best_source(self, claim: Claim) -> tuple[int | None, float, float]:
        """The best supporting source number, its support, and the runner-up's support."""
        ranked = sorted(((self.support(n, claim), n) for n in self.sources), reverse=True)
        if not ranked:
            return None, 0.0, 0.0
        runner_up = ranked[1][0] if len(ranked) > 1 else 0.0
        return ranked[0][1], ranked[0][0], runner_up

    def backed(self, claim: Claim) -> bool:
        """Whether some source on the question's topic supports the claim, or states the numbers and names a claim
        saying the question back adds (`adds_facts_to_question`)."""
        if any(self.support(n, claim) >= self.policy.support and self.on_topic(n) for n in self.sources):
            return True
        return bool(self.sources) and self.adds_facts_to_question(claim, min(self.sources))  # the only first one

    def adds_facts_to_question(self, claim: Claim, number: int) -> bool:
        """A claim saying the question back with numbers or names added ("..., the gated cell types covered are GRU
        and LSTM."), judged by what it adds, since its other words are the question's: it adds fewer than
        ``min_claim_terms`` other words, paper ``number`` states every number and name it adds (with what each
        figure measures), and that paper is the first and best-covering one."""
        own = self.own_words(claim)
        said_back = claim.terms - own
        if not (claim.numbers or claim.names) or len(own) >= self.policy.min_claim_terms:
            return False
        if len(said_back) < self.policy.min_claim_terms or not self.says_back(said_back):
            return False
        return self.sources[number].problem(claim) is None and self.first_and_best(number)

    def coverage(self) -> dict[int, float]:
        """Each source's (weighted) coverage of the question's terms."""
        if self._coverage is None:
            self._coverage = self.coverage_of(self.question_terms)
        return self._coverage

    def coverage_of(self, terms: set[str]) -> dict[int, float]:
        """Each source's (weighted) coverage of these terms."""
        asked = Claim(set(terms), set())
        return {n: self.support(n, asked) for n in self.sources}

    def answers_question(self, number: int) -> bool:
        """Whether a paper named in a list fits the question: the judge says so, or (without one) it covers the
        question's (weighted) terms nearly as well as the best source does, and not too little. A question
        paraphrases, so this is more lenient than the support of a claim copied from an abstract."""
        if not self.profile.asked or number not in self.sources:
            return False
        if (verdict := self.judged(number)) is not None:
            return verdict
        coverage = self.coverage()
        return coverage[number] >= max(self.policy.list_floor * self.policy.support,
                                       self.policy.list_relative * max(coverage.values()))

    def first_and_best(self, number: int) -> bool:
        """Whether paper ``number`` is the one retrieval ranks first and covers the question's words more than any
        other: the paper a reply saying the question back can mean, and whose sentences can be quoted for it (a
        paraphrase shares too few words with its abstract for a share to decide)."""
        coverage = self.coverage()
        others = [share for n, share in coverage.items() if n != number]
        return number == min(self.sources) and coverage[number] > max(others, default=0.0)

    def about_asked_paper(self, claim: Claim, cited: list[int]) -> bool:
        """Whether the claim cites one paper, the first and best-covering one, and says back at least
        ``min_claim_terms`` of the question's words: it describes the paper the question asks about (a question
        about one paper; a comparison or list describes several)."""
        return (not self.profile.about_several and len(cited) == 1
                and len(claim.terms & self.question_terms) >= self.policy.min_claim_terms
                and self.first_and_best(cited[0]))

    def unnamed(self, text: str, cited: list[int]) -> list[str]:
        """The question's capitalised names (`QuestionProfile.subject_names`: "Sophia", "GPT-2") that ``text`` says
        and none of the ``cited`` papers (all sources when none) names, itself or spelt out ("CNNs": "convolutional
        neural networks")."""
        papers = [self.sources[n] for n in cited] or list(self.sources.values())
        return sorted(w for w, name in self.question_names.items()
                      if re.search(rf"(?<![\w-]){re.escape(w)}(?![\w-])", text)
                      and not any(paper.names(name) for paper in papers))

    def judged(self, number: int) -> bool | None:
        """The judge's verdict on paper ``number`` (None without a judge, or when it cannot say)."""
        return self.judge(number) if self.judge is not None else None

    def on_topic(self, number: int) -> bool:
        """Whether a cited paper is about what the question asks, not merely a paper holding the claim's words:
        it covers at least ``on_topic`` of the best source's coverage of the question (always, when 0), and the
        judge, if any, does not say otherwise."""
        if self.judged(number) is False:
            return False
        if not self.profile.asked or not self.policy.on_topic:
            return True
        coverage = self.coverage()
        return coverage[number] >= self.policy.on_topic * max(coverage.values())

    def says_back(self, terms: set[str], known: set[str] | None = None) -> bool:
        """Whether at least ``restated_share`` of these terms are the question's (or ``known``)."""
        known = self.question_terms if known is None else known
        return len(terms & known) >= self.policy.restated_share * len(terms)

    def tells_more(self, text: str) -> bool:
        """Whether ``text`` says more than the question: a number or name it lacks, or enough other words."""
        return self.adds_to_question(text, ())

    def adds_to_question(self, text: str, numbers: Iterable[int] | None = None) -> bool:
        """Whether the text says more than the question and the titles of the papers (``numbers``; all when None):
        a number or name neither holds, or enough words of its own (a restated question followed by a title adds
        nothing)."""
        titles = " ".join(self.sources[n].source.title for n in (self.sources if numbers is None else numbers))
        claim = self.claim(text)
        if claim.numbers or claim.names - names_in(titles):
            return True
        return not self.says_back(claim.terms - POINTER_TERMS, self.question_terms | set(content_terms(titles)))

    def adds_from_paper(self, text: str, number: int) -> bool:
        """Whether ``text`` holds words of paper ``number``'s abstract that neither the question nor the paper's
        title holds ("It calls the resulting layer the sandwich layer."): it says something of the paper."""
        source = self.sources[number]
        said = set(content_terms(text)) - POINTER_TERMS - self.question_terms - set(content_terms(source.source.title))
        return bool(said & source.terms)

    def titled_source(self, text: str, numbers: list[int]) -> int | None:
        """The source whose title ``text`` is (most of), preferring the cited ones: then the claim is only
        "this paper answers the question". Small models often list titles under the wrong number."""
        terms = set(content_terms(text))
        if not terms:
            return None
        for n in [*numbers, *self.sources]:
            title = set(content_terms(self.sources[n].source.title)) if n in self.sources else set()
            if terms <= title and len(terms) >= self.policy.title_share * len(title):
                return n
        return None

    # --- reading the reply ---------------------------------------------------------------------------
    def listing(self, numbers: list[int]) -> list[str]:
        """A reply of bare markers answers "which papers": one sentence per source that fits the question."""
        return [self.title_line(n) for n in dict.fromkeys(numbers) if self.answers_question(n)]

    def source_title(self, number: int) -> str:
        """Paper ``number``'s title."""
        return self.sources[number].source.title.strip()

    def title_line(self, number: int) -> str:
        """Paper ``number`` named by its title: ``"FedPara: Low-Rank Updates [3]."``."""
        title = self.source_title(number)
        return attach_marker(title if title[-1:] in ".!?" else f"{title}.", f"[{number}]")

    def why_listed(self, number: int) -> str:
        """The evidence that paper ``number`` is one of the papers asked for: of its abstract's sentences holding
        at least ``own_voice_share`` of the best one's (IDF-weighted) share of the question's words, the best that
        speaks of the paper's own work ("we propose ...", "this paper ...") rather than its background; else the
        best."""
        scored = [(sum(self.weight(t) for t in terms & self.question_terms), text)
                  for text, terms in self.sources[number].sentences]
        best = max((score for score, _ in scored), default=0.0)
        own = [(score, text) for score, text in scored
               if OWN_VOICE.search(text) and score >= self.policy.own_voice_share * best]
        return max(own or scored, key=lambda item: item[0], default=(0.0, ""))[1]

    def with_reason(self, number: int, title: str, reason: str) -> str:
        """For a question whose answer is papers, paper ``number``'s title (the reply's words for it), the name it
        gives what it introduces when neither says it (`introduced_name`), and its `why_listed` ``reason``, quoted:
        ``Optimizing Feature Set for CTR Prediction (OptFS) — “Feature interactions ...”`` (a title alone says
        nothing of why). To a question asking for facts, a title stays a title: it is no answer."""
        reason = reason.removesuffix(".") if self.profile.names_a_paper else ""
        if not reason:
            return title
        title = title.strip().removesuffix(".")
        name = self.introduced_name(number, f"{self.profile.query} {title} {reason}")
        return f"{title} ({name}) — “{reason}”" if name else f"{title} — “{reason}”"

    def introduced_name(self, number: int, known: str) -> str:
        """The name paper ``number`` gives what it introduces (`introduced_names`, not in ``known``), if that name
        is nearly the paper's own: one of its words is about as rare in the collection (IDF) as the paper's rarest
        (``name_rarity``), so "KL" or "MoE", which many papers use, is not taken for it."""
        source = self.sources[number]
        rarest = max(map(self.weight, source.terms), default=0.0)
        return next((name for name in introduced_names([s for s, _ in source.sentences], known)
                     if max(map(self.weight, content_terms(name)), default=0.0) >= self.policy.name_rarity * rarest),
                    "")

    def sentences(self, answer: str) -> list[str]:
        """The reply's sentences with markers next to their claims (see the module docstring)."""
        if MARKER_GROUP.match(answer.strip()):
            return self.side_clauses_of(self.marker_first_items(answer.strip()))
        out: list[str] = []
        orphans: list[int] = []
        for sentence in split_sentences(answer) or [answer.strip()]:
            markers, rest = split_leading_markers(sentence)
            if markers and content_terms(MARKER_GROUP.sub(" ", rest)):
                sentence = attach_marker(rest, markers)
            terms = set(content_terms(MARKER_GROUP.sub(" ", sentence))) - POINTER_TERMS
            if terms and not (out and terms <= set(content_terms(MARKER_GROUP.sub(" ", out[-1])))):
                out.append(sentence)
                continue
            markers = marker_numbers(sentence)
            if out and markers:
                out[-1] = attach_marker(out[-1], " ".join(f"[{n}]" for n in markers))
            else:
                orphans.extend(markers)
        return self.side_clauses_of(out) or self.listing(orphans)

    def side_clauses_of(self, sentences: list[str]) -> list[str]:
        """For a comparison, each sentence cut where it turns to the other side (`side_clauses`)."""
        if not self.profile.is_(Kind.COMPARISON):
            return sentences
        return [clause for sentence in sentences for clause in self.side_clauses(sentence)]

    def side_clauses(self, sentence: str) -> list[str]:
        """A comparison's sentence that turns from one side to the other ("A uses X, while the second uses Y [2].")
        as one sentence per side, a clause without markers of its own given the sentence's last ones: each is
        checked against the papers it cites (and re-cited to the other side's paper if that one states it)."""
        def claim_sized(text: str) -> bool:
            return len(content_terms(MARKER_GROUP.sub(" ", text))) >= self.policy.min_claim_terms

        def figured(text: str) -> bool:
            return bool(numbers_in(MARKER_GROUP.sub(" ", text)) - self.question_numbers)

        turns = [match for turns in SIDE_TURNS for match in turns.finditer(sentence)]
        turns += [match for match in FIGURE_TURN.finditer(sentence)
                  if figured(sentence[: match.start()]) and figured(sentence[match.end() :])]
        turn = next((match for match in turns
                     if claim_sized(sentence[: match.start()]) and claim_sized(sentence[match.end() :])), None)
        if turn is None:
            return [sentence]
        first, second = sentence[: turn.start()].rstrip(" ,;"), sentence[turn.end() :]
        markers = marker_numbers(second)
        if not marker_numbers(first) and markers:
            first = attach_marker(first, " ".join(f"[{n}]" for n in markers))
        first = first if first[-1:] in ".!?" else f"{first}."
        return [first, *self.side_clauses(second[0].upper() + second[1:])]

    def marker_first_items(self, answer: str) -> list[str]:
        """A reply written as ``[1] Claim or title. [2] ...``: each marker belongs to the text after it.

        When the marker is the grammatical subject (``[1] trains a U-Net ...``), the item is noted in
        `subject_items`: the "list item" rule keeps it only if that paper fits the question, and its title is
        written in front.
        """
        items: list[str] = []
        orphans: list[int] = []
        matches = list(MARKER_GROUP.finditer(answer))
        for i, match in enumerate(matches):
            numbers = parse_numbers(match.group(1))
            text = answer[match.end() : matches[i + 1].start() if i + 1 < len(matches) else len(answer)].strip()
            if not set(content_terms(text)) - POINTER_TERMS:
                orphans.extend(numbers)
                continue
            single = len(numbers) == 1 and numbers[0] in self.sources
            subject = single and self.marker_is_subject(text)
            if single and not subject and self.restates_question(text) and not self.adds_from_paper(text, numbers[0]):
                text = self.sources[numbers[0]].source.title.strip()  # "[1] What you asked.": its title
            text = text if text[-1] in ".!?" else f"{text}."
            item = attach_marker(text, " ".join(f"[{n}]" for n in [*orphans, *numbers]))
            if subject:
                self.subject_items.add(item)
            items.append(item)
            orphans = []
        return items or self.listing(orphans)

    def marker_is_subject(self, text: str) -> bool:
        """``trains a U-Net ...`` or the question's own verb (``Which paper traces ...`` -> ``Traces ...``)."""
        first = text.split()[0]
        verb = self.profile.which_paper_verb
        return first[:1].islower() or bool(verb and first.casefold().removesuffix("s") ==
                                           verb.casefold().removesuffix("s"))

    def restates_question(self, text: str) -> bool:
        """For "Which paper ...?", an item that only says back what the question asks (``[1] Trains a U-Net on
        WINDSET.``): it means "paper 1 is the one", which its title says."""
        terms = set(content_terms(text)) - POINTER_TERMS
        return bool(self.profile.which_paper_verb and terms and self.says_back(terms))

    # --- the check ----------------------------------------------------------------------------------
    def decide(self, case: ClaimCase, rules) -> Verdict | None:
        return next((v for rule in rules if (v := rule.apply(case)) is not None), None)

    def check(self, answer: str) -> CheckedAnswer:
        """The answer with repaired markers, one `Citation` per cited source (first use's quote), and the trail."""
        quotes: dict[int, str] = {}
        sentences_out: list[str] = []
        trail: list[RuleHit] = []
        dropped = 0

        def record(verdict: Verdict, text: str, cited: list[int]) -> None:
            nonlocal dropped
            if verdict.action != Action.KEEP or set(verdict.numbers) != set(cited):
                trail.append(RuleHit(rule=verdict.rule, action=verdict.action.value, claim=" ".join(text.split()),
                                     cited=cited, kept=list(verdict.numbers), reason=verdict.reason))
                dropped += verdict.action == Action.DROP

        sentences = self.sentences(answer)
        for index, sentence in enumerate(sentences):
            if self.forced and index == 1 and any(hit.rule == FORCED_NAME.name for hit in trail):
                # the opened reply began about a name its paper does not name: what follows goes on about that
                # paper, not about what the question asks
                trail.append(RuleHit(rule=FORCED_NAME.name, action=Action.DROP.value, claim=" ".join(sentences[1:]),
                                     cited=[], kept=[], reason="it follows a first claim about a name its paper "
                                                               "does not name"))
                dropped += len(sentences) - 1
                break
            sentence_claim = self.claim(MARKER_GROUP.sub(" ", sentence))
            cited_before = set(quotes)
            pieces: list[str] = []
            position = 0
            in_sentence: set[int] = set()
            refuted = False  # a claim whose every marker the check removed
            for match in MARKER_GROUP.finditer(sentence):
                text = sentence[position : match.start()]
                numbers = parse_numbers(match.group(1))
                case = ClaimCase(text, numbers, self.claim(text), sentence_claim, sentence in self.subject_items, self)
                verdict = self.decide(case, MARKED_RULES)
                kept = list(verdict.numbers)
                reason = self.why_listed(kept[0]) if verdict.rule == "listed title" and kept else ""
                if verdict.rule == "listed title":  # a title that fits is listed with why; one that does not goes
                    text = self.with_reason(kept[0], text, reason) if kept else ""
                elif verdict.rule == "list item":
                    text = f"{self.source_title(kept[0])} {text[0].lower()}{text[1:]}" if kept else ""
                if (verdict.rule != "listed title" and len(kept) == 1 and self.profile.names_a_paper
                        and content_terms(text) and not self.adds_to_question(text, kept)
                        and not self.adds_from_paper(text, kept[0])):
                    # "<title> <the question said back> [1]" names the paper but not why: listed as a title is,
                    # with why, quoted (unless the sentence already says what that quote does)
                    reason = self.why_listed(kept[0])
                    if self.says_back(set(content_terms(reason)), set(content_terms(text))):
                        reason = ""
                    else:
                        text = self.with_reason(kept[0], self.source_title(kept[0]), reason)
                if content_terms(text) or verdict.rule == "listed title":
                    record(verdict, sentence if verdict.action == Action.DROP else text, numbers)
                refuted |= not kept and bool(content_terms(text))
                if not content_terms(text):
                    kept = [n for n in kept if n not in in_sentence]  # "[1] [1]": once is enough
                in_sentence.update(kept)
                for n in kept:
                    quotes.setdefault(n, reason if reason else
                                      self.sources[n].quote(case.claim.terms if verdict.rule == "list item" else
                                                            self.judged_claim(case).terms))
                pieces.append(text + "".join(f" [{n}]" for n in kept))
                position = match.end()
            tail = sentence[position:]
            # a sentence citing nothing, or the words after its last marker
            rules = UNMARKED_RULES if not pieces else TAIL_RULES if content_terms(tail) else ()
            if rules:  # a tail is judged against the papers its sentence cites
                case = ClaimCase(tail, sorted(in_sentence), self.claim(tail), sentence_claim, False, self)
                if (verdict := self.decide(case, rules)) is not None:
                    record(verdict, tail, [])
                    if verdict.action == Action.DROP:
                        if not pieces or verdict.rule == FORCED_NAME.name:
                            # "According to [1], Sophia ...": the tail is what the sentence says; its markers go too
                            for n in set(quotes) - cited_before:
                                del quotes[n]
                            continue
                        tail = "."
                    else:
                        best = verdict.numbers[0]
                        quotes.setdefault(best, self.sources[best].quote(case.claim.terms))
                        tail = attach_marker(tail, f"[{best}]")
            pieces.append(tail)
            if refuted and not in_sentence:
                continue  # every paper it cited was checked and found not to say it (or not to fit the question)
            # empty when a listed title was dropped; no marker but those kept, even one spliced from the
            # reply's stray brackets where a marker was removed ("[1[0]1]" -> "[11]")
            sentences_out.append(only_cited_markers(tidy("".join(pieces)), set(quotes)))
        if self.judge is not None:  # a list: every paper the judge accepts, named or not (even if no claim stood)
            for n in self.sources:
                if n not in quotes and self.judged(n):
                    quotes[n] = self.why_listed(n)
                    sentences_out.append(attach_marker(f"{self.with_reason(n, self.source_title(n), quotes[n])}.",
                                                       f"[{n}]"))
                    trail.append(RuleHit(rule="judged in", action="add", claim=self.title_line(n), cited=[], kept=[n],
                                         reason="the model judged it one of the papers asked for"))
        citations = [
            Citation(number=n, paper_id=self.sources[n].source.paper_id, title=self.sources[n].source.title,
                     quote=quote)
            for n, quote in quotes.items()
        ]
        if len(quotes) > 1:  # "the first paper" says which only with its name
            sentences_out = [self.named(sentence) for sentence in sentences_out]
        # a small model may loop on one sentence: say it once; a list has a line per sentence (mostly per paper)
        separator = "\n" if self.profile.lists_papers else " "
        text = separator.join(dict.fromkeys(s for s in sentences_out if re.search(r"\w", s)))
        return CheckedAnswer(text, citations, trail, dropped)

    def named(self, sentence: str) -> str:
        """A sentence about one cited paper that describes it without naming it, with its name:
        ``The first paper uses ... [2].`` -> ``The first paper (CompeteSMoE) uses ... [2].``."""
        cited = set(marker_numbers(sentence))
        described = DESCRIBED_PAPER.match(sentence)
        if len(cited) != 1 or described is None or (number := cited.pop()) not in self.sources:
            return sentence
        name = short_name(self.sources[number].source.title, self.policy.short_name_words)
        if letters_and_digits(name) in letters_and_digits(sentence):
            return sentence
        return f"{sentence[:described.end()]} ({name}){sentence[described.end():]}"


def short_name(title: str, words: int = AnswerPolicy.short_name_words) -> str:
    """``"BRAVE: Broadening the visual encoding"`` -> ``"BRAVE"``; a title without a short head stays whole."""
    head = re.split(r":|\s--?\s", title, maxsplit=1)[0].strip()
    return head if len(head.split()) <= words else title.strip()


def tidy(sentence: str) -> str:
    """No space before punctuation, no comma before a marker: ``"on ImageNet, [1] ."`` -> ``"on ImageNet [1]."``."""
    sentence = re.sub(r"\s*[,;:]\s*(?=\[\d)", " ", sentence)
    return re.sub(r"\s+([.,;:!?])", r"\1", sentence).strip()


def only_cited_markers(sentence: str, cited: set[int]) -> str:
    """The sentence without any marker naming a source outside ``cited``."""
    def keep(match: re.Match) -> str:
        numbers = parse_numbers(match.group(1))
        return match.group(0) if numbers and set(numbers) <= cited else ""
    return MARKER_GROUP.sub(keep, sentence).strip()


def split_leading_markers(sentence: str) -> tuple[str, str]:
    """``"[1] [2] Claim."`` -> ``("[1] [2]", "Claim.")``."""
    position = 0
    while match := MARKER_GROUP.match(sentence, position):
        position = match.end()
    return sentence[:position].strip(), sentence[position:].strip()


def attach_marker(text: str, markers: str) -> str:
    """Put markers such as ``"[2]"`` before the sentence's final punctuation."""
    stripped = text.rstrip()
    if stripped and stripped[-1] in ".!?":
        return f"{stripped[:-1]} {markers}{stripped[-1]}"
    return f"{stripped} {markers}"
