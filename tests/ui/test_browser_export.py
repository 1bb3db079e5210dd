"""Answers that leave the screen, in Chromium: Copy as Markdown (the clipboard), Download .bib and Download chat (the
downloaded files' contents), the `[n]` popovers (hover, keyboard, Escape, a tap on a phone), and chats that survive
a reload, start anew, reopen and are deleted. Over the small real collections with the scripted LLM."""

from __future__ import annotations

import json
from pathlib import Path

import bibtexparser
import pytest
from bibtexparser.middlewares import LatexDecodingMiddleware

from tests.ui.conftest import LIBRARY, LIBRARY_QUESTION, LIBRARY_REPLY
from tests.ui.test_browser import BOT, QUESTION, ask, wait_for_answers, wait_until_idle

pytestmark = pytest.mark.filterwarnings("ignore::Warning:gradio.queueing")
POPOVER_MARKER = f"{BOT} a.cite:has(.cite-pop)"


def open_app(context, url: str):
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(url)
    page.wait_for_selector("#question textarea")
    page.wait_for_selector("#chats-note p")
    return page


def use_collection(page, name: str) -> None:
    page.fill("#collection input", name)
    page.press("#collection input", "Enter")
    page.wait_for_function("name => document.querySelector('#collection-status').innerText.startsWith(name + ' ·')",
                           arg=name)


@pytest.fixture
def library_reply(fake_llm):
    fake_llm.reply, fake_llm.delay = LIBRARY_REPLY, 0.02
    return fake_llm


@pytest.fixture
def clipboard_page(browser, ui_url):
    context = browser.new_context(viewport={"width": 1360, "height": 900},
                                  permissions=["clipboard-read", "clipboard-write"])
    yield open_app(context, ui_url)
    context.close()


def inside(box: dict, outer: dict) -> bool:
    """Whether ``box`` lies within ``outer`` horizontally (Playwright bounding boxes)."""
    return outer["x"] <= box["x"] and box["x"] + box["width"] <= outer["x"] + outer["width"]


def downloaded(page, click) -> tuple[str, str]:
    with page.expect_download() as info:
        click()
    return info.value.suggested_filename, Path(info.value.path()).read_text(encoding="utf-8")


def test_an_answer_is_copied_as_markdown_and_downloaded_as_bibtex(clipboard_page, library_reply, artifacts):
    page = clipboard_page
    use_collection(page, LIBRARY)
    ask(page, LIBRARY_QUESTION)
    wait_for_answers(page, 1)
    wait_until_idle(page)
    answer = page.locator(BOT).last
    answer.locator(".answer-tools").scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "export-buttons.png"))

    copy = answer.locator("button.copy-md")
    copy.click()
    page.wait_for_function("() => document.querySelector('#chat button.copy-md').innerText === 'Copied'")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == copy.get_attribute("value"), "the button also exposes the text it copies"
    assert copied.startswith(f"## {LIBRARY_QUESTION}\n\n{LIBRARY_REPLY}\n\n**References**\n\n")
    assert ("- [1] Samuel Müller, Noah Hollmann, Sebastian Pineda Arango, Josif Grabocka, Frank Hutter (2022). "
            "*Transformers Can Do Bayesian Inference*. International Conference on Learning Representations. "
            "<https://arxiv.org/abs/2112.10510>\n  > Presented with a set of samples") in copied
    assert ("- [2] Junyoung Park, Jinhyun Choo, Jinkyoo Park (2022). *Convergent Graph Solvers*. Journal of Example "
            "Studies. <https://doi.org/10.5555/cgs.2022.001>") in copied

    name, bibtex = downloaded(page, answer.locator("button.download-bib").click)
    assert name == "answer-1.bib"
    library = bibtexparser.parse_string(bibtex, append_middleware=[LatexDecodingMiddleware()])
    assert not library.failed_blocks
    entries = {e.key: {f.key: f.value for f in e.fields} for e in library.entries}
    assert list(entries) == ["muller2022transformers", "park2022convergent"]
    assert entries["muller2022transformers"]["title"] == "Transformers Can Do Bayesian Inference"
    assert entries["muller2022transformers"]["author"].startswith("Samuel Müller and Noah Hollmann")
    assert entries["park2022convergent"]["doi"] == "10.5555/cgs.2022.001"


def test_download_chat_has_every_answer_with_its_references(page, library_reply):
    assert page.locator("#download-chat").is_disabled(), "nothing to download yet"
    use_collection(page, LIBRARY)
    ask(page, LIBRARY_QUESTION)
    wait_for_answers(page, 1)
    library_reply.reply = "Convergent graph solvers compute the fixed points of graph systems [1]."
    ask(page, "What do convergent graph solvers compute?")
    wait_for_answers(page, 2)
    wait_until_idle(page)
    name, text = downloaded(page, lambda: page.click("#download-chat"))
    assert name.startswith("chat-") and name.endswith("-how-do-prior-data-fitted-networks-approximate-ba.md")
    title, body = text.split("\n\n", 1)
    assert title == f"# {LIBRARY_QUESTION[:79].rstrip()}…", "the chat's title: its first question, cut at 80"
    assert body.startswith(f"## 1. {LIBRARY_QUESTION}\n\n{LIBRARY_REPLY}")
    first, second = text.split("## 2. What do convergent graph solvers compute?")
    assert "- [1] Samuel Müller" in first and "- [2] Junyoung Park" in first
    assert second.startswith("\n\nConvergent graph solvers compute the fixed points of graph systems [1].")
    assert "- [1] Junyoung Park, Jinhyun Choo, Jinkyoo Park (2022). *Convergent Graph Solvers*." in second


def test_a_marker_shows_its_supporting_sentence_on_hover_and_keyboard_focus(page, library_reply, artifacts):
    use_collection(page, LIBRARY)
    ask(page, LIBRARY_QUESTION)
    wait_for_answers(page, 1)
    first, second = page.locator(POPOVER_MARKER).all()
    pop = first.locator(".cite-pop")
    assert not pop.is_visible()

    first.hover()
    pop.wait_for(state="visible")
    assert pop.locator(".pop-title").inner_text() == "Transformers Can Do Bayesian Inference"
    assert pop.locator(".pop-meta").inner_text().startswith("Samuel Müller, Noah Hollmann et al. · 2022")
    assert "in a single forward propagation, having learned to approximate Bayesian inference" in pop.inner_text()
    page.screenshot(path=str(artifacts / "popover.png"))
    page.keyboard.press("Escape")  # dismissible while hovered too
    pop.wait_for(state="hidden")
    page.mouse.move(5, 5)

    page.focus("#question textarea")  # back from the input: the last marker with a popover is [2]
    for _ in range(60):
        page.keyboard.press("Shift+Tab")
        if page.evaluate("() => !!document.activeElement.matches('a.cite') && "
                         "!!document.activeElement.querySelector('.cite-pop')"):
            break
    focused_pop = second.locator(".cite-pop")
    focused_pop.wait_for(state="visible")
    assert focused_pop.locator(".pop-title").inner_text() == "Convergent Graph Solvers"
    assert "fixed point" in focused_pop.locator(".pop-quote").inner_text()
    assert inside(focused_pop.bounding_box(), page.locator("#chat").bounding_box()), "kept inside the chat"
    page.keyboard.press("Escape")
    focused_pop.wait_for(state="hidden")
    assert page.evaluate("document.activeElement.matches('a.cite')"), "Escape closes it and keeps the focus"
    page.keyboard.press("Shift+Tab")
    pop.wait_for(state="visible")  # the previous marker, [1]


def test_a_tap_on_a_phone_opens_the_popover_and_a_second_follows_the_link(browser, ui_url, fake_llm, artifacts):
    context = browser.new_context(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True)
    try:
        phone = open_app(context, ui_url)
        ask(phone, QUESTION)
        wait_for_answers(phone, 1)
        marker = phone.locator(POPOVER_MARKER).first
        pop = marker.locator(".cite-pop")
        marker.scroll_into_view_if_needed()
        marker.tap()
        pop.wait_for(state="visible")
        assert phone.evaluate("location.hash") == "", "the first tap opens the popover, it does not navigate"
        assert "binding problem" in pop.locator(".pop-quote").inner_text()
        assert inside(pop.bounding_box(), phone.locator("#chat").bounding_box()), "not cut off by the chat's edge"
        phone.screenshot(path=str(artifacts / "popover-phone.png"))
        marker.tap()
        phone.wait_for_function("location.hash === '#q1-s1'")
        phone.locator("#question textarea").tap()
        pop.wait_for(state="hidden")
    finally:
        context.close()


def chat_files(ui_assistant, question: str) -> list[Path]:
    """The saved chat files whose first question is ``question``."""
    folder = ui_assistant.settings.store.chats_dir
    return [p for p in folder.glob("*/*.json") if json.loads(p.read_text())["entries"][0]["question"] == question]


def chat_titles(page) -> list[str]:
    return [label.rsplit(" · ", 1)[0] for label in page.locator("#chat-list label").all_inner_texts()]


def test_a_chat_survives_a_reload_and_chats_are_listed_reopened_and_deleted(page, fake_llm, ui_assistant, artifacts):
    first_question = f"{QUESTION} (kept)"
    ask(page, first_question)
    wait_for_answers(page, 1)
    ask(page, "What datasets did it use?")
    wait_for_answers(page, 2)
    wait_until_idle(page)
    messages = page.locator(f"{BOT}, #chat [data-testid='user']").all_inner_texts()
    cards = page.locator("#sources .card-title").all_inner_texts()
    assert chat_titles(page) == [first_question]

    page.reload()
    page.wait_for_selector("#chats-note p")
    wait_for_answers(page, 2)
    assert page.locator(f"{BOT}, #chat [data-testid='user']").all_inner_texts() == messages
    assert page.locator("#sources .card-title").all_inner_texts() == cards and page.locator("#q2-s1").count() == 1
    assert page.locator("#sources details.earlier").count() == 1 and page.locator("#q1-s1 mark").count() >= 1
    assert page.locator(f"{BOT} a.cite:has(.cite-pop)").count() >= 2, "the popovers came back too"
    assert chat_titles(page) == [first_question] and page.locator("#chat-list input:checked").count() == 1
    (saved,) = chat_files(ui_assistant, first_question)

    page.click("#new-chat")
    page.wait_for_function("document.querySelectorAll('#sources .card').length === 0")
    assert page.locator(BOT).count() == 0 and page.locator("#chat-list input:checked").count() == 0
    ask(page, "Which paper studies the binding problem?")
    wait_for_answers(page, 1)
    wait_until_idle(page)
    assert chat_titles(page) == ["Which paper studies the binding problem?", first_question], "newest first"
    page.screenshot(path=str(artifacts / "saved-chats.png"))

    page.locator("#chat-list label", has_text=first_question).click()
    wait_for_answers(page, 2)
    assert page.locator(f"{BOT}, #chat [data-testid='user']").all_inner_texts() == messages
    ask(page, "And what did it conclude?")  # a follow-up in a reopened chat numbers on from it
    wait_for_answers(page, 3)
    wait_until_idle(page)
    assert page.locator("#q3-s1").count() == 1 and len(json.loads(saved.read_text())["entries"]) == 3

    page.click("#delete-chat")
    page.wait_for_function("document.querySelectorAll('#chat [data-testid=\"bot\"]').length === 0")
    assert chat_titles(page) == ["Which paper studies the binding problem?"] and not saved.exists()
    page.reload()
    page.wait_for_selector("#chats-note p")
    wait_for_answers(page, 1)  # the remaining chat is the latest: it is the one shown
    assert "Which paper studies the binding problem?" in page.inner_text("#chat")


def test_a_damaged_chat_file_is_skipped_and_the_page_works(page, fake_llm, ui_assistant):
    question = f"{QUESTION} (damaged)"
    ask(page, question)
    wait_for_answers(page, 1)
    wait_until_idle(page)
    (saved,) = chat_files(ui_assistant, question)
    saved.write_text(saved.read_text()[:200])  # cut short, as by a full disk
    page.reload()
    page.wait_for_selector("#chats-note p")
    assert page.locator(BOT).count() == 0 and chat_titles(page) == []
    assert "No saved chats yet" in page.inner_text("#chats-note")
    ask(page, QUESTION)
    wait_for_answers(page, 1)
