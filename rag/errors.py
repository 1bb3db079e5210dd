"""Every error the public API raises. Each message says what went wrong and how to fix it.

`RagError` is their common base: an interface that catches it shows the message and carries on
(the CLI exits 1, the chat shows a sentence); anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rag.corpus.paper import BadRecord

MAX_BAD_LISTED = 20


class RagError(Exception):
    """Base of the errors below."""


class QuestionError(RagError, ValueError):
    """The question cannot be asked as given (empty, only punctuation, bad ``top_k``, ...)."""


class CorpusError(RagError, ValueError):
    """A corpus file has bad records and the caller asked to abort; nothing was written."""

    def __init__(self, bad: Sequence[BadRecord]):
        self.bad = list(bad)
        shown = "\n".join(f"  {b}" for b in self.bad[:MAX_BAD_LISTED])
        more = f"\n  ... and {len(self.bad) - MAX_BAD_LISTED} more" if len(self.bad) > MAX_BAD_LISTED else ""
        super().__init__(
            f"{len(self.bad)} bad record(s); nothing was written:\n{shown}{more}\n"
            "Fix them, or pass --skip-bad to ingest the good records and report the rest."
        )


class CorpusPathError(RagError, ValueError):
    """A path handed to ingest cannot be read as a corpus: missing, not a regular file, or of an unsupported type."""


class StoreError(RagError, RuntimeError):
    """The vector store cannot be used as asked."""


class EmbeddingMismatch(StoreError):
    """A collection was built with another embedding model than the one configured now."""


class StoreBusy(StoreError):
    """Another process has the embedded Chroma store open (one process owns it)."""


class ModelUnavailable(RagError, RuntimeError):
    """A model (file, package or server) cannot be used."""


class LLMError(RagError, RuntimeError):
    """A call to the LLM failed. ``kind`` is one of ``unreachable``, ``timeout``, ``missing_model``,
    ``server_error``, ``failed``."""

    def __init__(self, message: str, kind: str = "failed"):
        super().__init__(message)
        self.kind = kind


class ReplayExhausted(RagError, RuntimeError):
    """A re-check of saved model output needed output the run did not save (a second look, a comparison side read
    alone, a yes/no verdict, a judgement of a paper it did not judge): only the model can answer it."""
