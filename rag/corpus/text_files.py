"""Reading corpus files as numbered UTF-8 lines, reporting undecodable lines and binary or empty files.

A file is binary when its first 8 KB hold NUL bytes and are not UTF-8 text, or are more than 1% NUL bytes
(a picture, a PDF or UTF-16 text renamed): one bad record for the file. In a text file, a line holding a
NUL byte is a bad line like an undecodable one, wherever it is (never silently cleaned).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from rag.corpus.paper import BadRecord

BINARY_SNIFF_BYTES = 8192


def is_binary(head: bytes) -> bool:
    """Whether a file's first bytes are binary data rather than text with a stray NUL byte."""
    if b"\x00" not in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        if error.start < len(head) - 3:  # not just a character cut at the end of the sample
            return True
    return head.count(b"\x00") * 100 > len(head)


def read_lines(path: Path) -> Iterator[tuple[int, str] | BadRecord]:
    """Yield ``(line_number, text)`` for each line, or a `BadRecord` for a line that is not UTF-8 or holds a NUL
    byte.

    Streams the file, so memory stays constant for large corpora. A binary or empty file
    yields a single `BadRecord`.
    """
    with path.open("rb") as handle:
        head = handle.read(BINARY_SNIFF_BYTES)
        if not head.strip():
            yield BadRecord(file=path.name, line=1, problem="file is empty")
            return
        if head.startswith((b"\xff\xfe", b"\xfe\xff")):
            yield BadRecord(file=path.name, line=1, problem="UTF-16 text; save the file as UTF-8")
            return
        if is_binary(head):
            yield BadRecord(file=path.name, line=1, problem="binary file (NUL bytes), not a text corpus")
            return
        handle.seek(0)
        for number, raw in enumerate(handle, start=1):
            if number == 1:
                raw = raw.removeprefix(b"\xef\xbb\xbf")
            if (nul := raw.find(b"\x00")) >= 0:
                yield BadRecord(file=path.name, line=number, problem=f"NUL byte at column {nul + 1} (binary data in a "
                                "text file)")
                continue
            try:
                yield number, raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as error:
                yield BadRecord(
                    file=path.name,
                    line=number,
                    problem=f"not UTF-8 (byte 0x{raw[error.start]:02x} at column {error.start + 1})",
                )
