"""Questions being answered right now, so that background work (warming the prompt cache) gives way to them."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

POLL_SECONDS = 0.2  # how often a waiting background job asks whether it should stop altogether


class QuestionsInFlight:
    """Counts the questions being answered; background work waits while there are any."""

    def __init__(self) -> None:
        self._count = 0
        self._changed = threading.Condition()

    @contextmanager
    def asked(self) -> Iterator[None]:
        """A question is being answered inside this block."""
        with self._changed:
            self._count += 1
        try:
            yield
        finally:
            with self._changed:
                self._count -= 1
                self._changed.notify_all()

    @property
    def count(self) -> int:
        return self._count

    def busy(self) -> bool:
        return self._count > 0

    def wait_until_idle(self, should_stop: Callable[[], bool] = lambda: False) -> bool:
        """Block while a question is being answered; False if ``should_stop()`` said so meanwhile."""
        with self._changed:
            while self._count and not should_stop():
                self._changed.wait(POLL_SECONDS)
        return not should_stop()


def counted(stream: Callable[..., Iterator]) -> Callable[..., Iterator]:
    """Decorates an answer stream of an object with a ``questions`` counter: the question counts as in flight
    from the stream's first step until it ends or is closed."""
    @functools.wraps(stream)
    def wrapper(self, *args, **kwargs):
        with self.questions.asked():
            yield from stream(self, *args, **kwargs)
    return wrapper
