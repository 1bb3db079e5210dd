"""`HashEmbedding`: a cheap deterministic stand-in for MiniLM, for store and scale tests (not a language model)."""

from __future__ import annotations

import re
import zlib

import numpy as np
from pydantic import PrivateAttr

from rag.models.embedding import VectorEmbedding
from rag.text import STOPWORDS

WORD = re.compile(r"[^\W_]+")
TOKENS_PER_WORD = 1.413  # MiniLM word pieces per whitespace word, measured on the seeds (title + abstract)


class HashEmbedding(VectorEmbedding):
    """A cheap, deterministic stand-in for MiniLM (NOT a language model): a seeded random projection
    of hashed word counts (stopwords dropped), L2-normalized, 384-d.

    Texts that share words get similar vectors, so the HNSW graph sees clustered data like real
    embeddings do (uniform random vectors would be an unrealistic worst case); the vectors mean
    nothing beyond word overlap. Token counts for chunking are estimated from word counts
    (1.413 word pieces per word, measured on the seeds: the seeds give 839 chunks this way and
    841 with the real tokenizer).
    """

    dimension: int = 384
    _table: np.ndarray = PrivateAttr()
    _rows: dict = PrivateAttr()

    def __init__(self, dimension: int = 384, buckets: int = 1 << 16, seed: int = 0, embed_batch_size: int = 256):
        super().__init__(model_name=f"hash-projection-{dimension}", embed_batch_size=embed_batch_size)
        self.dimension = dimension
        rng = np.random.default_rng(seed)
        self._table = rng.standard_normal((buckets, dimension), dtype=np.float32)
        self._rows = {}

    @classmethod
    def class_name(cls) -> str:
        return "HashEmbedding"

    def count_tokens(self, text: str) -> int:
        return int(len(text.split()) * TOKENS_PER_WORD) + 2

    def embed(self, texts: list[str]) -> np.ndarray:
        table, rows = self._table, self._rows  # pydantic private attributes are slow to reach: bind once
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for i, text in enumerate(texts):
            words = [w for w in WORD.findall(text.casefold()) if w not in STOPWORDS]
            found = [rows.get(w) for w in words]
            if None in found:
                for w in words:
                    if w not in rows:
                        rows[w] = zlib.crc32(w.encode()) % len(table)
                found = [rows[w] for w in words]
            vector = table[found or [0]].sum(axis=0)
            out[i] = vector / max(float(np.linalg.norm(vector)), 1e-12)
        return out

    def _embed(self, texts: list[str]) -> list[list[float]]:
        return self.embed(texts).tolist()
