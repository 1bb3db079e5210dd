"""How questions are recognised (rag.answering.profile): one table of examples per property of the profile."""

from __future__ import annotations

import pytest

from rag.answering.profile import Kind, asks_for_figure, comparison_sides, profile_question
from rag.answering.question import Turn

L, F, N, P, PS = Kind.LOOKUP, Kind.FIGURE, Kind.NAME, Kind.WHICH_PAPER, Kind.WHICH_PAPERS
C, Y = Kind.COMPARISON, Kind.YES_NO


@pytest.mark.parametrize(("question", "kinds"), [
    ("What does the Reversal Curse paper conjecture?", {L}),
    ("What FID does it get on CelebA?", {L, F}),
    ("How much faster than AdamW is Sophia?", {L, F}),
    ("By how many points does it beat LoRA?", {L, F}),
    ("What top-1 accuracy does ViT-B reach?", {L, F}),
    ("What numerical values does it fit for the power-law exponents?", {L, F}),
    ("Which paper introduces FedPara?", {P}),
    ("Which paper reports how much faster sparse attention is?", {P, F}),
    ("Which papers use diffusion models to generate weights?", {PS}),
    ("what recent works study federated learning", {PS}),
    ("List all papers about Mamba.", {PS}),
    ("Which parameter-efficient fine-tuning papers use random bases?", {PS}),
    ("Which parameter-efficient fine-tuning methods adapt the singular values of the weights?", {PS}),
    ("Wich papers embed graph nodes without random walks?", {PS}),  # a misspelt "which"
    ("Wich paper introduces FedPara?", {P}),
    ("In which KD papers does the student beat its teacher?", {PS}),
    ("In which paper is the Reversal Curse called a binding problem?", {P}),
    ("Which survey follows inference-time compute from System-1 to System-2 models?", {P}),
    ("What's the work that offers an interactive tool built on ImageJ?", {P}),
    ("Is there a paper that scores the objects a multimodal model invents?", {P}),  # not a yes/no claim
    ("Which neural PDE solver swaps every handcrafted component for learned modules?", {P}),  # a work, by its name
    ("Which method estimates the chance of a purchase from the earlier steps?", {P}),
    ("Which optimizer does it use for the proxy model?", {L}),  # about a paper, not asking for one
    # the work described between its noun and its verb: by a phrase opening with a preposition, or between commas
    ("Which aggregation rule for combining worker updates in parameter-server training casts it as an MLE "
     "problem?", {P}),
    ("Which linear-time architecture, inspired by how brains limit interference, keeps several memory states?",
     {P}),  # "by how" asks no figure here
    ("Which method for image classification does it compare with?", {L}),
    ("Which tensor-train framework for LLMs comes in two flavours, and how many times fewer parameters does it "
     "train?", {L, F}),  # "comes in", then "flavours,": no verb
    ("Which model size outperforms Transformers twice its size?", {L, F}),
    ("Are there any studies that prune CNN filters without retraining?", {PS}),
    ("I need every paper whose experiments use the NYU Depth v2 dataset.", {PS}),  # a request, "every" + singular
    ("Give me all the works that forecast weather with GNNs.", {PS}),
    ("We're looking for studies that prune CNN filters.", {PS}),
    ("Which of these abstracts are computer-algebra papers?", {PS}),
    ("I need the paper that introduced LoRA.", {L}),  # one paper asked for by a request: no list
    ("What is the paper's main result?", {L}),  # about a paper, not asking for one
    ("A method maps frozen image features into a language model. What is it called?", {L, N}),
    ("Which earlier sharing technique does it repair, under what name?", {L, N}),
    ("Which methods did it use as baselines?", {L}),  # about one paper (it), not a list
    ("How many papers were retrieved?", {L, F}),
    ("Compare the pre-training objectives of HuBERT and APC.", {C}),
    ("How do AWQ and SpQR differ in protecting salient weights?", {C}),
    ("ReFT and LoFiT both edit hidden representations; how?", {C}),
    ("Lion versus AdaHessian: which state does each keep?", {C}),
    ("Compared with full fine-tuning, how many times less memory does it need?", {L, F}),  # against a baseline
    # a word of comparison inside a question about one work does not make it a comparison
    ("A paper compares the Poincare ball with the Lorentz model. Which instability does it fix?", {L}),
    ("What does the previous baseline it compares with get?", {L}),
    ("Which solver shows it subsumes finite-difference and finite-volume methods?", {P}),
    ("Which layer learns from both lower and higher layers?", {L}),
    ("What are the sizes of the two teacher models it was distilled from?", {L}),
    ("In the model whose encoder and decoder are both GPT-2s, what is the latent size?", {L, F}),
    ("Both fine-tuned Llama-2 for math: what does each report?", {C}),
    ("Two proposals fix linear attention. Which limitation does each target?", {C}),
    ("What does the first re-frame, and what does the second blame?", {C}),
    ("What does the first stage learn, and what does the second stage add?", {L}),
    ("Is it true that vitamin D lowers the risk of falls?", {Y}),
    ("Is it true that drug A is more effective than drug B after 26 weeks, compared with placebo?", {Y}),
    ("Does LoRA freeze the pretrained weights?", {Y}),
    ("Does it train faster, and by how much?", {L, F}),  # asks for a figure: not a yes/no question
])
def test_the_kinds_of_a_question(question, kinds):
    assert profile_question(question).kinds == kinds


@pytest.mark.parametrize(("question", "needs"), [
    ("What rank is used for that low-rank approximation?", True),
    ("How many tokens were its models trained on?", True),
    ("Which paper reports how much faster sparse attention is?", False),  # answered by a paper
    ("Which papers bound how much a network's output can change under perturbations?", False),
    ("What does the MaF-GAN baseline regularize?", False),
])
def test_which_questions_need_a_figure_in_their_answer(question, needs):
    assert profile_question(question).needs_figure is needs


@pytest.mark.parametrize(("question", "parts"), [
    ("How many parameters does it keep, and what fraction of the data does it need?",
     [("How many parameters does it keep", True), ("what fraction of the data does it need?", False)]),
    ("Which values can each weight take, and how much memory does it save?",
     [("Which values can each weight take", True), ("how much memory does it save?", True)]),
    # a description before the question is not a part of it
    ("The 2-bit LLM whose weights are the fourth roots of unity: how many tokens was it trained on?",
     [("how many tokens was it trained on?", True)]),
    ("For the method that derives differential equations from the Mellin-Barnes form: in which computer algebra "
     "system is it implemented?", [("in which computer algebra system is it implemented?", False)]),
    ("What does the MaF-GAN baseline regularize?", [("What does the MaF-GAN baseline regularize?", False)]),
    # a first part whose question word follows a description or a preposition is a part too
    ("A model stores each input as sparse cell assemblies. Besides MNIST, on which benchmark are results reported, "
     "and how long does learning take?",
     [("A model stores each input as sparse cell assemblies. Besides MNIST, on which benchmark are results reported",
       False), ("how long does learning take?", True)]),
    ("On how many NLP tasks was it tested, and with how many PLMs?",
     [("On how many NLP tasks was it tested", True), ("with how many PLMs?", True)]),
])
def test_a_question_is_cut_into_the_parts_it_asks(question, parts):
    assert [(p.text, p.needs_figure) for p in profile_question(question).parts] == parts


@pytest.mark.parametrize(("question", "sides"), [
    ("How do AWQ and SpQR differ in how they deal with outlier weights?", ("AWQ", "SpQR")),
    ("Compare the self-supervised objectives of HuBERT and autoregressive predictive coding (APC) for speech.",
     ("the self-supervised objectives of HuBERT", "autoregressive predictive coding (APC) for speech")),
    ("Lion versus ADAHESSIAN: what optimizer state does each use?", ("Lion", "ADAHESSIAN")),
    ("DyLoRA and IncreLoRA both tackle choosing LoRA ranks; how do their strategies differ?", ("DyLoRA", "IncreLoRA")),
    ("Two MoE papers: one routes each input to the strongest experts; the other merges experts after training. How?",
     ("routes each input to the strongest experts", "merges experts after training")),
    ("How does the autoregressive approach differ from the approach that uses latent diffusion?",
     ("the autoregressive approach", "the approach that uses latent diffusion")),
    ("Two papers: one moves the coupling to 2D Fourier space, the other makes OFT cheaper. What does each cost?",
     ("moves the coupling to 2D Fourier space", "makes OFT cheaper")),
    ("Which reports the bigger speed-up: the work that rescales UNet skips, or the work that penalises curvature?",
     ("rescales UNet skips", "penalises curvature")),
    ("Compare the method that adds tokens to both the image and the text encoder with the one that swaps the head: "
     "on how many datasets?", ("the method that adds tokens to both the image and the text encoder",
                               "the one that swaps the head")),
    ("Which is faster: the detector searched on CIFAR-10 (with Faster-RCNN), or the YOLO-style one? Give both.",
     ("the detector searched on CIFAR-10 (with Faster-RCNN)", "the YOLO-style one")),
    ("Two SR papers: a hybrid of convolution and attention, and a NAS that perturbs weights. Which is smaller?",
     ("a hybrid of convolution and attention", "a NAS that perturbs weights")),
    ("Two small-LM reports both punch above their weight: the Polish pair (own tokenizer and loss) and the 1.3B "
     "coder. How much larger?", ("the Polish pair (own tokenizer and loss)", "the 1.3B coder")),
    ("A thesis studies two ways of thinning nets: clipping small weights, and wiring layers by random graphs. Which "
     "cells does it cover?", None),  # two ways of one work, not two works
    ("Both papers avoid backfilling. How do they differ: what does the first train, and which classifier does the "
     "other fix?", None),  # what it asks of each, not what each is
    ("Nested embeddings versus FDEs. What speed-up does each report, and with how many candidates?",
     ("Nested embeddings", "FDEs")),
    ("What do both papers say about hallucinations?", None),
    ("FastRP compared with the paper counting subgraph co-occurrences: how much faster is it?",
     ("FastRP", "the paper counting subgraph co-occurrences")),
    ("Power Normalization beats LayerNorm on PTB, compared with the LayerNorm BERT: by how much?", None),
    ("Both cast tuning as a bandit: AutoTune for RAG pipelines and the work that picks a solver's omega for Ax=b "
     "solves. What is the first called, and which bandit does the second use?",
     ("AutoTune for RAG pipelines", "the work that picks a solver's omega for Ax=b solves")),  # within a sentence
    ("Both prune LLMs: what sparsity does SparseFoo reach, and what perplexity does WandaBar report?",
     ("what sparsity does SparseFoo reach", "what perplexity does WandaBar report")),
])
def test_the_two_sides_of_a_comparison(question, sides):
    assert comparison_sides(question) == sides


def test_a_yes_no_question_keeps_its_claim():
    profile = profile_question("Is it true that ALDH1 expression is associated with poorer prognosis?")
    assert profile.claim == "ALDH1 expression is associated with poorer prognosis"
    asked = "Does LoRA freeze the pretrained weights"
    assert profile_question(f"{asked}?").claim == asked


def test_a_follow_up_is_retrieved_with_the_question_before_it_and_keeps_the_previous_papers():
    history = [Turn("user", "Which papers quantize LLM weights to very few bits?"),
               Turn("assistant", "GPTQ [1]. AWQ [2].", ("p-gptq", "p-awq"))]
    profile = profile_question("And which of them also quantize activations?", history)
    assert profile.follow_up and profile.narrows and profile.lists_papers
    assert profile.query == "Which papers quantize LLM weights to very few bits? And which of them also quantize " \
                            "activations?"
    assert profile.previous_papers == ("p-gptq", "p-awq")
    assert profile.condition == "also quantize activations"  # judged on its own condition
    standalone = profile_question("Which papers prune attention heads?", history)
    assert not standalone.follow_up and standalone.query == standalone.asked and not standalone.previous_papers


def test_asks_for_figure_reads_any_text():
    assert asks_for_figure("what accuracy on ImageNet") and not asks_for_figure("which dataset")


@pytest.mark.parametrize(("question", "condition"), [
    ("Which recent papers use LoRA?", "use LoRA"),
    ("Wich papers embed graph nodes without random walks?", "embed graph nodes without random walks"),
    ("In which KD papers does the student beat its teacher?", "in which the student beat its teacher"),
    ("And which of them also quantize activations?", "also quantize activations"),
])
def test_what_a_listed_paper_must_do(question, condition):
    profile = profile_question(question)
    assert profile.condition == condition and "Wich" not in profile.asked


@pytest.mark.parametrize("question, verb", [
    ("Which paper traces the reversal curse to the binding problem?", "traces"),
    ("Which neural PDE solver swaps every handcrafted component for learned modules?", "swaps"),
    ("Which aggregation rule for combining worker updates in parameter-server training casts it as an MLE "
     "problem?", "casts"),  # "updates in": a noun before a preposition
    ("Which pruning method for lightweight SR (upscaling) networks trains a sparse net from random init?",
     "trains"),  # "networks trains": the second
    ("Which optimizer does it use?", None),
    ("Which solver relies on a learned preconditioner?", "relies"),  # right after its noun: any -s word
])
def test_the_verb_of_a_which_paper_question(question, verb):
    assert profile_question(question).which_paper_verb == verb
