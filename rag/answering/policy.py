"""Every threshold of the answer path in one object, built from the settings (`AnswerPolicy.of`)."""

from __future__ import annotations

from dataclasses import dataclass

from rag.settings import AnsweringSettings


@dataclass(frozen=True)
class AnswerPolicy:
    """The numbers the citation check, the list judge and the answer's grade decide by. Those a user may tune are
    settings (``RAG_*``, see `AnsweringSettings`); the others are fixed here, each with what it decides."""

    support: float = 0.5  # RAG_SUPPORT_THRESHOLD: IDF-weighted share of a claim's words its paper must contain
    on_topic: float = 0.4  # RAG_ON_TOPIC_SHARE: a cited paper covers this share of the best paper's coverage
    list_judge: float = 0.84  # RAG_LIST_JUDGE: P(Yes) a listed paper needs (above 1: words decide)
    list_judge_margin: float = 0.07  # RAG_LIST_JUDGE_MARGIN: ... and within this of the question's best P(Yes)
    evidence_coverage: float = 0.7  # RAG_SECOND_LOOK_THRESHOLD: the best paper covers the question well
    verdict_support: float = 0.95  # RAG_VERDICT_SUPPORT: P(Supports) a "yes" needs ...
    verdict_yes_margin: float = 0.35  # ... above P(Supports) of the claim's negation
    verdict_no_margin: float = 0.5  # a "no": the negation's P(Supports) this far above the claim's
    min_claim_terms: int = 3  # fewer content words: too little to judge a claim by its words
    clear_margin: float = 0.15  # an unmarked claim is cited when one paper supports it by this much more
    list_floor: float = 0.85  # by words, a listed paper covers this share of the support threshold ...
    list_relative: float = 0.75  # ... and this share of the best paper's coverage of the question
    title_share: float = 0.6  # text naming this share of a title's words (and nothing else) names the paper
    restated_share: float = 0.8  # a claim with this share of its words from the question only says it back
    measure_window: int = 4  # names this many words either side of a figure say what it measures
    acronym_letters: int = 5  # an acronym of at most this many letters may be spelt out ...
    acronym_slack: int = 4  # ... over this many more words than it has letters
    name_rarity: float = 0.85  # a name a paper introduces is its own when this rare (IDF) against its rarest word
    short_name_words: int = 5  # a title's head before its colon is its short name when this short
    own_voice_share: float = 0.5  # a listed paper's quoted reason is about its own work if such a sentence has this
    # share of the best sentence's (IDF-weighted) question words
    part_coverage: float = 0.5  # a quoted sentence holds this share of what a part of the question asks
    said_share: float = 0.5  # an answer holding this share of the words a part's sentence adds to the question
    # already says it: the sentence is not quoted
    evidence_sentences: int = 2  # sentences quoted as evidence when the model's reply could not be checked
    extra_margin: float = 0.03  # a list candidate ranked below top_k comes within this of the best P(Yes)
    agreeing_rank: int = 2  # the model is asked when BM25 and the embedding both rank the best paper this high ...
    agreeing_similarity: float = 0.4  # ... and it is this close by embedding (agreement far off is chance)

    @classmethod
    def of(cls, answering: AnsweringSettings) -> AnswerPolicy:
        return cls(support=answering.support_threshold, on_topic=answering.on_topic_share,
                   list_judge=answering.list_judge, list_judge_margin=answering.list_judge_margin,
                   evidence_coverage=answering.second_look_threshold, verdict_support=answering.verdict_support)
