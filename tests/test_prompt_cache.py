"""The embedded model's prompt cache as the assistant uses it: prompts cut into pieces, whole abstracts, warming.

The prompt tests use a scripted fake LLM (no model runs). The ``llm`` tests run the real Qwen2.5-Coder-0.5B
through the engine, `Assistant`, the CLI and the public API over seed papers in a real Chroma store.
"""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest
from typer.testing import CliRunner

from rag import Assistant, Settings
from rag.answering.answer import Source
from rag.answering.profile import profile_question
from rag.answering.prompt import (
    build_messages,
    cached_reading,
    fit_prompt,
    numbered_body,
    pieced,
    prompt_prefix,
)
from rag.cli import app
from rag.corpus import load_corpus
from rag.in_flight import QuestionsInFlight
from rag.models.llm import LanguageModel, chatml
from tests.conftest import SEEDS
from tests.support.fakes import ScriptedLLM


class PieceReusingModel(LanguageModel):
    """A scripted model that says it reuses every whole abstract, as the embedded model with ``prompt_cache=all``."""

    paper_cache = "all"


class FirstPaperModel(LanguageModel):
    """A scripted model that says it reuses the first paper's state, as the embedded model by default."""

    paper_cache = "first"


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


def test_the_first_paper_is_cached_right_after_the_rules_and_its_number():
    papers = sources(3, 100)
    prompt = pieced("Which paper?", papers, whole={1}, paper_cache="first")
    assert prompt.prefix == prompt_prefix() + "<paper>\n[1]" == cached_reading("first", "", "")[0]
    assert prompt.pieces[0] == type(prompt.pieces[0])(numbered_body("Binding paper 1", papers[0].abstract), cached=True)
    assert prompt.pieces[0].text.startswith(" Binding paper 1\n")  # the number stays on the title line
    assert [piece.cached for piece in prompt.pieces] == [True, False]  # the other papers and the question: live
    assert "<paper>\n[2] Binding paper 2\n" in prompt.pieces[1].text
    assert prompt.text == chatml(build_messages("Which paper?", papers))  # the prompt read without the cache
    shortened = pieced("Which paper?", papers, whole=set(), paper_cache="first")
    assert not any(piece.cached for piece in shortened.pieces)


def test_the_first_paper_keeps_its_whole_abstract_and_the_others_their_share():
    papers = sources(4, 300)
    first = fit(FirstPaperModel(ScriptedLLM(), "scripted", "scripted", "test double", window=8192), papers)
    plain = fit(LanguageModel(ScriptedLLM(), "scripted", "scripted", "test double", window=8192), papers)
    assert first.sources[0].abstract == papers[0].abstract
    assert all(len(s.abstract) < len(p.abstract) for s, p in zip(first.sources[1:], papers[1:], strict=True))
    assert [s.abstract for s in first.sources[1:]] == [s.abstract for s in plain.sources[1:]]
    assert first.pieces.pieces[0].cached and first.pieces.text == chatml(first.messages)


def test_a_first_abstract_within_its_share_gives_the_prompt_read_without_the_cache():
    papers = sources(4, 30)
    first = fit(FirstPaperModel(ScriptedLLM(), "scripted", "scripted", "test double", window=8192), papers)
    plain = fit(LanguageModel(ScriptedLLM(), "scripted", "scripted", "test double", window=8192), papers)
    assert first.pieces.pieces[0].cached and first.messages == plain.messages


def test_a_first_abstract_too_long_for_the_window_is_fitted_and_read_live():
    papers = sources(3, 3000)
    model = FirstPaperModel(ScriptedLLM(), "scripted", "scripted", "test double", window=2048)
    fitted = fit(model, papers)
    assert len(fitted.sources[0].abstract) < len(papers[0].abstract)
    assert not any(piece.cached for piece in fitted.pieces.pieces)
    assert fitted.tokens <= fitted.limit


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
                        llm_provider="llamacpp", llamacpp_model="qwen2.5-coder-0.5b", top_k=3, prompt_cache="all")
    return settings, corpus


@pytest.mark.llm
@pytest.mark.slow
def test_warmed_papers_are_not_read_again_and_the_cli_reports_the_cache(small_library, embedder):
    settings, corpus = small_library
    assistant = Assistant(settings, embedder=embedder, progress=False)
    assistant.library.ingest([corpus], collection="three")
    seen = []
    assert assistant.warm_cache(on_progress=lambda done, total: seen.append((done, total))) == 6
    assert seen[-1] == (6, 6)  # each paper as the answer reads it and as the list judge does
    assert assistant.warm_cache() == 0  # all three are in the cache now

    answer = assistant.ask(QUESTION)
    timings = answer.timings
    assert timings.papers_from_cache == len(answer.sources) == 3
    assert timings.prompt_tokens_read < timings.prompt_tokens / 4  # only the numbers, question and instructions
    assert answer.sources[0].title.startswith("Is the Reversal Curse")

    env = {"RAG_DATA_DIR": str(settings.store.data_dir), "RAG_SEEDS_DIR": str(settings.store.seeds_dir),
           "RAG_LLM_PROVIDER": "llamacpp", "RAG_LLAMACPP_MODEL": "qwen2.5-coder-0.5b", "RAG_PROMPT_CACHE": "all"}
    warmed = CliRunner().invoke(app, ["cache", "warm", "--collection", "three"], env=env)
    assert warmed.exit_code == 0, warmed.output
    assert "read 0 paper blocks; the cache holds 8 entries" in warmed.output  # 3 papers twice, two sets of rules
    info = CliRunner().invoke(app, ["info", "--json"], env=env)
    cache = json.loads(info.output)["prompt_cache"]
    assert cache["entries"] == 8 and cache["hits"] >= 3 and cache["bytes"] > 0


@pytest.mark.llm
@pytest.mark.slow
def test_without_the_prompt_cache_the_whole_prompt_is_read_and_only_the_judge_warms(small_library, embedder):
    settings, corpus = small_library
    settings = settings.replace(prompt_cache="off")
    assistant = Assistant(settings, embedder=embedder, progress=False)
    assistant.library.ingest([corpus], collection="three")
    assert assistant.warm_cache() == 3  # each paper as the list judge reads it, and no more
    assert assistant.warm_cache() == 0
    answer = assistant.ask(QUESTION)
    assert answer.timings.prompt_tokens_read == answer.timings.prompt_tokens
    assert answer.timings.papers_from_cache == 0


@pytest.mark.llm
@pytest.mark.slow
def test_a_list_question_asked_while_warming_goes_first_and_warming_then_finishes(small_library, embedder, tmp_path):
    """Warming (the list judge's readings, the prompt cache off) and a list question judged meanwhile share the
    judge's engine: the question is answered, warming resumes, and every paper ends up in the cache once."""
    settings, corpus = small_library
    data = tmp_path / "data"
    data.mkdir()
    (data / "models").symlink_to(settings.store.models_dir.resolve())
    assistant = Assistant(settings.replace(data_dir=data, prompt_cache="off"), embedder=embedder, progress=False)
    assistant.library.ingest([corpus], collection="three")
    assistant.questions = QuestionsInFlight()  # this assistant's questions only
    started, warmed = threading.Event(), []

    def should_stop() -> bool:  # asked before each paper and while one is read
        started.set()
        return False

    warming = threading.Thread(target=lambda: warmed.append(assistant.warm_cache(should_stop=should_stop)))
    warming.start()
    assert started.wait(timeout=600)
    answer = assistant.ask("Which papers study why language models fail to reverse the facts they learn?")
    warming.join(timeout=600)
    assert not warming.is_alive() and len(warmed) == 1 and 0 <= warmed[0] <= 3
    assert answer.timings.papers_judged == 3 and answer.raw_answer == ""  # judged, no reply written
    assert assistant.questions.count == 0 and assistant.warm_cache() == 0  # all three are in the cache


# --- the first paper's state: exact reuse ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def answer_engine(tmp_path_factory):
    """A `BlockEngine` on the real 0.5B model, reading answer prompts as the embedded model does."""
    from llama_cpp import Llama

    from rag.models.gguf import MODELS, assemble
    from rag.models.kvcache import BlockCache, BlockEngine
    from rag.models.llm import CACHE_LAYOUT

    model = "qwen2.5-coder-0.5b"
    llama = Llama(model_path=str(assemble(MODELS[model], Settings().store.models_dir, progress=False)),
                  n_ctx=256, n_threads=2, verbose=False)
    engine = BlockEngine(llama, BlockCache(tmp_path_factory.mktemp("first"), max_bytes=1 << 30),
                         model_sha256=MODELS[model].sha256, layout=CACHE_LAYOUT, n_ctx=2048)
    yield engine
    engine.close()


def seed_sources(count: int) -> list[Source]:
    papers = load_corpus([SEEDS]).papers[10 : 10 + count]
    return [Source(rank=r, paper_id=p.id, title=p.title, score=1.0, abstract=p.abstract)
            for r, p in enumerate(papers, start=1)]


@pytest.mark.llm
def test_the_first_paper_restored_from_the_cache_gives_the_logits_of_reading_the_prompt(answer_engine):
    """The first paper is saved where every prompt reads it, so restoring it is the same computation: bit-identical
    to reading the same text with the same batch boundaries, and within llama.cpp's batch-grouping noise (KL
    at most 0.0013 measured, see tests/test_kv_blocks.py) of reading it in one batch with the rest."""
    from tests.support.logits import kl

    prompt = pieced(QUESTION, seed_sources(3), whole={1}, paper_cache="first")
    live = [type(piece)(piece.text) for piece in prompt.pieces]
    same_batches = answer_engine.prompt_logits(prompt.prefix, live, separate=True)
    one_read = answer_engine.prompt_logits(prompt.prefix, [type(live[0])("".join(p.text for p in live))])
    cold = answer_engine.prompt_logits(prompt.prefix, prompt.pieces)
    assert answer_engine.report.blocks_read == 1 and answer_engine.report.tokens_match
    warm = answer_engine.prompt_logits(prompt.prefix, prompt.pieces)
    assert answer_engine.report.blocks == 1 and answer_engine.report.blocks_read == 0
    assert answer_engine.report.live_tokens < answer_engine.report.prompt_tokens
    for restored in (cold, warm):
        assert np.abs(restored - same_batches).max() <= 1e-3
        assert restored.argmax() == one_read.argmax()
        assert kl(one_read, restored) <= 0.01


@pytest.mark.llm
def test_a_first_paper_saved_under_other_rules_or_another_number_is_never_used(answer_engine):
    """The entry's key holds the text it was read after (rules and number); model, KV type and damaged entries
    are covered in tests/test_kv_blocks.py."""
    from rag.models.pieces import Piece

    paper = seed_sources(1)[0]
    first, block = cached_reading("first", paper.title, paper.abstract)
    tail = Piece("Question: What is proposed?\n\nAnswer in one sentence.<|im_end|>\n<|im_start|>assistant\n")
    answer_engine.prompt_logits(first, [Piece(block, cached=True), tail])
    answer_engine.prompt_logits(first, [Piece(block, cached=True), tail])
    assert answer_engine.report.blocks_read == 0
    second = cached_reading("first", paper.title, paper.abstract, rank=2)[0]
    other_rules = first.replace("research assistant", "careful research assistant")
    for prefix in (second, other_rules, prompt_prefix()):
        answer_engine.prompt_logits(prefix, [Piece(block, cached=True), tail])
        assert answer_engine.report.blocks_read == 1, prefix[-40:]


@pytest.mark.llm
@pytest.mark.slow
def test_a_question_asked_again_reads_its_first_paper_from_the_cache_and_gets_the_same_answer(small_library,
                                                                                           embedder):
    settings, corpus = small_library
    assistant = Assistant(settings.replace(prompt_cache="first", data_dir=settings.store.data_dir.parent / "first"),
                          embedder=embedder, progress=False)
    assistant.library.ingest([corpus], collection="three")
    cold = assistant.ask(QUESTION)
    warm = assistant.ask(QUESTION)
    assert cold.timings.papers_from_cache == 0 and warm.timings.papers_from_cache == 1
    assert warm.timings.prompt_tokens_read < cold.timings.prompt_tokens_read
    assert warm.raw_answer == cold.raw_answer and warm.answer == cold.answer
