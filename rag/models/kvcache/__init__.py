"""Per-block prompt state for the embedded llama.cpp model: read each paper's block once, reuse its KV cells."""

from rag.models.kvcache.engine import BlockEngine, Piece, PromptTooLong, StreamReport
from rag.models.kvcache.store import BlockCache, BlockKey, CacheStats

__all__ = ["BlockCache", "BlockEngine", "BlockKey", "CacheStats", "Piece", "PromptTooLong", "StreamReport"]
