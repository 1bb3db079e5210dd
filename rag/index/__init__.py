"""The index: a Chroma collection of abstract chunks plus a BM25 index kept in step with it."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from rag.corpus import Paper
from rag.index.bm25 import Bm25Index
from rag.index.ingest import IngestReport, ingest_papers
from rag.index.store import EmbeddingMismatch, PaperStore, StoredPaper, StoreError, connect, list_collections
from rag.settings import Settings

__all__ = [
    "Bm25Index",
    "EmbeddingMismatch",
    "IngestReport",
    "PaperIndex",
    "PaperStore",
    "StoreError",
    "StoredPaper",
    "connect",
    "list_collections",
]

log = logging.getLogger(__name__)


class PaperIndex:
    """Chroma (dense) and BM25 (lexical) over one collection, always describing the same papers."""

    def __init__(self, settings: Settings, embedder, collection: str | None = None, client=None):
        self.settings = settings
        self.embedder = embedder
        self.name = collection or settings.collection
        self.client = client or connect(settings)
        self.store = PaperStore(self.client, self.name, embedder.model_name, embedder.dimension)
        self._bm25: Bm25Index | None = None

    @property
    def bm25_dir(self):
        return self.settings.bm25_dir / self.name

    @property
    def bm25(self) -> Bm25Index:
        """The BM25 index, loaded once; rebuilt from Chroma if missing or out of step with it."""
        if self._bm25 is None:
            self._bm25 = self.sync_bm25()
        return self._bm25

    def sync_bm25(self) -> Bm25Index:
        """Load the saved BM25 index, rebuilding it from Chroma when its fingerprint differs."""
        fingerprint = self.store.fingerprint()
        saved = Bm25Index.load(self.bm25_dir)
        if saved is not None and saved.fingerprint == fingerprint:
            return saved
        if saved is not None:
            log.warning(
                "BM25 index of %r disagreed with Chroma (%d vs %d papers); rebuilt it from Chroma",
                self.name, len(saved), self.store.paper_count(),
            )
        return self.rebuild_bm25(fingerprint)

    def rebuild_bm25(self, fingerprint: str | None = None) -> Bm25Index:
        """Rebuild and save the BM25 index from the papers stored in Chroma."""
        papers = sorted(self.store.papers().values(), key=lambda p: p.paper_id)
        index = Bm25Index.build(
            [(p.paper_id, f"{p.title}\n{p.abstract}", p.sources) for p in papers],
            fingerprint or self.store.fingerprint(),
        )
        index.save(self.bm25_dir)
        self._bm25 = index
        return index

    def ingest(self, papers: Iterable[Paper], *, total: int | None = None, progress: bool = True) -> IngestReport:
        """Upsert papers into Chroma, then bring BM25 in step."""
        report = ingest_papers(
            papers,
            self.store,
            self.embedder,
            max_tokens=self.settings.chunk_tokens,
            overlap=self.settings.chunk_overlap_sentences,
            total=total,
            progress=progress,
        )
        if report.added or report.updated:
            self.rebuild_bm25()
        return report

    def paper_count(self) -> int:
        return self.store.paper_count()

    def papers(self, paper_ids: list[str]) -> dict[str, StoredPaper]:
        return self.store.papers(paper_ids)
