"""The Ollama providers against a local stand-in server that speaks Ollama's documented HTTP API."""

from __future__ import annotations

import pytest
from llama_index.core.base.llms.types import ChatMessage

from rag import Assistant, Done, SourcesFound, Token
from rag.models.embedding import OllamaEmbedding
from rag.models.files import ModelUnavailable
from rag.models.llm import choose_llm
from rag.settings import Settings
from tests.support.ollama_standin import OllamaStandIn


def ollama_settings(settings: Settings, host: str, provider: str = "auto") -> Settings:
    return settings.replace(ollama_host=host, llm_provider=provider)


def test_auto_picks_ollama_when_it_has_the_model(settings):
    with OllamaStandIn(["qwen2.5:3b-instruct"]) as server:
        chosen = choose_llm(ollama_settings(settings, server.url))
        assert (chosen.provider, chosen.model) == ("ollama", "qwen2.5:3b-instruct")
        reply = chosen.llm.complete("hello")
        assert reply.text
        chat = [body for path, body in server.requests if path == "/api/chat"][-1]
        assert chat["options"]["num_ctx"] == settings.llm.ollama_num_ctx
        assert chat["options"]["num_predict"] == settings.llm.max_answer_tokens
        assert chat["options"]["seed"] == settings.llm.seed


def test_ollama_judges_yes_or_no_from_the_first_tokens_probabilities(settings):
    """The list judge through Ollama: one token of reply, ``logprobs`` with 20 alternatives; a server that gives no
    probabilities (older than 0.12.11) leaves the decision to words (None)."""
    messages = [ChatMessage(role="system", content="You judge."), ChatMessage(role="user", content="Paper about KANs?")]
    with OllamaStandIn(["qwen2.5:3b-instruct"], yes_probability=lambda text: 0.9 if "KAN" in text else 0.2) as server:
        model = choose_llm(ollama_settings(settings, server.url))
        assert model.yes_probability(messages) == pytest.approx(0.9, abs=1e-3)
        chat = [body for path, body in server.requests if path == "/api/chat"][-1]
        assert chat["logprobs"] is True and chat["top_logprobs"] == 20 and chat["stream"] is False
        assert chat["options"]["num_predict"] == 1 and chat["options"]["temperature"] == 0
        assert chat["options"]["num_ctx"] == settings.llm.ollama_num_ctx
        server.yes_probability = None
        assert model.yes_probability(messages) is None


def test_forced_ollama_without_model_or_server_names_the_remedy(settings):
    with OllamaStandIn(["llama3.2:latest"]) as server, pytest.raises(ModelUnavailable, match="ollama pull"):
        choose_llm(ollama_settings(settings, server.url, "ollama"))
    with pytest.raises(ModelUnavailable, match=r"no Ollama server answers at http://127.0.0.1:9.*llamacpp"):
        choose_llm(ollama_settings(settings, "http://127.0.0.1:9", "ollama"))


def test_ollama_embedding_provider(settings):
    with OllamaStandIn(["nomic-embed-text:latest"], dimension=16) as server:
        embedder = OllamaEmbedding("nomic-embed-text:latest", server.url, timeout=5)
        assert embedder.dimension == 16
        assert len(embedder.get_text_embedding_batch(["a", "b", "c"])) == 3
    with pytest.raises(ModelUnavailable, match="ollama pull nomic-embed-text"):
        OllamaEmbedding("nomic-embed-text", "http://127.0.0.1:9", timeout=1)


@pytest.mark.slow
def test_streamed_answer_through_ollama(seed_settings, seed_index, embedder):
    with OllamaStandIn(["qwen2.5:3b-instruct"]) as server:
        settings = ollama_settings(seed_settings, server.url)
        assistant = Assistant(settings, embedder=embedder, progress=False)
        events = list(assistant.stream("How do convergent graph solvers compute fixed points of graph systems?"))
        assert isinstance(events[0], SourcesFound) and isinstance(events[-1], Done)
        assert any(isinstance(e, Token) for e in events)
        answer = events[-1].answer
        assert answer.llm_provider == "ollama" and not answer.abstained
        assert answer.citations and answer.citations[0].number == 1
        assert answer.citations[0].quote in answer.sources[0].abstract


@pytest.mark.slow
def test_a_which_papers_question_through_ollama_lists_every_paper_it_judges_a_match(seed_settings, seed_index,
                                                                                     embedder):
    def about_kans(text: str) -> float:  # the paper's block comes before the question
        return 0.95 if "Kolmogorov" in text.split("</paper>")[0] else 0.05

    with OllamaStandIn(["qwen2.5:3b-instruct"], yes_probability=about_kans) as server:
        settings = ollama_settings(seed_settings, server.url).replace(list_judge=0.855)
        answer = Assistant(settings, embedder=embedder, progress=False).ask(
            "Which papers build new network layers on Kolmogorov-Arnold representations?")
        judged = [body for path, body in server.requests if path == "/api/chat" and body.get("logprobs")]
    matching = {s.rank for s in answer.sources if "Kolmogorov" in f"{s.title} {s.abstract}"}
    assert len(matching) >= 2 and len(judged) == len(answer.sources) == answer.timings.papers_judged
    assert {c.number for c in answer.citations} == matching  # the stand-in's reply cites [1] only
