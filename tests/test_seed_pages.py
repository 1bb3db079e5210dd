"""The Daily Papers listing parser, on every format pitfall and on the real seed pages."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.corpus import BadRecord, CorpusError, Paper, load_corpus, parse_seed_page

ABSTRACT_A = "We study the first problem in depth. " * 5
ABSTRACT_B = "A second abstract describes another method and its results. " * 4


def papers(text: str, source: str = "page.txt") -> list[Paper]:
    items = list(parse_seed_page(text, source))
    assert not [i for i in items if isinstance(i, BadRecord)], items
    return items  # type: ignore[return-value]


def test_chrome_lines_with_blank_lines_are_skipped():
    text = (
        "new\n\nGet trending papers in your email inbox!\n\nSubscribe\n\nDaily Papers\n\n"
        "byAK and the research community\n\nAug 14\n\n"
        f"First Title\n\n{ABSTRACT_A}\n\nSecond Title\n\n{ABSTRACT_B}\n"
    )
    assert [p.title for p in papers(text)] == ["First Title", "Second Title"]


def test_subscribe_glued_to_first_title_and_no_blank_lines():
    text = (
        "Get trending papers in your email inbox once a day!\nGet trending papers in your email inbox!\n"
        f"SubscribeA nonintrusive method\n{ABSTRACT_A}\nSecond Title\n{ABSTRACT_B}"
    )
    result = papers(text)
    assert [p.title for p in result] == ["A nonintrusive method", "Second Title"]


def test_last_abstract_without_trailing_newline_is_kept():
    result = papers(f"Mar 20\nOnly Title\n{ABSTRACT_B.strip()}")
    assert result[0].abstract == ABSTRACT_B.strip()


@pytest.mark.parametrize(
    "title",
    [
        "Is the Reversal Curse a Binding Problem? Uncovering Limitations",
        "A for-loop is all you need. For solving the inverse problem",
        "0.1% Data Makes Segment Anything Slim",
        "4+3 Phases of Compute-Optimal Neural Scaling Laws",
        "(Mis)Fitting: A Survey of Scaling Laws",
        "[Re] A reproduction study",
        "pyhgf: A neural network library for predictive coding",
        "μLO: Compute-Efficient Meta-Generalization of Learned Optimizers",
        "Subscribers and Their Graphs",
    ],
)
def test_unusual_titles_survive(title):
    result = papers(f"new\n\nSubscribe\n\n{title}\n\n{ABSTRACT_A}\n\nNext\n\n{ABSTRACT_B}")
    assert result[0].title == title
    assert result[1].title == "Next"


def test_missing_abstract_is_reported_with_line():
    items = list(parse_seed_page(f"Title One\n{ABSTRACT_A}\nOrphan Title\nTitle Three\n{ABSTRACT_B}", "p.txt"))
    bad = [i for i in items if isinstance(i, BadRecord)]
    assert [(b.file, b.line) for b in bad] == [("p.txt", 3)]
    assert [p.title for p in items if isinstance(p, Paper)] == ["Title One", "Title Three"]


def test_page_without_papers_is_an_error():
    bad = list(parse_seed_page("new\n\nSubscribe\n\nDaily Papers\n", "empty.txt"))
    assert len(bad) == 1 and "no papers" in bad[0].problem


def test_non_utf8_line_is_reported(tmp_path: Path):
    page = tmp_path / "page.txt"
    page.write_bytes(f"Good Title\n{ABSTRACT_A}\n".encode() + b"Bad \xff title\n" + ABSTRACT_B.encode())
    with pytest.raises(CorpusError) as error:
        load_corpus([page])
    assert "page.txt:3" in str(error.value) and "not UTF-8" in str(error.value)


def test_real_seed_pages_give_513_records_and_487_papers():
    corpus = load_corpus([Path(__file__).resolve().parent.parent / "seeds"])
    assert corpus.bad == []
    assert corpus.records == 513
    assert len(corpus.papers) == 487
    assert len({p.title for p in corpus.papers}) == 487
    repeated = [p for p in corpus.papers if len(p.sources) > 1]
    assert len(repeated) == 24
    assert all(len(set(p.sources)) == len(p.sources) for p in repeated)
    assert all(len(p.abstract) > 400 for p in corpus.papers)
    titles = {p.title for p in corpus.papers}
    assert "A nonintrusive method to approximate linear systems with nonlinear parameter dependence" in titles
    assert "u-μP: The Unit-Scaled Maximal Update Parametrization" in titles
