"""``rag ui`` as a user runs it: a fresh data folder, a tiny seeds folder, an Ollama stand-in as the LLM."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import httpx

from rag.corpus import load_corpus
from tests.support.ollama_standin import OllamaStandIn
from tests.support.processes import free_port
from tests.ui.conftest import SMALL_SEED_FILE


def test_rag_ui_fills_the_empty_collection_binds_loopback_and_answers(tmp_path):
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    papers = load_corpus([SMALL_SEED_FILE]).papers[:4]
    (seeds / "four.jsonl").write_text("".join(
        json.dumps({"id": p.id, "title": p.title, "abstract": p.abstract}) + "\n" for p in papers))
    port = free_port()
    with OllamaStandIn(["qwen2.5:3b-instruct"]) as ollama:
        env = {**os.environ, "RAG_DATA_DIR": str(tmp_path / "data"), "RAG_SEEDS_DIR": str(seeds),
               "RAG_OLLAMA_HOST": ollama.url, "RAG_CONFIG": str(tmp_path / "none.toml")}
        process = subprocess.Popen([sys.executable, "-m", "rag.cli", "ui", "--port", str(port)], env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            url = f"http://127.0.0.1:{port}/"
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline and process.poll() is None:
                try:
                    if httpx.get(url, timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.5)
            assert process.poll() is None, process.communicate()[1]
            from gradio_client import Client

            answer = Client(url, verbose=False).predict("What does the Reversal Curse paper conjecture?",
                                                        api_name="/ask")
            assert answer["llm_provider"] == "ollama" and answer["sources"]
        finally:
            process.terminate()
            out, err = process.communicate(timeout=30)
    assert f"Chat UI: {url}" in out
    assert "ingest seeds" in err and "seeds: 4 papers" in err and "LLM ollama:qwen2.5:3b-instruct" in err, err
