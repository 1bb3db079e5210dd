"""The Chroma side of the index: client, collections stamped with their embedding model, paper rows."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import chromadb
from chromadb.config import Settings as ChromaSettings
from llama_index.vector_stores.chroma import ChromaVectorStore

from rag.settings import Settings


class StoreError(RuntimeError):
    """The vector store cannot be used as asked; the message names the fix."""


class EmbeddingMismatch(StoreError):
    """A collection was built with another embedding model than the one configured now."""


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


def connect(settings: Settings) -> chromadb.ClientAPI:
    """A Chroma server client when ``chroma_host`` is set, else the embedded store under ``data_dir``."""
    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if settings.chroma_host:
        try:
            return chromadb.HttpClient(host=settings.chroma_host, port=settings.chroma_port, settings=chroma_settings)
        except Exception as error:
            raise StoreError(
                f"cannot reach the Chroma server at {settings.chroma_host}:{settings.chroma_port} ({error}); "
                "start it with `chroma run --path DIR --host HOST --port PORT`, or unset RAG_CHROMA_HOST "
                "to use the embedded store"
            ) from error
    settings.chroma_dir.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(settings.chroma_dir), settings=chroma_settings)


def reassemble(chunks: list[tuple[int, int, str]]) -> str:
    """Rebuild an abstract from ``(start_char, end_char, text)`` chunks that may overlap."""
    text = ""
    for start, _end, chunk in sorted(chunks):
        text = text[:start] + chunk
    return text


class PaperStore:
    """One Chroma collection of abstract chunks, checked against the embedding model on open."""

    def __init__(self, client: chromadb.ClientAPI, name: str, embed_model: str, embed_dim: int, create: bool = True):
        self.name = name
        existing = {c.name for c in client.list_collections()}
        if name not in existing and not create:
            raise StoreError(f"collection {name!r} does not exist; ingest papers into it first with `rag ingest`")
        self.collection = client.get_or_create_collection(
            name,
            metadata={"embed_model": embed_model, "embed_dim": embed_dim},
            configuration={"hnsw": {"space": "cosine"}},
            embedding_function=None,
        )
        stamped = self.collection.metadata or {}
        if (stamped.get("embed_model"), stamped.get("embed_dim")) != (embed_model, embed_dim):
            raise EmbeddingMismatch(
                f"collection {name!r} was built with embedding model {stamped.get('embed_model')!r} "
                f"({stamped.get('embed_dim')} dimensions) but the configured model is {embed_model!r} "
                f"({embed_dim} dimensions). Either set RAG_EMBED_PROVIDER back to the model it was built "
                f"with, ingest into a new collection (--collection NEW_NAME), or rebuild this one with "
                f"`rag ingest --rebuild --collection {name}`."
            )
        self.vector_store = ChromaVectorStore(chroma_collection=self.collection)
        # Chroma 1.x stores list values (we filter `sources` with $contains); LlamaIndex's
        # flat-metadata check predates that and its constructor ignores the flag.
        self.vector_store.flat_metadata = False

    # --- reading --------------------------------------------------------------------------
    def chunk_count(self) -> int:
        return self.collection.count()

    def paper_states(self, paper_ids: list[str] | None = None) -> dict[str, dict[str, Any]]:
        """Metadata of each paper's first chunk (hash, sources, chunk count), by paper id."""
        where: dict[str, Any] = {"chunk": 0}
        if paper_ids is not None:
            if not paper_ids:
                return {}
            where = {"$and": [{"chunk": 0}, {"paper_id": {"$in": paper_ids}}]}
        rows = self.collection.get(where=where, include=["metadatas"])
        return {meta["paper_id"]: meta for meta in rows["metadatas"]}

    def paper_count(self) -> int:
        return len(self.paper_states())

    def fingerprint(self) -> str:
        """A digest of every stored paper's id and content hash: equal iff the same papers are stored."""
        states = self.paper_states()
        lines = sorted(f"{pid}:{meta['content_hash']}" for pid, meta in states.items())
        return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]

    def papers(self, paper_ids: list[str] | None = None, batch: int = 5000) -> dict[str, StoredPaper]:
        """Whole papers, reassembled from their chunks; all of them when ``paper_ids`` is None."""
        parts: dict[str, list[tuple[int, int, str]]] = defaultdict(list)
        heads: dict[str, dict[str, Any]] = {}
        where = {"paper_id": {"$in": paper_ids}} if paper_ids is not None else None
        if paper_ids == []:
            return {}
        offset = 0
        while True:
            rows = self.collection.get(where=where, include=["metadatas", "documents"], limit=batch, offset=offset)
            for meta, document in zip(rows["metadatas"], rows["documents"], strict=True):
                pid = meta["paper_id"]
                parts[pid].append((int(meta["start_char"]), int(meta["end_char"]), document))
                if meta["chunk"] == 0:
                    heads[pid] = meta
            if len(rows["ids"]) < batch:
                break
            offset += batch
        return {
            pid: StoredPaper(pid, heads[pid]["title"], reassemble(parts[pid]), paper_metadata(heads[pid]))
            for pid in parts
            if pid in heads
        }

    def sources(self) -> dict[str, int]:
        """Source file names with how many papers came from each."""
        counts: dict[str, int] = defaultdict(int)
        for meta in self.paper_states().values():
            for source in meta.get("sources") or []:
                counts[source] += 1
        return dict(sorted(counts.items()))

    # --- writing --------------------------------------------------------------------------
    def delete_papers(self, paper_ids: list[str]) -> None:
        if paper_ids:
            self.collection.delete(where={"paper_id": {"$in": paper_ids}})

    def set_sources(self, paper_id: str, n_chunks: int, sources: list[str]) -> None:
        """Replace the source list on every chunk of a paper (no re-embedding)."""
        ids = [chunk_id(paper_id, i) for i in range(n_chunks)]
        rows = self.collection.get(ids=ids, include=["metadatas"])
        metadatas = [{**meta, "sources": sources} for meta in rows["metadatas"]]
        self.collection.update(ids=rows["ids"], metadatas=metadatas)


INTERNAL_KEYS = {"paper_id", "title", "chunk", "n_chunks", "start_char", "end_char", "content_hash"}


def paper_metadata(meta: dict[str, Any]) -> dict[str, Any]:
    """The user-facing metadata of a paper, without index bookkeeping and LlamaIndex internals."""
    return {k: v for k, v in meta.items() if k not in INTERNAL_KEYS and not k.startswith("_") and k not in (
        "document_id", "doc_id", "ref_doc_id")}


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
