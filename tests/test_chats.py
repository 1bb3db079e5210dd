"""Saved chats (`rag.ChatStore`): what is saved comes back whole, writes are atomic, damaged files are skipped
with a warning, each browser keeps its newest chats, and ids from a browser never reach the file system."""

from __future__ import annotations

import json
import logging
import os

import pytest

from rag import Answer, Chat, ChatEntry, ChatStore, Citation, PaperInfo, Source, Timings

BROWSER = "b" * 32


def source(rank: int, pid: str) -> Source:
    return Source(rank=rank, paper_id=pid, title=f"Paper {pid}", score=0.5, abstract=f"Abstract of {pid}. It is long.",
                  paper=PaperInfo(authors=["Ada Lovelace"], year=2020 + rank, doi=f"10.5555/{pid}"))


def answered(question: str) -> ChatEntry:
    sources = [source(1, "p1"), source(2, "p2")]
    answer = Answer(question=question, answer="It works [1].", abstained=False, sources=sources,
                    citations=[Citation(number=1, paper_id="p1", title="Paper p1", quote="Abstract of p1.")],
                    timings=Timings(retrieval_ms=3, total_ms=9), llm_provider="scripted", llm_model="scripted",
                    embed_model="m", retrieval_query=question)
    return ChatEntry(question=question, answer=answer, sources=sources)


def chat(entries: list[ChatEntry], chat_id: str | None = None) -> Chat:
    return Chat(id=chat_id or ChatStore.new_id(), collection="papers", entries=entries)


@pytest.fixture
def store(tmp_path) -> ChatStore:
    return ChatStore(tmp_path / "chats", keep=3)


def test_a_saved_chat_comes_back_whole(store):
    stopped = ChatEntry(question="And the second?", status="stopped", text="It was about [2", sources=[source(2, "p2")])
    failed = ChatEntry(question="Third?", status="failed", text="The language model failed.")
    saved = chat([answered("What works?"), stopped, failed])
    store.save(BROWSER, saved)

    again = store.load(BROWSER, saved.id)
    assert again is not None and again.title == "What works?" and again.collection == "papers"
    assert [e.status for e in again.entries] == ["answered", "stopped", "failed"]
    first = again.entries[0]
    assert first.answer.citations[0].paper.doi == "10.5555/p1", "citations keep their paper's metadata"
    assert [s.abstract for s in first.answer.sources] == ["Abstract of p1. It is long.", "Abstract of p2. It is long."]
    assert again.entries[1].sources[0].abstract == "Abstract of p2. It is long." and again.entries[1].text == \
        "It was about [2"
    data = json.loads((store.folder / BROWSER / f"{saved.id}.json").read_text())
    assert data["abstracts"] == {"p1": "Abstract of p1. It is long.", "p2": "Abstract of p2. It is long."}

    (summary,) = store.chats(BROWSER)
    assert (summary.id, summary.title, summary.questions) == (saved.id, "What works?", 3)
    created = again.created
    store.save(BROWSER, chat([*again.entries, answered("Fourth?")], saved.id))
    later = store.load(BROWSER, saved.id)
    assert later.created == created and later.updated > again.updated and len(later.entries) == 4


def test_writes_are_atomic_and_leave_nothing_behind(store, monkeypatch):
    saved = chat([answered("First?")])
    store.save(BROWSER, saved)
    before = (store.folder / BROWSER / f"{saved.id}.json").read_text()

    def power_cut(src, dst):
        raise OSError("No space left on device")

    monkeypatch.setattr(os, "replace", power_cut)
    with pytest.raises(OSError, match="No space left"):
        store.save(BROWSER, chat([answered("First?"), answered("Second?")], saved.id))
    monkeypatch.undo()
    assert (store.folder / BROWSER / f"{saved.id}.json").read_text() == before, "the old file is untouched"
    assert sorted(p.name for p in (store.folder / BROWSER).iterdir()) == [f"{saved.id}.json"], "no temporary file"


def test_a_damaged_chat_file_is_skipped_with_a_warning(store, caplog, monkeypatch):
    # another test's logging set-up (import-linter's dictConfig) may have disabled the loggers that existed then
    monkeypatch.setattr(logging.getLogger("rag.chats"), "disabled", False)
    good = chat([answered("Good?")])
    store.save(BROWSER, good)
    folder = store.folder / BROWSER
    truncated, foreign, renamed = (ChatStore.new_id() for _ in range(3))
    (folder / f"{truncated}.json").write_text(json.dumps({"format": "paper-rag chat", "version": 1, "id": truncated,
                                                          "entries": [{"question": "x", "status": "answered"}]})[:60])
    (folder / f"{foreign}.json").write_text('{"some": "other json"}')
    (folder / f"{renamed}.json").write_text((folder / f"{good.id}.json").read_text())  # holds another chat's id
    (folder / "notes.json").write_text("not a chat id: ignored")
    with caplog.at_level(logging.WARNING, logger="rag.chats"):
        assert [c.id for c in store.chats(BROWSER)] == [good.id]
        assert store.load(BROWSER, truncated) is None
        store.chats(BROWSER)
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 3, "one warning per damaged file, not one per listing"
    assert any(truncated in w and "skipped damaged chat file" in w for w in warnings)
    assert any(renamed in w and "holds chat" in w for w in warnings)


def test_each_browser_keeps_its_newest_chats(store):
    ids = []
    for n in range(5):
        saved = chat([answered(f"Question {n}?")])
        store.save(BROWSER, saved)
        ids.append(saved.id)
    other = chat([answered("Another browser?")])
    store.save("c" * 32, other)
    assert [c.id for c in store.chats(BROWSER)] == ids[:1:-1], "newest first, the oldest two removed"
    assert [c.title for c in store.chats("c" * 32)] == ["Another browser?"]
    assert store.delete(BROWSER, ids[4]) and not store.delete(BROWSER, ids[4])
    assert [c.id for c in store.chats(BROWSER)] == [ids[3], ids[2]]


def test_nothing_is_saved_when_chats_are_off_or_empty(tmp_path):
    off = ChatStore(tmp_path / "chats", keep=0)
    off.save(BROWSER, chat([answered("Kept?")]))
    ChatStore(tmp_path / "chats").save(BROWSER, chat([]))
    assert not (tmp_path / "chats").exists()


@pytest.mark.parametrize("bad", ["../../etc", "B" * 32, "a" * 31, "", None, "a" * 32 + "/x"])
def test_ids_that_are_not_ours_never_reach_the_file_system(store, bad):
    assert store.chats(bad) == [] and store.load(bad, "a" * 32) is None and store.load(BROWSER, bad) is None
    assert not store.delete(bad, "a" * 32)
    with pytest.raises(ValueError):
        store.save(BROWSER, Chat(id=str(bad), entries=[answered("x?")]))
    assert not ChatStore.valid_id(bad) and ChatStore.valid_id(ChatStore.new_id())
