"""The model as a judge of "which papers" answers: each retrieved paper is shown to it alone, with the question
turned into a yes/no question about that paper ("Which papers use X?" -> "Is this paper one of the papers that use
X? Answer Yes or No."); the paper is one of them when
P(Yes) among Yes/No for the first token of the reply reaches the threshold and comes within the margin of the
best paper's P(Yes) for that question.

Words cannot make this call on such questions: the papers that match and those that merely share the
question's vocabulary cover its terms equally (benchmarks/paper_judge.py). The paper's fenced block comes right
after a fixed prefix, so a model with a prompt cache reads each abstract once and then only the question.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from llama_index.core.base.llms.types import ChatMessage

from rag.answering.answer import Source
from rag.answering.profile import QuestionProfile, profile_question
from rag.answering.prompt import paper_block, question_part
from rag.models.llm import chatml
from rag.models.pieces import Piece, PiecedPrompt

JUDGE_SYSTEM = "You judge whether a paper matches a question."
ASKS_FOR_LINE = "Is this paper one of the papers the question asks for? Answer Yes or No."  # after the question

# "works on X", "papers that X": what follows the noun that needs no "that" before it
ATTACHES_DIRECTLY = re.compile(r"(?:about|on|in|into|for|from|with|without|regarding|concerning|by|at|of|to|"
                               r"that|which|where|whose)\b", re.IGNORECASE)


def judge_line(profile: QuestionProfile) -> str:
    """The question asked of one paper: "Which recent papers use X?" -> "Is this paper one of the recent papers
    that use X? Answer Yes or No." (the model separates matching papers better than when asked whether a paper
    is "one of the papers the question asks for", benchmarks/paper_judge.py). A follow-up narrowing a list ("And
    which of them also quantize activations?") is asked with its own condition."""
    rest = profile.condition
    if not rest:
        return question_part(profile.asked, ASKS_FOR_LINE)
    joined = rest if ATTACHES_DIRECTLY.match(rest) else f"that {rest}"
    return f"Is this paper one of the {profile.list_noun} {joined}? Answer Yes or No."


@dataclass(frozen=True)
class JudgePrompt:
    """The judge's prompt as chat messages (for a server) and as pieces (for the embedded model's prompt cache)."""

    messages: list[ChatMessage]
    pieces: PiecedPrompt


def judge_prompt(question: QuestionProfile | str, title: str, abstract: str, line: str | None = None,
                 system: str = JUDGE_SYSTEM) -> JudgePrompt:
    """Fixed rules (``system``), the paper's block (cached: the same text for every question), then ``line``: by
    default the question asked of the paper (`judge_line`)."""
    block = paper_block(title, abstract)
    if line is None:
        line = judge_line(question if isinstance(question, QuestionProfile) else profile_question(question))
    messages = [ChatMessage(role="system", content=system), ChatMessage(role="user", content=block + line)]
    text = chatml(messages)
    start = text.index(block)
    return JudgePrompt(messages, PiecedPrompt(text[:start], (Piece(block, cached=True),
                                                             Piece(text[start + len(block):]))))


class PaperJudge:
    """Whether retrieved paper ``n`` is one of the papers ``question`` asks for, by the model (asked once per
    paper, on first need). ``ask`` gives P(Yes) for a prompt, or None when the model cannot say: then every
    verdict is None and the caller decides by words."""

    def __init__(self, question: QuestionProfile | str, sources: list[Source],
                 ask: Callable[[JudgePrompt], float | None], threshold: float, margin: float = 1.0,
                 read: int | None = None, extra_margin: float | None = None):
        self.question = question if isinstance(question, QuestionProfile) else profile_question(question)
        self.sources = {s.rank: s for s in sources}
        self.ask = ask
        self.threshold = threshold
        self.margin = margin
        self.read = read  # papers ranked below the first ``read`` (those the answer did not read) ...
        self.extra_margin = margin if extra_margin is None else extra_margin  # ... need to come this close to the best
        self.scores: dict[int, float | None] = {}
        self.able = True

    def __call__(self, number: int) -> bool | None:
        """Whether paper ``number`` is one the question asks for (every paper is judged before the first verdict
        when the margin is in use, as it compares with the best). A paper ranked below the ones the answer read is
        less likely to match, so it must come within the smaller ``extra_margin`` of the best."""
        score = self.score(number)
        if score is None:
            return None
        bar = self.threshold
        if self.margin < 1:
            scores = [self.score(n) for n in self.sources]
            if not self.able:
                return None
            read = self.read is None or number <= self.read
            bar = max(bar, max(scores) - (self.margin if read else self.extra_margin))
        return score >= bar

    def score(self, number: int) -> float | None:
        """P(Yes) for paper ``number`` (None if it is not a source or the model cannot judge)."""
        if not self.able or number not in self.sources:
            return None
        if number not in self.scores:
            source = self.sources[number]
            self.scores[number] = self.ask(judge_prompt(self.question, source.title, source.abstract))
            self.able = self.scores[number] is not None
        return self.scores[number]

    def verdict_scores(self) -> dict[int, float]:
        """P(Yes) of each paper judged (rounded), or nothing when the model could not judge and words decided."""
        return {n: round(p, 4) for n, p in self.scores.items()} if self.able else {}  # able: no None among them
