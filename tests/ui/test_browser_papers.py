"""Researchers' papers in the chat UI, in Chromium: each format uploaded through the side panel (exact counts and
its bad records as ``file:line: problem``), the papers' authors, year, venue and link on the cards and in the
checked citations, and the year and author filters."""

from __future__ import annotations

import pytest

from tests.support import pdf_papers
from tests.ui.conftest import CORPUS_FILES, LIBRARY, LIBRARY_QUESTION, LIBRARY_REPLY
from tests.ui.test_browser import BOT, ask, wait_for_answers
from tests.ui.test_browser_export import use_collection

pytestmark = pytest.mark.filterwarnings("ignore::Warning:gradio.queueing")

# file, papers added, bad records as the report lists them
UPLOADS = [
    ("library.bib", 4, ["library.bib:93: entry desai2023defense is malformed: unbalanced braces or quotes",
                        "library.bib:120: entry smith2020 has no abstract"]),
    ("export.ris", 3, ["export.ris:25: record has no end line (ER) before the next record at line 31"]),
    ("arxiv-snapshot.jsonl", 3, ["arxiv-snapshot.jsonl:4: invalid JSON: Expecting value at column 178"]),
    ("openalex-page.json", 2, ["openalex-page.json:1105: work W4318562323 has no abstract (abstract_inverted_index "
                               "is null)"]),
    ("pubmed.xml", 2, ["pubmed.xml:73: PMID 38000003 has no abstract"]),
    ("pubmed-truncated.xml", 1, ["pubmed-truncated.xml:55: XML error: Premature end of data in tag Article"]),
]


def new_collection(page, name: str) -> None:
    page.fill("#collection input", name)
    page.press("#collection input", "Enter")
    page.wait_for_function(
        "name => document.querySelector('#collection-status').innerText.includes(name + ' is empty')", arg=name)


def upload(page, paths: list, expected: str) -> list[str]:
    """Upload files into the selected collection and wait for the report's counts line to read ``expected``; the
    bad-record lines."""
    page.set_input_files("#upload input[type=file]", [str(p) for p in paths])
    page.wait_for_function("""expected => { const line = document.querySelector(
        '#upload-report .upload-ok, #upload-report .upload-error'); return !!line && line.innerText === expected; }""",
                           arg=expected)
    return page.locator("#upload-report .upload-bad li").all_inner_texts()


@pytest.mark.parametrize(("name", "added", "bad"), UPLOADS, ids=[u[0] for u in UPLOADS])
def test_each_format_uploads_with_exact_counts_and_its_bad_records(page, name, added, bad):
    collection = "up-" + name.replace(".", "-")
    new_collection(page, collection)
    counted = f"{collection}: {{}} added, 0 updated, {{}} skipped (unchanged) · {added} papers in the collection"
    lines = upload(page, [CORPUS_FILES / name], counted.format(added, 0))
    head = f"{len(bad)} bad record{'s' if len(bad) > 1 else ''} skipped:"
    assert page.inner_text("#upload-report .upload-bad p") == head
    assert len(lines) == len(bad) and all(line.startswith(start) for line, start in zip(lines, bad, strict=True))
    assert page.inner_text("#collection-status").startswith(f"{collection} · {added} papers")
    upload(page, [CORPUS_FILES / name], counted.format(0, added))  # again: nothing changes


def test_pdfs_upload_and_one_without_an_abstract_is_reported_by_name(page, tmp_path, artifacts):
    preprint, ieee, notes = tmp_path / "reversal.pdf", tmp_path / "bayes-ieee.pdf", tmp_path / "notes.pdf"
    pdf_papers.single_column(preprint)
    pdf_papers.two_column(ieee)
    pdf_papers.no_abstract(notes)
    new_collection(page, "up-pdf")
    lines = upload(page, [preprint, ieee, notes], "up-pdf: 2 added, 0 updated, 0 skipped (unchanged) · 2 papers in "
                   "the collection")
    assert lines == ["notes.pdf:1: no abstract found: no 'Abstract' heading on the first 2 pages"]
    page.screenshot(path=str(artifacts / "upload-pdf.png"))
    page.click("#source-filter input")  # each PDF is a source file
    assert page.locator("[role=option]", has_text="bayes-ieee.pdf (1)").count() == 1


def test_cards_and_citations_show_authors_year_venue_and_a_safe_link(page, fake_llm):
    fake_llm.reply = LIBRARY_REPLY
    use_collection(page, LIBRARY)
    ask(page, LIBRARY_QUESTION)
    wait_for_answers(page, 1)
    card = page.locator("#sources .card", has_text="Transformers Can Do Bayesian Inference")
    assert card.locator(".card-meta").inner_text() == ("Samuel Müller, Noah Hollmann et al. · 2022 · International "
                                                       "Conference on Learning Representations · arXiv:2112.10510")
    link = card.locator("a.paper-link")
    assert (link.get_attribute("href"), link.get_attribute("target")) == ("https://arxiv.org/abs/2112.10510", "_blank")
    assert "noopener" in link.get_attribute("rel")
    cited = page.locator(BOT).last.locator(".citations li").nth(1)
    assert cited.locator(".cite-meta").inner_text() == ("Junyoung Park, Jinhyun Choo, Jinkyoo Park · 2022 · Journal "
                                                        "of Example Studies · doi:10.5555/cgs.2022.001")
    chat_link = cited.locator("a.paper-link")
    assert chat_link.get_attribute("href") == "https://doi.org/10.5555/cgs.2022.001"
    assert chat_link.get_attribute("target") == "_blank" and "noopener" in chat_link.get_attribute("rel")
    seeds = page.locator("#sources .card", has_text="Reversal Curse")
    assert seeds.locator("a.paper-link").get_attribute("href") == "https://arxiv.org/abs/2410.12345"


def card_years(page) -> list[int]:
    metas = page.locator("#sources section.latest .card .card-meta").all_inner_texts()
    return [int(next(part for part in meta.split(" · ") if part.isdigit())) for meta in metas]


def test_year_and_author_filters_in_the_side_panel(page, fake_llm, artifacts):
    fake_llm.reply = LIBRARY_REPLY
    use_collection(page, LIBRARY)
    page.fill("#year-from input, #year-from textarea", "2023")
    ask(page, "Which papers study models and data?")
    wait_for_answers(page, 1)
    years = card_years(page)
    assert len(years) == 5 and all(year >= 2023 for year in years), years  # every paper of 2023-2024 in the library
    assert "only papers 2023 or later" in page.inner_text("#detail")

    page.fill("#year-from input, #year-from textarea", "")
    page.fill("#author-filter input, #author-filter textarea", "park")
    ask(page, "Which papers study models and data?")
    wait_for_answers(page, 2)
    titles = page.locator("#sources section.latest .card-title").all_inner_texts()
    assert titles == ["Convergent Graph Solvers"], titles
    assert "by “park”" in page.inner_text("#detail")
    page.screenshot(path=str(artifacts / "filters.png"))

    page.fill("#year-from input, #year-from textarea", "20x3")
    ask(page, "Which papers study models and data?")
    wait_for_answers(page, 3)
    assert "From year must be a year such as 2020, not “20x3”" in page.locator(BOT).last.inner_text()
    page.fill("#year-from input, #year-from textarea", "")
    page.fill("#author-filter input, #author-filter textarea", "")
    ask(page, "Which papers study models and data?")
    wait_for_answers(page, 4)
    years = card_years(page)  # a list question reads up to RAG_LIST_CANDIDATES papers
    assert len(years) > 5 and min(years) < 2023, f"without filters the papers of every year come back: {years}"


def test_the_api_takes_the_filters_and_answers_with_the_papers_metadata(ui_url, fake_llm):
    from gradio_client import Client

    fake_llm.reply = LIBRARY_REPLY
    client = Client(ui_url, verbose=False)
    answer = client.predict(LIBRARY_QUESTION, 0, LIBRARY, "", 2022, 2022, "müller", api_name="/ask")
    assert [s["title"] for s in answer["sources"]] == ["Transformers Can Do Bayesian Inference"]
    assert answer["sources"][0]["paper"]["link"] == "https://arxiv.org/abs/2112.10510"
    assert answer["citations"][0]["paper"]["authors"][0] == "Samuel Müller"
