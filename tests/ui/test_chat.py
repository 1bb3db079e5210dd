"""The chat and upload handlers without a browser: errors become messages, closing releases the model."""

from __future__ import annotations

import pytest

from rag import Assistant, ChatStore
from tests.support.fakes import scripted
from tests.ui.conftest import REPLY, small_settings
from ui import history, render
from ui.chat import ChatTurn, add_question, mark_stopped, message_text
from ui.upload import ingest_files

QUESTION = "What does the Reversal Curse paper conjecture is the cause of the curse?"


@pytest.fixture
def assistant(small_data_dir, embedder) -> Assistant:
    return Assistant(small_settings(small_data_dir), llm=scripted(REPLY), embedder=embedder, progress=False)


def last_reply(updates) -> str:
    history = list(updates)[-1][0]
    return message_text(history[-1])


def test_a_turn_yields_sources_then_words_then_the_checked_answer(assistant):
    _, history = add_question(f"  {QUESTION} ", [])
    updates = list(ChatTurn(assistant).respond(history, [], 6, "papers", ""))
    assert "Searching" in message_text(updates[0][0][-1])
    assert 'id="q1-s1"' in updates[1][1] and "searched for" in updates[1][2]  # cards before any word
    assert any(render.CURSOR in message_text(u[0][-1]) and "Reversal" in message_text(u[0][-1]) for u in updates)
    final = message_text(updates[-1][0][-1])
    assert 'class="citations"' in final and render.CURSOR not in final
    assert updates[-1][3][0].answer and updates[-1][3][0].done


@pytest.mark.parametrize(("collection", "expected"), [("empty-one", "is empty"), ("x!", "not a valid collection")])
def test_unusable_collection_is_explained(assistant, collection, expected):
    _, history = add_question(QUESTION, [])
    reply = last_reply(ChatTurn(assistant).respond(history, [], 6, collection, ""))
    assert expected in reply and 'class="chat-error"' in reply


def test_llm_error_is_a_readable_message(assistant, monkeypatch):
    def broken(self, messages, **kwargs):
        raise TimeoutError("the model did not answer within 120 s")
        yield

    monkeypatch.setattr(type(assistant.llm.llm), "stream_chat", broken)
    _, history = add_question(QUESTION, [])
    reply = last_reply(ChatTurn(assistant).respond(history, [], 6, "papers", ""))
    assert "The language model failed while answering: the model scripted did not finish within 120 s" in reply
    assert "Traceback" not in reply


def test_closing_a_turn_mid_answer_releases_the_generation_lock(small_data_dir, embedder):
    slow = Assistant(small_settings(small_data_dir), llm=scripted(" ".join([REPLY] * 4), delay=0.05),
                     embedder=embedder, progress=False)
    _, history = add_question(QUESTION, [])
    turn = ChatTurn(slow).respond(history, [], 6, "papers", "")
    for update in turn:
        if "Reversal" in message_text(update[0][-1]):
            break
    assert Assistant.generation_lock.locked()
    turn.close()  # the reader goes away: the model stops at its next word and lets go
    assert Assistant.generation_lock.acquire(timeout=30), "the generation lock was not released"
    Assistant.generation_lock.release()
    stopped = mark_stopped(update[0])
    assert message_text(stopped[-1]).endswith(render.STOPPED_NOTE) and render.CURSOR not in message_text(stopped[-1])


def test_follow_up_is_folded_with_the_previous_question(assistant):
    chat = ChatTurn(assistant)
    _, history = add_question(QUESTION, [])
    *_, (history, _, _, turns) = chat.respond(history, [], 6, "papers", "")
    _, history = add_question("What datasets did it use?", history)
    *_, (history, _, detail, turns) = chat.respond(history, turns, 6, "papers", "")
    assert "Reversal Curse" in detail and "with the earlier question" in detail
    assert turns[1].sources[0].title.startswith("Is the Reversal Curse")


def test_upload_of_unsupported_or_empty_files_is_an_error(assistant, tmp_path):
    docx = tmp_path / "paper.docx"
    docx.write_bytes(b"PK\x03\x04")
    assert "unsupported file type" in ingest_files(assistant, [docx], "uploads").error
    empty = tmp_path / "empty.csv"
    empty.write_text("title,abstract\n")
    assert "No papers were found" in ingest_files(assistant, [empty], "uploads").error


def test_csv_upload_goes_into_the_named_collection_with_progress(assistant, tmp_path):
    table = tmp_path / "mine.csv"
    table.write_text('title,abstract\n"Tidal forecasting","We forecast tides with boosting."\n'
                     '"Reef acoustics","We listen to coral reefs."\n')
    seen: list[tuple[int, int]] = []
    result = ingest_files(assistant, [table], "csv-uploads", lambda done, total: seen.append((done, total)))
    assert (result.added, result.unchanged, result.papers_now, result.error) == (2, 0, 2, None)
    assert seen[0] == (0, 2) and seen[-1] == (2, 2)
    again = ingest_files(assistant, [table], "csv-uploads")
    assert (again.added, again.unchanged) == (0, 2)


def test_an_abandoned_answer_does_not_block_the_next_question(assistant):
    """A reader that stops reading without closing the stream (a vanished browser tab): its answer finishes
    in the background and the next question is answered."""
    abandoned = assistant.stream(QUESTION)
    assert next(abandoned).sources and next(abandoned).text  # the model has started writing
    answer = assistant.ask(QUESTION)
    assert answer.citations and not answer.abstained
    del abandoned


def test_a_finished_turn_is_saved_and_shown_again_the_same(assistant, tmp_path):
    store = ChatStore(tmp_path / "chats")
    chat, browser = ChatTurn(assistant, store), ChatStore.new_id()
    chat_id = ChatStore.new_id()
    _, messages = add_question(QUESTION, [])
    *_, (messages, panel, _, turns) = chat.respond(messages, [], 6, "papers", "", browser=browser, chat_id=chat_id)
    _, messages = add_question("What datasets did it use?", messages)
    *_, (messages, panel, _, turns) = chat.respond(messages, turns, 6, "papers", "", year_from="2030",
                                                   browser=browser, chat_id=chat_id)
    saved = store.load(browser, chat_id)
    assert [e.status for e in saved.entries] == ["answered", "answered"] and saved.collection == "papers"
    assert saved.entries[1].answer.sources == [], "no paper is from 2030"
    shown = history.to_turns(saved.entries)
    assert history.messages(shown) == messages and render.sources_panel(shown) == panel


def test_a_year_that_is_not_a_number_is_a_readable_message_and_is_saved_as_failed(assistant, tmp_path):
    store = ChatStore(tmp_path / "chats")
    browser, chat_id = ChatStore.new_id(), ChatStore.new_id()
    _, messages = add_question(QUESTION, [])
    reply = last_reply(ChatTurn(assistant, store).respond(messages, [], 6, "papers", "", year_to="soon",
                                                          browser=browser, chat_id=chat_id))
    assert "That question cannot be asked: To year must be a year such as 2020, not “soon”" in reply
    (entry,) = store.load(browser, chat_id).entries
    assert entry.status == "failed" and "To year must be a year" in entry.text
