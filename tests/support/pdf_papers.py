"""Small paper PDFs made with fpdf2 for the tests: title, authors, abstract and first section laid out like
real papers (a single-column preprint, an IEEE-style two-column paper with arXiv's margin stamp), and
the broken kinds (no abstract, no text layer, encrypted, not a PDF). Texts come from the seed papers."""

from __future__ import annotations

import textwrap
from pathlib import Path

from fpdf import FPDF

from rag.corpus import Paper, load_corpus
from tests.conftest import SEEDS

BODY = ("Large-scale pretraining has made language models fluent, yet they still fail on simple relational "
        "queries. We study why, and what an architecture needs to avoid it. ") * 6


def seed_paper(title_start: str) -> Paper:
    """The seed paper whose title starts with ``title_start``."""
    return next(p for p in load_corpus([SEEDS]).papers if p.title.startswith(title_start))


def write_lines(pdf: FPDF, lines: list[str], x: float, height: float) -> None:
    for line in lines:
        pdf.set_x(x)
        pdf.cell(0, height, line, new_x="LMARGIN", new_y="NEXT")


def hyphenate(lines: list[str], word: str, cut: int) -> list[str]:
    """Break ``word`` across the end of the line that holds it after ``cut`` letters, adding a hyphen unless
    the break is at one of the word's own."""
    for i, line in enumerate(lines):
        if word in line.split() and i + 1 < len(lines):
            head, _, tail = line.partition(word)
            lines[i] = f"{head}{word[:cut]}" + ("" if word[cut - 1] == "-" else "-")
            lines[i + 1] = f"{word[cut:]}{tail} {lines[i + 1]}".replace("  ", " ")
            return lines
    raise ValueError(f"{word!r} not found in the wrapped text")


def single_column(path: Path) -> Paper:
    """A preprint: metadata title, 16 pt title on two lines, "Abstract" heading, "1 Introduction". Two words are
    hyphenated at line ends: "generali-zation" (joined back) and "large-scale" (written so elsewhere: kept)."""
    paper = seed_paper("Is the Reversal Curse")
    pdf = FPDF()
    pdf.set_title(paper.title)
    pdf.set_author("Boshi Wang and Huan Sun")
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.multi_cell(0, 8, paper.title, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=11)
    pdf.multi_cell(0, 6, "Boshi Wang   Huan Sun\nThe Ohio State University", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font("Helvetica", "B", 12)
    pdf.cell(0, 7, "Abstract", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=10)
    lines = textwrap.wrap(paper.abstract, 95, break_on_hyphens=False)
    lines = hyphenate(hyphenate(lines, "generalization", 8), "large-scale", 6)
    write_lines(pdf, lines, 25, 5)
    pdf.ln(4)
    pdf.set_font("Helvetica", "B", 12)
    pdf.cell(0, 7, "1 Introduction", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=10)
    pdf.multi_cell(0, 5, BODY)
    pdf.output(str(path))
    return paper


def two_column(path: Path) -> Paper:
    """An IEEE-style paper: arXiv's rotated stamp in the margin, no metadata title, 22 pt title, "Abstract—" run
    into the text in the left column, "Index Terms—", "I. INTRODUCTION"; the right column's lines sit beside it."""
    paper = seed_paper("Transformers Can Do Bayesian")
    pdf = FPDF(format="letter")
    pdf.core_fonts_encoding = "windows-1252"  # the em dash of "Abstract—"
    pdf.add_page()
    with pdf.rotation(90, 10, 190):
        pdf.set_font("Times", size=20)
        pdf.set_text_color(128)
        pdf.text(10, 190, "arXiv:2112.10510v3  [cs.LG]  16 Sep 2024")
    pdf.set_text_color(0)
    pdf.set_font("Times", "B", 22)
    pdf.set_xy(15, 18)
    pdf.multi_cell(185, 9, paper.title, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Times", size=11)
    pdf.multi_cell(185, 6, "Samuel Müller, Noah Hollmann, Sebastian Pineda Arango, Josif Grabocka, Frank Hutter",
                   align="C", new_x="LMARGIN", new_y="NEXT")
    top = pdf.get_y() + 6
    pdf.set_font("Times", "B", 9)
    left = textwrap.wrap("Abstract\u2014" + paper.abstract, 62, break_on_hyphens=False)
    pdf.set_y(top)
    write_lines(pdf, left, 15, 4.2)
    write_lines(pdf, ["Index Terms\u2014Bayesian inference, transformers, meta-learning."], 15, 4.2)
    pdf.ln(3)
    pdf.set_font("Times", size=10)
    write_lines(pdf, ["I. INTRODUCTION"], 40, 5)
    write_lines(pdf, textwrap.wrap(BODY[:500], 60), 15, 4.2)
    pdf.set_y(top)
    write_lines(pdf, textwrap.wrap(BODY * 2, 60)[:60], 112, 4.2)
    pdf.output(str(path))
    return paper


def no_abstract(path: Path) -> None:
    """A paper that starts with its introduction: no "Abstract" heading at all."""
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 10, "Notes on Convergent Graph Solvers", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "B", 12)
    pdf.cell(0, 7, "1 Introduction", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=10)
    pdf.multi_cell(0, 5, BODY)
    pdf.output(str(path))


def scanned(path: Path) -> None:
    """A page with drawings and no text layer, as a scan without OCR gives."""
    pdf = FPDF()
    pdf.add_page()
    for i in range(20):
        pdf.rect(20, 20 + 10 * i, 170, 4, style="F")
    pdf.output(str(path))


def encrypted(path: Path) -> None:
    """A password-protected PDF (a user password is needed to open it)."""
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.cell(0, 10, "Abstract")
    pdf.set_encryption(owner_password="owner", user_password="reader")
    pdf.output(str(path))


def not_a_pdf(path: Path) -> None:
    """An HTML error page saved under a .pdf name, as a failed download leaves."""
    path.write_text("<!DOCTYPE html><html><body>403 Forbidden</body></html>\n")
