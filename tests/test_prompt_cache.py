"""The embedded model's prompt cache as the assistant uses it: prompts cut into pieces, whole abstracts, warming.

The prompt tests use a scripted fake LLM (no model runs). The ``llm`` tests run the real Qwen2.5-Coder-0.5B
through `Assistant`, the CLI and the public API over three seed papers in a real Chroma store.
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from rag import Assistant, Settings
from rag.answering.answer import Source
from rag.answering.profile import profile_question
from rag.answering.prompt import fit_prompt, pieced
from rag.cli import app
from rag.corpus import load_corpus
from rag.models.llm import LanguageModel, chatml
from tests.conftest import SEEDS
from tests.support.fakes import ScriptedLLM


class PieceReusingModel(LanguageModel):
    """A scripted model that says it reuses cached pieces, as the embedded model with a prompt cache does."""

    reuses_pieces = True


def sources(count: int, words: int) -> list[Source]:
    abstract = " ".join(f"Sentence {i} reports binding result {i}." for i in range(words // 5))
    return [Source(rank=r, paper_id=f"p{r}", title=f"Binding paper {r}", score=1.0, abstract=abstract)
            for r in range(1, count + 1)]


def fit(model: LanguageModel, papers: list[Source], context_tokens: int = 200):
    return fit_prompt(profile_question("What binding result is reported?"), papers, model=model,
                      context_tokens=context_tokens, answer_tokens=320, count_sources=lambda t: len(t.split()))


def test_pieces_spell_the_prompt_and_only_whole_abstracts_are_cached():
    papers = sources(3, 100)
    prompt = pieced("Which paper?", papers, whole={1, 3})
    assert prompt.text.startswith("<|im_start|>system")
    cached = [piece.text for piece in prompt.pieces if piece.cached]
    assert [text.splitlines()[1] for text in cached] == ["Binding paper 1", "Binding paper 3"]
    assert all(text.startswith("<paper>\n") and text.endswith("</paper>\n\n") for text in cached)
    assert "[2]\n" in [piece.text for piece in prompt.pieces]  # numbers are read live, outside the blocks


def test_a_model_that_reuses_pieces_gets_whole_abstracts_and_others_get_them_fitted():
    papers = sources(4, 300)
    reusing = fit(PieceReusingModel(ScriptedLLM(), "scripted", "scripted", "test double", window=8192), papers)
    assert [s.abstract for s in reusing.sources] == [s.abstract for s in papers]
    assert sum(piece.cached for piece in reusing.pieces.pieces) == 4
    assert reusing.pieces.text == chatml(reusing.messages)
    trimmed = fit(LanguageModel(ScriptedLLM(), "scripted", "scripted", "test double", window=8192), papers)
    assert all(len(s.abstract) < len(p.abstract) for s, p in zip(trimmed.sources, papers, strict=True))
    assert trimmed.pieces is None and "<paper>\n[1] Binding paper 1\n" in chatml(trimmed.messages)


def test_whole_abstracts_that_overflow_the_window_drop_the_lowest_ranked_papers():
    papers = sources(6, 400)
    model = PieceReusingModel(ScriptedLLM(), "scripted", "scripted", "test double", window=2048)
    fitted = fit(model, papers)
    assert 0 < len(fitted.sources) < 6
    assert [s.rank for s in fitted.sources] == list(range(1, len(fitted.sources) + 1))
    assert all(s.abstract == papers[0].abstract for s in fitted.sources)
    assert fitted.tokens <= fitted.limit and "fit the model's context window" in fitted.notices[0]


# --- the real embedded model --------------------------------------------------------------------------------

QUESTION = "What does the Reversal Curse paper conjecture is the cause of the curse?"


@pytest.fixture(scope="module")
def small_library(tmp_path_factory):
    """Three seed papers (the Reversal Curse one first) as a JSONL file, and settings for the 0.5B model with the
    prompt cache on."""
    papers = load_corpus([SEEDS]).papers
    reversal = next(p for p in papers if p.title.startswith("Is the Reversal Curse"))
    chosen = [reversal, *[p for p in papers if p is not reversal][:2]]
    folder = tmp_path_factory.mktemp("cache-lib")
    corpus = folder / "three.jsonl"
    corpus.write_text("".join(json.dumps({"id": p.id, "title": p.title, "abstract": p.abstract}) + "\n"
                              for p in chosen))
    settings = Settings(data_dir=folder / "data", seeds_dir=folder / "no-seeds", collection="three",
                        llm_provider="llamacpp", llamacpp_model="qwen2.5-coder-0.5b", top_k=3, prompt_cache=True)
    return settings, corpus


@pytest.mark.llm
@pytest.mark.slow
def test_warmed_papers_are_not_read_again_and_the_cli_reports_the_cache(small_library, embedder):
    settings, corpus = small_library
    assistant = Assistant(settings, embedder=embedder, progress=False)
    assistant.library.ingest([corpus], collection="three")
    seen = []
    assert assistant.warm_cache(on_progress=lambda done, total: seen.append((done, total))) == 3
    assert seen[-1] == (3, 3)
    assert assistant.warm_cache() == 0  # all three are in the cache now

    answer = assistant.ask(QUESTION)
    timings = answer.timings
    assert timings.papers_from_cache == len(answer.sources) == 3
    assert timings.prompt_tokens_read < timings.prompt_tokens / 4  # only the numbers, question and instructions
    assert answer.sources[0].title.startswith("Is the Reversal Curse")

    env = {"RAG_DATA_DIR": str(settings.store.data_dir), "RAG_SEEDS_DIR": str(settings.store.seeds_dir),
           "RAG_LLM_PROVIDER": "llamacpp", "RAG_LLAMACPP_MODEL": "qwen2.5-coder-0.5b", "RAG_PROMPT_CACHE": "true"}
    warmed = CliRunner().invoke(app, ["cache", "warm", "--collection", "three"], env=env)
    assert warmed.exit_code == 0, warmed.output
    assert "read 0 papers; the cache holds 4 entries" in warmed.output  # 3 papers and the rules
    info = CliRunner().invoke(app, ["info", "--json"], env=env)
    cache = json.loads(info.output)["prompt_cache"]
    assert cache["entries"] == 4 and cache["hits"] >= 3 and cache["bytes"] > 0


@pytest.mark.llm
@pytest.mark.slow
def test_without_the_prompt_cache_the_whole_prompt_is_read(small_library, embedder):
    settings, corpus = small_library
    settings = settings.replace(prompt_cache=False)
    assistant = Assistant(settings, embedder=embedder, progress=False)
    assistant.library.ingest([corpus], collection="three")
    assert assistant.warm_cache() == 0
    answer = assistant.ask(QUESTION)
    assert answer.timings.prompt_tokens_read == answer.timings.prompt_tokens
    assert answer.timings.papers_from_cache == 0
