"""Making the whole prompt fit the model's context window, counted with the model's own tokenizer.

The sources are first fitted to ``RAG_CONTEXT_TOKENS`` (`fit_sources`). Then the whole prompt
(system rules, sources, question, instructions, in the chat template) is counted: with llama.cpp's
tokenizer for the embedded model, otherwise with a conservative estimate (never lower than Qwen's
tokenizer on the seeds, ~1.6x higher on English). When it does not leave ``max_answer_tokens`` of
the window free, the abstracts are shortened further, then the lowest-ranked sources dropped, and
only then the question cut, so the backend never truncates the prompt silently.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from llama_index.core.base.llms.types import ChatMessage

from rag.answering.context import fit_sources
from rag.answering.models import Source
from rag.answering.prompt import build_messages
from rag.answering.question import truncate

Counter = Callable[[str], int]
TEMPLATE_MARGIN = 32  # tokens for a chat template we cannot see (Ollama's) and BOS/EOS
SHRINK = 0.7
MIN_SOURCE_BUDGET = 60
ESTIMATE_PIECES = re.compile(r"[A-Za-z]+|\d|\s+|[\x00-\x7f]|[^\x00-\x7f]")


def estimate_tokens(text: str) -> int:
    """A tokenizer-free upper estimate: a quarter token per ASCII letter, one per digit or ASCII symbol,
    one per UTF-8 byte of anything else (the worst case of a byte-level BPE)."""
    total = 0
    for piece in ESTIMATE_PIECES.findall(text):
        first = piece[0]
        if first.isascii() and first.isalpha():
            total += math.ceil(len(piece) / 4)
        elif first.isspace():
            total += 0 if piece == " " else math.ceil(len(piece) / 2)
        elif first.isascii():
            total += 1
        else:
            total += len(piece.encode("utf-8"))
    return total


def chat_text(messages: Sequence[ChatMessage]) -> str:
    """The messages in ChatML, as the embedded model sees them (Ollama's template is similar)."""
    turns = [f"<|im_start|>{m.role.value}\n{m.content}<|im_end|>" for m in messages]
    return "\n".join([*turns, "<|im_start|>assistant\n"])


def llm_token_counter(llm) -> tuple[Counter, str]:
    """The LLM's own token counter when it has one (llama.cpp), else the conservative estimate."""
    model = getattr(llm, "_model", None)
    tokenize = getattr(model, "tokenize", None)
    if callable(tokenize):
        return (lambda text: len(tokenize(text.encode("utf-8"), add_bos=True, special=True))), "llama.cpp tokenizer"
    return estimate_tokens, "estimate"


def llm_context_window(llm, default: int) -> int:
    """The context window the backend really uses: llama.cpp's ``n_ctx()``, else the LLM's metadata."""
    model = getattr(llm, "_model", None)
    n_ctx = getattr(model, "n_ctx", None)
    if callable(n_ctx):
        return int(n_ctx())
    try:
        window = int(llm.metadata.context_window)
    except Exception:
        return default
    return window if window > 0 else default


@dataclass
class FittedPrompt:
    """The messages to send, what they were built from, their size, and notices for the reader."""

    messages: list[ChatMessage]
    question: str
    sources: list[Source]
    tokens: int
    limit: int
    counted_with: str
    notices: list[str] = field(default_factory=list)


def fit_prompt(question: str, sources: list[Source], query: str, *, context_tokens: int, window: int,
               answer_tokens: int, count: Counter, count_sources: Counter, counted_with: str = "estimate"
               ) -> FittedPrompt:
    """The prompt for ``question`` over ``sources`` whose tokens (by ``count``) leave ``answer_tokens`` of ``window``.

    ``count_sources`` is the counter `fit_sources` budgets abstracts with (the embedder's).
    """
    limit = window - answer_tokens - TEMPLATE_MARGIN
    notices: list[str] = []

    def size(q: str, chosen: list[Source]) -> int:
        return count(chat_text(build_messages(q, chosen)))

    budget = context_tokens
    kept = list(sources)
    fitted = fit_sources(kept, query, budget, count_sources)
    tokens = size(question, fitted)
    base = size(question, [])  # everything but the sources
    shortened = False
    while tokens > limit and kept:
        # scale the abstracts' budget by the share of the sources' tokens that fits; below a useful
        # minimum per source, keep only as many top-ranked sources as that share allows
        ratio = max(0.0, limit - base) / max(1, tokens - base)
        used = sum(count_sources(s.title) + count_sources(s.abstract) for s in fitted)
        scaled = int(min(budget, used) * min(ratio * 0.9, SHRINK))
        if scaled > MIN_SOURCE_BUDGET * len(kept):
            budget = scaled
            shortened = True
        else:
            kept = kept[: min(len(kept) - 1, int(len(kept) * ratio))]
        fitted = fit_sources(kept, query, budget, count_sources)
        tokens = size(question, fitted)
    if len(kept) < len(sources):
        notices.append(
            f"Only {len(kept)} of the {len(sources)} sources fit the model's context window ({window} tokens "
            f"with {answer_tokens} kept for the answer); the answer is based on those."
        )
    elif shortened:
        notices.append(f"The abstracts were shortened more than usual to fit the model's context window "
                       f"({window} tokens).")
    if tokens > limit:  # even without sources the question is too long for this window: cut it
        low, high = 0, len(question)
        while low < high:
            middle = (low + high + 1) // 2
            if size(truncate(question, middle), fitted) <= limit:
                low = middle
            else:
                high = middle - 1
        if low == 0:
            raise ValueError(f"the context window ({window} tokens) has no room for a question after reserving "
                             f"{answer_tokens} for the answer")
        question = truncate(question, low)
        tokens = size(question, fitted)
        notices.append(f"The question was cut to {len(question):,} characters to fit the model's context window "
                       f"({window} tokens).")
    return FittedPrompt(build_messages(question, fitted), question, fitted, tokens, limit, counted_with, notices)
