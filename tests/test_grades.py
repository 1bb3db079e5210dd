"""Graded answers: answered, partly answered, quoted evidence, not in the collection; a comparison's missing side
is read alone; a yes/no claim gets a checked verdict.

Unit tests on crafted text, then the assistant over 12 seed papers and crafted abstracts in real embedded Chroma
with MiniLM. The LLM is the scripted fake (a test double, `tests.support.fakes`), given next-token probabilities
by `StancedLLM` where a test needs the model's judgement.
"""

from __future__ import annotations

import pytest

from rag import Assistant, Completing, Done, Judging
from rag.answering.answer import Source
from rag.answering.grading import NO_FIGURE_NOTE, Attempt, grade
from rag.answering.support import states_figure
from rag.models.llm import LanguageModel
from tests.reliability.papers import fill_collection, paper, seed_papers, small_settings
from tests.support.checking import make_checker
from tests.support.fakes import ScriptedLLM

COLLECTION = "grades"
GAN_ABSTRACT = ("We fight mode collapse in GANs with a discriminator used as a feature embedding. Deep local linear "
                "embedding and isometric mapping regularize the discriminator's embedding. It beats the MaF-GAN "
                "baseline on CelebA (9.13 vs. 12.43 in FID).")
GAN_QUESTION = ("A GAN regularizes its discriminator's feature embedding to fight mode collapse. What FID does it "
                "reach on CelebA?")
SALIENT = ("SaliencyQuant: Activation-Aware Weight Quantization",
           "We quantize large language models to 4 bits. SaliencyQuant protects the 1% of salient weights, found from "
           "activation magnitudes, by scaling them per channel before rounding, with no mixed precision.")
OUTLIER = ("OutlierQuant: Sparse Outliers for Near-Lossless Compression",
           "We compress large language models to 3-4 bits. OutlierQuant isolates outlier weights that cause large "
           "quantization errors and stores them sparsely in 16-bit precision, quantizing the rest in small groups.")
COMPARISON = "How do SaliencyQuant and OutlierQuant differ in how they treat the weights that cause large errors?"
SIDE_A = "SaliencyQuant protects the 1% of salient weights by scaling them per channel before rounding [1]."
SIDE_B = "OutlierQuant stores the outlier weights sparsely in 16-bit precision [1]."
AIRWAY = ("Tazimab Promotes Airway Inflammation in Allergic Mice",
          "We tested the antibody tazimab in a mouse model of allergic asthma. Tazimab promoted airway inflammation: "
          "eosinophil counts in the lungs rose threefold after treatment.")
CLAIM = "Is it true that tazimab suppresses airway inflammation in allergic mice?"


@pytest.mark.parametrize("answer, question, stated", [
    ("It reaches an FID of 9.13 on CelebA [1].", GAN_QUESTION, True),
    ("It regularizes the discriminator's embedding to fight mode collapse [1].", GAN_QUESTION, False),
    ("The paper [2] does not give the rank used for the approximation.", "What rank is used?", False),
    ("It trains twice as fast as AdamW [3].", "How much faster than AdamW does it train?", True),
    ("It is 2x faster [1].", "Is it 2x faster?", False),  # the question's own figure
])
def test_an_answer_states_a_figure_when_it_gives_a_number_the_question_lacks(answer, question, stated):
    assert states_figure(answer, question) is stated


class StancedLLM(LanguageModel):
    """The scripted fake LLM, plus next-token probabilities for judge prompts: ``stances`` maps a word of the
    paper's title to the probabilities of (Supports, Contradicts, Neither) for the claim, then for its negation;
    other papers get Neither."""

    def __init__(self, replies: list[str], stances: dict[str, list[float]]):
        super().__init__(ScriptedLLM(reply=replies[0], later=replies[1:]), "scripted", "scripted", "test double")
        self.stances = stances
        self.judged: list[str] = []

    def option_probabilities(self, messages, pieces=None, options=()):
        text = messages[-1].content
        self.judged.append(text)
        claim, negated = next((p for word, p in self.stances.items() if word in text), ([0.05, 0.05, 0.9],) * 2)
        return negated if "Claim: It is not true that" in text else claim


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory, embedder):
    data_dir = tmp_path_factory.mktemp("grades")
    papers = [*seed_papers(12), paper("gan", "Embedding-Regularized GANs Against Mode Collapse", GAN_ABSTRACT),
              paper("salient", *SALIENT), paper("outlier", *OUTLIER), paper("airway", *AIRWAY)]
    fill_collection(small_settings(data_dir), embedder, COLLECTION, papers)
    return data_dir


def assistant(data_dir, embedder, *replies: str, stances: dict | None = None) -> Assistant:
    llm = StancedLLM(list(replies), stances or {})
    return Assistant(small_settings(data_dir, collection=COLLECTION), llm=llm, embedder=embedder, progress=False)


def test_a_reply_giving_the_figure_is_answered(data_dir, embedder):
    answer = assistant(data_dir, embedder, "It reaches an FID of 9.13 on CelebA, beating MaF-GAN's 12.43 [1].").ask(
        GAN_QUESTION)
    assert answer.grade == "answered" and "9.13" in answer.answer and answer.citations[0].paper_id == "gan"
    assert answer.trail[-1].rule == "answered"


def test_a_two_part_answer_missing_its_figure_keeps_its_other_part(data_dir, embedder):
    question = "Which baseline does the mode-collapse GAN beat, and what Inception Score does it reach on LSUN?"
    answer = assistant(data_dir, embedder, "It beats the MaF-GAN baseline [1].").ask(question)
    assert answer.grade == "partial" and not answer.abstained
    assert answer.answer.startswith("It beats the MaF-GAN baseline [1].")
    assert answer.missing == ["what Inception Score does it reach on LSUN?"]
    assert answer.answer.endswith("(The abstracts checked do not give: what Inception Score does it reach on LSUN.)")
    assert answer.trail[-1].rule == "missing figure"


def test_a_two_part_answer_missing_a_figure_its_paper_gives_quotes_the_papers_sentence(data_dir, embedder):
    question = "Which baseline does the mode-collapse GAN beat, and what FID does it reach on CelebA?"
    answer = assistant(data_dir, embedder, "It beats the MaF-GAN baseline [1].").ask(question)
    assert answer.grade == "answered" and answer.missing == []
    assert answer.answer == ("It beats the MaF-GAN baseline [1]. Quoted from [1]: “It beats the MaF-GAN baseline on "
                             "CelebA (9.13 vs. 12.43 in FID).”")
    assert answer.trail[-1].rule == "missing figure" and "quoted" in answer.trail[-1].reason


def test_an_answer_leaving_a_part_without_its_facts_quotes_the_sentence_that_gives_them(data_dir, embedder):
    """The quote is added only for the part the answer leaves out: an answer stating one of the facts a sentence
    for that part states gets nothing more."""
    question = "What does the mode-collapse GAN regularize its discriminator with, and which baseline does it beat?"
    reply = "It regularizes the discriminator's embedding with deep local linear embedding and isometric mapping [1]."
    answer = assistant(data_dir, embedder, reply).ask(question)
    assert answer.grade == "answered"
    assert answer.answer.endswith("Quoted from [1]: “It beats the MaF-GAN baseline on CelebA (9.13 vs. 12.43 in FID).”")
    assert "quoted for: which baseline does it beat?" in answer.trail[-1].reason
    complete = reply.removesuffix(" [1].") + "; it beats MaF-GAN [1]."
    answer = assistant(data_dir, embedder, complete).ask(question)
    assert "Quoted from" not in answer.answer and answer.trail[-1].reason == ""


def test_a_one_part_figure_question_answered_without_a_figure_quotes_the_figure_or_abstains(data_dir, embedder):
    describes = "The GAN regularizes the discriminator's embedding with deep local linear embedding [1]."
    answer = assistant(data_dir, embedder, describes).ask(GAN_QUESTION)
    assert answer.grade == "evidence" and "9.13 vs. 12.43 in FID" in answer.answer  # the paper's own sentence
    assert answer.answer.startswith("Quoted from [1] (the model's reply could not be checked):")
    unstated = "A GAN regularizes its discriminator's feature embedding. What Inception Score does it reach on LSUN?"
    answer = assistant(data_dir, embedder, describes).ask(unstated)
    assert answer.abstained and answer.citations == [] and answer.answer.endswith(NO_FIGURE_NOTE)


def test_a_refused_paraphrase_gets_the_first_papers_sentence_when_it_gives_what_each_part_asks(data_dir, embedder):
    """A paraphrase shares too few words with the abstract for it to cover the question well; the paper retrieval
    ranks first (and whose words cover the question best) is still quoted when one of its sentences gives each
    part, with the figure asked: not when none does."""
    refusal = "The collection does not answer this question."
    paraphrase = "A generative adversarial net treats its critic as an embedding against collapsing outputs. "
    answer = assistant(data_dir, embedder, refusal, refusal).ask(paraphrase + "What FID does it get on CelebA?")
    assert answer.grade == "evidence" and answer.trail[-1].rule == "refused"
    assert answer.answer == ("Quoted from [1] (the model's reply could not be checked): “It beats the MaF-GAN baseline "
                             "on CelebA (9.13 vs. 12.43 in FID).” [1]")
    answer = assistant(data_dir, embedder, refusal, refusal).ask(paraphrase + "What FID does it get on LSUN?")
    assert answer.grade == "not-found" and answer.trail[-1].rule == "refused"


def test_a_title_only_reply_to_a_facts_question_is_not_an_answer(data_dir, embedder):
    question = "What does the mode-collapse GAN use its discriminator as, and which dataset does it test on?"
    answer = assistant(data_dir, embedder, "Embedding-Regularized GANs Against Mode Collapse [1]. "
                                           "Embedding-Regularized GANs Against Mode Collapse [1].").ask(question)
    assert answer.grade in ("evidence", "not-found") and answer.trail[-1].rule == "only says back"
    assert "Embedding-Regularized GANs Against Mode Collapse [1]" not in answer.answer


def test_a_reply_restating_the_question_and_naming_a_title_is_not_an_answer(data_dir, embedder):
    question = "The GAN that regularizes its discriminator's embedding to fight mode collapse: who funded it?"
    reply = ("The GAN that regularizes its discriminator's embedding to fight mode collapse [1] Embedding-Regularized "
             "GANs Against Mode Collapse.")
    answer = assistant(data_dir, embedder, reply).ask(question)
    assert answer.abstained and answer.trail[-1].rule == "only says back"


def test_a_reply_restating_the_question_with_a_word_of_its_paper_added_is_an_answer(data_dir, embedder):
    """"... is fourth order in one variable [1]": one word the question lacks, which its paper states, answers it."""
    question = ("The GAN whose discriminator embedding is regularized by deep local linear embedding and isometric "
                "mapping to fight mode collapse: what does it use the discriminator as?")
    reply = ("It uses the discriminator as a feature embedding to fight mode collapse, regularized by deep local "
             "linear embedding and isometric mapping [1].")
    answer = assistant(data_dir, embedder, reply).ask(question)
    assert answer.grade == "answered" and "feature embedding" in answer.answer


def test_a_papers_own_name_answers_a_question_asking_what_it_is_called(data_dir, embedder):
    """The title's name is no answer to "what does it use?", but it is to "what is it called?"."""
    question = ("A method quantizes LLM weights by protecting the salient ones found from activations. What is it "
                "called?")
    answer = assistant(data_dir, embedder, "SaliencyQuant is the method that quantizes LLM weights by protecting the "
                                           "salient ones found from activations [1].").ask(question)
    assert answer.grade == "answered" and answer.answer.startswith("SaliencyQuant is the method")


def test_a_comparison_covering_one_side_reads_the_other_sides_paper_alone(data_dir, embedder):
    helper = assistant(data_dir, embedder, SIDE_A, SIDE_B)
    events = list(helper.stream(COMPARISON))
    completing = [e for e in events if isinstance(e, Completing)]
    assert [(e.part, [s.paper_id for s in e.sources]) for e in completing] == [("OutlierQuant", ["outlier"])]
    second_prompt = helper.llm.llm.prompts[1]
    assert second_prompt.count("<paper>\n") == 1 and "OutlierQuant" in second_prompt
    answer = events[-1].answer
    assert isinstance(events[-1], Done) and answer.grade == "answered"
    assert {c.paper_id for c in answer.citations} == {"salient", "outlier"}
    assert "16-bit precision" in answer.answer and "salient weights" in answer.answer


def test_a_comparison_described_in_other_words_than_its_abstracts_finds_each_sides_paper(data_dir, embedder):
    """The second side shares few words with its abstract ("set aside in a wider number format" for "stores them
    sparsely in 16-bit precision"); the retriever still ranks its paper first for it. The first reply covers the
    first side only (its citation re-cited to SaliencyQuant's number)."""
    paraphrased = ("Two ways to quantize large language models to few bits: compare the method that rescales a few "
                   "important weights per channel before rounding with the one that sets the rare error-causing "
                   "weights aside in a wider number format. How does each treat them?")
    helper = assistant(data_dir, embedder, SIDE_A, SIDE_B)
    events = list(helper.stream(paraphrased))
    completing = [e for e in events if isinstance(e, Completing)]
    assert [[s.paper_id for s in e.sources] for e in completing] == [["outlier"]]
    assert {c.paper_id for c in events[-1].answer.citations} == {"salient", "outlier"}


def test_a_comparison_whose_other_side_is_not_given_is_partly_answered(data_dir, embedder):
    refusal = "The collection does not answer this question."
    answer = assistant(data_dir, embedder, SIDE_A, refusal).ask(COMPARISON)
    assert answer.grade == "partial" and answer.missing == ["OutlierQuant"]
    assert [c.paper_id for c in answer.citations] == ["salient"]
    side = next(hit for hit in answer.trail if hit.rule == "side read alone")  # why the side is missing
    assert side.action == "missing" and side.claim == refusal and "said it does not answer" in side.reason


def test_a_comparison_the_model_refuses_reads_each_sides_paper_alone(data_dir, embedder):
    """Refused over all the sources: each side's paper is read alone (SaliencyQuant is [2]), and both answers
    stand."""
    refusal = "The collection does not answer this question."
    helper = assistant(data_dir, embedder, refusal, SIDE_A.replace("[1]", "[2]"), SIDE_B)
    events = list(helper.stream(COMPARISON))
    completing = [e for e in events if isinstance(e, Completing)]
    assert [(e.part, [s.paper_id for s in e.sources]) for e in completing] == [
        ("SaliencyQuant", ["salient"]), ("OutlierQuant", ["outlier"])]
    assert all(prompt.count("<paper>\n") == 1 for prompt in helper.llm.llm.prompts[-2:])
    answer = events[-1].answer
    assert answer.grade == "answered" and {c.paper_id for c in answer.citations} == {"salient", "outlier"}
    assert "16-bit precision" in answer.answer and "salient weights" in answer.answer


def test_a_comparison_whose_every_claim_is_dropped_is_partly_answered_by_the_side_that_answers_alone(
        data_dir, embedder):
    unsupported = "Both methods train a separate network on ImageNet for many epochs [1] [2]."
    refusal = "The collection does not answer this question."
    answer = assistant(data_dir, embedder, unsupported, SIDE_A.replace("[1]", "[2]"), refusal).ask(COMPARISON)
    assert answer.grade == "partial" and answer.missing == ["OutlierQuant"]
    assert [c.paper_id for c in answer.citations] == ["salient"] and "ImageNet" not in answer.answer
    rules = [hit.rule for hit in answer.trail]
    assert "side read alone" in rules and rules[-1] == "missing side"


def test_a_comparison_no_side_answers_alone_is_not_in_the_collection(data_dir, embedder):
    refusal = "The collection does not answer this question."
    answer = assistant(data_dir, embedder, refusal).ask(COMPARISON)
    assert answer.abstained and answer.grade == "not-found"
    assert [hit.action for hit in answer.trail if hit.rule == "side read alone"] == ["missing", "missing"]


def test_a_yes_to_a_claim_its_paper_contradicts_is_never_shown(data_dir, embedder):
    """The model supports the negation far more than the claim, and its likeliest stance on the claim is
    Contradicts."""
    helper = assistant(data_dir, embedder, "Yes, tazimab suppresses airway inflammation [1].",
                       stances={"Tazimab Promotes": ([0.2, 0.7, 0.1], [0.9, 0.05, 0.05])})
    events = list(helper.stream(CLAIM))
    assert any(isinstance(e, Judging) for e in events)
    answer = events[-1].answer
    assert answer.grade == "answered" and answer.verdict.stance == "contradicts"
    assert answer.answer.startswith("No: [1] reports the opposite: “Tazimab promoted airway inflammation")
    assert not answer.answer.startswith("Yes") and helper.llm.llm.prompts == []  # the reply was never needed
    assert answer.citations[0].paper_id == "airway"


def test_a_claim_the_model_supports_only_as_much_as_its_negation_is_quoted_not_affirmed(data_dir, embedder):
    """A small model says Supports to anything on topic: to the claim and to its negation alike."""
    biased = {"Tazimab Promotes": ([0.98, 0.01, 0.01], [0.9, 0.05, 0.05])}
    answer = assistant(data_dir, embedder, "Yes [1].", stances=biased).ask(CLAIM)
    assert answer.grade == "evidence" and answer.verdict is None
    assert answer.answer.startswith("Not settled") and "Yes" not in answer.answer
    sure = {"Tazimab Promotes": ([0.98, 0.01, 0.01], [0.3, 0.6, 0.1])}
    answer = assistant(data_dir, embedder, "No [1].", stances=sure).ask(CLAIM)
    assert answer.verdict.stance == "supports" and answer.answer.startswith("Yes: [1] supports the claim: “")


def test_a_reply_using_words_of_a_paper_it_does_not_cite_still_says_something():
    """Only the titles of the papers a sentence cites are words it could be saying back: another retrieved paper's
    title sharing the answer's words does not make the answer a restatement."""
    sources = [Source(rank=1, paper_id="salient", title=SALIENT[0], abstract=SALIENT[1], score=1.0),
               Source(rank=2, paper_id="other", title="Protecting Salient Weights by Scaling Channels", score=0.9,
                      abstract="We survey how quantizers protect salient weights by scaling channels.")]
    question = "How does the activation-aware 4-bit method treat the weights that matter most?"
    checker = make_checker(sources, 0.5, question=question)
    checked = checker.check("It protects salient weights by scaling them per channel before rounding [1].")
    outcome = grade(Attempt(checker.profile, checker, checked))
    assert outcome.grade.value == "answered" and outcome.citations[0].paper_id == "salient"
