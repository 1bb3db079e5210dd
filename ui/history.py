"""Saved chats in the chat UI: the browser's id, the list of its chats, showing a saved chat again, and
the conversation as a Markdown file.

The chat's state in the page is a list of `TurnSources`; what is saved is a `rag.Chat` of `rag.ChatEntry`s
(`rag.ChatStore`, under ``RAG_DATA_DIR/chats``). The browser's id lives in its localStorage
(``gr.BrowserState``) and is only ever sent to this server.
"""

from __future__ import annotations

import re
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from rag import Chat, ChatEntry, ChatStore, ChatSummary, chat_markdown
from ui import render
from ui.render import TurnSources

BROWSER_KEY = "paper-rag-browser"  # the localStorage key of the browser's id
EXPORTS = Path(tempfile.gettempdir()) / "paper-rag-exports"


def to_entry(turn: TurnSources) -> ChatEntry:
    """What is saved of a finished turn."""
    status = turn.status or ("answered" if turn.result is not None else "stopped")
    return ChatEntry(question=turn.question, status=status, answer=turn.result, sources=turn.sources, text=turn.text)


def to_turns(entries: list[ChatEntry]) -> list[TurnSources]:
    """A saved chat's entries as the page's turns (numbered from 1)."""
    turns = []
    for number, entry in enumerate(entries, start=1):
        answer = entry.answer
        turns.append(TurnSources(
            turn=number, question=entry.question, sources=answer.sources if answer else entry.sources,
            citations=answer.citations if answer else [], done=True, answer=answer.answer if answer else "",
            result=answer, status=entry.status, text=entry.text,
        ))
    return turns


def messages(turns: list[TurnSources]) -> list[dict[str, Any]]:
    """The chat's messages for the turns: each question and its final message."""
    out: list[dict[str, Any]] = []
    for turn in turns:
        out += [{"role": "user", "content": turn.question}, {"role": "assistant", "content": render.turn_message(turn)}]
    return out


def save_chat(store: ChatStore, browser: str, chat_id: str, collection: str, turns: list[TurnSources]) -> None:
    """Save the finished turns as chat ``chat_id`` of ``browser``."""
    entries = [to_entry(t) for t in turns if t.done]
    store.save(browser, Chat(id=chat_id, collection=collection, entries=entries))


def choice_label(summary: ChatSummary) -> str:
    """How a saved chat is listed: its title and when it was last updated."""
    when = summary.updated.astimezone()
    today = datetime.now().astimezone().date()
    shown = when.strftime("%H:%M") if when.date() == today else when.strftime("%d %b %Y")
    return f"{summary.title} · {shown}"


def chat_choices(store: ChatStore, browser: str) -> list[tuple[str, str]]:
    """(label, chat id) of the browser's saved chats, most recent first."""
    return [(choice_label(summary), summary.id) for summary in store.chats(browser)]


def download_file(turns: list[TurnSources], chat_id: str) -> str | None:
    """The conversation as a Markdown file (every answer with its references) for the Download chat button;
    None while there is nothing to download."""
    entries = [to_entry(t) for t in turns if t.done]
    if not entries or not ChatStore.valid_id(chat_id):
        return None
    title = Chat(id=chat_id, entries=entries).titled().title
    slug = "-".join(re.findall(r"[a-z0-9]+", title.lower()))[:48].rstrip("-") or "chat"
    folder = EXPORTS / chat_id
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.md"):  # one file per chat: the latest version
        old.unlink(missing_ok=True)
    path = folder / f"chat-{datetime.now():%Y-%m-%d}-{slug}.md"
    path.write_text(chat_markdown(entries, title), encoding="utf-8")
    return str(path)
