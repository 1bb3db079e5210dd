"""Likely typos in a question read as the words the collection uses (`rag.answering.spelling`): a table of typed
words, and the off switch. The collection's vocabulary is a set of stemmed terms here."""

from __future__ import annotations

import pytest

from rag import Assistant, Settings
from rag.answering.spelling import correct_spelling
from rag.text import content_terms

COLLECTION_TERMS = set(content_terms(
    "parameters accuracy language retrieval transformer architecture quantization performance optimizer convolution "
    "embedding embedded multiple"))


def known(term: str) -> bool:
    return term in COLLECTION_TERMS


@pytest.mark.parametrize(("typed", "read"), [
    ("How many paramters does it train?", "How many parameters does it train?"),  # a letter left out
    ("What top-1 accuarcy does it reach?", "What top-1 accuracy does it reach?"),  # two letters swapped
    ("Which langauge model is it?", "Which language model is it?"),
    ("Does the transformr use retreival?", "Does the transformer use retrieval?"),
    ("How many params does it train?", "How many params does it train?"),  # a letter too many: a real term as often
    ("Is the embedder small?", "Is the embedder small?"),  # a letter changed
    ("Which multipole expansion?", "Which multipole expansion?"),
    ("How does QLoRA compare with Paramters?", "How does QLoRA compare with Paramters?"),  # capitalised: a name
    ("What acuracy does it get?", "What accuracy does it get?"),
    ("What is its architecure?", "What is its architecture?"),
    ("Which optimizer is used?", "Which optimizer is used?"),  # spelt right
    ("What about the zorbulator?", "What about the zorbulator?"),  # no word of the collection is near it
])
def test_a_likely_typo_is_read_as_the_word_the_collection_uses(typed, read):
    assert correct_spelling(typed, known)[0] == read


def test_the_corrections_are_reported_in_order():
    assert correct_spelling("Its paramters and acuracy?", known)[1] == [("paramters", "parameters"),
                                                                         ("acuracy", "accuracy")]


def test_a_word_of_the_collection_is_never_corrected():
    assert correct_spelling("Which convnets?", lambda term: term in {"convnet", "convent"})[1] == []


@pytest.mark.parametrize(("spelling", "asked", "notices"), [
    ("true", "How many parameters?", ["Read “paramters” as “parameters”."]),
    ("false", "How many paramters?", []),
])
def test_a_request_reads_typos_with_a_notice_unless_switched_off(monkeypatch, spelling, asked, notices):
    monkeypatch.setenv("RAG_SPELLING", spelling)
    request = Assistant(Settings()).request("How many paramters?", None, None, known)
    assert request.profile.asked == asked and request.notices == notices
