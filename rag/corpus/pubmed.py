"""PubMed / MEDLINE XML (``PubmedArticleSet``, as efetch and the baseline files give it) -> `Paper`.

Streamed with lxml's pull parser: each ``PubmedArticle`` (or ``PubmedBookArticle``) is read when it
closes and then dropped, so memory stays flat on baseline-sized files. No DTD or external entity is
ever loaded (no network), and libxml2 bounds the expansion of entities a file declares itself ("billion
laughs"). Structured abstracts are joined as ``LABEL: text``. A malformed or truncated file yields the
articles before the break, then a bad record at the line of the XML error; an error inside an entity's
text (libxml2 numbers its lines from the entity's start) is reported at the element that used it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from lxml import etree

from rag.corpus.paper import BadRecord, Paper, clean_text
from rag.corpus.scholarly import scholarly_paper

CHUNK_BYTES = 2**16
POSITION = re.compile(r",? line \d+, column \d+$")  # libxml2's position, which we give as the record's line
ARTICLE_TAGS = ("PubmedArticle", "PubmedBookArticle")
ROOT_TAGS = ("PubmedArticleSet", "PubmedBookArticleSet")


def text_of(element: etree._Element | None) -> str:
    """All text inside an element (inline markup such as ``<i>`` kept as text), whitespace collapsed."""
    return clean_text("".join(element.itertext())) if element is not None else ""


def abstract_text(article: etree._Element) -> str:
    """The abstract's sections in order, each ``LABEL: text`` when it has a ``Label``."""
    parts = []
    for section in article.iterfind(".//Abstract/AbstractText"):
        text = text_of(section)
        label = clean_text(section.get("Label") or "")
        if text:
            parts.append(f"{label}: {text}" if label else text)
    return " ".join(parts)


def author_names(article: etree._Element) -> list[str]:
    """"ForeName LastName" (or initials, or a collective name) for each author."""
    names = []
    authors = article.find(".//AuthorList")  # the first list: a book's editors come after its authors
    for author in authors.iterfind("Author") if authors is not None else ():
        last, fore = text_of(author.find("LastName")), text_of(author.find("ForeName")) or text_of(
            author.find("Initials"))
        name = " ".join(p for p in (fore, last) if p) or text_of(author.find("CollectiveName"))
        if name:
            names.append(name)
    return names


def article_id(article: etree._Element, kind: str) -> str | None:
    """An id from ``ArticleIdList`` by its ``IdType`` (``doi``, ``pmc``), the article's own list only."""
    for element in article.iterfind("*/ArticleIdList/ArticleId"):  # PubmedData, PubmedBookData; not references
        if element.get("IdType") == kind and text_of(element):
            return text_of(element)
    return None


def publication_year(article: etree._Element) -> str:
    """``PubDate/Year``, else the ``MedlineDate`` ("2020 Jan-Feb"), else the electronic ``ArticleDate``."""
    for path in (".//JournalIssue/PubDate/Year", ".//JournalIssue/PubDate/MedlineDate", ".//ArticleDate/Year",
                 ".//Book/PubDate/Year"):
        if text := text_of(article.find(path)):
            return text
    return ""


def article_to_paper(article: etree._Element, source: str, line: int) -> Paper | BadRecord:
    """One ``PubmedArticle`` or ``PubmedBookArticle`` as a `Paper` (id from DOI, else PMID)."""
    pmid = text_of(article.find("MedlineCitation/PMID")) or text_of(article.find("BookDocument/PMID"))
    title = text_of(article.find(".//ArticleTitle")) or text_of(article.find(".//BookTitle"))
    return scholarly_paper(
        label=f"PMID {pmid}" if pmid else "article",
        title=title,
        abstract=abstract_text(article),
        source=source,
        line=line,
        authors=author_names(article),
        year=publication_year(article),
        venue=text_of(article.find(".//Journal/Title")) or text_of(article.find(".//Journal/ISOAbbreviation"))
        or text_of(article.find(".//Book/Publisher/PublisherName")),
        doi=article_id(article, "doi") or text_of(article.find(".//ELocationID[@EIdType='doi']")),
        pmid=pmid,
        extra={"pmcid": article_id(article, "pmc") or ""},
    )


class XmlBreak(Exception):
    """An XML error: its message and line (at least that of the last element the parser had started)."""

    def __init__(self, message: str, line: int):
        super().__init__(message)
        self.message, self.line = message, line


def xml_events(path: Path) -> Iterator[tuple[str, etree._Element]]:
    """``(event, element)`` for the start and end of every element, fed to the parser in chunks; `XmlBreak` where
    the XML breaks (the events the parser had queued with the error are not used: some close elements it cut)."""
    parser = etree.XMLPullParser(events=("start", "end"), load_dtd=False, no_network=True, resolve_entities=False,
                                 remove_comments=True, huge_tree=False)
    with path.open("rb") as handle:
        while True:
            chunk = handle.read(CHUNK_BYTES)
            try:
                parser.feed(chunk) if chunk else parser.close()
            except etree.XMLSyntaxError as error:
                queued = [element.sourceline or 1 for _, element in parser.read_events()]
                raise XmlBreak(POSITION.sub("", error.msg), max([error.lineno or 1, *queued])) from None
            yield from parser.read_events()
            if not chunk:
                return


def read_pubmed(path: Path) -> Iterator[Paper | BadRecord]:
    """Every article of a PubMed XML file in order, each element freed once read."""
    depth = 0
    starts: list[int] = []
    line = 1  # the line of the last element seen
    try:
        for event, element in xml_events(path):
            line = element.sourceline or line
            if event == "start":
                depth += 1
                if depth == 1 and element.tag not in ROOT_TAGS:
                    yield BadRecord(file=path.name, line=line, problem=f"XML root is <{element.tag}>, expected "
                                    "<PubmedArticleSet> (PubMed / MEDLINE XML); no other XML is read")
                    return
                if depth == 2:
                    starts.append(line)
                continue
            depth -= 1
            if depth != 1:
                continue
            start = starts.pop() if starts else line
            if element.tag in ARTICLE_TAGS:
                yield article_to_paper(element, path.name, start)
            element.clear(keep_tail=False)
            while element.getprevious() is not None:  # drop what was read, so memory stays flat
                del element.getparent()[0]
    except XmlBreak as error:
        yield BadRecord(file=path.name, line=max(error.line, line), problem=f"XML error: {error.message}; the rest of "
                        "the file was not read")
