"""The model as judge of "which papers" answers (rag.answering.judge): the judge decides which retrieved papers a
list names, whether or not the model named them.

The checker and assistant tests use crafted replies and scripted judges (no model runs; the assistant tests use
the scripted fake LLM over real Chroma and MiniLM). The ``llm`` test runs the real Qwen2.5-Coder-0.5B.
"""

from __future__ import annotations

import numpy as np
import pytest

from rag import Assistant, Done, Judging, LLMError, Settings, Turn
from rag.answering.answer import Source
from rag.answering.citations import CitationChecker
from rag.answering.judge import PaperJudge, judge_line, judge_prompt
from rag.answering.profile import profile_question
from rag.answering.prompt import paper_block
from rag.in_flight import QuestionsInFlight
from rag.models.llm import YES_NO_WORDS, LanguageModel
from rag.models.pieces import Piece
from tests.reliability.papers import fill_collection, paper, small_settings
from tests.support.checking import make_checker
from tests.support.fakes import ScriptedLLM
from ui.render import judging_message

QUESTION = "Which papers train models with federated learning across many clients?"
SOURCES = [
    Source(rank=1, paper_id="fedavg", title="Communication-Efficient Federated Averaging", score=1.0,
           abstract="We train models with federated learning across many clients. Averaging client updates cuts "
                    "communication."),
    Source(rank=2, paper_id="survey", title="Many Clients, Many Models: A Survey of Model Training", score=0.9,
           abstract="We survey how clients train models. Federated setups are mentioned once."),
    Source(rank=3, paper_id="fedpara", title="FedPara: Low-Rank Client Updates", score=0.8,
           abstract="Clients send low-rank updates of their weights to a server that aggregates them privately."),
    Source(rank=4, paper_id="curricula", title="When Do Curricula Work in Decentralized Training?", score=0.7,
           abstract="We order each client's data from easy to hard during collaborative training."),
]
FEDPARA_LISTED = ("FedPara: Low-Rank Client Updates — “Clients send low-rank updates of their weights to a server that "
                  "aggregates them privately” [3].")


def checker(verdicts: dict[int, bool] | None) -> CitationChecker:
    judge = None if verdicts is None else (lambda n: verdicts.get(n))
    return make_checker(SOURCES, 0.5, question=QUESTION, on_topic=0.4, judge=judge)


def test_a_list_where_the_model_names_one_of_three_matching_papers_lists_all_three():
    result = checker({1: True, 2: False, 3: True, 4: True}).check(
        "Communication-Efficient Federated Averaging trains models with federated learning across many clients [1].")
    assert [c.number for c in result.citations] == [1, 3, 4]
    assert result.text.startswith("Communication-Efficient Federated Averaging trains models")  # its wording kept
    assert FEDPARA_LISTED in result.text  # listed by title, with why
    assert "When Do Curricula Work in Decentralized Training? — “We order each client's data" in result.text
    assert result.citations[1].quote == SOURCES[2].abstract  # the sentence that best matches the question


def test_a_paper_the_judge_rejects_is_dropped_although_its_words_support_the_claim():
    reply = "[1] Communication-Efficient Federated Averaging [2] Many Clients, Many Models: A Survey of Model Training"
    assert [c.number for c in checker(None).check(reply).citations] == [1, 2]  # words alone keep both
    judged = checker({1: True, 2: False, 3: False, 4: False}).check(reply)
    assert [c.number for c in judged.citations] == [1]
    assert "Survey" not in judged.text


def test_what_the_model_says_about_a_rejected_paper_leaves_the_answer_with_its_citation():
    reply = ("[1] Trains models with federated learning across many clients. "
             "[2] We survey how clients train models in federated setups. "
             "[3] sends low-rank updates of client weights to a server.")  # both in their abstracts' words
    result = checker({1: True, 2: False, 3: False, 4: False}).check(reply)
    assert [c.number for c in result.citations] == [1]
    assert result.text == ("Communication-Efficient Federated Averaging trains models with federated learning "
                           "across many clients [1].")


def test_a_judge_that_cannot_say_leaves_the_words_to_decide():
    reply = "Averaging client updates cuts communication in federated learning [1]."
    assert checker({}).check(reply).text == checker(None).check(reply).text == reply
    assert [c.number for c in checker({}).check(reply).citations] == [1]


def test_a_reply_keeping_no_citation_still_lists_the_papers_the_judge_accepts():
    """The model cited a paper the judge rejects, or said the question back: the judge's own verdicts, paper by paper,
    are the list (a refusal is never judged, see the stream test below)."""
    for reply in ("[2] Trains models across many clients.", "The weather was pleasant in spring."):
        result = checker({1: True, 2: False, 3: True, 4: False}).check(reply)
        assert [c.number for c in result.citations] == [1, 3]
        assert result.text.endswith("Communication-Efficient Federated Averaging — “We train models with federated "
                                    f"learning across many clients” [1].\n{FEDPARA_LISTED}")  # a line per paper
        assert "[2]" not in result.text
    assert checker({1: False, 2: False, 3: False, 4: False}).check("[2] Trains models.").citations == []


def test_the_judge_prompt_is_the_fixed_rules_then_the_cached_paper_then_the_question():
    first = judge_prompt(QUESTION, SOURCES[0].title, SOURCES[0].abstract).pieces
    other = judge_prompt("Which papers prune LLMs?", SOURCES[2].title, SOURCES[2].abstract).pieces
    assert first.prefix == other.prefix and first.prefix.startswith("<|im_start|>system")
    block, tail = first.pieces
    assert block.cached and block.text == paper_block(SOURCES[0].title, SOURCES[0].abstract)
    assert not tail.cached and tail.text.endswith("<|im_start|>assistant\n")
    assert judge_line(profile_question(QUESTION)) in tail.text and first.text.count(SOURCES[0].abstract) == 1


@pytest.mark.parametrize(("question", "line"), [
    (QUESTION, "Is this paper one of the papers that train models with federated learning across many clients?"),
    ("What recent works deal with SDFs?", "Is this paper one of the recent works that deal with SDFs?"),
    ("List all the studies on KANs.", "Is this paper one of the studies on KANs?"),
    ("Which papers?", "Question: Which papers?\n\nIs this paper one of the papers the question asks for?"),
    ("And which of them also quantize activations?", "Is this paper one of the papers that also quantize activations?"),
    ("I need every paper whose experiments use NYU Depth v2.", "Is this paper one of the papers whose experiments use "
     "NYU Depth v2?"),
    ("Find each study on KANs.", "Is this paper one of the studies on KANs?"),
    ("What are the papers on KANs?", "Is this paper one of the papers on KANs?"),
    ("Are there any studies that prune CNN filters?", "Is this paper one of the studies that prune CNN filters?"),
    ("Which abstracts report SuperGLUE scores?", "Is this paper one of the papers that report SuperGLUE scores?"),
    ("Which of these abstracts are computer-algebra papers?",
     "Is this paper one of the papers that are computer-algebra papers?"),
])
def test_the_judge_asks_the_question_of_the_paper_itself(question, line):
    assert judge_line(profile_question(question)) == f"{line} Answer Yes or No."


def test_the_judge_asks_once_per_paper_and_stops_asking_a_model_that_cannot_say():
    asked = []

    def ask(prompt):
        asked.append(prompt.pieces.pieces[0].text.splitlines()[1])
        return {SOURCES[0].title: 0.9, SOURCES[1].title: 0.3}[asked[-1]]

    judge = PaperJudge(QUESTION, SOURCES, ask, threshold=0.855)
    assert [judge(1), judge(1), judge(2), judge(9)] == [True, True, False, None]
    assert asked == [SOURCES[0].title, SOURCES[1].title] and judge.scores == {1: 0.9, 2: 0.3}
    silent = PaperJudge(QUESTION, SOURCES, lambda prompt: asked.append("x"), threshold=0.855)
    assert [silent(1), silent(2)] == [None, None] and asked.count("x") == 1


def test_with_a_margin_a_paper_must_also_score_nearly_as_well_as_the_best_and_one_not_read_nearer_still():
    scores = {s.title: p for s, p in zip(SOURCES, (0.97, 0.88, 0.93, 0.5), strict=True)}
    ask = lambda prompt: scores[prompt.pieces.pieces[0].text.splitlines()[1]]  # noqa: E731
    assert [PaperJudge(QUESTION, SOURCES, ask, 0.84)(n) for n in (1, 2, 3, 4)] == [True, True, True, False]
    within = PaperJudge(QUESTION, SOURCES, ask, 0.84, margin=0.07)
    assert [within(n) for n in (1, 2, 3, 4)] == [True, False, True, False]  # 0.88 < 0.97 - 0.07
    assert [PaperJudge(QUESTION, SOURCES, ask, 0.0, margin=0.07)(n) for n in (1, 2, 3)] == [True, False, True]
    below = PaperJudge(QUESTION, SOURCES, ask, 0.84, margin=0.07, read=2, extra_margin=0.03)
    assert [below(n) for n in (1, 2, 3)] == [True, False, False]  # 0.93: within 0.07 of 0.97, not within 0.03
    scores[SOURCES[3].title] = None  # the model cannot judge one paper: words decide for all
    assert PaperJudge(QUESTION, SOURCES, ask, 0.84, margin=0.07)(1) is None


# --- through the assistant (scripted model, real Chroma) --------------------------------------------------


class JudgingModel(LanguageModel):
    """The scripted fake LLM with a scripted judge: P(Yes) by paper title."""

    def __init__(self, reply: str, scores: dict[str, float]):
        super().__init__(ScriptedLLM(reply=reply), "scripted", "scripted", "test double")
        self.scores = scores
        self.judged: list[str] = []

    def yes_probability(self, messages, pieces=None):
        title = pieces.pieces[0].text.splitlines()[1]
        self.judged.append(title)
        return self.scores.get(title, 0.0)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory, embedder):
    data_dir = tmp_path_factory.mktemp("judge")
    papers = [paper(s.paper_id, s.title, s.abstract) for s in SOURCES]
    fill_collection(small_settings(data_dir), embedder, "fed", papers)
    return data_dir


def judging_settings(data_dir, **settings) -> Settings:
    """The reply path (the model writes a reply and the judge checks its list) unless ``list_from_judge``."""
    return small_settings(data_dir, collection="fed", top_k=4,
                          **{"list_judge": 0.855, "list_judge_margin": 1.0, "list_from_judge": False, **settings})


def ask(data_dir, embedder, model: LanguageModel, question: str, **settings):
    helper = Assistant(judging_settings(data_dir, **settings), llm=model, embedder=embedder, progress=False)
    return helper.ask(question)


def test_the_assistant_lists_every_paper_the_model_judges_a_match(data_dir, embedder):
    model = JudgingModel("Communication-Efficient Federated Averaging trains models with federated learning "
                         "across many clients [1].", {SOURCES[0].title: 0.97, SOURCES[2].title: 0.9})
    answer = ask(data_dir, embedder, model, QUESTION)
    titles = [c.title for c in answer.citations]
    assert set(titles) == {SOURCES[0].title, SOURCES[2].title}
    assert sorted(model.judged) == sorted(s.title for s in SOURCES)  # each retrieved paper judged once
    assert answer.timings.papers_judged == 4 and answer.timings.checking_ms >= 0
    assert answer.judged == {s.rank: model.scores.get(s.title, 0.0) for s in answer.sources}


def test_the_stream_reports_each_paper_judged_and_a_refusal_is_not_judged(data_dir, embedder):
    model = JudgingModel("[1] Communication-Efficient Federated Averaging", {SOURCES[0].title: 0.97})
    helper = Assistant(judging_settings(data_dir), llm=model, embedder=embedder, progress=False)
    events = list(helper.stream(QUESTION))
    judging = [e for e in events if isinstance(e, Judging)]
    assert [(e.done, e.papers) for e in judging] == [(0, 4), (1, 4), (2, 4), (3, 4)]
    assert isinstance(events[-1], Done) and events.index(judging[-1]) == len(events) - 2
    assert "(1 of 4)" in judging_message("[1] Federated", 1, [1, 2, 3, 4], 0, 4)
    refusing = JudgingModel("The collection does not answer this question.", {})
    answer = ask(data_dir, embedder, refusing, QUESTION, second_look_threshold=1.1)
    assert answer.abstained and refusing.judged == []


def test_a_judge_that_fails_leaves_the_list_to_words_and_says_so(data_dir, embedder):
    class FailingJudge(JudgingModel):
        def yes_probability(self, messages, pieces=None):
            self.judged.append("asked")
            raise LLMError("llama_decode failed with status 1")

    model = FailingJudge("[1] Communication-Efficient Federated Averaging", {})
    answer = ask(data_dir, embedder, model, QUESTION)
    assert model.judged == ["asked"] and answer.timings.papers_judged == 0
    assert [c.title for c in answer.citations] == [SOURCES[0].title]  # the words' verdict
    assert any("could not judge" in notice and "status 1" in notice for notice in answer.notices)


def test_the_judge_is_not_asked_for_other_questions_or_when_it_is_off(data_dir, embedder):
    reply = "Averaging client updates cuts communication [1]."
    model = JudgingModel(reply, {})
    answer = ask(data_dir, embedder, model, "How does federated averaging cut communication?")
    assert model.judged == [] and answer.timings.papers_judged == 0 and not answer.abstained
    off = JudgingModel("[1] Communication-Efficient Federated Averaging", {})
    answer = ask(data_dir, embedder, off, QUESTION, list_judge=1.1)
    assert off.judged == [] and [c.title for c in answer.citations] == [SOURCES[0].title]
    defaults = Settings().answering  # on by default (docs/evaluation.md)
    assert (defaults.list_judge, defaults.list_judge_margin) == (0.84, 0.07)


def test_a_follow_up_narrowing_a_list_is_judged_on_its_own_condition_over_the_previous_papers(data_dir, embedder):
    class LineJudge(JudgingModel):
        def yes_probability(self, messages, pieces=None):
            self.lines.append(messages[-1].content.rsplit("</paper>", 1)[1].strip())
            return super().yes_probability(messages, pieces)

    model = LineJudge("[1] FedPara: Low-Rank Client Updates", {SOURCES[2].title: 0.95, SOURCES[0].title: 0.1})
    model.lines = []
    history = [Turn("user", QUESTION), Turn("assistant", "Federated Averaging [1]. FedPara [3].",
                                            (SOURCES[0].paper_id, SOURCES[2].paper_id))]
    helper = Assistant(judging_settings(data_dir), llm=model, embedder=embedder, progress=False)
    answer = helper.ask("And which of them also send low-rank updates?", history=history)
    assert set(model.lines) == {"Is this paper one of the papers that also send low-rank updates? Answer Yes or No."}
    assert [s.paper_id for s in answer.sources[:2]] == [SOURCES[0].paper_id, SOURCES[2].paper_id]  # theirs first
    assert [c.paper_id for c in answer.citations] == [SOURCES[2].paper_id]


def test_a_list_from_the_judge_alone_writes_no_reply_and_lists_what_the_judge_accepts(data_dir, embedder):
    model = JudgingModel("Nothing of this reply is written [1].", {SOURCES[0].title: 0.97, SOURCES[2].title: 0.93})
    answer = ask(data_dir, embedder, model, QUESTION, list_from_judge=True)
    assert model.llm.prompts == [] and answer.raw_answer == "" and answer.timings.first_token_ms is None
    assert [c.title for c in answer.citations] == [SOURCES[0].title, SOURCES[2].title]
    lines = answer.answer.splitlines()
    assert len(lines) == 2 and lines[0].startswith(f"{SOURCES[0].title} — “") and lines[0].endswith("[1].")
    assert answer.grade == "answered" and sorted(model.judged) == sorted(s.title for s in SOURCES)
    nothing = ask(data_dir, embedder, JudgingModel("Papers [1].", {}), QUESTION, list_from_judge=True)
    assert nothing.abstained and nothing.citations == []


def test_a_list_question_the_gate_finds_off_topic_is_left_to_the_judge(data_dir, embedder):
    off_topic = "Which papers bake sourdough bread with rye flour?"
    gated = JudgingModel("Papers [1].", {SOURCES[1].title: 0.97})
    answer = ask(data_dir, embedder, gated, off_topic)  # the reply path: the gate refuses before the model
    assert answer.abstained and answer.trail[-1].rule == "off topic" and gated.judged == []
    rejecting = JudgingModel("Papers [1].", {})
    answer = ask(data_dir, embedder, rejecting, off_topic, list_from_judge=True)
    assert answer.abstained and answer.trail[-1].rule != "off topic" and len(rejecting.judged) == len(SOURCES)
    accepting = JudgingModel("Papers [1].", {SOURCES[1].title: 0.97})
    answer = ask(data_dir, embedder, accepting, off_topic, list_from_judge=True)
    assert [c.title for c in answer.citations] == [SOURCES[1].title]


class WarmingModel(JudgingModel):
    """The scripted judge with a cache for its readings: ``warm`` records each paper read ahead; a question comes
    in while the first paper is being read, and that reading is cut short."""

    caches_judged_papers = True

    def __init__(self, questions: QuestionsInFlight):
        super().__init__("", {})
        self.questions = questions
        self.question = None  # the question that comes in while warming
        self.cut_short = False
        self.read: list[str] = []
        self.busy_at_start: list[bool] = []

    def warm(self, prefix, blocks, should_stop=lambda: False):
        self.busy_at_start.append(self.questions.busy())
        if self.question is None:
            self.question = self.questions.asked()
            self.question.__enter__()
            assert should_stop()  # the reading in progress sees the question and stops
            self.cut_short = True
            return 0
        self.read += [block.splitlines()[1] for block in blocks]
        return len(blocks)

    def cache_full(self) -> bool:
        return False


def test_warming_reads_each_paper_as_the_judge_does_and_waits_while_a_question_is_answered(data_dir, embedder):
    questions = QuestionsInFlight()
    model = WarmingModel(questions)
    helper = Assistant(judging_settings(data_dir), llm=model, embedder=embedder, progress=False)
    helper.questions = questions

    def should_stop() -> bool:  # asked while warming waits: the question is answered then
        if model.cut_short and questions.busy():
            model.question.__exit__(None, None, None)
        return False

    assert helper.warm_cache(should_stop=should_stop) == len(SOURCES)
    assert sorted(model.read) == sorted(s.title for s in SOURCES)  # the paper cut short is read again
    assert model.busy_at_start == [False] * (len(SOURCES) + 1)  # no reading starts while a question is answered
    assert Assistant(judging_settings(data_dir, list_judge=1.1), llm=WarmingModel(questions), embedder=embedder,
                     progress=False).warm_cache() == 0  # no list judge: nothing to warm


def test_a_question_is_in_flight_from_its_first_event_until_its_stream_ends_or_is_closed(data_dir, embedder):
    helper = Assistant(judging_settings(data_dir), llm=JudgingModel("", {}), embedder=embedder, progress=False)
    helper.questions = QuestionsInFlight()
    events = helper.stream(QUESTION)
    assert helper.questions.count == 0
    next(events)
    assert helper.questions.count == 1
    events.close()
    assert helper.questions.count == 0
    assert isinstance(list(helper.stream(QUESTION))[-1], Done) and helper.questions.count == 0


# --- the real embedded model ------------------------------------------------------------------------------


@pytest.mark.llm
@pytest.mark.slow
def test_the_embedded_model_judges_from_its_cache_as_it_would_reading_the_whole_prompt(tmp_path):
    """P(Yes) of the real 0.5B model: a matching paper above an unrelated one; the second time a paper is judged
    its block comes from the prompt cache (nothing read again) and the probability is the same as reading the
    whole prompt directly with the same batch boundaries (a restored block is bit-identical: see test_kv_blocks)."""
    settings = Settings(data_dir=tmp_path / "data", seeds_dir=tmp_path / "no-seeds", llm_provider="llamacpp",
                        llamacpp_model="qwen2.5-coder-0.5b")
    model = Assistant(settings, progress=False).llm
    match = judge_prompt(QUESTION, SOURCES[0].title, SOURCES[0].abstract)
    unrelated = judge_prompt(QUESTION, "Reading Old Maps", "We date medieval maps of coastlines from their ink.")
    first = model.yes_probability(match.messages, match.pieces)
    assert model._judging_engine.report.blocks_read == 1
    again = model.yes_probability(match.messages, match.pieces)
    assert model._judging_engine.report.blocks_read == 0 and model._judging_engine.report.blocks == 1
    assert again == pytest.approx(first, abs=1e-6)
    engine = model._judging_engine
    direct = engine.prompt_logits(match.pieces.prefix, [Piece(p.text) for p in match.pieces.pieces], separate=True)
    weights = np.exp(direct.astype(np.float64) - direct.max())
    yes, no = (weights[model.first_tokens(words)].sum() for words in YES_NO_WORDS)
    assert engine.report.blocks == 0 and first == pytest.approx(yes / (yes + no), abs=1e-3)
    assert model.yes_probability(unrelated.messages, unrelated.pieces) < first
