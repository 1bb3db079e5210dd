"""A conversation as the chat keeps it: each question with its checked answer, or what became of it."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from rag.answering.answer import Answer, Source

TITLE_CHARS = 80


class ChatEntry(BaseModel):
    """One question of a chat: answered (with its checked `Answer`), stopped by the reader, or failed."""

    question: str
    status: Literal["answered", "stopped", "failed"] = "answered"
    answer: Answer | None = None
    sources: list[Source] = Field(default_factory=list, description="The sources shown for the question.")
    text: str = Field("", description="Stopped: what the model had written; failed: the message shown.")


class Chat(BaseModel):
    """A conversation: its entries in order, titled by its first question."""

    id: str
    title: str = ""
    created: datetime = Field(default_factory=lambda: datetime.now().astimezone())
    updated: datetime = Field(default_factory=lambda: datetime.now().astimezone())
    collection: str | None = None
    entries: list[ChatEntry] = Field(default_factory=list)

    def titled(self) -> Chat:
        """This chat with its title set from its first question (cut to `TITLE_CHARS`)."""
        if self.entries and not self.title:
            question = " ".join(self.entries[0].question.split())
            self.title = question if len(question) <= TITLE_CHARS else question[: TITLE_CHARS - 1].rstrip() + "…"
        return self
