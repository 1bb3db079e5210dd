"""The text of a PDF's first pages, read with pdfminer.six in a child process under a memory limit.

`rag.corpus.pdf` runs this file as a script (``python -P pdf_text.py FILE PAGES MEMORY_MB``) and kills it
when it runs out of time; a PDF can inflate a small file into gigabytes of page operators (a
decompression bomb), and pdfminer has no budget of its own. The script sets its address-space limit,
reads the file and prints one JSON object on stdout:

* ``{"text": {"lines": [[page, text, font size], ...], "rotated": "...", "info": {...}}}``: upright
  text lines in reading order, the first page's rotated characters (arXiv's margin stamp) and the
  document information dictionary;
* ``{"memory": true}``: reading needed more memory than allowed;
* ``{"encrypted": true}`` or ``{"error": "..."}``: the file cannot be read as a PDF.

It imports nothing from `rag` (that would load the whole engine into every child).
"""

from __future__ import annotations

import json
import logging
import resource
import sys
import unicodedata

MAX_TEXT_CHARS = 1_000_000  # a paper's first pages hold about 10,000: more is not worth sending back
MAX_ERROR_CHARS = 300


def metadata(document) -> dict[str, str]:
    """The document information dictionary's text values (Title, Author, doi, ...)."""
    from pdfminer.utils import decode_text

    found: dict[str, str] = {}
    for info in document.info:
        for key, value in info.items():
            if isinstance(value, bytes):
                found[str(key)] = decode_text(value)
            elif isinstance(value, str):
                found[str(key)] = value
    return found


def page_lines(layout, page: int, lines: list, rotated: list[str]) -> int:
    """Add a page's upright text lines in reading order (on the first page, collect the rotated characters);
    returns the characters added."""
    from pdfminer.layout import LTChar, LTTextBox, LTTextLine

    added = 0
    for box in layout:
        if not isinstance(box, LTTextBox):
            continue
        for line in box:
            if not isinstance(line, LTTextLine):
                continue
            chars = [c for c in line if isinstance(c, LTChar)]
            if chars and all(c.upright for c in chars):
                content = unicodedata.normalize("NFKC", line.get_text()).strip()
                if content:
                    lines.append((page, content, max(c.size for c in chars)))
                    added += len(content)
            elif page == 1:
                rotated.extend(c.get_text() for c in sorted(chars, key=lambda c: (round(c.x0), c.y0)))
    return added


def read(path: str, pages: int) -> dict:
    """The first ``pages`` pages' text lines, the rotated text and the metadata of a PDF."""
    from pdfminer.converter import PDFPageAggregator
    from pdfminer.layout import LAParams
    from pdfminer.pdfdocument import PDFDocument
    from pdfminer.pdfinterp import PDFPageInterpreter, PDFResourceManager
    from pdfminer.pdfpage import PDFPage
    from pdfminer.pdfparser import PDFParser

    lines: list = []
    rotated: list[str] = []
    with open(path, "rb") as handle:
        document = PDFDocument(PDFParser(handle))
        info = metadata(document)
        resources = PDFResourceManager()
        device = PDFPageAggregator(resources, laparams=LAParams())
        interpreter = PDFPageInterpreter(resources, device)
        chars = 0
        for number, page in enumerate(PDFPage.create_pages(document), start=1):
            interpreter.process_page(page)
            chars += page_lines(device.get_result(), number, lines, rotated)
            if number >= pages or chars >= MAX_TEXT_CHARS:
                break
    return {"lines": lines, "rotated": "".join(rotated), "info": info}


def outcome(path: str, pages: int) -> dict:
    """What `read` found, or why it could not (the JSON object described in the module docstring)."""
    from pdfminer.pdfdocument import PDFEncryptionError
    from pdfminer.psexceptions import PSException

    try:
        return {"text": read(path, pages)}
    except MemoryError:
        return {"memory": True}
    except PDFEncryptionError:
        return {"encrypted": True}
    except Exception as error:  # pdfminer fails in many ways on damaged files (syntax, zlib, struct, ...)
        reason = str(error) if isinstance(error, PSException) else f"{type(error).__name__}: {error}"
        return {"error": reason[:MAX_ERROR_CHARS]}


def main(argv: list[str]) -> None:
    path, pages, memory_mb = argv[1], int(argv[2]), int(argv[3])
    logging.disable(logging.WARNING)  # pdfminer warns about every oddity of a damaged file
    import pdfminer.pdfinterp  # noqa: F401 - loaded before the limit, which then bounds what reading the file takes

    limit = memory_mb * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    json.dump(outcome(path, pages), sys.stdout)


if __name__ == "__main__":
    main(sys.argv)
