"""Shared pieces of the benchmarks: a cheap deterministic embedding, a Chroma server, RSS and disk sizes."""

from __future__ import annotations

import json
import os
import platform
import re
import socket
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from pydantic import PrivateAttr

from rag.models.embedding import VectorEmbedding
from rag.settings import REPO_ROOT
from rag.text import STOPWORDS

RESULTS = REPO_ROOT / "benchmarks" / "results"
CHROMA = Path(sys.executable).parent / "chroma"
WORD = re.compile(r"[^\W_]+")
TOKENS_PER_WORD = 1.413  # MiniLM word pieces per whitespace word, measured on the seeds (title + abstract)


class HashEmbedding(VectorEmbedding):
    """A cheap, deterministic stand-in for MiniLM (NOT a language model): a seeded random projection
    of hashed word counts (stopwords dropped), L2-normalized, 384-d.

    Texts that share words get similar vectors, so the HNSW graph sees clustered data like real
    embeddings do (uniform random vectors would be an unrealistic worst case); the vectors mean
    nothing beyond word overlap. Token counts for chunking are estimated from word counts
    (1.413 word pieces per word, measured on the seeds: the seeds give 839 chunks this way and
    841 with the real tokenizer).
    """

    dimension: int = 384
    _table: np.ndarray = PrivateAttr()
    _rows: dict = PrivateAttr()

    def __init__(self, dimension: int = 384, buckets: int = 1 << 16, seed: int = 0, embed_batch_size: int = 256):
        super().__init__(model_name=f"hash-projection-{dimension}", embed_batch_size=embed_batch_size)
        self.dimension = dimension
        rng = np.random.default_rng(seed)
        self._table = rng.standard_normal((buckets, dimension), dtype=np.float32)
        self._rows = {}

    @classmethod
    def class_name(cls) -> str:
        return "HashEmbedding"

    def count_tokens(self, text: str) -> int:
        return int(len(text.split()) * TOKENS_PER_WORD) + 2

    def embed(self, texts: list[str]) -> np.ndarray:
        table, rows = self._table, self._rows  # pydantic private attributes are slow to reach: bind once
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for i, text in enumerate(texts):
            words = [w for w in WORD.findall(text.casefold()) if w not in STOPWORDS]
            found = [rows.get(w) for w in words]
            if None in found:
                for w in words:
                    if w not in rows:
                        rows[w] = zlib.crc32(w.encode()) % len(table)
                found = [rows[w] for w in words]
            vector = table[found or [0]].sum(axis=0)
            out[i] = vector / max(float(np.linalg.norm(vector)), 1e-12)
        return out

    def _embed(self, texts: list[str]) -> list[list[float]]:
        return self.embed(texts).tolist()


# --- processes ---------------------------------------------------------------------------------
CHROMIUM = "/usr/bin/chromium"  # Debian's package (.ci/run installs it); Playwright drives it
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class ChromaServer:
    host: str
    port: int
    path: Path
    process: subprocess.Popen

    def env(self) -> dict[str, str]:
        """The variables that point a `rag` process at this server."""
        return {"RAG_CHROMA_HOST": self.host, "RAG_CHROMA_PORT": str(self.port)}


@contextmanager
def chroma_server(path: Path, log: Path) -> Iterator[ChromaServer]:
    """``chroma run --path PATH --host 127.0.0.1 --port P`` on a free loopback port, until the block ends."""
    port = free_port()
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
    with log.open("w") as out:
        process = subprocess.Popen([str(CHROMA), "run", "--path", str(path), "--host", "127.0.0.1", "--port",
                                    str(port)], stdout=out, stderr=subprocess.STDOUT, env=env)
        try:
            deadline = time.monotonic() + 60
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"chroma run exited: {log.read_text()[-2000:]}")
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("the Chroma server did not answer its heartbeat within 60 s")
                time.sleep(0.2)
            yield ChromaServer("127.0.0.1", port, path, process)
        finally:
            process.terminate()
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def proc_status(pid: int | None = None) -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of a process in bytes, from /proc (Linux)."""
    values = {}
    for line in Path(f"/proc/{pid or 'self'}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) * 1024
    return values


class RssSampler:
    """Samples a process's RSS every ``interval`` seconds in a thread; ``peak`` is the largest seen."""

    def __init__(self, pid: int, interval: float = 0.5):
        self.pid, self.interval, self.peak = pid, interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, proc_status(self.pid)["VmRSS"])
            except (OSError, KeyError):
                return
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def dir_size(path: Path) -> int:
    """Bytes allocated on disk under ``path`` (like ``du``: sparse files count what they use)."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            with suppress(OSError):
                total += os.lstat(os.path.join(root, name)).st_blocks * 512
    return total


def percentiles(values_ms: list[float]) -> dict[str, float]:
    array = np.array(values_ms)
    return {"p50_ms": round(float(np.percentile(array, 50)), 2), "p95_ms": round(float(np.percentile(array, 95)), 2),
            "mean_ms": round(float(array.mean()), 2), "n": len(values_ms)}


def machine() -> dict[str, Any]:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    memory = int(Path("/proc/meminfo").read_text().split()[1]) * 1024
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": round(memory / 2**30, 1),
            "python": platform.python_version(), "load_average_at_start": os.getloadavg()}


def package_versions(*names: str) -> dict[str, str]:
    from importlib.metadata import version

    return {name: version(name) for name in names}


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")
