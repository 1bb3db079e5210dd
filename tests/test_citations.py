"""Citation checking on crafted answers: wrong, missing and out-of-range markers."""

from __future__ import annotations

import pytest

from rag.answering.answer import Source
from rag.answering.citations import short_name
from rag.answering.markers import parse_numbers
from rag.answering.support import introduced_names
from tests.support.checking import make_checker

SOURCES = [
    Source(rank=1, paper_id="cats", title="Cats on Mats", score=1.0,
           abstract="We study cats sitting on mats in kitchens. Cats prefer warm woollen mats over cold tiles."),
    Source(rank=2, paper_id="dogs", title="Quantum Dogs", score=0.9,
           abstract="Dogs tunnel through quantum barriers. We measure the tunnelling rate of dogs at low temperature."),
]
# a paper named in answer to "which papers": its title, and why it is listed, quoted from its own work
DOGS_LISTED = "Quantum Dogs — “We measure the tunnelling rate of dogs at low temperature” [2]."


def check(answer: str):
    return make_checker(SOURCES, threshold=0.5).check(answer)


def test_correct_marker_is_kept_with_quote():
    result = check("Cats prefer warm woollen mats over cold tiles [1].")
    assert result.text == "Cats prefer warm woollen mats over cold tiles [1]."
    assert [(c.number, c.paper_id, c.quote) for c in result.citations] == [
        (1, "cats", "Cats prefer warm woollen mats over cold tiles.")
    ]


def test_wrong_marker_is_replaced_by_supporting_source():
    result = check("Dogs tunnel through quantum barriers [1].")
    assert result.text == "Dogs tunnel through quantum barriers [2]."
    assert [c.paper_id for c in result.citations] == ["dogs"]


def test_out_of_range_marker_is_replaced_or_its_sentence_dropped():
    assert check("Dogs tunnel through quantum barriers [7].").text == "Dogs tunnel through quantum barriers [2]."
    result = check("The sky is blue and the grass grows green [9].")
    assert result.text == ""
    assert result.citations == []


def test_a_sentence_whose_every_citation_fails_is_dropped():
    result = check("Cats prefer warm woollen mats [1]. The sky is blue and the grass grows green [1].")
    assert result.text == "Cats prefer warm woollen mats [1]."
    [hit] = result.trail  # the rule that removed it, and why
    assert (hit.rule, hit.action, hit.cited, hit.kept) == ("unsupported", "drop", [1], [])
    assert hit.claim == "The sky is blue and the grass grows green [1]." and "too few of its words" in hit.reason


def test_an_unmarked_sentence_stays_and_a_partly_supported_one_keeps_its_support():
    result = check("Cats prefer warm woollen mats [1], and the sky is blue and green [2]. Nothing more is said.")
    assert result.text == "Cats prefer warm woollen mats [1], and the sky is blue and green. Nothing more is said."


def test_missing_marker_is_attached_when_one_source_clearly_supports():
    result = check("Dogs tunnel through quantum barriers at low temperature.")
    assert result.text == "Dogs tunnel through quantum barriers at low temperature [2]."


def test_an_unmarked_sentence_that_only_says_back_the_question_gets_no_marker():
    """The premise of "Dogs tunnel through quantum barriers: at what rate?" is not an answer to cite."""
    checker = make_checker(SOURCES, 0.5, question="Dogs tunnel through quantum barriers: at what rate?")
    result = checker.check("Dogs tunnel through quantum barriers. They reach 3 tunnels per hour [2].")
    assert result.citations == [] and result.text == "Dogs tunnel through quantum barriers."
    told = checker.check("Dogs tunnel through quantum barriers, measured at low temperature.")
    assert told.text == "Dogs tunnel through quantum barriers, measured at low temperature [2]."


def test_an_unmarked_figure_no_source_supports_is_dropped():
    """"It fits alpha = 0.85." without a marker: no source states 0.85, so the reader does not see it."""
    result = check("Dogs tunnel through quantum barriers [2]. The tunnelling rate of dogs is 0.85 per hour.")
    assert result.text == "Dogs tunnel through quantum barriers [2]."
    kept = check("Dogs tunnel through quantum barriers [2]. Cats sit on 2 warm mats. The sky is blue.")
    assert kept.text == "Dogs tunnel through quantum barriers [2]. The sky is blue."  # no figure: not a claim to check
    stated = make_checker(SEGMENTATION, 0.5).check("It gains 0.5 mIoU on A-847 in open-vocabulary segmentation.")
    assert stated.text == "It gains 0.5 mIoU on A-847 in open-vocabulary segmentation [1]."


def test_figures_after_a_sentences_last_marker_are_checked_too():
    """Words after the last marker of a sentence are a claim of their own: figures no paper on topic states go,
    a claim the cited paper supports stays."""
    sources = [Source(rank=1, paper_id="a", title="O-MMGP: Optimal Mesh Morphing Gaussian Process Regression",
                      score=1.0, abstract="We learn optimal mesh morphing mappings, apply POD after the transformation "
                      "and fit Gaussian process regressors. We compare with the winning solution of the ML4CFD "
                      "competition."),
               Source(rank=2, paper_id="b", title="An adaptive optimizer", score=0.5,
                      abstract="Our optimizer obtains 1.80% higher accuracy on Cifar10 and 5.55% higher accuracy on "
                      "ImageNet compared to Adam.")]
    checker = make_checker(sources, 0.5, on_topic=0.3, question="The mesh-morphing approach that learns optimal "
                           "mappings and applies POD: what score would it obtain against the ML4CFD winner?")
    checked = checker.check("The mesh-morphing approach that learns optimal mappings and applies POD: [1] O-MMGP "
                            "obtained 1.80% higher accuracy on Cifar10 and 5.55% on ImageNet compared to Adam.")
    assert checked.text == "The mesh-morphing approach that learns optimal mappings and applies POD [1]."
    assert [(hit.rule, hit.action) for hit in checked.trail] == [("unbacked statement", "drop")]
    kept = checker.check("According to [1], the approach fits Gaussian process regressors after POD.")
    assert kept.text == "According to [1], the approach fits Gaussian process regressors after POD." and not kept.trail


def test_a_claim_restating_a_paraphrased_question_is_judged_on_what_it_adds():
    """A small model opens its answer by saying the (paraphrased) question back; the claim stands if the paper
    states what it adds, and falls if the paper does not."""
    sources = [Source(rank=1, paper_id="pasta", title="Parameter-Efficient Tuning with Special Token Adaptation",
                      score=1.0, abstract="We only modify the special token representations (e.g., [SEP] and [CLS] "
                      "in BERT) before the self-attention module at each layer. It trains 0.029% of the parameters.")]
    question = ("Which approach for BERT-like encoders freezes every pretrained weight and only alters the hidden "
                "vectors of a couple of particular tokens right before attention, and which tokens does it name?")
    checker = make_checker(sources, 0.5, question=question, on_topic=0.4)
    restated = ("The approach for BERT-like encoders that freezes every pretrained weight and only alters the hidden "
                "vectors of a couple of particular tokens right before attention modifies the special token "
                "representations (e.g., [SEP] and [CLS] in BERT) before the self-attention module at each layer.")
    kept = checker.check(restated)
    assert kept.text == restated.removesuffix(".") + " [1]." and [c.paper_id for c in kept.citations] == ["pasta"]
    invented = restated.replace("modifies the special token representations (e.g., [SEP] and [CLS] in BERT) before "
                                "the self-attention module at each layer", "prunes redundant convolution channels "
                                "with gradient saliency scores")
    assert checker.check(invented.replace(".", " [1].")).text == ""


def test_claims_split_at_markers_and_multi_source_groups():
    result = check("Cats prefer woollen mats [2], while dogs tunnel through quantum barriers [1].")
    assert result.text == "Cats prefer woollen mats [1], while dogs tunnel through quantum barriers [2]."
    both = check("Cats prefer warm mats and dogs tunnel through barriers [1, 2].")
    assert both.text == "Cats prefer warm mats and dogs tunnel through barriers [1] [2]."


def test_duplicate_citations_are_listed_once():
    result = check("Cats prefer warm woollen mats [1]. Cats sit on mats in kitchens [1].")
    assert [c.number for c in result.citations] == [1]


def test_marker_variants_are_parsed():
    assert parse_numbers("1, 3-4") == [1, 3, 4]
    assert check("Dogs tunnel through quantum barriers [Source 2].").text == "Dogs tunnel through quantum barriers [2]."


def test_stray_marker_without_claim_is_dropped():
    result = check("Cats prefer warm woollen mats [1]. [1]")
    assert result.text == "Cats prefer warm woollen mats [1]."


def test_leading_marker_moves_to_the_end_of_its_claim():
    assert check("[2] Dogs tunnel through quantum barriers.").text == "Dogs tunnel through quantum barriers [2]."


def test_marker_only_sentence_belongs_to_the_previous_claim():
    result = check("Dogs tunnel through quantum barriers at low temperature. This is from [2].")
    assert result.text == "Dogs tunnel through quantum barriers at low temperature [2]."


def test_marker_only_reply_lists_the_papers_that_match_the_question():
    checker = make_checker(SOURCES, threshold=0.5, question="Which papers study dogs tunnelling?")
    result = checker.check("[1] [2]")
    assert result.text == DOGS_LISTED
    assert [c.paper_id for c in result.citations] == ["dogs"]


def test_numbers_the_source_does_not_state_are_unsupported():
    checker = make_checker(SOURCES, threshold=0.5, question="How many dogs tunnel?")
    result = checker.check("Dogs tunnel through quantum barriers 42 times [2].")
    assert result.citations == [] and result.dropped == 1
    assert result.trail[0].reason == "[2] does not state 42"


def test_a_number_the_source_spells_out_is_stated():
    """"4 datasets" is what "four datasets" says; "fourfold" states 4 as a multiplier only."""
    grid = [Source(rank=1, paper_id="hpo", title="Tabular Benchmarks for HPO", score=1.0,
                   abstract="We precompute a grid of configurations on four regression datasets. Lookups give a "
                   "fivefold cheaper comparison.")]
    checker = make_checker(grid, 0.5, question="How many datasets does the HPO grid cover?")
    covers = "The grid covers 4 regression datasets [1]."
    assert checker.check(covers).text == covers
    assert checker.check("Lookups make the comparison 5x cheaper [1].").citations
    assert checker.check("The grid has 5 configurations [1].").citations == []  # "fivefold" is no count


def test_names_the_source_does_not_state_are_unsupported():
    """A venue, model or dataset name (a capital after the first letter) must be in the cited paper or the
    question: the model cannot add "NeurIPS" to a paper that never says where it appeared."""
    venue = make_checker(SOURCES, threshold=0.5, question="Where was the paper on dogs published?")
    assert venue.check("Dogs tunnel through quantum barriers, published at NeurIPS [2].").citations == []
    assert make_checker(SOURCES, 0.5, question="Do dogs tunnel at NeurIPS?").check(
        "Dogs tunnel through quantum barriers, published at NeurIPS [2].").citations  # the question's own name
    named = [Source(rank=1, paper_id="llm", title="Tuning LLMs with LoRA", score=1.0,
                    abstract="We fine-tune GPT-4 sized models with low-rank adapters.")]
    kept = make_checker(named, 0.5).check("The LLM is tuned with LoRAs, low-rank adapters for GPT 4 models [1].")
    assert [c.paper_id for c in kept.citations] == ["llm"]  # plurals, hyphens and spaces do not matter


SEGMENTATION = [
    Source(rank=1, paper_id="seg", title="Open-Vocabulary Segmentation with Text", score=1.0,
           abstract="Our method improves open-vocabulary segmentation. It gains +0.5 and +2.3 mIoU on A-847 and "
                    "PC-459."),
    Source(rank=2, paper_id="norm", title="PowerNorm for Transformers", score=0.9,
           abstract="PN outperforms LN by 0.4/0.6 BLEU on IWSLT14/WMT14 and 5.6/3.0 PPL on PTB/WikiText-103."),
]


def test_a_figure_must_be_the_sources_figure_for_the_measure_named_beside_it():
    """Names next to a stated number say what it measures, and the cited paper must name them too, even when the
    question already did: a paper reporting mIoU on A-847 does not give "mIoU on ADE20K", one reporting BLEU and
    PPL does not give a "GLUE average"."""
    asked = "What mIoU does SemAIM get on ADE20K, and what GLUE average does PN reach?"
    checker = make_checker(SEGMENTATION, 0.5, question=asked)
    assert checker.check("SemAIM reports an mIoU of 0.5 on ADE20K semantic segmentation [1].").citations == []
    assert checker.check("PN reaches a GLUE average of 5.6 on PTB/WikiText-103 [2].").citations == []
    kept = checker.check("The method gains 0.5 mIoU on A-847 in open-vocabulary segmentation [1].")
    assert [c.paper_id for c in kept.citations] == ["seg"]
    kept = checker.check("PN outperforms LN by 5.6 PPL on PTB [2].")
    assert [c.paper_id for c in kept.citations] == ["norm"]


def test_a_figure_must_come_with_its_unit_and_benchmark_in_one_sentence():
    """"27.1 mIoU on ADE20K" is not given by "27.1 PQ on ADE20K", though the paper reports mIoU elsewhere."""
    panoptic = [Source(rank=1, paper_id="seg", title="Open-Vocabulary Segmentation", score=1.0,
                       abstract="It gains +0.5 mIoU on A-847. On ADE20K we reach 27.1 PQ and 73.5 SQ.")]
    checker = make_checker(panoptic, 0.5, question="What mIoU does it reach on ADE20K?")
    assert checker.check("It reaches 27.1 mIoU on ADE20K [1].").citations == []
    assert checker.check("It reaches 27.1 PQ on ADE20K [1].").citations
    titled = [Source(rank=1, paper_id="slim", title="0.1% Data Makes SAM Slim", score=1.0, abstract="We prune it.")]
    assert make_checker(titled, 0.5).check("Slim needs 0.1% data of SAM [1].").citations  # the title's figure


ENWIK = "On EnWik8, our model reaches a lower loss with a 1.37times faster forward pass."
FASTRP = "FastRP is over 4,000 times faster than DeepWalk and node2vec."
FOURFOLD = "It quantizes activations to 4-bit and gives a fourfold reduction in GPU memory."
DILATED = ("Dilated convolutions are faster than the FFT-based parallelized recurrence in GPUs: up to 7.07times "
           "faster for sequences up to 131k.")
MS_MLP = "An MS-MLP with 85 million parameters achieves 83.8% top-1 accuracy on ImageNet-1K."


@pytest.mark.parametrize(("abstract", "question", "claim", "stands"), [
    # "1.37times faster" does not give a bits-per-character of 1.37
    (ENWIK, "What bits-per-character does the model reach on EnWik8?",
     "The model reaches a bits-per-character of 1.37 on EnWik8 [1].", False),
    (ENWIK, "What bits-per-character does the model reach on EnWik8?",
     "The model's forward pass on EnWik8 is 1.37 times faster [1].", True),
    (FASTRP, "How much faster than DeepWalk is FastRP?",
     "FastRP is over 4,000 times faster than DeepWalk and node2vec [1].", True),  # a thousands separator
    (FOURFOLD, "By what factor does it cut GPU memory?",
     "It cuts GPU memory by a factor of 4.0 with 4-bit activations [1].", True),  # 4.0 is 4, "fourfold" a factor
    (FOURFOLD, "By what factor does it cut GPU memory?",
     "It cuts GPU memory by a factor of 4.5 with 4-bit activations [1].", False),
    # "85M" beside a figure is what "85 million parameters" says
    (MS_MLP, "What top-1 accuracy does the 85M-parameter MS-MLP reach?",
     "The 85M-parameter MS-MLP achieves 83.8% top-1 accuracy on ImageNet-1K [1].", True),
    (MS_MLP, "What top-1 accuracy does the 85M-parameter MS-MLP reach?",
     "The 85B-parameter MS-MLP achieves 83.8% top-1 accuracy on ImageNet-1K [1].", False),
    # "FFT-computed" beside a figure names FFT, which "the FFT-based recurrence" names; "TPU-computed" names TPU
    (DILATED, "How much faster than the FFT-computed recurrence is it?",
     "It is 7.07times faster than the FFT-computed recurrence on sequences up to 131k [1].", True),
    (DILATED, "How much faster than the FFT-computed recurrence is it?",
     "It is 7.07times faster than the TPU-computed recurrence on sequences up to 131k [1].", False),
])
def test_a_figure_stands_only_as_the_paper_writes_it(abstract, question, claim, stands):
    """Multipliers, thousands separators, trailing zeros and magnitudes in words are read as the paper means them."""
    paper = [Source(rank=1, paper_id="paper", title="The Paper", score=1.0, abstract=abstract)]
    assert bool(make_checker(paper, 0.5, question=question).check(claim).citations) is stands


def test_an_acronym_beside_a_figure_may_be_spelt_out_in_the_source():
    pendulum = [Source(rank=1, paper_id="dim", title="Intrinsic Dimension", score=1.0,
                       abstract="We compare supervised, reinforcement, and other types of learning: the inverted "
                                "pendulum problem is 100 times easier than classifying MNIST digits.")]
    checker = make_checker(pendulum, 0.5, question="How much easier is the RL pendulum problem than MNIST?")
    assert checker.check("The inverted pendulum RL problem is 100 times easier than MNIST [1].").citations
    assert not checker.check("The inverted pendulum GAN problem is 100 times easier than MNIST [1].").citations


def test_rare_terms_weigh_more_than_common_ones():
    rare = {"martian": 7.0}
    checker = make_checker(SOURCES, threshold=0.5, weight=lambda term: rare.get(term, 0.5))
    result = checker.check("Martian cats prefer warm mats [1].")
    assert result.citations == []
    assert make_checker(SOURCES, threshold=0.5).check("Martian cats prefer warm mats [1].").citations


def test_pointer_sentence_gives_its_marker_to_the_previous_claim():
    result = check("Dogs tunnel through quantum barriers at low temperature. This is stated in [2].")
    assert result.text == "Dogs tunnel through quantum barriers at low temperature [2]."


def test_a_sentence_naming_only_the_previous_claims_words_points_at_its_source():
    """"X is 12.43. This score is from paper [1].": the marker is for the figure, which paper 1 must state."""
    result = check("Dogs tunnel through quantum barriers 12.43 times. This figure is from paper [2].")
    assert result.citations == [] and result.text == ""
    result = check("Dogs tunnel through quantum barriers. These dogs are from paper [2].")
    assert result.text == "Dogs tunnel through quantum barriers [2]."


def test_punctuation_is_tidied_around_markers():
    assert check("Dogs tunnel through quantum barriers, [2].").text == "Dogs tunnel through quantum barriers [2]."


def test_listed_titles_are_kept_only_when_their_paper_answers_the_question():
    checker = make_checker(SOURCES, threshold=0.5, question="Which papers study dogs tunnelling?")
    result = checker.check("[1] Cats on Mats [2] Quantum Dogs")
    assert result.text == DOGS_LISTED
    assert [c.paper_id for c in result.citations] == ["dogs"]


def test_marker_as_subject_is_replaced_by_the_title():
    checker = make_checker(SOURCES, threshold=0.5, question="Which paper measures how fast dogs tunnel?")
    expected = "Quantum Dogs measures the tunnelling rate of dogs at low temperature [2]."
    assert checker.check("[2] measures the tunnelling rate of dogs at low temperature.").text == expected
    assert checker.check("[2] Measures the tunnelling rate of dogs at low temperature.").text == expected


def test_the_asked_verb_as_subject_counts_without_its_s():
    checker = make_checker(SOURCES, threshold=0.5, question="Which paper measures how fast dogs tunnel?")
    assert checker.check("[2] Measure the tunnelling rate of dogs at low temperature.").text.startswith("Quantum Dogs")
    method = make_checker(SOURCES, threshold=0.5, question="Which method measures how fast dogs tunnel?")
    assert method.check("[2] Measures the tunnelling rate of dogs at low temperature.").text.startswith("Quantum Dogs")


def test_an_item_that_says_back_the_question_becomes_its_papers_title():
    checker = make_checker(SOURCES, threshold=0.5, question="Which paper lets dogs tunnel through quantum barriers?")
    result = checker.check("[2] Dogs tunnel through quantum barriers.")
    assert result.text == DOGS_LISTED and [c.paper_id for c in result.citations] == ["dogs"]
    other = make_checker(SOURCES, threshold=0.5, question="How do dogs get through quantum barriers?")
    assert other.check("[2] Dogs tunnel through quantum barriers.").text == "Dogs tunnel through quantum barriers [2]."


def test_a_named_paper_whose_sentence_says_the_question_back_says_why_in_its_abstracts_words():
    """"<title> <the question said back> [n]" names the paper but not why: it is listed as a title is, with its
    reason quoted, unless the sentence already says it; an answer that says something of its own stays as it is."""
    checker = make_checker(SOURCES, threshold=0.5, question="Which paper lets dogs tunnel through quantum barriers?")
    result = checker.check("The paper lets dogs tunnel through quantum barriers [2].")
    assert result.text == DOGS_LISTED
    assert [c.quote for c in result.citations] == ["We measure the tunnelling rate of dogs at low temperature."]
    said = "Quantum Dogs measures the tunnelling rate of dogs at low temperature [2]."
    assert checker.check(said).text == said
    facts = make_checker(SOURCES, threshold=0.5, question="How do dogs get through quantum barriers?")
    assert facts.check("Dogs tunnel through quantum barriers [2].").text == "Dogs tunnel through quantum barriers [2]."


def test_a_paraphrased_which_paper_question_said_back_names_the_first_and_best_covering_paper():
    """A question paraphrased away from its abstract shares few words with it, so a reply saying the question back
    is not supported by its paper's words; it still names the paper it cites when that paper is retrieval's first
    and covers the question best. Any other paper cited that way is dropped."""
    dogs_first = [SOURCES[1].model_copy(update={"rank": 1}), SOURCES[0].model_copy(update={"rank": 2})]
    question = "Which paper has hounds burrowing through quantum walls?"
    checker = make_checker(dogs_first, threshold=0.5, question=question)
    result = checker.check("The paper has hounds burrowing through quantum walls [1].")
    assert result.text == "Quantum Dogs — “Dogs tunnel through quantum barriers” [1]."
    assert [c.paper_id for c in result.citations] == ["dogs"]
    assert checker.check("The paper has hounds burrowing through quantum walls [2].").text == ""
    item = checker.check("[1] Has hounds burrowing through quantum walls.")  # the asked verb after the marker
    assert item.text == "Quantum Dogs — “Dogs tunnel through quantum barriers” [1]."
    not_first = make_checker(SOURCES, threshold=0.5, question=question)
    assert not_first.check("The paper has hounds burrowing through quantum walls [2].").text == ""
    facts = make_checker(dogs_first, threshold=0.5, question="How do hounds burrow through quantum walls?")
    assert facts.check("Hounds burrow through quantum walls [1].").text == ""


HOUNDS = [
    Source(rank=1, paper_id="hounds", title="Quantum Dogs", score=1.0,
           abstract="Dogs tunnel through quantum barriers. We call such dogs TunnelHounds. We train only 1% of the "
                    "weights of our rate estimator."),
    SOURCES[0].model_copy(update={"rank": 2, "score": 0.9}),
]


def test_an_unmarked_claim_naming_what_only_one_paper_names_cites_that_paper():
    checker = make_checker(HOUNDS, threshold=0.5, question="What are the dogs crossing quantum walls called?",
                           on_topic=0.4)
    result = checker.check("The burrowing canines are termed TunnelHounds.")  # too few of the paper's words
    assert result.text == "The burrowing canines are termed TunnelHounds [1]."
    assert [c.paper_id for c in result.citations] == ["hounds"] and result.trail[0].rule == "named source"
    assert checker.check("The burrowing canines are termed QuantumHounds.").citations == []  # none names it
    assert checker.check("TunnelHounds.").citations == []  # a bare name is no claim
    asked = make_checker(HOUNDS, threshold=0.5, on_topic=0.4,
                         question="Which breeds, e.g. BarkBeagles, are the dogs crossing quantum walls?")
    said = asked.check("The burrowing canines are BarkBeagles and TunnelHounds.")  # no paper names BarkBeagles
    assert said.citations == [] and "named source" not in [hit.rule for hit in said.trail]


def test_a_question_said_back_with_a_figure_its_paper_states_stands():
    """A paraphrased question said back shares few words with the abstract; what it adds (a figure) is checked."""
    question = "What fraction of its weights does the canine quantum study update?"
    checker = make_checker(HOUNDS, threshold=0.5, question=question)
    said = "The canine quantum study updates 1% of its weights [1]."
    assert checker.check(said).text == said
    assert checker.check("The canine quantum study updates 7% of its weights [1].").text == ""
    assert "[2]" not in checker.check("The canine quantum study updates 1% of its weights [2].").text


def test_a_question_said_back_after_a_marker_is_judged_by_the_figure_it_adds():
    """"According to [1], ..." (how a second look's reply opens): the words after the marker are the claim, and a
    paraphrase said back with a figure its paper states stands; a figure it does not state is still dropped."""
    question = "What share of the parameters does the burrowing-canine barrier paper adjust?"
    checker = make_checker(HOUNDS, threshold=0.5, question=question, forced=True)
    said = "According to [1], the burrowing-canine barrier paper adjusts 1% of its parameters."
    assert checker.check(said).text == said
    assert checker.check(said.replace("1%", "7%")).text == ""


def test_a_named_paper_saying_more_of_its_abstract_than_the_question_keeps_its_words():
    """Said back about a named paper, an item is listed with why; one that also says something its abstract says
    ("It trains an estimator.") keeps its own words."""
    question = ("Which paper lets dogs tunnel through quantum barriers, measured at low temperature by a rate model, "
                "and what does it train?")
    checker = make_checker(HOUNDS, threshold=0.5, question=question)
    said = "Quantum Dogs lets dogs tunnel through quantum barriers, measured at low temperature by a rate model."
    assert checker.check(f"[1] {said}").text.startswith("Quantum Dogs — “")
    assert checker.check(f"[1] {said} It trains an estimator.").text == f"{said} It trains an estimator [1]."


def test_a_listed_title_under_the_wrong_number_cites_its_own_paper():
    checker = make_checker(SOURCES, threshold=0.5, question="Which papers study dogs tunnelling?")
    assert checker.check("[1] Quantum Dogs").text == DOGS_LISTED


def test_marker_as_subject_of_an_unfitting_paper_is_dropped():
    checker = make_checker(SOURCES, threshold=0.5, question="Which paper proposes a watermark for generated text?")
    result = checker.check("[1] proposes a watermark for generated text.")
    assert result.citations == [] and result.text == ""


def test_a_repeated_sentence_is_said_once():
    result = check("Dogs tunnel through quantum barriers [2]. Dogs tunnel through quantum barriers [2].")
    assert result.text == "Dogs tunnel through quantum barriers [2]."


def test_a_claim_from_a_paper_the_question_is_not_about_is_dropped_when_on_topic_is_on():
    """"How do cats choose mats?" is about paper 1: a true sentence of paper 2 does not answer it."""
    question = "Which mats do cats prefer in kitchens?"
    claim = "Dogs tunnel through quantum barriers at low temperature [2]."
    assert make_checker(SOURCES, 0.5, question=question).check(claim).citations  # the words are in paper 2
    strict = make_checker(SOURCES, 0.5, question=question, on_topic=0.4)
    assert strict.check(claim).citations == []
    kept = strict.check("Cats prefer warm woollen mats over cold tiles [1].")
    assert [c.paper_id for c in kept.citations] == ["cats"]
    assert strict.check("Dogs tunnel through quantum barriers.").citations == []  # no marker is added either


def test_an_off_topic_paper_is_dropped_however_short_the_claim_and_so_is_the_figure_only_it_states():
    """"Which mats ...?" is about paper 1: a figure that only paper 2 states, and a bare "Quantum Dogs [2].", are
    not answers to it (a 2-bit LLM question answered with another paper's accuracy gain, then its name)."""
    dogs = Source(rank=2, paper_id="dogs", title="Quantum Dogs", score=0.9,
                  abstract="Dogs tunnel through quantum barriers at a rate of 3 per hour at low temperature.")
    sources = [SOURCES[0], dogs]
    strict = make_checker(sources, 0.5, question="Which mats do cats prefer in kitchens?", on_topic=0.4)
    reply = "Cats prefer warm woollen mats [1]. The dogs tunnel at a rate of 3 per hour. [2] Quantum Dogs."
    result = strict.check(reply)
    assert result.text == "Cats prefer warm woollen mats [1]." and [c.number for c in result.citations] == [1]
    lenient = make_checker(sources, 0.5).check(reply)  # on_topic off: both stand
    assert lenient.text == ("Cats prefer warm woollen mats [1]. The dogs tunnel at a rate of 3 per hour [2]. "
                            "Quantum Dogs [2].")


def test_a_paper_described_but_not_named_gets_its_name_when_the_answer_cites_several():
    reply = ("The first paper studies cats sitting on mats in kitchens [1]. "
             "The second study measures the tunnelling rate of dogs [2]. Quantum Dogs tunnel through barriers [2].")
    assert check(reply).text == (
        "The first paper (Cats on Mats) studies cats sitting on mats in kitchens [1]. "
        "The second study (Quantum Dogs) measures the tunnelling rate of dogs [2]. "
        "Quantum Dogs tunnel through barriers [2].")
    alone = "The paper studies cats sitting on mats in kitchens [1]."
    assert check(alone).text == alone  # one paper: no doubt which


def test_a_short_name_is_the_title_before_its_colon_or_dash():
    assert short_name("BRAVE: Broadening the visual encoding of vision-language models") == "BRAVE"
    assert short_name("CompeteSMoE -- Effective Training of Sparse Mixture of Experts") == "CompeteSMoE"
    assert short_name("Parameter Competition Balancing for Model Merging") == (
        "Parameter Competition Balancing for Model Merging")


def test_a_comparison_sentence_turning_to_the_other_side_is_checked_one_side_at_a_time():
    """One marker after a sentence about both papers: each side's clause is checked alone, and re-cited to the
    paper that states it (outside a comparison the sentence is one claim, credited to one paper as a whole)."""
    compared = make_checker(SOURCES, threshold=0.5, question="How do the cats paper and the dogs paper differ?")
    both = ("Cats prefer warm woollen mats over cold tiles, while the second paper measures the tunnelling rate of "
            "dogs at low temperature [2].")
    result = compared.check(both)
    assert result.text == ("Cats prefer warm woollen mats over cold tiles [1]. The second paper (Quantum Dogs) "
                           "measures the tunnelling rate of dogs at low temperature [2].")
    assert [c.paper_id for c in result.citations] == ["cats", "dogs"]
    assert [c.paper_id for c in check(both).citations] == ["cats"]
    unmarked = compared.check("Cats prefer warm woollen mats over cold tiles; the dogs paper measures the "
                              "tunnelling rate of dogs at low temperature.")
    assert [c.paper_id for c in unmarked.citations] == ["cats", "dogs"]
    listed = compared.check("They study cats, mats, and Dogs [1].")  # a list's last item is no other side
    assert listed.text == "They study cats, mats, and Dogs [1]."


def test_a_comparison_sentence_turns_at_its_contrast_whatever_the_marker_layout():
    compared = make_checker(SOURCES, threshold=0.5, question="Cats versus Dogs: what does each study?")
    assert compared.sentences("Cats sit on Mats and Tiles, while Dogs tunnel through barriers. [1], [2]") == [
        "Cats sit on Mats and Tiles [1] [2].", "Dogs tunnel through barriers [1] [2]."]  # the contrast, not "and"
    assert compared.sentences("[2] Cats prefer warm mats, and the second paper's dogs tunnel through barriers.") == [
        "Cats prefer warm mats [2].", "The second paper's dogs tunnel through barriers [2]."]


def test_a_comparison_sentence_contrasting_two_figures_is_checked_side_by_side():
    """"A reaches 84.1%, while <the other described> reaches 83.8%": each figure against its own paper, though
    the second side is described, not named as "the second paper"."""
    sources = [Source(rank=1, paper_id="aim", title="Semantic Autoregressive Image Modeling", score=1.0,
                      abstract="Semantic autoregressive image modeling predicts patches from the most to the least "
                               "semantic ones and reaches 84.1% top-1 accuracy with ViT-B on ImageNet."),
               Source(rank=2, paper_id="mlp", title="Mixing and Shifting MLPs", score=0.9,
                      abstract="The token-mixing MLP grows its receptive field with spatial shifting and achieves "
                               "83.8% top-1 accuracy on ImageNet.")]
    checker = make_checker(sources, 0.5, question="Which is more accurate on ImageNet: the autoregressive "
                                                  "patch model or the shifting MLP? Give both numbers.")
    result = checker.check("Semantic autoregressive image modeling reaches 84.1% top-1 accuracy with ViT-B on "
                           "ImageNet, while the token-mixing shifting MLP achieves 83.8% top-1 accuracy on ImageNet.")
    assert [c.paper_id for c in result.citations] == ["aim", "mlp"] and "83.8%" in result.text


def test_a_listed_paper_is_quoted_from_its_own_work_rather_than_its_fields_background():
    background = "Pruning graph neural networks at initialization saves memory on large graphs."
    own = "We prune graph neural networks by their weights' gradients."
    sources = [Source(rank=1, paper_id="prune", title="Gradient Pruning", score=1.0, abstract=f"{background} {own}")]
    question = "Which papers prune graph neural networks at initialization to save memory?"
    checker = make_checker(sources, threshold=0.5, question=question)
    result = checker.check("[1] Gradient Pruning")
    assert result.text == f"Gradient Pruning — “{own[:-1]}” [1]." and result.citations[0].quote == own
    only_background = make_checker([sources[0].model_copy(update={"abstract": f"{background} We use it."})],
                                   threshold=0.5, question=question)
    assert only_background.check("[1] Gradient Pruning").text == f"Gradient Pruning — “{background[:-1]}” [1]."


INTRODUCED = [  # (abstract sentences, what the question or title already says, the name the paper introduces)
    (["In this paper, we propose a novel method named OptFS to address these problems."], "", "OptFS"),
    (["We introduce a Higher-order Graph Convolutional Network (HiGCN) grounded in FP Laplacians."], "", "HiGCN"),
    (["This method, namely parallel scaling (ParScale), is proposed here."], "", "ParScale"),
    (["We present FastRP, a scalable algorithm for node representations."], "", "FastRP"),
    (["We describe a new method, DeFINE, for learning deep token representations."], "", "DeFINE"),
    (["Deep neural networks (DNNs) are large.", "We propose to prune deep neural networks (DNNs)."], "", ""),
    (["Mixture of experts is popular.", "Prior work called MoE-X scales it."], "", ""),  # not the paper's own work
    (["We propose Practical Plug-And-Play (PPAP), a guidance framework."], "Which papers use PPAP?", ""),
    (["We propose to maximise the collected coins (reward)."], "", ""),  # a word, not a name
]


def test_the_name_a_paper_gives_its_own_method_is_found():
    for sentences, known, name in INTRODUCED:
        assert next(introduced_names(sentences, known), "") == name, sentences


def test_a_listed_paper_is_named_by_what_it_introduces_when_neither_title_nor_quote_says_it():
    reason = "Click-through rate models transform features into latent vectors and enumerate interactions."
    named = "In this paper, we propose a novel method named OptFS to select the feature set."
    sources = [Source(rank=1, paper_id="optfs", title="Optimizing Feature Set for CTR Prediction", score=1.0,
                      abstract=f"{reason} {named}")]
    checker = make_checker(sources, threshold=0.5, question="Which papers choose the feature interactions a "
                                                            "click-through rate model enumerates?")
    assert checker.check("[1] Optimizing Feature Set for CTR Prediction").text == (
        f"Optimizing Feature Set for CTR Prediction (OptFS) — “{reason[:-1]}” [1].")


def test_a_claim_describing_the_asked_paper_is_not_moved_to_another_paper_stating_its_figure():
    """A claim saying back the question's description of the first and best-covering paper, with a figure only
    another paper states, is about the asked paper: it is dropped, not re-cited to the other paper. A claim that
    does not describe the asked paper is still re-cited, as is any claim of a comparison (it describes two)."""
    sources = [
        Source(rank=1, paper_id="warm", title="Warm Mats for Cats", score=1.0,
               abstract="We study cats choosing warm woollen mats in cold kitchens."),
        Source(rank=2, paper_id="tiles", title="Tiles", score=0.9,
               abstract="Dogs sleep on cold tiles for 7 hours a day."),
    ]
    checker = make_checker(sources, threshold=0.5, question="How long do cats choosing warm woollen mats sleep?")
    assert checker.check("Cats choosing warm woollen mats sleep on cold tiles for 7 hours a day [1].").text == ""
    moved = checker.check("Dogs sleep on cold tiles for 7 hours a day [1].")
    assert moved.text == "Dogs sleep on cold tiles for 7 hours a day [2]."
    compared = make_checker(sources, threshold=0.5, question="Compare cats choosing warm woollen mats with dogs "
                            "sleeping on cold tiles: how long does each sleep?")
    assert compared.first_and_best(1)  # a comparison describes both papers: a side's claim may go to its paper
    assert compared.check("Dogs sleep on cold tiles for 7 hours a day [1].").text == (
        "Dogs sleep on cold tiles for 7 hours a day [2].")
    assert compared.check("The dogs sleeping on cold tiles sleep for 7 hours a day [1].").text == (
        "The dogs sleeping on cold tiles sleep for 7 hours a day [2].")


def test_a_second_looks_claim_naming_what_its_paper_does_not_name_is_dropped():
    """The second look opens the reply for the model ("According to [1],"), so it may answer about something the
    paper is not: a claim saying a name of the question its cited paper never names is dropped there, with the
    sentence. A reply the model wrote itself is judged by the other rules."""
    question = "How much warmer a mat does Whiskers prefer over cold tiles?"
    reply = "According to [1], Whiskers prefers warm woollen mats over cold tiles."
    forced = make_checker(SOURCES, threshold=0.5, question=question, forced=True)
    result = forced.check(reply)
    assert result.text == "" and result.trail[0].rule == "forced name"
    assert not result.citations  # nothing it said stands, so it cites nothing
    going_on = forced.check(reply + " We study cats sitting on mats in kitchens.")
    assert going_on.text == "" and not going_on.citations  # what follows is about that paper, not Whiskers
    assert [hit.rule for hit in going_on.trail] == ["forced name", "forced name"]
    assert forced.check("Whiskers prefers warm woollen mats over cold tiles [1].").text == ""
    assert forced.check("According to [1], cats prefer warm woollen mats over cold tiles.").citations  # no name said
    unforced = make_checker(SOURCES, threshold=0.5, question=question)
    assert unforced.check("Whiskers prefers warm woollen mats over cold tiles [1].").citations
    spelt = make_checker(SOURCES, threshold=0.5, question="What do QDs tunnel through?", forced=True)
    assert spelt.check("According to [2], QDs tunnel through quantum barriers.").citations  # "Quantum Dogs"
    named = make_checker(SOURCES, threshold=0.5, question="Which mats do the Cats on Mats prefer?", forced=True)
    assert named.check("According to [1], the Cats on Mats prefer warm woollen mats.").citations  # [1] names it


def test_a_forced_name_is_the_name_the_question_is_about():
    """"Whiskers-based" names Whiskers; a name the question likens something to ("a Garfield style mat") is not
    what it asks about, so a paper need not name it."""
    joined = make_checker(SOURCES, threshold=0.5, question="Which mats do QD-based dogs tunnel through?", forced=True)
    assert joined.check("According to [2], QD-based dogs tunnel through quantum barriers.").citations
    stray = make_checker(SOURCES, threshold=0.5, question="Which mats do Whiskers-based cats like?", forced=True)
    assert stray.check("According to [1], Whiskers-based cats prefer warm woollen mats.").text == ""
    likened = make_checker(SOURCES, threshold=0.5, question="Which cats prefer a Garfield style warm mat?",
                           forced=True)
    assert likened.check("According to [1], cats prefer Garfield style warm woollen mats.").citations
