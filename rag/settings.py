"""All configuration in one typed object, in sections, with named profiles.

Precedence (highest first): keyword arguments, ``RAG_*`` environment variables, a TOML file
(``$RAG_CONFIG``, default ``./rag.toml``), the profile (``RAG_PROFILE``: default, fast, quality),
the defaults. Each setting has one flat name, used for its environment variable (``RAG_TOP_K``)
and accepted everywhere else too (``Settings(top_k=8)``, ``top_k = 8`` in the TOML file); in
Python it lives in its section (``settings.retrieval.top_k``; TOML ``[retrieval] top_k = 8``).
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from platformdirs import user_data_dir
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

REPO_ROOT = Path(__file__).resolve().parent.parent

# --- limits shared by every interface ---------------------------------------------------------
TOP_K_MAX = 50  # papers per question
COLLECTION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,61}[A-Za-z0-9]$")  # Chroma's rule: 3-63 characters
COLLECTION_RULE = "3-63 letters, digits, “.”, “_” or “-”, starting and ending with a letter or digit"
MIN_PROMPT_TOKENS = 512  # the context window must leave at least this much room for the prompt
SWITCH_WORDS = {"true": True, "1": True, "yes": True, "on": True, "false": False, "0": False, "no": False}
READ_PAGE = 5000  # rows per paged read of a Chroma collection (unpaged reads fail past ~32,000 on a server)
ID_PAGE = 50000  # rows per paged read of ids alone (no metadata or documents)


def collection_name_problem(name: str) -> str | None:
    """None when ``name`` is a usable collection name, else a sentence saying why it is not."""
    if COLLECTION_NAME.match(name or ""):
        return None
    return f"“{name}” is not a valid collection name: use {COLLECTION_RULE}."


class Section(BaseModel):
    """A group of settings; a field's alias, if it has one, is its flat name (``RAG_<ALIAS>``)."""

    model_config = ConfigDict(extra="forbid", validate_by_name=True, validate_by_alias=True, validate_default=True)


class StoreSettings(Section):
    """Where the collections live."""

    data_dir: Path = Field(
        Path(user_data_dir("paper-rag", appauthor=False)),
        description="Folder for the embedded Chroma store, BM25 indexes, assembled model files and caches.",
    )
    collection: str = Field(
        "seeds", pattern=COLLECTION_NAME.pattern,
        description=f"Chroma collection to ingest into and answer from ({COLLECTION_RULE}).",
    )
    seeds_dir: Path = Field(
        REPO_ROOT / "seeds", description="Corpus the UI and `rag ask` ingest when the default collection is empty."
    )
    chroma_host: str | None = Field(
        None, description="Chroma server host; unset = embedded store under data_dir (one process only)."
    )
    chroma_port: int = Field(8000, ge=1, le=65535, description="Chroma server port.")
    hnsw_ef_search: int = Field(
        1000, ge=10,
        description="How many candidates Chroma's HNSW index explores per dense search (set on every collection "
        "when it is opened). The graph Chroma rebuilds from its log in each process differs, and a narrow search "
        "can miss even the nearest chunk; at least the collection's chunk count makes the search exhaustive.",
    )
    large_collection_chunks: int = Field(
        200000, ge=0,
        description="From this many chunks on, a collection's generation token is trusted: opening skips reading "
        "every paper when nothing was written since BM25 was saved, and searches skip counting chunks.",
    )

    @model_validator(mode="after")
    def expand_paths(self) -> StoreSettings:
        self.data_dir = self.data_dir.expanduser()
        self.seeds_dir = self.seeds_dir.expanduser()
        return self

    @property
    def chroma_dir(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def bm25_dir(self) -> Path:
        return self.data_dir / "bm25"

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def prompt_cache_dir(self) -> Path:
        return self.data_dir / "prompt-cache"

    @property
    def chats_dir(self) -> Path:
        return self.data_dir / "chats"


class CorpusSettings(Section):
    """Limits on what one corpus file may cost to read, whoever hands it in (`rag ingest`, `rag.ingest`, the
    chat's upload box). Hitting one is that record's or that file's ``file:line: problem``, never a hang."""

    ingest_max_mb: int = Field(
        20, ge=1, le=4096,
        description="Largest corpus file `rag ingest` loads whole (MB); larger ones are refused before anything is "
        "read (`rag ingest --bulk` streams them instead).",
    )
    max_title_chars: int = Field(
        1000, ge=100, le=100_000,
        description="A record whose title is longer (in characters) is a bad record; real titles stay under 300.",
    )
    max_abstract_chars: int = Field(
        20_000, ge=1000, le=1_000_000,
        description="A record whose abstract is longer (in characters) is a bad record, not cut: real abstracts "
        "stay under 5,000, and every 1,000 characters cost about one chunk to embed.",
    )
    max_field_chars: int = Field(
        100_000, ge=1000, le=10_000_000,
        description="A record with any other field longer than this (in characters; a list such as the authors "
        "counts whole) is a bad record.",
    )
    max_json_depth: int = Field(
        64, ge=2, le=500,
        description="A JSON record nested deeper than this (objects and arrays) is a bad record.",
    )
    max_json_number_chars: int = Field(
        100, ge=20, le=4000,
        description="A JSON record with a number written with more characters than this is a bad record.",
    )
    pdf_max_seconds: float = Field(
        30.0, gt=0, le=3600,
        description="A PDF whose first pages take longer to read is a bad record (the reader process is stopped).",
    )
    pdf_max_memory_mb: int = Field(
        512, ge=128, le=65536,
        description="Memory (address space, MB) the PDF reader process may use; a PDF that needs more (a "
        "decompression bomb) is a bad record.",
    )


class EmbeddingSettings(Section):
    """The embedding model and how abstracts are cut for it."""

    provider: Literal["onnx", "ollama"] = Field(
        "onnx", alias="embed_provider",
        description="onnx = embedded all-MiniLM-L6-v2 int8; ollama = an Ollama embedding model.",
    )
    ollama_model: str = Field(
        "nomic-embed-text", alias="embed_ollama_model", description="Embedding model name on the Ollama server."
    )
    batch_size: int = Field(
        8, ge=1, le=1024, alias="embed_batch_size",
        description="Texts per embedding batch (8 measured fastest on 2 cores: least padding).",
    )
    threads: int = Field(0, ge=0, le=64, alias="embed_threads", description="onnxruntime intra-op threads (0 = all "
                         "cores).")
    chunk_tokens: int = Field(
        256, ge=32, le=256, description="Max word-piece tokens per chunk (title included); MiniLM reads at most 256.",
    )
    chunk_overlap_sentences: int = Field(1, ge=0, le=5, description="Sentences shared by neighbouring chunks.")


class RetrievalSettings(Section):
    """Finding the papers for a question."""

    mode: Literal["hybrid", "bm25", "dense"] = Field(
        "hybrid", alias="retrieval_mode", description="hybrid = BM25 and dense fused by reciprocal rank."
    )
    top_k: int = Field(6, ge=1, le=TOP_K_MAX, description="Papers handed to the LLM and shown as sources.")
    candidates: int = Field(40, ge=5, le=1000, description="Hits taken from each retriever before fusion.")
    rrf_k: int = Field(60, ge=1, le=1000, description="Reciprocal-rank-fusion constant.")


class LlmSettings(Section):
    """The language model: an Ollama server or the embedded llama.cpp model."""

    provider: Literal["auto", "ollama", "llamacpp"] = Field(
        "auto", alias="llm_provider",
        description="auto = Ollama if its server answers and has the model, else embedded llama.cpp.",
    )
    ollama_host: str = Field(
        os.environ.get("OLLAMA_HOST", "http://127.0.0.1:11434"),
        description="Ollama server URL (defaults to $OLLAMA_HOST).",
    )
    ollama_model: str = Field("qwen2.5:3b-instruct", description="Chat model on the Ollama server.")
    ollama_num_ctx: int = Field(8192, ge=2048, le=131072, description="Context window requested from Ollama.")
    ollama_keep_alive: str = Field("30m", description="How long Ollama keeps the model loaded after a request.")
    request_timeout: float = Field(120.0, gt=0, le=3600, description="Seconds before an LLM request fails.")
    llamacpp_model: Literal["qwen2.5-coder-1.5b", "qwen2.5-coder-0.5b"] = Field(
        "qwen2.5-coder-1.5b", description="Embedded GGUF model (assembled from PyPI part packages)."
    )
    llamacpp_threads: int = Field(2, ge=1, le=64, description="CPU threads for llama.cpp.")
    llamacpp_n_ctx: int = Field(4096, ge=1024, le=32768, description="llama.cpp context window (tokens).")
    llamacpp_n_batch: int = Field(
        512, ge=8, le=4096, description="Prompt tokens llama.cpp reads per step (64-512 measured the same here).",
    )
    llamacpp_flash_attn: bool = Field(
        True, description="Flash attention in llama.cpp for answers (and the list judge when the prompt cache is on): "
        "the prompt read about 13% faster here, the same answer quality in rag eval (see docs/performance.md).",
    )
    prompt_cache: Literal["off", "first", "all"] = Field(
        "off", description="Embedded model: reuse papers' computed state from a cache on disk. off = every prompt "
        "read whole, its abstracts fitted to the question; first = the first paper's whole abstract, saved where "
        "every prompt reads it (right after the rules and its number), so restoring it is the same computation and "
        "a question reads only the other papers and itself (first word 9.0 s instead of 10.7 s p50 on the dev "
        "questions once a paper was met; fewer held-out answers: see docs/performance.md); all = every paper's "
        "whole abstract read once and stitched in (faster still, more answers lost). true/false mean all/off.",
    )
    prompt_cache_gb: float = Field(8.0, ge=0.1, le=10000, description="Largest size of the prompt cache on disk (GB); "
                                   "the least recently used papers go first.")
    warm_when_idle: bool = Field(
        True, description="Embedded model: while no question is being answered, `rag ui` reads the collection's "
        "papers into the prompt cache (as the list judge reads them; with RAG_PROMPT_CACHE first or all, as answers "
        "do too), so a 'which papers' question judges them from the cache. A question always goes first.",
    )
    prompt_cache_live_head: int = Field(
        0, ge=0, le=4096, description="Prompt cache: read this many of each cached paper's first tokens (its title) "
        "live, after the papers and the number before it, instead of restoring their saved state (32: fewer answers "
        "lost, see docs/performance.md).",
    )
    kv_type: Literal["f16", "q8_0", "q8_0-k"] = Field(
        "f16", description="How the prompt cache stores a paper's state: f16 (exact), q8_0 (half the size, needs "
        "flash attention), q8_0-k (keys only quantized).",
    )
    max_answer_tokens: int = Field(320, ge=16, le=4096, description="Upper bound on generated tokens.")
    temperature: float = Field(0.1, ge=0.0, le=1.0, description="Sampling temperature (0 to 1).")
    seed: int = Field(
        0, ge=0, le=2**32 - 1,
        description="Sampling seed, set afresh for every reply: the same prompt gets the same answer, whatever was "
        "asked before.",
    )

    @field_validator("prompt_cache", mode="before")
    @classmethod
    def cache_switch(cls, value: object) -> object:
        """``true``/``false`` (the switch's earlier form) mean ``all``/``off``."""
        if isinstance(value, bool) or str(value).strip().lower() in SWITCH_WORDS:
            on = value if isinstance(value, bool) else SWITCH_WORDS[str(value).strip().lower()]
            return "all" if on else "off"
        return value

    @model_validator(mode="after")
    def answer_fits_the_context(self) -> LlmSettings:
        for name, window in (("llamacpp_n_ctx", self.llamacpp_n_ctx), ("ollama_num_ctx", self.ollama_num_ctx)):
            if self.max_answer_tokens > window - MIN_PROMPT_TOKENS:
                raise ValueError(
                    f"max_answer_tokens ({self.max_answer_tokens}) leaves less than {MIN_PROMPT_TOKENS} tokens "
                    f"of the {name} context window ({window}) for the prompt: lower RAG_MAX_ANSWER_TOKENS or "
                    f"raise RAG_{name.upper()}"
                )
        return self


class AnsweringSettings(Section):
    """The prompt, the citation check and abstention."""

    context_tokens: int = Field(
        1000, ge=200, le=30000,
        description="Token budget for the abstracts in the prompt; longer ones keep their most relevant sentences "
        "(those with figures first when the question asks for a number).",
    )
    source_gap: float = Field(
        1.0, ge=0.0, le=1.0,
        description="The model reads only the sources whose fused score (best 1) is within this of the best one's, "
        "with their share of context_tokens; a question about several papers (which papers, a comparison) gets "
        "all. 1 = always all.",
    )
    max_question_chars: int = Field(
        2000, ge=50, le=20000,
        description="Longer questions are cut to this many characters (the Answer carries a notice).",
    )
    support_threshold: float = Field(
        0.5, ge=0.0, le=1.0,
        description="IDF-weighted share of a claim's content words its source must contain to support it.",
    )
    abstain_threshold: float = Field(
        0.35, ge=0.0, le=1.0,
        description="Abstain without asking the LLM when the best source covers less of the question "
        "(IDF-weighted) than this.",
    )
    abstain_similarity: float = Field(
        0.55, ge=-1.0, le=1.1,
        description="...unless some source's embedding is at least this similar (cosine) to the question's, so a "
        "paraphrased or misspelt question is still asked. Set for the embedded MiniLM; above 1 = words alone.",
    )
    on_topic_share: float = Field(
        0.4, ge=0.0, le=1.0,
        description="A citation stands only if its paper covers at least this share of the best source's "
        "(IDF-weighted) coverage of the question: a claim from a paper the question is not about is dropped; 0 = off.",
    )
    list_judge: float = Field(
        0.84, ge=0.0, le=1.1,
        description="For a question asking which papers, the LLM reads each retrieved paper alone and is asked "
        "whether it is one of them: the answer lists exactly the papers with P(Yes) at least this. Above 1 = by words "
        "alone (as with an Ollama server older than 0.12.11, which gives no token probabilities).",
    )
    list_judge_margin: float = Field(
        0.07, ge=0.0, le=1.0,
        description="...and at least the question's best P(Yes) minus this: the papers that score nearly as well as "
        "the best one, when it stands above the rest; 1 = the threshold alone.",
    )
    second_look_threshold: float = Field(
        0.7, ge=0.0, le=1.1,
        description="When the model says the collection does not answer (or only says the question back, or "
        "copies its source list) but the best source covers at least this "
        "much of the question (IDF-weighted), or BM25 and the embedding both rank "
        "it among their first two, ask again over the best sources alone, with the reply opened as "
        "\"According to [1],\" (the citation check decides); a reply that still cannot be checked is answered with "
        "the sentences of the source whose words cover the question best, quoted as evidence, when it covers this "
        "much or is the source retrieval ranks first, and they give what each part asks. Above 1 = never.",
    )
    second_look_papers: int = Field(2, ge=1, le=TOP_K_MAX, description="Sources the second look reads.")
    list_from_judge: bool = Field(
        True, description="A question asking which papers is answered by the list judge alone: every paper it "
        "accepts is listed with its title and the sentence that says why, and no reply is written (the same lists on "
        "the 109 saved list questions compared, 3.8 times sooner once its papers are in the judge's cache, 1.7 times "
        "the first time: see docs/performance.md); the pre-model gate leaves list questions to the judge. false = "
        "after the gate, the model writes a reply over the top_k papers, then the judge decides which of its papers "
        "stay and which are added. A model that gives no token probabilities always takes that path.",
    )
    list_candidates: int = Field(
        10, ge=1, le=TOP_K_MAX,
        description="For a question asking which papers, the list judge judges this many retrieved papers (at least "
        "top_k): the answer reads the top_k best, and a matching paper ranked below them can still be listed.",
    )
    verdict_support: float = Field(
        0.95, ge=0.0, le=1.0,
        description="A yes/no question is answered yes when the model, shown one of the best papers alone, gives "
        "\"Supports\" at least this probability for the claim and clearly less for its negation (a small model "
        "supports nearly anything on topic); otherwise the closest sentence is quoted as evidence.",
    )
    verdict_papers: int = Field(2, ge=1, le=TOP_K_MAX, description="Best papers the model judges a yes/no claim "
                                "against, one at a time.")


class UiSettings(Section):
    """The chat UI."""

    host: str = Field("127.0.0.1", alias="ui_host",
                      description="Interface the chat UI binds (127.0.0.1 = this machine only).")
    port: int = Field(7860, ge=1, le=65535, alias="ui_port", description="Port of the chat UI.")
    upload_max_mb: int = Field(10, ge=1, le=1024, description="Largest file the chat UI accepts for upload (MB).")
    allow_remote: bool = Field(
        False, alias="ui_allow_remote",
        description="Allow the chat UI to bind an interface other than loopback (also: rag ui --allow-remote).",
    )
    username: str = Field("rag", min_length=1, alias="ui_username",
                          description="User name for the chat UI's login (with ui_password).")
    password: SecretStr | None = Field(
        None, alias="ui_password",
        description="Password for the chat UI's login; unset = no login (never printed or logged).",
    )
    chats_keep: int = Field(
        50, ge=0, le=10000,
        description="Chats the chat UI keeps per browser under data_dir/chats (the oldest go first); 0 = chats "
        "are not saved.",
    )


SECTIONS: dict[str, type[Section]] = {
    "store": StoreSettings,
    "corpus": CorpusSettings,
    "embedding": EmbeddingSettings,
    "retrieval": RetrievalSettings,
    "llm": LlmSettings,
    "answering": AnsweringSettings,
    "ui": UiSettings,
}


def flat_names() -> dict[str, tuple[str, str]]:
    """Every setting's flat name (its alias, else its field name) -> (section, field)."""
    names: dict[str, tuple[str, str]] = {}
    for section, model in SECTIONS.items():
        for field, info in model.model_fields.items():
            flat = info.alias or field
            assert flat not in names, f"two settings are named {flat}"
            names[flat] = (section, field)
    return names


FLAT = flat_names()
SECRET_FIELDS = frozenset({"ui_password"})

PROFILES: dict[str, dict[str, dict[str, Any]]] = {
    "default": {},
    # measured in benchmarks/results/levers: first word ~2-3x sooner, fewer answers right
    "fast": {"llm": {"llamacpp_model": "qwen2.5-coder-0.5b"}, "answering": {"context_tokens": 500}},
    # more and longer sources; slower on a CPU, meant for an Ollama server with a GPU
    "quality": {"retrieval": {"top_k": 8}, "answering": {"context_tokens": 2400}},
}
Profile = Literal["default", "fast", "quality"]


def nest(values: dict[str, Any]) -> dict[str, Any]:
    """Flat names (``top_k``) moved into their sections (``{"retrieval": {"top_k": ...}}``), where they win
    over the same setting given in the section; other keys kept."""
    nested = {key: dict(value) if key in SECTIONS and isinstance(value, dict) else value
              for key, value in values.items() if key not in FLAT}
    for key, value in values.items():
        if key in FLAT:
            section, field = FLAT[key]
            if isinstance(nested.setdefault(section, {}), dict):
                nested[section][field] = value
    return nested


def config_file() -> Path:
    """The optional TOML file: ``$RAG_CONFIG`` if set, else ``rag.toml`` in the working folder."""
    return Path(os.environ.get("RAG_CONFIG", "rag.toml"))


class FlatEnvSource(PydanticBaseSettingsSource):
    """``RAG_<FLAT_NAME>`` variables (and ``RAG_PROFILE``), nested into their sections."""

    def get_field_value(self, field, field_name):  # not used: __call__ reads everything at once
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        values = {flat: os.environ[f"RAG_{flat.upper()}"] for flat in FLAT if f"RAG_{flat.upper()}" in os.environ}
        if "RAG_PROFILE" in os.environ:
            values["profile"] = os.environ["RAG_PROFILE"]
        return nest(values)


class NestedTomlSource(TomlConfigSettingsSource):
    """The TOML file, with flat keys nested into their sections."""

    def __call__(self) -> dict[str, Any]:
        return nest(super().__call__())


class ProfileSource(PydanticBaseSettingsSource):
    """The chosen profile's values (below the file, the environment and keyword arguments)."""

    def __init__(self, settings_cls, chosen: str):
        super().__init__(settings_cls)
        self.chosen = chosen

    def get_field_value(self, field, field_name):
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        return PROFILES.get(self.chosen, {})


class Settings(BaseSettings):
    """Every setting of the assistant, by section; see the module docstring for where values come from."""

    model_config = SettingsConfigDict(env_prefix="RAG_", extra="forbid", validate_default=True)

    profile: Profile = Field("default", description="Named preset under the other settings (default, fast, "
                             "quality).")
    store: StoreSettings = Field(default_factory=StoreSettings)
    corpus: CorpusSettings = Field(default_factory=CorpusSettings)
    embedding: EmbeddingSettings = Field(default_factory=EmbeddingSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    llm: LlmSettings = Field(default_factory=LlmSettings)
    answering: AnsweringSettings = Field(default_factory=AnsweringSettings)
    ui: UiSettings = Field(default_factory=UiSettings)

    @model_validator(mode="before")
    @classmethod
    def nest_flat_names(cls, data: Any) -> Any:
        return nest(data) if isinstance(data, dict) else data

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        env = FlatEnvSource(settings_cls)
        toml = NestedTomlSource(settings_cls, toml_file=config_file())
        chosen = next((str(source().get("profile")) for source in (init_settings, env, toml)
                       if source().get("profile")), "default")
        return init_settings, env, toml, ProfileSource(settings_cls, chosen)

    def replace(self, **changes: Any) -> Settings:
        """A validated copy with some settings changed (flat names or sections)."""
        current = self.model_dump()
        for section, values in nest(changes).items():
            if section in SECTIONS and isinstance(values, dict):
                current[section] = {**current[section], **values}
            else:
                current[section] = values
        return Settings(**current)

    def flat(self) -> dict[str, Any]:
        """Every setting by its flat name (the secret shown masked)."""
        values = {}
        for flat, (section, field) in FLAT.items():
            value = getattr(getattr(self, section), field)
            values[flat] = "**********" if isinstance(value, SecretStr) else value
        return values


def describe_invalid(error: ValidationError) -> str:
    """One line per invalid setting, named as its environment variable: ``RAG_TOP_K=0: Input should be ...``."""
    by_field = {(section, field): flat for flat, (section, field) in FLAT.items()}
    lines = []
    for problem in error.errors():
        loc = tuple(str(part) for part in problem.get("loc", ()))
        message = problem.get("msg", "invalid").removeprefix("Value error, ")
        if len(loc) == 1 and loc[0] in SECTIONS:  # a rule across the section's settings
            lines.append(f"  [{loc[0]}] settings: {message}")
            continue
        flat = by_field.get(loc[:2]) or (loc[0] if loc else "")
        value = problem.get("input")
        shown = "" if not flat or isinstance(value, dict) else f"={value}"
        if flat in SECRET_FIELDS:
            shown = "=**********"
        name = f"RAG_{flat.upper()}{shown}" if flat else "settings"
        lines.append(f"  {name} ({flat or 'model'}): {message}")
    return "\n".join(lines)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
