"""Text utilities shared by chunking, BM25 and citation checking (sentences and stemmed terms), and names made
safe to print."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from functools import lru_cache

import Stemmer

ABBREVIATIONS = (
    "e.g.", "i.e.", "et al.", "etc.", "vs.", "cf.", "fig.", "figs.", "eq.", "eqs.", "sec.", "no.", "approx.", "resp.",
    "dr.", "prof.", "mr.", "ms.", "st.", "al.", "i.i.d.", "w.r.t.", "a.k.a.",
)
SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")
WORD = re.compile(r"[^\W_]+", re.UNICODE)

# English stopwords plus words that carry no topic in abstracts or answers.
STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have having he
    her here hers herself him himself his how i if in into is it its itself just me more most my myself no nor not
    now of off on once only or other our ours ourselves out over own same she should so some such than that the
    their theirs them themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself yourselves may might must
    shall via thus hence however within without across upon onto per among whether either neither yet paper
    papers work study propose proposes proposed present presents presented show shows shown use uses used using
    based new approach method methods""".split()
)


INVISIBLE = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})  # controls, format (bidi) marks, surrogates, separators


def printable(text: str) -> str:
    """``text`` with control characters, invisible format characters (bidi overrides, zero-width ones), lone
    surrogates and line separators escaped as Python writes them (``\\x1b``, ``\\n``, ``\\u202e``): safe to
    show in a terminal, a report or a page. Other text is kept as it is."""
    if text.isprintable() and not any(unicodedata.category(ch) == "Cf" for ch in text):
        return text
    return "".join(repr(ch)[1:-1] if unicodedata.category(ch) in INVISIBLE else ch for ch in text)


def split_sentences(text: str) -> list[str]:
    """Split prose into sentences, keeping abbreviations such as "e.g." and "et al." intact."""
    pieces = SENTENCE_END.split(text.strip())
    sentences: list[str] = []
    for piece in pieces:
        if sentences and ends_with_abbreviation(sentences[-1]):
            sentences[-1] = f"{sentences[-1]} {piece}"
        else:
            sentences.append(piece)
    return [s.strip() for s in sentences if s.strip()]


def ends_with_abbreviation(text: str) -> bool:
    """Whether the text's last word is an abbreviation ("e.g.", "(cf.", "et al."), not a word that merely ends
    like one ("problems." is not "ms.", "general." is not "al.")."""
    words = text.casefold().split()
    return bool(words) and words[-1].lstrip("([{\"'") in ABBREVIATIONS


@lru_cache(maxsize=1)
def stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


def content_terms(text: str) -> list[str]:
    """Lower-cased, stemmed words without stopwords: the vocabulary of lexical matching."""
    words = [w for w in WORD.findall(text.casefold()) if w not in STOPWORDS and (len(w) > 1 or w.isdigit())]
    return stemmer().stemWords(words)


def most_relevant_sentence(text: str, query: str, weight: Callable[[str], float] | None = None) -> str:
    """The sentence of ``text`` sharing the most of ``query``'s content terms, each weighted (e.g. by IDF);
    the earlier one on ties, "" when none shares a term."""
    wanted = set(content_terms(query))
    weigh = weight or (lambda term: 1.0)
    scored = [(sum(weigh(t) for t in wanted & set(content_terms(s))), -i, s)
              for i, s in enumerate(split_sentences(text))]
    best = max(scored, default=(0.0, 0, ""))
    return best[2] if best[0] > 0 else ""
