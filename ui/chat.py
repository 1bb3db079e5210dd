"""One chat turn: the question in, streamed UI updates out (sources, answer words, checked answer).

Only the public API is used: `Assistant.stream`'s events are folded by `AnswerProgress` into what to show.

Stop and Clear do not cancel the turn from outside (a streamed update already on its way would
then land after Stop's and put the cursor back). They ask the turn to end (`TurnControl`): the
turn notices after the model's next word, closes the assistant's stream (which releases the
generation lock) and writes the chat's final state itself, as its last update.

When the turn has ended (answered, stopped, failed or cleared) it saves its chat (`ui.history`), under
the browser's id and the chat's id it started with.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from dataclasses import replace
from typing import Any, Literal

from rag import (
    AnswerProgress,
    Assistant,
    ChatStore,
    LLMError,
    ModelUnavailable,
    QuestionError,
    Stage,
    StoreError,
    Turn,
    collection_name_problem,
)
from ui import history, render
from ui.render import TurnSources

log = logging.getLogger(__name__)

Message = dict[str, Any]
Update = tuple[list[Message], str, str, list[TurnSources]]


def message_text(message: Message) -> str:
    """The text of a chat message, whether its content is a string or Gradio's list of parts."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(part.get("text", "") for part in content if isinstance(part, dict))
    return ""


def pending_question(history: list[Message]) -> str | None:
    """The last message's text when it is a user question not yet answered."""
    if history and history[-1].get("role") == "user":
        text = message_text(history[-1]).strip()
        return text or None
    return None


def conversation(turns: list[TurnSources]) -> list[Turn]:
    """Earlier questions and their plain answers with the papers they cited, for follow-ups ("which of them
    ...?")."""
    out: list[Turn] = []
    for entry in turns:
        out.append(Turn("user", entry.question))
        if entry.answer:
            out.append(Turn("assistant", entry.answer, tuple(dict.fromkeys(c.paper_id for c in entry.citations))))
    return out


def year_in(box: str | int | None, label: str) -> int | None:
    """The year typed in a filter box (None when it is empty); `QuestionError` when it is not a year."""
    text = str(box if box is not None else "").strip()
    if not text:
        return None
    if not text.isdigit():
        raise QuestionError(f"{label} must be a year such as 2020, not “{text}”")
    return int(text)


def add_question(question: str, history: list[Message]) -> tuple[str, list[Message]]:
    """Show the question in the chat at once (before the queue), and empty the input box."""
    question = " ".join((question or "").split())
    if not question:
        return "", history
    return "", [*history, {"role": "user", "content": question}]


def with_reply(history: list[Message], content: str) -> list[Message]:
    """The history with its last assistant message replaced (or one appended)."""
    if history and history[-1].get("role") == "assistant":
        history = history[:-1]
    return [*history, {"role": "assistant", "content": content}]


def mark_stopped(history: list[Message]) -> list[Message]:
    """After Stop: the streamed text stays, the cursor goes, and the message says it was stopped."""
    if not history or history[-1].get("role") != "assistant":
        if history and history[-1].get("role") == "user":
            return [*history, {"role": "assistant", "content": render.STOPPED_NOTE}]
        return history
    text = message_text(history[-1])
    if not text.endswith(render.CURSOR):
        return history
    return with_reply(history, f"{text.removesuffix(render.CURSOR).rstrip()} {render.STOPPED_NOTE}".strip())


Ending = Literal["stop", "clear"]


class TurnControl:
    """What each browser session asked of its running turn: nothing, Stop or Clear."""

    def __init__(self) -> None:
        self._asked: dict[str, Ending | None] = {}
        self._lock = threading.Lock()

    def begin(self, session: str) -> None:
        """A question was submitted: its turn runs until asked to end."""
        with self._lock:
            self._asked[session] = None

    def end(self, session: str, how: Ending) -> None:
        with self._lock:
            self._asked[session] = how

    def asked(self, session: str) -> Ending | None:
        with self._lock:
            return self._asked.get(session)


class ChatTurn:
    """Runs one question against the assistant, renders each step for the browser and saves the chat."""

    def __init__(self, assistant: Assistant, chats: ChatStore | None = None):
        self.assistant = assistant
        self.control = TurnControl()
        self.chats = chats

    def empty_collection_problem(self, collection: str) -> str | None:
        """A message when the collection cannot answer anything (bad name, empty), else None."""
        problem = collection_name_problem(collection)
        if problem:
            return problem
        if self.assistant.paper_count(collection) == 0:
            return (f"The collection “{collection}” is empty. Add papers in the side panel "
                    "(Add papers), or pick another collection.")
        return None

    def respond(self, history: list[Message], turns: list[TurnSources], top_k: float | None,
                collection: str | None, source: str | None, session: str = "", *,
                year_from: str | int | None = None, year_to: str | int | None = None, author: str | None = None,
                browser: str | None = None, chat_id: str | None = None) -> Iterator[Update]:
        """Yield (chat, sources panel, detail line, turns) after each event of the assistant's stream; when the
        session asks the turn to end, the last update is the stopped (or cleared) chat. Once the turn has
        ended, the chat is saved as ``chat_id`` of ``browser`` (when both are given and chats are kept)."""
        question = pending_question(history)
        if question is None:
            yield history, render.sources_panel(turns), "", turns
            return
        collection = (collection or "").strip() or self.assistant.settings.store.collection
        filters: dict[str, Any] = {"source": source or None, "author": (author or "").strip() or None}
        entry = TurnSources(turn=len(turns) + 1, question=question, sources=[])
        earlier, turns = turns, [*turns, entry]
        history = with_reply(history, f"*Searching the collection…*{render.CURSOR}")
        yield history, render.sources_panel(turns), "", turns

        detail = ""
        stream = None
        raw = ""
        final: Update | None = None
        try:
            filters["year_from"] = year_in(year_from, "From year")
            filters["year_to"] = year_in(year_to, "To year")
            described = render.filters_text(**filters)
            problem = self.empty_collection_problem(collection)
            if problem:
                entry = replace(entry, done=True, status="failed", text=problem)
                turns = [*earlier, entry]
                final = with_reply(history, render.error_message(problem)), render.sources_panel(turns), "", turns
            else:
                stream = self.assistant.stream(
                    question, top_k=int(top_k) if top_k else None, collection=collection,
                    history=conversation(earlier), **filters,
                )
                progress = AnswerProgress()
                for event in stream:
                    if self.control.asked(session):
                        break
                    stage = progress.update(event)
                    ranks = [s.rank for s in progress.sources]
                    if stage is Stage.SOURCES:
                        entry = replace(entry, sources=progress.sources)
                        turns = [*earlier, entry]
                        detail = render.detail_line(question, progress.retrieval_query, filters=described)
                        history = with_reply(history, render.waiting_message(len(progress.sources)))
                    elif stage is Stage.WRITING:
                        history = with_reply(history, render.streaming_message(progress.text, entry.turn, ranks))
                    elif stage is Stage.SECOND_LOOK:
                        history = with_reply(history, render.second_look_message(len(progress.reread)))
                    elif stage is Stage.JUDGING:
                        history = with_reply(history, render.judging_message(
                            progress.text, entry.turn, ranks, progress.judging.done, progress.judging.papers))
                    elif stage is Stage.COMPLETING:
                        history = with_reply(history, render.completing_message(progress.text, entry.turn, ranks,
                                                                                progress.part))
                    else:
                        answer = progress.answer
                        entry = replace(entry, sources=answer.sources, citations=answer.citations, done=True,
                                        answer=answer.answer, result=answer, status="answered")
                        turns = [*earlier, entry]
                        detail = render.detail_line(question, answer.retrieval_query, answer.timings,
                                                    f"{answer.llm_provider}:{answer.llm_model}", described)
                        history = with_reply(history, render.turn_message(entry))
                        final = history, render.sources_panel(turns), detail, turns
                        continue
                    raw = progress.text
                    yield history, render.sources_panel(turns), detail, turns
        except Exception as error:  # shown as a readable message; the chat stays usable
            message = self.explain(error, started=bool(entry.sources))
            entry = replace(entry, done=True, status="failed", text=message)
            turns = [*earlier, entry]
            final = with_reply(history, render.error_message(message)), render.sources_panel(turns), detail, turns
        finally:
            if stream is not None:
                stream.close()
        asked = self.control.asked(session)
        if asked and not entry.done:  # Stop or Clear ended it: the words so far are kept
            entry = replace(entry, done=True, status="stopped", text=raw)
            turns = [*earlier, entry]
            final = mark_stopped(history), render.sources_panel(turns), detail, turns
        self.save(browser, chat_id, collection, turns)
        if asked == "clear":
            yield [], render.sources_panel([]), "", []
        elif final is not None:
            yield final

    def save(self, browser: str | None, chat_id: str | None, collection: str, turns: list[TurnSources]) -> None:
        """Save the chat (a failure is logged: the answer on screen matters more than its copy on disk)."""
        if self.chats is None or not (browser and chat_id):
            return
        try:
            history.save_chat(self.chats, browser, chat_id, collection, turns)
        except (OSError, ValueError) as error:
            log.warning("could not save chat %s: %s", chat_id, error)

    def explain(self, error: Exception, started: bool) -> str:
        """A sentence for the reader; the traceback goes to the server log only."""
        if isinstance(error, QuestionError):
            return f"That question cannot be asked: {error}."
        if isinstance(error, ModelUnavailable):
            return f"The language model is not available. {error}"
        if isinstance(error, LLMError):
            listed = " The sources found are still listed." if started else ""
            return f"The language model failed while answering: {error}{listed}"
        if isinstance(error, StoreError):
            return f"The collection cannot be used. {error}"
        log.exception("answering failed")
        settings = self.assistant.settings
        where = (f" If you use Ollama, check that its server is running at {settings.llm.ollama_host}."
                 if settings.llm.provider in ("auto", "ollama") else "")
        stage = "The language model failed while answering" if started else "The question could not be answered"
        listed = " The sources found are still listed." if started else ""
        return f"{stage} ({type(error).__name__}: {error}).{where}{listed}"
