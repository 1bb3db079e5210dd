"""The architecture holds: the interfaces use only `rag`, the engine's layers import downwards only
(import-linter contracts in pyproject.toml), and the command line starts without the UI or the plots."""

from __future__ import annotations

import subprocess
import sys

from importlinter.cli import lint_imports

from tests.conftest import REPO


def test_import_contracts_are_kept(monkeypatch):
    monkeypatch.chdir(REPO)
    assert lint_imports(config_filename=str(REPO / "pyproject.toml")) == 0, "run `lint-imports` to see the breach"


def test_rag_ask_help_loads_neither_gradio_nor_matplotlib():
    probe = ("import sys\nsys.argv = ['rag', 'ask', '--help']\nfrom rag.cli import app\n"
             "try:\n    app()\nexcept SystemExit:\n    pass\n"
             "print(sorted(m for m in ('gradio', 'matplotlib', 'ui', 'eval') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True)
    assert "Answer a question" in result.stdout
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_every_engine_module_has_a_layer():
    import tomllib

    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    (layers,) = [c["layers"] for c in config if c["type"] == "layers"]
    placed = {name.strip() for layer in layers for name in layer.split("|")}
    modules = {f"rag.{path.stem}" for path in (REPO / "rag").glob("*.py") if path.stem != "__init__"}
    packages = {f"rag.{path.parent.name}" for path in (REPO / "rag").glob("*/__init__.py")}
    assert modules | packages == placed, "add the module to the layers contract in pyproject.toml"
