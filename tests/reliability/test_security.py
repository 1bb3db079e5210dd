"""Security of the chat UI: loopback unless asked, a login from RAG_UI_USERNAME / RAG_UI_PASSWORD,
size-limited uploads parsed as data only (no unpickling, only Gradio's temp path opened, only base
names shown), and the password never printed (``rag ui`` logs, ``rag info --json``).

The remote test runs a real ``rag ui`` process on 0.0.0.0 (embedded Chroma, MiniLM, the Ollama
stand-in as the LLM) and talks to it over HTTP like a browser or ``gradio_client`` would."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from rag import Assistant
from rag.cli import app, is_loopback
from tests.reliability.conftest import REPO, synthetic_papers, write_jsonl
from tests.reliability.papers import REVERSAL_REPLY, fill_collection, seed_papers, small_settings
from tests.support.fakes import scripted
from tests.support.ollama_standin import OllamaStandIn
from tests.support.processes import free_port
from ui.upload import ingest_files, upload_report

runner = CliRunner()
PASSWORD = "correct-horse-7d1f2b"  # a test secret that must never be printed
USER = "alice"


@pytest.mark.parametrize(("host", "loopback"), [("127.0.0.1", True), ("127.0.0.2", True), ("::1", True),
                                                ("localhost", True), ("0.0.0.0", False), ("::", False),
                                                ("192.168.1.5", False), ("my-host.example", False)])
def test_is_loopback(host, loopback):
    assert is_loopback(host) is loopback


@pytest.mark.parametrize("how", [["--host", "0.0.0.0"], ["--host", "::"]])
def test_ui_refuses_other_interfaces_without_allow_remote(tmp_path, how):
    started = time.monotonic()
    result = runner.invoke(app, ["ui", *how], env={"RAG_DATA_DIR": str(tmp_path), "RAG_CONFIG": str(tmp_path / "x")})
    assert result.exit_code == 1 and time.monotonic() - started < 2  # before any model or store is opened
    assert result.output.startswith(f"error: refusing to serve on {how[1]}: other machines could reach the chat UI. "
                                    "Pass --allow-remote (or set RAG_UI_ALLOW_REMOTE=true)")
    from_env = runner.invoke(app, ["ui"], env={"RAG_DATA_DIR": str(tmp_path), "RAG_UI_HOST": "192.168.1.5",
                                               "RAG_CONFIG": str(tmp_path / "x")})
    assert from_env.exit_code == 1 and "refusing to serve on 192.168.1.5" in from_env.output


def wait_for(url: str, process: subprocess.Popen, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[1]
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(0.5)
    raise AssertionError(f"{url} did not answer within {timeout} s")


@pytest.mark.slow
def test_remote_ui_requires_a_login_limits_uploads_and_never_prints_the_password(tmp_path):
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    write_jsonl(seeds / "four.jsonl", [{"id": p.id, "title": p.title, "abstract": p.abstract}
                                       for p in seed_papers(4)])
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with OllamaStandIn(["qwen2.5:3b-instruct"], reply=REVERSAL_REPLY) as ollama:
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("RAG_")},
               "RAG_DATA_DIR": str(tmp_path / "data"), "RAG_SEEDS_DIR": str(seeds), "RAG_OLLAMA_HOST": ollama.url,
               "RAG_CONFIG": str(tmp_path / "none.toml"), "RAG_UI_USERNAME": USER, "RAG_UI_PASSWORD": PASSWORD,
               "RAG_UPLOAD_MAX_MB": "1", "PYTHONUNBUFFERED": "1"}
        process = subprocess.Popen([sys.executable, "-m", "rag.cli", "ui", "--host", "0.0.0.0", "--allow-remote",
                                    "--port", str(port)], env=env, cwd=REPO, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        try:
            wait_for(url, process)
            assert httpx.get(f"{url}/config").status_code == 401
            assert httpx.post(f"{url}/gradio_api/upload", files={"files": ("a.jsonl", b"{}\n")}).status_code == 401
            with httpx.Client(base_url=url) as browser:
                assert browser.post("/login", data={"username": USER, "password": "wrong"}).status_code == 400
                assert browser.post("/login", data={"username": USER, "password": PASSWORD}).json() == {
                    "success": True}
                assert browser.get("/config").status_code == 200
                escaped = browser.post("/gradio_api/upload", files={"files": ("../../escape.jsonl", b"{}\n")})
                saved = Path(escaped.json()[0])
                assert saved.name == "escape.jsonl" and ".." not in saved.parts and saved.is_file()
                assert not (tmp_path / "escape.jsonl").exists()
                too_big = browser.post("/gradio_api/upload", files={"files": ("big.jsonl", b"x" * (2 * 2**20))})
                assert too_big.status_code == 413 and "maximum allowed size of 1048576 bytes" in too_big.text
            from gradio_client import Client

            with pytest.raises(Exception):  # noqa: B017 - gradio_client raises its own types for 401
                Client(url, verbose=False)
            answer = Client(url, auth=(USER, PASSWORD), verbose=False).predict(
                "What does the Reversal Curse paper conjecture?", api_name="/ask")
            assert answer["sources"] and answer["llm_provider"] == "ollama"
        finally:
            process.terminate()
            out, err = process.communicate(timeout=30)
    assert f"serving on 0.0.0.0: login required (user '{USER}')" in err
    assert PASSWORD not in out + err
    info = subprocess.run([sys.executable, "-m", "rag.cli", "info", "--json"], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert info.returncode == 0, info.stderr
    assert json.loads(info.stdout)["settings"]["ui_password"] == "**********"
    assert PASSWORD not in info.stdout + info.stderr
    plain = subprocess.run([sys.executable, "-m", "rag.cli", "info"], env=env, cwd=REPO, capture_output=True,
                           text=True, timeout=120)
    assert "ui_password = **********" in plain.stdout and PASSWORD not in plain.stdout + plain.stderr


def test_bad_settings_message_never_shows_the_password(tmp_path):
    env = {"RAG_DATA_DIR": str(tmp_path), "RAG_CONFIG": str(tmp_path / "x"), "RAG_UI_PASSWORD": PASSWORD,
           "RAG_TOP_K": "0"}
    result = runner.invoke(app, ["ui"], env=env)
    assert result.exit_code == 1 and PASSWORD not in result.output


# --- the upload handler ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def assistant(tmp_path_factory, embedder) -> Assistant:
    data_dir = tmp_path_factory.mktemp("uploads")
    fill_collection(small_settings(data_dir), embedder, "papers", seed_papers(3))
    return Assistant(small_settings(data_dir, collection="papers", upload_max_mb=1), llm=scripted(REVERSAL_REPLY),
                     embedder=embedder, progress=False)


def test_upload_over_the_limit_is_refused_before_reading(assistant, tmp_path):
    big = tmp_path / "gradio-tmp" / "big.jsonl"
    big.parent.mkdir()
    write_jsonl(big, synthetic_papers(1200, tag="big"))
    assert big.stat().st_size > 2**20
    result = ingest_files(assistant, [big], "papers")
    assert result.error == (f"big.jsonl ({big.stat().st_size / 2**20:.1f} MB): larger than the 1 MB upload limit "
                            "(RAG_UPLOAD_MAX_MB); nothing was added. Split the file, or use `rag ingest` on the "
                            "command line.")
    assert result.records == 0 and assistant.index("papers").paper_count() == 3


def test_upload_report_shows_only_escaped_base_names(assistant, tmp_path):
    folder = tmp_path / "gradio-tmp" / "0123abcd"
    folder.mkdir(parents=True)
    odd = folder / '<img src=x onerror="alert(1)">.jsonl'
    odd.write_text('{"title": "Half a record", \n')
    report = upload_report(ingest_files(assistant, [odd], "papers"))
    assert "0123abcd" not in report and str(tmp_path) not in report
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;.jsonl:1: invalid JSON" in report
    assert "<img" not in report


class Exploit:
    """Unpickling this would create a marker file."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.mark.parametrize("name", ["evil.jsonl", "evil.csv", "evil.txt", "evil.md"])
def test_uploads_are_parsed_as_data_never_unpickled(assistant, tmp_path, name):
    marker = tmp_path / "unpickled"
    payload = tmp_path / name
    payload.write_bytes(pickle.dumps(Exploit(marker), protocol=0))  # protocol 0: text-like, no NUL bytes
    result = ingest_files(assistant, [payload], "papers")
    assert not marker.exists()
    assert result.added == 0 and (result.bad or result.error)
    assert assistant.index("papers").paper_count() == 3
