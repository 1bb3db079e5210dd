"""The synthetic corpus (`tests.support.synthetic`) written in researchers' formats as real exports look: a
BibTeX library, a RIS export, arXiv snapshot rows (hard-wrapped), OpenAlex works as JSON lines (inverted-index
abstracts), a PubMed XML file (structured abstracts). For the format tests and `benchmarks.formats`."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from xml.sax.saxutils import escape

from tests.support.synthetic import synthetic_records

FORMATS = {"bib": "library.bib", "ris": "export.ris", "arxiv": "arxiv.jsonl", "openalex": "works.jsonl",
           "pubmed": "pubmed.xml"}
AUTHORS = [("Ada", "Lovelace"), ("Alan", "Turing"), ("Grace", "Hopper"), ("Kurt", "G\u00f6del")]


def arxiv_id(i: int) -> str:
    return f"{2401 + i // 100000}.{i % 100000:05d}"


def bibtex_entry(i: int, r: dict) -> str:
    authors = " and ".join(f"{last}, {first}" for first, last in AUTHORS[: 1 + i % 4]).replace("\u00f6", '{\\"o}')
    title = r["title"].replace("%", "\\%")  # "%" starts a LaTeX comment
    abstract = textwrap.fill(r["abstract"].replace("%", "\\%"), 90, subsequent_indent="    ")
    return (f"@article{{syn{i},\n  title = {{{title}}},\n  author = {{{authors}}},\n"
            f"  journal = {{Journal of Examples}},\n  year = {{{r['published'][:4]}}},\n  doi = {{10.5555/syn.{i}}},\n"
            f"  abstract = {{{abstract}}}\n}}\n\n")


def ris_record(i: int, r: dict) -> str:
    authors = "".join(f"AU  - {last}, {first}\n" for first, last in AUTHORS[: 1 + i % 4])
    return (f"TY  - JOUR\nTI  - {r['title']}\n{authors}PY  - {r['published'][:4]}///\nT2  - Journal of Examples\n"
            f"DO  - 10.5555/syn.{i}\nAB  - {r['abstract']}\nER  - \n\n")


def arxiv_row(i: int, r: dict) -> str:
    names = AUTHORS[: 1 + i % 4]
    return json.dumps({
        "id": arxiv_id(i), "submitter": "Ada Lovelace", "authors": ", ".join(f"{f} {last}" for f, last in names),
        "title": textwrap.fill(r["title"], 72, subsequent_indent="  ", break_on_hyphens=False),
        "comments": "12 pages", "journal-ref": None,
        "doi": None, "report-no": None, "categories": "cs.LG", "license": None,
        "abstract": "  " + textwrap.fill(r["abstract"], 78, break_on_hyphens=False) + "\n",
        "versions": [{"version": "v1", "created": "Mon, 1 Jan 2024 00:00:00 GMT"}], "update_date": r["published"],
        "authors_parsed": [[last, first, ""] for first, last in names],
    }) + "\n"


def openalex_work(i: int, r: dict) -> str:
    index: dict[str, list[int]] = {}
    for position, word in enumerate(r["abstract"].split()):
        index.setdefault(word, []).append(position)
    return json.dumps({
        "id": f"https://openalex.org/W{4000000000 + i}", "doi": f"https://doi.org/10.5555/syn.{i}", "title": r["title"],
        "display_name": r["title"], "publication_year": int(r["published"][:4]),
        "primary_location": {"source": {"display_name": "Journal of Examples"}},
        "authorships": [{"author": {"display_name": f"{f} {last}"}} for f, last in AUTHORS[: 1 + i % 4]],
        "abstract_inverted_index": index,
    }, ensure_ascii=False) + "\n"


def pubmed_article(i: int, r: dict) -> str:
    sentences = r["abstract"].split(". ")
    half = max(1, len(sentences) // 2)
    parts = [("BACKGROUND", ". ".join(sentences[:half])), ("RESULTS", ". ".join(sentences[half:]))]
    abstract = "".join(f'<AbstractText Label="{label}">{escape(text)}</AbstractText>' for label, text in parts if text)
    authors = "".join(f"<Author><LastName>{last}</LastName><ForeName>{first}</ForeName></Author>"
                      for first, last in AUTHORS[: 1 + i % 4])
    return (f"<PubmedArticle><MedlineCitation><PMID>{30000000 + i}</PMID><Article><Journal><JournalIssue><PubDate>"
            f"<Year>{r['published'][:4]}</Year></PubDate></JournalIssue><Title>Journal of Examples</Title></Journal>"
            f"<ArticleTitle>{escape(r['title'])}</ArticleTitle><Abstract>{abstract}</Abstract>"
            f"<AuthorList>{authors}</AuthorList></Article></MedlineCitation><PubmedData><ArticleIdList>"
            f'<ArticleId IdType="doi">10.5555/syn.{i}</ArticleId></ArticleIdList></PubmedData></PubmedArticle>\n')


WRITERS = {"bib": bibtex_entry, "ris": ris_record, "arxiv": arxiv_row, "openalex": openalex_work,
           "pubmed": pubmed_article}


def write_corpus(fmt: str, n: int, folder: Path) -> Path:
    """``n`` synthetic papers in format ``fmt`` under ``folder``, streamed to disk."""
    path = folder / f"{n}-{FORMATS[fmt]}"
    with path.open("w", encoding="utf-8") as out:
        if fmt == "pubmed":
            out.write('<?xml version="1.0" ?>\n<PubmedArticleSet>\n')
        for i, record in enumerate(synthetic_records(n)):
            out.write(WRITERS[fmt](i, record))
        if fmt == "pubmed":
            out.write("</PubmedArticleSet>\n")
    return path
