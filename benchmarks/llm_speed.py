"""Embedded LLM speed on real prompts: prompt reading and generation rates, and prompt-prefix reuse.

The prompts are what the assistant sends for dev-set questions over the seeds (retrieval, the
``RAG_CONTEXT_TOKENS`` budget, the chat template), read by llama.cpp directly so nothing else is
timed. Two measurements, for each embedded model:

* ``grid``: every combination of llama.cpp threads and ``n_batch`` on a cold cache: time to the
  first token, prompt tokens per second, generated tokens per second (48 tokens).
* ``prefix``: what llama.cpp's prompt-prefix cache saves. A question on a cold cache, the same
  prompt again (a re-ask), a follow-up whose sources are the same (only the question and the
  instructions differ), and another question (only the system rules are shared).
* ``--attention`` (to ``llm_attention.json``): flash attention on and off, ``n_ubatch`` 128 and 512, for
  the default model and threads, with the greedy replies' text, so a faster setting is seen to answer the same.
* ``--build LABEL`` (to ``llm_build.json``): the default model and settings with the llama.cpp build this Python
  imports (its CPU features recorded), three prompts twice each, with the greedy replies; run once per build to
  compare them (the portable one through ``PYTHONPATH`` pointing at a folder holding its ``llama_cpp`` package).

Needs the seeds ingested in ``RAG_DATA_DIR`` (``rag ingest seeds`` or any ``rag`` command does it).

    .venv/bin/python -m benchmarks.llm_speed     # ~10 min on an idle 2-core machine
    .venv/bin/python -m benchmarks.llm_speed --attention     # ~5 min
    .venv/bin/python -m benchmarks.llm_speed --build native  # ~2 min; then --build portable with the other build
"""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import Any

import numpy as np

from benchmarks.common import RESULTS, machine, package_versions, write_json
from rag.settings import REPO_ROOT, Settings

OUT = RESULTS / "llm_speed.json"
ATTENTION_OUT = RESULTS / "llm_attention.json"
BUILD_OUT = RESULTS / "llm_build.json"
PLOT = RESULTS / "llm_speed.png"
MODELS = ("qwen2.5-coder-1.5b", "qwen2.5-coder-0.5b")
GRID_THREADS = (1, 2)
GRID_BATCH = (64, 256, 512)
GENERATE = 48
GRID_QUESTIONS = ("dev-004", "dev-021")  # from eval/questions/seeds_dev.jsonl
OTHER = "dev-030"  # the prefix test: a question after dev-004 that shares only the system rules
FOLLOW_UP = "How does it compare with other compression methods?"  # asked after dev-004, same sources


def dev_question(question_id: str) -> str:
    from eval.questions import load_questions

    return next(q.question for q in load_questions(REPO_ROOT / "eval" / "questions" / "seeds_dev.jsonl")
                if q.id == question_id)


def prompts(settings: Settings) -> dict[str, str]:
    """The chat-template text the assistant would send for each question id, and for ``follow-up``
    (`FOLLOW_UP` over dev-004's sources). Both models share Qwen2.5's tokenizer."""
    from rag.answering.answer import Source
    from rag.answering.profile import profile_question
    from rag.answering.prompt import fit_prompt
    from rag.assistant import Assistant
    from rag.models.llm import chatml

    assistant = Assistant(settings.replace(prompt_cache="off"), progress=False)
    texts = {}
    for question_id in (*GRID_QUESTIONS, OTHER):
        question = dev_question(question_id)
        sources = [Source.of(p) for p in assistant.retrieve(question)]
        fitted = fit_prompt(profile_question(question), sources, model=assistant.llm,
                            context_tokens=settings.answering.context_tokens,
                            answer_tokens=settings.llm.max_answer_tokens, count_sources=assistant.embedder.count_tokens)
        texts[question_id] = chatml(fitted.messages)
        if question_id == GRID_QUESTIONS[0]:
            texts["follow-up"] = texts[question_id].replace(f"Question: {question}", f"Question: {FOLLOW_UP}")
    return texts


def timed(llm, prompt: str, max_tokens: int = GENERATE, cold: bool = True) -> dict[str, float]:
    """Seconds to the first token, prompt and generation tokens per second; ``cold`` empties the cache."""
    if cold:
        llm.reset()
    n_prompt = len(llm.tokenize(prompt.encode("utf-8"), special=True))
    cached = llm.n_tokens
    started = time.perf_counter()
    first = None
    generated = 0
    text = ""
    for chunk in llm.create_completion(prompt, max_tokens=max_tokens, temperature=0.0, stream=True,
                                       stop=["<|im_end|>", "<|endoftext|>"]):
        generated += 1
        text += chunk["choices"][0]["text"]
        if first is None:
            first = time.perf_counter() - started
    total = time.perf_counter() - started
    return {"prompt_tokens": n_prompt, "cached_before": cached, "first_token_s": round(first or total, 3),
            "prompt_tok_per_s": round(n_prompt / (first or total), 1),
            "generated": generated, "text": text,
            "gen_tok_per_s": round((generated - 1) / (total - first), 1) if first and generated > 1 else None}


def load(model: str, settings: Settings, threads: int, n_batch: int, **options: Any):
    from llama_cpp import Llama

    from rag.models.gguf import MODELS as GGUF
    from rag.models.gguf import assemble

    path = assemble(GGUF[model], settings.store.models_dir, progress=False)
    return Llama(model_path=str(path), n_ctx=settings.llm.llamacpp_n_ctx, n_threads=threads, n_threads_batch=threads,
                 n_batch=n_batch, verbose=False, **options)


def attention(settings: Settings, texts: dict[str, str]) -> list[dict[str, Any]]:
    """Flash attention off/on x ``n_ubatch`` for the default model: first token, rates, and the replies."""
    rows = []
    for flash in (False, True):
        for n_ubatch in (128, 512):
            llm = load(settings.llm.llamacpp_model, settings, settings.llm.llamacpp_threads, 512,
                       flash_attn=flash, n_ubatch=n_ubatch)
            timed(llm, texts[GRID_QUESTIONS[0]][:400], max_tokens=4)  # warm-up
            runs = [timed(llm, texts[q]) for q in (*GRID_QUESTIONS, OTHER)]
            rows.append({"flash_attn": flash, "n_ubatch": n_ubatch, "runs": runs,
                         "first_token_s": round(sum(r["first_token_s"] for r in runs) / len(runs), 2),
                         "gen_tok_per_s": round(sum(r["gen_tok_per_s"] or 0 for r in runs) / len(runs), 1),
                         "same_replies_as_first": [r["text"] for r in runs] == [r["text"] for r in
                                                                                 (rows[0]["runs"] if rows else runs)],
                         "load_1min": round(os.getloadavg()[0], 2)})
            print({k: v for k, v in rows[-1].items() if k != "runs"}, flush=True)
            del llm
    return rows


def build(settings: Settings, texts: dict[str, str]) -> dict[str, Any]:
    """The default model, threads and flash attention with the llama.cpp build in use: each prompt read cold twice."""
    import llama_cpp

    llm = load(settings.llm.llamacpp_model, settings, settings.llm.llamacpp_threads, settings.llm.llamacpp_n_batch,
               flash_attn=settings.llm.llamacpp_flash_attn)
    timed(llm, texts[GRID_QUESTIONS[0]][:400], max_tokens=4)  # warm-up: page the weights in
    runs = [timed(llm, texts[q]) for q in (*GRID_QUESTIONS, OTHER) for _ in range(2)]
    return {"system_info": llama_cpp.llama_print_system_info().decode().strip(), "library": llama_cpp.__file__,
            "runs": runs, "prompt_tok_per_s": round(float(np.median([r["prompt_tok_per_s"] for r in runs])), 1),
            "gen_tok_per_s": round(float(np.median([r["gen_tok_per_s"] or 0 for r in runs])), 1),
            "first_token_s": round(float(np.median([r["first_token_s"] for r in runs])), 2),
            "load_1min": round(os.getloadavg()[0], 2)}


def compare_builds(builds: dict[str, Any]) -> dict[str, Any]:
    """Each build's prompt-reading speed against the portable one's, and whether their greedy replies agree."""
    base = builds.get("portable")
    if base is None:
        return {}
    return {label: {"prompt_speedup": round(b["prompt_tok_per_s"] / base["prompt_tok_per_s"], 3),
                    "generation_speedup": round(b["gen_tok_per_s"] / base["gen_tok_per_s"], 3),
                    "same_replies": sum(x["text"] == y["text"] for x, y in zip(b["runs"], base["runs"], strict=True)),
                    "replies": len(b["runs"])}
            for label, b in builds.items() if label != "portable"}


def measure(model: str, settings: Settings, texts: dict[str, str]) -> dict[str, Any]:
    grid = []
    for threads in GRID_THREADS:
        for n_batch in GRID_BATCH:
            llm = load(model, settings, threads, n_batch)
            timed(llm, texts[GRID_QUESTIONS[0]][:400], max_tokens=4)  # warm-up: page the weights in
            runs = [timed(llm, texts[q]) for q in GRID_QUESTIONS]
            grid.append({"threads": threads, "n_batch": n_batch, "runs": runs,
                         "first_token_s": round(sum(r["first_token_s"] for r in runs) / len(runs), 2),
                         "prompt_tok_per_s": round(sum(r["prompt_tok_per_s"] for r in runs) / len(runs), 1),
                         "gen_tok_per_s": round(sum(r["gen_tok_per_s"] for r in runs) / len(runs), 1)})
            print(model, {k: v for k, v in grid[-1].items() if k != "runs"}, flush=True)
            del llm
    llm = load(model, settings, settings.llm.llamacpp_threads, 512)
    first = texts[GRID_QUESTIONS[0]]
    timed(llm, first[:400], max_tokens=4)
    prefix = {"cold": timed(llm, first), "same_prompt": timed(llm, first, cold=False),
              "follow_up_same_sources": timed(llm, texts["follow-up"], cold=False),
              "other_question": timed(llm, texts[OTHER], cold=False)}
    print(model, "prefix", prefix, flush=True)
    return {"grid": grid, "prefix": prefix}


def plot(data: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    for model, result in data["models"].items():
        for threads, style in zip(GRID_THREADS, ("o--", "s-"), strict=True):
            rows = [g for g in result["grid"] if g["threads"] == threads]
            axes[0].plot([GRID_BATCH.index(g["n_batch"]) for g in rows], [g["first_token_s"] for g in rows], style,
                         label=f"{model}, {threads} thread{'s' * (threads > 1)}")
    axes[0].set(xlabel="n_batch", ylabel="s to first token (cold cache)", ylim=(0, None),
                title="Prompt reading: threads and batch size")
    axes[0].set_xticks(range(len(GRID_BATCH)), [str(b) for b in GRID_BATCH])
    axes[0].legend(fontsize=7)
    cases = ["cold", "same_prompt", "follow_up_same_sources", "other_question"]
    width = 0.38
    for i, (model, result) in enumerate(data["models"].items()):
        axes[1].bar([c + (i - 0.5) * width for c in range(len(cases))],
                    [result["prefix"][case]["first_token_s"] for case in cases], width, label=model)
    axes[1].set_xticks(range(len(cases)), ["cold", "same prompt\nagain", "follow-up,\nsame sources",
                                           "other question\n(rules shared)"])
    axes[1].set(ylabel="s to first token", title="Prompt-prefix reuse (llama.cpp cache)")
    axes[1].legend(fontsize=7)
    fig.suptitle(f"Embedded LLM on {data['machine']['cores']} cores (prompts: dev questions over the seeds, "
                 f"RAG_CONTEXT_TOKENS={data['context_tokens']})", fontsize=10)
    fig.tight_layout()
    fig.savefig(PLOT, dpi=110)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="*", default=list(MODELS), choices=MODELS)
    parser.add_argument("--plot", action="store_true", help="only redraw the PNG from the JSON")
    parser.add_argument("--attention", action="store_true",
                        help=f"flash attention and n_ubatch, to {ATTENTION_OUT.name}")
    parser.add_argument("--build", metavar="LABEL", help=f"the llama.cpp build in use, to {BUILD_OUT.name}")
    args = parser.parse_args(argv)
    if args.build:
        settings = Settings()
        data = json.loads(BUILD_OUT.read_text()) if BUILD_OUT.exists() else {"builds": {}}
        data.update(machine=machine(), versions=package_versions("llama_cpp_python"),
                    model=settings.llm.llamacpp_model, threads=settings.llm.llamacpp_threads,
                    questions=[*GRID_QUESTIONS, OTHER])
        data["builds"][args.build] = build(settings, prompts(settings))
        data["compared_with_portable"] = compare_builds(data["builds"])
        write_json(BUILD_OUT, data)
        print(json.dumps(data["compared_with_portable"]))
        return
    if args.attention:
        settings = Settings()
        write_json(ATTENTION_OUT, {"machine": machine(), "versions": package_versions("llama_cpp_python"),
                                   "model": settings.llm.llamacpp_model, "threads": settings.llm.llamacpp_threads,
                                   "questions": [*GRID_QUESTIONS, OTHER],
                                   "rows": attention(settings, prompts(settings))})
        return
    if not args.plot:
        settings = Settings()
        data = {"about": __doc__.split("\n\n")[1].replace("\n", " "), "machine": machine(),
                "versions": package_versions("llama_cpp_python"), "context_tokens": settings.answering.context_tokens,
                "questions": GRID_QUESTIONS}
        texts = prompts(settings)
        data["models"] = {m: measure(m, settings, texts) for m in args.models}
        data["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
        write_json(OUT, data)
    plot(json.loads(OUT.read_text()))
    print(f"wrote {OUT.relative_to(REPO_ROOT)} and {PLOT.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()
