"""Fitting abstracts into the prompt's budget: which sentences a shortened abstract keeps."""

from __future__ import annotations

from rag.answering.prompt import compress_abstract
from rag.text import content_terms

ABSTRACT = ("We fight mode collapse in GANs with a discriminator used as a feature embedding. "
            "Deep local linear embedding and isometric mapping regularize the discriminator's embedding. "
            "It beats the MaF-GAN baseline on CelebA (9.13 vs. 12.43 in FID). The code is available online.")
QUESTION = ("A GAN regularizes its discriminator's feature embedding with local linear embedding and isometric "
            "mapping. What FID does it get on CelebA?")


def words(text: str) -> int:
    return len(text.split())


def test_a_question_asking_for_a_number_keeps_the_sentence_with_the_figures():
    """The question's description of the method matches the describing sentences best; its figures are elsewhere."""
    terms = set(content_terms(QUESTION))
    kept = compress_abstract(ABSTRACT, terms, budget=25, count=words, figures_first=True)
    assert "9.13 vs. 12.43" in kept
    assert "9.13" not in compress_abstract(ABSTRACT, terms, budget=25, count=words)


def test_an_abstract_that_fits_is_kept_whole_and_sentences_keep_their_order():
    terms = set(content_terms(QUESTION))
    assert compress_abstract(ABSTRACT, terms, budget=1000, count=words, figures_first=True) == ABSTRACT
    kept = compress_abstract(ABSTRACT, terms, budget=40, count=words, figures_first=True)
    assert kept.index("Deep local") < kept.index("9.13")
