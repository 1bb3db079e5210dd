"""The benchmark scripts' own logic (their measurements are not tests: see benchmarks/)."""

from __future__ import annotations

import json

from benchmarks.levers import DEV_SET, label, subset


def test_lever_subset_is_every_second_dev_question_and_covers_every_type(tmp_path):
    written = subset(tmp_path / "q.jsonl")
    rows = [json.loads(line) for line in written.read_text().splitlines()]
    everything = [json.loads(line) for line in DEV_SET.read_text().splitlines() if line.strip()]
    assert [r["id"] for r in rows] == [r["id"] for r in everything[::2]]
    assert {r["type"] for r in rows} == {r["type"] for r in everything}


def test_lever_labels_name_model_and_context():
    assert label("default") == "1.5B, context 1000 (default)"
    assert label("context_tokens_250") == "1.5B, context 250"
    assert label("llamacpp_model_qwen2.5-coder-0.5b") == "0.5B, context 1000"
    assert label("llamacpp_model_qwen2.5-coder-0.5b_context_tokens_500") == "0.5B, context 500"
