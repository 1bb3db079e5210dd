"""Hostile and careless corpus files through ``rag ingest`` (Typer's runner in this process, a real embedded
Chroma store, the real MiniLM embedder): decompression-bomb PDFs, an abstract of megabytes, JSON nested or
numbered past what parsers take, a lone surrogate, a file name with terminal escapes, a FIFO and a device, and
the line numbers of XML, CSV, RIS and NUL-byte errors. Every file is made by the test (`tests.support.hostile`).

Each case must end with the project's own ``file:line: problem`` (never a traceback, never a hang), keep the
good records of the same files with ``--skip-bad``, and write nothing without it. How long each takes and how
much memory is in docs/reliability.md; it is not asserted here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rag import Library, Settings
from rag.cli import app
from rag.index.store import owner_lock_file
from tests.support import hostile

runner = CliRunner()
MEMORY = ("reading it needs over 512 MB of memory (RAG_PDF_MAX_MEMORY_MB): a decompression bomb, or a page far "
          "heavier than a paper's; not read")


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    """A data folder of its own for the ``rag`` commands (no seeds, no rag.toml, no line wrapping)."""
    return {"RAG_DATA_DIR": str(tmp_path / "data"), "RAG_SEEDS_DIR": str(tmp_path / "no-seeds"),
            "RAG_CONFIG": str(tmp_path / "none.toml"), "COLUMNS": "1000"}


def ingest(env: dict[str, str], *paths: Path, skip_bad: bool = True, **extra: str):
    args = ["ingest", *map(str, paths), "--collection", "mine", *(["--skip-bad"] if skip_bad else [])]
    return runner.invoke(app, args, env={**env, **extra})


def store_of(env: dict[str, str], embedder) -> Library:
    return Library(Settings(data_dir=env["RAG_DATA_DIR"], seeds_dir=env["RAG_SEEDS_DIR"]), embedder=embedder,
                   progress=False)


def good_file(folder: Path, name: str = "good.jsonl") -> Path:
    return hostile.write_jsonl(folder / name, [json.dumps(hostile.good_record(n)) for n in (10, 11)])


def assert_reported(result, *lines: str, added: int) -> None:
    """The run ended normally, added ``added`` papers and lists each bad record line."""
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    assert f"mine: {added} added, 0 updated, 0 unchanged" in result.output, result.output
    for line in lines:
        assert f"  {line}\n" in result.output, result.output


# --- PDFs ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(("make", "message", "extra"), [
    (lambda p: hostile.pdf_content_bomb(p, 1024), MEMORY, {}),
    (lambda p: hostile.pdf_object_stream_bomb(p, 1024), MEMORY, {}),
    (lambda p: hostile.pdf_busy_page(p, 16), "reading its first 2 pages took over 3 s (RAG_PDF_MAX_SECONDS): a "
     "decompression bomb, or a page far heavier than a paper's; not read", {"RAG_PDF_MAX_SECONDS": "3"}),
], ids=["content-stream-1GiB", "object-stream-1GiB", "16MiB-of-operators"])
def test_a_pdf_bomb_is_stopped_at_its_limit_and_the_good_files_go_in(tmp_path, env, make, message, extra):
    bomb = make(tmp_path / "bomb.pdf")
    assert bomb.stat().st_size < 3 * 2**20
    result = ingest(env, bomb, good_file(tmp_path), **extra)
    assert_reported(result, f"bomb.pdf:1: {message}", added=2)


# --- sizes of fields ----------------------------------------------------------------------------
@pytest.mark.parametrize("chars", [500_000, 5_000_000])
def test_an_abstract_over_the_limit_is_that_records_problem(tmp_path, env, chars):
    bib = hostile.bibtex_long_abstract(tmp_path / "long.bib", chars)
    result = ingest(env, bib)
    assert_reported(result, f"long.bib:7: entry long2024: field 'abstract' is {chars:,} characters long, over the "
                    "limit of 20,000 (RAG_MAX_ABSTRACT_CHARS)", added=1)
    title = hostile.jsonl_with(tmp_path / "title.jsonl", json.dumps({"title": "T" * 1001, "abstract": "An abstract."}))
    assert_reported(ingest(env, title), "title.jsonl:2: title is 1,001 characters long, over the limit of 1,000 "
                    "(RAG_MAX_TITLE_CHARS)", added=2)


# --- JSON ---------------------------------------------------------------------------------------
JSON_CASES = {
    "deep.jsonl": (lambda p: hostile.jsonl_with(p, hostile.deeply_nested(100_000)), 2,
                   "JSON nested more than 64 levels deep (RAG_MAX_JSON_DEPTH)"),
    "deep.json": (lambda p: hostile.json_document_with(p, hostile.deeply_nested(100)), 3,
                  "JSON nested more than 64 levels deep (RAG_MAX_JSON_DEPTH)"),
    "bigint.jsonl": (lambda p: hostile.jsonl_with(p, '{"title": "T", "abstract": "A", "n": ' + "9" * 5000 + "}"), 2,
                     "a number is written with 5,000 characters, over the limit of 100 (RAG_MAX_JSON_NUMBER_CHARS)"),
    "nan.json": (lambda p: hostile.json_document_with(p, '{"title": "T", "abstract": "A", "n": NaN}'), 3,
                 "NaN is not a JSON number"),
    "surrogate.jsonl": (lambda p: hostile.jsonl_with(p, '{"title": "Bad \\ud800 title", "abstract": "An abstract."}'),
                        2, "the title is not valid Unicode (a lone surrogate '\\ud800' at character 5)"),
    "key.jsonl": (lambda p: hostile.jsonl_with(p, '{"title": "T", "abstract": "An abstract.", "a\\u001bb": 1}'), 2,
                  "a field name holds a control character ('\\x1b' at character 2)"),
}


@pytest.mark.parametrize("name", list(JSON_CASES))
def test_json_past_its_limits_is_a_bad_record_and_the_rest_of_the_file_goes_in(tmp_path, env, name):
    make, line, problem = JSON_CASES[name]
    path = make(tmp_path / name)
    refused = ingest(env, path, skip_bad=False)
    assert refused.exit_code == 1 and "Traceback" not in refused.output, refused.output
    assert refused.output.startswith(f"error: 1 bad record(s); nothing was written:\n  {name}:{line}: {problem}\n")
    assert_reported(ingest(env, path), f"{name}:{line}: {problem}", added=2)


def test_the_json_limits_are_settings(tmp_path, env):
    path = hostile.json_document_with(tmp_path / "deep.json", hostile.deeply_nested(100))
    result = ingest(env, path, skip_bad=False, RAG_MAX_JSON_DEPTH="200")
    assert result.exit_code == 0 and "mine: 3 added" in result.output, result.output


def test_a_bad_record_changes_nothing_and_the_good_ones_extend_their_source_lists(tmp_path, env, embedder):
    """The crashed run of the issue: a paper already stored came again in a file with a lone surrogate."""
    first = good_file(tmp_path, "first.jsonl")
    assert ingest(env, first, skip_bad=False).exit_code == 0
    again = hostile.jsonl_with(tmp_path / "again.jsonl", '{"title": "Bad \\ud800", "abstract": "An abstract."}')
    again.write_text(json.dumps(hostile.good_record(10)) + "\n" + again.read_text())  # good-10 is stored already
    with store_of(env, embedder) as library:
        before = (library.sources("mine"), library.index("mine").store.fingerprint())
    assert ingest(env, again, skip_bad=False).exit_code == 1
    with store_of(env, embedder) as library:
        assert (library.sources("mine"), library.index("mine").store.fingerprint()) == before
    result = ingest(env, again)
    assert result.exit_code == 0 and "mine: 2 added, 0 updated, 1 unchanged" in result.output, result.output
    with store_of(env, embedder) as library:
        index = library.index("mine")
        assert not index.notices  # BM25 in step with Chroma: nothing to repair on opening
        assert library.sources("mine") == {"again.jsonl": 3, "first.jsonl": 2}


class FailingEmbedder:
    """The real MiniLM, except that a batch holding the word "explode" fails (an embedding server gone)."""

    def __init__(self, inner):
        self.inner, self.model_name, self.dimension = inner, inner.model_name, inner.dimension

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def get_text_embedding_batch(self, texts: list[str], **options) -> list[list[float]]:
        if any("explode" in text for text in texts):
            raise RuntimeError("the embedding server went away")
        return self.inner.get_text_embedding_batch(texts, **options)


def test_a_step_that_fails_to_embed_leaves_the_store_as_it_was(tmp_path, env, embedder):
    assert ingest(env, good_file(tmp_path, "first.jsonl"), skip_bad=False).exit_code == 0
    second = hostile.write_jsonl(tmp_path / "second.jsonl", [
        json.dumps(hostile.good_record(10)),  # stored already: gains a source
        json.dumps({"title": "A paper that will explode", "abstract": "Its embedding explode fails."})])
    settings = Settings(data_dir=env["RAG_DATA_DIR"], seeds_dir=env["RAG_SEEDS_DIR"])
    with Library(settings, embedder=FailingEmbedder(embedder), progress=False) as library:
        before = library.index("mine").store.fingerprint()
        with pytest.raises(RuntimeError, match="went away"):
            library.ingest([second], collection="mine")
        assert library.index("mine").store.fingerprint() == before
        assert library.sources("mine") == {"first.jsonl": 2}
    with store_of(env, embedder) as library:
        assert not library.index("mine").notices


# --- BibTeX macros --------------------------------------------------------------------------------
def test_bibtex_string_macros_and_concatenation_are_resolved(tmp_path, env, embedder):
    bib = tmp_path / "macros.bib"
    bib.write_text('@string{intro = "Private learning"}\n@STRING{full = intro # { at scale}}\n'
                   + hostile.bibtex_entry("c2024", f'full # " with differential privacy. " # "{hostile.GOOD_ABSTRACT}"')
                   .replace("year = {2024}", "year = 2024, month = jan"))
    assert ingest(env, bib, skip_bad=False).exit_code == 0
    with store_of(env, embedder) as library:
        (paper,) = library.index("mine").store.papers().values()
    assert paper.abstract == f"Private learning at scale with differential privacy. {hostile.GOOD_ABSTRACT}"
    assert paper.metadata["year"] == 2024
    bomb = hostile.bibtex_macro_bomb(tmp_path / "laughs.bib")
    assert_reported(ingest(env, bomb), "laughs.bib:10: entry laughs2024: field 'abstract' expands through @string "
                    "macros to over 100,000 characters (RAG_MAX_FIELD_CHARS)", added=0)


# --- names, paths and line numbers ------------------------------------------------------------------
def test_file_names_are_shown_and_stored_escaped(tmp_path, env, embedder):
    odd = good_file(tmp_path, "bad\x1b[2J\x1b[31mname\n.jsonl")
    odd.write_text(odd.read_text() + "{broken\n")
    result = ingest(env, odd)
    assert "\x1b" not in result.output and "name\n" not in result.output
    assert_reported(result, "bad\\x1b[2J\\x1b[31mname\\n.jsonl:3: invalid JSON: Expecting property name enclosed in "
                    "double quotes at column 2", added=2)
    with store_of(env, embedder) as library:
        assert library.sources("mine") == {"bad\\x1b[2J\\x1b[31mname\\n.jsonl": 2}


def test_a_path_that_is_not_a_regular_file_is_named_for_what_it_is(tmp_path, env):
    fifo = hostile.fifo(tmp_path / "pipe.jsonl")
    zero = tmp_path / "zero.jsonl"
    zero.symlink_to("/dev/zero")
    loop = tmp_path / "loop.jsonl"
    loop.symlink_to(loop)
    for path, kind in [(fifo, "a named pipe (FIFO), not a regular file or folder"),
                       (zero, "a character device, not a regular file or folder"),
                       (loop, "a symbolic link to nothing")]:
        result = ingest(env, path)
        assert result.exit_code == 1 and result.output.startswith(f"error: {path}: {kind}"), result.output


def line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


def test_xml_csv_ris_and_nul_errors_are_reported_at_their_lines(tmp_path, env, embedder):
    laughs = hostile.xml_entity_bomb(tmp_path / "laughs.xml")
    big = hostile.csv_with_field(tmp_path / "big.csv", 140_000, line=7)
    unclosed = tmp_path / "unclosed.csv"
    unclosed.write_text(f'title,abstract\n"Unclosed title,{hostile.GOOD_ABSTRACT}\nPaper 3,An abstract\n')
    ris = tmp_path / "stray.ris"
    wrap = hostile.GOOD_ABSTRACT.index(" ", 70)  # RIS exporters break a long field between words
    ris.write_text(hostile.ris_record("TI  - A short title", "Lines XX", f"AB  - {hostile.GOOD_ABSTRACT}")
                   + hostile.ris_record("TI  - Wrapped", f"AB  - {hostile.GOOD_ABSTRACT[:wrap]}",
                                        hostile.GOOD_ABSTRACT[wrap + 1 :]))
    lines = [json.dumps(hostile.good_record(n)) for n in range(200)]
    nul = '{"title": "Nul\x00", "abstract": "x"}'
    early, late = tmp_path / "early.jsonl", tmp_path / "late.jsonl"
    early.write_bytes("\n".join([*lines[:2], nul, *lines[2:]]).encode())
    late.write_bytes("\n".join([*lines[:150], nul, *lines[150:]]).encode())
    assert early.read_bytes().index(b"\x00") < 8192 < late.read_bytes().index(b"\x00")
    result = ingest(env, laughs, big, unclosed, ris, early, late)
    assert_reported(
        result,
        f"laughs.xml:{line_of(laughs.read_text(), '&lol9;</')}: XML error: Maximum entity amplification factor "
        "exceeded, see xmlCtxtSetMaxAmplification.; the rest of the file was not read",
        "big.csv:7: a field is over 131,072 characters long (the CSV reader's limit)",
        "unclosed.csv:2: a quoted field opened in this row is never closed: the rest of the file was read into it",
        "stray.ris:3: line has no RIS tag ('XX  - ') and does not continue a field: only a field longer than 70 "
        "characters may go on on the next line",
        f"early.jsonl:3: NUL byte at column {nul.index(chr(0)) + 1} (binary data in a text file)",
        f"late.jsonl:151: NUL byte at column {nul.index(chr(0)) + 1} (binary data in a text file)",
        added=6 + 1 + 200,  # the CSV's other rows, the wrapped RIS record, the JSON lines (each id once)
    )
    with store_of(env, embedder) as library:
        wrapped = next(p for p in library.index("mine").store.papers().values() if p.title == "Wrapped")
    assert wrapped.abstract == hostile.GOOD_ABSTRACT


def test_rag_info_exits_non_zero_when_it_cannot_open_the_store(tmp_path, env):
    lock = owner_lock_file(Settings(data_dir=env["RAG_DATA_DIR"]))
    lock.parent.mkdir(parents=True)
    holder = subprocess.Popen([sys.executable, "-c", f"import time\nfrom filelock import FileLock\nheld = FileLock("
                               f"{str(lock)!r})\nheld.acquire()\nprint('held', flush=True)\ntime.sleep(120)"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        result = runner.invoke(app, ["info"], env=env)
        assert result.exit_code == 1, result.output
        assert "\nerror: another process (pid unknown) is using" in result.output, result.output
    finally:
        holder.kill()
        holder.wait()
