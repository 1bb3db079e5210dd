"""Answers that leave the screen: Markdown with a numbered reference list, and the cited papers as BibTeX.

`answer_markdown` and `answer_bibtex` serve ``rag ask --format`` and the chat's per-answer buttons;
`chat_markdown` writes a whole conversation. References keep the answer's own numbers (``[2]`` in the
text is ``[2]`` in the list). BibTeX is written with bibtexparser: values LaTeX-encoded (``ü`` ->
``{\\"u}``, ``&`` -> ``{\\&}``), capitals inside words protected (``{GPT}``), keys like
``hinton2015distilling`` made unique within one export.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from functools import lru_cache

import bibtexparser
from bibtexparser import model

from rag.answering.answer import Answer, PaperInfo, Source
from rag.answering.conversation import ChatEntry

MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|])")
REFERENCE_AUTHORS = 6  # authors named in a reference before "et al."
KEY_STOPWORDS = frozenset("a an the on of in for to and with from by at is are towards toward via do does can "
                          "how what when why which your our we".split())
PROCEEDINGS = re.compile(r"\b(conference|proceedings|workshop|symposium|meeting)\b", re.IGNORECASE)


# --- Markdown ---------------------------------------------------------------------------------
def markdown_text(text: str) -> str:
    """Paper text (titles, names) with Markdown's special characters escaped."""
    return MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(text.split()))


def reference_line(number: int, title: str, paper: PaperInfo) -> str:
    """``[n] Authors (year). *Title*. Venue. <link>``; the parts a paper lacks are left out."""
    parts = [f"[{number}]"]
    if paper.authors:
        parts.append(markdown_text(paper.short_authors(REFERENCE_AUTHORS)) + (f" ({paper.year})." if paper.year
                                                                              else "."))
    elif paper.year:
        parts.append(f"({paper.year}).")
    parts.append(f"*{markdown_text(title)}*.")
    if paper.venue:
        parts.append(f"{markdown_text(paper.venue)}.")
    if paper.link:
        parts.append(f"<{paper.link}>")
    return " ".join(parts)


def references_markdown(answer: Answer) -> str:
    """The numbered reference list of the cited papers, each with the sentences that support it."""
    if not answer.citations:
        return ""
    lines = ["**References**", ""]
    for source in answer.cited_sources():
        lines.append("- " + reference_line(source.rank, source.title, source.paper))
        quotes = dict.fromkeys(c.quote for c in answer.citations if c.number == source.rank and c.quote)
        lines.extend(f"  > {markdown_text(quote)}" for quote in quotes)
    return "\n".join(lines)


def answer_markdown(answer: Answer, *, heading: str = "## ") -> str:
    """The answer as Markdown: the question as a heading, its grade when it is partial or quoted evidence, the
    answer with its ``[n]`` markers, notices, and the numbered references (title, authors, year, venue, link,
    supporting sentences)."""
    label = f"*{answer.grade_label}:*" if answer.grade_label else ""
    parts = [f"{heading}{markdown_text(answer.question)}" if heading else "", label, answer.answer.strip()]
    parts += [f"*Note: {markdown_text(notice)}*" for notice in answer.notices]
    parts.append(references_markdown(answer))
    return "\n\n".join(part for part in parts if part) + "\n"


def entry_markdown(entry: ChatEntry, number: int) -> str:
    """One question of a chat as Markdown (`answer_markdown` when it was answered)."""
    heading = f"## {number}. {markdown_text(entry.question)}\n\n"
    if entry.status == "answered" and entry.answer is not None:
        return heading + answer_markdown(entry.answer, heading="")
    body = f"{entry.text.strip()} *(stopped)*".strip() if entry.status == "stopped" else (
        f"*Not answered: {markdown_text(entry.text)}*")
    return f"{heading}{body}\n"


def chat_markdown(entries: Sequence[ChatEntry], title: str | None = None) -> str:
    """A whole conversation as Markdown: every question, its answer and its references."""
    head = f"# {markdown_text(title)}\n\n" if title else ""
    return head + "\n".join(entry_markdown(entry, number) for number, entry in enumerate(entries, start=1))


# --- BibTeX -----------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def latex_encoder():
    from pylatexenc.latexencode import UnicodeToLatexEncoder

    return UnicodeToLatexEncoder(replacement_latex_protection="braces-all", unknown_char_policy="keep",
                                 non_ascii_only=False)


def latex(text: str) -> str:
    """Plain text as a BibTeX value: special characters and non-ASCII letters as LaTeX (braces balanced)."""
    return latex_encoder().unicode_to_latex(" ".join(text.split()))


def protect_capitals(value: str) -> str:
    """Brace words with a capital after their first letter ("GPT", "BERT", "iPhone") so styles keep them."""
    return " ".join(f"{{{word}}}" if re.search(r".[A-Z]", word) and "\\" not in word and "{" not in word
                    else word for word in value.split(" "))


def ascii_word(text: str) -> str:
    """Lower-case ASCII letters and digits of ``text`` (accents dropped): "Müller" -> "muller"."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]", "", folded.lower())


def bibtex_key(title: str, paper: PaperInfo, taken: set[str]) -> str:
    """``<first author's last name><year><first title word>`` ("hinton2015distilling"; without authors, the
    first two title words), made unique against ``taken`` with a letter ("...b", "...c"), and added to it."""
    words = [w for w in (ascii_word(w) for w in title.split()) if w]
    significant = [w for w in words if w not in KEY_STOPWORDS] or words
    last = ascii_word(paper.authors[0].split()[-1]) if paper.authors and paper.authors[0].split() else ""
    if last:
        key = f"{last}{paper.year or ''}{''.join(significant[:1])}"
    else:
        key = f"{''.join(significant[:1])}{paper.year or ''}{''.join(significant[1:2])}" or "paper"
    candidate, suffix = key, ord("b")
    while candidate in taken:
        candidate = f"{key}{chr(suffix)}" if suffix <= ord("z") else f"{key}{suffix - ord('a')}"
        suffix += 1
    taken.add(candidate)
    return candidate


def bibtex_entry(source: Source, key: str) -> model.Entry:
    """A BibTeX entry for a source: ``@inproceedings`` for a conference venue, ``@article`` for another
    venue, ``@misc`` without one; arXiv papers carry ``eprint``/``archivePrefix``."""
    paper = source.paper
    kind = "misc" if not paper.venue else "inproceedings" if PROCEEDINGS.search(paper.venue) else "article"
    fields = [("title", protect_capitals(latex(source.title)))]
    if paper.authors:
        fields.append(("author", " and ".join(latex(name) for name in paper.authors)))
    if paper.venue:
        fields.append(("booktitle" if kind == "inproceedings" else "journal", latex(paper.venue)))
    if paper.year:
        fields.append(("year", str(paper.year)))
    if paper.doi:
        fields.append(("doi", verbatim(paper.doi)))
    if paper.arxiv_id:
        fields += [("eprint", verbatim(paper.arxiv_id)), ("archiveprefix", "arXiv")]
    if paper.pmid:
        fields.append(("pmid", paper.pmid))
    if paper.link:
        fields.append(("url", verbatim(paper.link)))
    return model.Entry(kind, key, [model.Field(name, value) for name, value in fields])


def verbatim(value: str) -> str:
    """An identifier or link as a BibTeX value: as it is, without braces or whitespace (they would break it)."""
    return re.sub(r"[{}\s]", "", value)


def papers_bibtex(sources: Iterable[Source]) -> str:
    """BibTeX entries for papers, one per paper id, keys unique."""
    library = bibtexparser.Library()
    taken: set[str] = set()
    seen: set[str] = set()
    for source in sources:
        if source.paper_id not in seen:
            seen.add(source.paper_id)
            library.add(bibtex_entry(source, bibtex_key(source.title, source.paper, taken)))
    return bibtexparser.write_string(library) if library.entries else ""


def answer_bibtex(answer: Answer) -> str:
    """The papers an answer cites, as BibTeX entries (empty when it cites none)."""
    return papers_bibtex(answer.cited_sources())
