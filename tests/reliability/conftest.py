"""Fixtures for the reliability tests: real ``rag`` subprocesses on real files, a real Chroma server,
and an Ollama stand-in (``tests/ollama_standin.py``) serving embeddings so that thousands of papers
embed in seconds. The stand-in speaks Ollama's documented ``/api/embed`` and ``/api/chat``; its
vectors are seeded from a hash of the text, so they are stable within a test session. Nothing here
runs a real model: crash safety, locking and consistency do not depend on what the vectors mean."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from rag.corpus import load_corpus
from rag.index.bm25 import Bm25Index
from rag.index.store import PaperStore, connect, disconnect
from rag.settings import Settings
from tests.conftest import SEEDS
from tests.support.ollama_standin import OllamaStandIn
from tests.support.processes import ChromaServer
from tests.support.processes import chroma_server as serve_chroma

REPO = Path(__file__).resolve().parents[2]
RAG = [sys.executable, "-m", "rag.cli"]
EMBED_MODEL = "nomic-embed-text"
CHAT_MODEL = "qwen2.5:3b-instruct"
STANDIN_DIM = 8
CHUNK_TOKENS = 160  # small chunks: most synthetic papers get 3-6 chunks, so a paper can be cut between them


@pytest.fixture(scope="session")
def standin() -> Iterator[OllamaStandIn]:
    """One Ollama stand-in for the session: embeddings (8-d) and chat for every subprocess."""
    with OllamaStandIn([EMBED_MODEL, CHAT_MODEL], dimension=STANDIN_DIM) as server:
        yield server


def rag_settings(data_dir: Path, standin: OllamaStandIn, **overrides) -> Settings:
    """Settings like the ones the subprocesses get from `rag_env`."""
    return Settings(data_dir=data_dir, seeds_dir=data_dir / "no-seeds", embed_provider="ollama",
                    ollama_host=standin.url, llm_provider="ollama", chunk_tokens=CHUNK_TOKENS, **overrides)


def rag_env(data_dir: Path, standin: OllamaStandIn, **extra: str) -> dict[str, str]:
    """Environment for a ``rag`` subprocess: its own data folder, the stand-in for embeddings and chat."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update({
        "RAG_DATA_DIR": str(data_dir), "RAG_SEEDS_DIR": str(data_dir / "no-seeds"),
        "RAG_CONFIG": str(data_dir / "none.toml"), "RAG_EMBED_PROVIDER": "ollama", "RAG_LLM_PROVIDER": "ollama",
        "RAG_OLLAMA_HOST": standin.url, "RAG_CHUNK_TOKENS": str(CHUNK_TOKENS), "PYTHONUNBUFFERED": "1",
        **extra,
    })
    return env


def run_rag(args: list[str], env: dict[str, str], timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([*RAG, *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=timeout)


def start_rag(args: list[str], env: dict[str, str], stderr_path: Path, module: str = "rag.cli") -> subprocess.Popen:
    """A ``rag`` subprocess whose stderr (progress bar, warnings) goes to a file the test can poll.

    ``module`` runs another entry point instead, e.g. ``tests.reliability.crash_hook``.
    """
    return subprocess.Popen([sys.executable, "-m", module, *args], env={**env, "PYTHONPATH": str(REPO)}, cwd=REPO,
                            stdout=subprocess.PIPE, stderr=stderr_path.open("w"), text=True)


def progress_of(stderr_path: Path) -> int:
    """Papers done according to the last tqdm update in a stderr file (``... 640/2000 ...``)."""
    found = re.findall(r"(\d+)/\d+ \[", stderr_path.read_text(errors="replace"))
    return int(found[-1]) if found else 0


def kill_when(process: subprocess.Popen, stderr_path: Path, at_least: int, delay: float = 0.0,
              timeout: float = 180) -> int:
    """SIGKILL ``process`` ``delay`` seconds after its progress reaches ``at_least`` papers; returns that progress."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = progress_of(stderr_path)
        if done >= at_least:
            time.sleep(delay)
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
            return done
        assert process.poll() is None, f"ingest ended before it could be killed:\n{stderr_path.read_text()}"
        time.sleep(0.02)
    raise AssertionError(f"ingest never reached {at_least} papers:\n{stderr_path.read_text()}")


# --- synthetic corpora --------------------------------------------------------------------------
def synthetic_papers(count: int, start: int = 0, tag: str = "syn") -> list[dict]:
    """``count`` distinct papers made from the seed abstracts (ids ``{tag}-NNNNN``, unique titles)."""
    seeds = load_corpus([SEEDS]).papers
    papers = []
    for i in range(start, start + count):
        seed = seeds[i % len(seeds)]
        round_ = i // len(seeds) + 1
        papers.append({
            "id": f"{tag}-{i:05d}",
            "title": f"{seed.title} (replication {round_}, {tag} {i})",
            "abstract": f"Replication {round_} of this study, record {i}. {seed.abstract}",
            "url": f"https://example.org/{tag}/{i}",
        })
    return papers


def write_jsonl(path: Path, papers: list[dict]) -> Path:
    path.write_text("".join(json.dumps(p) + "\n" for p in papers))
    return path


# --- looking at a store from the test -----------------------------------------------------------
@dataclass
class StoreView:
    """What a collection holds, read straight from Chroma and from the saved BM25 index."""

    papers: set[str]  # ids with a head chunk (what every reader counts)
    chunks: int
    incomplete: dict[str, str]  # paper id -> description, for papers whose chunks are not all there
    titles: int  # distinct titles among the papers
    bm25: set[str] | None  # paper ids in the saved BM25 index (None: none saved)
    bm25_fingerprint: str | None
    fingerprint: str


def view_store(settings: Settings, collection: str) -> StoreView:
    """Open the store briefly (taking and releasing its lock if embedded) and describe ``collection``."""
    client = connect(settings)
    try:
        store = PaperStore(client, collection, f"ollama:{EMBED_MODEL}", STANDIN_DIM, create=False)
        states = store.chunk_states()
        heads = {pid: s.head for pid, s in states.items() if s.head is not None}
        saved = Bm25Index.load(settings.store.bm25_dir / collection)
        return StoreView(
            papers=set(heads),
            chunks=store.chunk_count(),
            incomplete={pid: s.describe() for pid, s in states.items() if not s.complete},
            titles=len({h["title"] for h in heads.values()}),
            bm25=None if saved is None else set(saved.paper_ids),
            bm25_fingerprint=None if saved is None else saved.fingerprint,
            fingerprint=store.fingerprint(),
        )
    finally:
        disconnect(client, settings)


# --- a Chroma server ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory) -> Iterator[ChromaServer]:
    """``chroma run`` on a free loopback port, up once its heartbeat answers (one per test module;
    tests use their own collections)."""
    folder = tmp_path_factory.mktemp("chroma-server")
    with serve_chroma(folder / "chroma-server", folder / "chroma-server.log") as server:
        yield server
