"""End-to-end ``ask`` on the real embedded llama.cpp model (Qwen2.5-Coder-1.5B) over the seeds."""

from __future__ import annotations

import pytest
from llama_index.core.base.llms.types import ChatMessage

from rag import Assistant, QuestionError

pytestmark = [pytest.mark.llm, pytest.mark.slow]


@pytest.fixture(scope="module")
def assistant(seed_settings, seed_index, embedder) -> Assistant:
    return Assistant(seed_settings, embedder=embedder, progress=False)


def test_single_paper_question_is_answered_with_checked_citation(assistant):
    answer = assistant.ask("What does the Reversal Curse paper conjecture is the cause of the curse?")
    assert not answer.abstained, answer.answer
    assert "binding" in answer.answer.lower()
    assert any(c.title.startswith("Is the Reversal Curse a Binding Problem") for c in answer.citations)
    for citation in answer.citations:
        assert f"[{citation.number}]" in answer.answer
        source = next(s for s in answer.sources if s.rank == citation.number)
        assert citation.quote in source.abstract
    assert answer.timings.first_token_ms is not None and answer.llm_provider == "llamacpp"


def test_question_outside_the_collection_abstains(assistant):
    answer = assistant.ask("Which protein language model was trained on the Martian genome dataset?")
    assert answer.abstained
    assert answer.citations == []
    assert answer.sources  # the closest papers are still listed


def test_empty_question_is_rejected(assistant):
    with pytest.raises(QuestionError):
        assistant.ask("   ")


def test_a_prompt_gets_the_same_reply_whatever_was_asked_before(assistant, seed_settings):
    """The sampler is seeded afresh for every reply (`RAG_SEED`): answers are reproducible, also at a temperature
    where the words differ from draw to draw."""
    llm = assistant.variant(seed_settings.replace(temperature=1.0, max_answer_tokens=40)).llm
    story = [ChatMessage(role="user", content="Write one sentence about a fox in a forest.")]
    other = [ChatMessage(role="user", content="Write one sentence about a ship at sea.")]

    def reply(messages) -> str:
        return "".join(llm.stream(messages))

    first = reply(story)
    reply(other)
    assert reply(story) == first
    assert reply(story) != "".join(assistant.variant(seed_settings.replace(
        temperature=1.0, max_answer_tokens=40, seed=7)).llm.stream(story))


def test_the_model_writes_on_from_an_opening(assistant, seed_settings):
    """The second look's reply is opened for the model: it continues the sentence instead of starting anew."""
    llm = assistant.variant(seed_settings.replace(max_answer_tokens=24)).llm
    messages = [ChatMessage(role="user", content="Name the capital of France in one sentence.")]
    pieces = list(llm.stream(messages, opening="According to the atlas,"))
    assert pieces[0] == "According to the atlas,"
    continued = "".join(pieces[1:])
    assert continued.startswith(" ") and "paris" in continued.lower() and "According to" not in continued
