"""Turning sources and answers into safe HTML: source cards with highlighted quotes, `[n]` links.

Everything that comes from papers or the model is escaped here; the only markup in the output
is our own. Card ids are ``q<turn>-s<rank>`` so a marker in answer *turn* links to its card.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from html import escape

from rag import MARKER, Answer, Citation, Source, Timings, parse_numbers

CURSOR = "▍"
STOPPED_NOTE = "*(stopped)*"


def card_id(turn: int, rank: int) -> str:
    """The HTML id of the card of source ``rank`` in conversation turn ``turn``."""
    return f"q{turn}-s{rank}"


def link_markers(text: str, turn: int, ranks: Iterable[int]) -> str:
    """Escape ``text`` and turn each ``[n]`` naming a shown source into a link to its card."""
    known = set(ranks)

    def link(match: re.Match[str]) -> str:
        numbers = parse_numbers(match.group(1))
        if not numbers or any(n not in known for n in numbers):
            return match.group(0)
        return "".join(f'<a class="cite" href="#{card_id(turn, n)}" title="Source {n}">[{n}]</a>' for n in numbers)

    return MARKER.sub(link, escape(text, quote=False))


def streaming_message(raw: str, turn: int, ranks: Iterable[int]) -> str:
    """The answer as it streams: raw model text with linked markers and a cursor."""
    return link_markers(raw, turn, ranks) + CURSOR


def waiting_message(sources: int) -> str:
    """Shown between the sources arriving and the first answer token."""
    return f"*Found {sources} source{'s' if sources != 1 else ''}; writing the answer…*{CURSOR}"


def citation_list(citations: Sequence[Citation], turn: int) -> str:
    """The checked citations under an answer: marker link, title and the supporting sentence."""
    items = "".join(
        f'<li><a class="cite" href="#{card_id(turn, c.number)}">[{c.number}]</a> '
        f'<span class="cite-title">{escape(c.title)}</span>'
        + (f'<br><q class="cite-quote">{escape(c.quote)}</q>' if c.quote else "")
        + "</li>"
        for c in citations
    )
    return f'<div class="citations"><p class="citations-head">Checked citations</p><ul>{items}</ul></div>'


def answer_message(answer: Answer, turn: int) -> str:
    """The final chat message: the checked answer (or the abstention) replacing the streamed text."""
    if answer.abstained:
        return (
            f'<div class="abstain"><p class="abstain-head">{escape(answer.answer)}</p>'
            + ('<p class="abstain-note">The closest sources are listed with the answer.</p>' if answer.sources
               else "")
            + "</div>"
        )
    ranks = [s.rank for s in answer.sources]
    return link_markers(answer.answer, turn, ranks) + "\n\n" + citation_list(answer.citations, turn)


def error_message(text: str) -> str:
    """A readable error in the chat (never a stack trace)."""
    return f'<div class="chat-error"><p>{escape(text)}</p></div>'


def highlight(abstract: str, quotes: Iterable[str]) -> str:
    """The escaped abstract with every quoted sentence wrapped in ``<mark>``."""
    spans: list[tuple[int, int]] = []
    for quote in quotes:
        quote = quote.strip()
        start = abstract.find(quote) if quote else -1
        if start >= 0:
            spans.append((start, start + len(quote)))
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    out, position = [], 0
    for start, end in merged:
        out.append(escape(abstract[position:start]))
        out.append(f"<mark>{escape(abstract[start:end])}</mark>")
        position = end
    out.append(escape(abstract[position:]))
    return "".join(out)


@dataclass
class TurnSources:
    """The sources of one question, and the checked citations once its answer is done."""

    turn: int
    question: str
    sources: list[Source]
    citations: list[Citation] = field(default_factory=list)
    done: bool = False
    answer: str = ""


def source_card(source: Source, turn: int, citations: Sequence[Citation]) -> str:
    """One card: rank, title, score, and the abstract with the cited sentences highlighted."""
    quotes = [c.quote for c in citations if c.number == source.rank]
    cited = bool(quotes) or any(c.number == source.rank for c in citations)
    badge = '<span class="badge">cited</span>' if cited else ""
    return (
        f'<article class="card{" cited" if cited else ""}" id="{card_id(turn, source.rank)}">'
        f'<div class="card-head"><span class="rank">{source.rank}</span>'
        f'<span class="card-title">{escape(source.title)}</span>{badge}'
        f'<span class="score" title="fused retrieval score (reciprocal rank fusion)">{source.score:.3f}</span></div>'
        f'<details class="abstract"{" open" if cited else ""}>'
        f'<summary><span class="preview">{escape(source.abstract)}</span></summary>'
        f'<p class="abstract-text">{highlight(source.abstract, quotes)}</p></details>'
        f'<p class="card-foot">{escape(source.paper_id)}</p>'
        "</article>"
    )


def turn_cards(entry: TurnSources) -> str:
    cards = "".join(source_card(s, entry.turn, entry.citations) for s in entry.sources)
    return cards or '<p class="empty">No papers matched.</p>'


def sources_panel(turns: Sequence[TurnSources]) -> str:
    """The sources column: the latest question's cards, earlier questions' cards folded away."""
    if not turns:
        return ('<div class="sources-empty"><p>Sources appear here as soon as you ask: the papers the answer '
                "is drawn from, with the cited sentences highlighted.</p></div>")
    latest, earlier = turns[-1], turns[:-1]
    parts = [
        f'<section class="turn latest"><p class="turn-head">Sources for <q>{escape(latest.question)}</q></p>'
        f"{turn_cards(latest)}</section>"
    ]
    for entry in reversed(earlier):
        parts.append(
            f'<details class="turn earlier"><summary>Earlier: <q>{escape(entry.question)}</q> '
            f"({len(entry.sources)} sources)</summary>{turn_cards(entry)}</details>"
        )
    return "".join(parts)


def detail_line(question: str, retrieval_query: str, timings: Timings | None = None,
                model: str | None = None) -> str:
    """The small line under the chat: what was searched for, and how long it took."""
    label = "searched for (with the earlier question)" if retrieval_query != question else "searched for"
    parts = [f'{label} <q class="query">{escape(retrieval_query)}</q>']
    if timings is not None:
        parts.append(f"sources in {timings.retrieval_ms:.0f} ms")
        if timings.first_token_ms is not None:
            parts.append(f"first word after {timings.first_token_ms / 1000:.1f} s")
        parts.append(f"done in {timings.total_ms / 1000:.1f} s")
    if model:
        parts.append(escape(model))
    return '<p class="detail">' + " · ".join(parts) + "</p>"
