"""The `Answer` returned by `rag.ask` and the events of its streaming form."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field, computed_field, model_validator

from rag.corpus.identifiers import canonical_url
from rag.corpus.scholarly import author_list, year_of

LINK_SCHEMES = ("https://", "http://")


class PaperInfo(BaseModel):
    """Who wrote a paper, when and where, and its identifiers; every field is optional (the seed pages carry
    none). ``link`` is the paper's page: its ``url``, else its DOI, arXiv or PubMed page (http(s) only)."""

    authors: list[str] = Field(default_factory=list, description='Authors as "First Last".')
    year: int | None = None
    venue: str | None = None
    doi: str | None = None
    arxiv_id: str | None = None
    pmid: str | None = None
    url: str | None = None

    @classmethod
    def of(cls, metadata: dict[str, Any]) -> PaperInfo:
        """From a stored paper's metadata; ``authors`` may be a list or the comma-joined string older
        versions stored."""
        def text(key: str) -> str | None:
            value = metadata.get(key)
            return str(value).strip() or None if value not in (None, "") else None

        return cls(authors=author_list(metadata.get("authors")), year=year_of(metadata.get("year")),
                   venue=text("venue") or text("journal"), doi=text("doi"), arxiv_id=text("arxiv_id"),
                   pmid=text("pmid"), url=text("url"))

    @computed_field  # type: ignore[prop-decorator]
    @property
    def link(self) -> str | None:
        """The paper's page: ``url`` if it is an http(s) link, else its DOI, arXiv or PubMed page."""
        if self.url and self.url.lower().startswith(LINK_SCHEMES):
            return self.url
        return canonical_url(doi=self.doi, arxiv_id=self.arxiv_id, pmid=self.pmid)

    def short_authors(self, shown: int = 2) -> str:
        """``"A, B et al."`` (all of them when there are at most ``shown + 1``)."""
        if len(self.authors) <= shown + 1:
            return ", ".join(self.authors)
        return ", ".join(self.authors[:shown]) + " et al."

    def link_label(self) -> str:
        """How to name `link` in a list: ``doi:...``, ``arXiv:...``, ``PMID ...`` or its host."""
        link = self.link or ""
        if self.doi and link == canonical_url(doi=self.doi):
            return f"doi:{self.doi}"
        if self.arxiv_id and link == canonical_url(arxiv_id=self.arxiv_id):
            return f"arXiv:{self.arxiv_id}"
        if self.pmid and link == canonical_url(pmid=self.pmid):
            return f"PMID {self.pmid}"
        return link.split("://", 1)[-1].split("/", 1)[0] if link else ""


class Citation(BaseModel):
    """A checked citation: source number, the paper, and the abstract sentence that supports the claim."""

    number: int
    paper_id: str
    title: str
    quote: str
    paper: PaperInfo = Field(default_factory=PaperInfo, description="The cited paper's authors, year, venue, link.")


class RuleHit(BaseModel):
    """A rule that changed the answer: which claim, what it cited and kept, and why (the answer's trail)."""

    rule: str = Field(description='The rule\'s name ("supported", "re-cited", "unsupported", ...).')
    action: str = Field(description="keep, re-cite, attach, drop, add (a listed paper), or the answer's grade.")
    claim: str = Field("", description="The claim or sentence it concerns, as the model wrote it.")
    cited: list[int] = Field(default_factory=list, description="The sources the claim cited.")
    kept: list[int] = Field(default_factory=list, description="The sources it cites after the rule.")
    reason: str = ""


class Source(BaseModel):
    """A retrieved paper handed to the LLM, numbered as in the answer's ``[n]`` markers."""

    rank: int
    paper_id: str
    title: str
    score: float
    paper: PaperInfo = Field(default_factory=PaperInfo, description="Authors, year, venue and link.")
    evidence: str = Field("", description="The abstract's sentence most relevant to the question (shared terms "
                          "weighted by rarity), known before the LLM writes; empty when none shares a term.")
    abstract: str = Field("", exclude=True, repr=False)

    @classmethod
    def of(cls, paper, evidence: str = "") -> Source:
        """The source for a retrieved paper (`rag.retrieval.RetrievedPaper`)."""
        return cls(rank=paper.rank, paper_id=paper.paper_id, title=paper.title, score=paper.score,
                   paper=PaperInfo.of(paper.metadata), evidence=evidence, abstract=paper.abstract)


class Timings(BaseModel):
    """Milliseconds from the question to: sources found, the first answer token, the checked answer; and how
    much of the prompt the model read for this question (the rest came from its prompt cache)."""

    retrieval_ms: float
    first_token_ms: float | None = None
    total_ms: float
    generated_tokens: int = 0
    tokens_per_s: float | None = None
    prompt_tokens: int | None = None
    prompt_tokens_read: int | None = None
    papers_from_cache: int | None = None
    papers_judged: int = 0  # retrieved papers the model judged one by one ("which papers" questions)
    checking_ms: float = 0.0  # from the reply's end to the checked answer (the judge's share of total_ms)


class ClaimVerdict(BaseModel):
    """For a yes/no question: the stance of the paper that decided it, as the model judged that paper alone."""

    stance: str = Field(description="supports, contradicts or neither.")
    probability: float = Field(description="The model's probability of that stance.")
    number: int = Field(description="The source (rank) it comes from.")
    probabilities: dict[str, float] = Field(default_factory=dict, description="Each stance's probability.")


class Grade(StrEnum):
    """What kind of answer an `Answer` is."""

    ANSWERED = "answered"
    PARTIAL = "partial"  # the checked claims answer part of the question; `missing` says which part they do not
    EVIDENCE = "evidence"  # the best paper's sentences, quoted: the model's reply could not be checked
    NOT_FOUND = "not-found"  # the collection does not answer the question


GRADES = tuple(grade.value for grade in Grade)
GRADE_LABELS = {Grade.PARTIAL: "Partly answered", Grade.EVIDENCE: "Quoted evidence, not an answer"}


class Answer(BaseModel):
    """Everything `ask` returns; ``model_dump_json()`` is what ``rag ask --json`` prints."""

    question: str
    answer: str
    abstained: bool
    grade: Grade = Field(Grade.ANSWERED, description="answered; partial (the answer says which part the abstracts do "
                       "not give); evidence (the best paper's sentences quoted: the model's reply could not be "
                       "checked); not-found (the collection does not answer).")
    citations: list[Citation]
    sources: list[Source]
    timings: Timings
    llm_provider: str
    llm_model: str
    embed_model: str
    retrieval_query: str
    raw_answer: str = Field("", description="The model's reply before citation checking.")
    second_look: bool = Field(False, description="The reply is the model's second, over the best sources alone: it "
                              "first replied that the collection does not answer.")
    judged: dict[int, float] = Field(
        default_factory=dict,
        description="For a question asking which papers: P(Yes) the model gave each source (by rank) when asked "
        "alone whether it is one of them (RAG_LIST_JUDGE).",
    )
    notices: list[str] = Field(
        default_factory=list,
        description="Things the reader should know about how the question was handled (e.g. it was shortened).",
    )
    missing: list[str] = Field(default_factory=list, description="For a partial answer: the parts of the question "
                               "the checked answer does not give.")
    trail: list[RuleHit] = Field(default_factory=list, description="Every rule that changed the reply (a claim "
                                 "dropped, re-cited, attached; a paper added) and the rule that set the grade, last.")
    verdict: ClaimVerdict | None = Field(None, description="For a yes/no question: the deciding paper's stance.")

    @model_validator(mode="after")
    def cite_with_paper_info(self) -> Answer:
        """Each citation carries its source's `PaperInfo` (the citation check knows only numbers and titles)."""
        sources = {(s.rank, s.paper_id): s for s in self.sources}
        for citation in self.citations:
            source = sources.get((citation.number, citation.paper_id))
            if source is not None and citation.paper == PaperInfo():
                citation.paper = source.paper
        return self

    @property
    def grade_label(self) -> str:
        """How to mark an answer that is not a plain checked answer: "Partly answered", "Quoted evidence, not an
        answer"; empty otherwise."""
        return GRADE_LABELS.get(self.grade, "")

    def quotes_already(self, citation: Citation) -> bool:
        """Whether the answer's text already quotes the citation's sentence (a listed paper's reason, quoted
        evidence): a list of the citations need not repeat it."""
        quote = citation.quote.strip().removesuffix(".")
        return bool(quote) and quote in self.answer

    def removed(self) -> list[RuleHit]:
        """The rules that removed a claim (or its citations), with their reasons."""
        return [hit for hit in self.trail if hit.action == "drop"]

    def cited_sources(self) -> list[Source]:
        """The sources the citations name, once each, in the order they are first cited."""
        by_rank = {s.rank: s for s in self.sources}
        numbers = dict.fromkeys(c.number for c in self.citations if c.number in by_rank)
        return [by_rank[n] for n in numbers]


class SourcesFound(BaseModel):
    """First streaming event: the sources, available before the LLM starts."""

    sources: list[Source]
    retrieval_query: str


class Token(BaseModel):
    """A piece of the answer as the LLM writes it (raw, before citation checking)."""

    text: str


class SecondLook(BaseModel):
    """The model said the collection does not answer, yet a source matches the question well: the text
    streamed so far is dropped and the model reads the best ``sources`` again (new `Token`s follow)."""

    sources: list[Source]


class Judging(BaseModel):
    """The question asks which papers: the model is judging source ``rank`` alone, the ``done`` + 1-th of
    ``papers`` (one event before each; the checked answer follows)."""

    rank: int
    done: int
    papers: int


class Completing(BaseModel):
    """A comparison's answer left out a side: the model reads that side's best source alone (new `Token`s follow,
    added to the text so far)."""

    sources: list[Source]
    part: str


class Done(BaseModel):
    """Last streaming event: the checked answer."""

    answer: Answer


StreamEvent = SourcesFound | Token | SecondLook | Judging | Completing | Done
