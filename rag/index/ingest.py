"""Ingestion: papers -> chunks -> embeddings -> Chroma upserts by stable id, idempotent and crash-safe.

A paper counts as stored only when all its chunks are (see `PaperStore.write_chunks`); a paper an
interrupted run left half-written is never "unchanged": the next run deletes its chunks and writes
it again (counted as ``repaired``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice

from llama_index.core.schema import MetadataMode, TextNode
from tqdm import tqdm

from rag.corpus import BadRecord, Paper
from rag.index.chunking import chunk_abstract
from rag.index.filters import chunk_filter_metadata
from rag.index.store import PaperStore, chunk_id

PAPERS_PER_BATCH = 64


Progress = Callable[[int, int], None]  # called with (papers done, papers in all) after each step


@dataclass
class IngestReport:
    """What an ingest did: records read, papers added / updated / unchanged / repaired, bad records, time."""

    collection: str = ""
    records: int = 0  # records read from the files (before merging duplicates)
    duplicates: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    repaired: int = 0  # papers found half-written (by an interrupted run) and written again
    chunks: int = 0
    sources_updated: int = 0  # stored papers that gained a source file
    seconds: float = 0.0
    bad: list[BadRecord] = field(default_factory=list)
    papers_now: int | None = None  # papers in the collection afterwards
    bm25_rebuilt: bool = False
    phases: dict[str, float] = field(default_factory=dict)  # bulk ingest: seconds of survey, write, bm25
    steps: list[tuple[int, float]] = field(default_factory=list)  # bulk ingest: (papers handed out, seconds)
    stopped_early: bool = False  # bulk ingest: its time budget ran out before the end of the corpus

    def add(self, other: IngestReport) -> None:
        """Count another step's papers into this report."""
        for name in ("added", "updated", "unchanged", "repaired", "chunks", "sources_updated"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def summary(self) -> str:
        text = (
            f"{self.added} added, {self.updated} updated, {self.unchanged} unchanged"
            + (f", {self.repaired} repaired (left incomplete by an interrupted ingest)" if self.repaired else "")
            + f" ({self.chunks} chunks embedded in {self.seconds:.1f} s)"
        )
        if self.phases:
            text += "; " + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in self.phases.items())
        if self.bad:
            text += f"; {len(self.bad)} bad record(s) skipped:\n" + "\n".join(f"  {b}" for b in self.bad)
        return text


def batches(items: Iterable[Paper], size: int) -> Iterator[list[Paper]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def paper_nodes(paper: Paper, sources: list[str], embedder, max_tokens: int, overlap: int) -> list[TextNode]:
    """One LlamaIndex node per chunk; the title is embedded with every chunk, offsets kept for reassembly."""
    chunks = chunk_abstract(
        paper.title, paper.abstract, max_tokens=max_tokens, overlap_sentences=overlap, count=embedder.count_tokens
    )
    nodes = []
    cursor = 0
    for index, chunk in enumerate(chunks):
        start = paper.abstract.find(chunk, cursor if index else 0)
        if start < 0:  # whitespace differs from the abstract: fall back to a search from the top
            start = paper.abstract.find(chunk)
        cursor = start + 1
        extras = {k: v for k, v in paper.metadata.items() if k not in ("sources", "line")}
        extras.update(chunk_filter_metadata(paper.metadata))
        nodes.append(
            TextNode(
                id_=chunk_id(paper.id, index),
                text=chunk,
                start_char_idx=start,
                end_char_idx=start + len(chunk),
                metadata={
                    **extras,
                    "paper_id": paper.id,
                    "title": paper.title,
                    "sources": sources,
                    "chunk": index,
                    "n_chunks": len(chunks),
                    "start_char": start,
                    "end_char": start + len(chunk),
                    "content_hash": paper.content_hash(),
                },
                excluded_embed_metadata_keys=[k for k in (*extras, "paper_id", "sources", "chunk", "n_chunks",
                                                          "start_char", "end_char", "content_hash")],
                excluded_llm_metadata_keys=["sources", "author_keys", "chunk", "n_chunks", "start_char", "end_char",
                                            "content_hash"],
            )
        )
    return nodes


def missing_filter_keys(head: dict) -> dict:
    """The filter keys (`chunk_filter_metadata`) a stored paper's chunks lack or hold in an older form, from its
    stored metadata: papers ingested before the year and author filters existed gain them on re-ingest."""
    wanted = chunk_filter_metadata(head)
    return {key: value for key, value in wanted.items() if head.get(key) != value}


def embed_nodes(nodes: list[TextNode], embedder) -> None:
    """Embed the nodes' texts, shortest first, so each model batch pads its texts to similar lengths.

    Batches are padded to their longest text; in input order a short chunk often rides with a
    full 256-token one. Sorting by length cut MiniLM's CPU time per abstract by about a quarter on
    the seeds (benchmarks/results/embedding.json). Vectors go back to their own nodes.
    """
    if not nodes:
        return
    texts = [node.get_content(metadata_mode=MetadataMode.EMBED) for node in nodes]
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    vectors = embedder.get_text_embedding_batch([texts[i] for i in order])
    for i, vector in zip(order, vectors, strict=True):
        nodes[i].embedding = vector


def ingest_papers(
    papers: Iterable[Paper],
    store: PaperStore,
    embedder,
    *,
    max_tokens: int,
    overlap: int,
    total: int | None = None,
    progress: bool = True,
    on_step: Progress | None = None,
    batch_papers: int = PAPERS_PER_BATCH,
) -> IngestReport:
    """Upsert papers into the store: new ones added, changed ones replaced, unchanged ones skipped.

    A paper already stored whole under the same id with the same title and abstract is left alone
    (its source list is extended if it came from another file); a changed or half-written one has
    its old chunks deleted and new ones written, heads last. Safe to re-run after an interruption,
    including ``kill -9``: each batch is visible paper by paper, whole or not at all. A step changes
    nothing before its papers are chunked and embedded, so a failure there (an embedding server gone)
    leaves the store as it was before the step, source lists included.

    ``batch_papers`` papers are checked, embedded and written per step (the upserts are split at
    Chroma's maximum batch size); bulk loads with cheap or remote embeddings gain from larger steps.
    ``progress`` shows a progress bar; ``on_step`` is called after each step instead or as well.
    """
    report = IngestReport(collection=store.name)
    done = 0
    if on_step is not None:
        on_step(0, total or 0)
    started = time.perf_counter()
    with tqdm(total=total, unit="paper", desc=f"ingest {store.name}", disable=not progress) as bar:
        for batch in batches(papers, batch_papers):
            stored = store.chunk_states([p.id for p in batch])
            nodes: list[TextNode] = []
            rewrite: list[str] = []
            changes: dict[str, tuple[int, dict]] = {}  # stored paper -> (its chunks, metadata to set on them)
            for paper in batch:
                old = stored.get(paper.id)
                old_sources = list(old.sources) if old else []
                sources = old_sources + [s for s in paper.sources if s not in old_sources]
                if old and old.complete and old.head["content_hash"] == paper.content_hash():
                    report.unchanged += 1
                    change = missing_filter_keys(old.head)
                    if sources != old_sources:
                        change["sources"] = sources
                    if change:  # a new source file, or filter keys an older version did not store
                        changes[paper.id] = (int(old.head["n_chunks"]), change)
                    continue
                if old:
                    rewrite.append(paper.id)
                    if old.complete:
                        report.updated += 1
                    else:
                        report.repaired += 1
                else:
                    report.added += 1
                nodes.extend(paper_nodes(paper, sources, embedder, max_tokens, overlap))
            embed_nodes(nodes, embedder)  # the step's work that can fail, done before it changes anything
            for paper_id, (n_chunks, change) in changes.items():
                store.update_metadata(paper_id, n_chunks, change)
            store.delete_papers(rewrite)
            store.write_chunks(nodes)
            report.chunks += len(nodes)
            if changes or nodes:
                store.touch()
            bar.update(len(batch))
            done += len(batch)
            if on_step is not None:
                on_step(done, total or done)
    report.seconds = time.perf_counter() - started
    return report
