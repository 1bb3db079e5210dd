"""HTML rendering of cards, answers and upload reports: escaping, `[n]` links, highlighted quotes."""

from __future__ import annotations

from html import unescape

from rag import Answer, Citation, PaperInfo, Source, Timings, answer_markdown
from rag.corpus import BadRecord
from ui import render
from ui.upload import UploadResult, upload_report

EVIL = '<img src=x onerror="alert(1)"> & <script>alert(2)</script>'


def source(rank: int, abstract: str = "First sentence. The cited sentence is here. Last one.") -> Source:
    return Source(rank=rank, paper_id=f"p-{rank}", title=f"Paper {rank} {EVIL}", score=0.5, abstract=abstract)


def answer(text: str, citations: list[Citation], abstained: bool = False) -> Answer:
    return Answer(question="q", answer=text, abstained=abstained, citations=citations,
                  sources=[source(1), source(2)], timings=Timings(retrieval_ms=5, total_ms=900),
                  llm_provider="scripted", llm_model="scripted", embed_model="m", retrieval_query="q")


def test_markers_link_to_the_cards_of_their_turn_and_text_is_escaped():
    html = render.link_markers(f"Claim one [1]. Claim two [2, 3] and [9]. {EVIL}", turn=4, ranks=[1, 2, 3])
    assert '<a class="cite" href="#q4-s1" title="Source 1">[1]</a>' in html
    assert 'href="#q4-s2"' in html and 'href="#q4-s3"' in html
    assert "[9]" in html and "#q4-s9" not in html  # a marker naming no shown source stays plain text
    assert "<script>" not in html and "<img" not in html and "&lt;script&gt;" in html


def test_card_escapes_paper_text_and_highlights_the_quote():
    cited = Citation(number=1, paper_id="p-1", title="Paper 1", quote="The cited sentence is here.")
    card = render.source_card(source(1, abstract=f"Intro {EVIL}. The cited sentence is here. End."), 2, [cited])
    assert 'id="q2-s1"' in card and 'class="card cited"' in card and "<details class=\"abstract\" open>" in card
    assert "<mark>The cited sentence is here.</mark>" in card
    assert "<script>" not in card and "<img" not in card
    uncited = render.source_card(source(2), 2, [cited])
    assert 'class="card"' in uncited and "<mark>" not in uncited and "<details class=\"abstract\">" in uncited


def test_card_shows_the_evidence_sentence_until_the_answer_cites_the_paper():
    waiting = source(1, abstract="Intro. The evidence is here. End.").model_copy(
        update={"evidence": f"The evidence is here {EVIL}."})
    card = render.source_card(waiting, 2, [])
    assert '<p class="evidence"' in card and "<mark>The evidence is here" in card and "<script>" not in card
    cited = Citation(number=1, paper_id="p-1", title="Paper 1", quote="The evidence is here.")
    assert 'class="evidence"' not in render.source_card(waiting, 2, [cited])  # the cited sentences take over
    assert 'class="evidence"' not in render.source_card(source(3), 2, [])  # no sentence shares a term


def test_overlapping_quotes_are_merged():
    html = render.highlight("aaa bbb ccc ddd", ["aaa bbb", "bbb ccc", "missing"])
    assert html == "<mark>aaa bbb ccc</mark> ddd"


def test_final_answer_lists_checked_citations_and_abstention_is_marked():
    cited = Citation(number=2, paper_id="p-2", title="Paper 2", quote="The cited sentence is here.")
    final = render.answer_message(answer("It works [2].", [cited]), turn=1)
    assert 'href="#q1-s2"' in final and 'class="citations"' in final and "The cited sentence is here." in final
    assert render.CURSOR not in final
    abstain = render.answer_message(answer("The collection does not answer this question.", [], True), 1)
    assert 'class="abstain"' in abstain and "does not answer" in abstain and "closest sources" in abstain


def test_the_citation_list_does_not_repeat_a_sentence_the_answer_already_quotes():
    cited = Citation(number=2, paper_id="p-2", title="Paper 2", quote="The cited sentence is here.")
    listed = render.answer_message(answer("Paper 2 — “The cited sentence is here” [2].", [cited]), turn=1)
    assert 'class="citations"' in listed and 'class="cite-quote"' not in listed
    assert 'class="cite-quote"' in render.answer_message(answer("It works [2].", [cited]), turn=1)


def test_sources_panel_keeps_earlier_questions_folded():
    turns = [render.TurnSources(1, "first?", [source(1)]), render.TurnSources(2, f"second {EVIL}?", [source(1)])]
    html = render.sources_panel(turns)
    assert html.index('id="q2-s1"') < html.index('id="q1-s1"')
    assert '<details class="turn earlier">' in html and "<script>" not in html


def test_detail_line_shows_the_rewritten_query_and_timings():
    line = render.detail_line("what data?", "Tell me about Mamba what data?", Timings(retrieval_ms=12, first_token_ms=
                                                                                   1500, total_ms=4000), "x:y")
    assert "with the earlier question" in line and "Tell me about Mamba" in line and "12 ms" in line
    assert "1.5 s" in line and "4.0 s" in line


def test_upload_report_counts_and_bad_lines():
    result = UploadResult(collection="mine", files=["a.jsonl"], records=3, added=2, updated=1, unchanged=0,
                          bad=[BadRecord(file="/tmp/gradio/xyz/a.jsonl", line=4, problem=f"invalid JSON {EVIL}")],
                          papers_now=40)
    html = upload_report(result)
    assert "2 added" in html and "1 updated" in html and "0 skipped" in html and "40 papers" in html
    assert "a.jsonl:4: invalid JSON" in html and "/tmp/gradio" not in html and "<script>" not in html
    failed = upload_report(UploadResult(collection="mine", files=["x.pdf"], error="unsupported file type '.pdf'"))
    assert 'class="upload-error"' in failed and "unsupported file type" in failed


def test_markers_carry_an_escaped_popover_and_answers_their_export_buttons():
    paper = PaperInfo(authors=[f"Ada {EVIL}", "B", "C", "D"], year=2021, venue=EVIL, doi="10.5555/x")
    cited = Citation(number=1, paper_id="p-1", title=f"Paper 1 {EVIL}", quote=f"The cited sentence {EVIL}.",
                     paper=paper)
    final = render.answer_message(answer("It works [1].", [cited]), turn=3)
    pop = final.split('<span class="cite-pop" role="tooltip">', 1)[1].split("</a>", 1)[0]
    assert '<span class="pop-title">Paper 1 &lt;img' in pop and "&lt;script&gt;" in pop and "<script>" not in pop
    assert '<span class="pop-meta">Ada &lt;img' in pop and "et al. · 2021" in pop
    copy = final.split('class="copy-md" value="', 1)[1].split('"', 1)[0]
    assert "\n" not in copy and "<" not in copy, "one escaped line: a blank line would end Markdown's HTML block"
    assert unescape(copy) == answer_markdown(answer("It works [1].", [cited]))
    bib = final.split('class="download-bib" name="answer-3.bib" value="', 1)[1].split('"', 1)[0]
    assert unescape(bib).startswith("@misc{paper1,") and "<img" not in bib
    abstained = render.answer_message(answer("The collection does not answer this question.", [], True), 1)
    assert "copy-md" in abstained and "download-bib" not in abstained, "nothing cited: nothing to download"


def test_links_are_http_only_and_open_in_a_new_tab():
    safe = render.paper_meta(PaperInfo(url="https://example.org/paper?a=1&b=2"), "meta")
    assert 'href="https://example.org/paper?a=1&amp;b=2" target="_blank" rel="noopener noreferrer"' in safe
    assert ">example.org</a>" in safe
    sneaky = render.paper_meta(PaperInfo(url="javascript:alert(1)", doi="10.5555/x"), "meta")
    assert "javascript" not in sneaky and 'href="https://doi.org/10.5555/x"' in sneaky and ">doi:10.5555/x<" in sneaky
    assert render.paper_meta(PaperInfo(url="javascript:alert(1)"), "meta") == ""
    card = render.source_card(Source(rank=1, paper_id="p", title="T", score=0.1, abstract="A.",
                                     paper=PaperInfo(authors=["Ada Lovelace"], year=1843, pmid="123")), 1, [])
    assert ('<p class="card-meta"><span class="meta">Ada Lovelace · 1843 · <a class="paper-link" href="https://'
            'pubmed.ncbi.nlm.nih.gov/123/" target="_blank" rel="noopener noreferrer">PMID 123</a>') in card
    assert "card-meta" not in render.source_card(source(1), 1, []), "a paper without metadata has no meta line"


def test_finished_turns_render_the_same_from_what_is_saved():
    cited = Citation(number=1, paper_id="p-1", title="Paper 1", quote="The cited sentence is here.")
    result = answer("It works [1].", [cited])
    done = render.TurnSources(2, "q", [source(1)], done=True, status="answered", result=result)
    assert render.turn_message(done) == render.answer_message(done.result, 2)
    stopped = render.TurnSources(2, "q", [source(1)], done=True, status="stopped", text="Half an answer [1")
    assert render.turn_message(stopped) == "Half an answer [1 *(stopped)*"
    failed = render.TurnSources(2, "q", [], done=True, status="failed", text=f"It broke {EVIL}")
    assert render.turn_message(failed).startswith('<div class="chat-error"><p>It broke &lt;img')


def test_filters_are_described_in_words():
    assert render.filters_text() == ""
    assert render.filters_text("a.bib", 2020, 2023, "hinton") == "only papers from a.bib, 2020-2023, by “hinton”"
    assert render.filters_text(year_from=2020) == "only papers 2020 or later"
    assert render.filters_text(year_to=2020, year_from=2020) == "only papers of 2020"
