"""On-disk store of saved KV blocks: one checksummed file per block, LRU-bounded, shared safely by processes.

A file is ``MAGIC``, a 4-byte header length, a JSON header (the key's fields, the token count, the payload's
length), the payload and the sha256 of everything before it. Files are written to a temporary name and renamed,
so readers never see a half-written entry. An entry that fails its checksum or whose header does not match the
key asked for is deleted and reported as a miss. Each read stamps the file's mtime with the current time (our
own access record, not the filesystem's atime); eviction removes the least recently stamped files first, under
a lock file, until the folder fits ``max_bytes``. Recently used payloads are also kept in RAM (``memory_bytes``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import struct
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from filelock import FileLock

MAGIC = b"RAGKV01\n"
SUFFIX = ".kv"
STALE_TEMP_SECONDS = 3600.0  # a temporary file older than this was left by a crashed writer
HEADER_LIMIT = 1 << 16
DIGEST_BYTES = 32


@dataclass(frozen=True)
class BlockKey:
    """Everything a saved KV block depends on. ``text`` and ``prefix`` are sha256 hex digests of the texts."""

    model: str  # sha256 of the GGUF file
    layout: str  # the caller's prompt-layout version
    prefix: str  # sha256 of the prefix text the block was read after
    kv: str  # KV format, e.g. "f16" or "q8_0-fa"
    engine: str  # llama.cpp state format version (the llama-cpp-python version)
    kind: str  # "block" or "prefix"
    text: str  # sha256 of the block's text

    @property
    def digest(self) -> str:
        """The entry's file name (without suffix): sha256 of the key's fields."""
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class Entry:
    """A verified payload and the number of tokens it holds."""

    payload: bytes
    n_tokens: int


@dataclass(frozen=True)
class CacheStats:
    """Entries and bytes on disk now; hits, misses, evictions and rejected (damaged or mismatched) entries counted
    across every process that used the folder."""

    entries: int
    bytes: int
    max_bytes: int
    hits: int
    misses: int
    evictions: int
    rejected: int
    memory_entries: int
    memory_bytes: int

    @property
    def hit_rate(self) -> float:
        lookups = self.hits + self.misses
        return self.hits / lookups if lookups else 0.0


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def encode_entry(key: BlockKey, payload: bytes, n_tokens: int) -> bytes:
    """The file's bytes for one entry: magic, header length, JSON header, payload, sha256 of all before it."""
    header = {"key": asdict(key), "n_tokens": n_tokens, "payload_bytes": len(payload), "created": time.time()}
    head = json.dumps(header, sort_keys=True).encode()
    body = MAGIC + struct.pack("<I", len(head)) + head + payload
    return body + hashlib.sha256(body).digest()


def parse_header(data: bytes) -> tuple[dict, int] | None:
    """The JSON header at the start of an entry's bytes and where its payload starts; None if it is malformed."""
    start = len(MAGIC) + 4
    if len(data) < start or not data.startswith(MAGIC):
        return None
    (head_len,) = struct.unpack_from("<I", data, len(MAGIC))
    if head_len > HEADER_LIMIT or len(data) < start + head_len:
        return None
    try:
        header = json.loads(data[start : start + head_len])
    except ValueError:
        return None
    return (header, start + head_len) if isinstance(header, dict) else None


def read_header(path: Path) -> dict | None:
    """The header of an entry file (its key, tokens and size), read without its payload; None if malformed."""
    with path.open("rb") as handle:
        parsed = parse_header(handle.read(len(MAGIC) + 4 + HEADER_LIMIT))
    return parsed[0] if parsed else None


def decode_entry(data: bytes, key: BlockKey) -> Entry | None:
    """The entry in ``data`` if it is intact and was saved under ``key``; None otherwise."""
    if len(data) < len(MAGIC) + 4 + DIGEST_BYTES:
        return None
    body, digest = data[:-DIGEST_BYTES], data[-DIGEST_BYTES:]
    if hashlib.sha256(body).digest() != digest or (parsed := parse_header(body)) is None:
        return None
    header, start = parsed
    payload = body[start:]
    try:
        valid = (
            header["key"] == asdict(key)
            and header["payload_bytes"] == len(payload)
            and isinstance(header["n_tokens"], int)
            and header["n_tokens"] > 0
        )
    except (KeyError, TypeError):
        return None
    return Entry(payload, header["n_tokens"]) if valid else None


class BlockCache:
    """Saved KV blocks in ``folder``, at most ``max_bytes`` on disk and ``memory_bytes`` in RAM."""

    def __init__(self, folder: Path, max_bytes: int, memory_bytes: int = 256 << 20):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self.memory_bytes = memory_bytes
        self._file_lock = FileLock(str(self.folder / ".lock"), thread_local=False)
        self._thread_lock = threading.Lock()  # one FileLock object is re-entrant: threads must queue before it
        self._memory: OrderedDict[str, Entry] = OrderedDict()
        self._memory_used = 0
        self._mutex = threading.RLock()

    def path(self, key: BlockKey) -> Path:
        return self.folder / f"{key.digest}{SUFFIX}"

    def get(self, key: BlockKey) -> Entry | None:
        """The entry for ``key`` (from RAM, else disk), or None; a damaged or mismatched file is deleted."""
        digest = key.digest
        path = self.folder / f"{digest}{SUFFIX}"
        with self._mutex:
            entry = self._memory.get(digest)
            if entry is not None:
                self._memory.move_to_end(digest)
        if entry is None:
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                self._count(misses=1)
                return None
            entry = decode_entry(data, key)
            if entry is None:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                self._count(misses=1, rejected=1)
                return None
            self._remember(digest, entry)
        self._touch(path)
        self._count(hits=1)
        return entry

    def contains(self, key: BlockKey) -> bool:
        """True if an entry for ``key`` exists (not verified, not counted as a lookup)."""
        digest = key.digest
        with self._mutex:
            if digest in self._memory:
                return True
        return (self.folder / f"{digest}{SUFFIX}").is_file()

    def put(self, key: BlockKey, payload: bytes, n_tokens: int, remember: bool = True) -> bool:
        """Save an entry, evicting least recently used ones to stay within ``max_bytes``.

        Returns False (and keeps the entry in RAM only) when it alone is larger than ``max_bytes``.
        """
        digest = key.digest
        if remember:
            self._remember(digest, Entry(payload, n_tokens))
        data = encode_entry(key, payload, n_tokens)
        if len(data) > self.max_bytes:
            return False
        target = self.folder / f"{digest}{SUFFIX}"
        temp = self.folder / f".{digest}.{os.getpid()}.{threading.get_ident()}.tmp"
        try:
            with temp.open("wb") as handle:
                handle.write(data)
            with self._exclusive():
                self._evict(room=len(data), keep=target)
                os.replace(temp, target)
        finally:
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()
        return True

    def discard(self, key: BlockKey) -> None:
        """Forget an entry that turned out unusable (RAM and disk); counted as rejected."""
        digest = key.digest
        with self._mutex:
            entry = self._memory.pop(digest, None)
            if entry is not None:
                self._memory_used -= len(entry.payload)
        with contextlib.suppress(FileNotFoundError):
            (self.folder / f"{digest}{SUFFIX}").unlink()
        self._count(rejected=1)

    def stats(self) -> CacheStats:
        files = self._files()
        counts = self._read_counts()
        with self._mutex:
            memory_entries, memory_used = len(self._memory), self._memory_used
        return CacheStats(
            entries=len(files), bytes=sum(size for _, size, _ in files), max_bytes=self.max_bytes,
            hits=counts.get("hits", 0), misses=counts.get("misses", 0), evictions=counts.get("evictions", 0),
            rejected=counts.get("rejected", 0), memory_entries=memory_entries, memory_bytes=memory_used,
        )

    def clear_memory(self) -> None:
        """Drop the RAM copies (the files stay)."""
        with self._mutex:
            self._memory.clear()
            self._memory_used = 0

    def clear(self) -> None:
        """Delete every entry and the counters."""
        with self._exclusive():
            for path, _, _ in self._files():
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
            with contextlib.suppress(FileNotFoundError):
                (self.folder / "stats.json").unlink()
        self.clear_memory()

    # --- internals -------------------------------------------------------------------

    def _remember(self, digest: str, entry: Entry) -> None:
        size = len(entry.payload)
        if size > self.memory_bytes:
            return
        with self._mutex:
            old = self._memory.pop(digest, None)
            if old is not None:
                self._memory_used -= len(old.payload)
            self._memory[digest] = entry
            self._memory_used += size
            while self._memory_used > self.memory_bytes:
                _, dropped = self._memory.popitem(last=False)
                self._memory_used -= len(dropped.payload)

    @staticmethod
    def _touch(path: Path) -> None:
        """Record an access: the file's mtime is our LRU clock."""
        with contextlib.suppress(FileNotFoundError):
            os.utime(path, ns=(time.time_ns(), time.time_ns()))

    def _files(self) -> list[tuple[Path, int, int]]:
        """(path, size, last access in ns) of every entry."""
        rows = []
        for path in self.folder.glob(f"*{SUFFIX}"):
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue
            rows.append((path, stat.st_size, stat.st_mtime_ns))
        return rows

    def _evict(self, room: int, keep: Path) -> None:
        """Delete least recently used entries until ``room`` more bytes fit (call with the lock held)."""
        files = sorted((row for row in self._files() if row[0] != keep), key=lambda row: (row[2], row[0].name))
        total = sum(size for _, size, _ in files)
        evicted = 0
        for path, size, _ in files:
            if total + room <= self.max_bytes:
                break
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            total -= size
            evicted += 1
        now = time.time()
        for temp in self.folder.glob(".*.tmp"):
            with contextlib.suppress(FileNotFoundError):
                if now - temp.stat().st_mtime > STALE_TEMP_SECONDS:
                    temp.unlink()
        if evicted:
            self._count_locked(evictions=evicted)

    def _read_counts(self) -> dict[str, int]:
        try:
            counts = json.loads((self.folder / "stats.json").read_text())
        except (FileNotFoundError, ValueError):
            return {}
        return {k: int(v) for k, v in counts.items() if isinstance(v, int)} if isinstance(counts, dict) else {}

    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[None]:
        """Held while changing the folder: excludes other threads and other processes."""
        with self._thread_lock, self._file_lock:
            yield

    def _count(self, **deltas: int) -> None:
        with self._exclusive():
            self._count_locked(**deltas)

    def _count_locked(self, **deltas: int) -> None:
        counts = self._read_counts()
        for name, delta in deltas.items():
            counts[name] = counts.get(name, 0) + delta
        temp = self.folder / f".stats.{os.getpid()}.{threading.get_ident()}.tmp"
        temp.write_text(json.dumps(counts))
        os.replace(temp, self.folder / "stats.json")
