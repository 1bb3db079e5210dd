"""Small real collections for the reliability tests of questions, prompts and model faults.

Papers go through the real ingestion into a real embedded Chroma store (MiniLM embeddings, so
retrieval behaves as in use); the LLM is a scripted fake or the Ollama stand-in unless a test says
otherwise.
"""

from __future__ import annotations

from pathlib import Path

from rag.corpus import Paper, load_corpus
from rag.index import PaperIndex
from rag.settings import Settings
from tests.conftest import SEEDS

SMALL_SEED_FILE = SEEDS / "000_3499132bda6d8b8b.txt"
REVERSAL_QUESTION = "What does the Reversal Curse paper conjecture is the cause of the curse?"
REVERSAL_REPLY = "The Reversal Curse is a manifestation of the long-standing binding problem in cognitive science [1]."


def seed_papers(count: int = 12) -> list[Paper]:
    """The first ``count`` papers of one seed page (the Reversal Curse paper among them)."""
    return load_corpus([SMALL_SEED_FILE]).papers[:count]


def paper(pid: str, title: str, abstract: str, source: str = "extra.jsonl") -> Paper:
    return Paper(id=pid, title=title, abstract=abstract, metadata={"sources": [source], "line": 1})


def fill_collection(settings: Settings, embedder, name: str, papers: list[Paper]) -> None:
    """Ingest ``papers`` into collection ``name`` (real Chroma, real embeddings), then close it."""
    with PaperIndex(settings, embedder, name) as index:
        index.ingest(papers, total=len(papers), progress=False)


def small_settings(data_dir: Path, **overrides) -> Settings:
    return Settings(data_dir=data_dir, seeds_dir=data_dir / "no-seeds", **overrides)
