"""All configuration in one typed object: defaults < TOML file < ``RAG_*`` environment variables."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from platformdirs import user_data_dir
from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

REPO_ROOT = Path(__file__).resolve().parent.parent
MIN_PROMPT_TOKENS = 512  # the context window must leave at least this much room for the prompt


def config_file() -> Path:
    """The optional TOML file: ``$RAG_CONFIG`` if set, else ``rag.toml`` in the working folder."""
    return Path(os.environ.get("RAG_CONFIG", "rag.toml"))


class Settings(BaseSettings):
    """Every setting of the assistant. Environment: ``RAG_<FIELD>`` (e.g. ``RAG_TOP_K=8``)."""

    model_config = SettingsConfigDict(env_prefix="RAG_", extra="forbid", validate_default=True)

    # --- storage -------------------------------------------------------------------------
    data_dir: Path = Field(
        Path(user_data_dir("paper-rag", appauthor=False)),
        description="Folder for the embedded Chroma store, BM25 indexes and assembled model files.",
    )
    collection: str = Field(
        "seeds", min_length=3, max_length=63, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*[A-Za-z0-9]$",
        description="Chroma collection to ingest into and answer from (3-63 chars: letters, digits, . _ -).",
    )
    seeds_dir: Path = Field(
        REPO_ROOT / "seeds", description="Corpus ingested automatically when the default collection is empty."
    )
    chroma_host: str | None = Field(
        None, description="Chroma server host; unset = embedded store under data_dir (one process only)."
    )
    chroma_port: int = Field(8000, ge=1, le=65535, description="Chroma server port.")
    large_collection_chunks: int = Field(
        200000, ge=0,
        description="From this many chunks on, a collection's generation token is trusted: opening skips reading "
        "every paper when nothing was written since BM25 was saved, and searches skip counting chunks.",
    )

    # --- embedding -----------------------------------------------------------------------
    embed_provider: Literal["onnx", "ollama"] = Field(
        "onnx", description="onnx = embedded all-MiniLM-L6-v2 int8; ollama = an Ollama embedding model."
    )
    embed_ollama_model: str = Field("nomic-embed-text", description="Embedding model name on the Ollama server.")
    embed_batch_size: int = Field(
        8, ge=1, le=1024, description="Texts per embedding batch (8 measured fastest on 2 cores: least padding).",
    )
    embed_threads: int = Field(0, ge=0, le=64, description="onnxruntime intra-op threads (0 = all cores).")
    chunk_tokens: int = Field(
        256, ge=32, le=256,
        description="Max word-piece tokens per chunk (title included); MiniLM reads at most 256.",
    )
    chunk_overlap_sentences: int = Field(1, ge=0, le=5, description="Sentences shared by neighbouring chunks.")

    # --- retrieval -----------------------------------------------------------------------
    retrieval_mode: Literal["hybrid", "bm25", "dense"] = Field(
        "hybrid", description="hybrid = BM25 and dense fused by reciprocal rank."
    )
    top_k: int = Field(6, ge=1, le=50, description="Papers handed to the LLM and shown as sources.")
    candidates: int = Field(40, ge=5, le=1000, description="Hits taken from each retriever before fusion.")
    rrf_k: int = Field(60, ge=1, le=1000, description="Reciprocal-rank-fusion constant.")

    # --- LLM -----------------------------------------------------------------------------
    llm_provider: Literal["auto", "ollama", "llamacpp"] = Field(
        "auto", description="auto = Ollama if its server answers and has the model, else embedded llama.cpp."
    )
    ollama_host: str = Field(
        os.environ.get("OLLAMA_HOST", "http://127.0.0.1:11434"),
        description="Ollama server URL (defaults to $OLLAMA_HOST).",
    )
    ollama_model: str = Field("qwen2.5:3b-instruct", description="Chat model on the Ollama server.")
    ollama_num_ctx: int = Field(8192, ge=2048, le=131072, description="Context window requested from Ollama.")
    request_timeout: float = Field(120.0, gt=0, le=3600, description="Seconds before an LLM request fails.")
    llamacpp_model: Literal["qwen2.5-coder-1.5b", "qwen2.5-coder-0.5b"] = Field(
        "qwen2.5-coder-1.5b", description="Embedded GGUF model (assembled from PyPI part packages)."
    )
    llamacpp_threads: int = Field(2, ge=1, le=64, description="CPU threads for llama.cpp.")
    llamacpp_n_ctx: int = Field(4096, ge=1024, le=32768, description="llama.cpp context window (tokens).")
    context_tokens: int = Field(
        1000, ge=200, le=30000,
        description="Token budget for the abstracts in the prompt; longer ones keep their most relevant sentences.",
    )
    max_answer_tokens: int = Field(320, ge=16, le=4096, description="Upper bound on generated tokens.")
    max_question_chars: int = Field(
        2000, ge=50, le=20000,
        description="Longer questions are cut to this many characters (the Answer carries a notice).",
    )
    temperature: float = Field(0.1, ge=0.0, le=2.0, description="Sampling temperature.")

    # --- answering -----------------------------------------------------------------------
    support_threshold: float = Field(
        0.5, ge=0.0, le=1.0,
        description="IDF-weighted share of a claim's content words its source must contain to support it.",
    )
    abstain_threshold: float = Field(
        0.35, ge=0.0, le=1.0,
        description="Abstain without asking the LLM when the best source covers less of the question "
        "(IDF-weighted) than this.",
    )

    # --- chat UI -------------------------------------------------------------------------
    ui_host: str = Field("127.0.0.1", description="Interface the chat UI binds (127.0.0.1 = this machine only).")
    ui_port: int = Field(7860, ge=1, le=65535, description="Port of the chat UI.")
    upload_max_mb: int = Field(10, ge=1, le=1024, description="Largest file the chat UI accepts for upload (MB).")
    ui_allow_remote: bool = Field(
        False, description="Allow the chat UI to bind an interface other than loopback (also: rag ui --allow-remote).",
    )
    ui_username: str = Field("rag", min_length=1, description="User name for the chat UI's login (with ui_password).")
    ui_password: SecretStr | None = Field(
        None, description="Password for the chat UI's login; unset = no login (never printed or logged).",
    )

    # --- ingestion -----------------------------------------------------------------------
    ingest_max_mb: int = Field(
        20, ge=1, le=4096,
        description="Largest corpus file `rag ingest` loads whole (MB); larger ones are refused before anything is "
        "read (`rag ingest --bulk` streams them instead).",
    )

    @model_validator(mode="after")
    def expand_paths(self) -> Settings:
        self.data_dir = self.data_dir.expanduser()
        self.seeds_dir = self.seeds_dir.expanduser()
        return self

    @model_validator(mode="after")
    def answer_fits_the_context(self) -> Settings:
        for name, window in (("llamacpp_n_ctx", self.llamacpp_n_ctx), ("ollama_num_ctx", self.ollama_num_ctx)):
            if self.max_answer_tokens > window - MIN_PROMPT_TOKENS:
                raise ValueError(
                    f"max_answer_tokens ({self.max_answer_tokens}) leaves less than {MIN_PROMPT_TOKENS} tokens "
                    f"of the {name} context window ({window}) for the prompt: lower RAG_MAX_ANSWER_TOKENS or "
                    f"raise RAG_{name.upper()}"
                )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=config_file()))

    @property
    def chroma_dir(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def bm25_dir(self) -> Path:
        return self.data_dir / "bm25"

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"


def describe_invalid(error: ValidationError) -> str:
    """One line per invalid setting, named as its environment variable: ``RAG_TOP_K=0: Input should be ...``."""
    lines = []
    for problem in error.errors():
        field = ".".join(str(part) for part in problem.get("loc", ()))
        value = problem.get("input")
        shown = "" if not field or isinstance(value, dict) else f"={value}"
        if field in SECRET_FIELDS:
            shown = "=**********"
        name = f"RAG_{field.upper()}{shown}" if field else "settings"
        message = problem.get("msg", "invalid").removeprefix("Value error, ")
        lines.append(f"  {name} ({field or 'model'}): {message}")
    return "\n".join(lines)


SECRET_FIELDS = frozenset({"ui_password"})


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
