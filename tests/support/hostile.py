"""Hostile and careless corpus files, made on the spot by the tests (none is kept in the repository):
decompression-bomb PDFs, an XML entity bomb, JSON nested or numbered past what parsers take, and the
other cases of `tests/reliability/test_hostile_files.py`. Each function writes one file and returns its path."""

from __future__ import annotations

import json
import os
import struct
import zlib
from pathlib import Path

MIB = 2**20
DRAWING = b"0 0 m 100 100 l S\n" * 58  # 1,044 bytes of path operators: no text, only work for the reader
SAVES = b"q Q\n" * 261  # 1,044 bytes of graphics-state saves and restores: work that takes no memory
GOOD_ABSTRACT = ("We study how careless and hostile corpus files are read. The reader must stay within its limits, "
                 "name each bad record by file and line, and keep the good records of the same file.")


def good_record(number: int) -> dict:
    """A valid plain record (``title``, ``abstract``, ``id``)."""
    return {"id": f"good-{number}", "title": f"A good paper number {number}", "abstract": GOOD_ABSTRACT}


def deflate(*parts: tuple[bytes, int]) -> bytes:
    """A zlib stream that inflates to each ``(chunk, copies)`` in turn, built without compressing all of it: a
    chunk compressed by a fresh compressor and flushed ends byte-aligned, so its blocks can simply be repeated."""
    out = bytearray(b"\x78\xda")  # the zlib header of level 9
    checksum = 1
    for chunk, copies in parts:
        compressor = zlib.compressobj(9)
        out += (compressor.compress(chunk) + compressor.flush(zlib.Z_FULL_FLUSH))[2:] * copies
        for _ in range(copies):
            checksum = zlib.adler32(chunk, checksum)
    return bytes(out + b"\x03\x00" + struct.pack(">I", checksum))  # an empty final block, then the checksum


def pdf_bytes(objects: list[bytes], *, xref: bool = True) -> bytes:
    """A PDF file of numbered objects (1 is the catalog), with a cross-reference table unless ``xref`` is
    False (pdfminer then scans the whole file for objects, object streams included)."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    if xref:
        start = len(out)
        out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
        out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
        out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, start)
    else:
        out += b"trailer\n<< /Size %d /Root 1 0 R >>\n%%%%EOF\n" % (len(objects) + 1)
    return bytes(out)


def stream(data: bytes, extra: bytes = b"") -> bytes:
    return b"<< /Length %d /Filter /FlateDecode %s>>\nstream\n%s\nendstream" % (len(data), extra, data)


def one_page(contents: bytes) -> list[bytes]:
    return [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        contents,
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]


def pdf_content_bomb(path: Path, inflated_mib: int) -> Path:
    """A one-page PDF whose compressed content stream inflates to ``inflated_mib`` MiB of drawing operators
    (1 GiB from a 2.6 MB file)."""
    path.write_bytes(pdf_bytes(one_page(stream(deflate((DRAWING * 1004, inflated_mib))))))  # ~1 MiB per copy
    return path


def pdf_busy_page(path: Path, inflated_mib: int) -> Path:
    """A one-page PDF whose content stream inflates to ``inflated_mib`` MiB of operators that only cost time."""
    path.write_bytes(pdf_bytes(one_page(stream(deflate((SAVES * 1004, inflated_mib))))))
    return path


def pdf_object_stream_bomb(path: Path, inflated_mib: int) -> Path:
    """A PDF without a cross-reference table (so pdfminer reads every object stream it finds) whose object
    stream is padded with ``inflated_mib`` MiB of spaces before the one small object it holds."""
    head = b"6 0 "
    objstm = stream(deflate((head, 1), (b" " * MIB, inflated_mib), (b"<< /Producer (padded) >>", 1)),
                    b"/Type /ObjStm /N 1 /First %d " % len(head))
    page = one_page(stream(zlib.compress(b"BT /F1 12 Tf 72 700 Td (Hello) Tj ET")))
    path.write_bytes(pdf_bytes([*page, objstm], xref=False))
    return path


def xml_entity_bomb(path: Path) -> Path:
    """PubMed XML whose DTD defines nested entities ("billion laughs"); the entity is used on line 15."""
    entities = "".join(f'  <!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">\n' for i in range(1, 10))
    path.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE PubmedArticleSet [\n  <!ENTITY lol0 "lol">\n' + entities
        + "]>\n<PubmedArticleSet>\n<PubmedArticle><MedlineCitation><Article><ArticleTitle>&lol9;"
        "</ArticleTitle></Article></MedlineCitation></PubmedArticle>\n</PubmedArticleSet>\n"
    )
    return path


def write_jsonl(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines))
    return path


def jsonl_with(path: Path, bad_line: str) -> Path:
    """JSON lines: a good record, ``bad_line`` (line 2), another good record."""
    return write_jsonl(path, [json.dumps(good_record(1)), bad_line, json.dumps(good_record(2))])


def deeply_nested(depth: int) -> str:
    """A record whose ``extra`` field is ``depth`` arrays deep."""
    return '{"title": "Deep", "abstract": "Deep nesting.", "extra": ' + "[" * depth + "]" * depth + "}"


def json_document_with(path: Path, bad_item: str) -> Path:
    """A JSON array over four lines: a good record, ``bad_item`` (line 3), another good record."""
    path.write_text(f"[\n{json.dumps(good_record(1))},\n{bad_item},\n{json.dumps(good_record(2))}\n]\n")
    return path


def bibtex_entry(key: str, abstract: str, title: str = "A paper read from BibTeX") -> str:
    """One ``@article`` entry; ``abstract`` is the field's value as written (``{...}``, ``"..."``, ``a # b``)."""
    return (f"@article{{{key},\n  title = {{{title}}},\n  author = {{Doe, Jane}},\n  year = {{2024}},\n"
            f"  abstract = {abstract}\n}}\n")


def bibtex_long_abstract(path: Path, chars: int) -> Path:
    """A good entry, then one whose abstract is ``chars`` characters of sentences."""
    sentence = "Private synthetic data approximate the statistics of the original records. "
    long = (sentence * (chars // len(sentence) + 1))[:chars]
    path.write_text(bibtex_entry("good2024", f"{{{GOOD_ABSTRACT}}}") + bibtex_entry("long2024", f"{{{long}}}",
                                                                                  "A paper with a huge abstract"))
    return path


def bibtex_macro_bomb(path: Path, levels: int = 8) -> Path:
    """``@string`` macros each ten copies of the one before (10**levels copies of "lol"), used as an abstract."""
    strings = ['@string{lol0 = "lol "}'] + [f"@string{{lol{i} = {' # '.join([f'lol{i - 1}'] * 10)}}}"
                                           for i in range(1, levels + 1)]
    path.write_text("\n".join(strings) + "\n" + bibtex_entry("laughs2024", f"lol{levels}"))
    return path


def csv_with_field(path: Path, field_chars: int, line: int = 7) -> Path:
    """A CSV file whose row on ``line`` has an abstract of ``field_chars`` characters; the other rows are good."""
    rows = ["title,abstract,url"] + [f"Paper {n},{GOOD_ABSTRACT.replace(',', '')},u{n}" for n in range(2, line)]
    rows += [f"Big,{'x' * field_chars},u{line}", f"Paper {line + 1},{GOOD_ABSTRACT.replace(',', '')},u{line + 1}"]
    path.write_text("\n".join(rows) + "\n")
    return path


def ris_record(*lines: str) -> str:
    return "TY  - JOUR\n" + "".join(line + "\n" for line in lines) + "ER  - \n"


def fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path
