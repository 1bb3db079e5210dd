"""The chat UI over all the seeds with the real embedded model (llama.cpp, Qwen2.5-Coder-1.5B).

Prints (does not assert) the time from pressing Enter to the first source card and to the first
answer word, as a user sees them in the browser; also saved to test-artifacts/ui/real-model-timings.json.
"""

from __future__ import annotations

import json
import os

import pytest

from rag import Assistant
from tests.support.browser import timed_question
from tests.support.processes import free_port
from tests.ui.test_browser import BOT, ask, wait_for_answers

pytestmark = [pytest.mark.llm, pytest.mark.slow]

def test_real_model_answer_and_abstention_in_the_browser(seed_settings, seed_index, embedder, browser, artifacts):
    from ui.app import build_app, launch

    assistant = Assistant(seed_settings, embedder=embedder, progress=False)
    assert assistant.llm.provider == "llamacpp"  # loaded before serving, as `rag ui` does
    app = build_app(assistant)
    url = launch(app, seed_settings, host="127.0.0.1", port=free_port(), block=False)
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    try:
        page = context.new_page()
        page.set_default_timeout(180_000)
        page.goto(url)
        page.wait_for_selector("#status p")

        timed = timed_question(page, "What does the Reversal Curse paper conjecture is the cause of the curse?")
        page.wait_for_selector("#ask-btn", state="visible")  # the turn is over: the screenshot shows it settled
        page.screenshot(path=str(artifacts / "real-model-answer.png"))
        print("\nembedded model in the browser, seconds from Enter:", timed)
        timings = {**timed, "load_average": os.getloadavg()}
        (artifacts / "real-model-timings.json").write_text(json.dumps(timings, indent=2))
        print("detail line:", page.inner_text("#detail"))
        print("answer:", page.locator(BOT).last.inner_text())
        assert page.locator("#sources .card").count() == seed_settings.retrieval.top_k

        ask(page, "Which protein language model was trained on the Martian genome dataset?")
        wait_for_answers(page, 2)
        page.screenshot(path=str(artifacts / "real-model-abstention.png"))
        print("abstention:", page.locator(BOT).last.inner_text())
    finally:
        context.close()
        app.close()
