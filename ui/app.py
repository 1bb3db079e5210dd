"""The Gradio app: chat column, source cards beside it, settings and uploads in a side panel.

`build_app(assistant)` wires components to the handlers in `ui.chat`, `ui.upload` and `ui.status`;
`launch(app, settings)` serves it (queue: one generation at a time, fair order across tabs).
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from rag import SUPPORTED_EXTENSIONS, TOP_K_MAX, Assistant, Settings, collection_name_problem
from ui import render, status
from ui.chat import ChatTurn, add_question
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
TRACK_TQDM = gr.Progress(track_tqdm=True)  # Gradio fills these in per event (the seed ingest's tqdm bar shows)
PROGRESS = gr.Progress()


def build_app(assistant: Assistant) -> gr.Blocks:
    """The chat UI over ``assistant`` (which may carry a fake LLM in tests)."""
    settings = assistant.settings
    turn = ChatTurn(assistant)

    with gr.Blocks(title="Ask the papers", analytics_enabled=False) as app:
        turns = gr.State([])

        with gr.Sidebar(label="Settings", open=True, width=330, elem_id="settings"):
            gr.HTML("<h2 class='side-head'>Settings</h2>", js_on_load=None)
            top_k = gr.Slider(1, TOP_K_MAX, value=settings.retrieval.top_k, step=1,
                              label="Sources per question (top-k)", elem_id="top-k")
            collection = gr.Dropdown(
                choices=[settings.store.collection], value=settings.store.collection, allow_custom_value=True,
                label="Collection", info="Type a new name to start a collection with an upload.",
                elem_id="collection",
            )
            collection_box = gr.HTML(elem_id="collection-status", js_on_load=None)
            source = gr.Dropdown(choices=[(status.ALL_FILES, "")], value="", label="Only papers from",
                                 elem_id="source-filter")
            gr.HTML("<h2 class='side-head'>Add papers</h2>", js_on_load=None)
            upload = gr.File(label=UPLOAD_LABEL, file_count="multiple",
                             file_types=list(SUPPORTED_EXTENSIONS), elem_id="upload", height=150)
            report = gr.HTML(elem_id="upload-report", js_on_load=None)
            gr.HTML("<h2 class='side-head'>Models</h2>", js_on_load=None)
            models_box = gr.HTML(elem_id="status", js_on_load=None)

        gr.HTML(HEADER, js_on_load=None)
        with gr.Row(equal_height=False, elem_id="main"):
            with gr.Column(scale=3, min_width=340, elem_id="answer-col"):
                chatbot = gr.Chatbot(
                    elem_id="chat", show_label=False, height="58vh", min_height=320, placeholder=PLACEHOLDER,
                    buttons=["copy"], feedback_options=None, latex_delimiters=[], layout="panel",
                )
                detail = gr.HTML(elem_id="detail", js_on_load=None)
                question = gr.Textbox(placeholder=ASK_HERE, show_label=False,
                                      lines=1, max_lines=4, autofocus=True, elem_id="question")
                with gr.Row(elem_id="chat-buttons"):
                    ask = gr.Button("Ask", variant="primary", elem_id="ask-btn", scale=2)
                    stop = gr.Button("Stop", variant="stop", elem_id="stop-btn", visible=False, scale=2)
                    clear = gr.Button("Clear", variant="secondary", elem_id="clear-btn", scale=1)
            with gr.Column(scale=2, min_width=300, elem_id="sources-col"):
                sources = gr.HTML(render.sources_panel([]), elem_id="sources", js_on_load=None)

        # --- asking: show the question at once, then queue the answer (one generation at a time)
        # While an answer is being written the input is locked (as in gr.ChatInterface) and Stop replaces Ask.
        def busy(answering: bool) -> tuple[Any, ...]:
            box = gr.update(interactive=not answering, placeholder=ANSWERING if answering else ASK_HERE)
            return (box, gr.update(visible=not answering),
                    gr.update(visible=answering, value="Stop", interactive=True))

        def begin(text: str, history: list, request: gr.Request) -> tuple[Any, ...]:
            emptied, asked = add_question(text, history)
            if asked is history:  # a blank question: nothing to do, and nothing the reader typed since is lost
                return history, gr.update(), gr.update(), gr.update()
            turn.control.begin(request.session_hash)
            _, ask_button, stop_button = busy(True)
            return asked, gr.update(value=emptied, interactive=False, placeholder=ANSWERING), ask_button, stop_button

        def answer(history: list, past: list, k: float, name: str, file: str, request: gr.Request):
            yield from turn.respond(history, past, k, name, file, session=request.session_hash)

        # always_last: a question sent while the previous one is being set up waits for it instead of being dropped
        started = gr.on([question.submit, ask.click], begin, [question, chatbot], [chatbot, question, ask, stop],
                        queue=False, trigger_mode="always_last", api_visibility="private")
        answering = started.then(answer, [chatbot, turns, top_k, collection, source],
                                 [chatbot, sources, detail, turns], concurrency_limit=1,
                                 concurrency_id=GENERATION, show_progress="full", show_progress_on=[detail, sources],
                                 api_visibility="private")
        answering.then(lambda: busy(False), None, [question, ask, stop], queue=False, api_visibility="private")

        # Stop and Clear ask the running turn to end; it writes the chat's last state itself (see ui.chat)
        def stopping(request: gr.Request) -> Any:
            turn.control.end(request.session_hash, "stop")
            return gr.update(value="Stopping…", interactive=False)

        stop.click(stopping, None, [stop], queue=False, api_visibility="private")

        def cleared(request: gr.Request) -> tuple[Any, ...]:
            turn.control.end(request.session_hash, "clear")
            return [], render.sources_panel([]), "", []

        for trigger in (clear.click, chatbot.clear):
            trigger(cleared, None, [chatbot, sources, detail, turns], queue=False, api_visibility="private")

        # --- side panel: status, collection and file filters, uploads
        def refresh(name: str | None, progress: gr.Progress = TRACK_TQDM) -> tuple[Any, ...]:
            name = (name or "").strip() or settings.store.collection
            problem = collection_name_problem(name)
            if problem:
                return (f'<p class="status-error">{problem}</p>', status.model_status(assistant), gr.update(),
                        gr.update(choices=[(status.ALL_FILES, "")], value=""))
            return (status.collection_status(assistant, name), status.model_status(assistant),
                    gr.update(choices=status.collection_choices(assistant), value=name),
                    gr.update(choices=status.source_choices(assistant, name), value=""))

        side_outputs = [collection_box, models_box, collection, source]
        app.load(refresh, [collection], side_outputs, api_visibility="private")
        app.load(None, js=CLOSE_SIDEBAR_WHEN_NARROW)
        collection.input(refresh, [collection], side_outputs, api_visibility="private")

        def uploaded(files: list[str] | None, name: str | None,
                     progress: gr.Progress = PROGRESS) -> tuple[Any, ...]:
            name = (name or "").strip() or settings.store.collection
            problem = collection_name_problem(name)
            if problem:
                return None, f'<p class="upload-error">{problem}</p>', *(gr.update() for _ in side_outputs)
            result = ingest_files(assistant, files or [], name,
                                  lambda done, total: progress((done, total), desc="Embedding papers", unit="papers"))
            return None, upload_report(result), *refresh(name)  # the box empties: each upload is read once

        upload.upload(uploaded, [upload, collection], [upload, report, *side_outputs],
                      concurrency_limit=1, concurrency_id="ingest", api_visibility="private")

        # --- the API: gradio_client.Client(url).predict("question", api_name="/ask")
        def ask_api(question: str, top_k: int = 0, collection: str = "", source: str = "") -> dict:
            """Answer a question from the collection; returns the checked Answer as JSON."""
            try:
                answer = assistant.ask(question, top_k=top_k or None, collection=collection or None,
                                       source=source or None)
            except Exception as error:  # a readable message for the client, the traceback in the log
                raise gr.Error(turn.explain(error, started=False), print_exception=False) from None
            return answer.model_dump(mode="json")

        gr.api(ask_api, api_name="ask", concurrency_limit=1, concurrency_id=GENERATION)
    return app


def launch(app: gr.Blocks, settings: Settings, *, host: str | None = None, port: int | None = None,
           block: bool = True) -> str:
    """Serve the app (queue on: one generation at a time, tabs served in order); returns its URL.

    With ``block=False`` the server runs in a background thread (tests); stop it with ``app.close()``.
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
        max_file_size=f"{settings.ui.upload_max_mb}mb",
        footer_links=["api"],
        ssr_mode=False,
        show_error=False,
        quiet=True,
        prevent_thread_lock=True,
    )
    url = app.local_url or f"http://{host or settings.ui.host}:{port or settings.ui.port}/"
    if block:
        print(f"Chat UI: {url}  (Ctrl+C to stop)", flush=True)
        app.block_thread()
    return url

