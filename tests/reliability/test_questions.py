"""Bad questions: empty, whitespace, only punctuation, control characters, another language, 50,000
characters. Each gets a clear `QuestionError` (CLI: exit 1 with the sentence; UI: the sentence in the
chat) or a sensible answer; over-long ones are cut to ``max_question_chars`` with a notice, and the
prompt always fits the model's context window (counted over system + sources + question + rules).

Real embedded Chroma and MiniLM over 12 seed papers; the LLM is the scripted fake (API, UI) or the
Ollama stand-in (CLI, a real HTTP client)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from typer.testing import CliRunner

from rag import Answer, Assistant, QuestionError
from rag.answering.answer import Source
from rag.answering.profile import profile_question
from rag.answering.prompt import SYSTEM, TEMPLATE_MARGIN, fit_prompt
from rag.cli import app
from rag.models.llm import LanguageModel, LlamaCppModel, chatml, estimate_tokens
from rag.settings import LlmSettings
from tests.reliability.papers import (
    REVERSAL_QUESTION,
    REVERSAL_REPLY,
    fill_collection,
    paper,
    seed_papers,
    small_settings,
)
from tests.support.fakes import ScriptedLLM, scripted
from tests.support.ollama_standin import OllamaStandIn
from ui.chat import ChatTurn, add_question, message_text

runner = CliRunner()
COLLECTION = "questions"
LONG_QUESTION = (REVERSAL_QUESTION + " " + "Please explain the binding problem in more detail. " * 1000)[:50_000]
LONG_NOTICE = (f"The question was {len(' '.join(LONG_QUESTION.split())):,} characters long; "
               "only its first 2,000 were used")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory, embedder):
    data_dir = tmp_path_factory.mktemp("questions")
    fill_collection(small_settings(data_dir), embedder, COLLECTION, seed_papers(12))
    return data_dir


@pytest.fixture
def assistant(data_dir, embedder) -> Assistant:
    return Assistant(small_settings(data_dir, collection=COLLECTION), llm=scripted(REVERSAL_REPLY), embedder=embedder,
                     progress=False)


def prompts(assistant: Assistant) -> list[str]:
    llm = assistant.llm.llm
    assert isinstance(llm, ScriptedLLM)
    return llm.prompts


@pytest.mark.parametrize(("question", "message"), [
    ("", "the question is empty"),
    ("   \n\t  ", "the question is empty"),
    ("\x00\x07\x1b[31m\x1b[0m\u200b", "the question is empty"),
    ("?!? ... ¿¡ —", "the question has no words in it (only punctuation or symbols)"),
])
def test_unaskable_questions_raise_question_error(assistant, question, message):
    with pytest.raises(QuestionError, match=message.replace("(", r"\(").replace(")", r"\)")):
        assistant.ask(question)
    assert prompts(assistant) == []  # the LLM was never called


def test_control_characters_are_removed_before_search_and_prompt(assistant):
    answer = assistant.ask("What does the\x00 Reversal\x1b[31m Curse\u200b paper\r\nconjecture\x07 is the cause?")
    assert answer.question == "What does the Reversal Curse paper conjecture is the cause?"
    assert answer.sources[0].title.startswith("Is the Reversal Curse")
    prompt = prompts(assistant)[-1]
    assert not any(ch in prompt for ch in "\x00\x1b\x07\u200b")


@pytest.mark.parametrize("question", [
    "Quelle est la cause de la malédiction de l'inversion selon l'article ?",
    "反转诅咒的原因是什么？",
    "Что является причиной проклятия обращения?",
])
def test_questions_in_other_languages_get_an_answer(assistant, question):
    answer = assistant.ask(question)
    assert isinstance(answer, Answer) and answer.sources
    assert answer.abstained or answer.citations  # a checked answer or the abstention, never a crash


def test_a_50000_character_question_is_cut_with_a_notice(assistant):
    answer = assistant.ask(LONG_QUESTION)
    limit = assistant.settings.answering.max_question_chars
    assert len(answer.question) <= limit == 2000
    assert answer.question.startswith(REVERSAL_QUESTION)
    assert len(LONG_QUESTION) == 50_000 and answer.notices[0].startswith(LONG_NOTICE)
    assert not answer.abstained and answer.sources[0].title.startswith("Is the Reversal Curse")
    assert len(prompts(assistant)[-1]) < 2000 + 12_000  # the question in the prompt is the cut one


def long_sources(count: int, words: int) -> list[Source]:
    text = " ".join(f"Sentence {i} reports the binding problem result number {i}." for i in range(words // 8))
    return [Source(rank=r, paper_id=f"p{r}", title=f"Long paper {r} on binding", score=1.0, abstract=text)
            for r in range(1, count + 1)]


@pytest.mark.parametrize("window", [1024, 4096])
def test_prompt_for_a_huge_question_and_many_long_sources_fits_the_window(window):
    question = ("binding 1234567890 ? " * 400)[:2000]  # digits and symbols: one token each
    sources = long_sources(50, 5000)
    model = LanguageModel(ScriptedLLM(), "scripted", "scripted", "test double", window=window)
    fitted = fit_prompt(profile_question(question), sources, model=model, context_tokens=30000, answer_tokens=320,
                        count_sources=lambda text: len(text.split()))
    whole = estimate_tokens(chatml(fitted.messages))
    assert whole == fitted.tokens <= window - 320 - TEMPLATE_MARGIN
    assert SYSTEM in chatml(fitted.messages)
    assert fitted.notices, "shrinking beyond RAG_CONTEXT_TOKENS must be announced"
    if window == 1024:  # not even the question fits next to the rules: it is cut, and sources dropped
        assert fitted.question != question and "The question was cut" in fitted.notices[-1]
    else:
        assert fitted.question == question and 0 < len(fitted.sources) < 50


class FakeLlama:
    """What `LlamaCppModel` uses of llama_cpp.Llama: ``tokenize(bytes, add_bos, special)`` and ``n_ctx()``."""

    def tokenize(self, text: bytes, add_bos: bool = True, special: bool = False) -> list[int]:
        return list(range(len(text.split()) * 2 + add_bos))  # 2 tokens per word, unlike the estimate

    def n_ctx(self) -> int:
        return 2048


class FakeLlamaCPP:
    _model = FakeLlama()


def test_the_embedded_models_own_tokenizer_and_window_are_used():
    model = LlamaCppModel(FakeLlamaCPP(), "fake", "test double", LlmSettings())
    assert model.counted_with == "llama.cpp tokenizer" and model.count_tokens("three short words") == 7
    assert model.context_window == 2048
    assert LanguageModel(ScriptedLLM(), "scripted", "scripted", "test double").counted_with == "estimate"
    profile = replace(profile_question("What is the binding problem?"), query="binding problem")
    fitted = fit_prompt(profile, long_sources(10, 400), model=model,
                        context_tokens=30000, answer_tokens=320, count_sources=lambda text: len(text.split()))
    assert model.count_tokens(chatml(fitted.messages)) == fitted.tokens <= 2048 - 320 - TEMPLATE_MARGIN
    assert fitted.counted_with == "llama.cpp tokenizer"


def test_assistant_prompt_never_exceeds_the_llm_window(data_dir, embedder):
    """Many very long abstracts and RAG_CONTEXT_TOKENS at its maximum: the prompt still leaves room for
    the answer in the fake LLM's 3,900-token window (LlamaIndex's default metadata)."""
    long_text = " ".join(f"Binding result {i} of the reversal curse study is reported here." for i in range(80))
    papers = [paper(f"long-{i}", f"Reversal curse binding study {i}", long_text) for i in range(8)]
    fill_collection(small_settings(data_dir), embedder, "long-abstracts", papers)
    settings = small_settings(data_dir, collection="long-abstracts", context_tokens=30000, top_k=8)
    assistant = Assistant(settings, llm=scripted(REVERSAL_REPLY), embedder=embedder, progress=False)
    answer = assistant.ask("What does the reversal curse binding study report? " + "binding 42 " * 300)
    prompt = prompts(assistant)[-1]
    window = assistant.llm.llm.metadata.context_window
    assert estimate_tokens(prompt) <= window - settings.llm.max_answer_tokens - TEMPLATE_MARGIN + 40  # role labels
    assert any("context window" in n for n in answer.notices), answer.notices


# --- the same through the CLI and the chat UI -----------------------------------------------------
@pytest.fixture(scope="module")
def ollama():
    with OllamaStandIn(["qwen2.5:3b-instruct"], reply=REVERSAL_REPLY) as server:
        yield server


def cli_env(data_dir, ollama) -> dict[str, str]:
    return {"RAG_DATA_DIR": str(data_dir), "RAG_SEEDS_DIR": str(data_dir / "no-seeds"), "RAG_COLLECTION": COLLECTION,
            "RAG_LLM_PROVIDER": "ollama", "RAG_OLLAMA_HOST": ollama.url, "RAG_CONFIG": str(data_dir / "none.toml")}


@pytest.mark.parametrize(("question", "message"), [
    ("   ", "error: the question is empty"),
    ("?!?!", "error: the question has no words in it (only punctuation or symbols)"),
])
def test_cli_rejects_unaskable_questions_with_exit_1(data_dir, ollama, question, message):
    result = runner.invoke(app, ["ask", question], env=cli_env(data_dir, ollama))
    assert result.exit_code == 1 and message in result.output
    assert "Traceback" not in result.output


def test_cli_shows_the_notice_for_a_long_question(data_dir, ollama):
    result = runner.invoke(app, ["ask", LONG_QUESTION], env=cli_env(data_dir, ollama))
    assert result.exit_code == 0, result.output
    assert f"note: {LONG_NOTICE}" in result.output
    json_result = runner.invoke(app, ["ask", LONG_QUESTION, "--json"], env=cli_env(data_dir, ollama))
    assert f'"notices":["{LONG_NOTICE}' in json_result.stdout


def test_chat_ui_explains_bad_questions_and_shows_notices(assistant):
    chat = ChatTurn(assistant)
    history = [{"role": "user", "content": "?!?"}]  # what a client could send straight to the handler
    reply = message_text(list(chat.respond(history, [], 6, COLLECTION, ""))[-1][0][-1])
    assert "That question cannot be asked: the question has no words in it" in reply
    _, history = add_question(LONG_QUESTION, [])
    *_, (history, _, _, turns) = chat.respond(history, [], 6, COLLECTION, "")
    final = message_text(history[-1])
    assert 'class="notices"' in final and "only its first 2,000 were used" in final
    _, history = add_question(REVERSAL_QUESTION, history)  # the chat stays usable
    *_, (history, _, _, turns) = chat.respond(history, turns, 6, COLLECTION, "")
    assert 'class="citations"' in message_text(history[-1])
