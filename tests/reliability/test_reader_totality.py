"""Every reader is total: whatever bytes a file holds, reading it yields papers and bad records, each naming the
file and a line, and raises nothing (`rag.corpus.read_file`'s safety net is not used here: the readers are
called directly). Hypothesis feeds each reader random bytes and mutations of real files (those of
`tests/corpus_files/`, a seed page, a CSV, a paper PDF): bytes changed, cut, repeated or inserted, with the
pieces hostile files are made of (NUL bytes, lone surrogate escapes, deep brackets, long numbers, entity
declarations, RIS tags, BibTeX macros). A paper that comes out is storable once `checked`: valid Unicode,
no control characters, within the limits.

Limits are the defaults. PDFs get fewer examples: each one is read in its own child process."""

from __future__ import annotations

import json
import tempfile
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rag.corpus import DEFAULT_LIMITS, READERS, BadRecord, Paper, load_corpus
from rag.corpus.limits import checked, paper_problem
from tests.conftest import SEEDS
from tests.support import pdf_papers

FILES = Path(__file__).resolve().parents[1] / "corpus_files"
PIECES = [b"\x00", b"\\ud800", b"\\udfff", b"\xed\xa0\x80", b"\xff\xfe", b"{", b"}", b"[" * 300, b'"', b"\n",
          b"\r\n", b"9" * 5000, b"NaN", b"1e999", b"#", b" # ", b'@string{a = "x" # a}', b"@article{k,", b"TY  - ",
          b"ER  - ", b"AB  - ", b"<!ENTITY e \"&e;\">", b"&e;", b"<PubmedArticle>", b"</Abstract>", b"\x1b[2J",
          b"\\", b"\\emph{", b"$", b"%", b",", b"\t", "\u2028".encode(), b"obj", b"stream",
          b"/FlateDecode", b"endobj", b"xref", b"\xe2\x80\xae"]


@cache
def sample(extension: str) -> bytes:
    """A real file of that type, as bytes."""
    if extension == ".pdf":
        with tempfile.TemporaryDirectory() as folder:
            pdf = Path(folder) / "paper.pdf"
            pdf_papers.single_column(pdf)
            return pdf.read_bytes()
    if extension == ".csv":
        papers = load_corpus([FILES / "arxiv-snapshot.jsonl"], skip_bad=True).papers
        rows = ["id,title,abstract,authors"] + [
            f'{p.id},"{p.title}","{p.abstract}","{", ".join(p.metadata.get("authors", []))}"' for p in papers]
        return "\n".join(rows).encode()
    if extension == ".md":
        return "\n".join(next(SEEDS.glob("*.txt")).read_text().splitlines()[:40]).encode()
    name = {".bib": "library.bib", ".ris": "export.ris", ".txt": "export.ris", ".jsonl": "arxiv-snapshot.jsonl",
            ".json": "openalex-page.json", ".xml": "pubmed.xml"}[extension]
    return (FILES / name).read_bytes()


@st.composite
def mutated(draw, original: bytes) -> bytes:
    """``original`` with a few edits: a byte changed, a span cut or repeated, a hostile piece inserted, or cut short."""
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["change", "cut", "repeat", "insert", "truncate"]))
        if kind == "change" and at < len(data):
            data[at] = draw(st.integers(0, 255))
        elif kind == "cut":
            del data[at : at + draw(st.integers(1, 200))]
        elif kind == "repeat":
            data[at:at] = data[at : at + draw(st.integers(1, 300))] * draw(st.integers(2, 5))
        elif kind == "insert":
            data[at:at] = draw(st.sampled_from(PIECES) | st.binary(min_size=1, max_size=40))
        elif kind == "truncate":
            del data[at:]
    return bytes(data)


def read_everything(folder: Path, extension: str, content: bytes) -> list[Paper | BadRecord]:
    """Write ``content`` as a file of that type and read it with its reader; every record must name the file and
    a line, and every paper must be storable once checked."""
    path = folder / f"hostile{extension}"
    path.write_bytes(content)
    items = list(READERS[extension](path, DEFAULT_LIMITS))
    for item in items:
        assert isinstance(item, Paper | BadRecord), item
        if isinstance(item, BadRecord):
            assert item.file == path.name and item.line >= 1 and item.problem
            continue
        assert item.sources == [path.name] and int(item.metadata["line"]) >= 1
        stored = checked(item, path.name, DEFAULT_LIMITS)
        if isinstance(stored, Paper):
            assert paper_problem(stored, DEFAULT_LIMITS) is None
            json.dumps(stored.model_dump(), ensure_ascii=False).encode("utf-8")  # valid Unicode throughout
    return items


TEXT_READERS = [extension for extension in sorted(READERS) if extension != ".pdf"]
EXAMPLES = 120


@pytest.mark.parametrize("extension", TEXT_READERS)
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_reader_reads_any_mutation_of_a_real_file(tmp_path, extension, data):
    read_everything(tmp_path, extension, data.draw(mutated(sample(extension))))


@pytest.mark.parametrize("extension", TEXT_READERS)
@settings(max_examples=EXAMPLES // 2, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=st.binary(max_size=3000))
def test_a_reader_reads_any_bytes(tmp_path, extension, content):
    read_everything(tmp_path, extension, content)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_the_pdf_reader_reads_any_mutation_of_a_paper_pdf_or_any_bytes(tmp_path, data):
    content = data.draw(mutated(sample(".pdf")) | st.binary(max_size=3000))
    assert len(read_everything(tmp_path, ".pdf", content)) == 1  # one record per PDF, always
