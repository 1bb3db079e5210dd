"""The model reads the papers scored close to the best one, or all of them for a question about several papers.

Unit tests on made-up rankings, then the assistant over 12 seed papers in real embedded Chroma with MiniLM; the
LLM is the scripted fake, whose prompts show what the model was given.
"""

from __future__ import annotations

import pytest

from rag import Assistant, Done, SourcesFound
from rag.answering.focus import context_share, focused
from rag.answering.profile import profile_question
from rag.models.llm import LanguageModel
from rag.retrieval import RetrievedPaper
from tests.reliability.papers import REVERSAL_QUESTION, REVERSAL_REPLY, fill_collection, seed_papers, small_settings
from tests.support.fakes import ScriptedLLM

COLLECTION = "focus"


def ranking(*scores: float) -> list[RetrievedPaper]:
    return [RetrievedPaper(rank=n, paper_id=f"p{n}", title=f"Paper {n}", abstract="Text.", score=score)
            for n, score in enumerate(scores, start=1)]


def test_a_lookup_keeps_the_papers_within_the_gap_of_the_best():
    papers = ranking(1.0, 0.97, 0.95, 0.90, 0.88)
    assert [p.rank for p in focused(papers, profile_question("What does the DoRA paper decompose?"), 0.05)] == [1, 2, 3]
    assert [p.rank for p in focused(papers, profile_question("What does the DoRA paper decompose?"), 0.0)] == [1]
    assert focused(papers, profile_question("What does the DoRA paper decompose?"), 1.0) == papers
    assert focused([], profile_question("What does it decompose?"), 0.05) == []


@pytest.mark.parametrize("question", [
    "Which papers fine-tune with low-rank adapters?",
    "Compare the pre-training objectives of HuBERT and APC.",
])
def test_a_question_about_several_papers_keeps_them_all(question):
    papers = ranking(1.0, 0.97, 0.80, 0.70)
    assert focused(papers, profile_question(question), 0.05) == papers


def test_fewer_papers_get_their_share_of_the_context_budget():
    assert context_share(6, 6) == 1.0
    shares = [context_share(kept, 6) for kept in range(1, 7)]
    assert shares == sorted(shares) and 0.25 < shares[0] < 0.3  # the best paper's share is unchanged
    assert context_share(3, 3) == 1.0


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory, embedder):
    data_dir = tmp_path_factory.mktemp("focus")
    fill_collection(small_settings(data_dir), embedder, COLLECTION, seed_papers(12))
    return data_dir


def ask(data_dir, embedder, question: str, reply: str, **settings) -> tuple[list, list[str]]:
    llm = ScriptedLLM(reply=reply)
    helper = Assistant(small_settings(data_dir, collection=COLLECTION, **settings),
                       llm=LanguageModel(llm, "scripted", "scripted", "test double"), embedder=embedder,
                       progress=False)
    return list(helper.stream(question)), llm.prompts


def test_the_model_reads_only_the_focused_papers_and_they_are_the_sources(data_dir, embedder):
    _, wide = ask(data_dir, embedder, REVERSAL_QUESTION, REVERSAL_REPLY, source_gap=1.0)
    events, narrow = ask(data_dir, embedder, REVERSAL_QUESTION, REVERSAL_REPLY, source_gap=0.0)
    found = next(e for e in events if isinstance(e, SourcesFound)).sources
    answer = events[-1].answer
    assert isinstance(events[-1], Done) and not answer.abstained and answer.citations[0].number == 1
    assert [s.rank for s in found] == [1] and answer.sources == found
    assert narrow[0].count("<paper>\n") == 1 < wide[0].count("<paper>\n")
    assert len(narrow[0]) < len(wide[0])


def test_a_list_question_is_given_every_retrieved_paper_and_more_are_judged(data_dir, embedder):
    events, prompts = ask(data_dir, embedder, "Which papers conjecture what causes the Reversal Curse?",
                          "The Reversal Curse paper [1].", source_gap=0.0)
    found = next(e for e in events if isinstance(e, SourcesFound)).sources
    assert len(found) == 10 and prompts[0].count("<paper>\n") == 6  # RAG_LIST_CANDIDATES: 10 may be listed
