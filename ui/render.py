"""Turning sources and answers into safe HTML: source cards with highlighted quotes, `[n]` links with
popovers, and each answer's export buttons.

Everything that comes from papers or the model is escaped here; the only markup in the output
is our own. Card ids are ``q<turn>-s<rank>`` so a marker in answer *turn* links to its card.

Chat messages pass Gradio's sanitizer, which keeps ``a``, ``span``, ``button`` and attributes such as
``class``, ``href``, ``value``, ``name``, ``role`` and ``tabindex`` (not ``data-*`` or ``aria-*``):
a marker's popover is a ``span`` inside its link, shown by CSS on hover and focus; the export
buttons carry their text in ``value`` and are handled by the page script (`ui.script`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from html import escape

from rag import MARKER, Answer, Citation, PaperInfo, Source, Timings, answer_bibtex, answer_markdown, parse_numbers

CURSOR = "▍"
STOPPED_NOTE = "*(stopped)*"


def card_id(turn: int, rank: int) -> str:
    """The HTML id of the card of source ``rank`` in conversation turn ``turn``."""
    return f"q{turn}-s{rank}"


def link_markers(text: str, turn: int, ranks: Iterable[int], popovers: dict[int, str] | None = None) -> str:
    """Escape ``text`` and turn each ``[n]`` naming a shown source into a link to its card, with the
    popover ``popovers[n]`` (`popover`) inside it if there is one."""
    known = set(ranks)
    popovers = popovers or {}

    def link(match: re.Match[str]) -> str:
        numbers = parse_numbers(match.group(1))
        if not numbers or any(n not in known for n in numbers):
            return match.group(0)
        return "".join(
            f'<a class="cite" href="#{card_id(turn, n)}">[{n}]{popovers[n]}</a>' if n in popovers
            else f'<a class="cite" href="#{card_id(turn, n)}" title="Source {n}">[{n}]</a>'
            for n in numbers
        )

    return MARKER.sub(link, escape(text, quote=False))


def popover(citation: Citation) -> str:
    """What hovering or focusing a marker shows: the paper's title, authors and year, and the supporting
    sentence (a ``span`` inside the marker's link, shown by CSS)."""
    about = paper_summary(citation.paper)
    return (
        f'<span class="cite-pop" role="tooltip"><span class="pop-title">{escape(citation.title)}</span>'
        + (f'<span class="pop-meta">{escape(about)}</span>' if about else "")
        + (f'<span class="pop-quote">“{escape(citation.quote)}”</span>' if citation.quote else "")
        + "</span>"
    )


def paper_summary(paper: PaperInfo) -> str:
    """``A, B et al. · 2022 · Venue`` (the parts that are known)."""
    return " · ".join(part for part in (paper.short_authors(), str(paper.year or ""), paper.venue or "") if part)


def paper_link(paper: PaperInfo) -> str:
    """The paper's link, opening in a new tab, named by its identifier (empty when it has none)."""
    if not paper.link:
        return ""
    return (f'<a class="paper-link" href="{escape(paper.link)}" target="_blank" rel="noopener noreferrer">'
            f"{escape(paper.link_label())}</a>")


def paper_meta(paper: PaperInfo, css: str) -> str:
    """Authors, year, venue and link on one line, or nothing when none is known."""
    parts = [escape(part) for part in (paper.short_authors(), str(paper.year or ""), paper.venue or "") if part]
    if link := paper_link(paper):
        parts.append(link)
    return f'<span class="{css}">{" · ".join(parts)}</span>' if parts else ""


def streaming_message(raw: str, turn: int, ranks: Iterable[int]) -> str:
    """The answer as it streams: raw model text with linked markers and a cursor."""
    return link_markers(raw, turn, ranks) + CURSOR


def waiting_message(sources: int) -> str:
    """Shown between the sources arriving and the first answer token."""
    return f"*Found {sources} source{'s' if sources != 1 else ''}; writing the answer…*{CURSOR}"


def second_look_message(sources: int) -> str:
    """Shown when the model's first reply said the collection does not answer and it reads the best sources
    again."""
    return f"*Reading the best {sources} source{'s' if sources != 1 else ''} again…*{CURSOR}"


def judging_message(raw: str, turn: int, ranks: Iterable[int], done: int, papers: int) -> str:
    """The reply so far, while the model judges the sources one by one: which ones a "which papers" question asks
    for, or what each says of a yes/no claim (no reply then)."""
    what = (f"Checking which of the {papers} sources the question asks for" if raw.strip() else
            f"Weighing the claim against the best {papers} source{'s' if papers != 1 else ''}")
    return link_markers(raw, turn, ranks) + f"\n\n*{what} ({done + 1} of {papers})…*{CURSOR}"


def completing_message(raw: str, turn: int, ranks: Iterable[int], part: str) -> str:
    """The reply so far, while the model reads a comparison's missing side alone."""
    return link_markers(raw.rstrip(), turn, ranks) + f"\n\n*Reading about {escape(part)} alone…*{CURSOR}"


def citation_list(answer: Answer, turn: int) -> str:
    """The checked citations under an answer: marker link, title, authors, year, venue, link and the
    supporting sentence (unless the answer already quotes it)."""
    items = "".join(
        f'<li><a class="cite" href="#{card_id(turn, c.number)}">[{c.number}]</a> '
        f'<span class="cite-title">{escape(c.title)}</span>'
        + (f"<br>{meta}" if (meta := paper_meta(c.paper, "cite-meta")) else "")
        + (f'<br><q class="cite-quote">{escape(c.quote)}</q>' if c.quote and not answer.quotes_already(c) else "")
        + "</li>"
        for c in answer.citations
    )
    return f'<div class="citations"><p class="citations-head">Checked citations</p><ul>{items}</ul></div>'


def attribute(text: str) -> str:
    """Text as an attribute value on one line (newlines as ``&#10;``: a blank line would end Markdown's HTML
    block)."""
    return escape(text, quote=True).replace("\r", "").replace("\n", "&#10;")


def answer_tools(answer: Answer, turn: int) -> str:
    """The buttons under an answer: Copy as Markdown, and Download .bib when it cites papers."""
    buttons = [f'<button type="button" class="copy-md" value="{attribute(answer_markdown(answer))}">'
               "Copy as Markdown</button>"]
    if bibtex := answer_bibtex(answer):
        buttons.append(f'<button type="button" class="download-bib" name="answer-{turn}.bib" '
                       f'value="{attribute(bibtex)}">Download .bib</button>')
    return f'<div class="answer-tools">{"".join(buttons)}</div>'


GRADE_HINTS = {
    "partial": "The checked claims below answer part of the question; the note at the end says which part the "
               "abstracts do not give.",
    "evidence": "The model's reply could not be checked; these are the best paper's own sentences.",
}


def grade_label(answer: Answer) -> str:
    """A label above an answer that is not a plain checked answer: partly answered, or quoted evidence."""
    if not answer.grade_label:
        return ""
    hint = GRADE_HINTS.get(answer.grade, "")
    return f'<p class="grade grade-{answer.grade}" title="{attribute(hint)}">{escape(answer.grade_label)}</p>'


def removed_claims(answer: Answer) -> str:
    """An expandable list of the claims the check removed, each with its reason (empty when none was)."""
    removed = answer.removed()
    if not removed:
        return ""
    items = "".join(f'<li><q class="removed-claim">{escape(hit.claim)}</q> <span class="removed-why">'
                    f"{escape(hit.reason)} ({escape(hit.rule)})</span></li>" for hit in removed)
    count = f"{len(removed)} claim{'s' if len(removed) != 1 else ''} removed"
    return (f'<details class="removed"><summary>{count} by the citation check</summary>'
            f"<ul>{items}</ul></details>")


def answer_message(answer: Answer, turn: int) -> str:
    """The final chat message: the checked answer (or the abstention) replacing the streamed text, marked by its
    grade, with the claims the check removed and the export buttons."""
    if answer.abstained:
        return (
            f'<div class="abstain"><p class="abstain-head">{escape(answer.answer)}</p>'
            + ('<p class="abstain-note">The closest sources are listed with the answer.</p>' if answer.sources
               else "")
            + "</div>" + removed_claims(answer) + "\n\n" + answer_tools(answer, turn)
        )
    ranks = [s.rank for s in answer.sources]
    popovers = {c.number: popover(c) for c in answer.citations}
    text = link_markers(answer.answer, turn, ranks, popovers)
    body = f'<div class="answer-{answer.grade}">{text}</div>' if answer.grade_label else text
    return (grade_label(answer) + body + "\n\n" + citation_list(answer, turn) + removed_claims(answer)
            + "\n\n" + answer_tools(answer, turn))


def notices_html(notices: list[str]) -> str:
    """Notes on how the question was handled (shortened question, sources cut to fit), under the answer."""
    if not notices:
        return ""
    items = "".join(f"<li>{escape(n)}</li>" for n in notices)
    return f'<div class="notices"><ul>{items}</ul></div>'


def stopped_message(text: str, turn: int, ranks: Iterable[int]) -> str:
    """What a stopped answer leaves: the words written so far and a note."""
    return f"{link_markers(text.rstrip(), turn, ranks)} {STOPPED_NOTE}".strip()


def turn_message(entry: TurnSources) -> str:
    """The chat message of a finished turn, from what it kept (used to show a saved chat again)."""
    if entry.status == "answered" and entry.result is not None:
        return answer_message(entry.result, entry.turn) + notices_html(entry.result.notices)
    if entry.status == "stopped":
        return stopped_message(entry.text, entry.turn, [s.rank for s in entry.sources])
    return error_message(entry.text or "The question was not answered.")


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
    """One question of the chat: its sources, and once it is done, how it ended (``status``: answered, stopped
    or failed) with the checked `Answer` (``result``) or what was shown instead (``text``)."""

    turn: int
    question: str
    sources: list[Source]
    citations: list[Citation] = field(default_factory=list)
    done: bool = False
    answer: str = ""
    result: Answer | None = None
    status: str = ""
    text: str = ""


def source_card(source: Source, turn: int, citations: Sequence[Citation]) -> str:
    """One card: rank, title, score, the sentence most relevant to the question (until the answer cites the
    paper), and the abstract with the cited sentences highlighted."""
    quotes = [c.quote for c in citations if c.number == source.rank]
    cited = bool(quotes) or any(c.number == source.rank for c in citations)
    badge = '<span class="badge">cited</span>' if cited else ""
    evidence = (f'<p class="evidence" title="The sentence of this abstract most relevant to your question">'
                f"<mark>{escape(source.evidence)}</mark></p>") if source.evidence and not cited else ""
    return (
        f'<article class="card{" cited" if cited else ""}" id="{card_id(turn, source.rank)}">'
        f'<div class="card-head"><span class="rank">{source.rank}</span>'
        f'<span class="card-title">{escape(source.title)}</span>{badge}'
        f'<span class="score" title="fused retrieval score (reciprocal rank fusion)">{source.score:.3f}</span></div>'
        + (f'<p class="card-meta">{meta}</p>' if (meta := paper_meta(source.paper, "meta")) else "") + evidence +
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
                "is drawn from, each with its sentence closest to your question, then the cited sentences "
                "highlighted.</p></div>")
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


def filters_text(source: str | None = None, year_from: int | None = None, year_to: int | None = None,
                 author: str | None = None) -> str:
    """The active filters in words ("only 2020-2023, by “hinton”"), or empty."""
    parts = []
    if source:
        parts.append(f"from {source}")
    if year_from and year_to:
        parts.append(f"{year_from}-{year_to}" if year_from != year_to else f"of {year_from}")
    elif year_from:
        parts.append(f"{year_from} or later")
    elif year_to:
        parts.append(f"{year_to} or earlier")
    if author:
        parts.append(f"by “{author}”")
    return "only papers " + ", ".join(parts) if parts else ""


def detail_line(question: str, retrieval_query: str, timings: Timings | None = None,
                model: str | None = None, filters: str = "") -> str:
    """The small line under the chat: what was searched for (with which filters), and how long it took."""
    label = "searched for (with the earlier question)" if retrieval_query != question else "searched for"
    parts = [f'{label} <q class="query">{escape(retrieval_query)}</q>']
    if filters:
        parts.append(escape(filters))
    if timings is not None:
        parts.append(f"sources in {timings.retrieval_ms:.0f} ms")
        if timings.first_token_ms is not None:
            parts.append(f"first word after {timings.first_token_ms / 1000:.1f} s")
        parts.append(f"done in {timings.total_ms / 1000:.1f} s")
    if model:
        parts.append(escape(model))
    return '<p class="detail">' + " · ".join(parts) + "</p>"
