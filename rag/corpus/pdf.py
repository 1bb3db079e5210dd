"""A paper's PDF -> one `Paper`: title, abstract and identifiers read from its first pages (pdfminer.six).

* Text comes from pdfminer's layout analysis, which reads two-column pages column by column.
* Title: the document metadata's title when the first page shows it, else the first page's
  largest upright text (the rotated arXiv stamp in the margin is not a title).
* Abstract: the text after an "Abstract" heading ("Abstract", "ABSTRACT", "A B S T R A C T",
  "Abstract—", "Abstract.") up to the first section heading ("1 Introduction", "I. INTRODUCTION",
  "Keywords", "Index Terms", ...), on the first `MAX_PAGES` pages; words hyphenated across lines
  are joined (the hyphen is kept when the document also writes the word hyphenated elsewhere).
* Ids: the arXiv id of arXiv's margin stamp, a DOI from the metadata or the only DOI printed on
  the first page.

A PDF without such an abstract, without text (a scan), encrypted, or not a PDF at all is a bad
record naming the file: nothing is guessed. So is one that needs more memory or time to read than its
limits allow: pdfminer runs in a child process (`rag.corpus.pdf_text`) that is stopped then.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from rag.corpus.identifiers import normalize_arxiv_id, normalize_doi
from rag.corpus.limits import DEFAULT_LIMITS
from rag.corpus.paper import BadRecord, Paper, clean_text, normalize_title
from rag.corpus.scholarly import scholarly_paper, split_authors
from rag.settings import CorpusSettings

CHILD = Path(__file__).with_name("pdf_text.py")  # run as a script in a child process: see its docstring
BOMB = "a decompression bomb, or a page far heavier than a paper's; not read"
MAX_PAGES = 2
MIN_ABSTRACT_CHARS = 100
MAX_ABSTRACT_CHARS = 5000
MAX_TITLE_CHARS = 300
ABSTRACT_HEADING = re.compile(  # "Abstract" alone, "Abstract—text", "Abstract. text", "ABSTRACT text"
    r"(?i:abstract|a b s t r a c t)(?:\s*(?:[—–:.]|-{1,2})\s*|\s*$|(?<=ABSTRACT)\s+)(?P<rest>.*)"
)
SECTION_HEADING = re.compile(  # "1 Introduction", "I. INTRODUCTION", "Keywords: ...", "Index Terms—..."
    r"(?:1|I)\.?\s+[A-Z][A-Za-z]*(?:[ -][A-Za-z]+){0,5}|(?i:introduction)"
    r"|(?:Keywords|KEYWORDS|Key ?words|Index Terms|INDEX TERMS|CCS Concepts|CCS CONCEPTS|ACM Reference Format"
    r"|General Terms|Categories and Subject Descriptors)\b.*"
)
ARXIV_STAMP = re.compile(r"arxiv:\s*([a-z-]+(?:\.[a-z]{2})?/\d{7}|\d{4}\.\d{4,5})(?:v\d+)?\s*\[", re.IGNORECASE)
PRINTED_DOI = re.compile(r"(?:doi\.org/|doi:?\s*)(10\.\d{4,9}/[^\s\"<>]+)", re.IGNORECASE)
JUNK_TITLE = re.compile(r"^(?:untitled|microsoft word|title|paper|document|manuscript)\b|\.\w{2,4}$", re.IGNORECASE)
HYPHENATED = re.compile(r"([A-Za-z]+)-$")


@dataclass
class PdfText:
    """What the first pages hold: upright lines with their font size, the first page's rotated text, metadata."""

    lines: list[tuple[int, str, float]] = field(default_factory=list)  # (page, text, font size)
    rotated: str = ""  # the first page's rotated characters, by position (arXiv's margin stamp)
    info: dict[str, str] = field(default_factory=dict)


class UnreadablePdf(Exception):
    """The file cannot be read as a PDF; the message says why."""


def read_pdf_text(path: Path, limits: CorpusSettings = DEFAULT_LIMITS) -> PdfText:
    """The first `MAX_PAGES` pages' text lines and the metadata, read by `rag.corpus.pdf_text` in a child process
    with at most ``limits.pdf_max_memory_mb`` of memory for at most ``limits.pdf_max_seconds``; `UnreadablePdf`
    when that fails."""
    command = [sys.executable, "-P", str(CHILD), str(path), str(MAX_PAGES), str(limits.pdf_max_memory_mb)]
    try:
        done = subprocess.run(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              timeout=limits.pdf_max_seconds, check=False)
    except subprocess.TimeoutExpired:
        raise UnreadablePdf(f"reading its first {MAX_PAGES} pages took over {limits.pdf_max_seconds:g} s "
                            f"(RAG_PDF_MAX_SECONDS): {BOMB}") from None
    try:
        found = json.loads(done.stdout)
    except ValueError:
        raise UnreadablePdf(f"the PDF reader stopped without an answer (exit status {done.returncode}): {BOMB}") \
            from None
    if "memory" in found:
        raise UnreadablePdf(f"reading it needs over {limits.pdf_max_memory_mb} MB of memory (RAG_PDF_MAX_MEMORY_MB): "
                            f"{BOMB}")
    if "encrypted" in found:
        raise UnreadablePdf("encrypted PDF (password-protected): its text cannot be read")
    if "error" in found:
        raise UnreadablePdf(f"not a readable PDF ({clean_text(found['error'])})")
    text = found["text"]
    return PdfText(lines=[(page, content, size) for page, content, size in text["lines"]], rotated=text["rotated"],
                   info={key: clean_text(value) for key, value in text["info"].items()})


def largest_text(text: PdfText) -> str:
    """The first page's lines in its largest font, from the first such line to the last next to it."""
    first_page = [(content, size) for page, content, size in text.lines if page == 1]
    if not first_page:
        return ""
    biggest = max(size for _, size in first_page)
    picked: list[str] = []
    for content, size in first_page:
        if size >= biggest - 0.5:
            picked.append(content)
        elif picked:
            break
    return clean_text(" ".join(picked))


def pdf_title(text: PdfText) -> str:
    """The metadata title when the first page shows it (and it is not a file name), else the largest text."""
    given = text.info.get("Title", "")
    first_page = normalize_title(" ".join(content for page, content, _ in text.lines if page == 1))
    if given and not JUNK_TITLE.search(given) and normalize_title(given) in first_page:
        return given
    title = largest_text(text)
    return title if len(title) <= MAX_TITLE_CHARS else ""


def join_lines(lines: list[str], document: str) -> str:
    """Lines as one paragraph. A word broken by a hyphen at a line end is joined ("generali-" + "zation");
    the hyphen stays when ``document`` also writes the pair with it inside a line ("large-scale")."""
    out, document = "", document.casefold()
    for line in lines:
        match = HYPHENATED.search(out)
        following = re.match(r"[a-z]+", line)
        if match and following:
            keep = f"{match.group(1)}-{following.group(0)}".casefold() in document
            out = (out if keep else out[:-1]) + line
        else:
            out = f"{out} {line}" if out else line
    return clean_text(out)


def find_abstract(lines: list[str]) -> tuple[str | None, str]:
    """The abstract between the heading and the first section heading, or None and the reason."""
    start = next((i for i, line in enumerate(lines) if ABSTRACT_HEADING.fullmatch(line)), None)
    if start is None:
        return None, f"no abstract found: no 'Abstract' heading on the first {MAX_PAGES} pages"
    rest = ABSTRACT_HEADING.fullmatch(lines[start]).group("rest")  # type: ignore[union-attr]
    body = [rest] if rest else []
    for line in lines[start + 1 :]:
        if SECTION_HEADING.fullmatch(line) and len(line) <= 80:
            abstract = join_lines(body, "\n".join(lines))
            if len(abstract) < MIN_ABSTRACT_CHARS:
                return None, ("no abstract found: the text after the 'Abstract' heading is too short "
                              f"({len(abstract)} characters)")
            if len(abstract) > MAX_ABSTRACT_CHARS:
                break
            return abstract, ""
        body.append(line)
    return None, (f"no abstract found: no section heading (such as '1 Introduction' or 'Keywords') ends the text "
                  f"after the 'Abstract' heading on the first {MAX_PAGES} pages")


def pdf_ids(text: PdfText) -> tuple[str | None, str | None]:
    """``(arxiv_id, doi)``: arXiv's margin stamp; a DOI from the metadata, else the only one on page 1."""
    first_page = " ".join(content for page, content, _ in text.lines if page == 1)
    # rotated text reads bottom-up or top-down depending on the rotation: try both
    stamp = ARXIV_STAMP.search(text.rotated) or ARXIV_STAMP.search(text.rotated[::-1]) or ARXIV_STAMP.search(first_page)
    arxiv_id = normalize_arxiv_id(stamp.group(1)) if stamp else None
    doi = next((found for key in ("doi", "DOI", "prism:doi") if (found := normalize_doi(text.info.get(key)))), None)
    if doi is None:
        printed = {normalize_doi(m.group(1)) for m in PRINTED_DOI.finditer(first_page)} - {None}
        doi = printed.pop() if len(printed) == 1 else None
    return arxiv_id, doi


def pdf_to_paper(path: Path, limits: CorpusSettings = DEFAULT_LIMITS) -> Paper | BadRecord:
    """The paper in a PDF, or a `BadRecord` saying why none was read."""
    try:
        text = read_pdf_text(path, limits)
    except UnreadablePdf as error:
        return BadRecord(file=path.name, line=1, problem=str(error))
    if not text.lines:
        return BadRecord(file=path.name, line=1, problem="no text in the PDF (a scanned image?); run OCR on it first")
    abstract, reason = find_abstract([content for _, content, _ in text.lines])
    if abstract is None:
        return BadRecord(file=path.name, line=1, problem=reason)
    arxiv_id, doi = pdf_ids(text)
    return scholarly_paper(
        label="PDF",
        title=pdf_title(text),
        abstract=abstract,
        source=path.name,
        line=1,
        authors=split_authors(text.info.get("Author", "")),
        doi=doi,
        arxiv_id=arxiv_id,
    )


def read_pdf(path: Path, limits: CorpusSettings = DEFAULT_LIMITS) -> Iterator[Paper | BadRecord]:
    """The one paper of a PDF file (or the `BadRecord` naming why it could not be read)."""
    yield pdf_to_paper(path, limits)
