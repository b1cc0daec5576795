"""Slots: the counting semaphore that bounds the polls running at once.

``asyncio.Semaphore`` was 4-8 % of py-spy's samples at 10x while the bounds were full: every
``async with`` runs two coroutines, and its ``locked()`` walks every waiter on each acquire
(O(n) per poll while a burst queues behind the bound). Unsaturated (3x, side by side) this
saves ~1 % of the CPU. Here entering with a slot free is a plain call, only
a poll that must wait awaits a future, and a freed slot goes straight to the oldest waiter
(first come, first served; no newcomer takes it meanwhile). ``grow()`` adds slots while in use.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Generator
from types import TracebackType


class _Done:
    """An awaitable that is already done: what entering with a free slot returns."""

    __slots__ = ()

    def __await__(self) -> Generator[None, None, None]:
        return
        yield  # a generator that returns at once


_DONE = _Done()


class Slots:
    """At most ``size`` holders at once: ``async with slots: ...``."""

    __slots__ = ("_waiters", "free", "size")

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"slots: size must be at least 1, got {size}")
        self.size = size
        self.free = size
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def waiting(self) -> int:
        return sum(1 for f in self._waiters if not f.done())

    def __aenter__(self) -> Awaitable[None]:
        # A slot is only ever free while nobody waits (_give() hands it over), so this is FIFO.
        if self.free:
            self.free -= 1
            return _DONE
        return self._wait()

    async def _wait(self) -> None:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        try:
            await fut
        except asyncio.CancelledError:
            if not fut.cancelled():  # the slot was handed over as we were cancelled: pass it on
                self._give()
            raise  # a cancelled waiter stays in the queue until _give() skips it

    def take(self) -> bool:
        """A slot now, without waiting (False if none is free): for callback polls."""
        if self.free:
            self.free -= 1
            return True
        return False

    def release(self) -> None:
        """Give back a slot ``take()`` got."""
        self._give()

    def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Awaitable[None]:
        self._give()
        return _DONE

    def _give(self) -> None:
        waiters = self._waiters
        while waiters:
            fut = waiters.popleft()
            if not fut.done():
                fut.set_result(None)
                return
        self.free += 1

    def grow(self, size: int) -> None:
        """Make it ``size`` slots if that is more (waiters get the new ones first)."""
        for _ in range(size - self.size):
            self._give()
        self.size = max(self.size, size)
