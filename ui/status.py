"""Read-only status for the side panel: collections, their source files, the active models."""

from __future__ import annotations

import logging
from html import escape

from rag import Assistant, ModelUnavailable, StoreError, prompt_cache_stats

log = logging.getLogger(__name__)

ALL_FILES = "All files"


def collection_choices(assistant: Assistant) -> list[str]:
    """Collections built with the active embedding model (others cannot be searched), default first."""
    default = assistant.settings.store.collection
    try:
        names = [c.name for c in assistant.collections(count=False) if c.usable]
    except StoreError as error:
        log.warning("cannot list collections: %s", error)
        names = []
    return [default, *(n for n in names if n != default)]


def source_choices(assistant: Assistant, collection: str) -> list[tuple[str, str]]:
    """(label, value) pairs for the source-file filter; the empty value means every file."""
    try:
        counts = assistant.sources(collection)
    except StoreError:
        counts = {}
    return [(ALL_FILES, ""), *((f"{name} ({count})", name) for name, count in counts.items())]


def collection_status(assistant: Assistant, collection: str) -> str:
    """One line on the collection: how many papers, or why it cannot be used."""
    try:
        count = assistant.paper_count(collection)
    except StoreError as error:
        return f'<p class="status-error">{escape(str(error))}</p>'
    if count == 0:
        return f"<p>{escape(collection)} is empty: add papers below.</p>"
    return f"<p>{escape(collection)} · {count} papers</p>"


def model_status(assistant: Assistant) -> str:
    """Which LLM and embedding model are active, with a hint when Ollama is not in use."""
    embed = f"<p><b>Embeddings</b> {escape(assistant.embed_model)}</p>"
    settings = assistant.settings
    try:
        chosen = assistant.llm
    except ModelUnavailable as error:
        return (f'<p class="status-error"><b>LLM</b> not available: {escape(str(error))}</p>{embed}')
    kind = {"ollama": "Ollama server", "llamacpp": "embedded llama.cpp"}.get(chosen.provider, chosen.provider)
    line = f"<p><b>LLM</b> {escape(chosen.model)} <span class='muted'>({escape(kind)})</span></p>"
    hint = ""
    if chosen.provider != "ollama" and settings.llm.provider == "auto":
        hint = (f'<p class="hint">{escape(chosen.reason)}. To use Ollama, start <code>ollama serve</code>, '
                f"run <code>ollama pull {escape(settings.llm.ollama_model)}</code> and set <code>OLLAMA_HOST</code> "
                "if it runs elsewhere; then restart.</p>")
    cache = ""
    if chosen.caches_judged_papers and (stats := prompt_cache_stats(settings)) is not None:
        cache = (f"<p><b>Prompt cache</b> {stats.entries} entries "
                 f"<span class='muted'>({stats.bytes / 2**30:.1f} GB)</span></p>")
    return line + hint + cache + embed
