"""Evaluation metrics on hand-computed cases: ranks, ties, empty gold, duplicate citations, aggregation."""

from __future__ import annotations

import math

import pytest

from eval.metrics import (
    aggregate,
    citation_precision,
    citation_recall,
    citation_validity,
    effective_ranks,
    must_mention,
    percentile,
    retrieval_metrics,
)


def test_single_gold_at_rank_three():
    m = retrieval_metrics(["a", "b", "g", "c"], {"g"})
    assert m["hit@1"] == 0.0 and m["hit@5"] == 1.0
    assert m["recall@10"] == 1.0
    assert m["mrr@10"] == pytest.approx(1 / 3)
    assert m["ndcg@10"] == pytest.approx(1 / math.log2(4))


def test_two_gold_one_found():
    m = retrieval_metrics(["g1", "x", "y"], {"g1", "g2"})
    assert m["hit@1"] == 1.0 and m["recall@10"] == 0.5 and m["mrr@10"] == 1.0
    assert m["ndcg@10"] == pytest.approx(1 / (1 + 1 / math.log2(3)))


def test_gold_beyond_ten_counts_as_missed():
    ranking = [f"x{i}" for i in range(10)] + ["g"]
    m = retrieval_metrics(ranking, {"g"})
    assert m == {"hit@1": 0.0, "hit@5": 0.0, "recall@10": 0.0, "mrr@10": 0.0, "ndcg@10": 0.0}


def test_ties_take_the_worst_rank_of_their_group():
    # gold tied with two others at the top: it is not credited rank 1
    assert effective_ranks(["x", "g", "y", "z"], [0.9, 0.9, 0.9, 0.5]) == {"x": 3, "g": 3, "y": 3, "z": 4}
    m = retrieval_metrics(["x", "g", "y"], {"g"}, [0.9, 0.9, 0.9])
    assert m["hit@1"] == 0.0 and m["mrr@10"] == pytest.approx(1 / 3)


def test_repeated_ids_count_once_at_their_first_position():
    assert effective_ranks(["a", "a", "g"]) == {"a": 1, "g": 2}
    assert retrieval_metrics(["a", "a", "g"], {"g"})["mrr@10"] == 0.5


def test_empty_gold_has_no_retrieval_metrics():
    assert retrieval_metrics(["a", "b"], set()) == {}


def test_must_mention_is_case_insensitive_fraction():
    assert must_mention("Phi-1.5 has 1.3 billion parameters", ["phi-1.5", "1.3", "textbook"]) == pytest.approx(2 / 3)
    assert must_mention("anything", []) is None


def test_citation_validity_counts_raw_markers_in_range():
    assert citation_validity("A [1]. B [2, 7]. C [0].", source_count=6) == pytest.approx(2 / 4)
    assert citation_validity("no markers", source_count=6) is None


def test_duplicate_citations_count_once():
    assert citation_precision(["g", "g", "x"], {"g"}) == 0.5
    assert citation_recall(["g", "g"], {"g", "h"}) == 0.5
    assert citation_precision([], {"g"}) is None
    assert citation_recall(["x"], set()) is None


def test_percentile_interpolates():
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([10], 95) == 10
    assert percentile([], 50) is None


def test_aggregate_abstention_metrics():
    def row(gold, abstained, **metrics):
        return {"type": "t", "gold": gold, "abstained": abstained, "metrics": metrics,
                "timings": {"retrieval_ms": 10.0, "total_ms": 1000.0}}

    rows = [row([], True), row([], False), row(["g"], True, must_mention=0.0), row(["g"], False, must_mention=1.0)]
    m = aggregate(rows)
    assert m["abstention_accuracy"] == 0.5
    assert m["false_abstention_rate"] == 0.5
    assert m["must_mention"] == 0.5
    assert m["retrieval_ms_p50"] == 10.0 and m["first_token_ms_p50"] is None
