"""Researchers' formats: BibTeX, RIS, arXiv snapshot, OpenAlex, PubMed XML and PDF files -> papers, with exact
bad records, decoded text, ids and metadata; identifiers; detection by extension and content.

The files in `tests/corpus_files/` hold seed papers' titles and abstracts; their identifiers, authors and
venues are made up for the tests (DOIs use Crossref's example prefix 10.5555). PDFs are made by
`tests/pdf_papers.py`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.corpus import SUPPORTED_EXTENSIONS, BadRecord, corpus_files, iter_records, load_corpus
from rag.corpus import bibtex as bibtex_module
from rag.corpus.identifiers import canonical_url, normalize_arxiv_id, normalize_doi, normalize_pmid, scholarly_id
from rag.corpus.openalex import rebuild_abstract
from rag.corpus.scholarly import split_authors
from rag.errors import CorpusError
from tests.support import pdf_papers
from tests.support.pdf_papers import seed_paper

FILES = Path(__file__).parent / "corpus_files"
BAYES = "Transformers Can Do Bayesian Inference"
BAYES_AUTHORS = ["Samuel Müller", "Noah Hollmann", "Sebastian Pineda Arango", "Josif Grabocka", "Frank Hutter"]


def read(path: Path) -> tuple[list, list[str]]:
    """A file's papers and its bad records as ``file:line: problem`` strings."""
    items = list(iter_records([path]))
    return [i for i in items if not isinstance(i, BadRecord)], [str(i) for i in items if isinstance(i, BadRecord)]


# --- identifiers ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("given", "expected"), [
    ("https://doi.org/10.1234/ABC.def", "10.1234/abc.def"),
    ("http://dx.doi.org/10.1000%2F182", "10.1000/182"),
    ("doi:10.5555/X.1.", "10.5555/x.1"),
    ("DOI 10.5555/x", "10.5555/x"),
    ("10.48550/arXiv.2112.10510", "10.48550/arxiv.2112.10510"),
    ("not a doi", None),
    (None, None),
])
def test_doi_normalization(given, expected):
    assert normalize_doi(given) == expected


@pytest.mark.parametrize(("given", "expected"), [
    ("2401.00001", "2401.00001"),
    ("arXiv:2401.00001v2", "2401.00001"),
    ("https://arxiv.org/abs/2112.10510v3", "2112.10510"),
    ("http://arxiv.org/pdf/0704.0001v1.pdf", "0704.0001"),
    ("hep-th/9901001v1", "hep-th/9901001"),
    ("arXiv:math.GT/0309136", "math/0309136"),
    ("1234", None),
])
def test_arxiv_id_normalization(given, expected):
    assert normalize_arxiv_id(given) == expected


def test_pmid_normalization_id_precedence_and_links():
    assert normalize_pmid("PMID: 38000001") == normalize_pmid("https://pubmed.ncbi.nlm.nih.gov/38000001/") == "38000001"
    assert normalize_pmid("abc") is None
    both = {"doi": "10.5555/x", "arxiv_id": "2401.00001", "pmid": "1"}
    assert scholarly_id(title="T", **both) == "arxiv:2401.00001"
    assert scholarly_id(title="T", doi="10.5555/x", pmid="1") == "doi:10.5555/x"
    assert scholarly_id(title="T", pmid="1") == "pmid:1"
    assert scholarly_id(title="T").startswith("p-")
    assert canonical_url(**both) == "https://doi.org/10.5555/x"
    assert canonical_url(arxiv_id="2401.00001") == "https://arxiv.org/abs/2401.00001"
    assert canonical_url(pmid="1") == "https://pubmed.ncbi.nlm.nih.gov/1/"


def test_author_strings_are_split_into_first_last_names():
    assert split_authors("Ada Lovelace, Alan Turing and Grace Hopper") == [
        "Ada Lovelace", "Alan Turing", "Grace Hopper"]
    assert split_authors("Lovelace, Ada; Turing, Alan") == ["Ada Lovelace", "Alan Turing"]
    assert split_authors("Turing, Alan") == ["Alan Turing"]


# --- BibTeX ---------------------------------------------------------------------------------------
def test_bibtex_library_decodes_latex_and_reports_broken_and_abstractless_entries():
    papers, bad = read(FILES / "library.bib")
    assert bad == [
        'library.bib:93: entry desai2023defense is malformed: unbalanced braces or quotes (a `{` or `"` opened in it '
        "is never closed)",
        "library.bib:120: entry smith2020 has no abstract",
    ]
    assert [(p.id, p.metadata["line"]) for p in papers] == [
        ("arxiv:2112.10510", 4), ("arxiv:2310.01698", 34), (papers[2].id, 64), ("doi:10.5555/hyper.2023.7", 127)]
    bayes = papers[0]
    assert bayes.title == BAYES  # {Bayesian} braces gone
    assert bayes.abstract == seed_paper(BAYES).abstract  # \emph{...}, \% and hard line breaks decoded
    assert bayes.metadata == {
        "authors": BAYES_AUTHORS, "year": 2022, "venue": "International Conference on Learning Representations",
        "doi": "10.48550/arxiv.2112.10510", "arxiv_id": "2112.10510", "url": "https://arxiv.org/abs/2112.10510",
        "bibtex_key": "muller2022transformers", "bibtex_type": "inproceedings", "sources": ["library.bib"], "line": 4,
    }
    gu = papers[2]
    assert gu.id.startswith("p-")  # no DOI, arXiv id or PMID: the title hash
    assert gu.metadata["venue"] == "Advances in Neural Information Processing Systems"  # @string macro resolved
    assert gu.metadata["authors"][-1] == "Christopher Ré"
    with pytest.raises(CorpusError, match="entry smith2020 has no abstract"):
        load_corpus([FILES / "library.bib"])  # a missing abstract is a bad record: it aborts without skip_bad


def test_bibtex_latex_decoding_and_duplicate_keys(tmp_path):
    path = tmp_path / "small.bib"
    path.write_text(
        "@article{a1,\n"
        '  title = {{GPT} for M{\\"u}ller -- a \\emph{short} study},\n'
        "  author = {Gr{\\'e}goire, L. and {Example Consortium}},\n"
        "  abstract = {We report 10--20\\% gains with ``quoted'' terms and math $O(n^2)$ kept.},\n"
        "}\n"
        "@article{a1, title = {Again}, abstract = {Same key.}}\n"
    )
    papers, bad = read(path)
    assert papers[0].title == "GPT for Müller – a short study"
    assert papers[0].abstract == "We report 10–20% gains with “quoted” terms and math $O(n^2)$ kept."
    assert papers[0].metadata["authors"] == ["L. Grégoire", "Example Consortium"]
    assert bad == ["small.bib:6: entry key a1 is used twice in this file (first at line 1)"]


def test_bibtex_is_parsed_in_pieces_with_the_same_result(monkeypatch):
    whole = list(iter_records([FILES / "library.bib"]))
    monkeypatch.setattr(bibtex_module, "ENTRIES_PER_PARSE", 1)  # every entry parsed on its own
    assert list(iter_records([FILES / "library.bib"])) == whole


# --- RIS ------------------------------------------------------------------------------------------
def test_ris_records_fields_and_a_record_without_er():
    papers, bad = read(FILES / "export.ris")
    assert bad == ["export.ris:25: record has no end line (ER) before the next record at line 31"]
    assert [p.id for p in papers] == ["doi:10.5555/cgs.2022.001", "arxiv:2112.10510", "doi:10.5555/gen.2023.5"]
    cgs = papers[0]
    assert cgs.metadata == {
        "authors": ["Junyoung Park", "Jinhyun Choo", "Jinkyoo Park"], "year": 2022,
        "venue": "Journal of Example Studies", "doi": "10.5555/cgs.2022.001",
        "url": "https://doi.org/10.5555/cgs.2022.001", "sources": ["export.ris"], "line": 1,
    }
    genetic = papers[2]  # T1, A1, Y1, JF, and an N2 abstract continued on a second line
    assert genetic.title == "Generating Private Synthetic Data with Genetic Algorithms"
    assert genetic.abstract == seed_paper("Generating Private Synthetic Data").abstract
    assert (genetic.metadata["authors"], genetic.metadata["year"], genetic.metadata["venue"]) == (
        ["Terrance Liu", "Jingwu Tao", "Jiwon Lee"], 2023, "Journal of Privacy Examples")
    assert papers[1].metadata["arxiv_id"] == "2112.10510"  # from UR https://arxiv.org/abs/2112.10510v3


def test_ris_record_cut_at_the_end_of_the_file(tmp_path):
    path = tmp_path / "cut.ris"
    path.write_text("TY  - JOUR\nTI  - Complete\nAB  - An abstract.\nER  - \n\nTY  - JOUR\nTI  - Cut short\nAB  - Te")
    papers, bad = read(path)
    assert [p.title for p in papers] == ["Complete"]
    assert bad == ["cut.ris:6: record has no end line (ER): the file ends inside it"]


# --- arXiv metadata snapshot ----------------------------------------------------------------------
def test_arxiv_snapshot_rows_collapse_whitespace_and_decode_names():
    papers, bad = read(FILES / "arxiv-snapshot.jsonl")
    assert bad == ["arxiv-snapshot.jsonl:4: invalid JSON: Expecting value at column 178"]  # a download cut short
    assert [p.id for p in papers] == ["arxiv:2112.10510", "arxiv:2310.01698", "arxiv:2410.12345"]
    bayes = papers[0]
    assert (bayes.title, bayes.abstract) == (BAYES, seed_paper(BAYES).abstract)
    assert bayes.metadata == {
        "authors": BAYES_AUTHORS, "year": 2021, "venue": "arXiv", "arxiv_id": "2112.10510",
        "url": "https://arxiv.org/abs/2112.10510", "categories": "cs.LG stat.ML", "sources": ["arxiv-snapshot.jsonl"],
        "line": 1,
    }
    published = papers[1]
    assert published.title == "Robustifying State-space Models for Long Sequences via Approximate Diagonalization"
    assert (published.metadata["doi"], published.metadata["venue"]) == (
        "10.5555/ssm.2023.042", "Proceedings of ICML 2023, 1-20")


def test_plain_jsonl_rows_read_exactly_as_before(tmp_path):
    rows = [
        {"id": "2401.00001", "title": "Given id", "abstract": "A plain row keeps its id."},
        {"id": "x1", "title": "Has categories", "abstract": "Not a snapshot row.", "categories": "cs.CL"},
        {"title": "No id", "abstract": "Title hash.", "authors": "Ada Lovelace, Alan Turing", "published": "2024-01-01",
         "doi": "https://doi.org/10.5555/ABC"},
    ]
    path = tmp_path / "plain.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    papers = load_corpus([path]).papers
    assert [p.id for p in papers] == ["2401.00001", "x1", papers[2].id]
    assert papers[2].id.startswith("p-")
    assert papers[1].metadata == {"categories": "cs.CL", "sources": ["plain.jsonl"], "line": 2}
    assert papers[2].metadata == {
        "authors": ["Ada Lovelace", "Alan Turing"], "published": "2024-01-01", "year": 2024, "doi": "10.5555/abc",
        "url": "https://doi.org/10.5555/abc", "sources": ["plain.jsonl"], "line": 3,
    }


# --- OpenAlex -------------------------------------------------------------------------------------
def test_openalex_api_page_rebuilds_abstracts_and_reports_a_null_index():
    papers, bad = read(FILES / "openalex-page.json")
    assert bad == ["openalex-page.json:1105: work W4318562323 has no abstract (abstract_inverted_index is null)"]
    assert [(p.id, p.metadata["line"]) for p in papers] == [("doi:10.5555/hyper.2023.7", 9), ("arxiv:2112.10510", 518)]
    text = (FILES / "openalex-page.json").read_text().splitlines()
    assert text[8].strip() == "{" and '"id": "https://openalex.org/W4385245566"' in text[9]  # where the work starts
    hyper = papers[0]
    assert hyper.abstract == seed_paper("Magnitude Invariant").abstract
    assert hyper.metadata == {
        "authors": ["Jose Javier Gonzalez Ortiz", "John Guttag", "Adrian V. Dalca"], "year": 2023,
        "venue": "Transactions on Machine Learning Research", "doi": "10.5555/hyper.2023.7",
        "url": "https://doi.org/10.5555/hyper.2023.7", "openalex_id": "W4385245566",
        "sources": ["openalex-page.json"], "line": 9,
    }
    assert papers[1].metadata["arxiv_id"] == "2112.10510"  # from arXiv's DOI and its arxiv.org location


def test_openalex_single_work_list_and_json_lines_read_the_same(tmp_path):
    works = json.loads((FILES / "openalex-page.json").read_text())["results"]
    (tmp_path / "one.json").write_text(json.dumps(works[0]))
    (tmp_path / "list.json").write_text(json.dumps(works, indent=1))
    (tmp_path / "works.jsonl").write_text("".join(json.dumps(w) + "\n" for w in works))
    (tmp_path / "lines.json").write_text("".join(json.dumps(w) + "\n" for w in works))
    expected = [(p.id, p.abstract) for p in read(FILES / "openalex-page.json")[0]]
    assert [(p.id, p.abstract) for p in read(tmp_path / "one.json")[0]] == expected[:1]
    listed = (tmp_path / "list.json").read_text().splitlines()
    third = next(i for i, line in enumerate(listed) if "W4318562323" in line)  # its "id" line, after the "{" line
    for name, line in (("list.json", third), ("works.jsonl", 3), ("lines.json", 3)):
        papers, bad = read(tmp_path / name)
        assert [(p.id, p.abstract) for p in papers] == expected
        assert bad == [f"{name}:{line}: work W4318562323 has no abstract (abstract_inverted_index is null)"]


def test_openalex_broken_json_keeps_the_works_before_the_error(tmp_path):
    works = json.loads((FILES / "openalex-page.json").read_text())["results"]
    text = json.dumps(works[:2], indent=1)
    (tmp_path / "cut.json").write_text(text[: len(text) - 40])
    papers, bad = read(tmp_path / "cut.json")
    assert [p.id for p in papers] == ["doi:10.5555/hyper.2023.7"]
    assert len(bad) == 1 and bad[0].startswith(f"cut.json:{text[: len(text) - 40].count(chr(10)) + 1}: invalid JSON")


def test_inverted_index_is_rebuilt_in_word_order():
    index = {"models": [1, 4], "Language": [0], "are": [2], "big": [3]}
    assert rebuild_abstract(index) == "Language models are big models"
    assert rebuild_abstract({"a": "0"}) is None


# --- PubMed ---------------------------------------------------------------------------------------
def test_pubmed_articles_structured_abstracts_and_an_article_without_abstract():
    papers, bad = read(FILES / "pubmed.xml")
    assert bad == ["pubmed.xml:73: PMID 38000003 has no abstract"]
    assert [(p.id, p.metadata["line"]) for p in papers] == [("doi:10.5555/parzc.2024.3", 4), ("pmid:38000002", 41)]
    structured = papers[0]
    assert structured.abstract.startswith("BACKGROUND: Recent advancements in Zero-shot Neural Architecture Search")
    assert [label in structured.abstract for label in (" METHODS: ", " RESULTS: ", " CONCLUSIONS: ")] == [True] * 3
    assert "©" not in structured.abstract  # CopyrightInformation is not part of the abstract
    assert structured.metadata == {
        "authors": ["Peijie Dong", "Lujun Li", "X Chu"], "year": 2024, "venue": "Journal of Example Computing",
        "doi": "10.5555/parzc.2024.3", "pmid": "38000001", "url": "https://doi.org/10.5555/parzc.2024.3",
        "pmcid": "PMC10000001", "sources": ["pubmed.xml"], "line": 4,
    }
    plain = papers[1]  # inline <i> markup, a MedlineDate, a collective author, references with DOIs of their own
    assert plain.abstract == seed_paper("Efficiently Computing Local Lipschitz").abstract
    assert plain.metadata == {
        "authors": ["Zhouxing Shi", "Verification Study Group"], "year": 2022,
        "venue": "Example Reviews in Machine Learning", "pmid": "38000002",
        "url": "https://pubmed.ncbi.nlm.nih.gov/38000002/", "sources": ["pubmed.xml"], "line": 41,
    }


def test_truncated_pubmed_file_yields_the_articles_before_the_break():
    papers, bad = read(FILES / "pubmed-truncated.xml")
    assert [p.id for p in papers] == ["doi:10.5555/parzc.2024.3"]
    assert bad == ["pubmed-truncated.xml:55: XML error: Premature end of data in tag Article line 44; the rest of "
                   "the file was not read"]


def test_other_xml_and_external_entities_are_refused(tmp_path):
    (tmp_path / "feed.xml").write_text('<?xml version="1.0"?>\n<rss><channel/></rss>\n')
    assert read(tmp_path / "feed.xml") == ([], [
        "feed.xml:2: XML root is <rss>, expected <PubmedArticleSet> (PubMed / MEDLINE XML); no other XML is read"])
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET")
    (tmp_path / "xxe.xml").write_text(
        f'<?xml version="1.0"?>\n<!DOCTYPE PubmedArticleSet [<!ENTITY x SYSTEM "file://{secret}">]>\n'
        "<PubmedArticleSet><PubmedArticle><MedlineCitation><PMID>1</PMID><Article><ArticleTitle>T &x;</ArticleTitle>"
        "<Abstract><AbstractText>Text &x;.</AbstractText></Abstract></Article></MedlineCitation></PubmedArticle>"
        "</PubmedArticleSet>\n")
    papers, bad = read(tmp_path / "xxe.xml")
    assert bad == [] and "TOPSECRET" not in papers[0].title + papers[0].abstract


# --- PDF ------------------------------------------------------------------------------------------
def test_pdf_papers_title_abstract_and_ids(tmp_path):
    single = pdf_papers.single_column(tmp_path / "reversal.pdf")
    two = pdf_papers.two_column(tmp_path / "bayes-ieee.pdf")
    papers, bad = read(tmp_path)
    assert bad == []
    by_name = {p.sources[0]: p for p in papers}
    preprint = by_name["reversal.pdf"]
    assert (preprint.title, preprint.abstract) == (single.title, single.abstract)  # "generali-zation", "large-scale"
    assert preprint.id == single.id  # no identifier in the PDF: the title hash, as the listing page gives
    assert preprint.metadata == {"authors": ["Boshi Wang", "Huan Sun"], "sources": ["reversal.pdf"], "line": 1}
    ieee = by_name["bayes-ieee.pdf"]
    assert (ieee.title, ieee.abstract) == (two.title, two.abstract)  # largest text; left column only
    assert ieee.id == "arxiv:2112.10510"  # arXiv's rotated margin stamp
    assert ieee.metadata == {"arxiv_id": "2112.10510", "url": "https://arxiv.org/abs/2112.10510",
                             "sources": ["bayes-ieee.pdf"], "line": 1}


def test_pdfs_without_an_abstract_are_reported_by_name(tmp_path):
    pdf_papers.no_abstract(tmp_path / "notes.pdf")
    pdf_papers.scanned(tmp_path / "scan.pdf")
    pdf_papers.encrypted(tmp_path / "locked.pdf")
    pdf_papers.not_a_pdf(tmp_path / "download.pdf")
    with pytest.raises(CorpusError) as error:
        load_corpus([tmp_path])
    assert [str(b) for b in error.value.bad] == [
        "download.pdf:1: not a readable PDF (No /Root object! - Is this really a PDF?)",
        "locked.pdf:1: encrypted PDF (password-protected): its text cannot be read",
        "notes.pdf:1: no abstract found: no 'Abstract' heading on the first 2 pages",
        "scan.pdf:1: no text in the PDF (a scanned image?); run OCR on it first",
    ]


# --- detection ------------------------------------------------------------------------------------
def test_supported_extensions_and_detection_by_content(tmp_path):
    assert SUPPORTED_EXTENSIONS == (".bib", ".csv", ".json", ".jsonl", ".md", ".pdf", ".ris", ".txt", ".xml")
    (tmp_path / "refs.txt").write_text((FILES / "export.ris").read_text())
    (tmp_path / "library.txt").write_text((FILES / "library.bib").read_text())
    (tmp_path / "notes.docx").write_text("ignored in a folder")
    assert [p.name for p in corpus_files([tmp_path])] == ["library.txt", "refs.txt"]
    corpus = load_corpus([tmp_path], skip_bad=True)
    assert len(corpus.papers) == 6 and corpus.records == 7  # 4 BibTeX + 3 RIS; the Bayesian paper is in both
    assert [str(b) for b in corpus.bad] == [
        'library.txt:93: entry desai2023defense is malformed: unbalanced braces or quotes (a `{` or `"` opened in it '
        "is never closed)",
        "library.txt:120: entry smith2020 has no abstract",
        "refs.txt:25: record has no end line (ER) before the next record at line 31",
    ]


def test_pubmed_book_chapters_are_read_too(tmp_path):
    (tmp_path / "books.xml").write_text(
        '<?xml version="1.0"?>\n<PubmedArticleSet>\n<PubmedBookArticle><BookDocument>\n'
        '<PMID Version="1">20301295</PMID>\n<Book><Publisher><PublisherName>Example University Press</PublisherName>'
        "</Publisher><BookTitle>Example Reviews</BookTitle><PubDate><Year>2019</Year></PubDate></Book>\n"
        "<ArticleTitle>Graph Solvers in Practice</ArticleTitle>\n"
        '<AuthorList Type="authors"><Author><LastName>Park</LastName><ForeName>Junyoung</ForeName></Author>'
        "</AuthorList>"
        '<AuthorList Type="editors"><Author><LastName>Editor</LastName><ForeName>Ed</ForeName></Author></AuthorList>\n'
        "<Abstract><AbstractText>Iterative solvers with guaranteed convergence.</AbstractText></Abstract>\n"
        "</BookDocument></PubmedBookArticle>\n</PubmedArticleSet>\n")
    papers, bad = read(tmp_path / "books.xml")
    assert bad == []
    assert (papers[0].id, papers[0].title, papers[0].metadata["authors"], papers[0].metadata["venue"],
            papers[0].metadata["year"]) == ("pmid:20301295", "Graph Solvers in Practice", ["Junyoung Park"],
                                            "Example University Press", 2019)
