"""Local question answering over research-paper abstracts, with checked citations.

    >>> import rag
    >>> answer = rag.ask("Which papers adapt diffusion models with parameter-efficient fine-tuning?")
    >>> print(answer.answer, [c.title for c in answer.citations])
    >>> rag.ingest(["my_papers.jsonl"], collection="mine")
    >>> print(rag.answer_markdown(rag.ask("Which papers distil language models?", year_from=2023)))

This module is the only door: the CLI, the chat UI and the evaluation use nothing deeper. The
module-level functions use one process-wide `Assistant` built from the environment's settings;
make your own `Assistant(Settings(...))` for other settings.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

from rag.answering.answer import (
    GRADES,
    Answer,
    Citation,
    ClaimVerdict,
    Completing,
    Done,
    Judging,
    PaperInfo,
    RuleHit,
    SecondLook,
    Source,
    SourcesFound,
    StreamEvent,
    Timings,
    Token,
)
from rag.answering.conversation import Chat, ChatEntry
from rag.answering.export import answer_bibtex, answer_markdown, chat_markdown, papers_bibtex
from rag.answering.markers import MARKER, marker_numbers, parse_numbers
from rag.answering.progress import AnswerProgress, Stage
from rag.answering.question import Turn
from rag.assistant import Assistant
from rag.chats import ChatStore, ChatSummary
from rag.corpus import SUPPORTED_EXTENSIONS, BadRecord, normalize_title
from rag.errors import (
    CorpusError,
    CorpusPathError,
    EmbeddingMismatch,
    LLMError,
    ModelUnavailable,
    QuestionError,
    RagError,
    ReplayExhausted,
    StoreBusy,
    StoreError,
)
from rag.index import IngestReport
from rag.index.bulk import BULK_BATCH
from rag.library import CollectionInfo, Library
from rag.models.llm import LlmPlan, plan_llm, prompt_cache_stats
from rag.retrieval import RetrievedPaper
from rag.settings import (
    PROFILES,
    TOP_K_MAX,
    Settings,
    collection_name_problem,
    describe_invalid,
    get_settings,
)
from rag.text import printable

__all__ = [
    "BULK_BATCH",
    "GRADES",
    "MARKER",
    "PROFILES",
    "SUPPORTED_EXTENSIONS",
    "TOP_K_MAX",
    "Answer",
    "AnswerProgress",
    "Assistant",
    "BadRecord",
    "Chat",
    "ChatEntry",
    "ChatStore",
    "ChatSummary",
    "Citation",
    "ClaimVerdict",
    "CollectionInfo",
    "Completing",
    "CorpusError",
    "CorpusPathError",
    "Done",
    "EmbeddingMismatch",
    "IngestReport",
    "Judging",
    "LLMError",
    "Library",
    "LlmPlan",
    "ModelUnavailable",
    "PaperInfo",
    "QuestionError",
    "RagError",
    "ReplayExhausted",
    "RetrievedPaper",
    "RuleHit",
    "SecondLook",
    "Settings",
    "Source",
    "SourcesFound",
    "Stage",
    "StoreBusy",
    "StoreError",
    "StreamEvent",
    "Timings",
    "Token",
    "Turn",
    "answer_bibtex",
    "answer_markdown",
    "as_query_engine",
    "ask",
    "chat_markdown",
    "collection_name_problem",
    "collections",
    "default_assistant",
    "delete_collection",
    "describe_invalid",
    "get_settings",
    "ingest",
    "marker_numbers",
    "normalize_title",
    "papers_bibtex",
    "parse_numbers",
    "plan_llm",
    "printable",
    "prompt_cache_stats",
    "rebuild",
    "retrieve",
    "sources",
    "stream",
    "warm_cache",
]

_default: Assistant | None = None
_default_lock = threading.Lock()


def default_assistant() -> Assistant:
    """The process-wide assistant built from the environment's settings; on first use, an empty
    default collection is filled from the seeds (``RAG_SEEDS_DIR``)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Assistant()
            _default.library.seed()
        return _default


def ask(question: str, **options) -> Answer:
    """Answer ``question``. Options: top_k, collection, mode, history, and the filters source (a corpus file
    name), year_from, year_to (inclusive) and author (a name or part of one, any case)."""
    return default_assistant().ask(question, **options)


def stream(question: str, **options) -> Iterator[StreamEvent]:
    """Like `ask`, but yields `SourcesFound`, then `Token`s (after a `SecondLook`, those of a second try; after a
    `Completing`, those about a comparison's missing side), a `Judging` per source the model judges alone (which
    papers, a yes/no claim), then `Done`. `AnswerProgress` folds them into what to show."""
    return default_assistant().stream(question, **options)


def retrieve(question: str, **options) -> list[RetrievedPaper]:
    """The papers ``question`` would be answered from, best first (no LLM). Options: top_k, collection, mode,
    source, year_from, year_to, author."""
    return default_assistant().retrieve(question, **options)


def ingest(paths: Iterable[str | Path], **options) -> IngestReport:
    """Add the papers of files or folders to a collection; see `Library.ingest` for the options
    (collection, skip_bad, bulk, rebuild, batch, progress)."""
    return default_assistant().library.ingest(paths, **options)


def collections() -> list[CollectionInfo]:
    """Every collection in the store, the default one first."""
    return default_assistant().library.collections()


def sources(collection: str | None = None) -> dict[str, int]:
    """The corpus files a collection's papers came from, with how many papers each."""
    return default_assistant().library.sources(collection)


def delete_collection(collection: str) -> None:
    """Delete a collection and its BM25 index."""
    default_assistant().library.delete_collection(collection)


def rebuild(collection: str | None = None, **options) -> IngestReport:
    """Embed a collection's papers again with the active embedding model (after changing it)."""
    return default_assistant().library.rebuild(collection, **options)


def as_query_engine(*, streaming: bool = False, **options):
    """The assistant as a LlamaIndex query engine (``query(str) -> Response`` with the cited papers as
    ``source_nodes``); options as for `ask`."""
    return default_assistant().as_query_engine(streaming=streaming, **options)


def warm_cache(collection: str | None = None, **options) -> int:
    """Read a collection's papers into the embedded model's prompt cache ahead of questions; see
    `Assistant.warm_cache` (options: should_stop, on_progress). Returns how many were read."""
    return default_assistant().warm_cache(collection, **options)
