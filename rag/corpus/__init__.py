"""Corpus loaders -> de-duplicated `Paper` records: seed listing pages, JSONL and CSV files, and researchers'
formats (BibTeX, RIS, arXiv snapshot and OpenAlex JSON, PubMed XML, PDF), chosen by extension and content."""

from __future__ import annotations

import logging
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from rag.corpus.bibtex import read_bibtex
from rag.corpus.json_files import read_json, read_jsonl
from rag.corpus.limits import DEFAULT_LIMITS, checked
from rag.corpus.paper import BadRecord, Paper, normalize_title, paper_id_from_title
from rag.corpus.pubmed import read_pubmed
from rag.corpus.ris import read_ris
from rag.corpus.seed_pages import parse_seed_page, read_seed_page
from rag.corpus.sniff import read_txt
from rag.corpus.tabular import read_csv
from rag.errors import CorpusError, CorpusPathError
from rag.settings import CorpusSettings
from rag.text import printable

__all__ = [
    "DEFAULT_LIMITS",
    "SUPPORTED_EXTENSIONS",
    "BadRecord",
    "LoadedCorpus",
    "Paper",
    "corpus_files",
    "iter_records",
    "load_corpus",
    "normalize_title",
    "paper_id_from_title",
    "parse_seed_page",
]

log = logging.getLogger(__name__)
Reader = Callable[[Path, CorpusSettings], Iterator[Paper | BadRecord]]


def read_pdf(path: Path, limits: CorpusSettings) -> Iterator[Paper | BadRecord]:
    """A paper's PDF (`rag.corpus.pdf`; pdfminer is loaded only in the child process that reads it)."""
    from rag.corpus.pdf import read_pdf as read

    return read(path, limits)


def size_bounded(read: Callable[[Path], Iterator[Paper | BadRecord]]) -> Reader:
    """A reader that needs no limit besides the file's size (its work grows with the file, no more)."""
    return lambda path, limits: read(path)


READERS: dict[str, Reader] = {
    ".bib": read_bibtex,  # BibTeX (Zotero, JabRef, Mendeley)
    ".csv": size_bounded(read_csv),  # a header row with title, abstract
    ".json": read_json,  # one record, a list, an OpenAlex API page, or JSON lines
    ".jsonl": read_jsonl,  # plain records, arXiv snapshot rows, OpenAlex works (per line)
    ".md": size_bounded(read_seed_page),  # a listing page
    ".pdf": read_pdf,  # one paper
    ".ris": size_bounded(read_ris),  # RIS
    ".txt": read_txt,  # a listing page, or RIS / BibTeX saved as text
    ".xml": size_bounded(read_pubmed),  # PubMed / MEDLINE XML
}
SUPPORTED_EXTENSIONS: tuple[str, ...] = tuple(sorted(READERS))
"""File extensions `load_corpus` reads (for upload boxes and help texts)."""
FILE_KINDS = {stat.S_IFIFO: "a named pipe (FIFO)", stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device",
              stat.S_IFSOCK: "a socket"}


def reader_for(path: Path) -> Reader:
    """The loader for a file, chosen by its extension."""
    try:
        return READERS[path.suffix.lower()]
    except KeyError:
        raise CorpusPathError(
            f"{printable(str(path))}: unsupported file type {printable(path.suffix)!r}; supported: "
            f"{', '.join(SUPPORTED_EXTENSIONS)}"
        ) from None


def corpus_files(paths: Iterable[Path]) -> list[Path]:
    """Expand folders into their corpus files (sorted); a path that is missing or not a regular file or folder is
    a `CorpusPathError`."""
    files: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in READERS))
        elif path.is_file():
            reader_for(path)
            files.append(path)
        elif path.exists():
            kind = FILE_KINDS.get(stat.S_IFMT(path.stat().st_mode), "a special file")
            raise CorpusPathError(f"{printable(str(path))}: {kind}, not a regular file or folder; give a corpus "
                                  "file saved on disk")
        elif path.is_symlink():
            raise CorpusPathError(f"{printable(str(path))}: a symbolic link to nothing (its target is missing, or "
                                  "the link leads back to itself)")
        else:
            raise CorpusPathError(f"{printable(str(path))}: no such file or folder")
    return files


def size_problem(path: Path, max_bytes: int | None) -> BadRecord | None:
    """A `BadRecord` for a file larger than ``max_bytes`` (it is then not read at all), else None."""
    if max_bytes is None:
        return None
    size = path.stat().st_size
    if size <= max_bytes:
        return None
    return BadRecord(
        file=printable(path.name), line=1,
        problem=f"file is {size / 2**20:.1f} MB, over the {max_bytes / 2**20:g} MB limit for one corpus file "
        "(RAG_INGEST_MAX_MB); stream it with `rag ingest --bulk`, split it, or raise the limit",
    )


def read_file(path: Path, limits: CorpusSettings = DEFAULT_LIMITS) -> Iterator[Paper | BadRecord]:
    """Every record of one file, in order, each `checked` against ``limits``. Should a reader fail all the
    same (a bug), the failure is a bad record at the last line read, and the records before it stand."""
    source, line = printable(path.name), 1
    try:
        for item in reader_for(path)(path, limits):
            line = item.line if isinstance(item, BadRecord) else int(item.metadata.get("line") or line)
            yield checked(item, source, limits)
    except Exception as error:
        log.debug("reading %s failed", source, exc_info=True)  # a reader's bug: the traceback for a report
        yield BadRecord(file=source, line=line, problem=printable(
            f"the reader failed after this line ({type(error).__name__}: {str(error)[:200]}); the rest of the file "
            "was not read"))


def iter_records(paths: Iterable[Path], max_bytes: int | None = None,
                 limits: CorpusSettings = DEFAULT_LIMITS) -> Iterator[Paper | BadRecord]:
    """Every record of every file, in order, streamed (no de-duplication). Files over ``max_bytes``
    are checked first, before anything is read, and each yields one `BadRecord`."""
    files = corpus_files(paths)
    too_large = {path: problem for path in files if (problem := size_problem(path, max_bytes))}
    for path in files:
        if path in too_large:
            yield too_large[path]
        else:
            yield from read_file(path, limits)


@dataclass
class LoadedCorpus:
    """Papers merged by id, plus what was read and what was bad."""

    papers: list[Paper] = field(default_factory=list)
    records: int = 0
    bad: list[BadRecord] = field(default_factory=list)

    @property
    def duplicates(self) -> int:
        return self.records - len(self.papers)


def merge_duplicate(kept: Paper, again: Paper) -> None:
    """Record that a paper was seen again: keep the first text, remember every source file."""
    for source in again.sources:
        if source not in kept.metadata["sources"]:
            kept.metadata["sources"].append(source)  # type: ignore[union-attr]


def load_corpus(paths: Iterable[Path], *, skip_bad: bool = False, max_bytes: int | None = None,
                limits: CorpusSettings = DEFAULT_LIMITS) -> LoadedCorpus:
    """Load and de-duplicate papers from files or folders.

    With ``skip_bad=False`` any bad record raises `CorpusError` (listing all of them) before the
    caller writes anything; with ``skip_bad=True`` the bad records are returned in ``bad``. A file
    larger than ``max_bytes`` is not read: it counts as one bad record naming the limit. Every record
    is held to ``limits`` (`rag.corpus.limits`).
    """
    corpus = LoadedCorpus()
    by_id: dict[str, Paper] = {}
    paths = list(paths)
    if max_bytes is not None and not skip_bad:
        too_large = [problem for path in corpus_files(paths) if (problem := size_problem(path, max_bytes))]
        if too_large:  # refused up front: nothing else is read
            raise CorpusError(too_large)
    for item in iter_records(paths, max_bytes, limits):
        if isinstance(item, BadRecord):
            corpus.bad.append(item)
            continue
        corpus.records += 1
        if item.id in by_id:
            merge_duplicate(by_id[item.id], item)
        else:
            by_id[item.id] = item
    if corpus.bad and not skip_bad:
        raise CorpusError(corpus.bad)
    corpus.papers = list(by_id.values())
    return corpus
