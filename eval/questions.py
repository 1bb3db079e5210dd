"""The question-set format (JSONL) and its loader, which names the file and line of every problem."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from rag.corpus.paper import normalize_title


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

    @property
    def answerable(self) -> bool:
        return bool(self.gold_ids or self.gold_titles)

    def gold_keys(self) -> set[str]:
        """Gold papers as match keys: ``id:<paper id>`` and ``title:<normalized title>``."""
        return {f"id:{i}" for i in self.gold_ids} | {f"title:{normalize_title(t)}" for t in self.gold_titles}


def paper_keys(paper_id: str, title: str) -> set[str]:
    """The match keys of a retrieved or cited paper (see `Question.gold_keys`)."""
    return {f"id:{paper_id}", f"title:{normalize_title(title)}"}


def load_questions(path: Path) -> list[Question]:
    """Read a JSONL question set; raises `QuestionSetError` listing ``file:line: problem`` for bad lines."""
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
