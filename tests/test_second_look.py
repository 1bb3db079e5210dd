"""A refusal is checked, not trusted: when the model says the collection does not answer although a source
covers the question well, it reads the best sources again with its reply opened for it ("According to [1],"), and
the citation check decides.

Real embedded Chroma and MiniLM over 12 seed papers; the LLM is the scripted fake (first reply, second reply).
"""

from __future__ import annotations

import pytest
from llama_index.core.base.llms.types import ChatMessage

from rag import Assistant, Done, SecondLook, Token
from rag.answering.prompt import ABSTAIN_TEXT, INSTRUCTIONS, SECOND_LOOK, SECOND_LOOK_OPENING
from rag.models.llm import LanguageModel, chatml
from tests.reliability.papers import REVERSAL_QUESTION, REVERSAL_REPLY, fill_collection, seed_papers, small_settings
from tests.support.fakes import ScriptedLLM
from ui.chat import ChatTurn, add_question, message_text

COLLECTION = "second-look"
REFUSAL = "The collection does not answer this question."
# the scripted second reply, written on from the opening (a space first, as a model's next token has)
CONTINUED = " the Reversal Curse is a manifestation of the long-standing binding problem in cognitive science."


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
    helper = assistant(data_dir, embedder, REFUSAL, CONTINUED)
    events = list(helper.stream(REVERSAL_QUESTION))
    kinds = [type(e).__name__ for e in events]
    look = next(e for e in events if isinstance(e, SecondLook))
    assert [s.rank for s in look.sources] == [1, 2]
    assert "".join(e.text for e in events[: kinds.index("SecondLook")] if isinstance(e, Token)) == REFUSAL
    answer = events[-1].answer
    assert isinstance(events[-1], Done) and not answer.abstained
    assert answer.raw_answer == SECOND_LOOK_OPENING + CONTINUED and answer.citations[0].number == 1
    assert events[kinds.index("SecondLook") + 1].text == SECOND_LOOK_OPENING  # the reader sees it first
    assert any("second look" in notice for notice in answer.notices)
    first, second = helper.llm.llm.prompts
    assert INSTRUCTIONS in first and SECOND_LOOK in second
    assert second.endswith(f"assistant: {SECOND_LOOK_OPENING}")  # the opening goes to the model as its reply's start
    assert second.count("<paper>\n") == 2 and first.count("<paper>\n") > 2


def test_a_second_look_that_still_refuses_or_is_unsupported_quotes_the_evidence_or_abstains(data_dir, embedder):
    refused = assistant(data_dir, embedder, REFUSAL, " the collection does not answer this question.")
    answer = refused.ask(REVERSAL_QUESTION)
    assert answer.grade == "evidence" and not answer.abstained and not answer.notices
    assert answer.answer.startswith("Quoted from [1] (the model's reply could not be checked):")
    assert "binding" in answer.answer
    assert answer.citations[0].number == 1 and answer.trail[-1].rule == "refused"
    invented = assistant(data_dir, embedder, REFUSAL, " the curse costs 7 trillion dollars a year.")
    answer = invented.ask(REVERSAL_QUESTION)
    assert answer.grade == "evidence" and answer.trail[-1].rule == "nothing supported"
    assert "7 trillion" not in answer.answer
    assert len(invented.llm.llm.prompts) == 2  # it looked again; the check refused the claim
    elsewhere = assistant(data_dir, embedder, REFUSAL, " the collection does not answer this question.")
    answer = elsewhere.ask("What does the Reversal Curse paper say about the GPU hours it took?")
    assert answer.abstained and answer.answer == ABSTAIN_TEXT  # no sentence gives what is asked: nothing quoted


# a paraphrase sharing few words with the abstract (coverage 0.27), on which BM25 and MiniLM both rank the paper first
PARAPHRASE = "What old puzzle of the mind sciences is said to lie behind models' failure to reverse learned facts?"


def test_a_refused_paraphrase_both_retrievers_agree_on_gets_a_second_look_figure_or_not(data_dir, embedder):
    helper = assistant(data_dir, embedder, REFUSAL, CONTINUED)
    answer = helper.ask(PARAPHRASE)
    assert not answer.abstained and len(helper.llm.llm.prompts) == 2
    assert answer.raw_answer == SECOND_LOOK_OPENING + CONTINUED
    figure = assistant(data_dir, embedder, REFUSAL, " the mind sciences name 3 such puzzles.")
    answer = figure.ask("How many old puzzles of the mind sciences are said to lie behind models' failure to reverse "
                        "learned facts?")
    assert len(figure.llm.llm.prompts) == 2  # a figure question is looked at again too ...
    assert answer.abstained and "3" not in answer.answer  # ... and a figure its paper does not state is dropped


def test_a_reply_that_only_says_the_question_back_gets_a_second_look(data_dir, embedder):
    said_back = "The Reversal Curse paper conjectures that the cause of the curse is [1]."
    helper = assistant(data_dir, embedder, said_back, CONTINUED)
    events = list(helper.stream(REVERSAL_QUESTION))
    assert any(isinstance(e, SecondLook) for e in events) and len(helper.llm.llm.prompts) == 2
    answer = events[-1].answer
    assert not answer.abstained and answer.raw_answer == SECOND_LOOK_OPENING + CONTINUED
    which = assistant(data_dir, embedder, "The paper that introduces the Reversal Curse is [1].", CONTINUED)
    which.ask("Which paper introduces the Reversal Curse?")  # a title can answer it: no second look
    assert len(which.llm.llm.prompts) == 1


def test_no_second_look_when_it_is_off_or_the_model_answered(data_dir, embedder):
    off = assistant(data_dir, embedder, REFUSAL, REVERSAL_REPLY, second_look_threshold=1.1)
    assert off.ask(REVERSAL_QUESTION).abstained and len(off.llm.llm.prompts) == 1
    answered = assistant(data_dir, embedder, REVERSAL_REPLY, REFUSAL)
    assert not answered.ask(REVERSAL_QUESTION).abstained and len(answered.llm.llm.prompts) == 1


def test_the_chat_shows_the_second_look_and_then_only_the_checked_answer(data_dir, embedder):
    chat = ChatTurn(assistant(data_dir, embedder, REFUSAL, CONTINUED))
    _, history = add_question(REVERSAL_QUESTION, [])
    shown = [message_text(update[0][-1]) for update in chat.respond(history, [], 6, COLLECTION, "")]
    looking = next(i for i, text in enumerate(shown) if "again" in text)
    assert "Reading the best 2 sources again" in shown[looking]
    assert all(REFUSAL not in text for text in shown[looking:])
    assert "binding problem" in shown[-1] and "second look" in shown[-1]


def test_chatml_leaves_a_final_assistant_message_open_for_the_model_to_write_on():
    asked = [ChatMessage(role="user", content="Q?")]
    assert chatml(asked) == "<|im_start|>user\nQ?<|im_end|>\n<|im_start|>assistant\n"
    opened = chatml([*asked, ChatMessage(role="assistant", content=SECOND_LOOK_OPENING)])
    assert opened == chatml(asked) + SECOND_LOOK_OPENING


def source_list(helper: Assistant, question: str) -> str:
    """A reply that is only the sources' numbered titles, as a small model sometimes copies its source list."""
    return "\n".join(f"[{rank}] {paper.title}" for rank, paper in enumerate(helper.retrieve(question), 1))


@pytest.mark.parametrize("question", [REVERSAL_QUESTION, "Which paper traces models' failure to reverse learned "
                                                         "facts to an old puzzle of the mind sciences?"])
def test_a_reply_that_only_copies_the_source_list_gets_a_second_look(data_dir, embedder, question):
    helper = assistant(data_dir, embedder, "", CONTINUED)
    helper.llm.llm.reply = source_list(helper, question)
    answer = helper.ask(question)
    assert len(helper.llm.llm.prompts) == 2 and answer.second_look
    assert not answer.abstained and answer.raw_answer == SECOND_LOOK_OPENING + CONTINUED
    assert answer.citations[0].title.startswith("Is the Reversal Curse a Binding Problem?")


def test_a_listed_title_that_fits_the_question_answers_it_without_a_second_look(data_dir, embedder):
    question = "Which paper asks whether the Reversal Curse is a binding problem?"
    helper = assistant(data_dir, embedder, "", CONTINUED)
    helper.llm.llm.reply = source_list(helper, question).split("\n")[0]
    answer = helper.ask(question)
    assert len(helper.llm.llm.prompts) == 1 and not answer.abstained
