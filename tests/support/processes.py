"""Processes the tests and benchmarks start: a free loopback port, a Chroma server, headless Chromium."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

CHROMA = Path(sys.executable).parent / "chroma"
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
