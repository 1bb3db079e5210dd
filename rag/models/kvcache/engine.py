"""A llama.cpp prompt reader that reads each cached piece of a prompt once and stitches its saved KV state in.

A prompt is a prefix (kept in sequence 0 across calls) followed by pieces. A cached piece is read once right
after the prefix (positions ``P .. P+n-1``, attending to the prefix only) and its KV cells are saved in a
`BlockCache`. Per call, every cached piece is restored into a spare sequence, shifted to its real position with
``llama_memory_seq_add`` (llama.cpp re-applies RoPE to the moved keys in one K-shift pass before the next
decode), then tagged into sequence 0 when the walk over the pieces reaches it; the live pieces between them
are decoded in order, since a batch must continue sequence 0 at its highest position + 1. Cached pieces do
not attend to each other or to the live pieces before them: that is the approximation this buys speed with.
"""

from __future__ import annotations

import ctypes
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import llama_cpp
import numpy as np
from llama_cpp import _internals

from rag.models.kvcache.store import BlockCache, BlockKey, sha256_text
from rag.models.kvcache.text import TextDeltas
from rag.models.pieces import Piece

# name -> (K type, V type). llama.cpp needs flash attention for a quantized V cache (it refuses the context
# otherwise); a quantized K alone works without it.
KV_TYPES = {
    "f16": (llama_cpp.GGML_TYPE_F16, llama_cpp.GGML_TYPE_F16),
    "q8_0": (llama_cpp.GGML_TYPE_Q8_0, llama_cpp.GGML_TYPE_Q8_0),
    "q8_0-k": (llama_cpp.GGML_TYPE_Q8_0, llama_cpp.GGML_TYPE_F16),
}
STATE_FORMAT = f"llama-cpp-python {llama_cpp.__version__}"
STOP_POLL_SECONDS = 0.05


@dataclass
class StreamReport:
    """What the last call did: token counts, blocks reused or read, why generation ended, and step timings."""

    prefix_tokens: int = 0
    live_tokens: int = 0
    cached_tokens: int = 0
    blocks: int = 0
    blocks_read: int = 0  # cached pieces that were not in the cache and were read now
    block_tokens_read: int = 0  # their tokens
    tokens_match: bool | None = None  # pieces tokenized apart give the tokens of the whole text
    recomputed_tokens: int = 0  # cached blocks' first tokens read live (``live_head``)
    decodes: int = 0  # llama_decode calls that read the prompt
    generated: int = 0
    stop_reason: str = ""  # eog, stop, length, closed, error
    timings_ms: dict[str, float] = field(default_factory=dict)

    @property
    def prompt_tokens(self) -> int:
        return self.prefix_tokens + self.live_tokens + self.cached_tokens

    def add(self, step: str, seconds: float) -> None:
        self.timings_ms[step] = self.timings_ms.get(step, 0.0) + seconds * 1000.0


class PromptTooLong(ValueError):
    """The prompt does not fit the context window."""


class _Aborted(Exception):
    """llama_decode stopped because a question is waiting or warming was told to stop."""


class _StaleEntry(Exception):
    """A saved block passed its checksum but llama.cpp refused it, or it came back at the wrong positions."""


@dataclass
class _Prompt:
    tokens: list[list[int]]
    starts: list[int]
    end: int


class BlockEngine:
    """Reads prompts made of a prefix and `Piece` s on ``llama``'s weights, in a context of its own.

    The engine creates its own llama.cpp context (``n_seq_max`` sequences, one unified KV cache of ``n_ctx``
    cells, ``kv_type`` f16 or q8_0; q8_0 needs flash attention) and uses ``llama`` only for its weights and
    tokenizer, so ``llama``'s own context stays usable and untouched. Calls are serialized by a lock; a
    question waiting for it makes a running `warm` give way within one graph node.
    """

    def __init__(
        self,
        llama: llama_cpp.Llama,
        cache: BlockCache,
        *,
        model_sha256: str,
        layout: str,
        n_ctx: int = 4096,
        n_threads: int = 2,
        n_batch: int = 512,
        kv_type: str = "f16",
        flash_attn: bool | None = None,
        n_seq_max: int = 32,
        check_tokens: bool = True,
    ):
        if kv_type not in KV_TYPES:
            raise ValueError(f"kv_type must be one of {sorted(KV_TYPES)}, not {kv_type!r}")
        if n_seq_max < 3:
            raise ValueError("n_seq_max must be at least 3 (the prompt, a spare and a work sequence)")
        type_k, type_v = KV_TYPES[kv_type]
        quantized_v = type_v != llama_cpp.GGML_TYPE_F16
        flash = quantized_v if flash_attn is None else flash_attn
        if quantized_v and not flash:
            raise ValueError(f"a {kv_type} V cache needs flash attention in llama.cpp (flash_attn=True)")
        self.llama = llama
        self.cache = cache
        self.model_sha256 = model_sha256
        self.layout = layout
        self.kv_format = kv_type + ("-fa" if flash else "")
        self.check_tokens = check_tokens
        self.report: StreamReport | None = None

        params = llama_cpp.llama_context_default_params()
        params.n_ctx = n_ctx
        params.n_batch = params.n_ubatch = n_batch
        params.n_seq_max = n_seq_max
        params.kv_unified = True
        params.n_threads = params.n_threads_batch = n_threads
        params.type_k, params.type_v = type_k, type_v
        params.flash_attn_type = (
            llama_cpp.LLAMA_FLASH_ATTN_TYPE_ENABLED if flash else llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED
        )
        self._context = _internals.LlamaContext(model=llama._model, params=params, verbose=False)
        self._ctx = self._context.ctx
        self._mem = self._context.memory
        self.n_ctx = llama_cpp.llama_n_ctx(self._ctx)
        self.n_batch = n_batch
        self.n_seq_max = llama_cpp.llama_n_seq_max(self._ctx)
        if self.n_seq_max < 3 or not llama_cpp.llama_memory_can_shift(self._mem):
            self.close()
            raise RuntimeError("this model's KV cache cannot be shifted or shared between sequences")
        self._work_seq = self.n_seq_max - 1  # blocks are read here; sequences 1 .. n_seq_max - 2 hold parked blocks
        self._vocab = llama._model.vocab
        self.n_vocab = llama_cpp.llama_vocab_n_tokens(self._vocab)
        self._batch = llama_cpp.llama_batch_init(n_batch, 0, 1)
        self._piece_buffer = ctypes.create_string_buffer(64)

        self._lock = threading.Lock()
        self._waiting = 0  # questions waiting for the lock; a running warm gives way
        self._waiting_lock = threading.Lock()
        self._should_stop: Callable[[], bool] | None = None
        self._next_poll = 0.0
        self._abort = llama_cpp.ggml_abort_callback(self._abort_requested)

        self._prefix_text: str | None = None
        self._n_prefix = 0

    # --- public API --------------------------------------------------------------------

    def stream(
        self,
        prefix: str,
        pieces: Sequence[Piece],
        *,
        max_tokens: int = 256,
        temperature: float = 0.0,
        top_p: float = 0.95,
        top_k: int = 40,
        min_p: float = 0.05,
        stop: Sequence[str] = (),
        seed: int = 0,
        live_head: int = 0,
    ) -> Iterator[str]:
        """Yield the answer's text as it is generated (greedy when ``temperature`` is 0; else top-k, top-p, min-p,
        temperature and a seeded draw, llama-cpp-python's default chain, so a prompt gets the reply it would get there).

        ``live_head``: read that many of each cached block's first tokens (its title) live, after the papers and
        the number before them, instead of taking their saved state; the rest of the block is still restored.

        Ends at an end-of-generation token, before the first stop string, or after ``max_tokens`` tokens (fewer
        if the context is full). Close the generator to stop early: the engine is locked until it ends.
        `report` describes the call.
        """
        report = self.report = StreamReport()
        start = time.perf_counter()
        with self._turn():
            sampler = None
            try:
                n_past = self._read_prompt(prefix, pieces, report, live_head=live_head)
                sampler = self._sampler(temperature, top_p, top_k, min_p, seed)
                deltas = TextDeltas(stop)
                budget = min(max_tokens, self.n_ctx - n_past)
                report.stop_reason = "length"
                while report.generated < budget:
                    token = llama_cpp.llama_sampler_sample(sampler, self._ctx, -1)
                    if report.generated == 0:
                        report.add("first_token", time.perf_counter() - start)
                    if llama_cpp.llama_vocab_is_eog(self._vocab, token):
                        report.stop_reason = "eog"
                        break
                    report.generated += 1
                    text = deltas.push(self._token_bytes(token))
                    if text:
                        yield text
                    if deltas.stopped:
                        report.stop_reason = "stop"
                        break
                    if report.generated < budget:
                        self._decode([token], n_past, 0, logits=True)
                        n_past += 1
                if not deltas.stopped and (text := deltas.finish()):
                    yield text
            except GeneratorExit:
                report.stop_reason = "closed"
                raise
            except BaseException:
                report.stop_reason = "error"
                raise
            finally:
                if sampler is not None:
                    llama_cpp.llama_sampler_free(sampler)
                self._back_to_prefix()
                report.add("total", time.perf_counter() - start)

    def prompt_logits(self, prefix: str, pieces: Sequence[Piece], separate: bool = False,
                      live_head: int = 0) -> np.ndarray:
        """The next-token logits after reading the prompt (float32, one per vocabulary entry).

        ``separate`` decodes each live piece in its own batch instead of joining neighbours. llama.cpp's results
        depend slightly on how tokens are grouped into batches, so a reference read with the same batch
        boundaries as a cached layout isolates what caching itself changes. ``live_head`` as in `stream`.
        """
        report = self.report = StreamReport()
        with self._turn():
            try:
                self._read_prompt(prefix, pieces, report, separate, live_head)
                logits = llama_cpp.llama_get_logits_ith(self._ctx, -1)
                return np.ctypeslib.as_array(logits, shape=(self.n_vocab,)).copy()
            finally:
                self._back_to_prefix()

    def warm(self, prefix: str, blocks: Iterable[str], should_stop: Callable[[], bool] = lambda: False) -> int:
        """Read and save each block not cached yet; return how many were read.

        ``should_stop`` is checked between blocks and, every 50 ms, while one is being read (reading stops at
        once). A question asked meanwhile interrupts the block being read and goes first; warming then resumes.
        """
        computed = 0
        for text in blocks:
            if should_stop():
                break
            if self.cached(prefix, text):
                continue
            tokens = self.tokenize(text)
            if not tokens:
                continue
            while not should_stop():
                done = self._warm_one(prefix, text, tokens, should_stop)
                if done is not None:
                    computed += done
                    break
                time.sleep(STOP_POLL_SECONDS)  # a question is waiting or came in: it goes first
        return computed

    def _warm_one(self, prefix: str, text: str, tokens: list[int], should_stop: Callable[[], bool]) -> int | None:
        """Read and save one block: 1 if read, 0 if someone else saved it meanwhile, None if interrupted."""
        with self._lock:
            if self._waiting:
                return None
            self._ensure_prefix(prefix, StreamReport())
            key = self._key("block", text)
            if self.cache.contains(key) or self._n_prefix + len(tokens) >= self.n_ctx:
                return 0  # saved meanwhile, or too long to ever fit a prompt
            try:
                payload = self._read_block(tokens, abortable=should_stop)
            except _Aborted:
                return None
            self.cache.put(key, payload, len(tokens), remember=False)
            return 1

    def cached(self, prefix: str, text: str) -> bool:
        """True if ``text`` read after ``prefix`` is in the cache."""
        return self.cache.contains(self.block_key(prefix, text))

    def block_key(self, prefix: str, text: str) -> BlockKey:
        """The cache key of ``text`` read after ``prefix`` by this engine (model, layout, KV format)."""
        return self._key("block", text, prefix)

    def tokenize(self, text: str, bos: bool = False) -> list[int]:
        """Token ids of ``text`` (special tokens parsed); ``bos`` adds BOS if the model wants one."""
        return self.llama.tokenize(text.encode("utf-8"), add_bos=bos, special=True) if text else []

    def close(self) -> None:
        """Free the context and the batch (the model belongs to ``llama``)."""
        if getattr(self, "_batch", None) is not None:
            llama_cpp.llama_batch_free(self._batch)
            self._batch = None
        self._context.close()

    # --- reading the prompt ---------------------------------------------------------------

    @contextmanager
    def _turn(self) -> Iterator[None]:
        """Hold the engine for one question: a running warm sees the waiting question and gives way."""
        with self._waiting_lock:
            self._waiting += 1
        try:
            self._lock.acquire()
        finally:
            with self._waiting_lock:
                self._waiting -= 1
        try:
            yield
        finally:
            self._lock.release()

    def _read_prompt(self, prefix: str, pieces: Sequence[Piece], report: StreamReport, separate: bool = False,
                     live_head: int = 0) -> int:
        """Put the prompt's KV state in sequence 0 with the last token's logits ready; return its length."""
        pieces = [p for p in pieces if p.text]
        if not pieces:
            raise ValueError("the prompt needs at least one piece after the prefix")
        if pieces[-1].cached:  # its last token's logits are needed, and a saved block has none
            pieces[-1] = Piece(pieces[-1].text, cached=False)
        for attempt in range(2):
            try:
                return self._stitch(prefix, pieces, report, separate, live_head)
            except _StaleEntry:
                self._back_to_prefix()
                if attempt:
                    raise RuntimeError("llama.cpp refused a block it had just saved") from None
        raise AssertionError("unreachable")

    def _stitch(self, prefix: str, pieces: list[Piece], report: StreamReport, separate: bool,
                live_head: int) -> int:
        clock = time.perf_counter()

        def lap(step: str) -> None:
            nonlocal clock
            now = time.perf_counter()
            report.add(step, now - clock)
            clock = now

        report.decodes = 0
        self._ensure_prefix(prefix, report)
        lap("prefix")
        prompt = self._layout(pieces)
        if self.check_tokens:
            whole = self.tokenize(prefix, bos=True) + [t for tokens in prompt.tokens for t in tokens]
            report.tokens_match = whole == self.tokenize(prefix + "".join(p.text for p in pieces), bos=True)
        report.prefix_tokens = self._n_prefix
        report.live_tokens = sum(len(t) for p, t in zip(pieces, prompt.tokens, strict=True) if not p.cached)
        report.cached_tokens = sum(len(t) for p, t in zip(pieces, prompt.tokens, strict=True) if p.cached)
        if prompt.end >= self.n_ctx:
            raise PromptTooLong(f"the prompt has {prompt.end} tokens; the context holds {self.n_ctx}")
        lap("tokenize")

        cached = [i for i, p in enumerate(pieces) if p.cached]
        report.blocks = len(cached)
        payloads = {i: self._block_payload(pieces[i].text, prompt.tokens[i], report) for i in cached}
        lap("fetch")

        free = list(range(self._work_seq - 1, 0, -1))
        waiting = deque(cached)
        parked: dict[int, int] = {}

        def park() -> None:
            while waiting and free:
                i = waiting.popleft()
                seq = free.pop()
                self._restore_block(pieces[i].text, payloads[i], len(prompt.tokens[i]), seq)
                lap("restore")
                if prompt.starts[i] != self._n_prefix:
                    llama_cpp.llama_memory_seq_add(
                        self._mem, seq, self._n_prefix, self._n_prefix + len(prompt.tokens[i]),
                        prompt.starts[i] - self._n_prefix,
                    )
                lap("shift")
                parked[i] = seq

        park()
        run: list[int] = []
        run_start = self._n_prefix

        def flush(logits: bool = False) -> None:
            nonlocal run, run_start
            self._decode(run, run_start, 0, logits=logits)
            lap("tail_decode" if logits else "first_live_decode" if report.decodes == 0 else "live_decode")
            report.decodes += 1
            run_start += len(run)
            run = []

        for i, piece in enumerate(pieces):
            if not piece.cached:
                if separate and run:
                    flush()
                run.extend(prompt.tokens[i])
                continue
            tokens, start = prompt.tokens[i], prompt.starts[i]
            head = min(live_head, len(tokens))
            run.extend(tokens[:head])
            if run:
                flush()
            if i not in parked:
                park()
            seq = parked.pop(i)
            llama_cpp.llama_memory_seq_cp(self._mem, seq, 0, start + head, -1)
            llama_cpp.llama_memory_seq_rm(self._mem, seq, -1, -1)
            free.append(seq)
            run_start = start + len(tokens)
            report.recomputed_tokens += head
            lap("copy")
        flush(logits=True)
        return prompt.end

    def _layout(self, pieces: list[Piece]) -> _Prompt:
        tokens = [self.tokenize(p.text) for p in pieces]
        starts = []
        position = self._n_prefix
        for piece_tokens in tokens:
            starts.append(position)
            position += len(piece_tokens)
        return _Prompt(tokens, starts, position)

    def _ensure_prefix(self, prefix: str, report: StreamReport) -> None:
        """Sequence 0 holds exactly the prefix (restored from the cache, else read and saved)."""
        if prefix == self._prefix_text and self._holds_only_prefix():
            return
        self._prefix_text = None
        llama_cpp.llama_memory_clear(self._mem, False)
        tokens = self.tokenize(prefix, bos=True)
        if not tokens:
            raise ValueError("the prefix must not be empty")
        if len(tokens) >= self.n_ctx:
            raise PromptTooLong(f"the prefix has {len(tokens)} tokens; the context holds {self.n_ctx}")
        key = self._key("prefix", prefix, prefix)
        entry = self.cache.get(key)
        if entry is not None:
            if entry.n_tokens == len(tokens) and self._restore(entry.payload, 0, 0, len(tokens)):
                self._prefix_text, self._n_prefix = prefix, len(tokens)
                return
            self.cache.discard(key)
            llama_cpp.llama_memory_clear(self._mem, False)
        started = time.perf_counter()
        self._decode(tokens, 0, 0, logits=False)
        self.cache.put(key, self._save(0), len(tokens))
        report.add("prefix_read", time.perf_counter() - started)
        self._prefix_text, self._n_prefix = prefix, len(tokens)

    def _holds_only_prefix(self) -> bool:
        pos_min, pos_max = llama_cpp.llama_memory_seq_pos_min, llama_cpp.llama_memory_seq_pos_max
        if pos_min(self._mem, 0) != 0 or pos_max(self._mem, 0) != self._n_prefix - 1:
            return False
        return all(pos_max(self._mem, seq) == -1 for seq in range(1, self.n_seq_max))

    def _back_to_prefix(self) -> None:
        """Drop everything but the prefix cells (kept for the next call)."""
        if self._prefix_text is None:
            llama_cpp.llama_memory_clear(self._mem, False)
            return
        llama_cpp.llama_memory_seq_rm(self._mem, -1, self._n_prefix, -1)
        for seq in range(1, self.n_seq_max):
            llama_cpp.llama_memory_seq_rm(self._mem, seq, -1, -1)
        if not self._holds_only_prefix():
            self._prefix_text = None
            llama_cpp.llama_memory_clear(self._mem, False)

    def _key(self, kind: str, text: str, prefix: str | None = None) -> BlockKey:
        prefix = self._prefix_text if prefix is None else prefix
        assert prefix is not None
        return BlockKey(
            model=self.model_sha256, layout=self.layout, prefix=sha256_text(prefix), kv=self.kv_format,
            engine=STATE_FORMAT, kind=kind, text=sha256_text(text),
        )

    # --- blocks -------------------------------------------------------------------------

    def _block_payload(self, text: str, tokens: list[int], report: StreamReport) -> bytes:
        """The saved state of a block (read now and saved when missing or unusable)."""
        key = self._key("block", text)
        entry = self.cache.get(key)
        if entry is not None and entry.n_tokens == len(tokens):
            return entry.payload
        if entry is not None:
            self.cache.discard(key)
        started = time.perf_counter()
        payload = self._read_block(tokens)
        report.add("block_read", time.perf_counter() - started)
        report.blocks_read += 1
        report.block_tokens_read += len(tokens)
        self.cache.put(key, payload, len(tokens))
        return payload

    def _read_block(self, tokens: list[int], abortable: Callable[[], bool] | None = None) -> bytes:
        """Read ``tokens`` right after the prefix in the work sequence and return their KV cells' state."""
        seq, n_prefix = self._work_seq, self._n_prefix
        llama_cpp.llama_memory_seq_cp(self._mem, 0, seq, 0, n_prefix)
        try:
            if abortable is not None:
                self._should_stop = abortable
                llama_cpp.llama_set_abort_callback(self._ctx, self._abort, None)
            self._decode(tokens, n_prefix, seq, logits=False)
            llama_cpp.llama_memory_seq_rm(self._mem, seq, 0, n_prefix)
            return self._save(seq)
        finally:
            if abortable is not None:
                llama_cpp.llama_set_abort_callback(self._ctx, llama_cpp.ggml_abort_callback(), None)
                self._should_stop = None
            llama_cpp.llama_memory_seq_rm(self._mem, seq, -1, -1)

    def _restore_block(self, text: str, payload: bytes, n_tokens: int, seq: int) -> None:
        if not self._restore(payload, seq, self._n_prefix, n_tokens):
            self.cache.discard(self._key("block", text))
            raise _StaleEntry(text[:60])

    def _restore(self, payload: bytes, seq: int, first: int, n_tokens: int) -> bool:
        """Restore saved cells into ``seq``; True if llama.cpp took them and they sit at ``first ..``."""
        source = ctypes.cast(ctypes.c_char_p(payload), ctypes.POINTER(ctypes.c_uint8))
        if llama_cpp.llama_state_seq_set_data(self._ctx, source, len(payload), seq) == 0:
            return False
        if (llama_cpp.llama_memory_seq_pos_min(self._mem, seq) == first
                and llama_cpp.llama_memory_seq_pos_max(self._mem, seq) == first + n_tokens - 1):
            return True
        llama_cpp.llama_memory_seq_rm(self._mem, seq, -1, -1)
        return False

    def _save(self, seq: int) -> bytes:
        size = llama_cpp.llama_state_seq_get_size(self._ctx, seq)
        buffer = (ctypes.c_uint8 * size)()
        written = llama_cpp.llama_state_seq_get_data(self._ctx, buffer, size, seq)
        if written == 0:
            raise RuntimeError(f"llama.cpp could not save sequence {seq}")
        return ctypes.string_at(buffer, written)

    # --- llama.cpp calls ------------------------------------------------------------------

    def _decode(self, tokens: list[int], start: int, seq: int, logits: bool) -> None:
        """Decode ``tokens`` at positions ``start ..`` of ``seq``; logits for the last one if asked."""
        batch = self._batch
        for offset in range(0, len(tokens), self.n_batch):
            chunk = tokens[offset : offset + self.n_batch]
            for i, token in enumerate(chunk):
                batch.token[i] = token
                batch.pos[i] = start + offset + i
                batch.n_seq_id[i] = 1
                batch.seq_id[i][0] = seq
                batch.logits[i] = 0
            if logits and offset + len(chunk) == len(tokens):
                batch.logits[len(chunk) - 1] = 1
            batch.n_tokens = len(chunk)
            status = llama_cpp.llama_decode(self._ctx, batch)
            if status == 2:
                raise _Aborted()
            if status != 0:
                raise RuntimeError(f"llama_decode failed with status {status}")

    def _abort_requested(self, _data: ctypes.c_void_p) -> bool:
        """llama.cpp's abort callback while warming: a question is waiting, or ``should_stop`` says so."""
        if self._waiting:
            return True
        now = time.monotonic()
        if self._should_stop is not None and now >= self._next_poll:
            self._next_poll = now + STOP_POLL_SECONDS
            return bool(self._should_stop())
        return False

    def _sampler(self, temperature: float, top_p: float, top_k: int, min_p: float, seed: int
                 ) -> llama_cpp.llama_sampler_p:
        chain = llama_cpp.llama_sampler_chain_init(llama_cpp.llama_sampler_chain_default_params())
        if temperature <= 0:
            llama_cpp.llama_sampler_chain_add(chain, llama_cpp.llama_sampler_init_greedy())
            return chain
        if top_k > 0:
            llama_cpp.llama_sampler_chain_add(chain, llama_cpp.llama_sampler_init_top_k(top_k))
        if top_p < 1.0:
            llama_cpp.llama_sampler_chain_add(chain, llama_cpp.llama_sampler_init_top_p(top_p, 1))
        if min_p > 0:
            llama_cpp.llama_sampler_chain_add(chain, llama_cpp.llama_sampler_init_min_p(min_p, 1))
        llama_cpp.llama_sampler_chain_add(chain, llama_cpp.llama_sampler_init_temp(temperature))
        llama_cpp.llama_sampler_chain_add(chain, llama_cpp.llama_sampler_init_dist(seed & 0xFFFFFFFF))
        return chain

    def _token_bytes(self, token: int) -> bytes:
        buffer = self._piece_buffer
        n = llama_cpp.llama_token_to_piece(self._vocab, token, buffer, len(buffer), 0, False)
        if n < 0:
            buffer = ctypes.create_string_buffer(-n)
            n = llama_cpp.llama_token_to_piece(self._vocab, token, buffer, len(buffer), 0, False)
        return buffer.raw[:n]
