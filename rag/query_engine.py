"""The assistant as a LlamaIndex query engine, to drop into LlamaIndex pipelines and agents as a tool.

    engine = rag.as_query_engine(top_k=8)
    response = engine.query("Which papers study scaling laws?")
    str(response)            # the checked answer, citations as [n]
    response.source_nodes    # the cited papers: abstract as text; title, number, quote, authors, year, link in metadata
    response.metadata["answer"]  # the whole `rag.Answer`

With ``streaming=True`` the response streams the model's words as they come (`print_response_stream`);
once they are done, the response's text is the checked answer and its source nodes are filled in.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from llama_index.core.base.response.schema import Response, StreamingResponse
from llama_index.core.bridge.pydantic import Field
from llama_index.core.query_engine import CustomQueryEngine
from llama_index.core.schema import NodeWithScore, TextNode

from rag.answering.answer import Answer, PaperInfo
from rag.answering.progress import AnswerProgress, Stage


def cited_nodes(answer: Answer) -> list[NodeWithScore]:
    """One node per cited paper: its abstract, with title, citation number and supporting quote as metadata."""
    sources = {s.rank: s for s in answer.sources}
    nodes = []
    for citation in answer.citations:
        source = sources.get(citation.number)
        node = TextNode(
            id_=citation.paper_id,
            text=source.abstract if source else citation.quote,
            metadata={"title": citation.title, "number": citation.number, "quote": citation.quote,
                      "paper_id": citation.paper_id, **paper_metadata(citation.paper)},
        )
        nodes.append(NodeWithScore(node=node, score=source.score if source else None))
    return nodes


def paper_metadata(paper: PaperInfo) -> dict[str, Any]:
    """A cited paper's authors, year, venue and link, as far as they are known."""
    known = {"authors": paper.authors, "year": paper.year, "venue": paper.venue, "link": paper.link}
    return {key: value for key, value in known.items() if value not in (None, "", [])}


def metadata_of(answer: Answer) -> dict[str, Any]:
    """The answer, its grade, what it leaves out, the claims the check removed (with reasons) and notices."""
    return {"answer": answer, "abstained": answer.abstained, "grade": answer.grade, "missing": answer.missing,
            "removed": [hit.model_dump() for hit in answer.removed()], "notices": answer.notices}


@dataclass
class CheckedStreamingResponse(StreamingResponse):
    """Streams the model's words; once they are done, the text is the checked answer and the cited papers
    are in ``source_nodes``."""

    answer: Answer | None = None

    def finish(self) -> Answer:
        """Read the rest of the stream; the checked answer."""
        for _ in self.response_gen:
            pass
        assert self.answer is not None
        return self.answer

    def __str__(self) -> str:
        return self.finish().answer

    def get_response(self) -> Response:
        answer = self.finish()
        return Response(answer.answer, self.source_nodes, self.metadata)

    def print_response_stream(self) -> None:
        for text in self.response_gen:
            print(text, end="", flush=True)
        print(f"\n\n{self.finish().answer}")


class PaperQueryEngine(CustomQueryEngine):
    """Answers with the assistant; ``options`` are `Assistant.ask`'s (top_k, collection, source, mode)."""

    assistant: Any
    streaming: bool = False
    options: dict[str, Any] = Field(default_factory=dict)

    def custom_query(self, query_str: str) -> Response | CheckedStreamingResponse:
        if not self.streaming:
            answer = self.assistant.ask(query_str, **self.options)
            return Response(answer.answer, cited_nodes(answer), metadata_of(answer))
        response = CheckedStreamingResponse(response_gen=iter(()), source_nodes=[], metadata={})

        def words() -> Iterator[str]:
            progress = AnswerProgress()
            for event in self.assistant.stream(query_str, **self.options):
                stage = progress.update(event)
                if stage is Stage.WRITING:
                    yield progress.piece
                elif stage in (Stage.SECOND_LOOK, Stage.COMPLETING):  # the raw text goes on with another try
                    yield "\n\n"
                elif stage is Stage.DONE:
                    response.answer = progress.answer
                    response.source_nodes[:] = cited_nodes(progress.answer)
                    response.metadata.update(metadata_of(progress.answer))

        response.response_gen = words()
        return response
