"""LLM providers: Ollama (a server) or llama.cpp (embedded), chosen by ``settings.llm_provider``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.llms import LLM

from rag.models.files import ModelUnavailable
from rag.models.gguf import MODELS, assemble
from rag.settings import Settings

OLLAMA_PROBE_SECONDS = 2.0


class LLMError(RuntimeError):
    """A call to the LLM failed (server down, timeout, server error, model missing); the message says what
    to do. ``kind`` is one of ``unreachable``, ``timeout``, ``missing_model``, ``server_error``, ``failed``."""

    def __init__(self, message: str, kind: str = "failed"):
        super().__init__(message)
        self.kind = kind


def is_timeout(error: BaseException) -> bool:
    import httpx

    return isinstance(error, (TimeoutError, httpx.TimeoutException))


def llm_failure(error: BaseException, provider: str, model: str, settings: Settings) -> LLMError:
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


@dataclass(frozen=True)
class ChosenLLM:
    """The LLM in use, with a human-readable note on why it was chosen."""

    llm: LLM
    provider: str
    model: str
    reason: str


def chatml(messages: Sequence[ChatMessage]) -> str:
    """Qwen's ChatML prompt format, ending with the assistant turn opened."""
    turns = [f"<|im_start|>{m.role.value}\n{m.content}<|im_end|>" for m in messages]
    return "\n".join([*turns, "<|im_start|>assistant\n"])


def ollama_models(host: str, timeout: float) -> list[str]:
    """Names of the models the Ollama server at ``host`` has pulled (raises if it does not answer)."""
    import ollama

    return [m.model for m in ollama.Client(host=host, timeout=timeout).list().models if m.model]


def has_model(available: list[str], wanted: str) -> bool:
    """Ollama names default to the ``latest`` tag: ``llama3.2`` matches ``llama3.2:latest``."""
    full = wanted if ":" in wanted else f"{wanted}:latest"
    return wanted in available or full in available


def make_ollama(settings: Settings) -> LLM:
    from llama_index.llms.ollama import Ollama

    return Ollama(
        model=settings.ollama_model,
        base_url=settings.ollama_host,
        request_timeout=settings.request_timeout,
        context_window=settings.ollama_num_ctx,  # sent as num_ctx: Ollama would truncate silently otherwise
        temperature=settings.temperature,
        additional_kwargs={"num_predict": settings.max_answer_tokens},
        keep_alive="30m",
    )


def make_llamacpp(settings: Settings, progress: bool = True) -> LLM:
    try:
        from llama_index.llms.llama_cpp import LlamaCPP
    except ImportError:
        raise ModelUnavailable(
            'the embedded LLM needs llama-cpp-python: pip install -e ".[llamacpp]" (compiles for ~10 min once)'
        ) from None
    model_path = assemble(MODELS[settings.llamacpp_model], settings.models_dir, progress=progress)
    return LlamaCPP(
        model_path=str(model_path),
        temperature=settings.temperature,
        max_new_tokens=settings.max_answer_tokens,
        context_window=settings.llamacpp_n_ctx,
        messages_to_prompt=chatml,
        completion_to_prompt=lambda text: chatml([ChatMessage(role="user", content=text)]),
        generate_kwargs={"stop": ["<|im_end|>", "<|endoftext|>"]},
        model_kwargs={"n_threads": settings.llamacpp_threads, "n_batch": 512},
        verbose=False,
    )


def choose_llm(settings: Settings, progress: bool = True) -> ChosenLLM:
    """Build the configured LLM; ``auto`` prefers a reachable Ollama server that has the model."""
    provider = settings.llm_provider
    if provider in ("auto", "ollama"):
        try:
            available = ollama_models(settings.ollama_host, min(OLLAMA_PROBE_SECONDS, settings.request_timeout))
        except Exception as error:  # connection refused, timeout, HTTP error: all mean "not usable"
            problem = f"no Ollama server answers at {settings.ollama_host} ({type(error).__name__})"
        else:
            if has_model(available, settings.ollama_model):
                return ChosenLLM(make_ollama(settings), "ollama", settings.ollama_model,
                                 f"Ollama at {settings.ollama_host} has {settings.ollama_model}")
            problem = (f"the Ollama server at {settings.ollama_host} does not have {settings.ollama_model!r} "
                       f"(run `ollama pull {settings.ollama_model}`)")
        if provider == "ollama":
            raise ModelUnavailable(
                f"RAG_LLM_PROVIDER=ollama but {problem}. Start it with `ollama serve`, set OLLAMA_HOST / "
                "RAG_OLLAMA_HOST to where it runs, or set RAG_LLM_PROVIDER=llamacpp for the embedded model."
            )
        reason = f"{problem}; using the embedded model"
    else:
        reason = "RAG_LLM_PROVIDER=llamacpp"
    return ChosenLLM(make_llamacpp(settings, progress), "llamacpp", settings.llamacpp_model, reason)
