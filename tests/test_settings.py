"""Settings: sections, one flat name per setting (environment, TOML, keyword), profiles and their precedence,
readable errors; docs/configuration.md lists every setting with its current default."""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from rag.settings import FLAT, PROFILES, SECTIONS, Settings, describe_invalid
from tests.conftest import REPO

MACHINE_DEFAULTS = {"data_dir", "seeds_dir", "ollama_host"}  # depend on the machine: shown in words


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch, tmp_path):
    for name in [f"RAG_{flat.upper()}" for flat in FLAT] + ["RAG_PROFILE"]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("RAG_CONFIG", str(tmp_path / "rag.toml"))


def test_flat_names_reach_their_sections_from_keywords_and_the_environment(monkeypatch):
    settings = Settings(top_k=3, embed_provider="ollama", ui_port=9000)
    assert (settings.retrieval.top_k, settings.embedding.provider, settings.ui.port) == (3, "ollama", 9000)
    monkeypatch.setenv("RAG_TOP_K", "9")
    monkeypatch.setenv("RAG_LLM_PROVIDER", "llamacpp")
    assert Settings().retrieval.top_k == 9 and Settings().llm.provider == "llamacpp"
    assert Settings(top_k=4).retrieval.top_k == 4, "keywords win over the environment"
    assert Settings(retrieval={"top_k": 5}).retrieval.top_k == 5


def test_toml_file_takes_sections_or_flat_names_below_the_environment(monkeypatch, tmp_path):
    (tmp_path / "rag.toml").write_text('top_k = 7\n[answering]\ncontext_tokens = 1500\n[llm]\ntemperature = 0.0\n')
    settings = Settings()
    assert (settings.retrieval.top_k, settings.answering.context_tokens, settings.llm.temperature) == (7, 1500, 0.0)
    monkeypatch.setenv("RAG_CONTEXT_TOKENS", "800")
    assert Settings().answering.context_tokens == 800


def test_profiles_sit_under_everything_else(monkeypatch, tmp_path):
    assert Settings(profile="fast").llm.llamacpp_model == "qwen2.5-coder-0.5b"
    monkeypatch.setenv("RAG_PROFILE", "quality")
    assert Settings().retrieval.top_k == PROFILES["quality"]["retrieval"]["top_k"]
    assert Settings(top_k=2).retrieval.top_k == 2
    (tmp_path / "rag.toml").write_text("[retrieval]\ntop_k = 5\n")
    assert Settings().retrieval.top_k == 5 and Settings().profile == "quality"
    with pytest.raises(ValidationError) as error:
        Settings(profile="turbo")
    assert "RAG_PROFILE=turbo" in describe_invalid(error.value)


def test_replace_validates_and_keeps_the_rest():
    base = Settings(top_k=3)
    changed = base.replace(chunk_tokens=64, data_dir="/tmp/elsewhere")
    assert (changed.embedding.chunk_tokens, changed.retrieval.top_k, str(changed.store.data_dir)) == \
        (64, 3, "/tmp/elsewhere")
    with pytest.raises(ValidationError):
        base.replace(top_k=0)


def test_invalid_values_are_named_by_their_variable_and_secrets_stay_hidden():
    with pytest.raises(ValidationError) as error:
        Settings(top_k=0, ui_password="hunter2", max_answer_tokens=4000)
    text = describe_invalid(error.value)
    assert "RAG_TOP_K=0 (top_k): Input should be greater than or equal to 1" in text
    assert "[llm] settings: max_answer_tokens (4000) leaves less than 512 tokens" in text
    assert "hunter2" not in text


def expected_row(flat: str) -> tuple[str, str, str]:
    section, field = FLAT[flat]
    info = SECTIONS[section].model_fields[field]
    default = info.default_factory() if info.default_factory else info.default
    shown = "unset" if default is None else str(default).lower() if isinstance(default, bool) else str(default)
    return f"[{section}] {field}", shown, info.description or ""


def test_configuration_reference_lists_every_setting_with_its_default_and_meaning():
    text = (REPO / "docs" / "configuration.md").read_text()
    rows = {name: (place, default, meaning) for name, place, default, meaning in re.findall(
        r"^\| `RAG_(\w+)` \| `([^`]+)` \| (.+?) \| (.+?) \|$", text, re.MULTILINE)}
    assert set(rows) == {flat.upper() for flat in FLAT}, "docs/configuration.md lists other settings than Settings"
    for flat in FLAT:
        place, default, meaning = expected_row(flat)
        shown_place, shown_default, shown_meaning = rows[flat.upper()]
        assert shown_place == place, f"RAG_{flat.upper()}: docs say {shown_place}, it is {place}"
        assert shown_meaning == meaning, f"RAG_{flat.upper()}: docs describe it otherwise"
        if flat not in MACHINE_DEFAULTS:
            assert shown_default == f"`{default}`", f"RAG_{flat.upper()}: docs say {shown_default}, default {default}"
    for profile in PROFILES:
        assert f"`{profile}`" in text


@pytest.mark.parametrize(("given", "meant"), [("true", "all"), ("false", "off"), (True, "all"), ("first", "first")])
def test_the_prompt_cache_switch_takes_its_modes_and_its_earlier_true_false(monkeypatch, given, meant):
    monkeypatch.setenv("RAG_PROMPT_CACHE", str(given).lower())
    assert Settings().llm.prompt_cache == meant
    assert Settings(prompt_cache=given).llm.prompt_cache == meant
