"""The assistant: question in, checked `Answer` out (whole or streamed).

`Assistant.stream` runs the steps in order: retrieve -> abstain or ask -> build the prompt ->
generate -> (for "which papers": judge each paper) -> check the citations -> `Answer`.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from rag.answering.abstention import model_refused, retrieval_is_weak, without_refusals
from rag.answering.answer import (
    Answer,
    Citation,
    Done,
    Judging,
    SecondLook,
    Source,
    SourcesFound,
    StreamEvent,
    Timings,
    Token,
)
from rag.answering.citations import CitationChecker, states_figure
from rag.answering.focus import context_share, focused
from rag.answering.judge import JudgePrompt, PaperJudge, asks_for_several
from rag.answering.prompt import (
    ABSTAIN_TEXT,
    INSTRUCTIONS,
    SECOND_LOOK,
    SECOND_LOOK_OPENING,
    Prompt,
    echoes_rules,
    fit_prompt,
    paper_block,
    prompt_prefix,
)
from rag.answering.question import Turn, answer_needs_figure, clean_question, fold_history
from rag.errors import LLMError, QuestionError
from rag.index import Bm25Index, PaperIndex
from rag.library import Library
from rag.models.llm import LanguageModel, PromptRead, choose_llm
from rag.retrieval import HybridRetriever, RetrievedPaper
from rag.settings import TOP_K_MAX, Settings, get_settings
from rag.text import most_relevant_sentence

log = logging.getLogger(__name__)

WARM_CHECK_EVERY = 25  # papers between two looks at how full the prompt cache is
UNSUPPORTED_NOTE = " (The model's reply was not supported by the retrieved abstracts.)"
WITHHELD_NOTE = " (The model's reply repeated the assistant's instructions and was withheld.)"
NO_FIGURE_NOTE = " (The question asks for a figure, and the model's checked reply gives none.)"


@dataclass
class Request:
    """A question as it will be answered: cleaned, with its retrieval query and notices for the reader."""

    question: str
    query: str
    top_k: int | None
    notices: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.started) * 1000


@dataclass
class Reply:
    """What the LLM wrote, and when."""

    text: str = ""
    pieces: int = 0
    first_token_ms: float | None = None
    withheld: bool = False  # it repeated the rules (asked to reveal its prompt): stopped and not shown
    read: PromptRead | None = None  # how the model read the prompt (both prompts after a second look)
    second_look: bool = False  # the text is the second try's, over the best sources alone

    def start_second_look(self) -> None:
        self.text, self.second_look = "", True

    def answers(self) -> bool:
        """Whether there is a reply to check: not withheld, not empty, not a refusal."""
        return not self.withheld and bool(self.text.strip()) and not model_refused(self.text)


class Assistant:
    """Holds the models and the collections; answers questions with checked citations."""

    generation_lock = threading.Lock()  # one generation at a time: CPU inference collapses when shared

    def __init__(self, settings: Settings | None = None, *, llm: LanguageModel | None = None, embedder=None,
                 library: Library | None = None, progress: bool = True):
        self.settings = settings or get_settings()
        self.progress = progress
        self.library = library or Library(self.settings, embedder, progress)
        self._llm = llm
        self._lock = threading.Lock()

    @property
    def embedder(self):
        return self.library.embedder

    @property
    def llm(self) -> LanguageModel:
        """The LLM, chosen and loaded on first use (retrieval never needs it)."""
        with self._lock:
            if self._llm is None:
                self._llm = choose_llm(self.settings, progress=self.progress)
                log.info("LLM: %s %s (%s)", self._llm.provider, self._llm.model, self._llm.reason)
            return self._llm

    def index(self, collection: str | None = None) -> PaperIndex:
        """The open index of a collection (the default one if None)."""
        return self.library.index(collection)

    def variant(self, settings: Settings) -> Assistant:
        """An assistant with other settings that shares this one's embedding model (and store, when the
        store settings are the same); the LLM is shared when its settings are the same too."""
        same_store = settings.store == self.settings.store and settings.embedding == self.settings.embedding
        library = self.library if same_store else Library(settings, self.embedder, self.progress)
        llm = self._llm if settings.llm == self.settings.llm else None
        return Assistant(settings, llm=llm, library=library, progress=self.progress)

    # --- the steps ---------------------------------------------------------------------------
    def request(self, question: str, top_k: int | None, history: Sequence[Turn | dict] | None) -> Request:
        """Clean the question (`QuestionError` when it cannot be asked) and fold a follow-up into its query."""
        max_chars = self.settings.answering.max_question_chars
        question, notices = clean_question(question, max_chars)
        if top_k is not None and not (isinstance(top_k, int) and 1 <= top_k <= TOP_K_MAX):
            raise QuestionError(f"top_k must be a whole number from 1 to {TOP_K_MAX}, not {top_k!r}")
        return Request(question, fold_history(question, history, max_chars), top_k, notices)

    def retrieve(self, question: str, *, top_k: int | None = None, collection: str | None = None,
                 source: str | None = None, mode: str | None = None, bm25: Bm25Index | None = None,
                 year_from: int | None = None, year_to: int | None = None, author: str | None = None,
                 ) -> list[RetrievedPaper]:
        """The papers a question would be answered from, best first, without asking the LLM; the filters
        (source, year_from, year_to, author) apply before ranking (see `HybridRetriever.retrieve_papers`)."""
        index = self.index(collection)
        retrieval = self.settings.retrieval
        retriever = HybridRetriever(index, top_k=retrieval.top_k, candidates=retrieval.candidates,
                                    rrf_k=retrieval.rrf_k, mode=mode or retrieval.mode)
        return retriever.retrieve_papers(question, top_k=top_k, source=source, bm25=bm25, year_from=year_from,
                                         year_to=year_to, author=author)

    def worth_asking(self, query: str, papers: list[RetrievedPaper], weight: Callable[[str], float]) -> bool:
        """Whether some paper is on topic (by its words or its embedding); if not, abstain without the LLM."""
        answering = self.settings.answering
        return not retrieval_is_weak(query, papers, answering.abstain_threshold, weight, answering.abstain_similarity)

    def build_prompt(self, request: Request, sources: list[Source], llm: LanguageModel,
                     instructions: str = INSTRUCTIONS, share: float = 1.0) -> Prompt:
        """The prompt, fitted to the model's context window, its abstracts to ``share`` of ``context_tokens``."""
        return fit_prompt(request.question, sources, request.query, model=llm,
                          context_tokens=max(1, round(self.settings.answering.context_tokens * share)),
                          answer_tokens=self.settings.llm.max_answer_tokens,
                          count_sources=self.embedder.count_tokens, instructions=instructions)

    def second_look_papers(self, request: Request, papers: list[RetrievedPaper], reply: Reply,
                           weight: Callable[[str], float]) -> int:
        """How many of the best papers to read again when the model refused although one of them covers the
        question well (`AnsweringSettings.second_look_threshold`); 0 when no second look is due."""
        answering = self.settings.answering
        count = min(answering.second_look_papers, len(papers))
        if reply.withheld or reply.second_look or not model_refused(reply.text):
            return 0
        best = max((p.term_coverage(request.query, weight) for p in papers[:count]), default=0.0)
        return count if best >= answering.second_look_threshold else 0

    def generate(self, prompt: Prompt, llm: LanguageModel, request: Request, reply: Reply,
                 opening: str = "") -> Iterator[Token]:
        """Stream the LLM's reply (starting with ``opening``, if given) into ``reply``, yielding each piece; stop if
        it repeats the rules.

        The model runs in a worker thread that holds the generation lock (one generation at a time).
        When this generator is closed (Stop, a finished reader) or abandoned, the worker stops at the
        model's next word, or at the latest when its answer is done, and releases the lock: a reader
        that goes away never blocks the next question.
        """
        pieces: queue.Queue[str | BaseException | None] = queue.Queue()
        cancelled = threading.Event()

        def produce() -> None:
            try:
                with self.generation_lock:
                    stream = llm.stream(prompt.messages, prompt.pieces, opening)
                    try:
                        for delta in stream:
                            if cancelled.is_set():
                                break
                            pieces.put(delta)
                    finally:
                        stream.close()
                        reply.read = llm.last_read if reply.read is None else reply.read + llm.last_read
            except BaseException as error:  # handed to the reader, which raises it
                pieces.put(error)
            finally:
                pieces.put(None)

        threading.Thread(target=produce, name="generation", daemon=True).start()
        try:
            while (piece := pieces.get()) is not None:
                if isinstance(piece, BaseException):
                    raise piece
                if reply.first_token_ms is None:
                    reply.first_token_ms = request.elapsed_ms()
                reply.text += piece
                reply.pieces += 1
                if echoes_rules(reply.text):
                    reply.withheld = True
                    return
                yield Token(text=piece)
        finally:
            cancelled.set()

    def paper_judge(self, request: Request, sources: list[Source], llm: LanguageModel) -> PaperJudge | None:
        """For a question asking which papers: the model as judge of each retrieved paper (`PaperJudge`), asked
        one paper at a time and one generation at a time; None for other questions or when it is off. If the
        model fails while judging, words decide and the answer says so."""
        threshold = self.settings.answering.list_judge
        if threshold > 1 or not asks_for_several(request.query):
            return None

        def ask(prompt: JudgePrompt) -> float | None:
            try:
                with self.generation_lock:
                    return llm.yes_probability(prompt.messages, prompt.pieces)
            except LLMError as error:
                log.warning("the list judge failed: %s", error)
                request.notices.append(f"The model could not judge which sources the question asks for ({error}); "
                                       "they were chosen by their words.")
                return None

        return PaperJudge(request.query, sources, ask, threshold, self.settings.answering.list_judge_margin)

    def check(self, request: Request, sources: list[Source], reply: Reply, weight: Callable[[str], float],
              judge: PaperJudge | None = None) -> tuple[str, list[Citation], bool]:
        """The answer text, its checked citations, and whether it abstains."""
        if reply.withheld:
            return ABSTAIN_TEXT + WITHHELD_NOTE, [], True
        if not reply.answers():
            return ABSTAIN_TEXT, [], True
        answering = self.settings.answering  # a follow-up is checked against what it asks with its earlier question
        checker = CitationChecker(sources, answering.support_threshold, question=request.query, weight=weight,
                                  on_topic=answering.on_topic_share, judge=judge)
        checked = checker.check(without_refusals(reply.text))
        if not checked.citations:
            return ABSTAIN_TEXT + UNSUPPORTED_NOTE, [], True
        if answer_needs_figure(request.question) and not states_figure(checked.text, request.question):
            return ABSTAIN_TEXT + NO_FIGURE_NOTE, [], True  # it only describes the paper, or says the figure is absent
        return checked.text, checked.citations, False

    # --- the whole path ----------------------------------------------------------------------
    def stream(
        self,
        question: str,
        *,
        top_k: int | None = None,
        collection: str | None = None,
        source: str | None = None,
        mode: str | None = None,
        history: Sequence[Turn | dict] | None = None,
        year_from: int | None = None,
        year_to: int | None = None,
        author: str | None = None,
    ) -> Iterator[StreamEvent]:
        """Yield `SourcesFound` at once, then `Token`s as the LLM writes, then `Done` with the checked answer
        (before it, for a question asking which papers, a `Judging` per source the model judges).

        Only papers that pass the filters are retrieved: ``source`` (a corpus file name), ``year_from`` /
        ``year_to`` (inclusive), ``author`` (a name or part of one, any case: "hinton").

        Raises `QuestionError` for a question that cannot be asked (empty, no words, bad ``top_k`` or filter) and
        `LLMError` / `ModelUnavailable` when the LLM cannot answer. A question longer than
        ``max_question_chars`` is cut, and the prompt always fits the model's context window; the
        Answer's ``notices`` say when either happened.
        """
        request = self.request(question, top_k, history)
        bm25 = self.index(collection).bm25()  # read once: retrieval and the term weights share it
        retrieved = self.retrieve(request.query, top_k=request.top_k, collection=collection, source=source,
                                  mode=mode, bm25=bm25, year_from=year_from, year_to=year_to, author=author)
        papers = focused(retrieved, request.question, self.settings.answering.source_gap)
        sources = [Source.of(p, most_relevant_sentence(p.abstract, request.query, bm25.idf)) for p in papers]
        retrieval_ms = request.elapsed_ms()
        yield SourcesFound(sources=sources, retrieval_query=request.query)

        llm = self.llm
        reply = Reply()
        if self.worth_asking(request.query, retrieved, bm25.idf):
            prompt = self.build_prompt(request, sources, llm, share=context_share(len(papers), len(retrieved)))
            request.notices += prompt.notices
            yield from self.generate(prompt, llm, request, reply)
            if count := self.second_look_papers(request, papers, reply, bm25.idf):
                focus = sources[:count]
                yield SecondLook(sources=focus)
                reply.start_second_look()
                yield from self.generate(self.build_prompt(request, focus, llm, SECOND_LOOK), llm, request, reply,
                                         SECOND_LOOK_OPENING)
        checking = time.perf_counter()
        judge = self.paper_judge(request, sources, llm)
        if judge is not None and reply.answers():
            for done, source in enumerate(sources):  # one paper at a time: a reader can stop in between
                yield Judging(rank=source.rank, done=done, papers=len(sources))
                if judge.score(source.rank) is None:
                    break
        text, citations, abstained = self.check(request, sources, reply, bm25.idf, judge)
        checking_ms = (time.perf_counter() - checking) * 1000
        judged = judge.verdict_scores() if judge is not None else {}
        if reply.second_look and not abstained:
            request.notices.append("Answered on a second look at the best sources alone: the model first replied "
                                   "that the collection does not answer.")
        yield Done(answer=Answer(
            question=request.question,
            answer=text,
            abstained=abstained,
            citations=citations,
            sources=sources,
            timings=timings(retrieval_ms, reply, request.elapsed_ms(), len(judged), checking_ms),
            llm_provider=llm.provider,
            llm_model=llm.model,
            embed_model=self.embedder.model_name,
            retrieval_query=request.query,
            raw_answer="" if reply.withheld else reply.text,
            judged=judged,
            notices=request.notices,
        ))

    def ask(self, question: str, **options) -> Answer:
        """Answer a question; see `stream` for the options."""
        for event in self.stream(question, **options):
            if isinstance(event, Done):
                return event.answer
        raise RuntimeError("the answer stream ended without a result")

    def warm_cache(self, collection: str | None = None, *, should_stop: Callable[[], bool] = lambda: False,
                   on_progress: Callable[[int, int], None] | None = None) -> int:
        """Read the collection's papers into the embedded model's prompt cache, those not there yet, so the
        first question about them is answered as fast as later ones. A question asked meanwhile goes first;
        warming stops when ``should_stop()`` or when the cache is nearly full. Returns how many were read."""
        llm = self.llm
        if not llm.reuses_pieces:
            return 0
        papers = list(self.index(collection).store.papers().values())
        prefix, read = prompt_prefix(), 0
        for done, paper in enumerate(papers, start=1):
            if should_stop() or (done % WARM_CHECK_EVERY == 1 and llm.cache_full()):
                break
            read += llm.warm(prefix, [paper_block(paper.title, paper.abstract)], should_stop)
            if on_progress is not None:
                on_progress(done, len(papers))
        return read

    def as_query_engine(self, *, streaming: bool = False, **options):
        """This assistant as a LlamaIndex query engine (see `rag.query_engine.PaperQueryEngine`)."""
        from rag.query_engine import PaperQueryEngine

        return PaperQueryEngine(assistant=self, streaming=streaming, options=options)


def timings(retrieval_ms: float, reply: Reply, total_ms: float, papers_judged: int = 0,
            checking_ms: float = 0.0) -> Timings:
    """The answer's timings; generation speed from the first piece to the last."""
    generating_s = (total_ms - (reply.first_token_ms or total_ms)) / 1000
    read = reply.read
    return Timings(
        prompt_tokens=read.tokens if read else None,
        prompt_tokens_read=read.computed if read else None,
        papers_from_cache=read.papers_reused if read else None,
        retrieval_ms=round(retrieval_ms, 1),
        first_token_ms=None if reply.first_token_ms is None else round(reply.first_token_ms, 1),
        total_ms=round(total_ms, 1),
        generated_tokens=reply.pieces,
        papers_judged=papers_judged,
        checking_ms=round(checking_ms, 1),
        tokens_per_s=round((reply.pieces - 1) / generating_s, 2) if reply.pieces > 1 and generating_s > 0 else None,
    )
