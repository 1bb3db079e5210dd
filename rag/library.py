"""The paper collections of a store (embedded or a Chroma server): open, ingest into, list, delete, rebuild."""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from rag.corpus import Paper, load_corpus
from rag.errors import StoreError
from rag.index import IngestReport, PaperIndex, PaperStore, connect, count_papers, disconnect, list_collections
from rag.index.bulk import BULK_BATCH, bulk_ingest
from rag.index.ingest import Progress
from rag.models.embedding import make_embedding
from rag.settings import Settings, collection_name_problem

log = logging.getLogger(__name__)
REBUILD_SUFFIX = "-rebuild"


@dataclass(frozen=True)
class CollectionInfo:
    """A collection in the store: its size, and whether the active embedding model can search it."""

    name: str
    papers: int
    chunks: int
    embed_model: str | None
    usable: bool


class Library:
    """The collections of one store, opened with one embedding model; indexes are opened once and kept."""

    def __init__(self, settings: Settings, embedder=None, progress: bool = True):
        self.settings = settings
        self.embedder = embedder or make_embedding(settings)
        self.progress = progress
        self._client = None
        self._indexes: dict[str, PaperIndex] = {}
        self._lock = threading.RLock()

    # --- the store --------------------------------------------------------------------------
    @property
    def client(self):
        """The Chroma client (connected on first use; an embedded store is locked to this process)."""
        with self._lock:
            if self._client is None:
                self._client = connect(self.settings)
            return self._client

    def close(self) -> None:
        """Close every index and the client (an embedded store's lock is released)."""
        with self._lock:
            self._indexes.clear()
            if self._client is not None:
                disconnect(self._client, self.settings)
                self._client = None

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def name_of(self, collection: str | None) -> str:
        """``collection``, or the default one; `StoreError` for a name Chroma would refuse."""
        name = (collection or "").strip() or self.settings.store.collection
        problem = collection_name_problem(name)
        if problem:
            raise StoreError(problem)
        return name

    def index(self, collection: str | None = None) -> PaperIndex:
        """The open index of a collection (created empty if it does not exist)."""
        name = self.name_of(collection)
        with self._lock:
            if name not in self._indexes:
                self._indexes[name] = PaperIndex(self.settings, self.embedder, name, client=self.client)
            return self._indexes[name]

    # --- reading ----------------------------------------------------------------------------
    def collections(self, *, count: bool = True) -> list[CollectionInfo]:
        """Every collection in the store, the default one first; ``count=False`` skips counting papers
        (``papers`` is then -1), which costs a read of every paper's id."""
        rows = list_collections(self.client)
        default = self.settings.store.collection
        return [
            CollectionInfo(name, count_papers(self.client.get_collection(name)) if count else -1, row["chunks"],
                           row["embed_model"], row["embed_model"] in (None, self.embedder.model_name))
            for name, row in sorted(rows.items(), key=lambda item: (item[0] != default, item[0]))
        ]

    def sources(self, collection: str | None = None) -> dict[str, int]:
        """The corpus files a collection's papers came from, with how many papers each."""
        return self.index(collection).store.sources()

    # --- writing ----------------------------------------------------------------------------
    def ingest(self, paths: Iterable[str | Path], *, collection: str | None = None, skip_bad: bool = False,
               bulk: bool = False, rebuild: bool = False, batch: int = BULK_BATCH,
               progress: bool | Progress | None = None) -> IngestReport:
        """Add the papers of files or folders to a collection: unchanged papers are skipped, changed ones
        replaced, nothing is duplicated.

        Bad records raise `CorpusError` before anything is written, unless ``skip_bad`` (then they are
        listed in the report). ``bulk`` streams the files in steps of ``batch`` papers (constant
        memory, no size limit, BM25 rebuilt once); otherwise files over ``RAG_INGEST_MAX_MB`` are
        refused. ``rebuild`` deletes the collection first (once the files have been read). ``progress``
        is a progress bar (True), a callback ``(papers done, papers in all)``, or nothing (False).
        """
        name = self.name_of(collection)
        paths = [Path(p) for p in paths]
        corpus = None if bulk else load_corpus(paths, skip_bad=skip_bad, limits=self.settings.corpus,
                                               max_bytes=self.settings.corpus.ingest_max_mb * 2**20)
        if corpus is not None and not corpus.papers:  # nothing to add: no collection is created or changed
            return IngestReport(collection=name, records=corpus.records, bad=corpus.bad)
        if rebuild:
            self.delete_collection(name, missing_ok=True)
        index = self.index(name)
        bar, on_step = self._progress(progress)
        if corpus is None:
            report = bulk_ingest(index, paths, batch_papers=batch, skip_bad=skip_bad, progress=bar, on_step=on_step)
        else:
            report = index.ingest(corpus.papers, total=len(corpus.papers), progress=bar, on_step=on_step)
            report.records, report.duplicates, report.bad = corpus.records, corpus.duplicates, corpus.bad
        report.papers_now = index.paper_count()
        return report

    def ingest_papers(self, papers: list[Paper], *, collection: str | None = None,
                      progress: bool | Progress | None = None) -> IngestReport:
        """Add already-loaded papers to a collection (see `ingest`)."""
        index = self.index(collection)
        bar, on_step = self._progress(progress)
        report = index.ingest(papers, total=len(papers), progress=bar, on_step=on_step)
        report.records, report.papers_now = len(papers), index.paper_count()
        return report

    def seed(self) -> IngestReport | None:
        """Fill the default collection from ``RAG_SEEDS_DIR`` when it is empty; None when nothing was done."""
        index = self.index()
        seeds = self.settings.store.seeds_dir
        if index.paper_count() or not seeds.is_dir():
            return None
        log.info("collection %r is empty: ingesting the papers in %s", index.name, seeds)
        return self.ingest([seeds], skip_bad=True)

    def delete_collection(self, collection: str, *, missing_ok: bool = False) -> None:
        """Delete a collection and its BM25 index."""
        name = self.name_of(collection)
        with self._lock:
            self._indexes.pop(name, None)
            if name in list_collections(self.client):
                self.client.delete_collection(name)
            elif not missing_ok:
                raise StoreError(f"there is no collection named {name!r}")
            shutil.rmtree(self.settings.store.bm25_dir / name, ignore_errors=True)

    def rebuild(self, collection: str | None = None, progress: bool | Progress | None = None) -> IngestReport:
        """Embed a collection's stored papers again with the active embedding model (after changing it).

        The papers are written into a new collection first; only when it is complete does it replace
        the old one, so an interruption loses nothing (running it again finishes the job).
        """
        name = self.name_of(collection)
        spare = f"{name[: 63 - len(REBUILD_SUFFIX)]}{REBUILD_SUFFIX}"
        with self._lock:
            existing = list_collections(self.client)
            if name not in existing and spare in existing:  # interrupted after the old one was deleted
                self.client.get_collection(spare).modify(name=name)
                return self.rebuild(name, progress)
            if name not in existing:
                raise StoreError(f"there is no collection named {name!r}")
            row = existing[name]
            old = PaperStore(self.client, name, row["embed_model"], row["embed_dim"], create=False)
            papers = [Paper(id=p.paper_id, title=p.title, abstract=p.abstract, metadata=dict(p.metadata))
                      for p in old.papers().values()]
            self.delete_collection(spare, missing_ok=True)
            report = self.ingest_papers(papers, collection=spare, progress=progress)
            self._indexes.pop(spare, None)
            self.delete_collection(name)
            self.client.get_collection(spare).modify(name=name)
            shutil.rmtree(self.settings.store.bm25_dir / spare, ignore_errors=True)
            report.collection, report.papers_now = name, self.index(name).paper_count()
            return report

    def _progress(self, progress: bool | Progress | None) -> tuple[bool, Progress | None]:
        """(show a progress bar, step callback) for an ingest's ``progress`` argument."""
        if callable(progress):
            return False, progress
        return (self.progress if progress is None else bool(progress)), None
