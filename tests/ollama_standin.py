"""A local HTTP stand-in for an Ollama server, speaking the documented API: ``GET /api/tags``,
``POST /api/chat`` (NDJSON stream or one JSON object) and ``POST /api/embed``. It answers a chat by
quoting the first sentence of source [1] from the prompt, with a ``[1]`` marker, and records every
request so tests can check what the client sent (``num_ctx``, model, stream flag)."""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np


class OllamaStandIn:
    def __init__(self, models: list[str], reply: str | None = None, dimension: int = 8):
        self.models = models
        self.reply = reply
        self.dimension = dimension
        self.requests: list[tuple[str, dict]] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self.handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> OllamaStandIn:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def answer_for(self, messages: list[dict]) -> str:
        if self.reply is not None:
            return self.reply
        match = re.search(r"\[1\] Title: .*\nAbstract: (.+?\.)\s", messages[-1]["content"])
        return f"{match.group(1)[:-1]} [1]." if match else "The collection does not answer this question."

    def handler(self):
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def send_json(self, body: dict | list, status: int = 200) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                standin.requests.append((self.path, {}))
                if self.path == "/api/tags":
                    self.send_json({"models": [
                        {"name": m, "model": m, "modified_at": "2026-01-01T00:00:00Z", "size": 1, "digest": "0" * 64,
                         "details": {"format": "gguf", "family": "qwen2", "parameter_size": "3B",
                                     "quantization_level": "Q4_K_M"}}
                        for m in standin.models
                    ]})
                else:
                    self.send_json({"error": "not found"}, 404)

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                standin.requests.append((self.path, body))
                if body.get("model") not in standin.models:
                    self.send_json({"error": f"model '{body.get('model')}' not found"}, 404)
                elif self.path == "/api/embed":
                    texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
                    vectors = [self.vector(t) for t in texts]
                    self.send_json({"model": body["model"], "embeddings": vectors})
                elif self.path == "/api/chat":
                    self.chat(body)
                else:
                    self.send_json({"error": "not found"}, 404)

            def vector(self, text: str) -> list[float]:
                rng = np.random.default_rng(abs(hash(text)) % (2**32))
                v = rng.normal(size=standin.dimension)
                return (v / np.linalg.norm(v)).tolist()

            def chat(self, body: dict) -> None:
                text = standin.answer_for(body["messages"])
                done = {"model": body["model"], "created_at": "2026-01-01T00:00:00Z", "done": True,
                        "done_reason": "stop", "total_duration": 1000, "prompt_eval_count": 10, "eval_count": 5}
                if not body.get("stream", True):
                    self.send_json({**done, "message": {"role": "assistant", "content": text}})
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/x-ndjson")
                self.end_headers()
                words = text.split(" ")
                for i, word in enumerate(words):
                    piece = word if i == 0 else " " + word
                    line = {"model": body["model"], "created_at": "2026-01-01T00:00:00Z",
                            "message": {"role": "assistant", "content": piece}, "done": False}
                    self.wfile.write((json.dumps(line) + "\n").encode())
                    self.wfile.flush()
                final = {**done, "message": {"role": "assistant", "content": ""}}
                self.wfile.write((json.dumps(final) + "\n").encode())

        return Handler
