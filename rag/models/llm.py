"""LLM providers: Ollama (a server) or llama.cpp (embedded), chosen by ``settings.llm.provider``."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from llama_index.core.base.llms.types import ChatMessage, MessageRole
from llama_index.core.llms import LLM

from rag.errors import LLMError, ModelUnavailable
from rag.models.gguf import MODELS, assemble
from rag.models.pieces import Piece, PiecedPrompt
from rag.settings import LlmSettings, Settings

OLLAMA_PROBE_SECONDS = 2.0
YES_NO_WORDS = (("Yes", " Yes", "yes"), ("No", " No", "no"))


def is_timeout(error: BaseException) -> bool:
    import httpx

    return isinstance(error, (TimeoutError, httpx.TimeoutException))


def llm_failure(error: BaseException, provider: str, model: str, settings: LlmSettings) -> LLMError:
    """An actionable `LLMError` for an exception raised while the LLM was answering."""
    import httpx
    import ollama

    if isinstance(error, LLMError):
        return error
    timeout = f"{settings.request_timeout:g} s"
    if provider == "ollama":
        host = settings.ollama_host
        if is_timeout(error):
            return LLMError(
                f"the Ollama server at {host} did not answer within {timeout} (RAG_REQUEST_TIMEOUT). It may be "
                f"busy or loading {model}: try again, or raise RAG_REQUEST_TIMEOUT.", "timeout")
        if isinstance(error, (ConnectionError, httpx.ConnectError, httpx.RemoteProtocolError)):
            return LLMError(
                f"cannot reach the Ollama server at {host} ({error.__class__.__name__}). Start it with "
                "`ollama serve`, set OLLAMA_HOST / RAG_OLLAMA_HOST to where it runs, or set "
                "RAG_LLM_PROVIDER=llamacpp for the embedded model.", "unreachable")
        if isinstance(error, ollama.ResponseError):
            detail = str(error.error).strip() or "no detail"
            if error.status_code == 404 or "not found" in detail.lower():
                return LLMError(
                    f"the Ollama server at {host} does not have the model {model!r} ({detail}). Run "
                    f"`ollama pull {model}`, or set RAG_OLLAMA_MODEL to a model it has.", "missing_model")
            status = f"HTTP {error.status_code}" if error.status_code > 0 else "an error in its reply stream"
            return LLMError(
                f"the Ollama server at {host} failed while answering ({status}: {detail}). Check the server's "
                "log (it may be out of memory); try again or use a smaller model.", "server_error")
    elif is_timeout(error):
        return LLMError(f"the model {model} did not finish within {timeout} (RAG_REQUEST_TIMEOUT); raise it, or "
                        "use the smaller model (RAG_LLAMACPP_MODEL=qwen2.5-coder-0.5b).", "timeout")
    return LLMError(f"the language model ({provider}:{model}) failed while answering "
                    f"({type(error).__name__}: {error})", "failed")


ESTIMATE_PIECES = re.compile(r"[A-Za-z]+|\d|\s+|[\x00-\x7f]|[^\x00-\x7f]")


def estimate_tokens(text: str) -> int:
    """A tokenizer-free upper estimate: a quarter token per ASCII letter, one per digit or ASCII symbol,
    one per UTF-8 byte of anything else (the worst case of a byte-level BPE); never lower than Qwen's
    tokenizer on the seeds, about 1.6 times higher on English."""
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


def chatml(messages: Sequence[ChatMessage]) -> str:
    """Qwen's ChatML prompt format, ending with the assistant turn opened; a final assistant message is left open,
    for the model to write on from (a prefilled opening)."""
    turns = [f"<|im_start|>{m.role.value}\n{m.content}<|im_end|>" for m in messages]
    if messages and messages[-1].role == MessageRole.ASSISTANT:
        return "\n".join(turns)[: -len("<|im_end|>")]
    return "\n".join([*turns, "<|im_start|>assistant\n"])


@dataclass
class PromptRead:
    """How the model read its last prompt: its tokens, how many it computed for this question, and how many
    cached papers it reused or read for the first time."""

    tokens: int = 0
    computed: int = 0
    papers_reused: int = 0
    papers_read: int = 0

    def __add__(self, other: PromptRead) -> PromptRead:
        """Two prompts read for one answer."""
        return PromptRead(self.tokens + other.tokens, self.computed + other.computed,
                          self.papers_reused + other.papers_reused, self.papers_read + other.papers_read)


class LanguageModel:
    """The LLM in use: streams a reply to chat messages, counts tokens the way the model does, and knows
    the context window the backend really uses. ``llm`` is the LlamaIndex LLM underneath.

    A model whose ``paper_cache`` is not ``off`` can also be given the prompt as `PiecedPrompt`: it then reuses
    the computed state of the pieces marked ``cached`` (the embedded model's prompt cache): the first paper's
    (``first``) or every whole abstract's (``all``)."""

    counted_with = "estimate"
    paper_cache = "off"
    caches_judged_papers = False  # the list judge's reading of each paper is kept and reused

    @property
    def reuses_pieces(self) -> bool:
        """Whether prompts given as pieces reuse the cached pieces' state."""
        return self.paper_cache != "off"

    def __init__(self, llm: LLM, provider: str, model: str, reason: str, settings: LlmSettings | None = None,
                 window: int | None = None):
        self.llm = llm
        self.provider = provider
        self.model = model
        self.reason = reason
        self.settings = settings or LlmSettings()
        self.context_window = window or self._metadata_window()
        self.last_read = PromptRead()

    def _metadata_window(self) -> int:
        try:
            window = int(self.llm.metadata.context_window)
        except Exception:  # a backend without metadata
            return self.settings.ollama_num_ctx
        return window if window > 0 else self.settings.ollama_num_ctx

    def count_tokens(self, text: str) -> int:
        """Tokens ``text`` takes in this model's prompt (an upper estimate when its tokenizer is not at hand)."""
        return estimate_tokens(text)

    def warm(self, prefix: str, blocks: Iterable[str], should_stop: Callable[[], bool] = lambda: False) -> int:
        """Read and save the cached pieces not saved yet; how many were read (none without a prompt cache)."""
        return 0

    def cache_full(self) -> bool:
        """Whether the prompt cache has no room left for more pieces (always, without one)."""
        return True

    def option_probabilities(self, messages: Sequence[ChatMessage], pieces: PiecedPrompt | None = None,
                             options: Sequence[Sequence[str]] = YES_NO_WORDS) -> list[float] | None:
        """The probability of each option (its words, e.g. ``("Yes", " Yes", "yes")``) as the first token of the
        reply, among the options (they sum to 1); None when this model does not expose next-token probabilities
        (then the caller decides another way). ``pieces`` is the same prompt cut into pieces, for a model with a
        prompt cache."""
        return None

    def yes_probability(self, messages: Sequence[ChatMessage], pieces: PiecedPrompt | None = None) -> float | None:
        """P(Yes) among Yes and No for the first token of the reply to a yes/no question (None: see
        `option_probabilities`)."""
        shares = self.option_probabilities(messages, pieces, YES_NO_WORDS)
        return None if shares is None else shares[0]

    def stream(self, messages: Sequence[ChatMessage], pieces: PiecedPrompt | None = None,
               opening: str = "") -> Iterator[str]:
        """The reply's text as it is written; failures raise an actionable `LLMError`. ``pieces`` is the same
        prompt cut into pieces, used by models that reuse pieces' state. A reply given an ``opening`` starts with
        it: the model writes on from it (Ollama continues a final assistant message)."""
        messages = [*messages, ChatMessage(role=MessageRole.ASSISTANT, content=opening)] if opening else messages
        tokens = self.count_tokens(chatml(messages))
        self.last_read = PromptRead(tokens=tokens, computed=tokens)
        if opening:
            yield opening
        reply = None
        try:
            reply = self.llm.stream_chat(list(messages))
            for chunk in reply:
                if chunk.delta:
                    yield chunk.delta
        except Exception as error:  # connection, timeout, HTTP errors: one typed, actionable error
            raise llm_failure(error, self.provider, self.model, self.settings) from error
        finally:
            close = getattr(reply, "close", None)
            if close is not None:
                close()


STOP = ["<|im_end|>", "<|endoftext|>"]
CACHE_LAYOUT = "blocks-after-prefix-1"  # bump when the way cached pieces are read changes
WARM_FILL = 0.9  # warming stops when the prompt cache is this full, leaving room for the papers asked about


class LlamaCppModel(LanguageModel):
    """The embedded llama.cpp model: counts with its own tokenizer; its window is the context it was made with.

    With a prompt cache folder and ``RAG_PROMPT_CACHE`` first or all, prompts given as pieces are read by a
    `BlockEngine`: each cached piece (a paper) is read once, saved on disk, and its state restored into later
    prompts (first: the first paper, where it was read; all: every paper, stitched), so a question costs only
    the tokens not cached. With ``off``, every answer's prompt is read whole; the list judge still keeps each
    paper's reading (its paper comes right after fixed rules, so restoring it is exact).
    """

    counted_with = "llama.cpp tokenizer"

    def __init__(self, llm: LLM, model: str, reason: str, settings: LlmSettings, cache_dir: Path | None = None):
        self._llama = llm._model  # llama_cpp.Llama inside LlamaIndex's LlamaCPP
        super().__init__(llm, "llamacpp", model, reason, settings, window=int(self._llama.n_ctx()))
        self.engine = self._engine(cache_dir) if cache_dir is not None and settings.prompt_cache != "off" else None
        self.paper_cache = settings.prompt_cache if self.engine is not None else "off"
        self.caches_judged_papers = cache_dir is not None
        self._cache_dir = cache_dir
        self._judging_engine = self.engine  # made on first use when answers do not use the prompt cache

    def _engine(self, folder: Path):
        """The prompt cache's reader, with flash attention as ``RAG_LLAMACPP_FLASH_ATTN`` says. With the cache off it
        serves only the list judge, which keeps reading without it, as measured (its saved papers stay valid)."""
        from rag.models.kvcache import BlockCache, BlockEngine

        cache = BlockCache(folder, max_bytes=int(self.settings.prompt_cache_gb * 2**30))
        flash = self.settings.llamacpp_flash_attn if self.settings.prompt_cache != "off" else None
        return BlockEngine(self._llama, cache, model_sha256=MODELS[self.model].sha256, layout=CACHE_LAYOUT,
                           n_ctx=self.context_window, n_threads=self.settings.llamacpp_threads,
                           n_batch=self.settings.llamacpp_n_batch, kv_type=self.settings.kv_type,
                           flash_attn=flash)

    def count_tokens(self, text: str) -> int:
        return len(self._llama.tokenize(text.encode("utf-8"), add_bos=True, special=True))

    def stream(self, messages: Sequence[ChatMessage], pieces: PiecedPrompt | None = None,
               opening: str = "") -> Iterator[str]:
        if self.engine is None or pieces is None:
            yield from super().stream(messages, opening=opening)
            return
        if opening:
            pieces = PiecedPrompt(pieces.prefix, (*pieces.pieces, Piece(opening)))
            yield opening
        settings = self.settings
        stream = self.engine.stream(pieces.prefix, pieces.pieces, max_tokens=settings.max_answer_tokens,
                                    temperature=settings.temperature, seed=settings.seed, stop=STOP,
                                    live_head=settings.prompt_cache_live_head)
        try:
            yield from stream
        except Exception as error:
            raise llm_failure(error, self.provider, self.model, settings) from error
        finally:
            stream.close()
            report = self.engine.report
            if report is not None:
                self.last_read = PromptRead(
                    tokens=report.prompt_tokens,
                    computed=report.live_tokens + report.block_tokens_read + report.recomputed_tokens,
                    papers_reused=report.blocks - report.blocks_read, papers_read=report.blocks_read)

    def first_tokens(self, words: Sequence[str]) -> list[int]:
        """The distinct first tokens of ``words``."""
        return sorted({self._llama.tokenize(w.encode(), add_bos=False)[0] for w in words})

    def option_probabilities(self, messages: Sequence[ChatMessage], pieces: PiecedPrompt | None = None,
                             options: Sequence[Sequence[str]] = YES_NO_WORDS) -> list[float] | None:
        """Read the prompt's pieces with the prompt cache (a cached piece once ever) and compare the next-token
        probabilities of each option's first tokens; None without pieces or a cache folder."""
        engine = self._judging() if pieces is not None else None
        if engine is None:
            return None
        try:
            logits = engine.prompt_logits(pieces.prefix, pieces.pieces).astype(np.float64)
        except Exception as error:
            raise llm_failure(error, self.provider, self.model, self.settings) from error
        weights = np.exp(logits - logits.max())
        return shares([weights[self.first_tokens(words)].sum() for words in options])

    def _judging(self):
        """The engine that reads the list judge's prompts (the answers' own, or one made on first use); None
        without a cache folder."""
        if self._judging_engine is None and self._cache_dir is not None:
            self._judging_engine = self._engine(self._cache_dir)
        return self._judging_engine

    def warm(self, prefix: str, blocks: Iterable[str], should_stop: Callable[[], bool] = lambda: False) -> int:
        """Read and save the cached pieces not saved yet (a question goes first); how many were read. With the
        prompt cache off only the list judge's pieces are worth warming: its engine reads them."""
        engine = self._judging()
        return engine.warm(prefix, blocks, should_stop) if engine is not None else 0

    def cache_full(self) -> bool:
        engine = self._judging()
        if engine is None:
            return True
        stats = engine.cache.stats()
        return stats.bytes >= WARM_FILL * stats.max_bytes


def prompt_cache_stats(settings: Settings):
    """The embedded model's prompt cache on disk (`CacheStats`: entries, bytes, hit rate across processes), or
    None when neither answers nor the list judge use it. Loads no model."""
    if settings.llm.prompt_cache == "off" and settings.answering.list_judge > 1:
        return None
    from rag.models.kvcache import BlockCache

    return BlockCache(settings.store.prompt_cache_dir, int(settings.llm.prompt_cache_gb * 2**30)).stats()


def ollama_models(host: str, timeout: float) -> list[str]:
    """Names of the models the Ollama server at ``host`` has pulled (raises if it does not answer)."""
    import ollama

    return [m.model for m in ollama.Client(host=host, timeout=timeout).list().models if m.model]


def has_model(available: list[str], wanted: str) -> bool:
    """Ollama names default to the ``latest`` tag: ``llama3.2`` matches ``llama3.2:latest``."""
    full = wanted if ":" in wanted else f"{wanted}:latest"
    return wanted in available or full in available


def shares(weights: Sequence[float]) -> list[float] | None:
    """Each weight's share of their sum; None when none has any weight."""
    total = float(sum(weights))
    return [float(w) / total for w in weights] if total > 0 else None


TOP_LOGPROBS = 20  # alternatives Ollama reports for the first token: the options are among them when it hesitates


class OllamaModel(LanguageModel):
    """A model on an Ollama server; it gives next-token probabilities (``logprobs``, Ollama 0.12.11 and later)."""

    def option_probabilities(self, messages: Sequence[ChatMessage], pieces: PiecedPrompt | None = None,
                             options: Sequence[Sequence[str]] = YES_NO_WORDS) -> list[float] | None:
        """One token of reply with its top alternatives' log-probabilities; a token counts for an option when it
        is one of the option's words or the start (two letters or more) of one. None from a server that gives
        none."""
        settings = self.settings
        try:
            response = self.llm.client.chat(
                model=self.model, messages=[{"role": m.role.value, "content": m.content} for m in messages],
                stream=False, logprobs=True, top_logprobs=TOP_LOGPROBS, keep_alive=settings.ollama_keep_alive,
                options={"num_ctx": settings.ollama_num_ctx, "num_predict": 1, "temperature": 0, "seed": settings.seed},
            )
        except Exception as error:
            raise llm_failure(error, self.provider, self.model, settings) from error
        if not response.logprobs:
            return None
        first = response.logprobs[0]
        alternatives = {(t.token.strip().casefold(), t.logprob) for t in first.top_logprobs or []}
        alternatives.add((first.token.strip().casefold(), first.logprob))
        words = [{w.strip().casefold() for w in option} for option in options]
        return shares([sum(math.exp(lp) for token, lp in alternatives if starts_option(token, option))
                       for option in words])


def starts_option(token: str, words: set[str]) -> bool:
    """Whether a reply's first token is one of the words, or the start of one (two letters or more)."""
    return token in words or (len(token) >= 2 and any(w.startswith(token) for w in words))


def make_ollama(settings: LlmSettings) -> LanguageModel:
    from llama_index.llms.ollama import Ollama

    llm = Ollama(
        model=settings.ollama_model,
        base_url=settings.ollama_host,
        request_timeout=settings.request_timeout,
        context_window=settings.ollama_num_ctx,  # sent as num_ctx: Ollama would truncate silently otherwise
        temperature=settings.temperature,
        additional_kwargs={"num_predict": settings.max_answer_tokens, "seed": settings.seed},
        keep_alive=settings.ollama_keep_alive,
    )
    return OllamaModel(llm, "ollama", settings.ollama_model,
                       f"Ollama at {settings.ollama_host} has {settings.ollama_model}", settings)


def make_llamacpp(settings: LlmSettings, models_dir: Path, reason: str, progress: bool = True,
                  cache_dir: Path | None = None) -> LanguageModel:
    try:
        from llama_index.llms.llama_cpp import LlamaCPP
    except ImportError:
        raise ModelUnavailable(
            'the embedded LLM needs llama-cpp-python: pip install -e ".[llamacpp]" (compiles for ~10 min once)'
        ) from None
    model_path = assemble(MODELS[settings.llamacpp_model], models_dir, progress=progress)
    llm = LlamaCPP(
        model_path=str(model_path),
        temperature=settings.temperature,
        max_new_tokens=settings.max_answer_tokens,
        context_window=settings.llamacpp_n_ctx,
        messages_to_prompt=chatml,
        completion_to_prompt=lambda text: chatml([ChatMessage(role="user", content=text)]),
        generate_kwargs={"stop": ["<|im_end|>", "<|endoftext|>"], "seed": settings.seed},
        model_kwargs={"n_threads": settings.llamacpp_threads, "n_batch": settings.llamacpp_n_batch,
                      "flash_attn": settings.llamacpp_flash_attn},
        verbose=False,
    )
    return LlamaCppModel(llm, settings.llamacpp_model, reason, settings, cache_dir)


@dataclass(frozen=True)
class LlmPlan:
    """Which LLM the settings select, and why, found without loading it."""

    provider: str
    model: str
    reason: str


def plan_llm(settings: LlmSettings) -> LlmPlan:
    """The LLM ``settings`` select: ``auto`` prefers a reachable Ollama server that has the model.
    Raises `ModelUnavailable` when ``provider`` is ``ollama`` and the server or model is missing."""
    provider = settings.provider
    if provider == "llamacpp":
        return LlmPlan("llamacpp", settings.llamacpp_model, "RAG_LLM_PROVIDER=llamacpp")
    try:
        available = ollama_models(settings.ollama_host, min(OLLAMA_PROBE_SECONDS, settings.request_timeout))
    except Exception as error:  # connection refused, timeout, HTTP error: all mean "not usable"
        problem = f"no Ollama server answers at {settings.ollama_host} ({type(error).__name__})"
    else:
        if has_model(available, settings.ollama_model):
            return LlmPlan("ollama", settings.ollama_model, f"Ollama at {settings.ollama_host} has "
                           f"{settings.ollama_model}")
        problem = (f"the Ollama server at {settings.ollama_host} does not have {settings.ollama_model!r} "
                   f"(run `ollama pull {settings.ollama_model}`)")
    if provider == "ollama":
        raise ModelUnavailable(
            f"RAG_LLM_PROVIDER=ollama but {problem}. Start it with `ollama serve`, set OLLAMA_HOST / "
            "RAG_OLLAMA_HOST to where it runs, or set RAG_LLM_PROVIDER=llamacpp for the embedded model."
        )
    return LlmPlan("llamacpp", settings.llamacpp_model, f"{problem}; using the embedded model")


def choose_llm(settings: Settings, progress: bool = True) -> LanguageModel:
    """Build and load the LLM the settings select (see `plan_llm`)."""
    plan = plan_llm(settings.llm)
    if plan.provider == "ollama":
        return make_ollama(settings.llm)
    return make_llamacpp(settings.llm, settings.store.models_dir, plan.reason, progress,
                         cache_dir=settings.store.prompt_cache_dir)
