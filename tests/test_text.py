"""Text utilities (rag.text): sentences, and the evidence sentence a source card shows before the answer."""

from __future__ import annotations

from rag.text import most_relevant_sentence, split_sentences

ABSTRACT = ("We study graphs. Our method prunes graph neural networks at initialization. "
            "Pruning keeps accuracy on graphs and citation networks.")


def test_the_sentence_sharing_the_most_question_terms_is_the_evidence():
    assert most_relevant_sentence(ABSTRACT, "How are graph neural networks pruned?") == (
        "Our method prunes graph neural networks at initialization.")


def test_rare_terms_outweigh_common_ones_and_ties_go_to_the_earlier_sentence():
    question = "graph neural citation"  # two terms in each of the last two sentences
    assert most_relevant_sentence(ABSTRACT, question).startswith("Our method prunes")
    rare = {"citat": 9.0}
    assert most_relevant_sentence(ABSTRACT, question, lambda t: rare.get(t, 1.0)).startswith("Pruning keeps")
    assert most_relevant_sentence(ABSTRACT, "graphs") == "We study graphs."


def test_no_shared_term_means_no_evidence():
    assert most_relevant_sentence(ABSTRACT, "protein folding") == ""
    assert most_relevant_sentence("", "graphs") == ""


def test_abbreviations_do_not_end_a_sentence_but_words_ending_like_them_do():
    text = ("Posteriors serve likelihood-based and simulation-based problems. However, checking them is hard "
            "(e.g. for ODEs). It works in general. Smith et al. agree, cf. Fig. 2. The best. Ok.")
    assert split_sentences(text) == [
        "Posteriors serve likelihood-based and simulation-based problems.",
        "However, checking them is hard (e.g. for ODEs).",
        "It works in general.",
        "Smith et al. agree, cf. Fig. 2.",
        "The best.",
        "Ok.",
    ]
