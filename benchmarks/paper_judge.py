"""The embedded model as a per-paper judge for "which papers" questions (issue 12, direction 4), against the
citation check's word rule.

For every multi-paper question of the eval sets, each of its 6 retrieved papers is shown alone to the model,
fenced as in the answer prompt, with the question and "Is this paper one of the papers the question asks for?
Answer Yes or No."; the score is P(Yes) / (P(Yes) + P(No)) from the next-token logits (one prompt read, no
generation). Picks at several thresholds are scored against the gold papers, by split (choose on ``tune``, read
``heldout``), beside the word rule of the citation check's lists (a paper covering at least ``LIST_RELATIVE`` of
the best paper's IDF-weighted coverage of the question). Records tokens and milliseconds per paper and the load
average: each judgement reads the whole abstract again, which is the cost the prompt cache would remove.

    .venv/bin/python -m benchmarks.paper_judge    # ~20 min on an idle 2-core machine (102 papers)
"""

from __future__ import annotations

import json
import os
import time

import numpy as np
from llama_index.core.base.llms.types import ChatMessage

from benchmarks.common import RESULTS, machine, percentiles, write_json
from rag import Assistant, Settings
from rag.answering.citations import LIST_RELATIVE
from rag.answering.prompt import paper_block, question_part
from rag.models.llm import chatml
from rag.settings import REPO_ROOT

QUESTION_SETS = [REPO_ROOT / "eval" / "questions" / name for name in ("seeds_dev.jsonl", "seeds_fresh.jsonl")]
JUDGE = "Is this paper one of the papers the question asks for? Answer Yes or No."
THRESHOLDS = (0.5, 0.7, 0.8, 0.9)
PAPERS = 6


def judge_prompt(title: str, abstract: str, question: str) -> str:
    """The paper fenced as in the answer prompt, then the question and the judge's line."""
    return chatml([ChatMessage(role="system", content="You judge whether a paper matches a question."),
                   ChatMessage(role="user", content=paper_block(title, abstract) + question_part(question, JUDGE))])


def p_yes(llama, prompt: str, yes: set[int], no: set[int]) -> tuple[float, int, float]:
    """P(Yes) among Yes/No for the reply's first token; the prompt's tokens; milliseconds to read it."""
    tokens = llama.tokenize(prompt.encode(), add_bos=True, special=True)
    started = time.perf_counter()
    llama.reset()
    llama.eval(tokens)
    logits = np.ctypeslib.as_array(llama._ctx.get_logits(), shape=(llama.n_vocab(),)).astype(np.float64)
    elapsed = (time.perf_counter() - started) * 1000
    probs = np.exp(logits - logits.max())
    p_y, p_n = probs[list(yes)].sum(), probs[list(no)].sum()
    return float(p_y / max(p_y + p_n, 1e-12)), len(tokens), elapsed


def scores(rows: list[dict], pick) -> dict:
    found = sum(1 for r in rows if pick(r) and r["gold"])
    picked = sum(1 for r in rows if pick(r))
    gold = sum(1 for r in rows if r["gold"])
    return {"picked": picked, "gold_found": found, "gold": gold,
            "precision": round(found / picked, 3) if picked else None, "recall": round(found / gold, 3)}


def main() -> None:
    questions = [q for path in QUESTION_SETS for q in map(json.loads, path.open()) if q["type"] == "multi"]
    assistant = Assistant(Settings(), progress=False)
    llama = assistant.llm._llama
    bm25 = assistant.index().bm25()
    first = lambda words: {llama.tokenize(w.encode(), add_bos=False)[0] for w in words}  # noqa: E731
    yes, no = first(("Yes", " Yes", "yes")), first(("No", " No", "no"))
    rows = []
    for q in questions:
        papers = assistant.retrieve(q["question"], bm25=bm25, top_k=PAPERS)
        coverages = [p.term_coverage(q["question"], bm25.idf) for p in papers]
        for p, coverage in zip(papers, coverages, strict=True):
            score, tokens, ms = p_yes(llama, judge_prompt(p.title, p.abstract, q["question"]), yes, no)
            rows.append({"id": q["id"], "split": q["split"], "rank": p.rank, "gold": p.paper_id in q["gold_ids"],
                         "p_yes": round(score, 4), "word_rule": coverage >= LIST_RELATIVE * max(coverages),
                         "coverage": round(coverage, 3), "cosine": round(p.dense_similarity or 0, 3),
                         "tokens": tokens, "ms": round(ms, 1), "load_1min": os.getloadavg()[0]})
            print(json.dumps(rows[-1]), flush=True)
    by_split = {}
    for split in ("tune", "heldout"):
        part = [r for r in rows if r["split"] == split]
        by_split[split] = {f"judge p_yes>={t}": scores(part, lambda r, t=t: r["p_yes"] >= t) for t in THRESHOLDS}
        by_split[split]["word rule"] = scores(part, lambda r: r["word_rule"])
        by_split[split]["all retrieved"] = scores(part, lambda r: True)
    write_json(RESULTS / "paper_judge.json", {
        "machine": machine(), "questions": len(questions), "papers_per_question": PAPERS, "judge": JUDGE,
        "by_split": by_split, "ms_per_paper": percentiles([r["ms"] for r in rows]),
        "tokens_per_paper_p50": float(np.median([r["tokens"] for r in rows])), "rows": rows,
    })


if __name__ == "__main__":
    main()
