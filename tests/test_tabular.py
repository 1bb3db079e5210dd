"""JSONL and CSV loaders: ids, extras, and bad records with file and line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.corpus import CorpusError, load_corpus, paper_id_from_title
from rag.errors import CorpusPathError

ABSTRACT = "This abstract explains the method, the experiments and the results in enough words."


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    return path


def test_jsonl_keeps_given_id_and_derives_missing_one(tmp_path):
    path = write_jsonl(tmp_path / "c.jsonl", [
        {"id": "arxiv:1", "title": "Given Id", "abstract": ABSTRACT, "url": "http://x", "authors": ["A", "B"]},
        {"title": "Derived Id", "abstract": ABSTRACT},
    ])
    papers = load_corpus([path]).papers
    assert papers[0].id == "arxiv:1"
    assert papers[0].metadata["authors"] == ["A", "B"] and papers[0].metadata["url"] == "http://x"
    assert papers[1].id == paper_id_from_title("derived id!")


def test_jsonl_broken_line_aborts_with_line_number(tmp_path):
    path = write_jsonl(tmp_path / "c.jsonl", [
        {"title": "One", "abstract": ABSTRACT}, "{not json", {"title": "Three"},
        {"title": "Four", "abstract": ABSTRACT},
    ])
    with pytest.raises(CorpusError) as error:
        load_corpus([path])
    message = str(error.value)
    assert "c.jsonl:2: invalid JSON" in message
    assert "c.jsonl:3: missing or empty field(s): abstract" in message
    assert "nothing was written" in message


def test_jsonl_skip_bad_keeps_good_records(tmp_path):
    path = write_jsonl(tmp_path / "c.jsonl", [{"title": "One", "abstract": ABSTRACT}, "[1, 2]", "",
                                              {"title": "Two", "abstract": ABSTRACT}])
    corpus = load_corpus([path], skip_bad=True)
    assert [p.title for p in corpus.papers] == ["One", "Two"]
    assert [(b.line, b.problem) for b in corpus.bad] == [(2, "expected a JSON object, got list")]


def test_csv_with_extras_and_bad_rows(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text(
        "id,title,abstract,published\n"
        f'x1,"A title, with comma","{ABSTRACT}",2024-01-01\n'
        f"x2,,\"{ABSTRACT}\",2024\n"
        "x3,Too few\n"
    )
    corpus = load_corpus([path], skip_bad=True)
    assert [(p.id, p.title, p.metadata["published"]) for p in corpus.papers] == [
        ("x1", "A title, with comma", "2024-01-01")
    ]
    assert [(b.line, b.problem) for b in corpus.bad] == [
        (3, "missing or empty field(s): title"), (4, "row has fewer fields than the header")
    ]


def test_csv_missing_columns(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("name,text\nfoo,bar\n")
    with pytest.raises(CorpusError, match=r"c.csv:1: CSV header lacks column\(s\) title, abstract"):
        load_corpus([path])


@pytest.mark.parametrize(("content", "problem"), [(b"", "file is empty"), (b"\x00\x01binary", "binary file")])
def test_empty_and_binary_files(tmp_path, content, problem):
    path = tmp_path / "c.jsonl"
    path.write_bytes(content)
    with pytest.raises(CorpusError, match=problem):
        load_corpus([path])


def test_unsupported_extension_and_missing_path(tmp_path):
    (tmp_path / "x.docx").write_text("x")
    with pytest.raises(CorpusPathError, match=r"unsupported file type '.docx'; supported: .bib, .csv, .json, .jsonl, "
                       r".md, .pdf, .ris, .txt, .xml"):
        load_corpus([tmp_path / "x.docx"])
    with pytest.raises(CorpusPathError, match=r"missing\.jsonl: no such file or folder"):
        load_corpus([tmp_path / "missing.jsonl"])


def test_duplicates_across_files_are_merged_with_sources(tmp_path):
    a = write_jsonl(tmp_path / "a.jsonl", [{"title": "Same Paper", "abstract": ABSTRACT}])
    b = write_jsonl(tmp_path / "b.jsonl", [{"title": "same paper", "abstract": ABSTRACT}])
    corpus = load_corpus([a, b])
    assert corpus.records == 2 and len(corpus.papers) == 1
    assert corpus.papers[0].sources == ["a.jsonl", "b.jsonl"]
