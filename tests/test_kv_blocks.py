"""The per-block prompt-state engine (rag.models.kvcache): the on-disk store, streamed text, and llama.cpp stitching.

The store and text tests need no model. The ``llm`` tests run the real Qwen2.5-Coder-0.5B on seed abstracts.

Tolerances, from measurements on this model over 16 seed abstracts (benchmarks/kv_blocks.py records the 1.5B):

* llama.cpp's logits depend slightly on how the prompt is split into decode batches: reading prefix | block |
  tail as three batches instead of prefix | block+tail moves logits by up to 1.3 % of their spread (KL median
  0.0006, max 0.0013). A cached block is read in its own batch, so the reference for "restored where it was
  read" is the same text read directly with the same batch boundaries (``prompt_logits(..., separate=True)``).
  Against it a restored block is bit-identical (measured max |diff| 0.0): the state is copied byte for byte and
  the same kernels run on the same inputs. The test allows 1e-3, far below the batch-split effect.
* Shifting alone (every cell of prefix + block moved 3 or 300 places, which changes nothing in exact
  arithmetic since RoPE attention sees only relative positions) costs KL median 0.0007, max 0.006, max |diff|
  1.4 % of the spread: the keys are rotated once more and rounded to f16 again.
* A block shifted past a live ``[n]`` marker also never saw the 3 marker tokens: KL median 0.0022, max 0.027,
  max |diff| up to 2.5 % of the spread, argmax unchanged 16/16. Bounds: same argmax, KL <= 0.05, max |diff|
  <= 5 % of the spread (about twice the worst case measured).
* A block placed after another whole abstract read live never attended to it: KL median 0.14, max 2.0, max
  |diff| up to 18 % of the spread, argmax unchanged in 12 of 16. That is the approximation the cache trades
  for speed; whether answers suffer is for the dev-set evaluation. The test only guards against gross breakage
  (KL <= 1, the direct choice among the stitched top 5).
"""

from __future__ import annotations

import multiprocessing
import threading
from pathlib import Path

import numpy as np
import pytest

from rag.models.kvcache.store import BlockCache, BlockKey, encode_entry
from rag.models.kvcache.text import TextDeltas
from tests.support.logits import kl

REPO = Path(__file__).resolve().parent.parent
MODEL = "qwen2.5-coder-0.5b"


def key(text: str = "t", **changes: str) -> BlockKey:
    fields = dict(model="m" * 64, layout="v1", prefix="p" * 64, kv="f16", engine="e", kind="block", text=text)
    fields.update(changes)
    return BlockKey(**fields)


# --- streamed text ---------------------------------------------------------------------------------------


def feed(chunks: list[bytes], stop: list[str]) -> tuple[list[str], TextDeltas]:
    deltas = TextDeltas(stop)
    out = [deltas.push(chunk) for chunk in chunks]
    out.append(deltas.finish())
    return out, deltas


def test_text_holds_back_unfinished_utf8_characters():
    data = "café 论文".encode()
    out, _ = feed([data[i : i + 1] for i in range(len(data))], [])
    assert "".join(out) == "café 论文"
    assert all(piece.encode().decode() == piece for piece in out)  # every delta is whole characters
    assert out[3] == "" and out[4] == "é"  # the first byte of "é" alone shows nothing


def test_text_stops_before_a_stop_string_split_across_tokens_and_never_shows_part_of_it():
    out, deltas = feed([b"Answer: yes", b" [EN", b"D] more"], ["[END]"])
    assert "".join(out) == "Answer: yes "
    assert deltas.stopped
    assert all("[" not in piece for piece in out)


def test_text_releases_held_text_that_turned_out_not_to_be_a_stop_string():
    out, deltas = feed([b"a [E", b"X] b"], ["[END]"])
    assert out[0] == "a " and out[1] == "[EX] b"
    assert "".join(out) == "a [EX] b" and not deltas.stopped


def test_text_cut_at_the_earliest_of_several_stop_strings_and_ends_with_held_text():
    assert "".join(feed([b"one\n\nQuestion: two"], ["Question:", "\n\n"])[0]) == "one"
    assert "".join(feed([b"ends with [E"], ["[END]"])[0]) == "ends with [E"


# --- the store ------------------------------------------------------------------------------------------


def test_store_round_trip_counts_hits_and_misses(tmp_path):
    cache = BlockCache(tmp_path, max_bytes=1 << 20)
    assert cache.get(key("a")) is None
    cache.put(key("a"), b"x" * 100, n_tokens=7)
    entry = cache.get(key("a"))
    assert entry.payload == b"x" * 100 and entry.n_tokens == 7
    fresh = BlockCache(tmp_path, max_bytes=1 << 20)  # another process: nothing in its RAM
    assert fresh.get(key("a")).payload == b"x" * 100
    stats = fresh.stats()
    assert (stats.entries, stats.hits, stats.misses) == (1, 2, 1)
    assert stats.bytes == cache.path(key("a")).stat().st_size
    assert stats.hit_rate == pytest.approx(2 / 3)


@pytest.mark.parametrize("damage", ["truncate", "flip_payload", "flip_header", "empty"])
def test_store_ignores_and_deletes_a_damaged_entry(tmp_path, damage):
    BlockCache(tmp_path, max_bytes=1 << 20).put(key(), bytes(range(256)) * 10, n_tokens=3)
    path = BlockCache(tmp_path, max_bytes=1 << 20).path(key())
    data = bytearray(path.read_bytes())
    if damage == "truncate":
        data = data[:-100]
    elif damage == "flip_payload":
        data[-5] ^= 0xFF
    elif damage == "flip_header":
        data[20] ^= 0x01
    else:
        data = bytearray()
    path.write_bytes(bytes(data))
    cache = BlockCache(tmp_path, max_bytes=1 << 20)
    assert cache.get(key()) is None
    assert not path.exists()
    assert cache.stats().rejected == 1


@pytest.mark.parametrize("field", ["model", "layout", "kv", "prefix", "engine"])
def test_store_ignores_an_entry_saved_under_other_key_fields(tmp_path, field):
    cache = BlockCache(tmp_path, max_bytes=1 << 20)
    other = key(**{field: "other"})
    cache.path(key()).write_bytes(encode_entry(other, b"payload", 3))  # e.g. a file copied from another setup
    assert cache.get(key()) is None
    assert not cache.path(key()).exists()


def test_store_size_bound_evicts_least_recently_used(tmp_path):
    payload = b"z" * 10_000
    entry_bytes = len(encode_entry(key("0"), payload, 1))
    cache = BlockCache(tmp_path, max_bytes=5 * entry_bytes + 100, memory_bytes=0)
    for i in range(5):
        cache.put(key(str(i)), payload, 1)
    assert cache.get(key("0")) is not None  # used: now the most recent
    for i in range(5, 8):
        cache.put(key(str(i)), payload, 1)
        assert cache.stats().bytes <= cache.max_bytes
    kept = {str(i) for i in range(8) if cache.path(key(str(i))).exists()}
    assert kept == {"0", "4", "5", "6", "7"}
    assert cache.stats().evictions == 3


def test_store_keeps_an_entry_larger_than_the_bound_in_memory_only(tmp_path):
    cache = BlockCache(tmp_path, max_bytes=1000)
    assert cache.put(key(), b"y" * 5000, 1) is False
    assert cache.stats().entries == 0
    assert cache.get(key()).payload == b"y" * 5000


def _writer(folder: str, start: int) -> None:
    cache = BlockCache(Path(folder), max_bytes=200_000, memory_bytes=0)
    for i in range(start, start + 30):
        cache.put(key(str(i)), bytes([i % 256]) * 20_000, 1)
        cache.get(key(str(i - 1)))


def test_store_shared_by_two_processes_stays_bounded_and_valid(tmp_path):
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_writer, args=(str(tmp_path), start)) for start in (0, 1000)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    cache = BlockCache(tmp_path, max_bytes=200_000)
    stats = cache.stats()
    assert 0 < stats.bytes <= 200_000
    survivors = [i for i in [*range(30), *range(1000, 1030)] if cache.path(key(str(i))).exists()]
    assert len(survivors) == stats.entries
    assert all(cache.get(key(str(i))).payload == bytes([i % 256]) * 20_000 for i in survivors)
    assert stats.hits + stats.misses == 60
    assert not list(tmp_path.glob(".*.tmp"))


# --- the engine on the real model ------------------------------------------------------------------------



@pytest.fixture(scope="module")
def llm():
    from llama_cpp import Llama

    from rag.models.gguf import MODELS, assemble
    from rag.settings import Settings

    path = assemble(MODELS[MODEL], Settings().store.models_dir, progress=False)
    return Llama(model_path=str(path), n_ctx=1024, n_batch=64, n_threads=2, verbose=False)


@pytest.fixture(scope="module")
def blocks() -> list[str]:
    """Four short seed abstracts as ``<paper>`` blocks."""
    from rag.corpus import load_corpus

    papers = sorted(load_corpus([REPO / "seeds"]).papers, key=lambda p: len(p.abstract))[100:104]
    return [f"<paper>\n{p.title}\n{p.abstract}\n</paper>\n\n" for p in papers]


PREFIX = ("<|im_start|>system\nYou answer questions from the numbered paper abstracts.<|im_end|>\n"
          "<|im_start|>user\nPaper abstracts:\n\n")
TAIL = "Question: What does the paper propose?\n\nAnswer in one sentence.<|im_end|>\n<|im_start|>assistant\n"


@pytest.fixture(scope="module")
def engine(llm, tmp_path_factory):
    from rag.models.gguf import MODELS
    from rag.models.kvcache import BlockCache, BlockEngine

    cache = BlockCache(tmp_path_factory.mktemp("kv"), max_bytes=1 << 30)
    engine = BlockEngine(llm, cache, model_sha256=MODELS[MODEL].sha256, layout="test-1", n_ctx=2048)
    yield engine
    engine.close()


@pytest.mark.llm
def test_layout_pieces_tokenize_like_the_whole_prompt_for_every_seed_paper(engine):
    """Qwen's pre-tokenizer glues a run of newlines to the punctuation before it (``">\n\n"``) and a space to the
    word after it: pieces that end in a newline and start with a non-space keep the tokens of the whole text."""
    from benchmarks.kv_blocks import layouts, prompt_parts
    from rag.corpus import load_corpus

    papers = load_corpus([REPO / "seeds"]).papers
    for start in range(0, len(papers), 6):
        parts = prompt_parts(papers[start : start + 6], "Which of these papers use a benchmark?")
        pieces = layouts(parts)["instructions_cached"]
        split = engine.tokenize(parts["prefix"], bos=True) + [t for p in pieces for t in engine.tokenize(p.text)]
        assert split == engine.tokenize(parts["prefix"] + "".join(p.text for p in pieces), bos=True)


@pytest.mark.llm
def test_report_flags_pieces_that_tokenize_differently_from_the_whole(engine, blocks):
    from rag.models.kvcache import Piece

    engine.prompt_logits(PREFIX, [Piece("[1] "), Piece(blocks[0][len("<paper>\n"):]), Piece(TAIL)])
    assert engine.report.tokens_match is False  # " Title" is one token in the whole text, " " + "Title" apart


@pytest.mark.llm
def test_block_restored_where_it_was_read_gives_the_same_logits(engine, blocks):
    from rag.models.kvcache import Piece

    direct = engine.prompt_logits(PREFIX, [Piece(blocks[0]), Piece(TAIL)], separate=True)
    first = engine.prompt_logits(PREFIX, [Piece(blocks[0], cached=True), Piece(TAIL)])
    assert engine.report.blocks_read == 1
    again = engine.prompt_logits(PREFIX, [Piece(blocks[0], cached=True), Piece(TAIL)])
    assert engine.report.blocks_read == 0 and engine.report.blocks == 1
    assert engine.report.tokens_match
    assert np.abs(first - direct).max() <= 1e-3
    assert np.abs(again - direct).max() <= 1e-3


@pytest.mark.llm
def test_block_shifted_after_a_live_marker_is_close_to_reading_it_there(engine, blocks):
    from rag.models.kvcache import Piece

    for block in blocks[:2]:
        live = [Piece("[2]\n"), Piece(block), Piece(TAIL)]
        direct = engine.prompt_logits(PREFIX, live, separate=True)
        cached = engine.prompt_logits(PREFIX, [live[0], Piece(block, cached=True), live[2]])
        spread = direct.max() - direct.min()
        assert cached.argmax() == direct.argmax()
        assert kl(direct, cached) <= 0.05
        assert np.abs(cached - direct).max() <= 0.05 * spread


@pytest.mark.llm
def test_block_after_another_live_abstract_keeps_the_answer_token(engine, blocks):
    """Blocks read separately never attend to each other: measured, not hidden (see the module docstring)."""
    from rag.models.kvcache import Piece

    live = [Piece("[1]\n"), Piece(blocks[1]), Piece("[2]\n"), Piece(blocks[0]), Piece(TAIL)]
    direct = engine.prompt_logits(PREFIX, live, separate=True)
    cached = engine.prompt_logits(PREFIX, [*live[:3], Piece(blocks[0], cached=True), live[4]])
    both = engine.prompt_logits(PREFIX, [live[0], Piece(blocks[1], True), live[2], Piece(blocks[0], True), live[4]])
    assert engine.report.blocks == 2
    for stitched in (cached, both):
        assert direct.argmax() in np.argsort(stitched)[-5:]
        assert kl(direct, stitched) <= 1.0


@pytest.mark.llm
def test_block_head_read_live_before_its_restored_rest_gives_the_direct_logits(engine, blocks):
    """Where the block was read, its live first tokens see what they saw then. Not bit-exact: llama.cpp's
    results depend on how tokens are grouped into batches (reading the same prompt cut into batches at the same
    tokens moved the logits by up to 0.35 here), so the tolerance is that of a shifted block."""
    from rag.models.kvcache import Piece

    direct = engine.prompt_logits(PREFIX, [Piece(blocks[0]), Piece(TAIL)])
    ends = engine.prompt_logits(PREFIX, [Piece(blocks[0], cached=True), Piece(TAIL)], live_head=5)
    assert engine.report.recomputed_tokens == 5 and engine.report.blocks == 1
    assert ends.argmax() == direct.argmax()
    assert kl(direct, ends) <= 0.05
    assert np.abs(ends - direct).max() <= 0.05 * (direct.max() - direct.min())


@pytest.mark.llm
def test_a_shifted_block_read_all_live_is_the_direct_read(engine, blocks):
    from rag.models.kvcache import Piece

    before = "[1]\n" + blocks[1] + "[2]\n"
    direct = engine.prompt_logits(PREFIX, [Piece(before + blocks[0]), Piece(TAIL)], separate=True)  # same batches
    stitched = engine.prompt_logits(PREFIX, [Piece(before), Piece(blocks[0], cached=True), Piece(TAIL)],
                                    live_head=10**6)
    assert engine.report.recomputed_tokens == len(engine.tokenize(blocks[0]))
    assert stitched.argmax() == direct.argmax()
    assert kl(direct, stitched) <= 0.05  # the KV cells sit in other slots: the same batch-grouping noise as above
    assert np.abs(stitched - direct).max() <= 0.05 * (direct.max() - direct.min())


@pytest.mark.llm
@pytest.mark.parametrize("damage", ["truncate", "flip", "other_model", "refused_by_llama_cpp"])
def test_damaged_or_mismatched_block_is_rebuilt_never_used(engine, blocks, damage):
    from dataclasses import replace

    from rag.models.kvcache import Piece

    block = blocks[2]
    pieces = [Piece("[1]\n"), Piece(block, cached=True), Piece(TAIL)]
    good = engine.prompt_logits(PREFIX, pieces)
    key = engine.block_key(PREFIX, block)
    path = engine.cache.path(key)
    n_tokens = len(engine.tokenize(block))
    data = bytearray(path.read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "flip":
        data[-1000] ^= 0x40
    elif damage == "other_model":  # a whole, valid entry of another model under this key's file name
        data = encode_entry(replace(key, model="0" * 64), engine.cache.get(key).payload, n_tokens)
    else:  # intact and checksummed, but not a state llama.cpp accepts
        data = encode_entry(key, b"\x00" * 4096, n_tokens)
    path.write_bytes(bytes(data))
    engine.cache.clear_memory()  # the engine must meet the damaged file, not its RAM copy
    rejected = engine.cache.stats().rejected
    rebuilt = engine.prompt_logits(PREFIX, pieces)
    assert engine.report.blocks_read == 1
    assert engine.cache.stats().rejected == rejected + 1
    assert np.abs(rebuilt - good).max() <= 1e-3
    engine.cache.clear_memory()
    assert engine.cache.get(key).payload != b"\x00" * 4096


@pytest.mark.llm
def test_block_saved_with_another_kv_type_is_refused_and_rebuilt(llm, engine, blocks, tmp_path):
    from rag.models.gguf import MODELS
    from rag.models.kvcache import BlockCache, BlockEngine, Piece

    block = blocks[3]
    engine.prompt_logits(PREFIX, [Piece(block, cached=True), Piece(TAIL)])
    f16_payload = engine.cache.get(engine.block_key(PREFIX, block)).payload
    q8 = BlockEngine(llm, BlockCache(tmp_path, 1 << 30), model_sha256=MODELS[MODEL].sha256, layout="test-1",
                     n_ctx=1024, kv_type="q8_0")
    try:
        assert q8.block_key(PREFIX, block) != engine.block_key(PREFIX, block)
        q8.cache.put(q8.block_key(PREFIX, block), f16_payload, len(q8.tokenize(block)))  # a mislabelled entry
        logits = q8.prompt_logits(PREFIX, [Piece(block, cached=True), Piece(TAIL)])
        assert q8.report.blocks_read == 1 and q8.cache.stats().rejected == 1
        direct = q8.prompt_logits(PREFIX, [Piece(block), Piece(TAIL)], separate=True)
        assert np.abs(logits - direct).max() <= 1e-3
    finally:
        q8.close()


def reference(llm, prompt: str, max_tokens: int) -> str:
    return llm.create_completion(prompt, max_tokens=max_tokens, temperature=0.0)["choices"][0]["text"]


@pytest.mark.llm
@pytest.mark.parametrize(("question", "multibyte"), [
    ("What does the paper propose?", False),
    ("用中文回答：什么是论文？", True),
    ("Reply with an emoji for happiness.", True),
])
def test_stream_of_live_pieces_equals_llama_greedy_output(llm, engine, question, multibyte):
    """Engine and `Llama` read the same tokens in the same two batches (prefix | the rest), so greedy decoding
    must give the same text. The Chinese and emoji answers check that characters whose bytes are split across
    tokens come out whole."""
    from rag.models.kvcache import Piece

    tail = f"Question: {question}<|im_end|>\n<|im_start|>assistant\n"
    n_prefix = len(engine.tokenize(PREFIX, bos=True))
    assert len(engine.tokenize("[1]\n" + tail)) <= n_prefix <= 64
    llm.reset()  # no reuse of Llama's previous prompt: it reads this one from the start
    llm.n_batch = n_prefix  # Llama then reads the prompt in the engine's two batches: prefix | the rest
    try:
        expected = reference(llm, PREFIX + "[1]\n" + tail, max_tokens=40)
    finally:
        llm.n_batch = 64
    deltas = list(engine.stream(PREFIX, [Piece("[1]\n"), Piece(tail)], max_tokens=40))
    assert "".join(deltas) == expected
    assert (not expected.isascii()) == multibyte
    assert all(d.encode("utf-8").decode("utf-8") == d for d in deltas)
    assert engine.report.stop_reason in ("eog", "length")


@pytest.mark.llm
def test_stream_stop_strings_and_max_tokens(engine, blocks):
    from rag.models.kvcache import Piece

    pieces = [Piece("[1]\n"), Piece(blocks[0], cached=True), Piece(TAIL)]
    full = "".join(engine.stream(PREFIX, pieces, max_tokens=30))
    full_tokens = engine.report.generated
    words = full.split()
    assert len(words) >= 4
    stop = f"{words[2]} {words[3][:2]}"  # spans a token boundary
    cut = "".join(engine.stream(PREFIX, pieces, max_tokens=30, stop=[stop, "never appears"]))
    assert cut == full[: full.index(stop)] and engine.report.stop_reason == "stop"
    short = "".join(engine.stream(PREFIX, pieces, max_tokens=3))
    assert engine.report.generated == 3 and engine.report.stop_reason == "length"
    assert full.startswith(short) and len(short) < len(full) and full_tokens > 3


@pytest.mark.llm
def test_engine_state_is_clean_after_closing_a_stream_early_or_a_failure(engine, blocks):
    from rag.models.kvcache import Piece, PromptTooLong

    pieces = [Piece("[1]\n"), Piece(blocks[1], cached=True), Piece(TAIL)]
    expected = "".join(engine.stream(PREFIX, pieces, max_tokens=12))
    stream = engine.stream(PREFIX, pieces, max_tokens=12)
    next(stream)
    stream.close()
    assert engine.report.stop_reason == "closed"
    with pytest.raises(PromptTooLong):
        list(engine.stream(PREFIX, [Piece("word " * 3000)], max_tokens=5))
    assert "".join(engine.stream(PREFIX, pieces, max_tokens=12)) == expected


@pytest.mark.llm
def test_warm_reads_missing_blocks_and_a_question_goes_first(engine, blocks):
    from rag.corpus import load_corpus
    from rag.models.kvcache import Piece

    prefix = PREFIX.replace("numbered", "numbered (warm test)")  # blocks of a new prefix: none cached yet
    assert engine.warm(prefix, blocks[:2]) == 2
    assert engine.warm(prefix, blocks[:2]) == 0
    assert all(engine.cached(prefix, b) for b in blocks[:2])
    assert engine.warm(prefix, blocks[2:], should_stop=lambda: True) == 0

    many = [f"<paper>\n{p.title}\n{p.abstract}\n</paper>\n\n" for p in load_corpus([REPO / "seeds"]).papers[:40]]
    stop = threading.Event()
    counted: list[int] = []
    warmer = threading.Thread(target=lambda: counted.append(engine.warm(prefix, many, stop.is_set)))
    warmer.start()
    try:
        answer = engine.prompt_logits(prefix, [Piece(blocks[0], cached=True), Piece(TAIL)])
        assert warmer.is_alive()  # the question did not wait for warming to finish
    finally:
        stop.set()
        warmer.join(120)
    assert not warmer.is_alive() and counted and counted[0] < len(many)
    direct = engine.prompt_logits(prefix, [Piece(blocks[0]), Piece(TAIL)], separate=True)
    assert np.abs(answer - direct).max() <= 1e-3
