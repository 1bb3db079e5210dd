"""LaTeX in bibliographic text (BibTeX fields, arXiv author names) decoded to plain text with pylatexenc.

``{\\"u}`` -> ``ü``, ``{GPT}`` -> ``GPT``, ``\\emph{x}`` -> ``x``, ``--`` -> ``–``, ``\\url{u}`` -> ``u``; math
(``$O(n^2)$``) is kept as written. Text without any LaTeX markup is returned as it is, unparsed: parsing
is by far the slowest step of reading a BibTeX library (~30 ms for an abstract).
"""

from __future__ import annotations

import re

from pylatexenc.latex2text import LatexNodes2Text, MacroTextSpec, get_default_latex_context_db

MARKUP = re.compile(r"[\\{}~%$`]|--|''")


class LatexDecoder(LatexNodes2Text):
    """pylatexenc's decoder that leaves text without LaTeX markup alone."""

    def latex_to_text(self, latex: str, **kwargs) -> str:
        if not MARKUP.search(latex):
            return latex
        return super().latex_to_text(latex, **kwargs)


def make_decoder() -> LatexDecoder:
    """bibtexparser's default decoding settings: braces dropped, math verbatim, ``\\url{u}`` as ``u``."""
    context = get_default_latex_context_db()
    context.add_context_category("rag-bibliographic", prepend=True, macros=[MacroTextSpec("url", simplify_repl="%s")])
    return LatexDecoder(latex_context=context, keep_braced_groups=False, math_mode="verbatim")


DECODER = make_decoder()


def decode_latex(text: str) -> str:
    """Plain text of a LaTeX string; the string as written if pylatexenc cannot parse it."""
    try:
        return DECODER.latex_to_text(text)
    except Exception:  # pylatexenc gives up on odd input (unbalanced groups): keep the text
        return text
