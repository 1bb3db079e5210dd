"""Evaluation metrics: retrieval ranks, answers and citations, abstention, latency. Pure functions.

Relevance is binary: a retrieved or cited paper is relevant when it is one of the question's gold
papers. Rankings may contain repeats (counted once, at their first position) and ties: papers
with equal scores share the worst rank of their tie group, so an arbitrary tie order never
inflates a metric.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence

from rag import GRADES, marker_numbers

RETRIEVAL_KEYS = ("hit@1", "hit@5", "recall@10", "mrr@10", "ndcg@10")
ANSWER_KEYS = (
    "must_mention",
    "citation_validity",
    "citation_precision",
    "citation_recall",
    "abstention_accuracy",
    "false_abstention_rate",
    "evidence_rate",
    "partial_rate",
    "verdict_given",
    "verdict_accuracy",
)
YES_OR_NO = re.compile(r"^\W*(yes|no)\b", re.IGNORECASE)
LATENCY_KEYS = (
    "retrieval_ms_p50",
    "retrieval_ms_p95",
    "first_token_ms_p50",
    "first_token_ms_p95",
    "total_ms_p50",
    "total_ms_p95",
    "checking_ms_p50",
    "checking_ms_p95",
    "tokens_per_s",
    "prompt_tokens_p50",
    "prompt_tokens_read_p50",
    "load_1min",
)


def effective_ranks(ranking: Sequence[str], scores: Sequence[float] | None = None) -> dict[str, int]:
    """1-based rank of each distinct id; with ``scores``, tied papers share their group's worst rank."""
    first: dict[str, int] = {}
    for position, item in enumerate(ranking):
        first.setdefault(item, position)
    ranks = {item: i + 1 for i, item in enumerate(first)}
    if scores is None:
        return ranks
    score_of = {item: scores[position] for item, position in first.items()}
    for item in ranks:
        ranks[item] = sum(1 for other in ranks if score_of[other] >= score_of[item])
    return ranks


def retrieval_metrics(ranking: Sequence[str], gold: set[str], scores: Sequence[float] | None = None) -> dict:
    """hit@1, hit@5, recall@10, mrr@10 and ndcg@10 of one ranking; empty when there is no gold."""
    if not gold:
        return {}
    ranks = effective_ranks(ranking, scores)
    gold_ranks = sorted(ranks[g] for g in gold if g in ranks)
    best = gold_ranks[0] if gold_ranks else math.inf
    dcg = sum(1 / math.log2(r + 1) for r in gold_ranks if r <= 10)
    ideal = sum(1 / math.log2(r + 1) for r in range(1, min(len(gold), 10) + 1))
    return {
        "hit@1": float(best <= 1),
        "hit@5": float(best <= 5),
        "recall@10": sum(1 for r in gold_ranks if r <= 10) / len(gold),
        "mrr@10": 1 / best if best <= 10 else 0.0,
        "ndcg@10": dcg / ideal,
    }


def must_mention(answer: str, terms: Sequence[str]) -> float | None:
    """Fraction of the required terms present in the answer (case-insensitive); None if none required."""
    if not terms:
        return None
    text = answer.casefold()
    return sum(1 for term in terms if term.casefold() in text) / len(terms)


def citation_validity(raw_reply: str, source_count: int) -> float | None:
    """Fraction of the model's own markers that name a provided source (1..source_count)."""
    numbers = marker_numbers(raw_reply)
    if not numbers:
        return None
    return sum(1 for n in numbers if 1 <= n <= source_count) / len(numbers)


def citation_precision(cited: Iterable[str], gold: set[str]) -> float | None:
    """Fraction of the distinct cited papers that are gold; None when nothing is cited or no gold."""
    distinct = set(cited)
    if not distinct or not gold:
        return None
    return len(distinct & gold) / len(distinct)


def citation_recall(cited: Iterable[str], gold: set[str]) -> float | None:
    """Fraction of the gold papers that are cited; None without gold."""
    if not gold:
        return None
    return len(set(cited) & gold) / len(gold)


def row_grade(row: dict) -> str:
    """A results row's grade (rows written before grades existed: answered or not-found)."""
    return row.get("grade") or ("not-found" if row.get("abstained") else "answered")


def gives_answer(row: dict) -> bool:
    """Whether an answerable question got an answer: answered or partly answered, or quoted evidence that holds
    every must_mention fact."""
    grade = row_grade(row)
    return grade in ("answered", "partial") or (grade == "evidence" and row["metrics"].get("must_mention") == 1.0)


def stance(row: dict) -> str | None:
    """The verdict a yes/no answer gives: its ``verdict``, else read from a reply opening with Yes or No."""
    if row.get("verdict"):
        return row["verdict"]["stance"]
    match = YES_OR_NO.match(row.get("answer") or "") if not row.get("abstained") else None
    return None if match is None else {"yes": "supports", "no": "contradicts"}[match.group(1).casefold()]


def verdict_metrics(rows: Sequence[dict]) -> dict:
    """For yes/no questions with a gold verdict: the share given a verdict, its accuracy where given, and how many
    contradicted claims were affirmed."""
    judged = [row for row in rows if row.get("gold_verdict")]
    given = [row for row in judged if stance(row) in ("supports", "contradicts")]
    return {
        "verdict_given": len(given) / len(judged) if judged else None,
        "verdict_accuracy": mean(float(stance(row) == row["gold_verdict"]) for row in given),
        "affirmed_contradicted": sum(1 for row in given if row["gold_verdict"] == "contradicts"
                                     and stance(row) == "supports") if judged else None,
    }


def rule_counts(rows: Sequence[dict]) -> dict:
    """How often each rule removed a claim (``drop``), re-cited or attached one, and set the answer's grade."""
    counts: Counter[str] = Counter()
    for row in rows:
        for hit in row.get("trail", []):
            counts[f"{hit['action']}: {hit['rule']}"] += 1
    return dict(sorted(counts.items()))


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100) by linear interpolation; None for no values."""
    data = sorted(v for v in values if v is not None)
    if not data:
        return None
    position = (len(data) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return data[low] + (data[high] - data[low]) * (position - low)


def mean(values: Iterable[float | None]) -> float | None:
    data = [v for v in values if v is not None]
    return sum(data) / len(data) if data else None


def aggregate(rows: Sequence[dict]) -> dict:
    """The metrics.json block for a set of per-question results (see `eval.runner` for their shape).
    Questions that failed (an ``error`` row, e.g. an LLM timeout) are counted, not scored."""
    metrics: dict = {"questions": len(rows), "errors": sum(1 for row in rows if "error" in row)}
    rows = [row for row in rows if "error" not in row]
    for key in (*RETRIEVAL_KEYS, "must_mention", "citation_validity", "citation_precision", "citation_recall"):
        metrics[key] = mean(row["metrics"].get(key) for row in rows)
    answered = [row for row in rows if "abstained" in row]
    unanswerable = [row for row in answered if not row["gold"]]
    answerable = [row for row in answered if row["gold"]]
    metrics["abstention_accuracy"] = mean(float(row_grade(row) == "not-found") for row in unanswerable)
    metrics["false_abstention_rate"] = mean(float(not gives_answer(row)) for row in answerable)
    metrics["evidence_rate"] = mean(float(row_grade(row) == "evidence") for row in answerable)
    metrics["partial_rate"] = mean(float(row_grade(row) == "partial") for row in answerable)
    metrics.update(verdict_metrics(answered))
    metrics["grades"] = {grade: sum(1 for row in answered if row_grade(row) == grade) for grade in GRADES}
    metrics["rules"] = rule_counts(answered)
    timings = [row["timings"] for row in rows]
    for name in ("retrieval_ms", "first_token_ms", "total_ms", "checking_ms"):
        values = [t.get(name) for t in timings if t.get(name) is not None]
        metrics[f"{name}_p50"] = percentile(values, 50)
        metrics[f"{name}_p95"] = percentile(values, 95)
    metrics["tokens_per_s"] = mean(t.get("tokens_per_s") for t in timings)
    for name in ("prompt_tokens", "prompt_tokens_read"):
        metrics[f"{name}_p50"] = percentile([t[name] for t in timings if t.get(name) is not None], 50)
    metrics["load_1min"] = mean(t.get("load_1min") for t in timings)  # the machine's load while answering
    return {key: round(value, 4) if isinstance(value, float) else value for key, value in metrics.items()}


def aggregate_by_type(rows: Sequence[dict]) -> dict:
    """``{"overall": ..., "by_type": {type: ...}}``."""
    types = sorted({row["type"] for row in rows})
    return {
        "overall": aggregate(rows),
        "by_type": {t: aggregate([row for row in rows if row["type"] == t]) for t in types},
    }
