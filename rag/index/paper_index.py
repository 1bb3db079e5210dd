"""`PaperIndex`: one collection's Chroma store (dense) and BM25 index (lexical), kept describing the same papers."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable

from rag.corpus import Paper
from rag.index.bm25 import Bm25Builder, Bm25Index
from rag.index.filters import chunk_filter_metadata
from rag.index.ingest import PAPERS_PER_BATCH, IngestReport, Progress, ingest_papers
from rag.index.store import PaperStore, StoredPaper, connect, disconnect, fingerprint_of, is_clean
from rag.settings import Settings

log = logging.getLogger("rag.index")  # the name users see in warnings: "WARNING rag.index: ..."


class PaperIndex:
    """Chroma (dense) and BM25 (lexical) over one collection, always describing the same papers.

    Opening it runs `check`: papers an interrupted ingest left half-written are removed (embedded
    store only: with a Chroma server another process may be writing them right now) and a BM25
    index that is missing, unreadable or out of step with Chroma is rebuilt from Chroma. What was
    found is logged as a warning (the ``rag`` command prints those) and kept in `notices`.
    Afterwards every use of `bm25` first compares a cheap stamp of the collection (chunk count and
    the generation token each write changes) and resynchronizes when another process changed it.

    Large collections (``settings.store.large_collection_chunks`` chunks or more) trust the generation
    token alone, since reading every paper or counting chunks grows with the collection: opening
    skips the check when BM25 was saved at the current stamp and no write has begun since
    (`trusted_bm25`), and searches skip the count. Writes through `rag` are always seen; edits made
    to Chroma outside `rag` are seen at the next open if they change the chunk count, else once
    `rag` writes to the collection again.
    """

    def __init__(self, settings: Settings, embedder, collection: str | None = None, client=None,
                 check: bool = True):
        self.settings = settings
        self.embedder = embedder
        self.name = collection or settings.store.collection
        self._owns_client = client is None
        self.client = client or connect(settings)
        try:
            self.store = PaperStore(self.client, self.name, embedder.model_name, embedder.dimension,
                                    ef_search=settings.store.hnsw_ef_search)
        except BaseException:
            self.close()
            raise
        self._bm25: Bm25Index | None = None
        self._stamp: tuple[int, str | None] | None = None
        self.notices: list[str] = []
        self.full_check = False  # whether the last `check` read every paper (not when a stamp was trusted)
        if check:
            self.check()

    # --- lifetime ------------------------------------------------------------------------
    def close(self) -> None:
        """Close the Chroma client this index opened (releasing the embedded store's lock)."""
        if self._owns_client and self.client is not None:
            disconnect(self.client, self.settings)
            self.client = None

    def __enter__(self) -> PaperIndex:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- consistency -----------------------------------------------------------------------
    def notice(self, message: str) -> None:
        log.warning("%s", message)
        self.notices.append(message)

    def check(self) -> list[str]:
        """Find (and, on an embedded store, remove) half-written papers; bring BM25 in step with Chroma."""
        before = len(self.notices)
        # the stamp is read first, as `sync_bm25` requires
        stamp = self.store.stamp()
        self.full_check = not self.trusted_bm25(stamp)
        if not self.full_check:
            return []
        # one read of the heads serves both checks (it is what opening a large collection costs)
        heads = self.store.paper_states()
        broken = self.store.incomplete_papers(heads=heads)
        if broken:
            shown = ", ".join(state.describe() for state in broken[:5]) + (" ..." if len(broken) > 5 else "")
            if self.settings.store.chroma_host:
                self.notice(
                    f"{len(broken)} paper(s) in {self.name!r} are incomplete ({shown}); another process may be "
                    "writing them now; if not, `rag ingest` of their file repairs them"
                )
            else:
                self.store.delete_papers([state.paper_id for state in broken])
                self.store.touch()
                stamp = heads = None  # changed: `sync_bm25` reads them again
                self.notice(
                    f"removed {len(broken)} incomplete paper(s) from {self.name!r} left by an interrupted ingest "
                    f"({shown}); ingest their file again to restore them"
                )
        elif stamp[1] and not is_clean(stamp[1]) and not self.settings.store.chroma_host:
            # a write cut short after its last change: nothing to repair; a clean token lets the next open trust BM25
            self.store.touch()
            stamp = self.store.stamp()  # the heads stay valid: touching changes no paper
        self._bm25 = self.sync_bm25(stamp, fingerprint=None if heads is None else fingerprint_of(heads))
        return self.notices[before:]

    def trusted_bm25(self, stamp: tuple[int, str | None]) -> bool:
        """Load the saved BM25 index without reading the collection, if its stamp proves it is in step.

        Only on large collections (reading every paper's head there takes minutes: 261 s at 1.07
        million chunks through a server), when the generation token is clean (no write under way or
        cut short) and, with the chunk count, equal to the stamp the index was saved at: every write
        through `rag` changes the token before its first change, so nothing was written since.
        """
        if not self.is_large(stamp[0]) or not is_clean(stamp[1]):
            return False
        saved, _ = Bm25Index.read(self.bm25_dir)
        if saved is None or saved.stamp != stamp:
            return False
        self._bm25, self._stamp = saved, stamp
        return True

    def is_large(self, chunks: int) -> bool:
        """Whether a collection of ``chunks`` chunks is trusted by its generation token (see the class)."""
        return chunks >= self.settings.store.large_collection_chunks

    @property
    def bm25_stamp(self) -> tuple[int, str | None] | None:
        """The collection stamp the BM25 index in memory was last checked at."""
        return self._stamp

    @property
    def bm25_dir(self):
        return self.settings.store.bm25_dir / self.name

    def bm25(self) -> Bm25Index:
        """The BM25 index, resynchronized from Chroma whenever the collection changed since it was loaded
        (a read of the collection's stamp: call it once per search).

        On a large collection the check before each search reads only the generation token (one
        constant-time call), not the chunk count, whose cost grows with the collection (~13 ms at
        170,000 chunks, ~130 ms at 1.7 million, through a server).
        """
        if self._bm25 is not None and self._stamp is not None and self.is_large(self._stamp[0]):
            if self.store.generation() != self._stamp[1]:
                self._bm25 = self.sync_bm25()
            return self._bm25
        stamp = self.store.stamp()
        if self._bm25 is None or stamp != self._stamp:
            self._bm25 = self.sync_bm25(stamp)
        return self._bm25

    def sync_bm25(self, stamp: tuple[int, str | None] | None = None, *, announce: bool = True,
                  fingerprint: str | None = None) -> Bm25Index:
        """Load the saved BM25 index, rebuilding it from Chroma when it is missing, damaged or out of step.

        A rebuild is announced (`notices`, log warning) when this process had no index in memory
        yet, i.e. at start-up; later ones follow changes made by other processes and are expected.
        ``fingerprint``, if given, must have been computed from heads read after ``stamp``.
        """
        stamp = stamp or self.store.stamp()  # read before the data, so a later write always shows
        fingerprint = fingerprint or self.store.fingerprint()
        current = self._bm25
        if current is not None and current.fingerprint == fingerprint:
            self._stamp = stamp
            return current
        saved, state = Bm25Index.read(self.bm25_dir)
        if saved is not None and saved.fingerprint == fingerprint:
            if saved.stamp != stamp:  # in step at this stamp too: the next open can trust it
                Bm25Index.restamp(self.bm25_dir, stamp, fingerprint)
                saved.stamp = stamp
            self._bm25, self._stamp = saved, stamp
            return saved
        index = self.rebuild_bm25(stamp)
        if announce and current is None:
            if saved is not None:
                self.notice(
                    f"BM25 index of {self.name!r} was out of step with Chroma ({len(saved)} papers saved, "
                    f"{len(index)} in Chroma); rebuilt it from Chroma"
                )
            elif len(index):
                self.notice(f"BM25 index of {self.name!r} was {state}; rebuilt it from Chroma ({len(index)} papers)")
        return index

    def rebuild_bm25(self, stamp: tuple[int, str | None] | None = None) -> Bm25Index:
        """Rebuild and save the BM25 index from the papers stored in Chroma.

        Streams: each paper is reduced to term counts as soon as its chunks have been read, so
        memory follows the index's size, not the collection's text.
        """
        stamp = stamp or self.store.stamp()
        builder = Bm25Builder()

        def add(paper: StoredPaper) -> None:
            keys = chunk_filter_metadata(paper.metadata)  # derived from the authors: older papers match too
            builder.add(paper.paper_id, f"{paper.title}\n{paper.abstract}", paper.sources, keys.get("year"),
                        keys.get("author_keys"))

        fingerprint = self.store.scan_papers(add)
        index = builder.finish(fingerprint)
        index.stamp = stamp
        index.save(self.bm25_dir)
        self._bm25 = index
        self._stamp = stamp
        return index

    # --- writing and reading -----------------------------------------------------------------
    def ingest(self, papers: Iterable[Paper], *, total: int | None = None, progress: bool = True,
               on_step: Progress | None = None, batch_papers: int = PAPERS_PER_BATCH) -> IngestReport:
        """Upsert papers into Chroma (``batch_papers`` per step), then bring BM25 in step; also when a step fails
        (BM25 then describes the steps written before it, and the error is raised)."""
        try:
            report = ingest_papers(
                papers,
                self.store,
                self.embedder,
                max_tokens=self.settings.embedding.chunk_tokens,
                overlap=self.settings.embedding.chunk_overlap_sentences,
                total=total,
                progress=progress,
                on_step=on_step,
                batch_papers=batch_papers,
            )
        except Exception:
            with contextlib.suppress(Exception):  # the store itself may be what failed
                self.sync_bm25(announce=False)
            raise
        if self._bm25 is None or self._bm25.fingerprint != self.store.fingerprint():
            self.rebuild_bm25()
            report.bm25_rebuilt = True
        return report

    def paper_count(self) -> int:
        return self.store.paper_count()

    def papers(self, paper_ids: list[str]) -> dict[str, StoredPaper]:
        return self.store.papers(paper_ids)
