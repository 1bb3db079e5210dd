"""Reading corpus files as numbered UTF-8 lines, reporting undecodable, binary or empty files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from rag.corpus.paper import BadRecord

BINARY_SNIFF_BYTES = 8192


def read_lines(path: Path) -> Iterator[tuple[int, str] | BadRecord]:
    """Yield ``(line_number, text)`` for each line, or a `BadRecord` for a line that is not UTF-8.

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
        if b"\x00" in head:
            yield BadRecord(file=path.name, line=1, problem="binary file (NUL bytes), not a text corpus")
            return
        handle.seek(0)
        for number, raw in enumerate(handle, start=1):
            if number == 1:
                raw = raw.removeprefix(b"\xef\xbb\xbf")
            try:
                yield number, raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as error:
                yield BadRecord(
                    file=path.name,
                    line=number,
                    problem=f"not UTF-8 (byte 0x{raw[error.start]:02x} at column {error.start + 1})",
                )
