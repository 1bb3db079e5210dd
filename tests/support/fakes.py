"""Test doubles. `ScriptedLLM` is a deterministic fake LLM for fast tests: it streams a fixed reply (or the next
of several) word by word (optionally waiting ``delay`` seconds before each word, so a browser test can press
Stop mid-answer) and records the prompts it was given. It never runs a model."""

from __future__ import annotations

import re
import time
from typing import Any

from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    CompletionResponse,
    LLMMetadata,
    MessageRole,
)
from llama_index.core.llms import CustomLLM
from pydantic import Field, PrivateAttr

from rag.models.llm import LanguageModel


class ScriptedLLM(CustomLLM):
    """Deterministic fake LLM: replies with ``reply`` (streamed in word pieces), records prompts."""

    reply: str = ""
    later: list[str] = Field(default_factory=list)  # replies to later prompts (the last repeats)
    delay: float = 0.0  # seconds before each streamed word
    _prompts: list[str] = PrivateAttr(default_factory=list)

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(model_name="scripted", is_chat_model=False)

    @property
    def prompts(self) -> list[str]:
        return self._prompts

    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        self._prompts.append(prompt)
        return CompletionResponse(text=self.reply)

    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any):
        self._prompts.append(prompt)
        replies = [self.reply, *self.later]
        reply = replies[min(len(self._prompts), len(replies)) - 1]
        text = ""
        for delta in re.findall(r"\s*\S+", reply):  # words with the spaces before them
            if self.delay:
                time.sleep(self.delay)
            text += delta
            yield CompletionResponse(text=text, delta=delta)

    def stream_chat(self, messages: list[ChatMessage], **kwargs: Any):
        prompt = "\n".join(f"{m.role.value}: {m.content}" for m in messages)
        for response in self.stream_complete(prompt):
            yield ChatResponse(
                message=ChatMessage(role=MessageRole.ASSISTANT, content=response.text), delta=response.delta
            )


def scripted(reply: str, delay: float = 0.0) -> LanguageModel:
    """The scripted LLM as the assistant's language model (token counts estimated, like Ollama's)."""
    return LanguageModel(ScriptedLLM(reply=reply, delay=delay), "scripted", "scripted", "test double")
