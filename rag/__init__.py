"""Local question answering over research-paper abstracts, with checked citations.

    >>> from rag import ask
    >>> answer = ask("Which papers adapt diffusion models with parameter-efficient fine-tuning?")
    >>> print(answer.answer, [c.title for c in answer.citations])
"""

from __future__ import annotations

import threading

from rag.answering.models import Answer, Citation, Done, Source, SourcesFound, StreamEvent, Timings, Token
from rag.assistant import Assistant, QuestionError, Turn
from rag.models.files import ModelUnavailable
from rag.models.llm import LLMError
from rag.settings import Settings, get_settings

__all__ = [
    "Answer",
    "Assistant",
    "Citation",
    "Done",
    "LLMError",
    "ModelUnavailable",
    "QuestionError",
    "Settings",
    "Source",
    "SourcesFound",
    "StreamEvent",
    "Timings",
    "Token",
    "Turn",
    "ask",
    "default_assistant",
    "get_settings",
    "stream",
]

_default: Assistant | None = None
_default_lock = threading.Lock()


def default_assistant() -> Assistant:
    """The process-wide assistant built from the environment's settings (created on first use)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Assistant()
        return _default


def ask(question: str, **options) -> Answer:
    """Answer ``question`` from the default collection. Options: top_k, collection, source, mode, history."""
    return default_assistant().ask(question, **options)


def stream(question: str, **options):
    """Like `ask`, but yields `SourcesFound`, then `Token`s, then `Done`."""
    return default_assistant().stream(question, **options)
