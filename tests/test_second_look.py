"""A refusal is checked, not trusted: when the model says the collection does not answer although a source
covers the question well, it reads the best sources again, and the citation check decides.

Real embedded Chroma and MiniLM over 12 seed papers; the LLM is the scripted fake (first reply, second reply).
"""

from __future__ import annotations

import pytest

from rag import Assistant, Done, SecondLook, Token
from rag.answering.prompt import ABSTAIN_TEXT, INSTRUCTIONS, SECOND_LOOK
from rag.models.llm import LanguageModel
from tests.reliability.papers import REVERSAL_QUESTION, REVERSAL_REPLY, fill_collection, seed_papers, small_settings
from tests.support.fakes import ScriptedLLM
from ui.chat import ChatTurn, add_question, message_text

COLLECTION = "second-look"
REFUSAL = "The collection does not answer this question."


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory, embedder):
    data_dir = tmp_path_factory.mktemp("second-look")
    fill_collection(small_settings(data_dir), embedder, COLLECTION, seed_papers(12))
    return data_dir


def assistant(data_dir, embedder, *replies: str, **settings) -> Assistant:
    llm = ScriptedLLM(reply=replies[0], later=list(replies[1:]))
    return Assistant(small_settings(data_dir, collection=COLLECTION, **settings),
                     llm=LanguageModel(llm, "scripted", "scripted", "test double"), embedder=embedder, progress=False)


def test_a_refusal_over_a_well_matching_source_gets_a_second_look_over_the_best_sources(data_dir, embedder):
    helper = assistant(data_dir, embedder, REFUSAL, REVERSAL_REPLY)
    events = list(helper.stream(REVERSAL_QUESTION))
    kinds = [type(e).__name__ for e in events]
    look = next(e for e in events if isinstance(e, SecondLook))
    assert [s.rank for s in look.sources] == [1, 2]
    assert "".join(e.text for e in events[: kinds.index("SecondLook")] if isinstance(e, Token)) == REFUSAL
    answer = events[-1].answer
    assert isinstance(events[-1], Done) and not answer.abstained
    assert answer.raw_answer == REVERSAL_REPLY and answer.citations[0].number == 1
    assert any("second look" in notice for notice in answer.notices)
    first, second = helper.llm.llm.prompts
    assert INSTRUCTIONS in first and SECOND_LOOK in second
    assert second.count("<paper>\n") == 2 and first.count("<paper>\n") > 2


def test_a_second_look_that_still_refuses_or_is_unsupported_abstains(data_dir, embedder):
    refused = assistant(data_dir, embedder, REFUSAL, REFUSAL).ask(REVERSAL_QUESTION)
    assert refused.abstained and refused.answer == ABSTAIN_TEXT and not refused.notices
    invented = assistant(data_dir, embedder, REFUSAL, "The curse costs 7 trillion dollars a year [1].")
    answer = invented.ask(REVERSAL_QUESTION)
    assert answer.abstained and answer.citations == []
    assert len(invented.llm.llm.prompts) == 2  # it looked again; the check refused the claim


def test_no_second_look_when_it_is_off_or_the_model_answered(data_dir, embedder):
    off = assistant(data_dir, embedder, REFUSAL, REVERSAL_REPLY, second_look_threshold=1.1)
    assert off.ask(REVERSAL_QUESTION).abstained and len(off.llm.llm.prompts) == 1
    answered = assistant(data_dir, embedder, REVERSAL_REPLY, REFUSAL)
    assert not answered.ask(REVERSAL_QUESTION).abstained and len(answered.llm.llm.prompts) == 1


def test_the_chat_shows_the_second_look_and_then_only_the_checked_answer(data_dir, embedder):
    chat = ChatTurn(assistant(data_dir, embedder, REFUSAL, REVERSAL_REPLY))
    _, history = add_question(REVERSAL_QUESTION, [])
    shown = [message_text(update[0][-1]) for update in chat.respond(history, [], 6, COLLECTION, "")]
    looking = next(i for i, text in enumerate(shown) if "again" in text)
    assert "Reading the best 2 sources again" in shown[looking]
    assert all(REFUSAL not in text for text in shown[looking:])
    assert "binding problem" in shown[-1] and "second look" in shown[-1]
