"""The chat UI in a real headless browser (Debian's Chromium driven by Playwright) over a small real
collection (30 seed papers, MiniLM embeddings) with a scripted LLM that streams word by word."""

from __future__ import annotations

import json
import re

import pytest

from tests.support.fakes import ScriptedLLM
from tests.ui.conftest import REPLY

QUESTION = "What does the Reversal Curse paper conjecture is the cause of the curse?"
BOT = "#chat [data-testid='bot']"
pytestmark = pytest.mark.filterwarnings("ignore::Warning:gradio.queueing")  # pandas deprecations in Gradio


def ask(page, question: str) -> None:
    page.fill("#question textarea", question)
    page.press("#question textarea", "Enter")


def last_answer(page) -> str:
    return page.locator(BOT).last.inner_text()


def wait_for_last_answer(page, text: str) -> None:
    page.wait_for_function(
        """text => { const bots = document.querySelectorAll("#chat [data-testid='bot']");
                     return bots.length > 0 && bots[bots.length - 1].innerText.includes(text); }""", arg=text
    )


def wait_for_answers(page, count: int) -> None:
    """Wait until ``count`` answers are complete (checked citations, an abstention or an error)."""
    page.wait_for_function(
        "n => document.querySelectorAll('#chat .citations, #chat .abstain, #chat .chat-error').length >= n", arg=count
    )


def wait_until_idle(page) -> None:
    """Wait until the turn has ended: Ask is back, which happens after the turn's last update."""
    page.wait_for_selector("#ask-btn", state="visible")
    page.wait_for_selector("#stop-btn", state="hidden")


def test_question_shows_cards_first_streams_answer_and_links_citations(page, fake_llm, artifacts):
    fake_llm.delay = 0.1
    ask(page, QUESTION)

    page.wait_for_selector("#sources .card")
    assert page.locator("#chat .citations").count() == 0, "the cards must appear before the answer is done"
    assert page.locator("#sources .card").count() == 6
    first = page.locator("#q1-s1")
    assert "Reversal Curse" in first.locator(".card-title").inner_text()
    assert first.locator(".rank").inner_text() == "1" and first.locator(".score").inner_text()
    # before the model writes, each card shows its sentence closest to the question
    assert "Reversal Curse" in first.locator(".evidence mark").inner_text()

    # the answer is shown word by word while the cards are already there: part of it, not yet checked
    page.wait_for_function("""() => { const bots = document.querySelectorAll("#chat [data-testid='bot']");
        const text = bots.length ? bots[bots.length - 1].innerText : "";
        return text.includes("Reversal Curse is a") && !text.includes("two causes")
            && !document.querySelector("#chat .citations"); }""")
    wait_for_answers(page, 1)
    page.screenshot(path=str(artifacts / "answer-with-cards.png"))

    answer = page.locator(BOT).last
    assert "binding problem" in answer.inner_text() and "▍" not in answer.inner_text()
    link = answer.locator("a.cite").first
    assert link.get_attribute("href") == "#q1-s1"
    assert "conjecture that the Reversal Curse" in answer.locator(".cite-quote").first.inner_text()
    assert "binding problem" in first.locator("mark").first.inner_text()  # the cited sentence is highlighted
    assert "cited" in (first.get_attribute("class") or "")
    assert "searched for" in page.inner_text("#detail")

    link.click()
    assert page.evaluate("location.hash") == "#q1-s1"
    assert page.evaluate("document.querySelector('#q1-s1').matches(':target')")
    box = first.bounding_box()
    assert box is not None and 0 <= box["y"] < 900


def test_follow_up_question_retrieves_the_same_paper(page, fake_llm):
    ask(page, QUESTION)
    wait_for_answers(page, 1)
    ask(page, "What datasets did it use?")
    wait_for_answers(page, 2)
    detail = page.inner_text("#detail")
    assert "with the earlier question" in detail and "Reversal Curse" in detail, detail
    assert "Reversal Curse" in page.locator("#q2-s1 .card-title").inner_text()
    assert page.locator("#sources details.earlier").count() == 1  # the first question's cards fold away
    assert page.locator(BOT).last.locator("a.cite").first.get_attribute("href").startswith("#q2-")


def test_stop_cancels_generation_and_the_chat_stays_usable(page, fake_llm: ScriptedLLM, artifacts):
    fake_llm.reply, fake_llm.delay = " ".join([REPLY] * 6), 0.2
    ask(page, QUESTION)
    wait_for_last_answer(page, "Reversal")
    page.click("#stop-btn")
    wait_for_last_answer(page, "(stopped)")
    wait_until_idle(page)  # every update of the stopped turn has arrived
    stopped = last_answer(page)
    assert stopped.endswith("(stopped)") and "▍" not in stopped, stopped
    assert page.locator("#chat .citations").count() == 0
    assert len(stopped) < len(fake_llm.reply) / 2, "the answer stopped where it was"
    page.screenshot(path=str(artifacts / "stopped.png"))

    fake_llm.reply, fake_llm.delay = REPLY, 0.01
    ask(page, QUESTION)  # the generation lock was released by Stop: the next question is answered
    wait_for_answers(page, 1)
    assert page.locator("#q2-s1").count() == 1
    assert last_answer(page) != stopped


def test_clear_during_an_answer_empties_the_chat_for_good(page, fake_llm: ScriptedLLM):
    fake_llm.reply, fake_llm.delay = " ".join([REPLY] * 6), 0.2
    ask(page, QUESTION)
    wait_for_last_answer(page, "Reversal")
    page.click("#clear-btn")
    wait_until_idle(page)  # the turn's last update has arrived: it is the empty chat
    assert page.locator(BOT).count() == 0 and page.locator("#sources .card").count() == 0
    fake_llm.reply, fake_llm.delay = REPLY, 0.01
    ask(page, QUESTION)
    wait_for_answers(page, 1)
    assert page.locator("#q1-s1").count() == 1  # numbering starts over


def test_clear_starts_over(page):
    ask(page, QUESTION)
    wait_for_answers(page, 1)
    page.click("#clear-btn")
    page.wait_for_function("document.querySelectorAll('#sources .card').length === 0")
    assert page.locator(BOT).count() == 0
    ask(page, QUESTION)
    wait_for_answers(page, 1)
    assert page.locator("#q1-s1").count() == 1  # numbering starts over


def test_out_of_collection_question_abstains_with_closest_sources(page, fake_llm, artifacts):
    ask(page, "Which protein language model was trained on the Martian genome dataset?")
    wait_for_answers(page, 1)
    assert "The collection does not answer this" in page.inner_text("#chat .abstain")
    assert page.locator("#sources .card").count() > 0
    page.screenshot(path=str(artifacts / "abstention.png"))


def test_llm_failure_is_a_readable_message_and_the_chat_recovers(page, monkeypatch):
    def unreachable(self, messages, **kwargs):
        raise ConnectionError("connection refused by 127.0.0.1:11434")
        yield  # a generator, like the real stream

    with monkeypatch.context() as patch:
        patch.setattr(ScriptedLLM, "stream_chat", unreachable)
        ask(page, QUESTION)
        wait_for_answers(page, 1)
    error = page.inner_text("#chat .chat-error")
    assert "connection refused" in error and "Traceback" not in error
    assert page.locator("#sources .card").count() == 6  # the sources found are still shown
    ask(page, QUESTION)
    wait_for_answers(page, 2)
    assert page.locator("#chat .citations").count() == 1


def test_upload_counts_papers_and_reports_bad_lines(page, tmp_path, artifacts):
    good = tmp_path / "tidal.jsonl"
    good.write_text("".join(json.dumps(r) + "\n" for r in [
        {"id": "up-1", "title": "Forecasting tidal stream energy with gradient boosting",
         "abstract": "We forecast tidal stream energy output with gradient boosted trees on ten years of data."},
        {"id": "up-2", "title": "Seagrass meadow mapping from drone imagery",
         "abstract": "We map seagrass meadows from drone imagery with a small segmentation network."},
    ]))
    page.set_input_files("#upload input[type=file]", str(good))
    page.wait_for_selector("#upload-report .upload-ok")
    report = page.inner_text("#upload-report")
    assert "2 added, 0 updated, 0 skipped" in report, report
    assert "32 papers" in page.inner_text("#collection-status")

    bad = tmp_path / "broken.jsonl"
    bad.write_text(json.dumps({"id": "up-3", "title": "Coral reef sound monitoring",
                               "abstract": "We monitor coral reefs with hydrophones."}) + "\n{broken\n"
                   + json.dumps({"id": "up-4", "title": "No abstract here"}) + "\n")
    page.set_input_files("#upload input[type=file]", str(bad))
    page.wait_for_selector("#upload-report .upload-bad")
    report = page.inner_text("#upload-report")
    assert "1 added" in report and "2 bad records skipped" in report, report
    assert "broken.jsonl:2: invalid JSON" in report and "broken.jsonl:3: missing or empty field(s): abstract" in report
    page.screenshot(path=str(artifacts / "upload-report.png"))

    page.click("#source-filter input")  # the uploaded file is a filter choice, and searchable at once
    page.locator("[role=option]", has_text="tidal.jsonl (2)").click()
    ask(page, "How is tidal stream energy forecast?")
    wait_for_answers(page, 1)
    titles = page.locator("#sources .card-title").all_inner_texts()
    assert sorted(titles) == ["Forecasting tidal stream energy with gradient boosting",
                              "Seagrass meadow mapping from drone imagery"], titles


def test_empty_collection_is_explained(page):
    page.fill("#collection input", "brand-new")
    page.press("#collection input", "Enter")
    page.wait_for_function("document.querySelector('#collection-status').innerText.includes('brand-new is empty')")
    ask(page, QUESTION)
    wait_for_answers(page, 1)
    assert "The collection “brand-new” is empty" in page.inner_text("#chat .chat-error")


def test_second_tab_waits_in_the_queue(browser, page, ui_url, fake_llm):
    fake_llm.delay = 0.15
    other = browser.new_page(viewport={"width": 420, "height": 860})  # also a narrow window
    try:
        other.goto(ui_url)
        other.wait_for_selector("#question textarea")
        other.wait_for_function("!document.querySelector('#settings.open')")  # the side panel starts closed
        ask(page, QUESTION)
        page.wait_for_selector("#sources .card")
        ask(other, "What causes the Reversal Curse?")
        other.wait_for_function("document.querySelector('#detail')?.innerText.includes('queue')")
        wait_for_answers(page, 1)
        wait_for_answers(other, 1)
        assert other.locator("#chat .citations").count() == 1
    finally:
        other.close()


def test_settings_panel_shows_models_and_top_k_applies(page):
    status = page.inner_text("#status")
    assert re.fullmatch(r"papers · \d+ papers", page.inner_text("#collection-status").strip())
    assert "LLM" in status and "all-MiniLM-L6-v2" in status
    assert "To use Ollama" in status  # the hint: the active LLM is not an Ollama server
    page.locator("#top-k input[type=number]").fill("3")
    page.locator("#top-k input[type=number]").press("Enter")
    ask(page, QUESTION)
    wait_for_answers(page, 1)
    assert page.locator("#sources .card").count() == 3


def test_api_endpoint_answers_with_gradio_client(ui_url):
    from gradio_client import Client

    answer = Client(ui_url, verbose=False).predict(QUESTION, api_name="/ask")
    assert not answer["abstained"]
    assert answer["citations"][0]["title"].startswith("Is the Reversal Curse a Binding Problem")
    assert answer["sources"] and answer["timings"]["retrieval_ms"] >= 0


def test_blank_question_does_nothing(page):
    """A blank question runs no answer step, so none can overwrite a question sent right after it."""
    ask(page, "   ")
    ask(page, QUESTION)  # the next real question is the first one in the chat
    wait_for_answers(page, 1)
    assert page.locator(BOT).count() == 1
    assert page.locator("#chat [data-testid='user']").count() == 1
    assert page.locator(".toast-body").count() == 0  # and nothing is shown for the blank one
