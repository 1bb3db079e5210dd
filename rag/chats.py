"""Conversations kept on this machine, per browser: ``<RAG_DATA_DIR>/chats/<browser id>/<chat id>.json``.

The browser id is a random token the chat UI keeps in the browser's localStorage; nothing is sent
anywhere else. A chat file is JSON (`Chat`, with each paper's abstract stored once under
``abstracts`` so the source cards come back whole). Writes are atomic (a private temporary file
renamed over the old one); a damaged file is skipped with a log warning; each browser keeps its
``chats_keep`` most recently updated chats (0: nothing is saved).
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from rag.answering.conversation import Chat
from rag.settings import Settings

log = logging.getLogger(__name__)

FORMAT = "paper-rag chat"
VERSION = 1
ID = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True)
class ChatSummary:
    """A saved chat as the list of chats shows it."""

    id: str
    title: str
    updated: datetime
    questions: int


def new_id() -> str:
    """A random id for a browser or a chat (32 hex digits)."""
    return uuid.uuid4().hex


def valid_id(value: object) -> bool:
    """Whether ``value`` is an id `new_id` could have made (anything else never reaches the file system)."""
    return isinstance(value, str) and ID.fullmatch(value) is not None


def chat_json(chat: Chat) -> dict[str, Any]:
    """A chat as the JSON object saved: the model's fields plus every source's abstract, once per paper."""
    data = chat.model_dump(mode="json")
    abstracts: dict[str, str] = {}
    for entry in chat.entries:
        for source in [*entry.sources, *(entry.answer.sources if entry.answer else [])]:
            if source.abstract:
                abstracts.setdefault(source.paper_id, source.abstract)
    return {"format": FORMAT, "version": VERSION, **data, "abstracts": abstracts}


def chat_of(data: dict[str, Any]) -> Chat:
    """A chat from its saved JSON object (`chat_json`); ValueError / ValidationError when it is not one."""
    if data.get("format") != FORMAT or data.get("version") != VERSION:
        raise ValueError(f"not a {FORMAT} file of version {VERSION}")
    abstracts = data.get("abstracts") or {}
    for entry in data.get("entries") or []:
        for source in [*(entry.get("sources") or []), *((entry.get("answer") or {}).get("sources") or [])]:
            source["abstract"] = abstracts.get(source.get("paper_id"), "")
    return Chat.model_validate(data)


class ChatStore:
    """The saved chats of every browser that used this machine's chat UI."""

    def __init__(self, folder: Path, keep: int = 50):
        self.folder = Path(folder)
        self.keep = keep
        self._lock = threading.Lock()
        self._warned: set[Path] = set()

    new_id = staticmethod(new_id)
    valid_id = staticmethod(valid_id)

    @classmethod
    def of(cls, settings: Settings) -> ChatStore:
        """The store under ``settings``' data folder, keeping ``chats_keep`` chats per browser."""
        return cls(settings.store.chats_dir, settings.ui.chats_keep)

    def path(self, browser: str, chat_id: str) -> Path:
        if not (valid_id(browser) and valid_id(chat_id)):
            raise ValueError(f"not a browser and chat id: {browser!r}, {chat_id!r}")
        return self.folder / browser / f"{chat_id}.json"

    def read(self, path: Path) -> Chat | None:
        """The chat in ``path``, or None (with one log warning per file) when it is missing or damaged."""
        try:
            chat = chat_of(json.loads(path.read_text(encoding="utf-8")))
            if chat.id != path.stem:
                raise ValueError(f"it holds chat {chat.id!r}")
            return chat
        except FileNotFoundError:
            return None
        except (OSError, ValueError, ValidationError, TypeError, AttributeError) as error:
            if path not in self._warned:
                self._warned.add(path)
                log.warning("skipped damaged chat file %s (%s)", path, str(error).splitlines()[0][:200])
            return None

    def load(self, browser: str, chat_id: str) -> Chat | None:
        """A saved chat, or None when there is none (or its file is damaged)."""
        if not (valid_id(browser) and valid_id(chat_id)):
            return None
        return self.read(self.path(browser, chat_id))

    def chats(self, browser: str) -> list[ChatSummary]:
        """The browser's saved chats, most recently updated first; damaged files are skipped."""
        if not valid_id(browser):
            return []
        found = []
        for path in (self.folder / browser).glob("*.json"):
            if valid_id(path.stem) and (chat := self.read(path)) is not None:
                found.append(ChatSummary(chat.id, chat.title, chat.updated, len(chat.entries)))
        return sorted(found, key=lambda c: (c.updated, c.id), reverse=True)

    def save(self, browser: str, chat: Chat) -> None:
        """Write a chat (its title from its first question, ``created`` kept from the saved copy, ``updated``
        now) atomically, then keep the browser's newest ``keep`` chats. Nothing is written when ``keep`` is 0
        or the chat is empty."""
        if self.keep <= 0 or not chat.entries:
            return
        path = self.path(browser, chat.id)
        with self._lock:
            saved = self.read(path)
            chat = chat.model_copy(update={"updated": datetime.now().astimezone(),
                                           **({"created": saved.created} if saved else {})}).titled()
            text = json.dumps(chat_json(chat), ensure_ascii=False)
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary = path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
            try:
                with open(temporary, "w", encoding="utf-8") as file:
                    file.write(text)
                    file.flush()
                    os.fsync(file.fileno())
                os.replace(temporary, path)
            finally:
                temporary.unlink(missing_ok=True)
            for old in self.chats(browser)[self.keep:]:
                self.path(browser, old.id).unlink(missing_ok=True)

    def delete(self, browser: str, chat_id: str) -> bool:
        """Delete a saved chat; False when there was none."""
        if not (valid_id(browser) and valid_id(chat_id)):
            return False
        with self._lock:
            path = self.path(browser, chat_id)
            existed = path.exists()
            path.unlink(missing_ok=True)
            return existed
