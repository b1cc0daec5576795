"""Many timeouts of a few lengths on one event loop, behind a single asyncio timer.

Every SNMP request had two asyncio timers (its retransmission timer and its poll's deadline),
nearly all cancelled unfired: each one a TimerHandle pushed onto the loop's heap (ordered by a
Python ``__lt__``, ~12 comparisons a push at 10x) and popped again later. Timeouts of the same
length expire in the order they were set, so a FIFO per length is already sorted: a timeout
is an append, cancelling one drops its callback (the entry leaves when it reaches the head),
and one asyncio timer is armed at the earliest head.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import math
import weakref
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

EARLY = 0.001  # seconds


class Timeout:
    """One pending timeout; ``cancel()`` is idempotent and cheap."""

    __slots__ = ("args", "callback", "due")

    def __init__(self, due: float, callback: Callable[..., None], args: tuple[Any, ...]) -> None:
        self.due = due
        self.callback: Callable[..., None] | None = callback
        self.args = args

    def cancel(self) -> None:
        self.callback = None
        self.args = ()

    @property
    def cancelled(self) -> bool:
        return self.callback is None


class FifoTimers:
    """``loop.call_later`` for callbacks that are nearly always cancelled in time."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._queues: dict[float, collections.deque[Timeout]] = {}
        self._handle: asyncio.TimerHandle | None = None
        self._armed_at = math.inf

    def call_later(self, delay: float, callback: Callable[..., None], *args: Any) -> Timeout:
        due = self.loop.time() + delay
        entry = Timeout(due, callback, args)
        queue = self._queues.get(delay)
        if queue is None:
            queue = self._queues[delay] = collections.deque()
        queue.append(entry)
        if due < self._armed_at:
            self._arm(due)
        return entry

    def __len__(self) -> int:
        """Entries held, the cancelled ones not yet dropped included."""
        return sum(map(len, self._queues.values()))

    def close(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._handle, self._armed_at = None, math.inf
        self._queues.clear()

    def _arm(self, due: float) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._handle = self.loop.call_at(due, self._fire)
        self._armed_at = due

    def _fire(self) -> None:
        self._handle, self._armed_at = None, math.inf
        # An event loop may run a timer a little early (asyncio by its clock's resolution,
        # uvloop rounds to milliseconds): what is due within EARLY runs now, not re-armed.
        ready = self.loop.time() + EARLY
        earliest = math.inf
        for delay, queue in list(self._queues.items()):
            while queue and (queue[0].callback is None or queue[0].due <= ready):
                entry = queue.popleft()
                callback, args = entry.callback, entry.args
                if callback is None:
                    continue
                entry.cancel()
                try:
                    callback(*args)  # may set new timeouts: they land behind, not yet due
                except Exception:  # one bad callback must not stop the others' timeouts
                    log.exception("timeout callback %r failed", callback)
            if queue:
                earliest = min(earliest, queue[0].due)
            else:
                del self._queues[delay]
        if earliest < self._armed_at:  # a callback may have armed an earlier one already
            self._arm(earliest)


_BY_LOOP: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, FifoTimers] = (
    weakref.WeakKeyDictionary()
)


def loop_timers(loop: asyncio.AbstractEventLoop | None = None) -> FifoTimers:
    """The running loop's shared FifoTimers (made on first use)."""
    loop = loop or asyncio.get_running_loop()
    timers = _BY_LOOP.get(loop)
    if timers is None:
        timers = _BY_LOOP[loop] = FifoTimers(loop)
    return timers
