"""The event stream: one producer (the state engine), many consumers (exporter counters, MQTT,
the NOC page, the demo). Each subscriber has its own bounded queue; a subscriber that falls
behind loses its oldest events and is told how many (``dropped``), never blocking the others.
Consumers that must lose nothing (the MQTT publisher) put events in their own durable queue
as soon as they get them.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

from netmon.state.model import Event

DEFAULT_DEPTH = 10_000


class Subscription:
    def __init__(self, bus: EventBus, depth: int) -> None:
        self._bus = bus
        self._items: deque[Event] = deque()
        self._depth = depth
        self._ready = asyncio.Event()
        self.dropped = 0
        self.closed = False

    def _put(self, event: Event) -> None:
        if len(self._items) >= self._depth:
            self._items.popleft()
            self.dropped += 1
        self._items.append(event)
        self._ready.set()

    async def get(self) -> Event:
        """The next event (waits); raises ``asyncio.CancelledError`` when cancelled."""
        while not self._items:
            self._ready.clear()
            await self._ready.wait()
        return self._items.popleft()

    def get_nowait(self) -> Event | None:
        return self._items.popleft() if self._items else None

    def close(self) -> None:
        self.closed = True
        self._bus._subs.discard(self)


class EventBus:
    def __init__(self) -> None:
        self._subs: set[Subscription] = set()
        self._listeners: list[Callable[[Event], None]] = []
        self.published = 0
        self.recent: deque[Event] = deque(maxlen=500)  # for late readers (explain, NOC page)

    def subscribe(self, depth: int = DEFAULT_DEPTH) -> Subscription:
        sub = Subscription(self, depth)
        self._subs.add(sub)
        return sub

    def listen(self, fn: Callable[[Event], None]) -> None:
        """Call ``fn`` synchronously for every event (cheap consumers: counters, logs)."""
        self._listeners.append(fn)

    def publish(self, event: Event) -> None:
        self.published += 1
        self.recent.append(event)
        for fn in self._listeners:
            fn(event)
        for sub in list(self._subs):
            sub._put(event)
