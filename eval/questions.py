"""The question-set format (JSONL) and its loader, which names the file and line of every problem."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, ValidationError

from rag import normalize_title


class QuestionSetError(ValueError):
    """The question file cannot be used; the message lists every ``file:line: problem``."""


class Question(BaseModel):
    """One evaluation question. No gold papers means unanswerable: the right behaviour is to abstain."""

    id: str
    question: str = Field(min_length=1)
    type: str = "unspecified"
    gold_ids: list[str] = Field(default_factory=list)
    gold_titles: list[str] = Field(default_factory=list)
    must_mention: list[str] = Field(default_factory=list)
    split: str | None = None  # e.g. "tune" (thresholds may be chosen on it) or "heldout" (never looked at)
    verdict: Literal["supports", "contradicts"] | None = None  # a yes/no claim: what its gold paper says of it

    @property
    def answerable(self) -> bool:
        return bool(self.gold_ids or self.gold_titles)

    def gold_keys(self) -> set[str]:
        """Gold papers as match keys: ``id:<paper id>`` and ``title:<normalized title>``."""
        return {f"id:{i}" for i in self.gold_ids} | {f"title:{normalize_title(t)}" for t in self.gold_titles}


def paper_keys(paper_id: str, title: str) -> set[str]:
    """The match keys of a retrieved or cited paper (see `Question.gold_keys`)."""
    return {f"id:{paper_id}", f"title:{normalize_title(title)}"}


def load_questions(paths: Path | list[Path], split: str | None = None) -> list[Question]:
    """Read JSONL question sets (ids unique across them), keeping only ``split``'s questions if given;
    raises `QuestionSetError` listing ``file:line: problem`` for bad lines."""
    questions: list[Question] = []
    for path in [paths] if isinstance(paths, Path) else paths:
        questions.extend(read_question_file(path))
    repeated = sorted(qid for qid, count in Counter(q.id for q in questions).items() if count > 1)
    if repeated:
        raise QuestionSetError(f"question ids appear in more than one file: {', '.join(repeated[:10])}")
    if split is not None:
        questions = [q for q in questions if q.split == split]
        if not questions:
            raise QuestionSetError(f"no question has split {split!r}")
    return questions


def read_question_file(path: Path) -> list[Question]:
    """One JSONL question set; raises `QuestionSetError` listing ``file:line: problem`` for bad lines."""
    if not path.is_file():
        raise QuestionSetError(f"{path}: no such question file")
    questions: list[Question] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    number = 0
    with path.open(encoding="utf-8", errors="strict") as lines:
        try:
            for number, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                try:
                    question = Question.model_validate(json.loads(line))
                except json.JSONDecodeError as error:
                    problems.append(f"{path}:{number}: invalid JSON ({error.msg})")
                    continue
                except ValidationError as error:
                    fields = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'line'}: {e['msg']}" for e in error.errors())
                    problems.append(f"{path}:{number}: {fields}")
                    continue
                if question.id in seen:
                    problems.append(f"{path}:{number}: id {question.id!r} repeats line {seen[question.id]}")
                    continue
                seen[question.id] = number
                questions.append(question)
        except UnicodeDecodeError:
            problems.append(f"{path}:{number + 1}: not UTF-8 text")
    if problems:
        raise QuestionSetError("bad question file:\n  " + "\n  ".join(problems))
    if not questions:
        raise QuestionSetError(f"{path}: no questions")
    return questions
