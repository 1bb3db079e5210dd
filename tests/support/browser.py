"""Timing a question in the chat UI as a user sees it, for the browser tests and `benchmarks.ui_latency`."""

from __future__ import annotations

import time

FIRST_WORD = """() => { const bots = document.querySelectorAll("#chat [data-testid='bot']");
  const text = bots.length ? bots[bots.length - 1].innerText : "";
  return text.length > 0 && !text.includes("Searching the collection") && !text.includes("writing the answer"); }"""
ANSWERS_DONE = "n => document.querySelectorAll('#chat .citations, #chat .abstain, #chat .chat-error').length >= n"


def timed_question(page, question: str) -> dict[str, float]:
    """Ask ``question`` on an open chat page; seconds from Enter to the first source card, the first card's
    highlighted evidence sentence, the first answer word and the checked answer."""
    done_before = page.locator("#chat .citations, #chat .abstain, #chat .chat-error").count()
    page.fill("#question textarea", question)
    started = time.perf_counter()
    page.press("#question textarea", "Enter")
    page.wait_for_function("n => document.querySelectorAll('#sources section.latest .card').length > 0 && "
                           "document.querySelectorAll('#chat [data-testid=\"user\"]').length >= n", arg=done_before + 1)
    card = time.perf_counter() - started
    page.wait_for_selector("#sources section.latest .card .evidence mark")
    evidence = time.perf_counter() - started
    page.wait_for_function(FIRST_WORD)
    word = time.perf_counter() - started
    page.wait_for_function(ANSWERS_DONE, arg=done_before + 1)
    return {"first_card_s": round(card, 3), "evidence_s": round(evidence, 3), "first_word_s": round(word, 2),
            "checked_answer_s": round(time.perf_counter() - started, 2)}
