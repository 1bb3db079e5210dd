"""Deciding to abstain: before the LLM when no source is on topic (by its words or its embedding), and from a
reply that opens with a refusal (an appended one is dropped)."""

from __future__ import annotations

from rag import Assistant
from rag.answering.abstention import model_refused, retrieval_is_weak, without_refusals
from rag.answering.profile import profile_question
from rag.retrieval import RetrievedPaper
from tests.reliability.papers import small_settings

# fresh-020 of the eval set: misspelt and paraphrased away from its paper's words (the Vietnamese retrieval paper)
PARAPHRASED = ("Wich paper tackles the lack of a dataset for evaluating search and re-ranking with text embedding "
               "models in a Southeast Asian language, proposes a modified InfoNCE loss, and studies how much the "
               "temperature hyperparameter matters?")
# dev-055: close to several seed papers (LLM interpretability) but answered by none of them
OUTSIDE = "Which paper trains sparse autoencoders on LLM activations to extract interpretable, monosemantic features?"


def test_opening_refusal_abstains():
    assert model_refused("The collection does not answer it. Maybe try another question.")
    assert model_refused("The abstracts do not mention the learning rate.")


def test_answer_with_appended_refusal_is_kept_without_it():
    reply = "The method needs 600,000 experiments [1]. The collection does not answer it."
    assert not model_refused(reply)
    assert without_refusals(reply) == "The method needs 600,000 experiments [1]."


def paper(abstract: str, similarity: float | None) -> RetrievedPaper:
    return RetrievedPaper(rank=1, paper_id="p", title="A paper", abstract=abstract, score=1.0,
                          dense_similarity=similarity)


def test_a_source_close_by_embedding_is_on_topic_although_it_shares_few_words():
    question = "How quickly do canines pass through energy walls?"
    close, far, unknown = paper("Dogs tunnel through quantum barriers.", 0.62), paper("Dogs bark.", 0.2), \
        paper("Dogs tunnel through quantum barriers.", None)
    assert not retrieval_is_weak(question, [far, close], 0.35, min_similarity=0.55)
    assert retrieval_is_weak(question, [far, close], 0.35, min_similarity=1.1)  # words alone
    assert retrieval_is_weak(question, [unknown], 0.35, min_similarity=0.55)  # BM25 only: no similarity
    assert not retrieval_is_weak("Do dogs tunnel through quantum barriers?", [far, unknown], 0.35, min_similarity=0.55)
    assert retrieval_is_weak(question, [], 0.0, min_similarity=-1.0)


def test_a_paraphrased_misspelt_question_is_asked_and_one_outside_the_collection_is_not(seed_settings, seed_index,
                                                                                         embedder):
    """Real MiniLM and Chroma over the seeds: the embedding, or both retrievers ranking the paper first, rescue the
    misspelt paraphrase that its words alone stop."""
    assistant = Assistant(seed_settings, embedder=embedder, progress=False)
    words_alone = assistant.variant(seed_settings.replace(abstain_similarity=1.1))
    bm25 = assistant.index().bm25()
    found = assistant.retrieve(PARAPHRASED, bm25=bm25)
    assert found[0].title.startswith("Advancing Vietnamese Information Retrieval")
    assert assistant.worth_asking(profile_question(PARAPHRASED), found, bm25.idf)
    assert retrieval_is_weak(PARAPHRASED, found, 0.35, bm25.idf, min_similarity=1.1)  # its words alone stop it ...
    assert found[0].bm25_rank == found[0].dense_rank == 1  # ... but both retrievers rank the paper first
    assert words_alone.worth_asking(profile_question(PARAPHRASED), found, bm25.idf)
    outside = assistant.retrieve(OUTSIDE, bm25=bm25)
    assert not assistant.worth_asking(profile_question(OUTSIDE), outside, bm25.idf)


def test_a_paper_both_retrievers_rank_among_their_first_two_is_asked_about(tmp_path):
    """Its words and its embedding both fall short, yet BM25 and the embedding agree on it (crafted rankings); an
    agreement on a paper far from the question by embedding is chance (a small collection) and not enough."""
    assistant = Assistant(small_settings(tmp_path), progress=False)
    asked = profile_question("Do dogs tunnel through quantum barriers?")

    def ranked(bm25_rank: int | None, dense_rank: int | None, similarity: float = 0.45) -> list[RetrievedPaper]:
        found = paper("Cats sit on warm mats.", similarity)
        found.bm25_rank, found.dense_rank = bm25_rank, dense_rank
        return [found]

    assert assistant.worth_asking(asked, ranked(2, 1), lambda term: 1.0)
    assert not assistant.worth_asking(asked, ranked(3, 1), lambda term: 1.0)
    assert not assistant.worth_asking(asked, ranked(1, None), lambda term: 1.0)  # BM25 alone
    assert not assistant.worth_asking(asked, ranked(1, 1, similarity=0.05), lambda term: 1.0)


# blind5-026 of the eval set: a comparison describing two weight generators, each in other words than its abstract's
COMPARED = ("Two weight generators: one chops a trained network's weights into disjoint chunks, models how the chunks "
            "relate with an RNN, and uses that RNN's outputs to condition a denoising diffusion generator; the other "
            "quantizes weights into discrete codes and emits them one token after another, conditioned on a text "
            "description of the task plus the data and the network design. What is each called, and which one claims "
            "it can produce LoRA weights for LLaMA-7B using only one GPU?")


def test_a_comparison_whose_words_are_spread_over_two_papers_is_asked_when_one_side_is_on_topic(seed_settings,
                                                                                                 seed_index, embedder):
    """Real MiniLM and Chroma over the seeds: the whole comparison covers neither paper enough, and the retrievers
    disagree on its best one; its first side, retrieved on its own, is on topic and finds its paper."""
    assistant = Assistant(seed_settings, embedder=embedder, progress=False)
    bm25 = assistant.index().bm25()
    profile = profile_question(COMPARED)
    found = assistant.retrieve(profile.query, bm25=bm25)

    def search(text: str, top_k: int | None = None) -> list[RetrievedPaper]:
        return assistant.retrieve(text, top_k=top_k, bm25=bm25)

    assert profile.sides is not None
    assert not assistant.worth_asking(profile, found, bm25.idf)  # the whole question alone is gated
    assert assistant.worth_asking(profile, found, bm25.idf, search)
    first_side = search(profile.sides[0])
    assert assistant.papers_on_topic(profile.sides[0], first_side, bm25.idf)
    assert "Recurrent Diffusion for Large-Scale Parameter Generation" in [p.title for p in first_side[:2]]
    assert not assistant.worth_asking(profile_question(OUTSIDE), assistant.retrieve(OUTSIDE, bm25=bm25), bm25.idf,
                                      search)  # no sides: the gate is unchanged
