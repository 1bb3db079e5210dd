"""The year and author filters through the public API, on a real embedded Chroma store with MiniLM: both BM25 and
Chroma filter before ranking, so ``top_k`` matching papers come back; author names match on any part, in any
case; papers without a year or authors never match; collections ingested before the filters gain them on
re-ingest; answers carry the papers' metadata."""

from __future__ import annotations

import json

import pytest

from rag import Assistant, QuestionError, Settings
from rag.corpus import load_corpus
from rag.index.filters import PaperFilter
from tests.conftest import SEEDS
from tests.support.fakes import scripted

PAGE = SEEDS / "001_65edacaf2fbbf1ce.txt"
QUESTION = "language models reasoning benchmark"


def metadata(i: int) -> dict:
    """Synthetic authors and years: every fourth paper is Hinton's; years cycle 2015-2024."""
    authors = ["Geoffrey E. Hinton", "Ada Lovelace"] if i % 4 == 0 else ["Alan Turing", "Grace Hopper"]
    return {"authors": authors, "year": 2015 + i % 10}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """A seed page split in two JSONL files with synthetic metadata, and a third file without any."""
    folder = tmp_path_factory.mktemp("filters")
    papers = load_corpus([PAGE]).papers
    rows = [{"id": f"m{i}", "title": p.title, "abstract": p.abstract, **metadata(i)} for i, p in enumerate(papers)]
    bare = [{"id": f"bare{i}", "title": f"{p.title} revisited", "abstract": p.abstract}
            for i, p in enumerate(papers[:8])]
    files = {"first.jsonl": rows[:30], "second.jsonl": rows[30:], "bare.jsonl": bare}
    for name, records in files.items():
        (folder / name).write_text("".join(json.dumps(r) + "\n" for r in records))
    return folder, {r["id"]: r for r in rows}


@pytest.fixture(scope="module")
def assistant(corpus, tmp_path_factory, embedder) -> Assistant:
    data = tmp_path_factory.mktemp("filters-data")
    assistant = Assistant(Settings(data_dir=data, seeds_dir=data / "none", collection="meta"),
                          llm=scripted("x"), embedder=embedder, progress=False)
    report = assistant.library.ingest(sorted(corpus[0].glob("*.jsonl")))
    assert report.papers_now == len(corpus[1]) + 8
    return assistant


def year(paper) -> int | None:
    return paper.metadata.get("year")


@pytest.mark.parametrize("mode", ["bm25", "dense"])
def test_each_side_filters_before_ranking(assistant, mode):
    """Filtered, each retriever gives the papers it ranks best among those that match, not fewer."""
    everything = assistant.retrieve(QUESTION, top_k=50, mode=mode)
    for options, keep in [({"year_from": 2021}, lambda p: year(p) and year(p) >= 2021),
                          ({"year_from": 2016, "year_to": 2018}, lambda p: year(p) and 2016 <= year(p) <= 2018),
                          ({"author": "hinton"}, lambda p: "Geoffrey E. Hinton" in p.metadata.get("authors", []))]:
        filtered = assistant.retrieve(QUESTION, top_k=6, mode=mode, **options)
        expected = [p.paper_id for p in everything if keep(p)][:6]
        assert len(filtered) == 6 and [p.paper_id for p in filtered] == expected, options


def test_hybrid_fills_top_k_where_a_post_filter_would_not(assistant):
    unfiltered = assistant.retrieve(QUESTION, top_k=6)
    filtered = assistant.retrieve(QUESTION, top_k=6, year_from=2022)
    assert len(filtered) == 6 and all(year(p) >= 2022 for p in filtered)
    assert sum(1 for p in unfiltered if (year(p) or 0) >= 2022) < 6, "a post-filter would have left fewer"
    assert [p.rank for p in filtered] == [1, 2, 3, 4, 5, 6]


@pytest.mark.parametrize("name", ["hinton", "HINTON", "Hinton", "Geoffrey", "geoffrey hinton", "Geoffrey E. Hinton",
                                  "G. Hinton", "g e hinton", " Hinton "])
def test_an_author_matches_on_any_part_of_the_name_in_any_case(assistant, corpus, name):
    found = assistant.retrieve(QUESTION, top_k=50, author=name)
    hinton = {pid for pid, row in corpus[1].items() if "Geoffrey E. Hinton" in row["authors"]}
    assert {p.paper_id for p in found} == hinton


@pytest.mark.parametrize("name", ["hint", "inton", "Geoffrey Lovelace", "Ada Hinton", "nobody"])
def test_an_author_filter_matches_no_part_of_a_word_nor_two_authors(assistant, name):
    assert assistant.retrieve(QUESTION, top_k=50, author=name) == []


def test_papers_without_year_or_authors_never_match(assistant):
    unfiltered = assistant.retrieve("revisited", top_k=50, mode="bm25")
    assert any(p.paper_id.startswith("bare") for p in unfiltered)
    for options in [{"year_from": 1500}, {"year_to": 2099}, {"author": "Turing"}]:
        assert not any(p.paper_id.startswith("bare") for p in assistant.retrieve("revisited", top_k=50,
                                                                                  **options)), options


def test_filters_combine_with_the_source_filter(assistant, corpus):
    found = assistant.retrieve(QUESTION, top_k=50, source="second.jsonl", author="Turing", year_to=2020)
    expected = {pid for pid, row in corpus[1].items()
                if int(pid[1:]) >= 30 and "Alan Turing" in row["authors"] and row["year"] <= 2020}
    assert found and {p.paper_id for p in found} == expected
    assert all(p.metadata["sources"] == ["second.jsonl"] for p in found)


@pytest.mark.parametrize(("options", "message"), [
    ({"year_from": 2024, "year_to": 2020}, r"year_from \(2024\) is after year_to \(2020\)"),
    ({"year_from": 99999}, "year_from must be a year from 1500 to 2099"),
    ({"year_to": "2020"}, "year_to must be a year"),
    ({"author": "!!!"}, "has no letters or digits"),
])
def test_a_filter_that_cannot_apply_is_a_question_error(assistant, options, message):
    with pytest.raises(QuestionError, match=message):
        assistant.ask(QUESTION, **options)


def test_answers_carry_the_papers_metadata(assistant, corpus):
    answer = Assistant(assistant.settings, llm=scripted("The paper studies this [1]."), library=assistant.library,
                       progress=False).ask(QUESTION, top_k=3, author="Hinton", year_from=2019)
    assert len(answer.sources) == 3
    for source in answer.sources:
        row = corpus[1][source.paper_id]
        assert source.paper.authors == row["authors"] and source.paper.year == row["year"] >= 2019
    dumped = json.loads(answer.model_dump_json())
    assert dumped["sources"][0]["paper"]["authors"] == ["Geoffrey E. Hinton", "Ada Lovelace"]
    assert set(dumped["sources"][0]) == {"rank", "paper_id", "title", "score", "paper", "evidence"}
    assert set(dumped["sources"][0]["paper"]) == {"authors", "year", "venue", "doi", "arxiv_id", "pmid", "url",
                                                  "link"}


def test_papers_ingested_before_the_filters_gain_them_on_re_ingest(assistant, corpus):
    """An older version stored no ``author_keys`` in Chroma, and a year as it was written (text)."""
    collection = assistant.index().store.collection
    rows = collection.get(where={"paper_id": {"$in": ["m0", "m4"]}}, include=["metadatas"])
    collection.update(ids=rows["ids"], metadatas=[{"author_keys": None, "year": str(meta["year"])}
                                                  for meta in rows["metadatas"]])  # None removes a key
    dense = assistant.retrieve(QUESTION, top_k=50, author="hinton", mode="dense")
    assert not {"m0", "m4"} & {p.paper_id for p in dense}, "without the keys the dense side cannot find them"

    report = assistant.library.ingest([corpus[0] / "first.jsonl"], collection="meta")
    assert (report.added, report.updated, report.unchanged, report.chunks) == (0, 0, 30, 0), "nothing re-embedded"
    assert {"m0", "m4"} <= {p.paper_id for p in assistant.retrieve(QUESTION, top_k=50, author="hinton", mode="dense")}
    dated = assistant.retrieve(QUESTION, top_k=50, year_from=2015, year_to=2015, mode="dense")
    assert "m0" in {p.paper_id for p in dated}, "the year stored as text is a number again"


def test_a_bm25_index_saved_by_an_older_version_is_rebuilt(assistant):
    from rag.index import PaperIndex

    folder = assistant.index().bm25_dir
    manifest = json.loads((folder / "manifest.json").read_text())
    older = {key: manifest[key] for key in ("fingerprint", "paper_ids", "sources")}  # no version, years or keys
    (folder / "manifest.json").write_text(json.dumps(older))
    index = PaperIndex(assistant.settings, assistant.embedder, "meta", client=assistant.library.client)
    assert index.notices == ["BM25 index of 'meta' was saved by an older version; rebuilt it from Chroma (54 papers)"]
    assert json.loads((folder / "manifest.json").read_text())["version"] == 2
    hits = index.bm25().search(QUESTION, 50, PaperFilter.of(author="Hinton"))
    assert hits and all(int(pid[1:]) % 4 == 0 for pid, _ in hits)
