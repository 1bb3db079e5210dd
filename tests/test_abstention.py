"""Recognising a model's refusal: only an opening refusal abstains; an appended one is dropped."""

from __future__ import annotations

from rag.answering.abstention import model_refused, without_refusals


def test_opening_refusal_abstains():
    assert model_refused("The collection does not answer it. Maybe try another question.")
    assert model_refused("The abstracts do not mention the learning rate.")


def test_answer_with_appended_refusal_is_kept_without_it():
    reply = "The method needs 600,000 experiments [1]. The collection does not answer it."
    assert not model_refused(reply)
    assert without_refusals(reply) == "The method needs 600,000 experiments [1]."
