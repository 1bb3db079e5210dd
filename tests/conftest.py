"""Shared fixtures: a real MiniLM embedder, a real embedded Chroma store over the seeds, headless Chromium."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.corpus import load_corpus
from rag.index import PaperIndex
from rag.models.embedding import MiniLMEmbedding
from rag.settings import Settings
from tests.support.processes import CHROMIUM, CHROMIUM_ARGS

REPO = Path(__file__).resolve().parent.parent
SEEDS = REPO / "seeds"


@pytest.fixture(scope="session")
def embedder() -> MiniLMEmbedding:
    return MiniLMEmbedding()


@pytest.fixture(scope="session")
def seed_settings(tmp_path_factory) -> Settings:
    return Settings(data_dir=tmp_path_factory.mktemp("seed-data"), seeds_dir=SEEDS, llm_provider="llamacpp")


@pytest.fixture(scope="session")
def seed_index(seed_settings, embedder) -> PaperIndex:
    """All 487 seed papers in a real embedded Chroma store (ingested once per test session)."""
    index = PaperIndex(seed_settings, embedder)
    corpus = load_corpus([SEEDS])
    index.ingest(corpus.papers, total=len(corpus.papers), progress=False)
    return index


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path / "data", seeds_dir=tmp_path / "no-seeds")


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium, headless, driven by Playwright (skipped when it is not installed)."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
