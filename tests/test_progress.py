"""`AnswerProgress` folds the stream's events into what an interface shows (crafted events, no model)."""

from __future__ import annotations

import pytest

from rag import (
    Answer,
    AnswerProgress,
    Completing,
    Done,
    Judging,
    SecondLook,
    Source,
    SourcesFound,
    Stage,
    Timings,
    Token,
)

SOURCES = [Source(rank=1, paper_id="a", title="A", score=1.0), Source(rank=2, paper_id="b", title="B", score=0.5)]
ANSWER = Answer(question="Q?", answer="A says so [1].", abstained=False, citations=[], sources=SOURCES,
                timings=Timings(retrieval_ms=1, total_ms=2), llm_provider="scripted", llm_model="scripted",
                embed_model="minilm", retrieval_query="Q?")


def test_the_events_of_one_answer_fold_into_stages_and_text():
    progress = AnswerProgress()
    events = [SourcesFound(sources=SOURCES, retrieval_query="Q?"), Token(text="No"), Token(text=" answer."),
              SecondLook(sources=SOURCES[:1]), Token(text="According to [1],"), Token(text=" yes."),
              Judging(rank=1, done=0, papers=2), Completing(sources=SOURCES[1:], part="B"), Token(text="B too [2]."),
              Done(answer=ANSWER)]
    stages = [progress.update(event) for event in events]
    assert stages == [Stage.SOURCES, Stage.WRITING, Stage.WRITING, Stage.SECOND_LOOK, Stage.WRITING, Stage.WRITING,
                      Stage.JUDGING, Stage.COMPLETING, Stage.WRITING, Stage.DONE]
    assert progress.text == "According to [1], yes.\n\nB too [2]."  # the refusal went with the second look
    assert progress.piece == "" and progress.part == "B" and progress.reread == SOURCES[1:]
    assert progress.answer is ANSWER and progress.sources == SOURCES and progress.judging.papers == 2


def test_anything_else_is_not_an_event():
    with pytest.raises(TypeError):
        AnswerProgress().update("a string")
