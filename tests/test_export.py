"""Answers as Markdown and BibTeX (`rag.answer_markdown`, `rag.answer_bibtex`, `rag.chat_markdown`): numbered
references that keep the answer's numbers, escaped paper text, BibTeX that bibtexparser reads back to the same
titles and authors, unique keys."""

from __future__ import annotations

import bibtexparser
import pytest
from bibtexparser.middlewares import LatexDecodingMiddleware

from rag import Answer, ChatEntry, Citation, PaperInfo, Source, Timings, answer_bibtex, answer_markdown, chat_markdown

BAYES = PaperInfo(authors=["Samuel Müller", "Noah Hollmann", "Sebastian Pineda Arango", "Josif Grabocka",
                           "Frank Hutter"], year=2022, venue="International Conference on Learning Representations",
                  doi="10.48550/arxiv.2112.10510", arxiv_id="2112.10510", url="https://arxiv.org/abs/2112.10510")
HINTON = PaperInfo(authors=["Geoffrey E. Hinton", "Oriol Vinyals", "Jeff Dean"], year=2015,
                   venue="NIPS Deep Learning Workshop", arxiv_id="1503.02531")
ODD_TITLE = "Distilling the Knowledge in a Neural Network: 50% of GPT-4's *tricks* & {braces} #1 [v2] naïve_x"


def sources() -> list[Source]:
    return [
        Source(rank=1, paper_id="arxiv:2112.10510", title="Transformers Can Do Bayesian Inference", score=0.9,
               paper=BAYES, abstract="PFNs approximate Bayesian inference."),
        Source(rank=2, paper_id="p-seed", title="A seed paper without metadata", score=0.5, abstract="Seed."),
        Source(rank=3, paper_id="arxiv:1503.02531", title=ODD_TITLE, score=0.4, paper=HINTON, abstract="Distil."),
        Source(rank=4, paper_id="arxiv:1503.99999", title="Distilling Again", score=0.3,
               paper=PaperInfo(authors=["G. Hinton"], year=2015), abstract="Again."),
    ]


def answer(text: str, cited: list[tuple[int, str]], question: str = "Which papers *distil* models?") -> Answer:
    by_rank = {s.rank: s for s in sources()}
    citations = [Citation(number=n, paper_id=by_rank[n].paper_id, title=by_rank[n].title, quote=quote)
                 for n, quote in cited]
    return Answer(question=question, answer=text, abstained=not citations, citations=citations, sources=sources(),
                  timings=Timings(retrieval_ms=4, total_ms=900), llm_provider="scripted", llm_model="scripted",
                  embed_model="m", retrieval_query=question, notices=["The question was shortened."])


CITED = answer("PFNs approximate Bayesian inference [1]. Distillation transfers knowledge [3, 4]. Seeds too [2].",
               [(1, "PFNs approximate Bayesian inference."), (3, "Distil."), (4, "Again."), (2, "Seed.")])


def test_citations_carry_their_papers_metadata():
    assert CITED.citations[0].paper == BAYES and CITED.citations[1].paper == HINTON
    assert CITED.citations[3].paper == PaperInfo()
    dumped = CITED.model_dump(mode="json")
    assert dumped["citations"][0]["paper"]["link"] == "https://arxiv.org/abs/2112.10510"
    assert dumped["sources"][2]["paper"]["authors"][0] == "Geoffrey E. Hinton"
    assert "abstract" not in dumped["sources"][0]


def test_markdown_has_the_answer_and_references_numbered_as_in_it():
    text = answer_markdown(CITED)
    assert text.startswith("## Which papers \\*distil\\* models?\n\nPFNs approximate Bayesian inference [1].")
    assert "*Note: The question was shortened.*" in text
    references = text.split("**References**\n\n", 1)[1].splitlines()
    assert references[0] == ("- [1] Samuel Müller, Noah Hollmann, Sebastian Pineda Arango, Josif Grabocka, Frank "
                             "Hutter (2022). *Transformers Can Do Bayesian Inference*. International Conference on "
                             "Learning Representations. <https://arxiv.org/abs/2112.10510>")
    assert references[1] == "  > PFNs approximate Bayesian inference."
    assert references[2].startswith("- [3] Geoffrey E. Hinton, Oriol Vinyals, Jeff Dean (2015). *Distilling the "
                                    "Knowledge in a Neural Network: 50% of GPT-4's \\*tricks\\* & {braces} #1 \\[v2\\] "
                                    "naïve\\_x*. NIPS Deep Learning Workshop. <https://arxiv.org/abs/1503.02531>")
    assert "- [4] G. Hinton (2015). *Distilling Again*." in text
    assert "- [2] *A seed paper without metadata*." in text  # nothing known but the title
    assert [line[:5] for line in references if line.startswith("- [")] == ["- [1]", "- [3]", "- [4]", "- [2]"]


def test_an_abstention_has_no_references():
    text = answer_markdown(answer("The collection does not answer this question.", []))
    assert "References" not in text and "does not answer" in text
    assert answer_bibtex(answer("The collection does not answer this question.", [])) == ""


def parse(bibtex: str) -> dict[str, dict[str, str]]:
    library = bibtexparser.parse_string(bibtex, append_middleware=[LatexDecodingMiddleware()])
    assert not library.failed_blocks, [b.error for b in library.failed_blocks]
    return {entry.key: {"type": entry.entry_type, **{f.key: f.value for f in entry.fields}} for entry in
            library.entries}


def test_bibtex_parses_back_with_the_same_titles_authors_and_links():
    entries = parse(answer_bibtex(CITED))
    assert list(entries) == ["muller2022transformers", "hinton2015distilling", "hinton2015distillingb",
                             "seedpaper"], "first author, year and first word; unique; in citation order"
    bayes = entries["muller2022transformers"]
    assert bayes == {"type": "inproceedings", "title": "Transformers Can Do Bayesian Inference",
                     "author": "Samuel Müller and Noah Hollmann and Sebastian Pineda Arango and Josif Grabocka and "
                               "Frank Hutter",
                     "booktitle": "International Conference on Learning Representations", "year": "2022",
                     "doi": "10.48550/arxiv.2112.10510", "eprint": "2112.10510", "archiveprefix": "arXiv",
                     "url": "https://arxiv.org/abs/2112.10510"}
    hinton = entries["hinton2015distilling"]
    assert hinton["title"].replace("{", "").replace("}", "") == ODD_TITLE.replace("{", "").replace("}", "")
    assert hinton["type"] == "inproceedings" and hinton["booktitle"] == "NIPS Deep Learning Workshop"
    assert entries["seedpaper"] == {"type": "misc", "title": "A seed paper without metadata"}


def test_bibtex_protects_capitals_and_escapes_latex():
    raw = answer_bibtex(CITED)
    assert "{GPT-4's}" in raw and r"50{\%}" in raw and r"{\&}" in raw and r"M{\"u}ller" in raw
    assert "{braces}" not in raw, "braces from the text are escaped, never unbalanced"


def test_a_paper_cited_in_two_answers_is_one_entry_per_export():
    both = answer("It works [1] and again [1].", [(1, "PFNs approximate Bayesian inference.")])
    assert list(parse(answer_bibtex(both))) == ["muller2022transformers"]


@pytest.mark.parametrize("status", ["stopped", "failed"])
def test_chat_markdown_has_every_answer_with_its_references(status):
    unfinished = ChatEntry(question="And the datasets?", status=status,
                           text="It used [1" if status == "stopped" else "The language model failed.")
    text = chat_markdown([ChatEntry(question=CITED.question, answer=CITED), unfinished,
                          ChatEntry(question="Why?", answer=answer("Because [1].", [(1, "PFNs approximate "
                                                                                       "Bayesian inference.")]))],
                         title="Which papers distil models?")
    assert text.startswith("# Which papers distil models?\n\n## 1. Which papers \\*distil\\* models?")
    assert "## 2. And the datasets?" in text and "## 3. Why?" in text
    assert ("It used [1 *(stopped)*" if status == "stopped" else "*Not answered: The language model failed.*") in text
    assert text.count("**References**") == 2 and text.count("<https://arxiv.org/abs/2112.10510>") == 2
