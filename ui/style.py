"""The app's stylesheet: a calm, readable answer column and compact source cards."""

CSS = """
.app-header { padding: 4px 4px 0; }
.app-header h1 { font-size: 1.5rem; font-weight: 600; margin: 0 0 2px; letter-spacing: -0.01em; }
.app-header p { margin: 0; color: var(--body-text-color-subdued); font-size: 0.92rem; max-width: 62ch; }
.side-head { font-size: 1rem; font-weight: 600; margin: 10px 0 2px; }

/* answer column */
#chat { font-size: 1rem; line-height: 1.6; }
#chat .message-content, #chat .prose { max-width: 70ch; }
#chat a.cite { text-decoration: none; font-weight: 600; color: var(--color-accent); padding: 0 1px;
  border-radius: 3px; }
#chat a.cite:hover { background: var(--color-accent-soft); }
#chat .citations { margin-top: 0.6em; padding-top: 0.5em; border-top: 1px solid var(--border-color-primary);
  font-size: 0.9rem; }
#chat .citations-head { margin: 0 0 0.2em; font-weight: 600; color: var(--body-text-color-subdued);
  font-size: 0.8rem; text-transform: uppercase; letter-spacing: 0.04em; }
#chat .citations ul { list-style: none; padding-left: 0; margin: 0; }
#chat .citations li { margin: 0.35em 0; }
#chat .cite-title { font-weight: 600; }
#chat .cite-quote { color: var(--body-text-color-subdued); font-style: italic; }
#chat .abstain { border-left: 3px solid #d9a441; padding: 0.1em 0 0.1em 0.8em; }
#chat .abstain-head { font-weight: 600; margin: 0; }
#chat .abstain-note { margin: 0.2em 0 0; color: var(--body-text-color-subdued); font-size: 0.92rem; }
#chat .grade { display: inline-block; margin: 0 0 0.4em; padding: 0.05em 0.6em; border-radius: 999px;
  font-size: 0.78rem; font-weight: 600; text-transform: uppercase; letter-spacing: 0.04em; }
#chat .grade-partial { background: #fef3c7; color: #78350f; }
#chat .grade-evidence { background: #e0e7ff; color: #312e81; }
#chat .answer-partial { border-left: 3px solid #d9a441; padding-left: 0.8em; }
#chat .answer-evidence { border-left: 3px solid #6366f1; padding-left: 0.8em; font-style: italic; }
#chat .removed { margin-top: 0.5em; font-size: 0.85rem; color: var(--body-text-color-subdued); }
#chat .removed summary { cursor: pointer; }
#chat .removed ul { margin: 0.3em 0 0; padding-left: 1.2em; }
#chat .removed-claim { text-decoration: line-through; }
#chat .chat-error { border-left: 3px solid #c2410c; padding: 0.1em 0 0.1em 0.8em; }
#chat .chat-placeholder { color: var(--body-text-color-subdued); text-align: center; max-width: 46ch;
  margin: 0 auto; }
#detail { min-height: 2.4em; }
#detail .detail { margin: 4px 2px 0; font-size: 0.8rem; color: var(--body-text-color-subdued); }
#detail q.query { font-style: italic; }
#chat-buttons { gap: 8px; }

/* sources column */
#sources-col { max-height: calc(58vh + 150px); overflow-y: auto; }
#sources .turn-head { font-size: 0.8rem; text-transform: uppercase; letter-spacing: 0.04em; font-weight: 600;
  color: var(--body-text-color-subdued); margin: 2px 0 8px; }
#sources .turn-head q { text-transform: none; letter-spacing: 0; font-weight: 400; }
#sources .sources-empty { color: var(--body-text-color-subdued); font-size: 0.92rem; padding: 12px 4px; }
#sources .card { background: var(--block-background-fill); border: 1px solid var(--border-color-primary);
  border-radius: 10px; padding: 10px 12px; margin: 0 0 10px; scroll-margin-top: 12px;
  transition: box-shadow 0.3s, border-color 0.3s; }
#sources .card.cited { border-color: var(--color-accent); }
#sources .card:target { box-shadow: 0 0 0 3px var(--color-accent-soft); border-color: var(--color-accent); }
#sources .card-head { display: flex; align-items: baseline; gap: 8px; }
#sources .rank { flex: none; min-width: 1.6em; text-align: center; font-weight: 700; font-size: 0.85rem;
  border-radius: 999px; background: var(--color-accent-soft); color: var(--color-accent); padding: 0 6px; }
#sources .card-title { flex: 1; font-weight: 600; line-height: 1.35; }
#sources .badge { flex: none; font-size: 0.72rem; font-weight: 600; color: var(--color-accent);
  text-transform: uppercase; letter-spacing: 0.04em; }
#sources .score { flex: none; font-size: 0.78rem; color: var(--body-text-color-subdued);
  font-variant-numeric: tabular-nums; }
#sources .abstract { margin: 6px 0 4px; font-size: 0.88rem; line-height: 1.55; color: var(--body-text-color); }
#sources .abstract summary { cursor: pointer; list-style: none; }
#sources .abstract summary::-webkit-details-marker { display: none; }
#sources .abstract .preview { display: -webkit-box; -webkit-line-clamp: 3; -webkit-box-orient: vertical;
  overflow: hidden; color: var(--body-text-color-subdued); }
#sources .abstract[open] .preview { display: none; }
#sources .abstract[open] summary::before { content: "Abstract"; font-size: 0.72rem; text-transform: uppercase;
  letter-spacing: 0.04em; color: var(--body-text-color-subdued); }
#sources .abstract-text { margin: 2px 0 0; }
#sources .abstract mark { background: #fdf0b5; color: inherit; padding: 0 1px; border-radius: 2px; }
#sources .evidence { margin: 6px 0 2px; padding-left: 8px; border-left: 3px solid var(--color-accent-soft);
  font-size: 0.85rem; line-height: 1.5; }
#sources .evidence mark { background: #fdf6d3; color: inherit; padding: 0 1px; border-radius: 2px; }
#sources .card-foot { margin: 0; font-size: 0.72rem; color: var(--body-text-color-subdued); }
#sources details.earlier { margin: 12px 0 8px; }
#sources details.earlier summary { cursor: pointer; font-size: 0.85rem; color: var(--body-text-color-subdued); }

/* side panel */
#collection-status p { margin: -4px 2px 4px; font-size: 0.8rem; color: var(--body-text-color-subdued); }
#collection-status .status-error { color: #c2410c; }
#status p { margin: 0.25em 0; font-size: 0.88rem; }
#status .muted { color: var(--body-text-color-subdued); }
#status .hint { font-size: 0.8rem; color: var(--body-text-color-subdued); }
#status .status-error, #upload-report .upload-error { color: #c2410c; }
#upload-report { font-size: 0.88rem; }
#upload-report ul { margin: 0.2em 0; padding-left: 1.1em; font-family: var(--font-mono); font-size: 0.78rem; }

/* paper metadata: authors, year, venue, link */
#sources .card-meta { margin: 3px 0 0; font-size: 0.8rem; color: var(--body-text-color-subdued); line-height: 1.4; }
#sources .card-meta a, #chat .cite-meta a { color: var(--color-accent); text-decoration: none; }
#sources .card-meta a:hover, #chat .cite-meta a:hover { text-decoration: underline; }
#chat .cite-meta { font-size: 0.8rem; color: var(--body-text-color-subdued); }

/* a marker's popover: the paper and the sentence that supports the claim (hover, focus, tap; Escape closes) */
#chat a.cite { position: relative; -webkit-tap-highlight-color: transparent; }
#chat a.cite.pop-above > .cite-pop { top: auto; bottom: calc(100% + 4px); }
#chat a.cite:focus-visible { outline: 2px solid var(--color-accent); outline-offset: 1px; }
#chat .cite-pop { display: none; position: absolute; z-index: 60; left: 0; top: calc(100% + 4px);
  width: max-content; max-width: min(26rem, 80vw); padding: 8px 10px; border-radius: 8px;
  background: var(--background-fill-primary); color: var(--body-text-color);
  border: 1px solid var(--border-color-primary); box-shadow: 0 6px 20px rgba(0, 0, 0, 0.16);
  font-weight: 400; font-size: 0.85rem; line-height: 1.45; white-space: normal; text-align: left; cursor: default; }
#chat a.cite:hover > .cite-pop, #chat a.cite:focus > .cite-pop, #chat a.cite.pop-open > .cite-pop { display: block; }
#chat a.cite.pop-closed > .cite-pop { display: none; }
#chat .pop-title { display: block; font-weight: 600; }
#chat .pop-meta { display: block; color: var(--body-text-color-subdued); font-size: 0.78rem; }
#chat .pop-quote { display: block; margin-top: 4px; font-style: italic; }

/* an answer's export buttons */
#chat .answer-tools { display: flex; flex-wrap: wrap; gap: 6px; margin-top: 0.7em; }
#chat .answer-tools button { font-size: 0.8rem; padding: 2px 10px; border-radius: 999px; cursor: pointer;
  border: 1px solid var(--border-color-primary); background: var(--button-secondary-background-fill);
  color: var(--body-text-color); }
#chat .answer-tools button:hover { border-color: var(--color-accent); color: var(--color-accent); }
#chat .answer-tools button:focus-visible { outline: 2px solid var(--color-accent); outline-offset: 1px; }

/* saved chats in the side panel */
#chat-list .wrap { flex-direction: column; gap: 4px; }
#chat-list label { width: 100%; font-size: 0.85rem; }
#chats-empty p { margin: 0; font-size: 0.8rem; color: var(--body-text-color-subdued); }

/* narrow windows: sources drop below the chat */
@media (max-width: 760px) {
  #sources-col { max-height: none; overflow: visible; }
  .app-header h1 { font-size: 1.25rem; }
}
@media (prefers-color-scheme: dark) {
  #sources .abstract mark { background: #5c4a12; }
  #sources .evidence mark { background: #463a16; }
}
"""
