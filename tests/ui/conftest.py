"""Fixtures for the chat UI: small real collections (30 seed papers; the researchers' formats in `LIBRARY`), the
app on a free loopback port, a page of it in headless Chromium (`browser`, in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rag import Assistant, Settings
from rag.corpus import load_corpus
from tests.conftest import SEEDS
from tests.support.fakes import ScriptedLLM, scripted
from tests.support.processes import free_port

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "ui"
SMALL_SEED_FILE = SEEDS / "000_3499132bda6d8b8b.txt"
SMALL_COLLECTION_SIZE = 30
REPLY = (
    "The Reversal Curse is a manifestation of the long-standing binding problem in cognitive science [1]. "
    "The authors identify the inconsistency and entanglements of concept representations as its two causes [1]."
)
CORPUS_FILES = REPO / "tests" / "corpus_files"
LIBRARY = "library"  # a second collection: the researchers' formats, with authors, years, venues and links
LIBRARY_FILES = ("library.bib", "export.ris", "arxiv-snapshot.jsonl", "openalex-page.json", "pubmed.xml")
LIBRARY_QUESTION = "How do prior-data fitted networks approximate Bayesian inference, and how do graph solvers work?"
LIBRARY_REPLY = ("PFNs approximate Bayesian inference in a single forward propagation [1]. "
                 "Convergent graph solvers compute the fixed points of graph systems [2].")


def small_settings(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, seeds_dir=data_dir / "no-seeds", collection="papers", top_k=6)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def small_data_dir(tmp_path_factory, embedder) -> Path:
    """A collection of the first 30 papers of one seed page and one of the test corpus files (`LIBRARY`, 9 papers
    with metadata), real MiniLM embeddings, ingested once."""
    data_dir = tmp_path_factory.mktemp("ui-data")
    assistant = Assistant(small_settings(data_dir), llm=scripted(REPLY), embedder=embedder, progress=False)
    papers = load_corpus([SMALL_SEED_FILE]).papers[:SMALL_COLLECTION_SIZE]
    assistant.index().ingest(papers, total=len(papers), progress=False)
    assistant.library.ingest([CORPUS_FILES / name for name in LIBRARY_FILES], collection=LIBRARY, skip_bad=True)
    return data_dir


@pytest.fixture(scope="module")
def ui_assistant(small_data_dir, embedder) -> Assistant:
    return Assistant(small_settings(small_data_dir), llm=scripted(REPLY, delay=0.08), embedder=embedder,
                     progress=False)


@pytest.fixture
def fake_llm(ui_assistant) -> Iterator[ScriptedLLM]:
    """The scripted LLM behind the app; a test may change its reply or delay (restored afterwards)."""
    llm = ui_assistant.llm.llm
    assert isinstance(llm, ScriptedLLM)
    reply, delay = llm.reply, llm.delay
    yield llm
    llm.reply, llm.delay = reply, delay


@pytest.fixture(scope="module")
def ui_url(ui_assistant) -> Iterator[str]:
    """The app served on a free loopback port in this process (background thread)."""
    from ui.app import build_app, launch

    app = build_app(ui_assistant)
    url = launch(app, ui_assistant.settings, host="127.0.0.1", port=free_port(), block=False)
    yield url
    app.close()


@pytest.fixture
def page(browser, ui_url):
    """A fresh browser session on the app; afterwards, checks the page fetched nothing from elsewhere."""
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    page = context.new_page()
    elsewhere: list[str] = []
    page.on("request", lambda request: None if request.url.startswith(ui_url) else elsewhere.append(request.url))
    page.set_default_timeout(30_000)
    page.goto(ui_url)
    page.wait_for_selector("#question textarea")
    page.wait_for_selector("#status p")  # the load event has filled the side panel
    page.wait_for_selector("#chats-note p")  # ... and restored the browser's last chat, if any
    yield page
    context.close()
    assert not elsewhere, f"the page made requests outside the app: {elsewhere[:5]}"
