"""Bad corpus files through ``rag ingest`` end to end (Typer's runner in this process, a real embedded
Chroma store, the Ollama stand-in for embeddings): non-UTF-8 bytes, an empty file, a binary file, a
JSONL with a broken line in the middle, UTF-16 text, objects where text or metadata belong, CSVs
with a missing column or a short row, a listing page with no papers, and a 50 MB file.

Without ``--skip-bad`` the command exits 1 naming each file and line, and nothing is written (the
collection's Chroma contents are unchanged). With it, the good records go in and the summary lists
the bad ones. A file over ``RAG_INGEST_MAX_MB`` (20 MB) is refused before it is read."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rag.cli import app
from tests.reliability.conftest import rag_env, rag_settings, synthetic_papers, view_store, write_jsonl

runner = CliRunner()
BAD = {  # file -> what the report must say about it
    "nonutf8.jsonl": "nonutf8.jsonl:2: not UTF-8 (byte 0xe9 at column 15)",
    "empty.jsonl": "empty.jsonl:1: file is empty",
    "binary.jsonl": "binary.jsonl:1: binary file (NUL bytes), not a text corpus",
    "broken.jsonl": "broken.jsonl:2: invalid JSON: Expecting value at column 40",
    "missing.csv": "missing.csv:1: CSV header lacks column(s) abstract (found: title, summary)",
    "short.csv": "short.csv:3: row has fewer fields than the header",
    "nopapers.txt": "nopapers.txt:1: no papers found (expected title and abstract lines)",
    "utf16.jsonl": "utf16.jsonl:1: UTF-16 text; save the file as UTF-8",
    "nested.jsonl": "nested.jsonl:2: field(s) title must be text, not dict",
}
BIG_MESSAGE = ("big.jsonl:1: file is 50.0 MB, over the 20 MB limit for one corpus file (RAG_INGEST_MAX_MB); "
               "stream it with `rag ingest --bulk`, split it, or raise the limit")


def line(record: dict) -> bytes:
    return (json.dumps(record) + "\n").encode()


def make_bad_files(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    good = synthetic_papers(7, tag="inbad")
    (folder / "nonutf8.jsonl").write_bytes(line(good[0]) + b'{"title": "Caf\xe9 study", "abstract": "x"}\n')
    (folder / "empty.jsonl").write_bytes(b"")
    (folder / "binary.jsonl").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 8)
    (folder / "broken.jsonl").write_bytes(line(good[1]) + b'{"title": "Half a record", "abstract": \n'
                                          + line(good[2]))
    (folder / "missing.csv").write_text("title,summary\nA title,A summary\n")
    (folder / "short.csv").write_text(f'title,abstract,url\n"{good[3]["title"]}","{good[3]["abstract"]}",u\n'
                                      '"Only a title"\n')
    (folder / "nopapers.txt").write_text("Daily Papers\nSubscribe\nAug 14\n\nnew\n")
    (folder / "utf16.jsonl").write_bytes(json.dumps(good[4]).encode("utf-16"))
    (folder / "nested.jsonl").write_bytes(line({**good[5], "extra": {"venue": "ICML"}, "authors": [{"name": "A"}]})
                                          + line({**good[6], "title": {"text": "a title"}}))
    return [folder / name for name in BAD]


def write_big_jsonl(path: Path, megabytes: int = 50) -> Path:
    """At least ``megabytes`` MB of valid records (whole lines)."""
    records = [line(r) for r in synthetic_papers(400, tag="big")]
    with path.open("wb") as out:
        written = 0
        while written < megabytes * 2**20:
            for record in records:
                out.write(record)
                written += len(record)
                if written >= megabytes * 2**20:
                    break
    return path


@pytest.fixture
def store(tmp_path, standin):
    """A data folder whose collection ``mine`` already holds 3 papers (via ``rag ingest``)."""
    data_dir = tmp_path / "data"
    env = rag_env(data_dir, standin, COLUMNS="1000")  # no wrapping of long report lines
    first = write_jsonl(tmp_path / "first.jsonl", synthetic_papers(3, tag="first"))
    result = runner.invoke(app, ["ingest", str(first), "--collection", "mine"], env=env)
    assert result.exit_code == 0, result.output
    before = view_store(rag_settings(data_dir, standin), "mine")
    assert len(before.papers) == 3
    return data_dir, env, before


def test_bad_files_are_named_by_file_and_line_and_nothing_is_written(tmp_path, store, standin):
    data_dir, env, before = store
    extra = write_jsonl(tmp_path / "extra.jsonl", synthetic_papers(2, tag="extra"))
    result = runner.invoke(app, ["ingest", str(extra), *map(str, make_bad_files(tmp_path / "bad")),
                                 "--collection", "mine"], env=env)
    assert result.exit_code == 1, result.output
    assert result.output.startswith("error: 9 bad record(s); nothing was written:\n")
    for message in BAD.values():
        assert f"  {message}\n" in result.output
    assert "pass --skip-bad to ingest the good records" in result.output
    assert "Traceback" not in result.output
    after = view_store(rag_settings(data_dir, standin), "mine")
    assert (after.papers, after.chunks, after.fingerprint) == (before.papers, before.chunks, before.fingerprint)


def test_skip_bad_ingests_the_good_records_and_lists_the_bad(tmp_path, store, standin):
    data_dir, env, _ = store
    extra = write_jsonl(tmp_path / "extra.jsonl", synthetic_papers(2, tag="extra"))
    result = runner.invoke(app, ["ingest", str(extra), *map(str, make_bad_files(tmp_path / "bad")),
                                 "--collection", "mine", "--skip-bad"], env=env)
    assert result.exit_code == 0, result.output
    # good: 2 in extra.jsonl, line 1 of nonutf8.jsonl, lines 1 and 3 of broken.jsonl, row 2 of short.csv, and
    # line 1 of nested.jsonl (its object-valued metadata is stored as JSON text)
    assert "mine: 7 added, 0 updated, 0 unchanged" in result.output
    assert "; 9 bad record(s) skipped:\n" in result.output
    for message in BAD.values():
        assert f"  {message}\n" in result.output
    assert "mine now holds 10 papers" in result.output
    after = view_store(rag_settings(data_dir, standin), "mine")
    assert len(after.papers) == 10 and not after.incomplete and after.bm25 == after.papers


def test_a_50_mb_file_is_refused_before_it_is_read(tmp_path, store, standin):
    data_dir, env, _ = store
    big = write_big_jsonl(tmp_path / "big.jsonl")
    assert 50 * 2**20 <= big.stat().st_size < 51 * 2**20
    started = time.monotonic()
    result = runner.invoke(app, ["ingest", str(big), "--collection", "mine"], env=env)
    refused_in = time.monotonic() - started
    assert result.exit_code == 1 and f"  {BIG_MESSAGE}\n" in result.output, result.output
    assert refused_in < 5, f"refusing took {refused_in:.1f} s: the file was read"
    extra = write_jsonl(tmp_path / "extra.jsonl", synthetic_papers(2, tag="extra"))
    skipped = runner.invoke(app, ["ingest", str(big), str(extra), "--collection", "mine", "--skip-bad"], env=env)
    assert skipped.exit_code == 0 and "mine: 2 added" in skipped.output and BIG_MESSAGE in skipped.output
    assert len(view_store(rag_settings(data_dir, standin), "mine").papers) == 5
    raised = runner.invoke(app, ["ingest", str(big), "--collection", "bigger"], env={**env, "RAG_INGEST_MAX_MB": "10"})
    assert "over the 10 MB limit" in raised.output
