"""Run the ``rag`` command, killing the process with SIGKILL at the worst moment of an ingest.

``python -m tests.reliability.crash_hook ingest FILE --collection NAME`` behaves like ``rag ingest``
until the first write of head chunks (chunk 0 of each paper in a batch): the other chunks of that
batch are already upserted into Chroma, and then the process sends itself SIGKILL, exactly as
``kill -9`` from outside would end it. Used to prove that a paper cut between its chunks is never
counted, never mistaken for unchanged, and is repaired by the next run.
"""

from __future__ import annotations

import os
import signal
import sys

from chromadb.api.models.Collection import Collection

from rag import cli

_upsert = Collection.upsert


def upsert_then_die_at_heads(self, *args, **kwargs):
    metadatas = kwargs.get("metadatas") or []
    if metadatas and all(m.get("chunk") == 0 for m in metadatas):
        sys.stderr.write(f"crash_hook: SIGKILL before writing {len(metadatas)} head chunks\n")
        sys.stderr.flush()
        os.kill(os.getpid(), signal.SIGKILL)
    return _upsert(self, *args, **kwargs)


if __name__ == "__main__":
    Collection.upsert = upsert_then_die_at_heads
    sys.argv = ["rag", *sys.argv[1:]]
    cli.main()
