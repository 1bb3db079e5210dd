"""The `Answer` returned by `rag.ask` and the events of its streaming form."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Citation(BaseModel):
    """A checked citation: source number, the paper, and the abstract sentence that supports the claim."""

    number: int
    paper_id: str
    title: str
    quote: str


class Source(BaseModel):
    """A retrieved paper handed to the LLM, numbered as in the answer's ``[n]`` markers."""

    rank: int
    paper_id: str
    title: str
    score: float
    abstract: str = Field("", exclude=True, repr=False)

    @classmethod
    def of(cls, paper) -> Source:
        """The source for a retrieved paper (`rag.retrieval.RetrievedPaper`)."""
        return cls(rank=paper.rank, paper_id=paper.paper_id, title=paper.title, score=paper.score,
                   abstract=paper.abstract)


class Timings(BaseModel):
    """Milliseconds from the question to: sources found, the first answer token, the checked answer."""

    retrieval_ms: float
    first_token_ms: float | None = None
    total_ms: float
    generated_tokens: int = 0
    tokens_per_s: float | None = None


class Answer(BaseModel):
    """Everything `ask` returns; ``model_dump_json()`` is what ``rag ask --json`` prints."""

    question: str
    answer: str
    abstained: bool
    citations: list[Citation]
    sources: list[Source]
    timings: Timings
    llm_provider: str
    llm_model: str
    embed_model: str
    retrieval_query: str
    raw_answer: str = Field("", description="The model's reply before citation checking.")
    notices: list[str] = Field(
        default_factory=list,
        description="Things the reader should know about how the question was handled (e.g. it was shortened).",
    )


class SourcesFound(BaseModel):
    """First streaming event: the sources, available before the LLM starts."""

    sources: list[Source]
    retrieval_query: str


class Token(BaseModel):
    """A piece of the answer as the LLM writes it (raw, before citation checking)."""

    text: str


class Done(BaseModel):
    """Last streaming event: the checked answer."""

    answer: Answer


StreamEvent = SourcesFound | Token | Done
