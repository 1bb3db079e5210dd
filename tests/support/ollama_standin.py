"""A local HTTP stand-in for an Ollama server, speaking the documented API: ``GET /api/tags``,
``POST /api/chat`` (NDJSON stream or one JSON object) and ``POST /api/embed``. It answers a chat by
quoting the first sentence of source [1] from the prompt, with a ``[1]`` marker, and records every
request so tests can check what the client sent (``num_ctx``, model, stream flag).

Fault modes (attributes, may be changed while it runs), for the reliability tests:
``chat_delay`` seconds of silence before a chat reply (a slow or stuck server); ``chat_status``
answers every chat with that HTTP status and ``{"error": chat_error}`` (Ollama's error body, e.g. 500);
``unpulled`` models are listed by ``/api/tags`` but a chat with them gets Ollama's 404
``model '...' not found`` (removed after the client looked).

A chat asking for ``logprobs`` (Ollama 0.12.11+) gets the first token's log-probability and its ``top_logprobs``:
Yes with ``yes_probability(user message)``, No with the rest (``None`` acts as a server too old to give any)."""

from __future__ import annotations

import json
import math
import re
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np


class OllamaStandIn:
    def __init__(self, models: list[str], reply: str | None = None, dimension: int = 8, *, chat_delay: float = 0.0,
                 chat_status: int | None = None, chat_error: str = "llama runner process has terminated",
                 unpulled: tuple[str, ...] = (), yes_probability: Callable[[str], float] | None = lambda text: 0.5):
        self.models = models
        self.reply = reply
        self.dimension = dimension
        self.chat_delay = chat_delay
        self.chat_status = chat_status
        self.chat_error = chat_error
        self.unpulled = unpulled
        self.yes_probability = yes_probability
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
        match = re.search(r"<paper>\n\[1\] [^\n]*\n(.+?\.)\s", messages[-1]["content"])
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
                    if standin.chat_delay:
                        time.sleep(standin.chat_delay)
                    if body.get("model") in standin.unpulled:
                        self.send_json({"error": f"model '{body['model']}' not found, try pulling it first"}, 404)
                    elif standin.chat_status:
                        self.send_json({"error": standin.chat_error}, standin.chat_status)
                    else:
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
                if body.get("logprobs") and standin.yes_probability is not None:
                    p_yes = standin.yes_probability(body["messages"][-1]["content"])
                    options = [("Yes", p_yes), ("No", 1 - p_yes), ("Maybe", 1e-4)]
                    top = [{"token": t, "logprob": math.log(max(p, 1e-12)), "bytes": list(t.encode())}
                           for t, p in sorted(options, key=lambda o: -o[1])][: body.get("top_logprobs") or 1]
                    text = top[0]["token"]
                    done["logprobs"] = [{**top[0], "top_logprobs": top}]
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
