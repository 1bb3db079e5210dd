"""Each grade of answer as the chat shows it, in headless Chromium (Debian's, driven by Playwright), over the small
real collection (30 seed papers, MiniLM) with the scripted fake LLM: partly answered, quoted evidence, not in the
collection, the claims the citation check removed, each with its reason, and a list (written by the model, or the
list judge's alone, the scripted judge accepting papers by title)."""

from __future__ import annotations

import pytest

from tests.ui.test_browser import BOT, ask, wait_for_answers

pytestmark = pytest.mark.filterwarnings("ignore::Warning:gradio.queueing")  # pandas deprecations in Gradio
CONJECTURE = "The Reversal Curse is a manifestation of the long-standing binding problem in cognitive science [1]."
REFUSAL = "The collection does not answer this question."


@pytest.fixture
def replies(fake_llm):
    """Set the scripted reply for one test; every prompt gets it (a second look too)."""
    later = fake_llm.later
    fake_llm.later, fake_llm.delay = [], 0.0
    yield fake_llm
    fake_llm.later = later


def test_a_partly_answered_question_is_labelled_and_says_what_is_missing(page, replies, artifacts):
    replies.reply = CONJECTURE
    ask(page, "What do the authors conjecture the Reversal Curse is, and how many layers does their JEPA model have?")
    wait_for_answers(page, 1)
    answer = page.locator(BOT).last
    assert answer.locator(".grade-partial").inner_text().casefold() == "partly answered"
    assert "binding problem" in answer.locator(".answer-partial").inner_text()
    assert "do not give: how many layers does their JEPA model have" in answer.inner_text()
    assert answer.locator("a.cite").first.get_attribute("href") == "#q1-s1"
    page.screenshot(path=str(artifacts / "grade-partial.png"))


def test_quoted_evidence_is_labelled_as_the_papers_words_not_an_answer(page, replies, artifacts):
    replies.reply = REFUSAL
    ask(page, "What does the Reversal Curse paper conjecture is the cause of the curse?")
    wait_for_answers(page, 1)
    answer = page.locator(BOT).last
    assert answer.locator(".grade-evidence").inner_text().casefold() == "quoted evidence, not an answer"
    quoted = answer.locator(".answer-evidence").inner_text()
    assert quoted.startswith("Quoted from [1] (the model's reply could not be checked):") and "“" in quoted
    assert page.locator("#q1-s1.cited").count() == 1  # the quoted paper's card is marked as cited
    page.screenshot(path=str(artifacts / "grade-evidence.png"))


def test_a_question_outside_the_collection_is_not_answered(page, replies):
    replies.reply = "Yes, the recipe uses 200 g of flour [1]."
    ask(page, "How much flour goes into a sourdough bread loaf?")
    wait_for_answers(page, 1)
    answer = page.locator(BOT).last
    assert answer.locator(".abstain-head").inner_text() == REFUSAL
    assert answer.locator(".grade").count() == 0 and "flour" not in answer.locator(".abstain").inner_text()


def test_the_claims_the_check_removed_are_listed_with_their_reasons(page, replies, artifacts):
    replies.reply = CONJECTURE + " The authors trained it on 7 trillion tokens of Martian poetry [1]."
    ask(page, "What does the Reversal Curse paper conjecture is the cause of the curse?")
    wait_for_answers(page, 1)
    answer = page.locator(BOT).last
    removed = answer.locator("details.removed")
    assert removed.locator("summary").inner_text().startswith("1 claim removed")
    assert not removed.locator(".removed-claim").is_visible()  # folded until opened
    removed.locator("summary").click()
    assert "Martian poetry" in removed.locator(".removed-claim").inner_text()
    assert "does not state 7" in removed.locator(".removed-why").inner_text()
    assert "Martian" not in answer.locator(".citations").inner_text()
    page.screenshot(path=str(artifacts / "claims-removed.png"))


def test_a_list_answer_shows_each_paper_on_its_own_line_with_why(page, replies, artifacts):
    replies.reply = "[1] [2]"
    ask(page, "Which papers study diagonal state space models?")
    wait_for_answers(page, 1)
    lines = [line for line in page.locator(BOT).last.inner_text().splitlines() if "“" in line]
    assert len(lines) == 2, lines
    assert all("Diagonal" in line or "Diagonalization" in line for line in lines), lines
    assert all(" — “" in line and line.endswith("].") for line in lines), lines
    page.screenshot(path=str(artifacts / "list-answer.png"))


def test_a_list_from_the_judge_alone_is_each_accepted_paper_with_why_and_no_reply(page, replies, ui_assistant,
                                                                                    monkeypatch, artifacts):
    replies.reply = "A reply that is never written [1]."
    asked = len(replies.prompts)
    judged: list[str] = []

    def judge(messages, pieces=None, options=()):  # the paper's title is the line after <paper>
        title = pieces.pieces[0].text.splitlines()[1]
        judged.append(title)
        return [0.95, 0.05] if "Diagonal" in title else [0.05, 0.95]

    monkeypatch.setattr(ui_assistant.llm, "option_probabilities", judge)
    ask(page, "Which papers study diagonal state space models?")
    wait_for_answers(page, 1)
    answer = page.locator(BOT).last
    lines = [line for line in answer.inner_text().splitlines() if "“" in line]
    assert len(lines) == 2 and all("Diagonal" in line and " — “" in line for line in lines), lines
    assert "never written" not in answer.inner_text() and len(replies.prompts) == asked  # no reply was asked for
    assert len(judged) == ui_assistant.settings.answering.list_candidates
    page.screenshot(path=str(artifacts / "list-from-judge.png"))
