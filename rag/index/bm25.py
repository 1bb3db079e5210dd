"""A BM25 index over whole papers (title + abstract), persisted beside Chroma with a fingerprint."""

from __future__ import annotations

import json
import logging
import os
import shutil
import uuid
from dataclasses import dataclass
from math import log
from pathlib import Path

import bm25s
import numpy as np
from filelock import FileLock

from rag.text import content_terms

MANIFEST = "manifest.json"
logging.getLogger("bm25s").setLevel(logging.WARNING)  # bm25s sets DEBUG, so `rag` printed "Building index from tokens"


def lock_for(folder: Path) -> FileLock:
    """The lock serializing saves and loads of one BM25 folder across processes."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    return FileLock(folder.with_name(folder.name + ".lock"), timeout=60)


def remove_leftovers(folder: Path) -> None:
    """Delete what saves killed midway left beside ``folder`` (call with its lock held)."""
    for path in folder.parent.glob(f"{folder.name}.old-*"):  # only exist inside a locked swap
        shutil.rmtree(path, ignore_errors=True)
    for path in folder.parent.glob(f"{folder.name}.tmp-*"):
        try:
            pid = int(path.name.rsplit(".tmp-", 1)[1].split("-")[0])
            os.kill(pid, 0)  # still running: its save is in progress
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
        except (ValueError, PermissionError):
            pass


@dataclass
class Bm25Index:
    """bm25s over stemmed, stopword-free terms; row ``i`` is paper ``paper_ids[i]``."""

    retriever: bm25s.BM25 | None
    paper_ids: list[str]
    sources: list[list[str]]
    fingerprint: str

    @classmethod
    def build(cls, papers: list[tuple[str, str, list[str]]], fingerprint: str) -> Bm25Index:
        """Index ``(paper_id, text, sources)`` triples."""
        retriever = None
        if papers:
            retriever = bm25s.BM25()
            retriever.index([content_terms(text) for _, text, _ in papers], show_progress=False)
        return cls(retriever, [p[0] for p in papers], [p[2] for p in papers], fingerprint)

    def save(self, folder: Path) -> None:
        """Write atomically: build in a private sibling folder, then swap it in under a lock file.

        Several processes may share one data folder (e.g. UI replicas in front of one Chroma
        server); the lock keeps their swaps from interleaving and readers from seeing a half swap.
        """
        folder.parent.mkdir(parents=True, exist_ok=True)
        tag = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        staging = folder.with_name(f"{folder.name}.tmp-{tag}")
        staging.mkdir()
        try:
            if self.retriever is not None:
                self.retriever.save(str(staging), show_progress=False)
            manifest = {"fingerprint": self.fingerprint, "paper_ids": self.paper_ids, "sources": self.sources}
            (staging / MANIFEST).write_text(json.dumps(manifest))
            with lock_for(folder):
                old = folder.with_name(f"{folder.name}.old-{tag}")
                if folder.exists():
                    folder.rename(old)
                staging.rename(folder)
                shutil.rmtree(old, ignore_errors=True)
                remove_leftovers(folder)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    @classmethod
    def load(cls, folder: Path) -> Bm25Index | None:
        """The saved index, or None if there is none (or it is unreadable)."""
        return cls.read(folder)[0]

    @classmethod
    def read(cls, folder: Path) -> tuple[Bm25Index | None, str]:
        """The saved index and "ok", or None and why not ("missing" or "unreadable (...)")."""
        with lock_for(folder):
            if not (folder / MANIFEST).exists():
                return None, "missing"
            try:
                manifest = json.loads((folder / MANIFEST).read_text())
                paper_ids, sources, fingerprint = manifest["paper_ids"], manifest["sources"], manifest["fingerprint"]
                retriever = None
                if paper_ids:
                    # no mmap: another process may swap the folder out from under a mapped file
                    retriever = bm25s.BM25.load(str(folder), mmap=False, show_progress=False)
                    if int(retriever.scores["num_docs"]) != len(paper_ids) or len(sources) != len(paper_ids):
                        raise ValueError(f"{retriever.scores['num_docs']} documents for {len(paper_ids)} papers")
            except Exception as error:  # any damage (truncated arrays, bad JSON, missing files) means rebuild
                return None, f"unreadable ({type(error).__name__}: {error})"
        return cls(retriever, paper_ids, sources, fingerprint), "ok"

    def __len__(self) -> int:
        return len(self.paper_ids)

    def idf(self, term: str) -> float:
        """Inverse document frequency of a stemmed term (BM25's formula; unseen terms weigh most)."""
        n = len(self.paper_ids)
        frequency = 0
        if self.retriever is not None and term in self.retriever.vocab_dict:
            column = self.retriever.vocab_dict[term]
            indptr = self.retriever.scores["indptr"]
            frequency = int(indptr[column + 1] - indptr[column])
        return log(1 + (n - frequency + 0.5) / (frequency + 0.5))

    def search(self, query: str, k: int, source: str | None = None) -> list[tuple[str, float]]:
        """The best ``k`` papers for ``query`` as ``(paper_id, score)``, optionally from one source file."""
        terms = content_terms(query)
        if self.retriever is None or not terms:
            return []
        mask = None
        if source is not None:
            mask = np.array([source in s for s in self.sources], dtype=np.float32)
            if not mask.any():
                return []
        k = min(k, len(self.paper_ids))
        docs, scores = self.retriever.retrieve([terms], k=k, show_progress=False, weight_mask=mask)
        return [
            (self.paper_ids[int(doc)], float(score))
            for doc, score in zip(docs[0], scores[0], strict=True)
            if score > 0
        ]
