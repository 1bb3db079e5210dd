"""Misspelt question words read as the word the papers use ("paramters" -> "parameters", "accuarcy" -> "accuracy").

A misspelt word is invisible to BM25, to the citation check's word overlap and to the question's profile ("what
acuracy ..." asks for a figure). A word is corrected only when it is a likely typo: lowercase letters only (never a
name such as QLoRA or RetNet), at least ``MIN_LETTERS`` long, neither an English word (SymSpell's frequency list)
nor a word of the collection; and its correction is the most frequent English word one letter longer or with two
neighbouring letters swapped (the commonest slips: a letter left out, two letters typed in the wrong order) that the
collection uses. A word with an extra or a changed letter is left alone: those are as often a real term ("params",
"embedder", "multipole") as a typo.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from importlib.resources import files

from symspellpy import SymSpell, Verbosity

from rag.text import content_terms

MIN_LETTERS = 5
LOWERCASE_WORD = re.compile(rf"(?<![\w'’-])[a-z]{{{MIN_LETTERS},}}(?![\w'’-])")


@cache
def english() -> SymSpell:
    """SymSpell over its English frequency list (82,765 words; about a second to load, once per process)."""
    speller = SymSpell(max_dictionary_edit_distance=1)
    speller.load_dictionary(str(files("symspellpy") / "frequency_dictionary_en_82_765.txt"), 0, 1)
    return speller


def slip(typed: str, word: str) -> bool:
    """Whether ``typed`` is ``word`` with one letter left out or two neighbouring letters swapped."""
    if len(word) == len(typed) + 1:
        return any(word[:i] + word[i + 1:] == typed for i in range(len(word)))
    if len(word) == len(typed):
        different = [i for i, (a, b) in enumerate(zip(typed, word, strict=True)) if a != b]
        return (len(different) == 2 and different[1] == different[0] + 1
                and typed[different[0]] == word[different[1]] and typed[different[1]] == word[different[0]])
    return False


def correction(typed: str, known: Callable[[str], bool]) -> str | None:
    """The word ``typed`` most likely stands for (see the module docstring), or None."""
    speller = english()
    terms = content_terms(typed)
    if typed in speller.words or not terms or known(terms[0]):
        return None
    for suggestion in speller.lookup(typed, Verbosity.CLOSEST, max_edit_distance=1):  # most frequent first
        stems = content_terms(suggestion.term)
        if slip(typed, suggestion.term) and stems and known(stems[0]):
            return suggestion.term
    return None


def correct_spelling(question: str, known: Callable[[str], bool]) -> tuple[str, list[tuple[str, str]]]:
    """The question with its likely typos corrected, and the (typed, read as) pairs; ``known(term)`` says whether
    the collection has a stemmed term."""
    corrected: list[tuple[str, str]] = []

    def replace(match: re.Match[str]) -> str:
        word = match.group()
        if (right := correction(word, known)) is None:
            return word
        corrected.append((word, right))
        return right

    return LOWERCASE_WORD.sub(replace, question), corrected
