"""Whether a paper states a claim: its words (IDF-weighted), its numbers and names, and what each figure measures.

A `Claim` is a piece of an answer reduced to what can be checked: its content terms, the numbers and names it adds
to the question, the names beside each number it states (what the figure measures: "mIoU on ADE20K") and the
multipliers it states ("3x faster"). A `SourceText` is a paper prepared for matching; `SourceText.problem` says
what of a claim the paper does not state, or None when it states all of it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from rag.answering.answer import Source
from rag.answering.markers import MARKER
from rag.answering.policy import AnswerPolicy
from rag.answering.profile import JOINED_WORD, WORD_WITH_HYPHENS, is_name
from rag.text import content_terms, split_sentences

MARKER_GROUP = re.compile(r"\s*" + MARKER.pattern, re.IGNORECASE)  # a marker with the space before it
NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?")
MULTIPLIER = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)\s*-?\s*(?:times\b|x\b|×|fold\b)"
                        r"|\bfactor\s+of\s+(\d+(?:\.\d+)?)", re.IGNORECASE)
# numbers in words ("one" is left out: "the largest one")
NUMBER_WORDS = re.compile(r"\b(?:two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty"
                          r"|hundreds?|thousands?|millions?|billions?|trillions?|dozens?|twice|thrice|half|double"
                          r"|triple|quadruple)\b", re.IGNORECASE)


SPELLED = {word: str(value) for value, word in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen "
    "eighteen nineteen twenty".split())} | {"thirty": "30", "forty": "40", "fifty": "50", "sixty": "60",
                                           "seventy": "70", "eighty": "80", "ninety": "90", "hundred": "100"}
SPELLED_NUMBER = re.compile(rf"\b({'|'.join(SPELLED)})(-?fold)?\b", re.IGNORECASE)


def spelled_numbers(text: str) -> tuple[set[str], set[str]]:
    """Numbers written in words, as digits: all of them, and those not written as a multiplier ("fourfold"):
    ``"four datasets, a fivefold speed-up"`` -> ``({"4", "5"}, {"4"})``."""
    found = [(SPELLED[word.casefold()], bool(fold)) for word, fold in SPELLED_NUMBER.findall(text)]
    return {n for n, _ in found}, {n for n, fold in found if not fold}


def without_separators(text: str) -> str:
    """``"4,000 times"`` -> ``"4000 times"``."""
    return re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)


def multipliers_in(text: str) -> set[str]:
    """Numbers written as a multiplier: ``"1.37times faster, 3x, 2.5-fold, 4,000 times, a factor of 4.0"`` ->
    ``{"1.37", "3", "2.5", "4000", "4"}``."""
    return {plain_number(a or b) for a, b in MULTIPLIER.findall(without_separators(text))}


def plain_number(number: str) -> str:
    """A number without a decimal part of zeros: ``"4.0"`` -> ``"4"``, ``"2.50"`` -> ``"2.5"``."""
    return (number.rstrip("0").rstrip(".") or "0") if "." in number else number


def numbers_in(text: str) -> set[str]:
    """Numbers as written, thousands separators and trailing decimal zeros dropped: ``"1,024 and 3.50"`` ->
    ``{"1024", "3.5"}``."""
    return {plain_number(n) for n in NUMBER.findall(without_separators(text))}


def states_figure(answer: str, question: str) -> bool:
    """Whether the answer gives a number the question does not, in digits or in words ("three", "twice"); its
    ``[n]`` markers are not numbers."""
    text = MARKER_GROUP.sub(" ", answer)
    words = {w.casefold() for w in NUMBER_WORDS.findall(text)} - {w.casefold() for w in NUMBER_WORDS.findall(question)}
    return bool(numbers_in(text) - numbers_in(question) or words)


MAGNITUDE = re.compile(r"(?<=\d)\s*(thousand|million|billion|trillion)\b")


def letters_and_digits(text: str) -> str:
    """``"GPT-4o, CIFAR 10"`` -> ``"gpt4ocifar10"``: the form in which names are compared; a magnitude in words is
    its letter, as in "85M" (``"85 million"`` -> ``"85m"``)."""
    text = MAGNITUDE.sub(lambda m: m.group(1)[0], text.casefold())
    return re.sub(r"[\W_]", "", text)


def name_head(word: str) -> str:
    """A name with a lower-case word joined after it names its head: "FFT-computed" -> "FFT", "GPT-2-based" ->
    "GPT-2" (not "Mixture-of-Experts", whose head is no name)."""
    head = JOINED_WORD.sub("", word, count=1)
    return head if is_name(head) else word


def names_in(text: str) -> set[str]:
    """Words with a capital after their first letter (`is_name`), as `letters_and_digits`, by their head
    (`name_head`), a plural ``s`` dropped: the names of venues, methods, models and datasets a claim can invent."""
    heads = (name_head(w) for w in WORD_WITH_HYPHENS.findall(text) if is_name(w))
    return {letters_and_digits(w.removesuffix("s") if w[-2:-1].isupper() else w) for w in heads}


def measures_in(text: str, known: set[str], window: int) -> tuple[set[str], set[tuple[str, frozenset[str]]]]:
    """The names standing next to a figure outside ``known`` (within ``window`` words either side): what it is
    said to measure; and each such figure with the names right after it (its unit and benchmark).
    ``"a GLUE average of 5.6 BLEU on WMT14"`` -> ``({"glue", "bleu", "wmt14"}, {("5.6", {"bleu", "wmt14"})})``."""
    words = text.split()
    beside: set[str] = set()
    following: set[tuple[str, frozenset[str]]] = set()
    for i, word in enumerate(words):
        if figures := numbers_in(word) - known:
            beside |= names_in(" ".join(words[max(0, i - window) : i + window + 1]))
            after = frozenset(names_in(" ".join(words[i + 1 : i + window + 1])))
            following |= {(figure, after) for figure in figures if after}
    return beside, following


# a sentence about the paper's own work, not its field's background
OWN_VOICE = re.compile(r"\b(?:we|our|us|here(?:in)?|this (?:paper|work|study|article|thesis)|the proposed)\b",
                       re.IGNORECASE)
INTRODUCES = re.compile(r"\b(?:propos|introduc|present|develop|describ|term|call|nam|dub|coin)\w*", re.IGNORECASE)
# how an abstract names what it introduces, within a few words of the verb: "... Graph Convolutional Network
# (HiGCN)", "a method named OptFS", "We present FastRP, a ..."
DEFINED = re.compile(r"(\S+)\s+\(([^\W_][\w-]*)\)")
NAMED = re.compile(r"\b(?:named|called|termed|dubbed|coined)\s+(?:it\s+)?(?:as\s+)?[\"“']?([^\W_][\w-]*)",
                   re.IGNORECASE)
APPOSITION = re.compile(r"\b(?:[Pp]ropose|[Ii]ntroduce|[Pp]resent|[Dd]evelop|[Dd]escribe)s?\s+"
                        r"(?:(?:a|an)\s+(?:new\s+|novel\s+)?[\w-]+,\s+)?([A-Z][\w-]*)(?=[,:(]|\s+(?:is|as)\b)")
NAME_REACH = 80  # characters after the verb within which the name starts


def introduced_names(sentences: list[str], known: str = "") -> Iterator[str]:
    """The names a paper gives what it introduces, in order, from its sentences about its own work that introduce
    something: an acronym defined after a capitalised phrase or in mixed case ("Practical Plug-And-Play (PPAP)",
    "parallel scaling (ParScale)", not "deep neural networks (DNNs)"), a word with a capital after its first letter
    after "named", "called", ..., or a capitalised word set off by a comma after the verb ("We present FastRP,").
    Words of ``known`` are left out: ``"In this paper, we propose a novel method named OptFS."`` -> ``OptFS``."""
    said = {letters_and_digits(w) for w in WORD_WITH_HYPHENS.findall(known)}
    for sentence in sentences:
        if not OWN_VOICE.search(sentence):
            continue
        for verb in INTRODUCES.finditer(sentence):
            after = sentence[verb.start():]
            near = [m for pattern in (DEFINED, NAMED, APPOSITION) for m in pattern.finditer(after)
                    if m.start(m.lastindex or 0) <= NAME_REACH]
            found = [m.group(2) for m in near if m.re is DEFINED and any(c.isupper() for c in m.group(2)) and (
                m.group(1)[:1].isupper() or any(c.islower() for c in m.group(2).removesuffix("s")[1:]))]
            found += [m.group(1) for m in near if m.re is NAMED and names_in(m.group(1))]
            found += [m.group(1) for m in near if m.re is APPOSITION]
            for name in found:
                if letters_and_digits(name) not in said:
                    yield name.rstrip("-")


def spells_out(acronym: str, sentence: str, policy: AnswerPolicy) -> bool:
    """Whether the sentence's words start with the acronym's letters in order, within ``acronym_slack`` more words
    than it has letters (RL: "reinforcement, and other types of learning"); only for short acronyms."""
    if not acronym.isalpha() or len(acronym) > policy.acronym_letters:
        return False
    initials = [w[0] for w in WORD_WITH_HYPHENS.findall(sentence.casefold())]
    for start, initial in enumerate(initials):
        if initial != acronym[0]:
            continue
        rest = iter(initials[start + 1 : start + len(acronym) + policy.acronym_slack])
        if all(letter in rest for letter in acronym[1:]):
            return True
    return False


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

    @classmethod
    def of(cls, text: str, question_numbers: set[str], question_letters: str, policy: AnswerPolicy) -> Claim:
        """The claim a piece of text makes beyond a question (its numbers and ``letters_and_digits``)."""
        names = frozenset(n for n in names_in(text) if n not in question_letters)
        beside, following = measures_in(text, question_numbers, policy.measure_window)
        return cls(set(content_terms(text)), numbers_in(text) - question_numbers, names, frozenset(beside),
                   frozenset(following), frozenset(multipliers_in(text)))


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
    policy: AnswerPolicy

    @classmethod
    def of(cls, source: Source, policy: AnswerPolicy) -> SourceText:
        """The paper's numbers include those it spells out ("four datasets" states 4)."""
        sentences = [(s, set(content_terms(s))) for s in split_sentences(source.abstract)]
        terms = set(content_terms(source.title)).union(*(t for _, t in sentences))
        text = f"{source.title} {source.abstract}"
        statements = [(t, numbers_in(t) | spelled_numbers(t)[0], letters_and_digits(t))
                      for t in [source.title, *(s for s, _ in sentences)]]
        spelled, spelled_plain = spelled_numbers(text)
        return cls(source, terms, numbers_in(text) | spelled, sentences, letters_and_digits(text), statements,
                   numbers_in(MULTIPLIER.sub(" ", without_separators(text))) | spelled_plain, policy)

    def problem(self, claim: Claim) -> str | None:
        """What of the claim this paper does not state, or None: every number and name the claim adds to the
        question, and every name beside a number it states, occurs in it; each figure occurs in one sentence with
        the names right after it; a figure it gives only as a multiplier ("1.37times faster") is one in the claim
        too."""
        if missing := sorted(claim.numbers - self.numbers):
            return f"does not state {', '.join(missing)}"
        if plain := sorted(claim.numbers - claim.multipliers - self.plain_numbers):
            return f"gives {', '.join(plain)} only as a multiplier"
        if unnamed := sorted(n for n in claim.names if n not in self.letters):
            return f"does not name {', '.join(unnamed)}"
        if unmeasured := sorted(n for n in claim.measures if n not in self.letters and not any(
                spells_out(n, s, self.policy) for s, _ in self.sentences)):
            return f"reports nothing on {', '.join(unmeasured)}"
        for figure, names in sorted(claim.figures, key=lambda f: (f[0], sorted(f[1]))):
            if not self.gives(figure, names):
                return f"does not give {figure} as {' '.join(sorted(names))}"
        return None

    def states(self, claim: Claim) -> bool:
        return self.problem(claim) is None

    def names(self, name: str) -> bool:
        """Whether the paper names ``name``: as written, or an acronym spelt out in its title or one sentence
        ("CNNs": "convolutional neural networks")."""
        letters = letters_and_digits(name)
        acronym = letters.removesuffix("s") if re.fullmatch(r"[A-Z]+s", name) else letters
        return letters in self.letters or any(spells_out(acronym, text, self.policy) for text, _, _ in self.statements)

    def gives(self, figure: str, names: frozenset[str]) -> bool:
        """Whether one sentence (or the title) states ``figure`` with all ``names``, each in it, in the title, or
        an acronym spelt out in it ("27.1 mIoU on ADE20K" is not given by "27.1 PQ on ADE20K", even if the paper
        reports mIoU elsewhere)."""
        title_letters = self.statements[0][2]
        return any(figure in numbers and all(name in title_letters or name in letters
                                             or spells_out(name, text, self.policy) for name in names)
                   for text, numbers, letters in self.statements)

    def quote(self, claim: set[str]) -> str:
        """The abstract sentence sharing the most terms with the claim."""
        best = max(self.sentences, key=lambda item: len(claim & item[1]), default=("", set()))
        return best[0]
