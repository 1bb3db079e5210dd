"""The year and author filters through a real Chroma server (`chroma run`): the chunk keys they use
(``year``, ``author_keys`` with ``$contains``) work there as in the embedded store. Embeddings come from the
Ollama stand-in (their meaning does not matter to a filter)."""

from __future__ import annotations

from rag import Assistant
from tests.reliability.conftest import REPO, rag_settings
from tests.support.fakes import scripted

FILES = REPO / "tests" / "corpus_files"


def test_year_and_author_filters_work_through_a_chroma_server(tmp_path, standin, chroma_server):
    settings = rag_settings(tmp_path / "data", standin, chroma_host=chroma_server.host, chroma_port=chroma_server.port)
    assistant = Assistant(settings, llm=scripted("x"), progress=False)
    try:
        report = assistant.library.ingest([FILES / "library.bib", FILES / "export.ris", FILES / "pubmed.xml"],
                                          collection="server-filters", skip_bad=True)
        assert report.papers_now == 8
        for mode in ("dense", "bm25", "hybrid"):
            found = assistant.retrieve("graph solvers networks", top_k=20, collection="server-filters", mode=mode,
                                       author="PARK")
            assert [p.paper_id for p in found] == ["doi:10.5555/cgs.2022.001"], mode
        recent = assistant.retrieve("networks models data", top_k=20, collection="server-filters", mode="dense",
                                    year_from=2023)
        assert recent and all(p.metadata["year"] >= 2023 for p in recent)
        assert len(recent) == sum(1 for p in assistant.retrieve("networks models data", top_k=20,
                                                                collection="server-filters", mode="dense")
                                  if p.metadata.get("year", 0) >= 2023)
    finally:
        assistant.library.close()
