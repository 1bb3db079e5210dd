"""The browser chat UI (Gradio). Build it with `ui.app.build_app(assistant)`, serve it with `ui.app.launch`."""
