"""Researchers' formats end to end: one paper read from several formats is one paper with every source,
in `load_corpus`, in a real Chroma store through `PaperIndex` (real MiniLM), and through the streaming bulk
path (`bulk_ingest`, hash vectors); metadata survives the store; re-ingest changes nothing; a bad record
aborts before anything is written."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.corpus import load_corpus
from rag.errors import CorpusError
from rag.index import PaperIndex
from rag.index.bulk import bulk_ingest
from tests import pdf_papers
from tests.support.hash_embedding import HashEmbedding

FILES = Path(__file__).parent / "corpus_files"
BIB, RIS, ARXIV = FILES / "library.bib", FILES / "export.ris", FILES / "arxiv-snapshot.jsonl"
OPENALEX, PUBMED = FILES / "openalex-page.json", FILES / "pubmed.xml"
BAYES = "arxiv:2112.10510"  # in the BibTeX, RIS, arXiv, OpenAlex files and the two-column PDF
ROBUST = "arxiv:2310.01698"  # BibTeX: the preprint (arXiv id only); arXiv snapshot: published, with a journal DOI
# (file, papers, bad records) of each file read alone
EXPECTED = [(BIB, 4, 2), (RIS, 3, 1), (ARXIV, 3, 1), (OPENALEX, 2, 1), (PUBMED, 2, 1)]


@pytest.fixture(scope="module")
def hashed() -> HashEmbedding:
    return HashEmbedding(buckets=1 << 12)


@pytest.fixture
def pdfs(tmp_path) -> list[Path]:
    single, two = tmp_path / "reversal.pdf", tmp_path / "bayes-ieee.pdf"
    pdf_papers.single_column(single)
    pdf_papers.two_column(two)
    return [single, two]


def test_same_paper_in_bibtex_and_arxiv_snapshot_is_one_paper_with_both_sources():
    corpus = load_corpus([BIB, ARXIV], skip_bad=True)
    assert (corpus.records, len(corpus.papers), corpus.duplicates) == (7, 5, 2)
    by_id = {p.id: p for p in corpus.papers}
    assert by_id[BAYES].sources == by_id[ROBUST].sources == ["library.bib", "arxiv-snapshot.jsonl"]
    assert by_id[ROBUST].metadata["bibtex_key"] == "yu2023robustifying"  # the first occurrence's record is kept


def test_every_format_at_once(pdfs):
    files = [BIB, RIS, ARXIV, OPENALEX, PUBMED, *pdfs]
    with pytest.raises(CorpusError) as error:
        load_corpus(files)
    assert len(error.value.bad) == 6 and "nothing was written" in str(error.value)
    corpus = load_corpus(files, skip_bad=True)
    assert (corpus.records, len(corpus.papers)) == (16, 10)
    by_id = {p.id: p for p in corpus.papers}
    assert by_id[BAYES].sources == ["library.bib", "export.ris", "arxiv-snapshot.jsonl", "openalex-page.json",
                                    "bayes-ieee.pdf"]
    assert by_id["doi:10.5555/hyper.2023.7"].sources == ["library.bib", "openalex-page.json"]
    # The limit of identifier ids: the preprint PDF carries no identifier, so its title hash differs from the
    # snapshot row's arXiv id and the Reversal Curse paper is stored twice.
    reversal = [p.id for p in corpus.papers if p.title.startswith("Is the Reversal Curse")]
    assert reversal == ["arxiv:2410.12345", pdf_papers.seed_paper("Is the Reversal Curse").id]


def test_chroma_keeps_the_metadata_and_merges_sources_across_ingests(settings, embedder):
    index = PaperIndex(settings, embedder, "formats")
    first = index.ingest(load_corpus([BIB], skip_bad=True).papers, progress=False)
    second = index.ingest(load_corpus([ARXIV], skip_bad=True).papers, progress=False)
    third = index.ingest(load_corpus([PUBMED], skip_bad=True).papers, progress=False)
    assert [(r.added, r.unchanged) for r in (first, second, third)] == [(4, 0), (1, 2), (2, 0)]
    assert index.paper_count() == 7
    stored = index.papers([BAYES, "doi:10.5555/parzc.2024.3"])
    bayes = stored[BAYES]
    assert bayes.sources == ["library.bib", "arxiv-snapshot.jsonl"]
    assert bayes.metadata == {
        "authors": ["Samuel Müller", "Noah Hollmann", "Sebastian Pineda Arango", "Josif Grabocka", "Frank Hutter"],
        "year": 2022, "venue": "International Conference on Learning Representations",
        "doi": "10.48550/arxiv.2112.10510", "arxiv_id": "2112.10510", "url": "https://arxiv.org/abs/2112.10510",
        "bibtex_key": "muller2022transformers", "bibtex_type": "inproceedings",
        "sources": ["library.bib", "arxiv-snapshot.jsonl"],
    }
    assert stored["doi:10.5555/parzc.2024.3"].metadata["pmid"] == "38000001"
    assert index.bm25().search("prior-data fitted networks posterior approximation", 3)[0][0] == BAYES

    again = [index.ingest(load_corpus([path], skip_bad=True).papers, progress=False) for path in (BIB, ARXIV, PUBMED)]
    assert [(r.added, r.updated, r.unchanged) for r in again] == [(0, 0, 4), (0, 0, 3), (0, 0, 2)]
    assert index.paper_count() == 7
    index.close()


@pytest.mark.parametrize(("path", "papers", "bad"), EXPECTED, ids=[e[0].suffix for e in EXPECTED])
def test_bulk_ingest_streams_each_format(settings, hashed, path, papers, bad):
    with PaperIndex(settings, hashed, "bulk") as index:
        with pytest.raises(CorpusError):
            bulk_ingest(index, [path], progress=False)  # the survey finds the bad records first
        assert index.paper_count() == 0
        report = bulk_ingest(index, [path], skip_bad=True, progress=False)
        assert (report.records, report.added, len(report.bad)) == (papers, papers, bad)
        again = bulk_ingest(index, [path], skip_bad=True, progress=False)
        assert (again.added, again.unchanged) == (0, papers)
        assert index.paper_count() == papers


def test_bulk_ingest_of_every_format_merges_sources(settings, hashed, pdfs):
    files = [BIB, RIS, ARXIV, OPENALEX, PUBMED, *pdfs]
    with PaperIndex(settings, hashed, "bulk-all") as index:
        report = bulk_ingest(index, files, skip_bad=True, progress=False, batch_papers=4)
        assert (report.records, report.duplicates, report.added, len(report.bad)) == (16, 6, 10, 6)
        assert index.papers([BAYES])[BAYES].sources == [
            "library.bib", "export.ris", "arxiv-snapshot.jsonl", "openalex-page.json", "bayes-ieee.pdf"]


@pytest.mark.parametrize("fmt", ["bib", "ris", "arxiv", "openalex", "pubmed"])
def test_benchmark_corpora_read_back_whole(tmp_path, fmt):
    """`benchmarks.formats` writes valid files: every synthetic paper reads back, with the same text."""
    from benchmarks.synthetic import synthetic_records

    from benchmarks.formats import write_corpus

    corpus = load_corpus([write_corpus(fmt, 20, tmp_path)])
    assert len(corpus.papers) == 20
    titles = [r["title"] for r in synthetic_records(20)]
    if fmt == "bib":  # written without escaping: LaTeX's "--" is an en dash
        titles = [t.replace("--", "–") for t in titles]
    assert [p.title for p in corpus.papers] == titles
