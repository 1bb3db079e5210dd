"""The Gradio chat UI (calls only the public `rag` API)."""
