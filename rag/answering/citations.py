"""Checking an LLM answer's citations against the abstracts it was given.

Each sentence is cut into claims, one per group of ``[n]`` markers (the text since the previous group). A marker
stays only if it names a provided source that supports its claim: enough of the claim's content words, weighted by
their rarity in the collection (IDF), occur in that source's title and abstract, and every number and every name (a
word with a capital after its first letter: NeurIPS, LoRA, GPT-4) the claim adds to the question occurs there too,
as do the names beside a number it states (what the figure measures: "mIoU on ADE20K", even when the question named
them). One sentence must give the figure with the names right after it ("27.1 PQ on ADE20K" does not give "27.1
mIoU on ADE20K"), and a figure the paper gives only as a multiplier ("1.37times faster") is not a plain value. A
wrong marker is replaced by the source that does support the claim, or removed; a sentence left with none of the
citations it made is dropped (the answer shows no claim its sources were found not to make). An unmarked claim that
one source clearly supports gets that source, unless it only says back the question; one stating a figure or name
that no source on the question's topic supports is dropped. A cited paper must be on the question's topic (`on_topic`),
however short its claim. Every kept citation carries the abstract sentence that best supports it.

Small models also write markers apart from their claims: a leading ``[1] Claim.`` is moved to the end, a sentence
after a claim that only points at a source ("[2]", "This score is from [2].") belongs to that claim, and a reply made
only of markers (the answer to "which papers ...?") becomes one sentence per paper, each checked against the
question. In an answer citing several papers, a sentence that describes its one cited paper without naming it ("The
first paper ...", "The VLM paper that ...") gets the paper's short name after the description.

Given a judge (`rag.answering.judge.PaperJudge`, for a question asking which papers), the judge decides which
papers fit the question: a citation of a paper it rejects is dropped (with its sentence, if it had no other),
and every paper it accepts that the reply left out is listed by title.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from rag.answering.answer import Citation, Source
from rag.answering.markers import MARKER, marker_numbers, parse_numbers
from rag.text import content_terms, split_sentences

MARKER_GROUP = re.compile(r"\s*" + MARKER.pattern, re.IGNORECASE)  # a marker with the space before it
MIN_CLAIM_TERMS = 3
CLEAR_MARGIN = 0.15
LIST_FLOOR = 0.85  # a listed paper must cover this share of the support threshold of the question ...
LIST_RELATIVE = 0.75  # ... and this share of the best source's coverage
TITLE_SHARE = 0.6  # text naming at least this share of a title's terms (and nothing else) names that paper
WHICH_PAPER = re.compile(r"\s*(?:which|what)\s+papers?\s+(\w+)", re.IGNORECASE)
RESTATED_SHARE = 0.8  # an item with at least this share of its terms from the question only restates it
# Words of sentences that only point at a source ("This is stated in [1].", "This figure is from paper [2].").
POINTER_TERMS = frozenset(content_terms(
    "this is stated mentioned described reported presented discussed noted explained found given see refer according "
    "source abstract information paper figure number value score result"))
# "The first paper ...", "The VLM paper that ...", "This method ...": a sentence about a paper it describes
DESCRIBED_PAPER = re.compile(r"^(?:the|this|that)\s+(?:[\w-]+\s+){0,4}?"
                             r"(?:paper|method|work|study|approach|model|framework|technique)\b", re.IGNORECASE)
SHORT_NAME_WORDS = 5  # a title's part before its colon names the paper if it has at most this many words
NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?")
MULTIPLIER = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)\s*-?\s*(?:times\b|x\b|×|fold\b)", re.IGNORECASE)
ACRONYM_LETTERS, ACRONYM_SLACK = 5, 4  # an acronym of at most 5 letters may spread over 4 more words than letters
MEASURE_WINDOW = 4  # names this many words either side of a stated figure say what it measures ("mIoU of 41 on ADE20K")
WORD_WITH_HYPHENS = re.compile(r"[^\W_](?:[\w-]*[^\W_])?")
# numbers in words ("one" is left out: "the largest one")
NUMBER_WORDS = re.compile(r"\b(?:two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty"
                          r"|hundreds?|thousands?|millions?|billions?|trillions?|dozens?|twice|thrice|half|double"
                          r"|triple|quadruple)\b", re.IGNORECASE)


def multipliers_in(text: str) -> set[str]:
    """Numbers written as a multiplier: ``"1.37times faster, 3x, 2.5-fold"`` -> ``{"1.37", "3", "2.5"}``."""
    return set(MULTIPLIER.findall(text))


def numbers_in(text: str) -> set[str]:
    """Numbers as written, thousands separators dropped: ``"1,024 and 3.5"`` -> ``{"1024", "3.5"}``."""
    return set(NUMBER.findall(re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)))


def states_figure(answer: str, question: str) -> bool:
    """Whether the answer gives a number the question does not, in digits or in words ("three", "twice"); its
    ``[n]`` markers are not numbers."""
    text = MARKER_GROUP.sub(" ", answer)
    words = {w.casefold() for w in NUMBER_WORDS.findall(text)} - {w.casefold() for w in NUMBER_WORDS.findall(question)}
    return bool(numbers_in(text) - numbers_in(question) or words)


def measures_in(text: str, known: set[str]) -> tuple[set[str], set[tuple[str, frozenset[str]]]]:
    """The names standing next to a figure outside ``known`` (within `MEASURE_WINDOW` words either side): what it is
    said to measure; and each such figure with the names right after it (its unit and benchmark).
    ``"a GLUE average of 5.6 BLEU on WMT14"`` -> ``({"glue", "bleu", "wmt14"}, {("5.6", {"bleu", "wmt14"})})``."""
    words = text.split()
    beside: set[str] = set()
    following: set[tuple[str, frozenset[str]]] = set()
    for i, word in enumerate(words):
        if figures := numbers_in(word) - known:
            beside |= names_in(" ".join(words[max(0, i - MEASURE_WINDOW) : i + MEASURE_WINDOW + 1]))
            after = frozenset(names_in(" ".join(words[i + 1 : i + MEASURE_WINDOW + 1])))
            following |= {(figure, after) for figure in figures if after}
    return beside, following


def spells_out(acronym: str, sentence: str) -> bool:
    """Whether the sentence's words start with the acronym's letters in order, within `ACRONYM_SLACK` more words
    than it has letters (RL: "reinforcement, and other types of learning"); only for at most `ACRONYM_LETTERS`."""
    if not acronym.isalpha() or len(acronym) > ACRONYM_LETTERS:
        return False
    initials = [w[0] for w in WORD_WITH_HYPHENS.findall(sentence.casefold())]
    for start, initial in enumerate(initials):
        if initial != acronym[0]:
            continue
        rest = iter(initials[start + 1 : start + len(acronym) + ACRONYM_SLACK])
        if all(letter in rest for letter in acronym[1:]):
            return True
    return False


def letters_and_digits(text: str) -> str:
    """``"GPT-4o, CIFAR 10"`` -> ``"gpt4ocifar10"``: the form in which names are compared."""
    return re.sub(r"[\W_]", "", text.casefold())


def names_in(text: str) -> set[str]:
    """Words with a capital after their first letter (NeurIPS, LoRA, GPT-4, KANs), as `letters_and_digits`, a
    plural ``s`` dropped: the names of venues, methods, models and datasets a claim can invent."""
    names = (w.removesuffix("s") if w[-2:-1].isupper() else w
             for w in WORD_WITH_HYPHENS.findall(text) if any(c.isupper() for c in w[1:]))
    return {letters_and_digits(w) for w in names}


@dataclass
class SourceText:
    """A source prepared for matching: content terms of the whole paper and of each sentence."""

    source: Source
    terms: set[str]
    numbers: set[str]
    sentences: list[tuple[str, set[str]]]
    letters: str  # the title and abstract as `letters_and_digits`, where a claim's names are looked up
    statements: list[tuple[str, set[str], str]]  # the title and each sentence, with its numbers and letters
    plain_numbers: set[str]  # numbers written at least once other than as a multiplier ("1.37times")

    @classmethod
    def of(cls, source: Source) -> SourceText:
        sentences = [(s, set(content_terms(s))) for s in split_sentences(source.abstract)]
        terms = set(content_terms(source.title)).union(*(t for _, t in sentences))
        text = f"{source.title} {source.abstract}"
        statements = [(t, numbers_in(t), letters_and_digits(t)) for t in [source.title, *(s for s, _ in sentences)]]
        return cls(source, terms, numbers_in(text), sentences, letters_and_digits(text), statements,
                   numbers_in(MULTIPLIER.sub(" ", text)))

    def states(self, claim: Claim) -> bool:
        """Whether every number and name the claim adds to the question, and every name beside a number it
        states, occurs in this paper; each figure occurs in one sentence with the names right after it, and a
        figure the paper gives only as a multiplier ("1.37times faster") is one in the claim too."""
        return (claim.numbers <= self.numbers and claim.numbers - claim.multipliers <= self.plain_numbers
                and all(name in self.letters for name in claim.names)
                and all(name in self.letters or any(spells_out(name, s) for s, _ in self.sentences)
                        for name in claim.measures)
                and all(self.gives(figure, names) for figure, names in claim.figures))

    def gives(self, figure: str, names: frozenset[str]) -> bool:
        """Whether one sentence (or the title) states ``figure`` with all ``names``, each in it, in the title, or
        an acronym spelt out in it ("27.1 mIoU on ADE20K" is not given by "27.1 PQ on ADE20K", even if the paper
        reports mIoU elsewhere)."""
        title_letters = self.statements[0][2]
        return any(figure in numbers and all(name in title_letters or name in letters or spells_out(name, text)
                                             for name in names)
                   for text, numbers, letters in self.statements)

    def quote(self, claim: set[str]) -> str:
        """The abstract sentence sharing the most terms with the claim."""
        best = max(self.sentences, key=lambda item: len(claim & item[1]), default=("", set()))
        return best[0]


@dataclass(frozen=True)
class Claim:
    """A piece of the answer to check: its content terms, the numbers and names it states beyond the question,
    and the names next to those numbers (a figure taken from a paper must be that paper's figure for that
    measure: "mIoU on ADE20K" is not borne out by a paper reporting mIoU on other benchmarks)."""

    terms: set[str]
    numbers: set[str]
    names: frozenset[str] = frozenset()
    measures: frozenset[str] = frozenset()  # names next to a stated number, the question's own included
    figures: frozenset[tuple[str, frozenset[str]]] = frozenset()  # a stated number, with the names right after it
    multipliers: frozenset[str] = frozenset()  # stated numbers written as multipliers ("3x faster")


@dataclass
class CheckedAnswer:
    text: str
    citations: list[Citation]
    supported_claims: int
    claims: int


class CitationChecker:
    """Validates and repairs ``[n]`` markers against numbered sources (numbers are source ranks)."""

    def __init__(self, sources: list[Source], threshold: float, *, question: str = "",
                 weight: Callable[[str], float] | None = None, on_topic: float = 0.0,
                 judge: Callable[[int], bool | None] | None = None):
        self.sources = {s.rank: SourceText.of(s) for s in sources}
        self.judge = judge
        self.threshold = threshold
        self.on_topic_share = on_topic
        self.question = question
        self.question_terms = set(content_terms(question))
        self.question_numbers = numbers_in(question)
        self.question_letters = letters_and_digits(question)
        self.weight = weight or (lambda term: 1.0)
        self._coverage: dict[int, float] | None = None
        self.subject_items: set[str] = set()

    def claim(self, text: str) -> Claim:
        names = frozenset(n for n in names_in(text) if n not in self.question_letters)
        beside, following = measures_in(text, self.question_numbers)
        return Claim(set(content_terms(text)), numbers_in(text) - self.question_numbers, names, frozenset(beside),
                     frozenset(following), frozenset(multipliers_in(text)))

    def support(self, number: int, claim: Claim) -> float:
        """IDF-weighted share of the claim's terms found in source ``number``; 0 if it lacks a stated number
        or name."""
        source = self.sources[number]
        if not claim.terms or not source.states(claim):
            return 0.0
        total = sum(self.weight(t) for t in claim.terms)
        return sum(self.weight(t) for t in claim.terms & source.terms) / total if total else 0.0

    def best_source(self, claim: Claim) -> tuple[int | None, float, float]:
        """The best supporting source number, its support, and the runner-up's support."""
        ranked = sorted(((self.support(n, claim), n) for n in self.sources), reverse=True)
        if not ranked:
            return None, 0.0, 0.0
        runner_up = ranked[1][0] if len(ranked) > 1 else 0.0
        return ranked[0][1], ranked[0][0], runner_up

    def check_markers(self, numbers: list[int], claim: Claim) -> list[int]:
        """Keep the markers whose source supports the claim; otherwise substitute the one that does."""
        valid = [n for n in dict.fromkeys(numbers) if n in self.sources]
        if len(claim.terms) < MIN_CLAIM_TERMS and not claim.numbers:
            return [n for n in valid if self.on_topic(n)]  # too little to judge by its words; the paper must fit
        kept = [n for n in valid if self.support(n, claim) >= self.threshold]
        if len(valid) > 1:
            # a claim drawing on several papers: each must support part of it, together enough
            partial = [n for n in valid if self.support(n, claim) >= self.threshold / 2]
            union = Claim(set().union(*(claim.terms & self.sources[n].terms for n in partial)), set())
            covered = sum(self.weight(t) for t in union.terms) / max(1e-9, sum(self.weight(t) for t in claim.terms))
            together = " ".join(self.sources[n].letters for n in partial)
            if (covered >= self.threshold and claim.numbers <= set().union(*(self.sources[n].numbers for n in partial))
                    and all(name in together for name in claim.names)):
                kept = partial
        kept = [n for n in kept if self.on_topic(n)]
        if not kept:
            best, support, _ = self.best_source(claim)
            if best is not None and support >= self.threshold and self.on_topic(best):
                kept = [best]
        return kept

    def backed(self, claim: Claim) -> bool:
        """Whether some source on the question's topic supports the claim."""
        return any(self.support(n, claim) >= self.threshold and self.on_topic(n) for n in self.sources)

    def coverage(self) -> dict[int, float]:
        """Each source's (weighted) coverage of the question's terms."""
        if self._coverage is None:
            asked = Claim(self.question_terms, set())
            self._coverage = {n: self.support(n, asked) for n in self.sources}
        return self._coverage

    def answers_question(self, number: int) -> bool:
        """Whether a paper named in a list fits the question: it covers the question's (weighted) terms
        nearly as well as the best source does, and not too little. A question paraphrases, so this is
        more lenient than the support of a claim copied from an abstract."""
        if not self.question or number not in self.sources:
            return False
        if (verdict := self.judged(number)) is not None:
            return verdict
        coverage = self.coverage()
        return coverage[number] >= max(LIST_FLOOR * self.threshold, LIST_RELATIVE * max(coverage.values()))

    def judged(self, number: int) -> bool | None:
        """The judge's verdict on paper ``number`` (None without a judge, or when it cannot say)."""
        return self.judge(number) if self.judge is not None else None

    def on_topic(self, number: int) -> bool:
        """Whether a cited paper is about what the question asks, not merely a paper holding the claim's words:
        it covers at least ``on_topic`` of the best source's coverage of the question (always, when 0), and the
        judge, if any, does not say otherwise."""
        if self.judged(number) is False:
            return False
        if not self.question or not self.on_topic_share:
            return True
        coverage = self.coverage()
        return coverage[number] >= self.on_topic_share * max(coverage.values())

    def listing(self, numbers: list[int]) -> list[str]:
        """A reply of bare markers answers "which papers": one sentence per source that fits the question."""
        return [self.title_line(n) for n in dict.fromkeys(numbers) if self.answers_question(n)]

    def title_line(self, number: int) -> str:
        """Paper ``number`` named by its title: ``"FedPara: Low-Rank Updates [3]."``."""
        title = self.sources[number].source.title.strip()
        return attach_marker(title if title[-1:] in ".!?" else f"{title}.", f"[{number}]")

    def sentences(self, answer: str) -> list[str]:
        """The reply's sentences with markers next to their claims (see the module docstring)."""
        if MARKER_GROUP.match(answer.strip()):
            return self.marker_first_items(answer.strip())
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
        return out or self.listing(orphans)

    def marker_first_items(self, answer: str) -> list[str]:
        """A reply written as ``[1] Claim or title. [2] ...``: each marker belongs to the text after it.

        When the marker is the grammatical subject (``[1] trains a U-Net ...``), the item is noted in
        `subject_items`: `check` keeps it only if that paper fits the question, and writes its title in front.
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
            if single and not subject and self.restates_question(text):
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
        asked = WHICH_PAPER.match(self.question)
        return first[:1].islower() or bool(asked and first.casefold().removesuffix("s") ==
                                           asked.group(1).casefold().removesuffix("s"))

    def restates_question(self, text: str) -> bool:
        """For "Which paper ...?", an item that only says back what the question asks (``[1] Trains a U-Net on
        WINDSET.``): it means "paper 1 is the one", which its title says."""
        terms = set(content_terms(text)) - POINTER_TERMS
        return bool(WHICH_PAPER.match(self.question) and terms and self.says_back(terms))

    def says_back(self, terms: set[str]) -> bool:
        """Whether at least `RESTATED_SHARE` of these terms are the question's."""
        return len(terms & self.question_terms) >= RESTATED_SHARE * len(terms)

    def titled_source(self, text: str, numbers: list[int]) -> int | None:
        """The source whose title ``text`` is (most of), preferring the cited ones: then the claim is only
        "this paper answers the question". Small models often list titles under the wrong number."""
        terms = set(content_terms(text))
        if not terms:
            return None
        for n in [*numbers, *self.sources]:
            title = set(content_terms(self.sources[n].source.title)) if n in self.sources else set()
            if terms <= title and len(terms) >= TITLE_SHARE * len(title):
                return n
        return None

    def check(self, answer: str) -> CheckedAnswer:
        """The answer with repaired markers, and one `Citation` per cited source (first use's quote)."""
        quotes: dict[int, str] = {}
        sentences_out: list[str] = []
        claims = supported = 0
        for sentence in self.sentences(answer):
            sentence_claim = self.claim(MARKER_GROUP.sub(" ", sentence))
            pieces: list[str] = []
            position = 0
            in_sentence: set[int] = set()
            refuted = False  # a claim whose every marker the check removed
            for match in MARKER_GROUP.finditer(sentence):
                text = sentence[position : match.start()]
                numbers = parse_numbers(match.group(1))
                claim = self.claim(text)
                titled = self.titled_source(text, numbers) if self.question else None
                if titled is not None:  # a listed title: keep it if that paper fits the question
                    kept = [titled] if self.answers_question(titled) else []
                    claim = Claim(self.question_terms, set())
                    text = text if kept else ""
                elif sentence in self.subject_items and content_terms(text):
                    # "[n] trains ...": paper n must fit the question; its title becomes the subject
                    kept = [n for n in numbers if self.judged(n) is not False and (self.answers_question(n) or (
                        n in self.sources and self.support(n, claim) >= self.threshold))][:1]
                    text = f"{self.sources[kept[0]].source.title} {text[0].lower()}{text[1:]}" if kept else ""
                else:
                    if len(claim.terms) < MIN_CLAIM_TERMS:
                        claim = sentence_claim
                    kept = self.check_markers(numbers, claim)
                kept = [n for n in kept if self.judged(n) is not False]
                refuted |= not kept and bool(content_terms(text))
                if not content_terms(text):
                    kept = [n for n in kept if n not in in_sentence]  # "[1] [1]": once is enough
                in_sentence.update(kept)
                claims += 1
                supported += bool(kept)
                for n in kept:
                    quotes.setdefault(n, self.sources[n].quote(claim.terms))
                pieces.append(text + "".join(f" [{n}]" for n in kept))
                position = match.end()
            tail = sentence[position:]
            tail_claim = self.claim(tail)
            best, support, runner_up = self.best_source(tail_claim)
            if len(tail_claim.terms) >= MIN_CLAIM_TERMS + 1:
                claims += 1
                if best is not None and support >= self.threshold:
                    supported += 1
                    if (not pieces and support >= self.threshold + CLEAR_MARGIN and support > runner_up
                            and self.on_topic(best) and self.tells_more(tail)):
                        quotes.setdefault(best, self.sources[best].quote(tail_claim.terms))
                        tail = attach_marker(tail, f"[{best}]")
            if not pieces and (tail_claim.numbers or tail_claim.names) and not self.backed(tail_claim):
                continue  # an uncited figure or name that no paper on the question's topic supports
            pieces.append(tail)
            if refuted and not in_sentence:
                continue  # every paper it cited was checked and found not to say it (or not to fit the question)
            # empty when a listed title was dropped; no marker but those kept, even one spliced from the
            # reply's stray brackets where a marker was removed ("[1[0]1]" -> "[11]")
            sentences_out.append(only_cited_markers(tidy("".join(pieces)), set(quotes)))
        if quotes and self.judge is not None:  # a list: every paper the judge accepts, named or not
            for n in self.sources:
                if n not in quotes and self.judged(n):
                    quotes[n] = self.sources[n].quote(self.question_terms)
                    sentences_out.append(self.title_line(n))
        citations = [
            Citation(number=n, paper_id=self.sources[n].source.paper_id, title=self.sources[n].source.title,
                     quote=quote)
            for n, quote in quotes.items()
        ]
        if len(quotes) > 1:  # "the first paper" says which only with its name
            sentences_out = [self.named(sentence) for sentence in sentences_out]
        # a small model may loop on one sentence: say it once
        text = " ".join(dict.fromkeys(s for s in sentences_out if re.search(r"\w", s)))
        return CheckedAnswer(text, citations, supported, claims)

    def tells_more(self, text: str) -> bool:
        """Whether ``text`` says more than the question: a number or name it lacks, or enough other words."""
        claim = self.claim(text)
        return bool(claim.numbers or claim.names) or not self.says_back(claim.terms - POINTER_TERMS)

    def named(self, sentence: str) -> str:
        """A sentence about one cited paper that describes it without naming it, with its name:
        ``The first paper uses ... [2].`` -> ``The first paper (CompeteSMoE) uses ... [2].``."""
        cited = set(marker_numbers(sentence))
        described = DESCRIBED_PAPER.match(sentence)
        if len(cited) != 1 or described is None or (number := cited.pop()) not in self.sources:
            return sentence
        name = short_name(self.sources[number].source.title)
        if letters_and_digits(name) in letters_and_digits(sentence):
            return sentence
        return f"{sentence[:described.end()]} ({name}){sentence[described.end():]}"


def short_name(title: str) -> str:
    """``"BRAVE: Broadening the visual encoding"`` -> ``"BRAVE"``; a title without a short head stays whole."""
    head = re.split(r":|\s--?\s", title, maxsplit=1)[0].strip()
    return head if len(head.split()) <= SHORT_NAME_WORDS else title.strip()


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
