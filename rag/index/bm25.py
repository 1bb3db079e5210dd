"""A BM25 index over whole papers (title + abstract), persisted beside Chroma with a fingerprint."""

from __future__ import annotations

import json
import logging
import os
import shutil
import uuid
from dataclasses import dataclass, field
from math import log
from pathlib import Path

import bm25s
import numpy as np
from filelock import FileLock

from rag.index.filters import PaperFilter
from rag.text import STOPWORDS, WORD, content_terms, stemmer

MANIFEST = "manifest.json"
MANIFEST_VERSION = 2  # 2: per-paper years and author keys for the filters (indexes saved before are rebuilt)
STAMP = "stamp.json"  # the collection's (chunk count, generation token) when the index was last in step with it
MMAP_BYTES = 64 << 20  # saved score arrays larger than this are memory-mapped on load (POSIX), not read
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


def write_stamp(folder: Path, stamp: tuple[int, str | None], fingerprint: str) -> None:
    """Write `STAMP` atomically (a private file renamed over it)."""
    temporary = folder / f"{STAMP}.{os.getpid()}-{uuid.uuid4().hex[:8]}"
    temporary.write_text(json.dumps({"count": stamp[0], "generation": stamp[1], "fingerprint": fingerprint}))
    os.replace(temporary, folder / STAMP)


def read_stamp(folder: Path, fingerprint: str) -> tuple[int, str | None] | None:
    """The saved stamp if it was recorded for ``fingerprint``, else None (missing, unreadable, or another's)."""
    try:
        saved = json.loads((folder / STAMP).read_text())
        return (int(saved["count"]), saved["generation"]) if saved["fingerprint"] == fingerprint else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


@dataclass
class Bm25Index:
    """bm25s over stemmed, stopword-free terms; row ``i`` is paper ``paper_ids[i]``, from the corpus files
    ``sources[i]``, of year ``years[i]`` (None if unknown) and with the author keys ``author_keys[i]``.

    ``stamp`` is the Chroma collection's ``(chunk count, generation token)`` at a moment the papers
    it stored had this ``fingerprint`` (None if unknown); `PaperIndex.check` trusts it on large
    collections instead of reading every paper.
    """

    retriever: bm25s.BM25 | None
    paper_ids: list[str]
    sources: list[list[str]]
    fingerprint: str
    stamp: tuple[int, str | None] | None = None
    years: list[int | None] = field(default_factory=list)
    author_keys: list[list[str]] = field(default_factory=list)
    _year_array: np.ndarray | None = field(default=None, init=False, repr=False, compare=False)
    _author_rows: dict[str, list[int]] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.years = self.years or [None] * len(self.paper_ids)
        self.author_keys = self.author_keys or [[] for _ in self.paper_ids]

    @classmethod
    def build(cls, papers: list[tuple], fingerprint: str) -> Bm25Index:
        """Index ``(paper_id, text, sources)`` triples, or ``(paper_id, text, sources, year, author_keys)``
        tuples (rows in paper-id order; see `Bm25Builder`)."""
        builder = Bm25Builder()
        for paper in papers:
            builder.add(*paper)
        return builder.finish(fingerprint)

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
            manifest = {"version": MANIFEST_VERSION, "fingerprint": self.fingerprint, "paper_ids": self.paper_ids,
                        "sources": self.sources, "years": self.years, "author_keys": self.author_keys}
            (staging / MANIFEST).write_text(json.dumps(manifest))
            if self.stamp is not None:
                write_stamp(staging, self.stamp, self.fingerprint)
            with lock_for(folder):
                old = folder.with_name(f"{folder.name}.old-{tag}")
                if folder.exists():
                    folder.rename(old)
                staging.rename(folder)
                shutil.rmtree(old, ignore_errors=True)
                remove_leftovers(folder)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    @staticmethod
    def restamp(folder: Path, stamp: tuple[int, str | None], fingerprint: str) -> None:
        """Record that the collection had ``fingerprint``'s papers at ``stamp`` (without rewriting the index).

        Ignored on reading unless the saved index has that fingerprint, so a stamp can never vouch
        for an index another process swapped in meanwhile.
        """
        with lock_for(folder):
            if folder.is_dir():
                write_stamp(folder, stamp, fingerprint)

    @classmethod
    def load(cls, folder: Path) -> Bm25Index | None:
        """The saved index, or None if there is none (or it is unreadable)."""
        return cls.read(folder)[0]

    @classmethod
    def read(cls, folder: Path, mmap: bool | None = None) -> tuple[Bm25Index | None, str]:
        """The saved index and "ok", or None and why not ("missing", "unreadable (...)", or "saved by an older
        version" when it lacks what the filters need).

        ``mmap=None`` memory-maps the score arrays when they are large (over `MMAP_BYTES`) on a POSIX
        system: loading is then instant and processes sharing a data folder share the pages. Saves
        never write into a loaded folder (they swap a new folder in by rename), and on POSIX a mapped
        file stays readable after it is renamed or deleted, so a concurrent save cannot change or
        break a mapped index. Small indexes are read into memory.
        """
        with lock_for(folder):
            if not (folder / MANIFEST).exists():
                return None, "missing"
            try:
                manifest = json.loads((folder / MANIFEST).read_text())
                if manifest.get("version") != MANIFEST_VERSION:
                    return None, "saved by an older version"
                paper_ids, sources, fingerprint = manifest["paper_ids"], manifest["sources"], manifest["fingerprint"]
                years, keys = manifest["years"], manifest["author_keys"]
                retriever = None
                if paper_ids:
                    if mmap is None:
                        arrays = sum(f.stat().st_size for f in folder.glob("*.csc.index.npy"))
                        mmap = os.name == "posix" and arrays > MMAP_BYTES
                    retriever = bm25s.BM25.load(str(folder), mmap=mmap, show_progress=False)
                    if int(retriever.scores["num_docs"]) != len(paper_ids) or not (
                            len(sources) == len(years) == len(keys) == len(paper_ids)):
                        raise ValueError(f"{retriever.scores['num_docs']} documents for {len(paper_ids)} papers")
            except Exception as error:  # any damage (truncated arrays, bad JSON, missing files) means rebuild
                return None, f"unreadable ({type(error).__name__}: {error})"
            stamp = read_stamp(folder, fingerprint)
        return cls(retriever, paper_ids, sources, fingerprint, stamp, years, keys), "ok"

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

    def mask(self, wanted: PaperFilter) -> np.ndarray | None:
        """1.0 for the rows that pass ``wanted``, 0.0 for the others; None when it filters nothing."""
        if not wanted:
            return None
        keep = np.ones(len(self.paper_ids), dtype=bool)
        if wanted.source is not None:
            keep &= np.array([wanted.source in s for s in self.sources], dtype=bool)
        if wanted.year_from is not None or wanted.year_to is not None:
            if self._year_array is None:
                self._year_array = np.array([0 if y is None else y for y in self.years], dtype=np.int32)
            years = self._year_array
            keep &= years > 0
            if wanted.year_from is not None:
                keep &= years >= wanted.year_from
            if wanted.year_to is not None:
                keep &= years <= wanted.year_to
        if wanted.author is not None:
            if self._author_rows is None:  # built on the first author filter: key -> rows
                rows: dict[str, list[int]] = {}
                for row, keys in enumerate(self.author_keys):
                    for key in keys:
                        rows.setdefault(key, []).append(row)
                self._author_rows = rows
            by_author = np.zeros(len(self.paper_ids), dtype=bool)
            by_author[self._author_rows.get(wanted.author, [])] = True
            keep &= by_author
        return keep.astype(np.float32)

    def search(self, query: str, k: int, source: str | PaperFilter | None = None) -> list[tuple[str, float]]:
        """The best ``k`` papers for ``query`` as ``(paper_id, score)``, optionally only those that pass a
        `PaperFilter` (or come from one source file)."""
        terms = content_terms(query)
        if self.retriever is None or not terms:
            return []
        wanted = PaperFilter(source=source) if isinstance(source, str) else source or PaperFilter()
        mask = self.mask(wanted)
        if mask is not None and not mask.any():
            return []
        k = min(k, len(self.paper_ids))
        docs, scores = self.retriever.retrieve([terms], k=k, show_progress=False, weight_mask=mask)
        return [
            (self.paper_ids[int(doc)], float(score))
            for doc, score in zip(docs[0], scores[0], strict=True)
            if score > 0
        ]


class Bm25Builder:
    """Builds a `Bm25Index` from papers streamed one at a time, in memory proportional to the index.

    Equivalent to ``bm25s.BM25().index([content_terms(text) ...])`` with bm25s's defaults (Lucene
    BM25, k1=1.5, b=0.75): the same terms and the same float32 scores, bit for bit (tested), but
    each paper is reduced to its term ids and counts as it arrives (no token lists are kept, stems
    are cached per word), and the score matrix is computed with a few vectorized numpy passes
    instead of a Python loop per paper. Rows come out in paper-id order.
    """

    K1, B = 1.5, 0.75
    BLOCK = 4096  # papers per concatenated block
    MAX_WORD_CACHE = 2_000_000

    def __init__(self) -> None:
        self.vocab: dict[str, int] = {}
        self.paper_ids: list[str] = []
        self.sources: list[list[str]] = []
        self.years: list[int | None] = []
        self.author_keys: list[list[str]] = []
        self._words: dict[str, int] = {}  # word -> term id, or -1 for a stopword
        self._lengths: list[int] = []  # terms per paper (with repeats)
        self._unique: list[int] = []  # distinct terms per paper
        self._pending: tuple[list[np.ndarray], list[np.ndarray]] = ([], [])
        self._terms: list[np.ndarray] = []
        self._counts: list[np.ndarray] = []

    def __len__(self) -> int:
        return len(self.paper_ids)

    def term_ids(self, text: str) -> np.ndarray:
        """`content_terms` of ``text`` as term ids (new terms join the vocabulary)."""
        found = WORD.findall(text.casefold())
        lookup = self._words.get
        ids = [lookup(word) for word in found]
        if None in ids:
            if len(self._words) >= self.MAX_WORD_CACHE:
                self._words.clear()
            for word in found:
                if word not in self._words:
                    stop = word in STOPWORDS or (len(word) <= 1 and not word.isdigit())
                    self._words[word] = -1 if stop else self.vocab.setdefault(stemmer().stemWord(word), len(self.vocab))
            ids = [self._words[word] for word in found]
        array = np.array(ids, dtype=np.int32)
        return array[array >= 0]

    def add(self, paper_id: str, text: str, sources: list[str], year: int | None = None,
            author_keys: list[str] | None = None) -> None:
        ids = self.term_ids(text)
        terms, counts = np.unique(ids, return_counts=True)
        self.paper_ids.append(paper_id)
        self.sources.append(list(sources))
        self.years.append(year)
        self.author_keys.append(list(author_keys or []))
        self._lengths.append(len(ids))
        self._unique.append(len(terms))
        self._pending[0].append(terms)
        self._pending[1].append(counts.astype(np.int32))
        if len(self._pending[0]) >= self.BLOCK:
            self._flush()

    def _flush(self) -> None:
        terms, counts = self._pending
        if terms:
            self._terms.append(np.concatenate(terms))
            self._counts.append(np.concatenate(counts))
            self._pending = ([], [])

    def finish(self, fingerprint: str) -> Bm25Index:
        """The index over every paper added, rows sorted by paper id."""
        if not self.paper_ids:
            return Bm25Index(None, [], [], fingerprint)
        self._flush()
        terms = np.concatenate(self._terms)
        tf = np.concatenate(self._counts).astype(np.float64)
        self._terms, self._counts = [], []
        n_docs, n_vocab = len(self.paper_ids), len(self.vocab)
        lengths = np.array(self._lengths)  # int64, as bm25s computes the average
        # rows: papers in paper-id order
        order = sorted(range(n_docs), key=self.paper_ids.__getitem__)
        row_of = np.empty(n_docs, dtype=np.int64)
        row_of[np.array(order, dtype=np.int64)] = np.arange(n_docs, dtype=np.int64)
        doc = np.repeat(np.arange(n_docs, dtype=np.int64), np.array(self._unique, dtype=np.int64))
        # Lucene BM25 exactly as bm25s computes it: idf in float64 stored as float32, tf part in float64
        df = np.bincount(terms, minlength=n_vocab)
        idf = np.array([log(1 + (n_docs - d + 0.5) / (d + 0.5)) if d else 0.0 for d in df.tolist()],
                       dtype=np.float32)
        avg = lengths.mean()
        norm = self.K1 * ((1 - self.B) + self.B * lengths.astype(np.float64) / avg)
        scores = (idf[terms].astype(np.float64) * (tf / (norm[doc] + tf))).astype(np.float32)
        del tf, norm
        rows = row_of[doc]
        del doc
        sorter = np.argsort((terms.astype(np.int64) << 32) | rows, kind="stable")
        data, indices = scores[sorter], rows[sorter].astype(np.int32)
        del scores, sorter, rows
        indptr = np.zeros(n_vocab + 1, dtype=np.int64)
        np.cumsum(df, out=indptr[1:])
        retriever = bm25s.BM25()
        retriever.scores = {"data": data, "indices": indices, "indptr": indptr, "num_docs": n_docs}
        retriever.vocab_dict = {**self.vocab, "": n_vocab}
        retriever.unique_token_ids_set = set(retriever.vocab_dict.values())
        retriever.nonoccurrence_array = None
        return Bm25Index(retriever, [self.paper_ids[i] for i in order], [self.sources[i] for i in order], fingerprint,
                         years=[self.years[i] for i in order], author_keys=[self.author_keys[i] for i in order])
