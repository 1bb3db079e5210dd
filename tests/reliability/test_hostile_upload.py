"""Bomb PDFs uploaded through the chat's side panel, in Chromium: the upload goes through the same limits as
`rag ingest`, the chat keeps answering while the PDF reader works, the report names each file with its
limit, and the next question is answered.

The app runs in this process on a real embedded Chroma store with MiniLM embeddings; the LLM is the
scripted fake (`tests.support.fakes`): what is under test is the upload path, not the answer's wording."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from rag import Assistant
from tests.reliability.papers import REVERSAL_QUESTION, REVERSAL_REPLY, fill_collection, seed_papers, small_settings
from tests.support import hostile
from tests.support.browser import timed_question
from tests.support.fakes import scripted
from tests.support.processes import free_port

pytestmark = pytest.mark.filterwarnings("ignore::Warning:gradio.queueing")
PDF_SECONDS = 45  # the busy PDF is stopped after this long; the chat must answer meanwhile, even on a busy machine


@pytest.fixture(scope="module")
def app_url(tmp_path_factory, embedder) -> Iterator[str]:
    """The chat over 6 seed papers, with the PDF reader's time limit at `PDF_SECONDS`."""
    from ui.app import build_app, launch

    data_dir = tmp_path_factory.mktemp("hostile-upload")
    fill_collection(small_settings(data_dir), embedder, "papers", seed_papers(6))
    settings = small_settings(data_dir, collection="papers", pdf_max_seconds=PDF_SECONDS)
    assistant = Assistant(settings, llm=scripted(REVERSAL_REPLY, delay=0.02), embedder=embedder, progress=False)
    app = build_app(assistant)
    yield launch(app, settings, host="127.0.0.1", port=free_port(), block=False)
    app.close()


def test_bomb_pdfs_are_refused_while_the_chat_keeps_answering(browser, app_url, tmp_path):
    memory_bomb = hostile.pdf_content_bomb(tmp_path / "inflates-to-1GiB.pdf", 1024)
    busy = hostile.pdf_busy_page(tmp_path / "busy-page.pdf", 32)  # about two minutes of reading on an idle machine
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(app_url)
    page.wait_for_selector("#status p")
    page.set_input_files("#upload input[type=file]", [str(memory_bomb), str(busy)])
    timed_question(page, REVERSAL_QUESTION)  # answered while the PDF reader works on the busy page
    reported = "#upload-report .upload-ok, #upload-report .upload-bad, #upload-report .upload-error"
    assert page.locator(reported).count() == 0, "the upload ended before the question was answered"
    page.wait_for_selector("#upload-report .upload-bad li")
    assert page.inner_text("#upload-report .upload-bad p") == "Nothing was added: 2 bad record(s):"
    assert page.locator("#upload-report .upload-bad li").all_inner_texts() == [
        "inflates-to-1GiB.pdf:1: reading it needs over 512 MB of memory (RAG_PDF_MAX_MEMORY_MB): a decompression "
        "bomb, or a page far heavier than a paper's; not read",
        f"busy-page.pdf:1: reading its first 2 pages took over {PDF_SECONDS} s (RAG_PDF_MAX_SECONDS): a "
        "decompression bomb, or a page far heavier than a paper's; not read",
    ]
    timed_question(page, "What is the binding problem?")
    assert page.locator("#chat .chat-error").count() == 0
    assert page.inner_text("#collection-status").startswith("papers · 6 papers")
    context.close()
