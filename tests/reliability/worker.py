"""A querying process for the shared-server tests: opens one collection through a Chroma server
(``RAG_CHROMA_HOST``), retrieves papers in a loop while other processes ingest, and when the
stop file appears prints one JSON line: queries run, errors, and whether its BM25 index (kept in
its own ``RAG_DATA_DIR``) describes exactly the papers in Chroma.

``python -m tests.reliability.worker COLLECTION STOP_FILE``
"""

from __future__ import annotations

import json
import sys
import time
import traceback
from pathlib import Path

from rag import Assistant

QUESTIONS = ["diffusion models fine-tuning", "scaling laws for language models", "reinforcement learning agents",
             "video generation benchmark", "Replication 3 of this study"]


def main(collection: str, stop_file: Path) -> None:
    assistant = Assistant(progress=False)
    index = assistant.index(collection)
    print(json.dumps({"ready": True, "papers": index.paper_count()}), flush=True)
    queries, errors, sizes = 0, [], []
    while True:
        stopping = stop_file.exists()  # read first: the last pass starts after every writer finished
        for question in QUESTIONS:
            try:
                found = assistant.retrieve(question, collection=collection, top_k=5)
                assert all(p.abstract and p.title for p in found), "a retrieved paper came back without text"
                sizes.append(len(index.bm25()))
                queries += 1
            except Exception:
                errors.append(traceback.format_exc(limit=3))
        if stopping:
            break
        time.sleep(0.05)
    bm25 = index.bm25()  # resynchronized here if the collection changed since the last query
    chroma = set(index.store.paper_states())
    print(json.dumps({
        "queries": queries, "errors": errors, "bm25_sizes_seen": sorted(set(sizes)),
        "bm25_papers": len(bm25), "chroma_papers": len(chroma), "bm25_matches_chroma": set(bm25.paper_ids) == chroma,
        "notices": index.notices,
    }), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))
