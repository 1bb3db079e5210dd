"""Generated token bytes to text deltas: whole UTF-8 characters only, cut before the first stop string."""

from __future__ import annotations

import codecs
from collections.abc import Sequence


class TextDeltas:
    """Feed token bytes with `push`; each call returns the text that is safe to show now.

    Bytes of an unfinished UTF-8 character are held until it completes. Text that could be the start of a
    stop string is held until it is known not to be one. When a stop string appears, the text before it is
    returned, `stopped` becomes True and the stop string itself never appears in the output.
    """

    def __init__(self, stop: Sequence[str] = ()):
        self.stop = [s for s in stop if s]
        self.stopped = False
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending = ""

    def push(self, data: bytes) -> str:
        if self.stopped:
            return ""
        return self._release(self._pending + self._decoder.decode(data))

    def finish(self) -> str:
        """The held-back text once generation ended without a stop string (a cut-off character becomes U+FFFD)."""
        if self.stopped:
            return ""
        text = self._pending + self._decoder.decode(b"", final=True)
        self._pending = ""
        cut = self._first_stop(text)
        if cut is not None:
            self.stopped = True
            return text[:cut]
        return text

    def _first_stop(self, text: str) -> int | None:
        found = [i for i in (text.find(s) for s in self.stop) if i >= 0]
        return min(found) if found else None

    def _release(self, text: str) -> str:
        cut = self._first_stop(text)
        if cut is not None:
            self.stopped = True
            self._pending = ""
            return text[:cut]
        hold = max((k for s in self.stop for k in range(1, len(s)) if text.endswith(s[:k])), default=0)
        self._pending = text[len(text) - hold :] if hold else ""
        return text[: len(text) - hold]
