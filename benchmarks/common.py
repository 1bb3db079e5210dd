"""Shared pieces of the benchmarks: RSS and disk sizes, percentiles, the machine, JSON results."""

from __future__ import annotations

import json
import os
import platform
import threading
from contextlib import suppress
from pathlib import Path
from typing import Any

import numpy as np

from rag.settings import REPO_ROOT

RESULTS = REPO_ROOT / "benchmarks" / "results"


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
