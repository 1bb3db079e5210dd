"""Locating model files shipped inside PyPI packages, and checking them by sha256."""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

from rag.errors import ModelUnavailable


def package_dir(package: str, install_hint: str) -> Path:
    """The folder of an installed package, found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailable(f"Python package {package!r} is not installed. Install it with: {install_hint}")
    return Path(next(iter(spec.submodule_search_locations)))


def sha256_of(path: Path, chunk_bytes: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(chunk_bytes):
            digest.update(block)
    return digest.hexdigest()


def verified(path: Path, expected_sha256: str) -> Path:
    """Return ``path`` if its sha256 matches, else raise `ModelUnavailable` naming both sums."""
    if not path.is_file():
        raise ModelUnavailable(f"model file {path} is missing; reinstall the package that ships it")
    actual = sha256_of(path)
    if actual != expected_sha256:
        raise ModelUnavailable(
            f"model file {path} is corrupt: sha256 {actual}, expected {expected_sha256}; "
            "reinstall the package that ships it"
        )
    return path
