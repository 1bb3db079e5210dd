"""A question asking for a figure is answered only with one: a checked reply that states no number the question
lacks (it describes the paper, or says the figure is not given) abstains.

Unit tests on crafted text, then the assistant over 12 seed papers and one crafted GAN abstract in real embedded
Chroma with MiniLM; the LLM is the scripted fake (a test double).
"""

from __future__ import annotations

import pytest

from rag import Assistant
from rag.answering.citations import states_figure
from rag.answering.question import answer_needs_figure
from rag.assistant import NO_FIGURE_NOTE
from rag.models.llm import LanguageModel
from tests.reliability.papers import fill_collection, paper, seed_papers, small_settings
from tests.support.fakes import ScriptedLLM

COLLECTION = "figures"
GAN_ABSTRACT = ("We fight mode collapse in GANs with a discriminator used as a feature embedding. Deep local linear "
                "embedding and isometric mapping regularize the discriminator's embedding. It beats the MaF-GAN "
                "baseline on CelebA (9.13 vs. 12.43 in FID).")
QUESTION = ("A GAN regularizes its discriminator's feature embedding with deep local linear embedding and isometric "
            "mapping to fight mode collapse. What FID does it reach on CelebA?")


@pytest.mark.parametrize("answer, question, stated", [
    ("It reaches an FID of 9.13 on CelebA [1].", QUESTION, True),
    ("It regularizes the discriminator's embedding to fight mode collapse [1].", QUESTION, False),
    ("The paper [2] does not give the rank used for the approximation.", "What rank is used?", False),
    ("It trains twice as fast as AdamW [3].", "How much faster than AdamW does it train?", True),
    ("It is 2x faster [1].", "Is it 2x faster?", False),  # the question's own figure
])
def test_an_answer_states_a_figure_when_it_gives_a_number_the_question_lacks(answer, question, stated):
    assert states_figure(answer, question) is stated


@pytest.mark.parametrize("question, needs", [
    (QUESTION, True),
    ("What rank is used for that low-rank approximation?", True),
    ("What numerical values does it fit for the power-law exponents?", True),
    ("How many tokens were its models trained on?", True),
    ("Which paper reports how much faster sparse attention is?", False),
    ("Which papers bound how much a network's output can change under perturbations?", False),
    ("What does the MaF-GAN baseline regularize?", False),
])
def test_which_questions_need_a_figure_in_their_answer(question, needs):
    assert answer_needs_figure(question) is needs


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory, embedder):
    data_dir = tmp_path_factory.mktemp("figures")
    papers = [*seed_papers(12), paper("gan", "Embedding-Regularized GANs Against Mode Collapse", GAN_ABSTRACT)]
    fill_collection(small_settings(data_dir), embedder, COLLECTION, papers)
    return data_dir


def ask(data_dir, embedder, reply: str):
    llm = LanguageModel(ScriptedLLM(reply=reply), "scripted", "scripted", "test double")
    assistant = Assistant(small_settings(data_dir, collection=COLLECTION), llm=llm, embedder=embedder,
                          progress=False)
    return assistant.ask(QUESTION)


def test_a_reply_that_only_describes_the_paper_abstains(data_dir, embedder):
    answer = ask(data_dir, embedder, "The GAN regularizes the discriminator's embedding with deep local linear "
                                     "embedding and isometric mapping to fight mode collapse [1].")
    assert answer.sources[0].paper_id == "gan"
    assert answer.abstained and answer.citations == [] and answer.answer.endswith(NO_FIGURE_NOTE)


def test_a_reply_giving_the_figure_is_answered(data_dir, embedder):
    answer = ask(data_dir, embedder, "It reaches an FID of 9.13 on CelebA, beating MaF-GAN's 12.43 [1].")
    assert not answer.abstained and "9.13" in answer.answer and answer.citations[0].paper_id == "gan"
