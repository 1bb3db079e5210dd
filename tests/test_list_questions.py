"""A question that asks for several papers ("Which papers ...?") is answered from a few more sources.

Real embedded Chroma and MiniLM over 12 seed papers; the LLM is the scripted fake."""

from __future__ import annotations

import pytest

from rag import Assistant
from rag.answering.question import asks_for_several
from rag.models.llm import LanguageModel
from tests.reliability.papers import fill_collection, seed_papers, small_settings
from tests.support.fakes import ScriptedLLM

COLLECTION = "lists"


@pytest.mark.parametrize("question", [
    "Which papers use diffusion models to generate network weights?", "what recent works study LoRA ranks",
    "List all papers on Kolmogorov-Arnold networks.", "Name the studies that prune LLMs without retraining",
    "Find publications about federated learning",
])
def test_questions_asking_for_several_papers(question):
    assert asks_for_several(question)


@pytest.mark.parametrize("question", [
    "Which paper proposes LoRA?", "Which paper studies language models?", "What work studies KANs?",
    "What does the Reversal Curse paper conjecture?",
    "How do AWQ and SpQR differ?", "Papers on KANs: which one is fastest?",
])
def test_questions_about_one_paper_or_a_comparison(question):
    assert not asks_for_several(question)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory, embedder):
    data_dir = tmp_path_factory.mktemp("lists")
    fill_collection(small_settings(data_dir), embedder, COLLECTION, seed_papers(12))
    return data_dir


def test_a_list_question_gets_list_extra_more_sources(data_dir, embedder):
    llm = LanguageModel(ScriptedLLM(reply="The collection does not answer this question."), "scripted", "scripted",
                        "test double")
    helper = Assistant(small_settings(data_dir, collection=COLLECTION), llm=llm, embedder=embedder, progress=False)
    assert helper.settings.retrieval.top_k == 6 and helper.settings.retrieval.list_extra == 2
    assert len(helper.ask("Which papers study language models?").sources) == 8
    assert len(helper.ask("Which paper studies language models?").sources) == 6
    assert len(helper.ask("Which papers study language models?", top_k=3).sources) == 5
    assert len(helper.ask("Which papers study language models?", top_k=11).sources) == 12  # as many as there are
    off = helper.variant(helper.settings.replace(list_extra=0))
    assert len(off.ask("Which papers study language models?").sources) == 6
