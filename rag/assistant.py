"""The assistant: question in, checked `Answer` out (whole or streamed). The public API's engine."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from rag.answering.abstention import model_refused, retrieval_is_weak, without_refusals
from rag.answering.budget import fit_prompt, llm_context_window, llm_token_counter
from rag.answering.citations import CitationChecker
from rag.answering.models import Answer, Done, Source, SourcesFound, StreamEvent, Timings, Token
from rag.answering.prompt import ABSTAIN_TEXT, echoes_rules
from rag.answering.question import QuestionError, clean_question, truncate
from rag.corpus import load_corpus
from rag.index import PaperIndex
from rag.models.embedding import make_embedding
from rag.models.llm import ChosenLLM, choose_llm, llm_failure
from rag.retrieval import HybridRetriever, RetrievedPaper
from rag.settings import Settings, get_settings
from rag.text import content_terms

log = logging.getLogger(__name__)

FOLLOW_UP_WORDS = re.compile(
    r"\b(it|its|they|them|their|this|that|these|those|the (paper|method|model|approach|authors?|study))\b",
    re.IGNORECASE,
)
UNSUPPORTED_NOTE = " (The model's reply was not supported by the retrieved abstracts.)"
WITHHELD_NOTE = " (The model's reply repeated the assistant's instructions and was withheld.)"
MAX_TOP_K = 50


@dataclass(frozen=True)
class Turn:
    """One earlier chat message, for follow-up questions."""

    role: str
    content: str


def fold_history(question: str, history: Sequence[Turn | dict] | None, max_chars: int | None = None) -> str:
    """The retrieval query: a follow-up ("what data did it use?") is joined to the previous question
    (cut to ``max_chars`` characters, like any question)."""
    if not history:
        return question
    turns = [t if isinstance(t, Turn) else Turn(t["role"], t["content"]) for t in history]
    previous = [" ".join(str(t.content).split()) for t in turns if t.role == "user" and str(t.content).strip()]
    if not previous:
        return question
    if FOLLOW_UP_WORDS.search(question) or len(content_terms(question)) < 3:
        earlier = truncate(previous[-1], max_chars) if max_chars else previous[-1]
        return f"{earlier} {question}"
    return question


class Assistant:
    """Holds the models and indexes; answers questions with checked citations."""

    generation_lock = threading.Lock()  # one generation at a time: CPU inference collapses when shared

    def __init__(self, settings: Settings | None = None, *, llm: ChosenLLM | None = None, embedder=None,
                 progress: bool = True):
        self.settings = settings or get_settings()
        self.progress = progress
        self.embedder = embedder or make_embedding(self.settings)
        self._llm = llm
        self._indexes: dict[str, PaperIndex] = {}
        self._lock = threading.Lock()

    # --- components ----------------------------------------------------------------------
    @property
    def llm(self) -> ChosenLLM:
        """The LLM, chosen and loaded on first use (retrieval never needs it)."""
        with self._lock:
            if self._llm is None:
                self._llm = choose_llm(self.settings, progress=self.progress)
                log.info("LLM: %s %s (%s)", self._llm.provider, self._llm.model, self._llm.reason)
            return self._llm

    def index(self, collection: str | None = None) -> PaperIndex:
        """The index of a collection; the default collection is filled from the seeds when empty."""
        name = collection or self.settings.collection
        with self._lock:
            if name not in self._indexes:
                index = PaperIndex(self.settings, self.embedder, name)
                if index.paper_count() == 0 and name == self.settings.collection and self.settings.seeds_dir.is_dir():
                    corpus = load_corpus([self.settings.seeds_dir], skip_bad=True)
                    log.info("collection %r is empty: ingesting %d seed papers", name, len(corpus.papers))
                    index.ingest(corpus.papers, total=len(corpus.papers), progress=self.progress)
                self._indexes[name] = index
            return self._indexes[name]

    def retriever(self, collection: str | None = None, mode: str | None = None) -> HybridRetriever:
        return HybridRetriever(
            self.index(collection),
            top_k=self.settings.top_k,
            candidates=self.settings.candidates,
            rrf_k=self.settings.rrf_k,
            mode=mode or self.settings.retrieval_mode,
        )

    def retrieve(self, question: str, *, top_k: int | None = None, collection: str | None = None,
                 source: str | None = None, mode: str | None = None) -> list[RetrievedPaper]:
        """The papers a question would be answered from, without asking the LLM."""
        return self.retriever(collection, mode).retrieve_papers(question, top_k=top_k, source=source)

    # --- answering -----------------------------------------------------------------------
    def stream(
        self,
        question: str,
        *,
        top_k: int | None = None,
        collection: str | None = None,
        source: str | None = None,
        mode: str | None = None,
        history: Sequence[Turn | dict] | None = None,
    ) -> Iterator[StreamEvent]:
        """Yield `SourcesFound` at once, then `Token`s as the LLM writes, then `Done` with the checked answer.

        Raises `QuestionError` for a question that cannot be asked (empty, no words, bad ``top_k``) and
        `LLMError` / `ModelUnavailable` when the LLM cannot answer. A question longer than
        ``max_question_chars`` is cut, and the prompt always fits the model's context window; the
        Answer's ``notices`` say when either happened.
        """
        question, notices = clean_question(question, self.settings.max_question_chars)
        if top_k is not None and not (isinstance(top_k, int) and 1 <= top_k <= MAX_TOP_K):
            raise QuestionError(f"top_k must be a whole number from 1 to {MAX_TOP_K}, not {top_k!r}")
        started = time.perf_counter()
        query = fold_history(question, history, self.settings.max_question_chars)
        papers = self.retrieve(query, top_k=top_k, collection=collection, source=source, mode=mode)
        sources = [Source.of(p) for p in papers]
        retrieval_ms = (time.perf_counter() - started) * 1000
        yield SourcesFound(sources=sources, retrieval_query=query)

        chosen = self.llm
        first_token_ms: float | None = None
        raw = ""
        pieces = 0
        withheld = False
        index = self.index(collection)
        if not retrieval_is_weak(query, papers, self.settings.abstain_threshold, index.bm25.idf):
            with self.generation_lock:
                count, counted_with = llm_token_counter(chosen.llm)
                prompt = fit_prompt(
                    question, sources, query, context_tokens=self.settings.context_tokens,
                    window=llm_context_window(chosen.llm, self.settings.llamacpp_n_ctx),
                    answer_tokens=self.settings.max_answer_tokens, count=count,
                    count_sources=self.embedder.count_tokens, counted_with=counted_with,
                )
                notices += prompt.notices
                reply = None
                try:
                    reply = chosen.llm.stream_chat(prompt.messages)
                    for chunk in reply:
                        delta = chunk.delta or ""
                        if delta:
                            if first_token_ms is None:
                                first_token_ms = (time.perf_counter() - started) * 1000
                            raw += delta
                            pieces += 1
                            if echoes_rules(raw):  # asked to reveal its prompt: stop, withhold the reply
                                withheld = True
                                break
                            yield Token(text=delta)
                except Exception as error:  # connection, timeout, HTTP errors: one typed, actionable error
                    raise llm_failure(error, chosen.provider, chosen.model, self.settings) from error
                finally:
                    close = getattr(reply, "close", None)
                    if close is not None:
                        close()

        abstained = withheld or not raw.strip() or model_refused(raw)
        text, citations = ABSTAIN_TEXT, []
        if withheld:
            text, raw = ABSTAIN_TEXT + WITHHELD_NOTE, ""
        elif not abstained:
            checker = CitationChecker(sources, self.settings.support_threshold, question=question,
                                      weight=index.bm25.idf)
            checked = checker.check(without_refusals(raw))
            if checked.citations:
                text, citations = checked.text, checked.citations
            else:
                abstained = True
                text = ABSTAIN_TEXT + UNSUPPORTED_NOTE
        total_ms = (time.perf_counter() - started) * 1000
        generating_s = (total_ms - (first_token_ms or total_ms)) / 1000
        yield Done(
            answer=Answer(
                question=question,
                answer=text,
                abstained=abstained,
                citations=citations,
                sources=sources,
                timings=Timings(
                    retrieval_ms=round(retrieval_ms, 1),
                    first_token_ms=None if first_token_ms is None else round(first_token_ms, 1),
                    total_ms=round(total_ms, 1),
                    generated_tokens=pieces,
                    tokens_per_s=round((pieces - 1) / generating_s, 2) if pieces > 1 and generating_s > 0 else None,
                ),
                llm_provider=chosen.provider,
                llm_model=chosen.model,
                embed_model=self.embedder.model_name,
                retrieval_query=query,
                raw_answer=raw,
                notices=notices,
            )
        )

    def ask(self, question: str, **options) -> Answer:
        """Answer a question; see `stream` for the options."""
        for event in self.stream(question, **options):
            if isinstance(event, Done):
                return event.answer
        raise RuntimeError("the answer stream ended without a result")
