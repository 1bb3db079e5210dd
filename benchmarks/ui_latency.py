"""What a user waits for in the browser: Enter -> first source card, -> its highlighted evidence sentence, -> first
answer word, -> checked answer.

Serves the real chat UI (`ui.app`) over the seeds with the configured models (``RAG_*`` settings,
by default the embedded 1.5B model) and asks dev-set questions from headless Chromium, each in a
fresh browser session, one at a time. Writes percentiles to
``benchmarks/results/ui_latency[-NAME].json``.

    .venv/bin/python -m benchmarks.ui_latency                      # ~4 min with the 1.5B model
    RAG_LLAMACPP_MODEL=qwen2.5-coder-0.5b .venv/bin/python -m benchmarks.ui_latency --name fast
"""

from __future__ import annotations

import argparse
import os

import numpy as np

from benchmarks.common import RESULTS, machine, write_json
from rag.settings import REPO_ROOT, Settings
from tests.support.browser import timed_question
from tests.support.processes import CHROMIUM, CHROMIUM_ARGS, free_port

QUESTION_IDS = ("dev-004", "dev-010", "dev-021", "dev-025", "dev-030", "dev-033", "dev-038", "dev-045")


def ask_in_browser(browser, url: str, question: str) -> dict[str, float]:
    """One question in a fresh session; seconds from pressing Enter to each visible step."""
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    try:
        page = context.new_page()
        page.set_default_timeout(300_000)
        page.goto(url)
        page.wait_for_selector("#status p")
        return timed_question(page, question)
    finally:
        context.close()


def summary(values: list[float]) -> dict[str, float]:
    return {"p50": round(float(np.percentile(values, 50)), 3), "p95": round(float(np.percentile(values, 95)), 3)}


def main(argv: list[str] | None = None) -> None:
    from playwright.sync_api import sync_playwright

    from eval.questions import load_questions
    from rag.assistant import Assistant
    from ui.app import build_app, launch

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--name", default="", help="suffix of the result file (e.g. the configuration)")
    args = parser.parse_args(argv)
    settings = Settings()
    questions = {q.id: q.question for q in load_questions(REPO_ROOT / "eval" / "questions" / "seeds_dev.jsonl")}
    assistant = Assistant(settings, progress=False)
    assistant.index()  # the seeds are ingested and the model loaded before serving, as `rag ui` does
    model = f"{assistant.llm.provider}:{assistant.llm.model}"
    app = build_app(assistant)
    url = launch(app, settings, host="127.0.0.1", port=free_port(), block=False)
    runs = {}
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for question_id in QUESTION_IDS:
                runs[question_id] = ask_in_browser(browser, url, questions[question_id])
                print(question_id, runs[question_id], flush=True)
            browser.close()
    finally:
        app.close()
    steps = ("first_card_s", "evidence_s", "first_word_s", "checked_answer_s")
    out = RESULTS / f"ui_latency{'-' + args.name if args.name else ''}.json"
    write_json(out, {"about": __doc__.split("\n\n")[1].replace("\n", " "), "machine": machine(), "model": model,
                     "context_tokens": settings.answering.context_tokens,
                     "summary": {step: summary([r[step] for r in runs.values()]) for step in steps},
                     "runs": runs, "load_average_at_end": [round(x, 2) for x in os.getloadavg()]})
    print(f"wrote {out.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()
