"""The synthetic scale-test corpus is deterministic, nested, realistic in length and has unique titles."""

from __future__ import annotations

import json

from rag.corpus import load_corpus
from rag.text import split_sentences
from tests.support.synthetic import method_name, pools, synthetic_records, write_jsonl


def test_same_seed_same_papers_and_prefixes_nest():
    first = list(synthetic_records(50, seed=3))
    assert first == list(synthetic_records(50, seed=3))
    assert first[:20] == list(synthetic_records(20, seed=3))  # paper i depends only on (seed, i)
    assert first[20:30] == list(synthetic_records(10, seed=3, start=20))
    assert first != list(synthetic_records(50, seed=4))


def test_titles_and_ids_unique_and_abstracts_made_of_seed_sentences():
    records = list(synthetic_records(2000))
    assert len({r["id"] for r in records}) == len({r["title"] for r in records}) == 2000
    assert len({method_name(i) for i in range(0, 10**8, 9973)}) == len(range(0, 10**8, 9973))
    material = pools()
    seed_sentences = set(material.openings) | set(material.middles) | set(material.closings)
    for record in records[:50]:
        sentences = split_sentences(record["abstract"])
        assert sentences[0] in material.openings or sentences[0] in seed_sentences
        assert 2 <= len(sentences) <= 25
    lengths = sorted(len(r["abstract"]) for r in records)
    assert 900 < lengths[len(lengths) // 2] < 1900  # seeds: median ~1,400 characters


def test_written_file_loads_as_a_corpus(tmp_path):
    path = write_jsonl(tmp_path / "syn.jsonl", 30, seed=1)
    assert [json.loads(line) for line in path.read_text().splitlines()] == list(synthetic_records(30, seed=1))
    corpus = load_corpus([path])
    assert (len(corpus.papers), corpus.bad) == (30, [])
