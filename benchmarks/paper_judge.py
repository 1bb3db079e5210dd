"""The embedded model as a per-paper judge for "which papers" questions (issue 12, direction 4), against the
citation check's word rule: the judge the answer path uses (`rag.answering.judge`, ``RAG_LIST_JUDGE``).

For every question of the question sets that the app judges (its profile lists papers), each of its 6 retrieved
papers is shown alone to the model, fenced as in the answer prompt, with one of two lines: the question asked
of the paper (`judge_line`, the app's: "Is this paper one of the papers that use X? Answer Yes or No.") or the
question followed by "Is this paper one of the papers the question asks for? Answer Yes or No."
(``asks_for``). The score is
P(Yes) / (P(Yes) + P(No)) from the next-token logits (no generation), read through the prompt cache as the app
does. Picks at several thresholds, and within a margin of the question's best paper, are scored against the
gold papers, by split (choose on ``tune``, read ``heldout``), beside the word rule of the citation check's
lists (a paper covering at least ``list_relative`` of the best paper's IDF-weighted coverage of the question).
Records milliseconds per paper cold (its abstract read into the cache) and warm (only the question read), and
the load average.

    .venv/bin/python -m benchmarks.paper_judge [QUESTIONS.jsonl ...]   # default: the dev, fresh and list sets
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import RESULTS, machine, percentiles, write_json
from rag import Assistant, Settings
from rag.answering.judge import ASKS_FOR_LINE, judge_line, judge_prompt
from rag.answering.policy import AnswerPolicy
from rag.answering.profile import profile_question
from rag.answering.prompt import question_part
from rag.models.llm import make_llamacpp
from rag.settings import REPO_ROOT

QUESTION_SETS = [REPO_ROOT / "eval" / "questions" / f"seeds_{name}.jsonl"
                 for name in ("dev", "fresh", "lists_tune", "lists_heldout")]
THRESHOLDS = (0.5, 0.7, 0.8, 0.855, 0.9)
MARGIN_RULES = ((0.84, 0.07), (0.0, 0.07))  # P(Yes) >= max(threshold, the question's best - margin)
PAPERS = 6
LINES = {"judge_line": judge_line, "asks_for": lambda question: question_part(question, ASKS_FOR_LINE)}


def timed(llm, prompt) -> tuple[float, float]:
    """P(Yes) for the prompt and the milliseconds it took."""
    started = time.perf_counter()
    score = llm.yes_probability(prompt.messages, prompt.pieces)
    return score, (time.perf_counter() - started) * 1000


def scores(rows: list[dict], pick) -> dict:
    found = sum(1 for r in rows if pick(r) and r["gold"])
    picked = sum(1 for r in rows if pick(r))
    gold = sum(1 for r in rows if r["gold"])
    return {"picked": picked, "gold_found": found, "gold": gold,
            "precision": round(found / picked, 3) if picked else None, "recall": round(found / gold, 3)}


def main() -> None:
    paths = [Path(arg) for arg in sys.argv[1:]] or QUESTION_SETS
    questions = [q for path in paths for q in map(json.loads, path.open())
                 if profile_question(q["question"]).lists_papers]
    with tempfile.TemporaryDirectory() as cache:  # every paper starts cold
        settings = Settings()
        llm = make_llamacpp(settings.llm, settings.store.models_dir, "benchmark", False, cache_dir=Path(cache))
        assistant = Assistant(settings, llm=llm, progress=False)
        rows = judge_all(assistant, questions)
    by_split = {}
    for split in sorted({r["split"] for r in rows}):
        part = [r for r in rows if r["split"] == split]
        by_split[split] = {}
        for line in LINES:
            by_split[split] |= {f"{line} p_yes>={t}": scores(part, lambda r, t=t, k=line: r[k] >= t)
                                for t in THRESHOLDS}
            best = {q: max(r[line] for r in part if r["id"] == q) for q in {r["id"] for r in part}}
            for t, m in MARGIN_RULES:
                by_split[split][f"{line} p_yes>=max({t}, best-{m})"] = scores(
                    part, lambda r, t=t, m=m, best=best, k=line: r[k] >= max(t, best[r["id"]] - m))
        by_split[split]["word rule"] = scores(part, lambda r: r["word_rule"])
        by_split[split]["all retrieved"] = scores(part, lambda r: True)
    name = "paper_judge.json" if paths == QUESTION_SETS else f"paper_judge_{'_'.join(p.stem for p in paths)}.json"
    write_json(RESULTS / name, {
        "machine": machine(), "question_sets": [p.name for p in paths], "questions": len(questions),
        "papers_per_question": PAPERS, "lines": {"judge_line": judge_line(profile_question("Which papers use X?")),
                                                 "asks_for": ASKS_FOR_LINE}, "by_split": by_split,
        "ms_per_paper_cold": percentiles([r["ms_cold"] for r in rows]),
        "ms_per_paper_warm": percentiles([r["ms_warm"] for r in rows]), "rows": rows,
    })


def judge_all(assistant: Assistant, questions: list[dict]) -> list[dict]:
    """One row per retrieved paper of each question: P(Yes) with each line (the app's read cold, then warm), the
    word rule, gold."""
    llm, bm25, rows = assistant.llm, assistant.index().bm25(), []
    for q in questions:
        papers = assistant.retrieve(q["question"], bm25=bm25, top_k=PAPERS)
        coverages = [p.term_coverage(q["question"], bm25.idf) for p in papers]
        for p, coverage in zip(papers, coverages, strict=True):
            prompt = judge_prompt(q["question"], p.title, p.abstract)
            score, cold = timed(llm, prompt)
            again, warm = timed(llm, prompt)
            asks_for, _ = timed(llm, judge_prompt(q["question"], p.title, p.abstract, LINES["asks_for"](q["question"])))
            rows.append({"id": q["id"], "split": q["split"], "rank": p.rank, "gold": p.paper_id in q["gold_ids"],
                         "judge_line": round(score, 4), "judge_line_warm": round(again, 4),
                         "asks_for": round(asks_for, 4),
                         "word_rule": coverage >= AnswerPolicy.list_relative * max(coverages),
                         "coverage": round(coverage, 3),
                         "cosine": round(p.dense_similarity or 0, 3), "ms_cold": round(cold, 1),
                         "ms_warm": round(warm, 1), "load_1min": os.getloadavg()[0]})
            print(json.dumps(rows[-1]), flush=True)
    return rows


if __name__ == "__main__":
    main()
