"""README stays accurate: every setting is in its configuration table with its current default."""

from __future__ import annotations

import re

from rag.settings import Settings
from tests.conftest import REPO

SHOWN_ELSEWHERE = {"data_dir", "seeds_dir", "ollama_host", "ui_password"}  # defaults depend on the machine


def test_configuration_table_lists_every_setting_with_its_default():
    rows = dict(re.findall(r"^\| `RAG_(\w+)` \| (.+?) \|", (REPO / "README.md").read_text(), re.MULTILINE))
    for name, field in Settings.model_fields.items():
        assert name.upper() in rows, f"RAG_{name.upper()} is missing from README's configuration table"
        if name not in SHOWN_ELSEWHERE:
            default = str(field.default).lower() if isinstance(field.default, bool) else str(field.default)
            assert rows[name.upper()] == f"`{default}`", f"RAG_{name.upper()}: README says {rows[name.upper()]}"
