"""``.txt`` files: a scraped listing page, or a RIS or BibTeX export saved with a ``.txt`` name."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from rag.corpus.bibtex import read_bibtex
from rag.corpus.limits import DEFAULT_LIMITS
from rag.corpus.paper import BadRecord, Paper
from rag.corpus.ris import read_ris
from rag.corpus.seed_pages import read_seed_page
from rag.settings import CorpusSettings

SNIFF_BYTES = 8192
RIS_START = re.compile(rb"^TY  - ", re.MULTILINE)
BIBTEX_START = re.compile(rb"^\s*@[A-Za-z]+\s*[{(]", re.MULTILINE)


def read_txt(path: Path, limits: CorpusSettings = DEFAULT_LIMITS) -> Iterator[Paper | BadRecord]:
    """Read a ``.txt`` file as RIS or BibTeX when its first lines say so, else as a listing page."""
    with path.open("rb") as handle:
        head = handle.read(SNIFF_BYTES)
    if RIS_START.search(head):
        return read_ris(path)
    if BIBTEX_START.search(head):
        return read_bibtex(path, limits)
    return read_seed_page(path)
