"""The assistant: question in, checked `Answer` out (whole or streamed).

`Assistant.stream` runs the steps in order: retrieve -> abstain or ask -> build the prompt ->
generate -> (for "which papers": judge each paper) -> check the citations -> `Answer`.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial

from rag.answering.abstention import model_refused, retrieval_is_weak, without_refusals
from rag.answering.answer import (
    Answer,
    ClaimVerdict,
    Completing,
    Done,
    Grade,
    Judging,
    RuleHit,
    SecondLook,
    Source,
    SourcesFound,
    StreamEvent,
    Timings,
    Token,
)
from rag.answering.citations import CheckedAnswer, CitationChecker
from rag.answering.focus import context_share, focused
from rag.answering.grading import Attempt, Outcome, grade, lists_titles_only, says_nothing_new
from rag.answering.judge import JudgePrompt, PaperJudge, judge_prompt
from rag.answering.policy import AnswerPolicy
from rag.answering.profile import Kind, QuestionProfile, profile_question
from rag.answering.prompt import (
    ABSTAIN_TEXT,
    INSTRUCTIONS,
    SECOND_LOOK,
    SECOND_LOOK_OPENING,
    SIDE_INSTRUCTIONS,
    Prompt,
    cached_reading,
    echoes_rules,
    fit_prompt,
)
from rag.answering.question import Turn, clean_question
from rag.answering.sides import Side, comparison_sides
from rag.answering.verdict import STANCE_WORDS, judge_claim, verdict_outcome
from rag.errors import LLMError, QuestionError
from rag.in_flight import QuestionsInFlight, counted
from rag.index import Bm25Index, IngestReport, PaperIndex
from rag.library import CollectionInfo, Library
from rag.models.llm import LanguageModel, PromptRead, choose_llm
from rag.models.replay import ReplayedModel
from rag.retrieval import HybridRetriever, RetrievedPaper
from rag.settings import TOP_K_MAX, Settings, get_settings
from rag.text import most_relevant_sentence

log = logging.getLogger(__name__)

WARM_CHECK_EVERY = 25  # papers between two looks at how full the prompt cache is
NO_VERDICT_NOTE = ("The model could not judge the claim against the abstracts (it gives no token probabilities); "
                   "the answer is its reply, checked.")


@dataclass
class Request:
    """A question as it will be answered: its profile (cleaned question, retrieval query, kinds), the papers
    asked for, and notices for the reader."""

    profile: QuestionProfile
    top_k: int | None
    notices: list[str] = field(default_factory=list)
    trail: list[RuleHit] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)
    checking_started: float = 0.0  # when the reply was done and its check began

    @property
    def question(self) -> str:
        return self.profile.asked

    @property
    def query(self) -> str:
        return self.profile.query

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
    questions = QuestionsInFlight()  # background warming waits while any assistant answers

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

    # --- the collections, as the interfaces see them ----------------------------------------------
    def paper_count(self, collection: str | None = None) -> int:
        """Papers in a collection (the default one if None)."""
        return self.index(collection).paper_count()

    def collections(self, count: bool = True) -> list[CollectionInfo]:
        """Every collection in the store, the default one first (``count``: with their paper counts)."""
        return self.library.collections(count=count)

    def sources(self, collection: str | None = None) -> dict[str, int]:
        """The corpus files a collection's papers came from, with how many papers each."""
        return self.library.sources(collection)

    def ingest(self, paths, **options) -> IngestReport:
        """Add the papers of files or folders to a collection (see `Library.ingest`)."""
        return self.library.ingest(paths, **options)

    def seed(self) -> None:
        """Fill an empty default collection from the seeds."""
        self.library.seed()

    @property
    def embed_model(self) -> str:
        return self.embedder.model_name

    def variant(self, settings: Settings) -> Assistant:
        """An assistant with other settings that shares this one's embedding model (and store, when the
        store settings are the same); the LLM is shared when its settings are the same too."""
        same_store = settings.store == self.settings.store and settings.embedding == self.settings.embedding
        library = self.library if same_store else Library(settings, self.embedder, self.progress)
        llm = self._llm if settings.llm == self.settings.llm else None
        return Assistant(settings, llm=llm, library=library, progress=self.progress)

    # --- the steps ---------------------------------------------------------------------------
    def request(self, question: str, top_k: int | None, history: Sequence[Turn | dict] | None) -> Request:
        """Clean the question (`QuestionError` when it cannot be asked) and profile it: what it asks, and for a
        follow-up the query joined to the question before it."""
        max_chars = self.settings.answering.max_question_chars
        question, notices = clean_question(question, max_chars)
        if top_k is not None and not (isinstance(top_k, int) and 1 <= top_k <= TOP_K_MAX):
            raise QuestionError(f"top_k must be a whole number from 1 to {TOP_K_MAX}, not {top_k!r}")
        return Request(profile_question(question, history, max_chars), top_k, notices)

    @property
    def policy(self) -> AnswerPolicy:
        return AnswerPolicy.of(self.settings.answering)

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

    def candidates(self, request: Request, retrieved: list[RetrievedPaper], index: PaperIndex
                   ) -> list[RetrievedPaper]:
        """The papers a list question is judged over: for a follow-up narrowing a list ("which of them ..."), the
        previous answer's papers first, then the retrieved ones; numbered in that order."""
        profile = request.profile
        if not (profile.lists_papers and profile.previous_papers):
            return retrieved
        stored = index.papers(list(profile.previous_papers))
        previous = [RetrievedPaper(rank=0, paper_id=pid, title=stored[pid].title, abstract=stored[pid].abstract,
                                   score=1.0, metadata=stored[pid].metadata)
                    for pid in profile.previous_papers if pid in stored]
        known = {p.paper_id for p in previous}
        merged = [*previous, *(p for p in retrieved if p.paper_id not in known)]
        return [replace(p, rank=rank) for rank, p in enumerate(merged[: max(len(retrieved), len(previous))], 1)]

    def worth_asking(self, profile: QuestionProfile, papers: list[RetrievedPaper], weight: Callable[[str], float],
                     search: Callable[..., list[RetrievedPaper]] | None = None) -> bool:
        """Whether the question is worth asking the model (`papers_on_topic`). A comparison's words are spread over
        two papers, so it is also worth asking when one of its sides, retrieved with ``search`` on its own, is on
        topic. If not, abstain without the LLM."""
        if profile.previous_papers and profile.narrows:
            return True
        if self.papers_on_topic(profile.query, papers, weight):
            return True
        return bool(search and profile.sides) and any(
            self.papers_on_topic(side, search(side), weight) for side in profile.sides)

    def papers_on_topic(self, query: str, papers: list[RetrievedPaper], weight: Callable[[str], float]) -> bool:
        """Whether some paper is on topic for ``query`` (by its words or its embedding), or both retrievers rank
        the best paper among their first `agreeing_rank` and it is at least `agreeing_similarity` close by
        embedding (a paraphrased or misspelt question's words miss the abstract, yet the two retrievers agree on
        it)."""
        answering = self.settings.answering
        return self.retrievers_agree(papers) or not retrieval_is_weak(
            query, papers, answering.abstain_threshold, weight, answering.abstain_similarity)

    def judged_alone(self, profile: QuestionProfile) -> bool:
        """Whether a question's answer is the list judge's alone (``list_from_judge``): a question asking which
        papers, with the judge on."""
        answering = self.settings.answering
        return profile.lists_papers and answering.list_from_judge and answering.list_judge <= 1

    def retrievers_agree(self, papers: list[RetrievedPaper]) -> bool:
        """Whether BM25 and the embedding both rank the best paper among their first `agreeing_rank`, and it is at
        least `agreeing_similarity` close by embedding: the question is about that paper, however it is worded."""
        agree = self.policy.agreeing_rank
        return bool(papers) and (papers[0].bm25_rank or agree + 1) <= agree \
            and (papers[0].dense_rank or agree + 1) <= agree \
            and (papers[0].dense_similarity or 0.0) >= self.policy.agreeing_similarity

    def build_prompt(self, request: Request, sources: list[Source], llm: LanguageModel,
                     instructions: str = INSTRUCTIONS, share: float = 1.0) -> Prompt:
        """The prompt, fitted to the model's context window, its abstracts to ``share`` of ``context_tokens``."""
        return fit_prompt(request.profile, sources, model=llm,
                          context_tokens=max(1, round(self.settings.answering.context_tokens * share)),
                          answer_tokens=self.settings.llm.max_answer_tokens,
                          count_sources=self.embedder.count_tokens, instructions=instructions)

    def second_look_papers(self, request: Request, read: list[Source], papers: list[RetrievedPaper], reply: Reply,
                           weight: Callable[[str], float]) -> int:
        """How many of the best papers to read again when the reply says nothing (`says_nothing`), although one of
        them covers the question well (`AnsweringSettings.second_look_threshold`), or both retrievers agree on the
        best one (`retrievers_agree`: a paraphrase that shares few of its words); 0 when no second look is due or it
        is off (a threshold above 1). The reply goes through the same check, so a figure the papers do not state is
        dropped."""
        answering = self.settings.answering
        count = min(answering.second_look_papers, len(papers))
        if (reply.withheld or reply.second_look or answering.second_look_threshold > 1
                or not self.says_nothing(request, read, reply, weight)):
            return 0
        best = max((p.term_coverage(request.query, weight) for p in papers[:count]), default=0.0)
        return count if best >= answering.second_look_threshold or self.retrievers_agree(papers) else 0

    def says_nothing(self, request: Request, read: list[Source], reply: Reply, weight: Callable[[str], float]
                     ) -> bool:
        """Whether the reply refused, only said the question back (`says_nothing_new`) or only copied its sources'
        titles (`lists_titles_only`), judged over the ``read`` sources."""
        if model_refused(reply.text):
            return True
        checker, text = self.checker(request, read, weight), without_refusals(reply.text)
        return says_nothing_new(request.profile, checker, text) or lists_titles_only(request.profile, checker, text)

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

    def probabilities(self, request: Request, llm: LanguageModel, what: str, words=None):
        """A function giving the model's option probabilities for a judge prompt, one generation at a time; None
        (and a notice) when the model fails."""
        def ask(prompt: JudgePrompt):
            try:
                with self.generation_lock:
                    if words is None:
                        return llm.yes_probability(prompt.messages, prompt.pieces)
                    return llm.option_probabilities(prompt.messages, prompt.pieces, words)
            except LLMError as error:
                log.warning("the model failed to judge %s: %s", what, error)
                request.notices.append(f"The model could not judge {what} ({error}); words decided instead.")
                return None
        return ask

    def paper_judge(self, request: Request, sources: list[Source], llm: LanguageModel) -> PaperJudge | None:
        """For a question asking which papers: the model as judge of each retrieved paper (`PaperJudge`), asked
        one paper at a time and one generation at a time; None for other questions or when it is off. If the
        model fails while judging, words decide and the answer says so."""
        threshold = self.settings.answering.list_judge
        if threshold > 1 or not request.profile.lists_papers:
            return None
        ask = self.probabilities(request, llm, "which sources the question asks for")
        return PaperJudge(request.profile, sources, ask, threshold, self.settings.answering.list_judge_margin,
                          read=request.top_k or self.settings.retrieval.top_k, extra_margin=self.policy.extra_margin)

    def checker(self, request: Request, sources: list[Source], weight: Callable[[str], float],
                judge: PaperJudge | None = None, forced: bool = False) -> CitationChecker:
        """The citation check over ``sources`` (``forced``: of a reply opened for the model)."""
        return CitationChecker(sources, request.profile, self.policy, weight=weight, judge=judge, forced=forced)

    def sides(self, profile: QuestionProfile, sources: list[Source],
              search: Callable[..., list[RetrievedPaper]]) -> list[Side]:
        """A comparison's two sides, each with the source ``search`` (the question's retrieval, filters and all)
        ranks first for the side's own text; none for other questions (`rag.answering.sides.comparison_sides`)."""
        if not profile.is_(Kind.COMPARISON):
            return []
        depth = self.settings.retrieval.candidates
        return comparison_sides(profile, sources, lambda side: [p.paper_id for p in search(side, top_k=depth)])

    def check(self, request: Request, sources: list[Source], reply: Reply, weight: Callable[[str], float],
              judge: PaperJudge | None = None) -> tuple[CitationChecker, CheckedAnswer | None]:
        """The reply checked against the sources (None when there is no reply to check: withheld, empty, a
        refusal)."""
        checker = self.checker(request, sources, weight, judge, forced=reply.second_look)
        if not reply.answers():
            return checker, None
        return checker, checker.check(without_refusals(reply.text))

    def complete_sides(self, request: Request, search: Callable[..., list[RetrievedPaper]], sources: list[Source],
                       checked: CheckedAnswer | None, llm: LanguageModel, reply: Reply, weight: Callable[[str], float],
                       ) -> Generator[StreamEvent, None, tuple[CheckedAnswer | None, list[str]]]:
        """For a comparison whose checked answer leaves a side out: the model reads that side's best source
        (`sides`, found with ``search``) alone and its checked reply is added. When no claim of the reply stands
        (refused, or every claim dropped), each side is read alone this way. A reply citing neither side's source
        is left as it is (the sides were matched to other papers than the ones it is about). Yields its events;
        returns the checked answer and the sides still missing (none when no side could be answered)."""
        if reply.withheld:
            return checked, []
        cited = {c.number for c in checked.citations} if checked is not None else set()
        sides = self.sides(request.profile, sources, search)
        if not sides or (cited and not cited & {s.rank for s in sides}):
            return checked, []
        answer = checked if cited else None
        trail = list(checked.trail) if checked is not None else []
        dropped = checked.dropped if checked is not None else 0
        missing: list[str] = []
        for side in sides:
            if side.rank in cited:
                continue
            source = next(s for s in sources if s.rank == side.rank)
            yield Completing(sources=[source], part=side.text)
            side_reply = Reply()
            prompt = self.build_prompt(request, [source], llm, SIDE_INSTRUCTIONS.format(side=side.text))
            yield from self.generate(prompt, llm, request, side_reply)
            reply.read = side_reply.read if reply.read is None else reply.read + (side_reply.read or PromptRead())
            reply.pieces += side_reply.pieces
            _, side_checked = self.check(request, [source], side_reply, weight)
            trail += side_checked.trail if side_checked is not None else []
            dropped += side_checked.dropped if side_checked is not None else 0
            if side_checked is None or not side_checked.citations:
                missing.append(side.text)
                trail.append(RuleHit(rule="side read alone", action="missing", claim=side_reply.text,
                                     cited=[side.rank], reason=f"the model's reply about [{side.rank}] alone "
                                     + ("was not supported by it" if side_checked else "said it does not answer")))
                continue
            answer = side_checked if answer is None else CheckedAnswer(
                f"{answer.text} {side_checked.text}".strip(), [*answer.citations, *side_checked.citations])
        if answer is None:  # no side answered: the reply's own outcome stands
            if checked is None:
                request.trail += trail
                return None, []
            return replace(checked, trail=trail, dropped=dropped), []
        return replace(answer, trail=trail, dropped=dropped), missing

    def verdict(self, request: Request, sources: list[Source], llm: LanguageModel, weight: Callable[[str], float]
                ) -> Generator[StreamEvent, None, tuple[Outcome, ClaimVerdict | None] | None]:
        """For a yes/no question: each of the best sources judged alone on the claim. Yields a `Judging` per source;
        returns the outcome and the deciding verdict, or None when the model gives no probabilities."""
        answering = self.settings.answering
        papers = sources[: answering.verdict_papers]
        claim = request.profile.claim or request.question
        ask = self.probabilities(request, llm, "the claim", STANCE_WORDS)
        verdicts = []
        for done, source in enumerate(papers):
            yield Judging(rank=source.rank, done=done, papers=len(papers))
            judged = judge_claim(claim, [source], ask, weight)
            if judged is None:
                return None
            verdicts += judged
        return verdict_outcome(claim, verdicts, self.checker(request, sources, weight))

    def reply_outcome(self, request: Request, sources: list[Source], read: list[Source], papers: list[RetrievedPaper],
                      search: Callable[..., list[RetrievedPaper]], llm: LanguageModel, reply: Reply,
                      weight: Callable[[str], float], on_topic: bool = True
                      ) -> Generator[StreamEvent, None, tuple[Outcome, PaperJudge | None]]:
        """The model's reply over the ``read`` sources (a second look when it refused over a paper that covers the
        question), judged papers for a list, checked, a comparison's missing side read alone (its paper found with
        ``search``), and graded; a list the judge can make alone (`judged_alone`) is the judge's and no reply is
        written, even for a question the pre-model gate found off topic (``on_topic`` false): the judge decides.
        Yields the events; returns the outcome and the list judge (if any)."""
        judge = self.paper_judge(request, sources, llm)
        if judge is not None and self.judged_alone(request.profile):
            yield from judge_each(judge, sources)
            if judge.able:  # the list is the judge's: no reply to write
                checker = self.checker(request, sources, weight, judge)
                checked = checker.check("")
                request.trail += checked.trail
                return grade(Attempt(request.profile, checker, checked)), judge
        if not on_topic:  # the gate's call stands when the judge cannot make it
            return off_topic(), None
        read_k = request.top_k or self.settings.retrieval.top_k
        prompt = self.build_prompt(request, read, llm, share=context_share(len(papers), read_k))
        request.notices += prompt.notices
        yield from self.generate(prompt, llm, request, reply)
        if count := self.second_look_papers(request, read, papers, reply, weight):
            yield SecondLook(sources=read[:count])
            reply.start_second_look()
            yield from self.generate(self.build_prompt(request, read[:count], llm, SECOND_LOOK), llm, request, reply,
                                     SECOND_LOOK_OPENING)
        request.checking_started = time.perf_counter()
        if judge is not None and reply.answers():
            yield from judge_each(judge, sources)
        checker, checked = self.check(request, sources, reply, weight, judge)
        checked, missing = yield from self.complete_sides(request, search, sources, checked, llm, reply, weight)
        if checked is not None:
            request.trail += checked.trail
        attempt = Attempt(request.profile, checker, checked, withheld=reply.withheld, missing_sides=missing)
        return grade(attempt), judge

    # --- the whole path ----------------------------------------------------------------------
    @counted
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
        (before it, a `SecondLook` when the model refused and reads the best sources again, a `Judging` per source
        the model judges alone for a question asking which papers or a yes/no claim, a `Completing` when a
        comparison's missing side is read alone).

        Only papers that pass the filters are retrieved: ``source`` (a corpus file name), ``year_from`` /
        ``year_to`` (inclusive), ``author`` (a name or part of one, any case: "hinton"). In ``history`` an
        assistant turn may name the ``papers`` it cited: a follow-up such as "which of them ...?" chooses among them.

        Raises `QuestionError` for a question that cannot be asked (empty, no words, bad ``top_k`` or filter) and
        `LLMError` / `ModelUnavailable` when the LLM cannot answer. A question longer than
        ``max_question_chars`` is cut, and the prompt always fits the model's context window; the
        Answer's ``notices`` say when either happened.
        """
        request = self.request(question, top_k, history)
        profile, answering = request.profile, self.settings.answering
        index = self.index(collection)
        bm25 = index.bm25()  # read once: retrieval and the term weights share it
        read_k = request.top_k or self.settings.retrieval.top_k
        depth = max(read_k, answering.list_candidates) if profile.lists_papers and answering.list_judge <= 1 else read_k
        search = partial(self.retrieve, collection=collection, source=source, mode=mode, bm25=bm25,
                         year_from=year_from, year_to=year_to, author=author)
        retrieved = search(profile.query, top_k=depth)
        candidates = self.candidates(request, retrieved, index)
        papers = focused(candidates[:read_k], profile, answering.source_gap)
        shown = candidates if profile.lists_papers else papers
        sources = [Source.of(p, most_relevant_sentence(p.abstract, profile.query, bm25.idf)) for p in shown]
        retrieval_ms = request.elapsed_ms()
        yield SourcesFound(sources=sources, retrieval_query=profile.query)

        llm = self.llm
        reply = Reply()
        outcome: Outcome | None = None
        claim_verdict: ClaimVerdict | None = None
        judge: PaperJudge | None = None
        read = sources[: len(papers)]
        request.checking_started = time.perf_counter()
        on_topic = self.worth_asking(profile, retrieved, bm25.idf, search)
        if not on_topic and not self.judged_alone(profile):
            outcome = off_topic()
        elif profile.is_(Kind.YES_NO):
            decided = yield from self.verdict(request, read, llm, bm25.idf)
            if decided is None:
                request.notices.append(NO_VERDICT_NOTE)
            else:
                outcome, claim_verdict = decided
        if outcome is None:
            outcome, judge = yield from self.reply_outcome(request, sources, read, papers, search, llm, reply,
                                                           bm25.idf, on_topic)
        checking_ms = (time.perf_counter() - request.checking_started) * 1000
        judged = judge.verdict_scores() if judge is not None else {}
        if reply.second_look and outcome.grade in (Grade.ANSWERED, Grade.PARTIAL):
            request.notices.append("Answered on a second look at the best sources alone: the model first replied "
                                   "that the collection does not answer.")
        request.trail.append(RuleHit(rule=outcome.rule, action=outcome.grade.value, claim="", cited=[],
                                     kept=[c.number for c in outcome.citations], reason=outcome.reason))
        yield Done(answer=Answer(
            question=request.question,
            answer=outcome.text,
            abstained=outcome.grade == Grade.NOT_FOUND,
            grade=outcome.grade.value,
            citations=outcome.citations,
            sources=sources,
            timings=timings(retrieval_ms, reply, request.elapsed_ms(), len(judged), checking_ms),
            llm_provider=llm.provider,
            llm_model=llm.model,
            embed_model=self.embed_model,
            retrieval_query=profile.query,
            raw_answer="" if reply.withheld else reply.text,
            second_look=reply.second_look,
            judged=judged,
            notices=request.notices,
            missing=outcome.missing,
            trail=request.trail,
            verdict=claim_verdict,
        ))

    def ask(self, question: str, **options) -> Answer:
        """Answer a question; see `stream` for the options."""
        *_, done = self.stream(question, **options)
        assert isinstance(done, Done), "the answer stream ends with Done"
        return done.answer

    def recheck(self, question: str, reply: str, *, second_look: bool = False,
                judged: Mapping[str, float] | None = None, ranking: Sequence[str] = (),
                collection: str | None = None) -> Answer:
        """The answer today's rules give to a reply the model wrote before, without running the model: ``reply`` is
        the saved reply (``second_look``: the second look's, after a refusal), ``judged`` the list judge's P(Yes)
        by paper title, ``ranking`` the paper ids in the order retrieval gave them then, so that the reply's ``[n]``
        name the same papers (another process may order near-ties otherwise). Raises `ReplayExhausted` when the
        answer needs model output the run did not save."""
        replies = [ABSTAIN_TEXT, reply] if second_look else [reply]
        return Rechecking(self, ReplayedModel(replies, judged), ranking).ask(question, collection=collection)

    def warm_cache(self, collection: str | None = None, *, should_stop: Callable[[], bool] = lambda: False,
                   on_progress: Callable[[int, int], None] | None = None) -> int:
        """Read the collection's papers into the embedded model's prompt cache, those not there yet, so the
        first question about them is answered as fast as later ones: each paper as an answer reads it (as the first
        paper, or anywhere with ``RAG_PROMPT_CACHE=all``; not at all with ``off``), then as the list judge reads
        it (when the judge is on). A question being answered goes first: the reading in progress stops and warming
        waits until no question is in flight. Warming stops when ``should_stop()`` or when the cache is nearly
        full. Returns how many were read; ``on_progress(done, total)`` counts the readings."""
        llm = self.llm
        papers = list(self.index(collection).store.papers().values())
        readings = []
        if llm.reuses_pieces:
            readings += [cached_reading(llm.paper_cache, paper.title, paper.abstract) for paper in papers]
        if llm.caches_judged_papers and self.settings.answering.list_judge <= 1:
            readings += [judge_prompt("", p.title, p.abstract, line="").pieces.cached_piece for p in papers]
        read = 0
        questions = self.questions
        for done, (prefix, block) in enumerate(readings, start=1):
            if should_stop() or (done % WARM_CHECK_EVERY == 1 and llm.cache_full()):
                break
            while questions.wait_until_idle(should_stop):
                read += llm.warm(prefix, [block], lambda: should_stop() or questions.busy())
                if not questions.busy():  # read, or there already: else a question cut it short
                    break
            if on_progress is not None:
                on_progress(done, len(readings))
        return read

    def as_query_engine(self, *, streaming: bool = False, **options):
        """This assistant as a LlamaIndex query engine (see `rag.query_engine.PaperQueryEngine`)."""
        from rag.query_engine import PaperQueryEngine

        return PaperQueryEngine(assistant=self, streaming=streaming, options=options)


def off_topic() -> Outcome:
    return Outcome(Grade.NOT_FOUND, ABSTAIN_TEXT, [], "off topic",
                   "no retrieved paper is on the question's topic (asked before the model)")


def judge_each(judge: PaperJudge, sources: list[Source]) -> Iterator[Judging]:
    """Ask the judge about each source, one paper at a time (a reader can stop in between), until it cannot say."""
    for done, item in enumerate(sources):
        yield Judging(rank=item.rank, done=done, papers=len(sources))
        if judge.score(item.rank) is None:
            break


RECHECK_DEPTH = 3  # a re-check retrieves this many times the saved papers, to find each again despite near-ties


class Rechecking(Assistant):
    """An assistant answering with saved output (`Assistant.recheck`): its first retrieval puts the saved ranking's
    papers first, in that order."""

    def __init__(self, base: Assistant, model: LanguageModel, ranking: Sequence[str]):
        super().__init__(base.settings, llm=model, library=base.library, progress=False)
        self.ranking = list(ranking)

    def retrieve(self, question: str, *, top_k: int | None = None, **options) -> list[RetrievedPaper]:
        if not self.ranking:
            return super().retrieve(question, top_k=top_k, **options)
        ranking, self.ranking = self.ranking, []
        depth = max(top_k or self.settings.retrieval.top_k, RECHECK_DEPTH * len(ranking))
        papers = super().retrieve(question, top_k=depth, **options)
        place = {paper_id: i for i, paper_id in enumerate(ranking)}
        ordered = sorted(papers, key=lambda p: place.get(p.paper_id, len(place)))
        return [replace(p, rank=rank) for rank, p in enumerate(ordered, 1)][: top_k or self.settings.retrieval.top_k]


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
