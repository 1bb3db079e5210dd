"""An answer as it streams, folded event by event: what every interface (the CLI, the chat, the query engine)
shows while the model works, without telling the events apart itself.

    progress = AnswerProgress()
    for event in rag.stream(question):
        match progress.update(event):
            case Stage.SOURCES: ...      # progress.sources
            case Stage.WRITING: ...      # progress.piece (new text), progress.text (the attempt so far)
            case Stage.DONE: ...         # progress.answer
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from rag.answering.answer import (
    Answer,
    Completing,
    Done,
    Judging,
    SecondLook,
    Source,
    SourcesFound,
    StreamEvent,
    Token,
)


class Stage(StrEnum):
    SOURCES = "sources"  # the sources are found; the model starts
    WRITING = "writing"  # a piece of the reply came (`piece`), `text` is the reply so far
    SECOND_LOOK = "second-look"  # the model refused; it reads the best sources again (`text` starts over)
    JUDGING = "judging"  # the model judges source `judging.rank` alone (which papers, or a yes/no claim)
    COMPLETING = "completing"  # the model reads a comparison's missing side alone (`part`); `text` goes on
    DONE = "done"  # the checked answer is in `answer`


@dataclass
class AnswerProgress:
    """The state of one streamed answer (see the module docstring)."""

    stage: Stage | None = None
    sources: list[Source] = field(default_factory=list)
    retrieval_query: str = ""
    text: str = ""  # the model's words so far (reset by a second look)
    piece: str = ""  # the newest words
    judging: Judging | None = None
    reread: list[Source] = field(default_factory=list)  # the sources a second look or a completion reads
    part: str = ""  # the side of a comparison being completed
    answer: Answer | None = None

    def update(self, event: StreamEvent) -> Stage:
        """Fold one event in; its stage."""
        self.piece = ""
        match event:
            case SourcesFound():
                self.sources, self.retrieval_query, self.stage = event.sources, event.retrieval_query, Stage.SOURCES
            case Token():
                self.piece = event.text
                self.text += event.text
                self.stage = Stage.WRITING
            case SecondLook():
                self.text, self.reread, self.stage = "", event.sources, Stage.SECOND_LOOK
            case Judging():
                self.judging, self.stage = event, Stage.JUDGING
            case Completing():
                self.reread, self.part, self.stage = event.sources, event.part, Stage.COMPLETING
                self.text += "\n\n"
            case Done():
                self.answer, self.sources, self.stage = event.answer, event.answer.sources, Stage.DONE
            case _:
                raise TypeError(f"not a stream event: {event!r}")
        return self.stage
