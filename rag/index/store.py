"""The Chroma side of the index: client, collections stamped with their embedding model, paper rows.

Reliability rules kept here:

* One process owns an embedded store: `connect` takes an exclusive lock file beside the Chroma
  folder (``<data_dir>/chroma.lock``) for as long as a client is open, and a second process gets
  `StoreBusy` at once, naming the owner's pid and the fix (a Chroma server).
* A paper's chunks appear atomically for readers: `PaperStore.write_chunks` writes every chunk but
  the first, then the first ("head") chunks in a second call. Readers only count papers that have a
  head, so an interrupted write leaves at most head-less chunks, which `incomplete_papers` finds.
* Every write replaces a generation token in the collection's metadata: with a "writing-" token
  before its first change (`begin_write`) and a clean one after its last (`touch`). Another process
  holding a BM25 index of the same collection (through a Chroma server) notices and resynchronizes,
  and a clean token equal to the one a saved BM25 index was built at proves nothing was written
  since, which lets a large collection open without reading every paper (`PaperIndex.check`).
"""

from __future__ import annotations

import hashlib
import os
import sys
import threading
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import chromadb
from chromadb.config import Settings as ChromaSettings
from filelock import FileLock, Timeout
from llama_index.core.schema import MetadataMode, TextNode
from llama_index.core.vector_stores.utils import node_to_metadata_dict
from llama_index.vector_stores.chroma import ChromaVectorStore

from rag.errors import EmbeddingMismatch, StoreBusy, StoreError
from rag.settings import ID_PAGE, READ_PAGE, Settings


@dataclass(frozen=True)
class StoredPaper:
    """A paper as read back from the store: its whole abstract reassembled from its chunks."""

    paper_id: str
    title: str
    abstract: str
    metadata: dict[str, Any]

    @property
    def sources(self) -> list[str]:
        return list(self.metadata.get("sources") or [])


# --- the single-owner lock of an embedded store ---------------------------------------------
_owner_locks: dict[Path, list[Any]] = {}  # chroma folder -> [FileLock, open clients in this process]
_owner_guard = threading.Lock()


def owner_lock_file(settings: Settings) -> Path:
    """The lock file held while this process has the embedded store open."""
    return settings.store.data_dir / "chroma.lock"


def store_owner(settings: Settings) -> int | None:
    """The pid recorded by the process that holds (or last held) the embedded store's lock."""
    try:
        return int(owner_lock_file(settings).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def busy_message(settings: Settings, pid: int | None) -> str:
    folder = settings.store.chroma_dir.resolve()
    who = f"pid {pid}" if pid else "pid unknown"
    return (
        f"another process ({who}) is using {folder}; stop it or run a Chroma server: "
        f"chroma run --path {folder} --host 127.0.0.1 --port 8000 and set RAG_CHROMA_HOST=127.0.0.1 "
        f"(and RAG_CHROMA_PORT=8000) for every process that uses it"
    )


def acquire_store(settings: Settings) -> None:
    """Take (or re-enter) the embedded store's lock; `StoreBusy` at once if another process holds it."""
    folder = settings.store.chroma_dir.resolve()
    with _owner_guard:
        held = _owner_locks.get(folder)
        if held is not None:
            held[1] += 1
            return
        path = owner_lock_file(settings)
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(path, thread_local=False)
        try:
            lock.acquire(blocking=False)
        except Timeout:
            raise StoreBusy(busy_message(settings, store_owner(settings))) from None
        # The flock lives on the inode; the text only tells a refused process who the owner is.
        with open(path, "r+") as file:
            file.write(f"{os.getpid()} {' '.join(sys.argv)[:300]}\n")
            file.truncate()
        _owner_locks[folder] = [lock, 1]


def release_store(settings: Settings) -> None:
    """Give back one hold on the embedded store's lock; the last one releases it."""
    folder = settings.store.chroma_dir.resolve()
    with _owner_guard:
        held = _owner_locks.get(folder)
        if held is None:
            return
        held[1] -= 1
        if held[1] <= 0:
            del _owner_locks[folder]
            held[0].release()


def connect(settings: Settings) -> chromadb.ClientAPI:
    """A Chroma server client when ``chroma_host`` is set, else the embedded store under ``data_dir``.

    The embedded store is locked for this process until `disconnect` (or the process's exit);
    another process gets `StoreBusy` right away instead of a second client on the same files.
    """
    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    host, port = settings.store.chroma_host, settings.store.chroma_port
    if host:
        try:
            return chromadb.HttpClient(host=host, port=port, settings=chroma_settings)
        except Exception as error:
            raise StoreError(
                f"cannot reach the Chroma server at {host}:{port} ({error}); "
                "start it with `chroma run --path DIR --host HOST --port PORT`, or unset RAG_CHROMA_HOST "
                "to use the embedded store"
            ) from error
    settings.store.chroma_dir.mkdir(parents=True, exist_ok=True)
    acquire_store(settings)
    try:
        return chromadb.PersistentClient(path=str(settings.store.chroma_dir), settings=chroma_settings)
    except BaseException:
        release_store(settings)
        raise


def disconnect(client: chromadb.ClientAPI, settings: Settings) -> None:
    """Close a client from `connect`; the embedded store's lock goes with the last one."""
    try:
        client.close()
    finally:
        if not settings.store.chroma_host:
            release_store(settings)


def reassemble(chunks: list[tuple[int, int, str]]) -> str:
    """Rebuild an abstract from ``(start_char, end_char, text)`` chunks that may overlap."""
    text = ""
    for start, _end, chunk in sorted(chunks):
        text = text[:start] + chunk
    return text


def chunk_part(meta: dict[str, Any], document: str) -> tuple[int, int, str]:
    """A stored chunk as `reassemble` takes it: ``(start_char, end_char, text)``."""
    return int(meta["start_char"]), int(meta["end_char"]), document


@dataclass
class PaperChunks:
    """What the store holds of one paper: its head (chunk 0) metadata, if any, and every chunk's position."""

    paper_id: str
    head: dict[str, Any] | None = None
    positions: list[int] = field(default_factory=list)
    hashes: set[str] = field(default_factory=set)
    sources: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """Head present, chunks 0..n-1 each exactly once, all from the same version of the paper."""
        if self.head is None:
            return False
        n = int(self.head["n_chunks"])
        return sorted(self.positions) == list(range(n)) and self.hashes == {self.head["content_hash"]}

    def describe(self) -> str:
        n = f"of {self.head['n_chunks']}" if self.head else "without its first chunk"
        return f"{self.paper_id} ({len(self.positions)} chunk(s) {n})"


WRITING = "writing-"  # prefix of the generation token while a write is under way (or was cut short)


def is_clean(generation: str | None) -> bool:
    """Whether a generation token was set by a `touch` after a finished write (not by `begin_write`)."""
    return generation is not None and not generation.startswith(WRITING)


class PaperStore:
    """One Chroma collection of abstract chunks, checked against the embedding model on open, its dense search
    exploring ``ef_search`` candidates."""

    def __init__(self, client: chromadb.ClientAPI, name: str, embed_model: str, embed_dim: int, create: bool = True,
                 ef_search: int | None = None):
        self.name = name
        self.client = client
        self.stamp_metadata = {"embed_model": embed_model, "embed_dim": embed_dim}
        existing = {c.name for c in client.list_collections()}
        if name not in existing and not create:
            raise StoreError(f"collection {name!r} does not exist; ingest papers into it first with `rag ingest`")
        self.collection = client.get_or_create_collection(
            name,
            metadata={"embed_model": embed_model, "embed_dim": embed_dim},
            configuration={"hnsw": {"space": "cosine", **({"ef_search": ef_search} if ef_search else {})}},
            embedding_function=None,
        )
        stamped = self.collection.metadata or {}
        if (stamped.get("embed_model"), stamped.get("embed_dim")) != (embed_model, embed_dim):
            raise EmbeddingMismatch(
                f"collection {name!r} was built with embedding model {stamped.get('embed_model')!r} "
                f"({stamped.get('embed_dim')} dimensions) but the configured model is {embed_model!r} "
                f"({embed_dim} dimensions). Either set RAG_EMBED_PROVIDER back to the model it was built "
                f"with, ingest into a new collection (--collection NEW_NAME), or embed this one again with "
                f"the configured model: `rag rebuild --collection {name}`."
            )
        if ef_search and (self.collection.configuration.get("hnsw") or {}).get("ef_search") != ef_search:
            self.collection.modify(configuration={"hnsw": {"ef_search": ef_search}})  # an older collection's
        self._writing: str | None = None  # the "writing-" token this store set last
        self.vector_store = ChromaVectorStore(chroma_collection=self.collection)
        # Chroma 1.x stores list values (we filter `sources` with $contains); LlamaIndex's
        # flat-metadata check predates that and its constructor ignores the flag.
        self.vector_store.flat_metadata = False

    # --- reading --------------------------------------------------------------------------
    def chunk_count(self) -> int:
        return self.collection.count()

    def paper_states(self, paper_ids: list[str] | None = None, batch: int = READ_PAGE) -> dict[str, dict[str, Any]]:
        """Metadata of each paper's first chunk (hash, sources, chunk count), by paper id.

        Read in pages of ``batch``: one unpaged read of more than ~32,000 rows fails on the server
        side ("too many SQL variables"), which made collections of that size impossible to open.
        """
        if paper_ids is not None:
            states: dict[str, dict[str, Any]] = {}
            for start in range(0, len(paper_ids), batch):
                where = {"$and": [{"chunk": 0}, {"paper_id": {"$in": paper_ids[start : start + batch]}}]}
                rows = self.collection.get(where=where, include=["metadatas"])
                states.update((meta["paper_id"], meta) for meta in rows["metadatas"])
            return states
        return {meta["paper_id"]: meta for rows in self._pages(batch, where={"chunk": 0}, include=["metadatas"])
                for meta in rows["metadatas"]}

    def paper_count(self) -> int:
        """Papers with a head chunk (counted from ids only: no metadata is read)."""
        return count_papers(self.collection)

    def fingerprint(self) -> str:
        """A digest of every stored paper's id, content hash and sources: equal iff the same papers are stored."""
        return fingerprint_of(self.paper_states())

    def stamp(self) -> tuple[int, str | None]:
        """A change detector: chunk count and the generation token every write through `rag` bumps.

        The count is not free on large collections (Chroma counts rows: ~13 ms for 170,000 chunks
        through a server); `generation` alone is one constant-time call.
        """
        count = self.collection.count()
        return count, self.generation()

    def generation(self) -> str | None:
        """The token every write through `rag` replaces (`touch`)."""
        metadata = self.client.get_collection(self.name, embedding_function=None).metadata or {}
        return metadata.get("generation")

    def _pages(self, batch: int, **query: Any) -> Iterator[dict[str, Any]]:
        return pages(self.collection, batch, **query)

    def _read(self, paper_ids: list[str] | None, batch: int) -> tuple[dict[str, list], dict[str, dict]]:
        parts: dict[str, list[tuple[int, int, str]]] = defaultdict(list)
        heads: dict[str, dict[str, Any]] = {}
        where = {"paper_id": {"$in": paper_ids}} if paper_ids is not None else None
        for rows in self._pages(batch, where=where, include=["metadatas", "documents"]):
            for meta, document in zip(rows["metadatas"], rows["documents"], strict=True):
                pid = meta["paper_id"]
                parts[pid].append(chunk_part(meta, document))
                if meta["chunk"] == 0:
                    heads[pid] = meta
        return parts, heads

    def papers(self, paper_ids: list[str] | None = None, batch: int = READ_PAGE) -> dict[str, StoredPaper]:
        """Whole papers, reassembled from their chunks; all of them when ``paper_ids`` is None.

        Given ids, the chunks are read by chunk id (`papers_by_id`), whose cost does not grow with the
        collection; a ``where`` filter on ``paper_id`` scans (~12 ms at 100,000 chunks through a server).
        """
        if paper_ids is None:
            return self.snapshot(None, batch)[0]
        return self.papers_by_id(paper_ids)

    def papers_by_id(self, paper_ids: list[str]) -> dict[str, StoredPaper]:
        """Papers that have a head chunk: the heads by id, then their other chunks ``1..n-1`` by id.

        A paper whose chunks did not all come back (a concurrent writer replacing it) is read again
        the way `snapshot` reads it, so the result is what `snapshot(paper_ids)` returns.
        """
        if not paper_ids:
            return {}
        rows = self.collection.get(ids=[chunk_id(pid, 0) for pid in paper_ids], include=["metadatas", "documents"])
        heads: dict[str, dict[str, Any]] = {}
        parts: dict[str, list[tuple[int, int, str]]] = defaultdict(list)
        for meta, document in zip(rows["metadatas"], rows["documents"], strict=True):
            heads[meta["paper_id"]] = meta
            parts[meta["paper_id"]].append(chunk_part(meta, document))
        rest = [chunk_id(pid, i) for pid, head in heads.items() for i in range(1, int(head["n_chunks"]))]
        for start in range(0, len(rest), 5000):
            rows = self.collection.get(ids=rest[start : start + 5000], include=["metadatas", "documents"])
            for meta, document in zip(rows["metadatas"], rows["documents"], strict=True):
                if meta["paper_id"] in heads:
                    parts[meta["paper_id"]].append(chunk_part(meta, document))
        short = [pid for pid, head in heads.items() if len(parts[pid]) != int(head["n_chunks"])]
        papers = {pid: stored_paper(pid, head, parts[pid]) for pid, head in heads.items() if pid not in short}
        if short:
            papers.update(self.snapshot(short)[0])
        return papers

    def snapshot(self, paper_ids: list[str] | None = None, batch: int = READ_PAGE
                 ) -> tuple[dict[str, StoredPaper], str]:
        """Papers (those with a head chunk) and the fingerprint of exactly what was read.

        Paging can race a concurrent writer (Chroma has no snapshot reads); a paper whose chunks
        came back short is read again by id, so what is returned is whole and self-consistent.
        """
        if paper_ids == []:
            return {}, fingerprint_of({})
        parts, heads = self._read(paper_ids, batch)
        short = [pid for pid, head in heads.items() if len(parts[pid]) != int(head["n_chunks"])]
        if short:
            again_parts, again_heads = self._read(short, batch)
            for pid in short:
                parts[pid] = again_parts.get(pid, [])
                if pid in again_heads:
                    heads[pid] = again_heads[pid]
                else:
                    heads.pop(pid, None)
        papers = {pid: stored_paper(pid, head, parts[pid]) for pid, head in heads.items()}
        return papers, fingerprint_of(heads)

    def scan_papers(self, visit: Callable[[StoredPaper], None], batch: int = READ_PAGE) -> str:
        """Call ``visit`` with every paper that has a head chunk, reading the collection page by page.

        What `snapshot` returns, without holding the collection in memory: a paper is reassembled
        and handed over as soon as all its chunks have been read, so only papers split across pages
        are held. A paper still short at the end (a concurrent writer) is read again by id, as in
        `snapshot`. Returns the fingerprint of exactly the papers visited.
        """
        parts: dict[str, list[tuple[int, int, str]]] = defaultdict(list)
        heads: dict[str, dict[str, Any]] = {}
        lines: list[str] = []
        done: set[str] = set()

        def deliver(pid: str, head: dict[str, Any], chunks: list[tuple[int, int, str]]) -> None:
            visit(stored_paper(pid, head, chunks))
            lines.append(fingerprint_line(pid, head))
            done.add(pid)

        for rows in self._pages(batch, include=["metadatas", "documents"]):
            for meta, document in zip(rows["metadatas"], rows["documents"], strict=True):
                pid = meta["paper_id"]
                if pid in done:
                    continue
                parts[pid].append(chunk_part(meta, document))
                if meta["chunk"] == 0:
                    heads[pid] = meta
                head = heads.get(pid)
                if head is not None and len(parts[pid]) == int(head["n_chunks"]):
                    deliver(pid, heads.pop(pid), parts.pop(pid))
        short = sorted(heads)  # a head, but not (yet) all chunks: read them again, as `snapshot` does
        if short:
            again_parts, again_heads = self._read(short, batch)
            for pid in short:
                if pid in again_heads:
                    deliver(pid, again_heads[pid], again_parts.get(pid, []))
        return hashlib.sha256("\n".join(sorted(lines)).encode()).hexdigest()[:16]

    def chunk_states(self, paper_ids: list[str] | None = None, batch: int = READ_PAGE) -> dict[str, PaperChunks]:
        """Every stored chunk's bookkeeping, grouped by paper (all papers when ``paper_ids`` is None)."""
        if paper_ids == []:
            return {}
        where = {"paper_id": {"$in": paper_ids}} if paper_ids is not None else None
        states: dict[str, PaperChunks] = {}
        for rows in self._pages(batch, where=where, include=["metadatas"]):
            for meta in rows["metadatas"]:
                pid = meta["paper_id"]
                state = states.setdefault(pid, PaperChunks(pid, sources=list(meta.get("sources") or [])))
                state.positions.append(int(meta["chunk"]))
                state.hashes.add(meta["content_hash"])
                if meta["chunk"] == 0:
                    state.head = meta
                    state.sources = list(meta.get("sources") or [])
        return states

    def incomplete_papers(self, batch: int = ID_PAGE, heads: dict[str, dict[str, Any]] | None = None
                          ) -> list[PaperChunks]:
        """Papers whose chunks 0..n-1 are not all there: what an interrupted write leaves behind.

        Reads only chunk ids (``paper#i``) and the heads' metadata (``heads``, if the caller has just
        read `paper_states`), so it is cheap enough to run at every open; two versions mixed in one
        paper (racing writers) are found by `chunk_states`, which ingest uses for the papers it is given.
        """
        heads = self.paper_states() if heads is None else heads
        positions: dict[str, list[int]] = defaultdict(list)
        for rows in self._pages(batch, include=[]):
            for cid in rows["ids"]:
                pid, _, index = cid.rpartition("#")
                positions[pid].append(int(index))
        broken = [
            pid for pid, found in positions.items()
            if pid not in heads or sorted(found) != list(range(int(heads[pid]["n_chunks"])))
        ]
        states = self.chunk_states(broken)
        return [states[pid] for pid in broken if pid in states and not states[pid].complete]

    def sources(self) -> dict[str, int]:
        """Source file names with how many papers came from each."""
        counts: dict[str, int] = defaultdict(int)
        for meta in self.paper_states().values():
            for source in meta.get("sources") or []:
                counts[source] += 1
        return dict(sorted(counts.items()))

    # --- writing --------------------------------------------------------------------------
    def begin_write(self) -> None:
        """Set a "writing-" generation token before a change, unless this store's own is still there.

        Until the `touch` that follows the change, the token says a write is under way or was cut
        short, so opening the collection checks every paper (one constant-time read per write call).
        """
        if self._writing is None or self.generation() != self._writing:
            self._writing = WRITING + uuid.uuid4().hex
            self._set_generation(self._writing)

    def touch(self) -> None:
        """Set a clean generation token after a finished write: other processes' BM25 indexes resynchronize."""
        self._set_generation(uuid.uuid4().hex)
        self._writing = None

    def _set_generation(self, token: str) -> None:
        self.collection.modify(metadata={**self.stamp_metadata, "generation": token})

    def delete_papers(self, paper_ids: list[str]) -> None:
        if paper_ids:
            self.begin_write()
            self.collection.delete(where={"paper_id": {"$in": paper_ids}})

    def set_sources(self, paper_id: str, n_chunks: int, sources: list[str]) -> None:
        """Replace the source list on every chunk of a paper (no re-embedding)."""
        self.update_metadata(paper_id, n_chunks, {"sources": sources})

    def update_metadata(self, paper_id: str, n_chunks: int, changes: dict[str, Any]) -> None:
        """Set some metadata keys on every chunk of a paper (no re-embedding)."""
        ids = [chunk_id(paper_id, i) for i in range(n_chunks)]
        self.begin_write()
        rows = self.collection.get(ids=ids, include=["metadatas"])
        metadatas = [{**meta, **changes} for meta in rows["metadatas"]]
        # heads last, like `write_chunks`
        order = sorted(range(len(rows["ids"])), key=lambda i: metadatas[i]["chunk"] == 0)
        self.collection.update(ids=[rows["ids"][i] for i in order], metadatas=[metadatas[i] for i in order])

    def write_chunks(self, nodes: Iterable[TextNode]) -> None:
        """Upsert embedded chunk nodes: all non-head chunks first, then the heads.

        Readers count a paper only once its head is stored, so a paper becomes visible whole or
        not at all; a crash in between leaves head-less chunks that the next ingest replaces.
        """
        nodes = list(nodes)
        if nodes:
            self.begin_write()
        size = max(1, self.client.get_max_batch_size())
        for group in ([n for n in nodes if n.metadata["chunk"] != 0], [n for n in nodes if n.metadata["chunk"] == 0]):
            for start in range(0, len(group), size):
                part = group[start : start + size]
                metadatas = []
                for node in part:
                    meta = node_to_metadata_dict(node, remove_text=True, flat_metadata=False)
                    metadatas.append({k: ("" if v is None else v) for k, v in meta.items()})
                self.collection.upsert(
                    ids=[n.node_id for n in part],
                    embeddings=[n.get_embedding() for n in part],
                    metadatas=metadatas,
                    documents=[n.get_content(metadata_mode=MetadataMode.NONE) for n in part],
                )


INTERNAL_KEYS = {"paper_id", "title", "chunk", "n_chunks", "start_char", "end_char", "content_hash", "author_keys"}


def paper_metadata(meta: dict[str, Any]) -> dict[str, Any]:
    """The user-facing metadata of a paper, without index bookkeeping and LlamaIndex internals."""
    return {k: v for k, v in meta.items() if k not in INTERNAL_KEYS and not k.startswith("_") and k not in (
        "document_id", "doc_id", "ref_doc_id")}


def stored_paper(paper_id: str, head: dict[str, Any], chunks: list[tuple[int, int, str]]) -> StoredPaper:
    """A paper from its head chunk's metadata and all its chunks (`chunk_part` tuples)."""
    return StoredPaper(paper_id, head["title"], reassemble(chunks), paper_metadata(head))


def fingerprint_line(paper_id: str, head: dict[str, Any]) -> str:
    return f"{paper_id}:{head['content_hash']}:{'|'.join(head.get('sources') or [])}"


def fingerprint_of(heads: dict[str, dict[str, Any]]) -> str:
    """Digest of papers' ids, content hashes and source lists, from their head chunks' metadata."""
    lines = sorted(fingerprint_line(pid, meta) for pid, meta in heads.items())
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]


def pages(collection, batch: int, **query: Any) -> Iterator[dict[str, Any]]:
    """``collection.get(**query)`` page by page, ``batch`` rows at a time (unpaged reads of more than
    ~32,000 rows fail on the server side: "too many SQL variables")."""
    offset = 0
    while True:
        rows = collection.get(**query, limit=batch, offset=offset)
        yield rows
        if len(rows["ids"]) < batch:
            return
        offset += batch


def count_papers(collection, batch: int = ID_PAGE) -> int:
    """Papers with a head chunk in a Chroma collection (ids only: no metadata is read)."""
    return sum(len(rows["ids"]) for rows in pages(collection, batch, where={"chunk": 0}, include=[]))


def chunk_id(paper_id: str, index: int) -> str:
    """Stable id of a chunk: the paper id and the chunk's position."""
    return f"{paper_id}#{index}"


def list_collections(client: chromadb.ClientAPI) -> dict[str, dict[str, Any]]:
    """Every collection with its embedding stamp and chunk count."""
    result = {}
    for collection in client.list_collections():
        meta = collection.metadata or {}
        result[collection.name] = {
            "embed_model": meta.get("embed_model"),
            "embed_dim": meta.get("embed_dim"),
            "chunks": collection.count(),
        }
    return result
