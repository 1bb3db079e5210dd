"""Hybrid retrieval: BM25 and dense hits fused by reciprocal rank, grouped per paper."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from math import log
from typing import Any

from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode
from llama_index.core.vector_stores.types import VectorStoreQuery

from rag.index import Bm25Index, PaperIndex
from rag.index.filters import PaperFilter
from rag.text import content_terms


@dataclass
class RetrievedPaper:
    """One paper found for a query, with its whole abstract and how each retriever ranked it."""

    rank: int
    paper_id: str
    title: str
    abstract: str
    score: float
    dense_similarity: float | None = None
    bm25_rank: int | None = None
    dense_rank: int | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def term_coverage(self, query: str, weight: Callable[[str], float] | None = None) -> float:
        """Share of the query's content terms (optionally weighted, e.g. by IDF) in this paper's title or abstract."""
        wanted = set(content_terms(query))
        weigh = weight or (lambda term: 1.0)
        total = sum(weigh(t) for t in wanted)
        if not total:
            return 0.0
        found = wanted & set(content_terms(f"{self.title} {self.abstract}"))
        return sum(weigh(t) for t in found) / total


def reciprocal_rank_fusion(rankings: list[list[str]], k: int) -> dict[str, float]:
    """Sum of ``1 / (k + rank)`` over every ranking an id appears in (ranks start at 1)."""
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return scores


class HybridRetriever(BaseRetriever):
    """A LlamaIndex retriever over one `PaperIndex` that returns whole papers, best first."""

    def __init__(self, index: PaperIndex, *, top_k: int, candidates: int, rrf_k: int, mode: str = "hybrid"):
        super().__init__()
        self.index = index
        self.top_k = top_k
        self.candidates = candidates
        self.rrf_k = rrf_k
        self.mode = mode

    def dense(self, query: str, wanted: PaperFilter | None = None) -> tuple[list[str], dict[str, float]]:
        """Papers by their best chunk's cosine similarity, among those that pass the filter (Chroma filters
        before ranking)."""
        embedding = self.index.embedder.get_query_embedding(query)
        where = wanted.where() if wanted else None
        result = self.index.store.vector_store.query(
            VectorStoreQuery(query_embedding=embedding, similarity_top_k=self.candidates),
            **({"where": where} if where else {}),
        )
        order: list[str] = []
        similarity: dict[str, float] = {}
        for node, distance_score in zip(result.nodes or [], result.similarities or [], strict=True):
            paper_id = node.metadata["paper_id"]
            if paper_id not in similarity:
                order.append(paper_id)
                # the store reports exp(-cosine distance); turn it back into cosine similarity
                similarity[paper_id] = 1.0 + log(max(distance_score, 1e-12))
        return order, similarity

    def retrieve_papers(
        self, query: str, *, top_k: int | None = None, source: str | None = None, mode: str | None = None,
        bm25: Bm25Index | None = None, year_from: int | None = None, year_to: int | None = None,
        author: str | None = None,
    ) -> list[RetrievedPaper]:
        """The ``top_k`` best papers for ``query`` among those that pass the filters: ``source`` (one corpus
        file), ``year_from`` / ``year_to`` (inclusive), ``author`` (a name or a part of one, any case; see
        `rag.index.filters`). ``bm25`` is the index's BM25 if the caller has just read it (`PaperIndex.bm25`).
        `QuestionError` for a filter that cannot be applied (a year out of range, a reversed range)."""
        mode = mode or self.mode
        top_k = top_k or self.top_k
        wanted = PaperFilter.of(source, year_from, year_to, author)
        rankings: list[list[str]] = []
        bm25_order: list[str] = []
        dense_order: list[str] = []
        similarity: dict[str, float] = {}
        if mode in ("hybrid", "bm25"):
            bm25 = bm25 or self.index.bm25()
            bm25_order = [pid for pid, _ in bm25.search(query, self.candidates, wanted)]
            rankings.append(bm25_order)
        if mode in ("hybrid", "dense"):
            dense_order, similarity = self.dense(query, wanted)
            rankings.append(dense_order)
        fused = reciprocal_rank_fusion(rankings, self.rrf_k)
        best_possible = len(rankings) / (self.rrf_k + 1)
        chosen = sorted(fused, key=lambda pid: (-fused[pid], pid))[:top_k]
        stored = self.index.papers(chosen)
        return [
            RetrievedPaper(
                rank=rank,
                paper_id=pid,
                title=stored[pid].title,
                abstract=stored[pid].abstract,
                score=round(fused[pid] / best_possible, 4),
                dense_similarity=similarity.get(pid),
                bm25_rank=bm25_order.index(pid) + 1 if pid in bm25_order else None,
                dense_rank=dense_order.index(pid) + 1 if pid in dense_order else None,
                metadata=stored[pid].metadata,
            )
            for rank, pid in enumerate((p for p in chosen if p in stored), start=1)
        ]

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return [
            NodeWithScore(
                node=TextNode(id_=p.paper_id, text=p.abstract, metadata={"title": p.title, **p.metadata}),
                score=p.score,
            )
            for p in self.retrieve_papers(query_bundle.query_str)
        ]
