"""The index: a Chroma collection of abstract chunks plus a BM25 index kept in step with it."""

from rag.index.bm25 import Bm25Index
from rag.index.ingest import IngestReport
from rag.index.paper_index import PaperIndex
from rag.index.store import PaperStore, StoredPaper, connect, count_papers, disconnect, list_collections

__all__ = [
    "Bm25Index",
    "IngestReport",
    "PaperIndex",
    "PaperStore",
    "StoredPaper",
    "connect",
    "count_papers",
    "disconnect",
    "list_collections",
]
