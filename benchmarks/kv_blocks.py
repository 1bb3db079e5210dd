"""Per-paper prompt state (issue 13, lever 1): what saving each paper's KV block once buys and costs.

For each KV type (f16; q8_0, which needs flash attention; q8_0-k, K only, no flash attention) on the model,
over random 6-paper sets of seed abstracts (whole abstracts) with a short question about one of them, in the
prompt layout the engine is built for (rules, then ``[n]`` read live before each cached ``<paper>`` block, then
the live question and instructions):

* bytes per paper and per token; time to read one block; the projected time to warm all 487 seed papers;
* time to the first token: ``cold`` (no block cached: each is read and saved first), ``warm_disk`` (blocks on
  disk only), ``warm_ram`` (blocks also in RAM), ``direct`` (the same text read without the cache), and two
  layouts the integrator may choose: ``markers_cached`` (the ``[n]`` lines cached too) and
  ``instructions_cached`` (the fixed instructions after the question cached too);
* the stitching steps of the warm runs (fetch, restore, shift, copy, live decodes, the K-shift that llama.cpp
  runs before the first decode, the tail), and the cost of the K-shift measured on its own;
* how close the answers are: greedy answers (48 tokens) of each cached variant against the direct read, the
  next-token logits (KL, max |diff|) on a few sets, false abstentions (every question names a paper of its
  set) and, on a few sets, abstentions when the question names a paper that is not in the set.

Each measurement records ``os.getloadavg()``: the machine is shared, read the times as upper bounds.

    .venv/bin/python -m benchmarks.kv_blocks                    # ~50 min on an idle 2-core machine
    .venv/bin/python -m benchmarks.kv_blocks --sets 3 --kv f16  # ~8 min
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import RESULTS, machine, package_versions, percentiles, write_json
from rag.settings import REPO_ROOT, Settings
from tests.support.logits import kl

OUT = RESULTS / "kv_blocks.json"
LAYOUT = "bench-1"
ANSWER_TOKENS = 48
SET_POOL = 10
STOP = ["<|im_end|>", "<|endoftext|>"]


def prompt_parts(papers: list, question: str) -> dict[str, Any]:
    """The assistant's prompt (rules, fenced papers, question, instructions) cut into the engine's pieces."""
    from rag.answering.prompt import INSTRUCTIONS, SYSTEM, defuse

    prefix = f"<|im_start|>system\n{SYSTEM}<|im_end|>\n<|im_start|>user\nPaper abstracts:\n\n"
    blocks = [f"<paper>\n{defuse(p.title)}\n{defuse(p.abstract)}\n</paper>\n\n" for p in papers]
    markers = [f"[{n}]\n" for n in range(1, len(papers) + 1)]
    question_text = f"Question: {question}\n\n"
    instructions = INSTRUCTIONS
    opener = "<|im_end|>\n<|im_start|>assistant\n"
    return {"prefix": prefix, "blocks": blocks, "markers": markers, "question": question_text,
            "instructions": instructions, "opener": opener}


def layouts(parts: dict[str, Any]) -> dict[str, list]:
    """The same text as lists of pieces: which of them are cached differs."""
    from rag.models.kvcache import Piece

    def build(blocks: bool, markers: bool, instructions: bool) -> list[Piece]:
        pieces = []
        for marker, block in zip(parts["markers"], parts["blocks"], strict=True):
            pieces += [Piece(marker, markers), Piece(block, blocks)]
        return [*pieces, Piece(parts["question"]), Piece(parts["instructions"], instructions), Piece(parts["opener"])]

    return {"cached": build(True, False, False), "direct": build(False, False, False),
            "markers_cached": build(True, True, False), "instructions_cached": build(True, False, True)}


def run(engine, prefix: str, pieces: list) -> dict[str, Any]:
    load = os.getloadavg()[0]
    text = "".join(engine.stream(prefix, pieces, max_tokens=ANSWER_TOKENS, stop=STOP))
    report = engine.report
    return {"first_token_ms": round(report.timings_ms["first_token"], 1), "load_average": round(load, 2),
            "text": text, "prompt_tokens": report.prompt_tokens, "live_tokens": report.live_tokens,
            "blocks_read": report.blocks_read, "decodes": report.decodes, "tokens_match": report.tokens_match,
            "timings_ms": {k: round(v, 2) for k, v in report.timings_ms.items()}}



def same_prefix_chars(a: str, b: str) -> int:
    return next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))


def kshift_cost(engine, parts: dict[str, Any], repeats: int = 5) -> dict[str, Any]:
    """The first live decode after shifting restored blocks (llama.cpp applies the K-shift to the whole cache
    first) against the same decode with no shift pending (blocks restored where they were read)."""
    from rag.models.kvcache import Piece

    shifted, unshifted = [], []
    block, one, two = parts["blocks"][0], Piece("[1]\n"), Piece("[2]\n")
    for _ in range(repeats):
        engine.prompt_logits(parts["prefix"], [one, Piece(block, True), two])  # block moved 3 places
        shifted.append(engine.report.timings_ms["first_live_decode"])
        engine.prompt_logits(parts["prefix"], [Piece(block, True), one, two], separate=True)  # block in place
        unshifted.append(engine.report.timings_ms["first_live_decode"])
    return {"first_decode_with_kshift": percentiles(shifted), "first_decode_without_kshift": percentiles(unshifted),
            "kshift_ms_estimate": round(statistics.median(shifted) - statistics.median(unshifted), 1),
            "n_ctx": engine.n_ctx, "load_average": round(os.getloadavg()[0], 2)}


def measure_kv(llm, model, kv_type: str, sets: list, papers_all: list, folder: Path, n_ctx: int,
               logit_sets: int, warm_blocks: int, unanswerable_sets: int) -> dict[str, Any]:
    from rag.models.kvcache import BlockCache, BlockEngine, Piece

    cache = BlockCache(folder / kv_type, max_bytes=64 << 30, memory_bytes=512 << 20)
    engine = BlockEngine(llm, cache, model_sha256=model.sha256, layout=LAYOUT, n_ctx=n_ctx, kv_type=kv_type)
    result: dict[str, Any] = {"kv_format": engine.kv_format, "n_ctx": engine.n_ctx, "sets": []}
    try:
        first = prompt_parts(sets[0][0], sets[0][1])
        engine.prompt_logits(first["prefix"], [Piece(".")])
        result["prefix"] = {"tokens": engine.report.prefix_tokens,
                            "read_ms": round(engine.report.timings_ms.get("prefix_read", 0.0), 1),
                            "load_average": round(os.getloadavg()[0], 2)}
        # the fixed pieces of the two alternative layouts, so that no set pays for reading them
        engine.warm(first["prefix"], [*first["markers"], first["instructions"]])

        # warming: blocks of papers that are in no set, one at a time
        in_sets = {id(p) for papers, _ in sets for p in papers}
        spare = [p for p in papers_all if id(p) not in in_sets][:warm_blocks]
        spare_blocks = prompt_parts(spare, "")["blocks"]
        per_block = []
        for block in spare_blocks:
            load = os.getloadavg()[0]
            t0 = time.perf_counter()
            engine.warm(first["prefix"], [block])
            per_block.append({"ms": round((time.perf_counter() - t0) * 1000, 1),
                              "tokens": len(engine.tokenize(block)), "load_average": round(load, 2)})
        ms_per_token = sum(b["ms"] for b in per_block) / sum(b["tokens"] for b in per_block)
        all_blocks = prompt_parts(papers_all, "")["blocks"]
        all_tokens = sum(len(engine.tokenize(b)) for b in all_blocks)
        result["warm"] = {
            "blocks": per_block, "ms_per_block": percentiles([b["ms"] for b in per_block]),
            "ms_per_token": round(ms_per_token, 2),
            "seed_papers": len(all_blocks), "seed_tokens": all_tokens,
            "seed_tokens_per_paper_mean": round(all_tokens / len(all_blocks), 1),
            "all_seeds_estimate_min": round(ms_per_token * all_tokens / 60000, 1),
        }

        for index, (papers, question) in enumerate(sets):
            parts = prompt_parts(papers, question)
            variants = layouts(parts)
            row: dict[str, Any] = {"question": question, "papers": [p.title for p in papers]}
            row["cold"] = run(engine, parts["prefix"], variants["cached"])
            cache.clear_memory()
            row["warm_disk"] = run(engine, parts["prefix"], variants["cached"])
            row["warm_ram"] = run(engine, parts["prefix"], variants["cached"])
            row["markers_cached"] = run(engine, parts["prefix"], variants["markers_cached"])
            row["instructions_cached"] = run(engine, parts["prefix"], variants["instructions_cached"])
            row["direct"] = run(engine, parts["prefix"], variants["direct"])
            row["block_bytes"] = [len(cache.get(engine.block_key(parts["prefix"], b)).payload)
                                  for b in parts["blocks"]]
            row["block_tokens"] = [len(engine.tokenize(b)) for b in parts["blocks"]]
            if index < unanswerable_sets:  # a question about a paper of the next set: the answer is to abstain
                other = sets[(index + 1) % len(sets)][0][0].title
                parts_u = prompt_parts(papers, f'What problem does "{other}" address?')
                variants_u = layouts(parts_u)
                row["unanswerable"] = {"question": f'What problem does "{other}" address?',
                                       "cached": run(engine, parts_u["prefix"], variants_u["cached"]),
                                       "direct": run(engine, parts_u["prefix"], variants_u["direct"])}
            if index < logit_sets:
                direct = engine.prompt_logits(parts["prefix"], variants["direct"])
                row["logits"] = {}
                for name in ("cached", "markers_cached", "instructions_cached"):
                    stitched = engine.prompt_logits(parts["prefix"], variants[name])
                    row["logits"][name] = {
                        "kl": round(kl(direct, stitched), 5), "same_argmax": bool(direct.argmax() == stitched.argmax()),
                        "max_abs_diff": round(float(np.abs(direct - stitched).max()), 4),
                        "logit_spread": round(float(direct.max() - direct.min()), 3)}
            result["sets"].append(row)
            print(f"{kv_type} set {index + 1}/{len(sets)}: cold {row['cold']['first_token_ms']:.0f} ms, warm "
                  f"{row['warm_ram']['first_token_ms']:.0f} ms, direct {row['direct']['first_token_ms']:.0f} ms, "
                  f"load {row['direct']['load_average']}", flush=True)
        result["kshift"] = kshift_cost(engine, prompt_parts(sets[0][0], sets[0][1]))
        result["cache"] = vars(cache.stats())
    finally:
        engine.close()
    summarize(result)
    return result


def summarize(result: dict[str, Any]) -> None:
    sets = result["sets"]
    names = ("cold", "warm_disk", "warm_ram", "markers_cached", "instructions_cached", "direct")
    result["first_token"] = {name: percentiles([s[name]["first_token_ms"] for s in sets]) for name in names}
    result["load_average"] = {"min": min(s[n]["load_average"] for s in sets for n in names),
                              "max": max(s[n]["load_average"] for s in sets for n in names)}
    sizes = [b for s in sets for b in s["block_bytes"]]
    tokens = [t for s in sets for t in s["block_tokens"]]
    result["bytes_per_paper"] = {"mean": round(statistics.mean(sizes)), "min": min(sizes), "max": max(sizes),
                                 "per_token": round(sum(sizes) / sum(tokens), 1),
                                 "tokens_mean": round(statistics.mean(tokens), 1)}
    steps = sorted({k for s in sets for k in s["warm_ram"]["timings_ms"]})
    result["stitch_ms"] = {}
    for variant in ("warm_ram", "warm_disk"):
        result["stitch_ms"][variant] = {
            step: round(statistics.median(s[variant]["timings_ms"].get(step, 0.0) for s in sets), 2)
            for step in steps}
    result["restore_ms_per_paper"] = round(statistics.median(
        s["warm_ram"]["timings_ms"]["restore"] / len(s["block_bytes"]) for s in sets), 2)
    cold = [s for s in sets if s["cold"]["blocks_read"]]
    result["block_read_ms_cold"] = percentiles([s["cold"]["timings_ms"]["block_read"] / s["cold"]["blocks_read"]
                                                for s in cold])
    # the same estimate as result["warm"], from the blocks the cold questions read (more of them, other loads)
    ms_per_token = (sum(s["cold"]["timings_ms"]["block_read"] for s in cold)
                    / sum(sum(s["block_tokens"]) for s in cold))
    result["all_seeds_estimate_from_cold_reads_min"] = round(ms_per_token * result["warm"]["seed_tokens"] / 60000, 1)
    result["answers"] = {}
    for name in ("cold", "warm_ram", "markers_cached", "instructions_cached"):
        pairs = [(s[name]["text"], s["direct"]["text"]) for s in sets]
        result["answers"][name] = {
            "identical_to_direct": sum(a == b for a, b in pairs), "of": len(pairs),
            "shared_prefix_chars_median": statistics.median(same_prefix_chars(a, b) for a, b in pairs)}
    logit_rows = [s["logits"] for s in sets if "logits" in s]
    if logit_rows:
        result["logits"] = {name: {"kl": [r[name]["kl"] for r in logit_rows],
                                   "same_argmax": sum(r[name]["same_argmax"] for r in logit_rows),
                                   "of": len(logit_rows)} for name in logit_rows[0]}
    result["tokens_match"] = all(s[n]["tokens_match"] for s in sets for n in names)


def measure_abstention(llm, model, kv_type: str, sets: list, folder: Path, n_ctx: int,
                       save: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """Only the answers (no timings): each set's question, and one naming a paper of the next set instead, each
    read stitched and directly. Runs beside other work (``nice``): quality does not depend on the load."""
    from rag.models.kvcache import BlockCache, BlockEngine

    cache = BlockCache(folder / kv_type, max_bytes=64 << 30, memory_bytes=512 << 20)
    engine = BlockEngine(llm, cache, model_sha256=model.sha256, layout=LAYOUT, n_ctx=n_ctx, kv_type=kv_type)
    rows = []
    try:
        for index, (papers, question) in enumerate(sets):
            other = sets[(index + 1) % len(sets)][0][0].title
            row: dict[str, Any] = {}
            for kind, asked in (("answerable", question), ("unanswerable", f'What problem does "{other}" address?')):
                variants = layouts(prompt_parts(papers, asked))
                prefix = prompt_parts(papers, asked)["prefix"]
                row[kind] = {"question": asked, "cached": run(engine, prefix, variants["cached"])["text"],
                             "direct": run(engine, prefix, variants["direct"])["text"]}
            rows.append(row)
            save(abstention_summary(rows))
            print(f"{kv_type} abstention set {index + 1}/{len(sets)}", flush=True)
    finally:
        engine.close()
    return abstention_summary(rows)


def abstention_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    counts = {kind: {name: sum(abstains(r[kind][name]) for r in rows) for name in ("cached", "direct")}
              for kind in ("answerable", "unanswerable")}
    return {"sets": rows, "abstained": counts, "of": len(rows)}


def abstains(text: str) -> bool:
    return "not answer" in text


def compare(data: dict[str, Any]) -> None:
    """Across variants and KV types: false abstentions (every question names a paper of its set) and how often
    a quantized KV cache gives the f16 answer, read directly and stitched, on the sets both ran."""
    for result in data["kv"].values():
        sets = result["sets"]
        result["abstained"] = {name: sum(abstains(s[name]["text"]) for s in sets) for name in
                               ("direct", "cold", "warm_ram", "markers_cached", "instructions_cached")}
        result["abstained"]["of"] = len(sets)
        unanswerable = [s["unanswerable"] for s in sets if "unanswerable" in s]
        if unanswerable:
            result["abstained_when_unanswerable"] = {
                name: sum(abstains(u[name]["text"]) for u in unanswerable) for name in ("direct", "cached")}
            result["abstained_when_unanswerable"]["of"] = len(unanswerable)
    base = data["kv"].get("f16")
    if base is None:
        return
    for kv_type, result in data["kv"].items():
        if kv_type == "f16":
            continue
        pairs = list(zip(base["sets"], result["sets"], strict=False))
        result["same_answer_as_f16"] = {
            name: sum(a[name]["text"] == b[name]["text"] for a, b in pairs) for name in ("direct", "warm_ram")}
        result["same_answer_as_f16"]["of"] = len(pairs)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="qwen2.5-coder-1.5b")
    parser.add_argument("--kv", nargs="+", default=["f16", "q8_0", "q8_0-k"])
    parser.add_argument("--sets", type=int, default=10)
    parser.add_argument("--papers", type=int, default=6)
    parser.add_argument("--logit-sets", type=int, default=3)
    parser.add_argument("--warm-blocks", type=int, default=8)
    parser.add_argument("--unanswerable-sets", type=int, default=4)
    parser.add_argument("--abstention-only", action="store_true",
                        help="only the answers to answerable and unanswerable questions, into kv[TYPE]['abstention']")
    parser.add_argument("--n-ctx", type=int, default=4096)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--cache-dir", type=Path, default=None, help="where the blocks go (default: a temp dir)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)

    from llama_cpp import Llama

    from rag.corpus import load_corpus
    from rag.models.gguf import MODELS, assemble

    model = MODELS[args.model]
    llm = Llama(model_path=str(assemble(model, Settings().store.models_dir, progress=False)), n_ctx=256,
                n_threads=args.threads, verbose=False)
    papers = load_corpus([REPO_ROOT / "seeds"]).papers
    rng = random.Random(args.seed)
    chosen = rng.sample(papers, max(args.sets, SET_POOL) * args.papers)  # fewer sets: the same first ones
    sets = []
    for i in range(max(args.sets, SET_POOL)):
        group = chosen[i * args.papers : (i + 1) * args.papers]
        sets.append((group, f'What problem does "{rng.choice(group).title}" address?'))
    sets = sets[: args.sets]
    data: dict[str, Any] = {
        "machine": machine(), "versions": package_versions("llama_cpp_python"), "model": args.model,
        "threads": args.threads, "papers_per_set": args.papers, "answer_tokens": ANSWER_TOKENS, "kv": {}}
    if args.out.exists():  # keep the other KV types' results of an earlier run on the same model
        earlier = json.loads(args.out.read_text())
        if earlier.get("model") == args.model:
            data["kv"] = {k: v for k, v in earlier.get("kv", {}).items() if k not in args.kv}
    with tempfile.TemporaryDirectory(prefix="kv-blocks-") as temp:
        folder = args.cache_dir or Path(temp)
        for kv_type in args.kv:
            if args.abstention_only:
                if args.out.exists():
                    data = json.loads(args.out.read_text())

                def save(summary: dict[str, Any], kv_type: str = kv_type, data: dict[str, Any] = data) -> None:
                    data["kv"].setdefault(kv_type, {})["abstention"] = summary
                    write_json(args.out, data)

                save(measure_abstention(llm, model, kv_type, sets, folder, args.n_ctx, save))
                continue
            data["kv"][kv_type] = measure_kv(llm, model, kv_type, sets, papers, folder, args.n_ctx,
                                             args.logit_sets, args.warm_blocks, args.unanswerable_sets)
            compare(data)
            write_json(args.out, data)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
