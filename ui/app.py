"""The Gradio app: chat column, source cards beside it, settings, filters, saved chats and uploads in a
side panel.

`ChatApp(assistant).build()` (or `build_app(assistant)`) lays out the components and wires them to its handler
methods, which use `ui.chat`, `ui.history`, `ui.upload` and `ui.status`; `launch(app, settings)` serves it (queue:
one generation at a time, fair order across tabs) with the page script of `ui.script` (export buttons, popover
keys and taps).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gradio as gr

from rag import SUPPORTED_EXTENSIONS, TOP_K_MAX, Assistant, ChatStore, Settings, collection_name_problem
from ui import history, render, status
from ui.chat import ChatTurn, add_question
from ui.script import SCRIPT
from ui.style import CSS
from ui.upload import ingest_files, upload_report

THEME = gr.themes.Soft(
    primary_hue="teal",
    neutral_hue="slate",
    font=[gr.themes.LocalFont("IBM Plex Sans", weights=(400, 700)), "ui-sans-serif", "system-ui", "sans-serif"],
    font_mono=[gr.themes.LocalFont("IBM Plex Mono"), "ui-monospace", "monospace"],
)
GENERATION = "generation"  # one concurrency group: chat turns and API questions share the model
HEADER = """
<header class="app-header">
  <h1>Ask the papers</h1>
  <p>Answers come only from the paper abstracts in the collection, with each citation checked against
  the abstract it names. Everything runs on this machine.</p>
</header>
"""
PLACEHOLDER = (
    "<div class='chat-placeholder'><p><b>Ask a question about the papers.</b></p>"
    "<p>For example: <i>Which papers adapt diffusion models with parameter-efficient fine-tuning?</i> "
    "Then follow up: <i>what datasets did it use?</i></p></div>"
)
UPLOAD_LABEL = "BibTeX, RIS, PDF, arXiv / OpenAlex JSON, PubMed XML, JSONL, CSV or a listing page"
ASK_HERE = "Ask about the papers…  (Enter to send)"
ANSWERING = "Answering…  (Stop interrupts)"
# Gradio opens the sidebar over the whole page on a phone; start it closed there.
CLOSE_SIDEBAR_WHEN_NARROW = """() => {
  if (window.innerWidth < 760) document.querySelector('#settings.open .toggle-button')?.click();
}"""
CHATS_NOTE = "<p>Kept on this machine only. Clear or New chat starts another; pick one to reopen it.</p>"
NO_CHATS_NOTE = "<p>No saved chats yet: each answered question is kept on this machine only.</p>"
CHATS_OFF_NOTE = "<p>Chats are not saved (RAG_CHATS_KEEP=0).</p>"
BROWSER_SECRET = "paper-rag"  # the id is a random token, not a credential: this only keeps it unreadable at a glance
TRACK_TQDM = gr.Progress(track_tqdm=True)  # Gradio fills these in per event (the seed ingest's tqdm bar shows)
PROGRESS = gr.Progress()


class ChatApp:
    """The chat UI over an assistant (which may carry a fake LLM in tests): `build` lays out the components and
    wires them to the handlers, which are this class's methods."""

    def __init__(self, assistant: Assistant):
        self.assistant = assistant
        self.settings = assistant.settings
        self.chats = ChatStore.of(self.settings) if self.settings.ui.chats_keep > 0 else None
        self.turn = ChatTurn(assistant, self.chats)

    # --- layout -----------------------------------------------------------------------------------
    def build(self) -> gr.Blocks:
        with gr.Blocks(title="Ask the papers", analytics_enabled=False) as app:
            self.turns = gr.State([])
            self.chat_id = gr.State("")
            self.browser = gr.BrowserState(None, storage_key=history.BROWSER_KEY, secret=BROWSER_SECRET)
            self.side_panel()
            gr.HTML(HEADER, js_on_load=None)
            with gr.Row(equal_height=False, elem_id="main"):
                self.chat_column()
                with gr.Column(scale=2, min_width=300, elem_id="sources-col"):
                    self.sources = gr.HTML(render.sources_panel([]), elem_id="sources", js_on_load=None)
            self.wire(app)
        return app

    def side_panel(self) -> None:
        settings = self.settings
        with gr.Sidebar(label="Settings", open=True, width=330, elem_id="settings"):
            gr.HTML("<h2 class='side-head'>Settings</h2>", js_on_load=None)
            self.top_k = gr.Slider(1, TOP_K_MAX, value=settings.retrieval.top_k, step=1,
                                   label="Sources per question (top-k)", elem_id="top-k")
            self.collection = gr.Dropdown(
                choices=[settings.store.collection], value=settings.store.collection, allow_custom_value=True,
                label="Collection", info="Type a new name to start a collection with an upload.",
                elem_id="collection",
            )
            self.collection_box = gr.HTML(elem_id="collection-status", js_on_load=None)
            self.source = gr.Dropdown(choices=[(status.ALL_FILES, "")], value="", label="Only papers from",
                                      elem_id="source-filter")
            with gr.Row(elem_id="years"):
                self.year_from = gr.Textbox(label="From year", placeholder="e.g. 2020", max_lines=1,
                                            elem_id="year-from", min_width=100)
                self.year_to = gr.Textbox(label="To year", placeholder="e.g. 2024", max_lines=1, elem_id="year-to",
                                          min_width=100)
            self.author = gr.Textbox(label="Author", placeholder="a name or part of one, e.g. Hinton", max_lines=1,
                                     elem_id="author-filter")
            gr.HTML("<h2 class='side-head'>Chats</h2>", js_on_load=None)
            self.new_chat = gr.Button("New chat", elem_id="new-chat", size="sm")
            self.chat_list = gr.Radio(choices=[], value=None, label="Saved chats", elem_id="chat-list",
                                      visible=self.chats is not None)
            self.chats_note = gr.HTML(elem_id="chats-note", js_on_load=None)
            self.delete_chat = gr.Button("Delete this chat", elem_id="delete-chat", size="sm", variant="secondary",
                                         visible=self.chats is not None)
            gr.HTML("<h2 class='side-head'>Add papers</h2>", js_on_load=None)
            self.upload = gr.File(label=UPLOAD_LABEL, file_count="multiple",
                                  file_types=list(SUPPORTED_EXTENSIONS), elem_id="upload", height=150)
            self.report = gr.HTML(elem_id="upload-report", js_on_load=None)
            gr.HTML("<h2 class='side-head'>Models</h2>", js_on_load=None)
            self.models_box = gr.HTML(elem_id="status", js_on_load=None)

    def chat_column(self) -> None:
        with gr.Column(scale=3, min_width=340, elem_id="answer-col"):
            self.chatbot = gr.Chatbot(
                elem_id="chat", show_label=False, height="58vh", min_height=320, placeholder=PLACEHOLDER,
                buttons=["copy"], feedback_options=None, latex_delimiters=[], layout="panel",
            )
            self.detail = gr.HTML(elem_id="detail", js_on_load=None)
            self.question = gr.Textbox(placeholder=ASK_HERE, show_label=False,
                                       lines=1, max_lines=4, autofocus=True, elem_id="question")
            with gr.Row(elem_id="chat-buttons"):
                self.ask = gr.Button("Ask", variant="primary", elem_id="ask-btn", scale=2)
                self.stop = gr.Button("Stop", variant="stop", elem_id="stop-btn", visible=False, scale=2)
                self.clear = gr.Button("Clear", variant="secondary", elem_id="clear-btn", scale=1)
                self.download = gr.DownloadButton("Download chat", value=None, interactive=False,
                                                  variant="secondary", elem_id="download-chat", scale=1)

    def wire(self, app: gr.Blocks) -> None:
        """Every event: saved chats, asking (the answer queued, one generation at a time), Stop and Clear, the side
        panel, uploads and the API."""
        private = {"api_visibility": "private"}
        chat_view = [self.chat_id, self.chatbot, self.turns, self.sources, self.detail, self.chat_list,
                     self.chats_note, self.download]
        app.load(self.restore, [self.browser], [self.browser, *chat_view], **private)
        self.chat_list.input(self.opened, [self.browser, self.chat_list], chat_view, queue=False, **private)
        self.delete_chat.click(self.deleted, [self.browser, self.chat_id], chat_view, queue=False, **private)

        # show the question at once, then queue the answer; while it is written the input is locked (as in
        # gr.ChatInterface), Stop replaces Ask, and other chats cannot be opened or deleted. always_last: a question
        # sent while the previous one is being set up waits for it instead of being dropped
        locked = [self.question, self.ask, self.stop, self.chat_list, self.delete_chat]
        started = gr.on([self.question.submit, self.ask.click], self.begin, [self.question, self.chatbot],
                        [self.chatbot, *locked], queue=False, trigger_mode="always_last", **private)
        answering = started.success(
            self.answer, [self.chatbot, self.turns, self.top_k, self.collection, self.source, self.year_from,
                          self.year_to, self.author, self.browser, self.chat_id],
            [self.chatbot, self.sources, self.detail, self.turns], concurrency_limit=1, concurrency_id=GENERATION,
            show_progress="full", show_progress_on=[self.detail, self.sources], **private)
        # the list of chats and Download chat are up to date by the time Ask is back
        answering.then(self.chat_updates, [self.browser, self.chat_id, self.turns],
                       [self.chat_list, self.chats_note, self.download], queue=False, **private).then(
            self.idle, None, locked, queue=False, **private)
        # Stop and Clear ask the running turn to end; it writes the chat's last state itself (see ui.chat)
        self.stop.click(self.stopping, None, [self.stop], queue=False, **private)
        for trigger in (self.clear.click, self.chatbot.clear, self.new_chat.click):
            trigger(self.cleared, [self.browser], chat_view, queue=False, **private)

        side_outputs = [self.collection_box, self.models_box, self.collection, self.source]
        app.load(self.refresh, [self.collection], side_outputs, **private)
        app.load(None, js=CLOSE_SIDEBAR_WHEN_NARROW)
        self.collection.input(self.refresh, [self.collection], side_outputs, **private)
        self.upload.upload(self.uploaded, [self.upload, self.collection], [self.upload, self.report, *side_outputs],
                           concurrency_limit=1, concurrency_id="ingest", **private)
        # the API: gradio_client.Client(url).predict("question", api_name="/ask")
        gr.api(self.ask_api, api_name="ask", concurrency_limit=1, concurrency_id=GENERATION)

    # --- saved chats: the browser's id is kept in its localStorage; the last chat comes back on load ---------
    def chat_updates(self, browser_id: str | None, current: str, turn_list: list) -> tuple[Any, ...]:
        """(chat list, note under it, Download chat button) for the open chat."""
        if self.chats is None or not browser_id:
            choices: list[tuple[str, str]] = []
            note = CHATS_OFF_NOTE if self.chats is None else NO_CHATS_NOTE
        else:
            choices = history.chat_choices(self.chats, browser_id)
            note = CHATS_NOTE if choices else NO_CHATS_NOTE
        value = current if any(value == current for _, value in choices) else None
        path = history.download_file(turn_list, current)
        return (gr.update(choices=choices, value=value), note,
                gr.update(value=path, interactive=path is not None))

    def shown(self, browser_id: str | None, chat: str, turn_list: list) -> tuple[Any, ...]:
        """Everything that shows a chat: its id, messages, turns, source cards, detail line, list, note, download."""
        return (chat, history.messages(turn_list), turn_list, render.sources_panel(turn_list), "",
                *self.chat_updates(browser_id, chat, turn_list))

    def restore(self, browser_id: str | None) -> tuple[Any, ...]:
        browser_id = browser_id if ChatStore.valid_id(browser_id) else ChatStore.new_id()
        latest = self.chats.chats(browser_id)[:1] if self.chats is not None else []
        chat = self.chats.load(browser_id, latest[0].id) if latest else None
        if chat is None:
            return browser_id, *self.shown(browser_id, ChatStore.new_id(), [])
        return browser_id, *self.shown(browser_id, chat.id, history.to_turns(chat.entries))

    def opened(self, browser_id: str | None, chosen: str | None) -> tuple[Any, ...]:
        chat = self.chats.load(browser_id, chosen) if self.chats is not None and chosen else None
        if chat is None:  # deleted meanwhile, or its file is damaged: the list says what is left
            return self.shown(browser_id, ChatStore.new_id(), [])
        return self.shown(browser_id, chat.id, history.to_turns(chat.entries))

    def deleted(self, browser_id: str | None, current: str) -> tuple[Any, ...]:
        if self.chats is not None and browser_id:
            self.chats.delete(browser_id, current)
        return self.shown(browser_id, ChatStore.new_id(), [])

    # --- asking ---------------------------------------------------------------------------------------------
    @staticmethod
    def busy(answering: bool) -> tuple[Any, ...]:
        """The question box, Ask, Stop, the chat list and Delete while an answer is (not) being written."""
        box = gr.update(interactive=not answering, placeholder=ANSWERING if answering else ASK_HERE)
        return (box, gr.update(visible=not answering), gr.update(visible=answering, value="Stop", interactive=True),
                gr.update(interactive=not answering), gr.update(interactive=not answering))

    def idle(self) -> tuple[Any, ...]:
        return self.busy(False)

    def begin(self, text: str, shown_messages: list, request: gr.Request) -> tuple[Any, ...]:
        emptied, asked = add_question(text, shown_messages)
        if asked is shown_messages:  # a blank question: stop here, so no later step overwrites the chat
            raise gr.Error("blank question", visible=False, print_exception=False)
        self.turn.control.begin(request.session_hash)
        _, *buttons = self.busy(True)
        return asked, gr.update(value=emptied, interactive=False, placeholder=ANSWERING), *buttons

    def answer(self, shown_messages: list, past: list, k: float, name: str, file: str, first: str, last: str,
               who: str, browser_id: str | None, chat: str, request: gr.Request):
        yield from self.turn.respond(shown_messages, past, k, name, file, session=request.session_hash,
                                     year_from=first, year_to=last, author=who, browser=browser_id, chat_id=chat)

    def stopping(self, request: gr.Request) -> Any:
        self.turn.control.end(request.session_hash, "stop")
        return gr.update(value="Stopping…", interactive=False)

    def cleared(self, browser_id: str | None, request: gr.Request) -> tuple[Any, ...]:
        """Clear and New chat: a new, empty chat; the one before stays in the list."""
        self.turn.control.end(request.session_hash, "clear")
        return self.shown(browser_id, ChatStore.new_id(), [])

    # --- side panel: status, collection and file filters, uploads --------------------------------------------
    def refresh(self, name: str | None, progress: gr.Progress = TRACK_TQDM) -> tuple[Any, ...]:
        name = (name or "").strip() or self.settings.store.collection
        problem = collection_name_problem(name)
        if problem:
            return (f'<p class="status-error">{problem}</p>', status.model_status(self.assistant), gr.update(),
                    gr.update(choices=[(status.ALL_FILES, "")], value=""))
        return (status.collection_status(self.assistant, name), status.model_status(self.assistant),
                gr.update(choices=status.collection_choices(self.assistant), value=name),
                gr.update(choices=status.source_choices(self.assistant, name), value=""))

    def uploaded(self, files: list[str] | None, name: str | None, progress: gr.Progress = PROGRESS
                 ) -> tuple[Any, ...]:
        name = (name or "").strip() or self.settings.store.collection
        problem = collection_name_problem(name)
        if problem:
            return None, f'<p class="upload-error">{problem}</p>', *(gr.update() for _ in range(4))
        result = ingest_files(self.assistant, files or [], name,
                              lambda done, total: progress((done, total), desc="Embedding papers", unit="papers"))
        return None, upload_report(result), *self.refresh(name)  # the box empties: each upload is read once

    def ask_api(self, question: str, top_k: int = 0, collection: str = "", source: str = "", year_from: int = 0,
                year_to: int = 0, author: str = "") -> dict:
        """Answer a question from the collection (optionally only papers of a source file, years and author);
        returns the checked Answer as JSON."""
        try:
            answer = self.assistant.ask(question, top_k=top_k or None, collection=collection or None,
                                        source=source or None, year_from=year_from or None,
                                        year_to=year_to or None, author=author or None)
        except Exception as error:  # a readable message for the client, the traceback in the log
            raise gr.Error(self.turn.explain(error, started=False), print_exception=False) from None
        return answer.model_dump(mode="json")


def build_app(assistant: Assistant) -> gr.Blocks:
    """The chat UI over ``assistant``."""
    return ChatApp(assistant).build()


def launch(app: gr.Blocks, settings: Settings, *, host: str | None = None, port: int | None = None,
           block: bool = True, on_ready: Callable[[], None] | None = None) -> str:
    """Serve the app (queue on: one generation at a time, tabs served in order); returns its URL.

    ``on_ready`` runs once the server answers (the CLI starts warming the prompt cache there, so it never
    slows the start). With ``block=False`` the server runs in a background thread (tests); stop it with
    ``app.close()``.
    """
    app.queue(default_concurrency_limit=1)
    password = settings.ui.password.get_secret_value() if settings.ui.password else ""
    app.launch(
        server_name=host or settings.ui.host,
        server_port=port or settings.ui.port,
        auth=(settings.ui.username, password) if password else None,  # RAG_UI_USERNAME / RAG_UI_PASSWORD
        auth_message="Log in to ask the papers." if password else None,
        theme=THEME,
        css=CSS,
        head=SCRIPT,
        max_file_size=f"{settings.ui.upload_max_mb}mb",
        footer_links=["api"],
        ssr_mode=False,
        show_error=False,
        quiet=True,
        prevent_thread_lock=True,
    )
    url = app.local_url or f"http://{host or settings.ui.host}:{port or settings.ui.port}/"
    if on_ready is not None:
        on_ready()
    if block:
        print(f"Chat UI: {url}  (Ctrl+C to stop)", flush=True)
        app.block_thread()
    return url

