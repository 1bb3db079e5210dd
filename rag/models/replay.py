"""A language model that replays saved output instead of running: the replies a run's model wrote, in order,
and the list judge's P(Yes) for each paper it judged. `Assistant.recheck` answers with it, so saved replies are
checked and graded by today's rules without a model."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from llama_index.core.base.llms.types import ChatMessage

from rag.errors import ReplayExhausted
from rag.models.llm import YES_NO_WORDS, LanguageModel, PromptRead
from rag.models.pieces import PiecedPrompt


class ReplayedModel(LanguageModel):
    """Streams the saved ``replies`` one per generation, and gives the saved P(Yes) (``judged``, by paper title)
    when asked to judge a paper whose title is in the prompt; `ReplayExhausted` for anything else."""

    def __init__(self, replies: Sequence[str], judged: Mapping[str, float] | None = None):
        super().__init__(None, "replay", "saved replies", "re-checking saved output", window=1 << 20)
        self.replies = list(replies)
        self.judged = dict(judged or {})

    def stream(self, messages: Sequence[ChatMessage], pieces: PiecedPrompt | None = None,
               opening: str = "") -> Iterator[str]:
        if not self.replies:
            raise ReplayExhausted("the answer needs a reply the run did not save (a second look, a comparison side "
                                  "read alone)")
        self.last_read = PromptRead()
        yield self.replies.pop(0)

    def option_probabilities(self, messages: Sequence[ChatMessage], pieces: PiecedPrompt | None = None,
                             options: Sequence[Sequence[str]] = YES_NO_WORDS) -> list[float] | None:
        if tuple(options) != YES_NO_WORDS:
            raise ReplayExhausted("the answer needs a verdict the run did not save")
        prompt = "\n".join(str(m.content) for m in messages)
        judged = [p for title, p in self.judged.items() if title in prompt]
        if len(judged) != 1:
            raise ReplayExhausted("the answer needs a judgement of a paper the run did not judge")
        return [judged[0], 1 - judged[0]]
