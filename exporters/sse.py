"""Server-Sent Events: the state engine's event stream for browsers (the NOC wall page).

A stream is a long-lived connection, so it lives outside the limits meant for /metrics
scrapes (``MetricsServer`` hands the connection over once it has read the request) and has
bounds of its own:

- at most ``max_clients`` streams at once; the next client gets a 503 (the page retries);
- each client has its own bounded ``EventBus`` subscription: a client that falls behind
  loses events, so it is dropped (its browser reconnects and starts again from a fresh
  snapshot) rather than shown a wrong map;
- every write has a deadline and the socket's send buffer a ceiling: a reader that stops
  reading is cut, never buffered for;
- a keepalive every ``keepalive`` seconds (a comment line for proxies and an ``event: ping``
  for the page, which cannot see comments) keeps an idle stream open and lets the page
  notice a dead feed (nothing for a few keepalives = stale).

Each stream begins with ``event: snapshot`` (every device's and link's current state, taken
after subscribing, so no change falls between the two), then one ``event: state`` per
``Event`` (``Event.to_json()``, the same document as the MQTT events, plus the device's
current root causes).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from exporters.families import Family, LabelSet
from netmon.state.events import EventBus
from netmon.state.model import Event

log = logging.getLogger(__name__)

MAX_CLIENTS = 32  # a NOC has a handful of wall screens and desks
DEPTH = 2_000  # events queued per client; a province outage is ~70, the whole country ~1,200
KEEPALIVE = 5.0
WRITE_TIMEOUT = 10.0
MAX_BUFFER = 1 << 20  # bytes the kernel may not have taken yet; more: the client is not reading
RETRY_MS = 2_000  # the browser's reconnect delay

Snapshot = Callable[[], dict[str, Any]]
Enrich = Callable[[Event], dict[str, Any]]


def frame(event: str, data: dict[str, Any], ident: str = "") -> bytes:
    """One SSE message; JSON has no raw newlines, so ``data`` is one line."""
    head = f"id: {ident}\n" if ident else ""
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return f"{head}event: {event}\ndata: {body}\n\n".encode()


class _Dropped(Exception):
    pass


class SseHub:
    def __init__(
        self,
        bus: EventBus,
        snapshot: Snapshot,
        *,
        enrich: Enrich | None = None,
        max_clients: int = MAX_CLIENTS,
        depth: int = DEPTH,
        keepalive: float = KEEPALIVE,
        write_timeout: float = WRITE_TIMEOUT,
        max_buffer: int = MAX_BUFFER,
    ) -> None:
        if max_clients < 1:
            raise ValueError(f"max_clients must be at least 1, got {max_clients}")
        self._bus = bus
        self._snapshot = snapshot
        self._enrich = enrich or (lambda ev: ev.to_json())
        self.max_clients = max_clients
        self._depth = depth
        self.keepalive = keepalive
        self._write_timeout = write_timeout
        self._max_buffer = max_buffer
        self._writers: set[asyncio.StreamWriter] = set()
        self.rejected = 0  # answered 503: max_clients streams open
        self.dropped = 0  # clients cut: fell behind, stopped reading or timed out
        self.sent = 0  # events written (all clients)
        self._frames: OrderedDict[str, bytes] = OrderedDict()  # event id -> frame, for all

    @property
    def clients(self) -> int:
        return len(self._writers)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Serve one stream until the client leaves, falls behind or the hub closes.
        The request head has been read already."""
        if len(self._writers) >= self.max_clients:
            self.rejected += 1
            body = b"too many event streams\n"
            with contextlib.suppress(Exception):
                await self._write(
                    writer,
                    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
                    b"Retry-After: 2\r\nConnection: close\r\n"
                    + f"Content-Length: {len(body)}\r\n\r\n".encode()
                    + body,
                )
            return
        self._writers.add(writer)
        sub = self._bus.subscribe(self._depth)
        gone = asyncio.ensure_future(self._until_eof(reader))
        try:
            await self._write(
                writer,
                b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\n"
                b"Cache-Control: no-store\r\nX-Accel-Buffering: no\r\nConnection: close\r\n\r\n"
                + f"retry: {RETRY_MS}\n\n".encode(),
            )
            snap = self._snapshot()
            snap["keepalive"] = self.keepalive
            await self._write(writer, frame("snapshot", snap))
            while True:
                ev = await self._next(sub, gone)
                if ev is None:
                    if gone.done():
                        return
                    # A comment for proxies, an event for the page (comments reach no script).
                    ping = frame("ping", {"time": round(time.time(), 3)})
                    await self._write(writer, b": keepalive\n" + ping)
                    continue
                if sub.dropped:
                    raise _Dropped(f"fell {sub.dropped} events behind")
                await self._write(writer, self._frame(ev))
                self.sent += 1
        except _Dropped as exc:
            self.dropped += 1
            log.warning("sse: client %s dropped: %s", writer.get_extra_info("peername"), exc)
            writer.transport.abort()
        except (ConnectionError, OSError):
            writer.transport.abort()
        finally:
            sub.close()
            gone.cancel()
            self._writers.discard(writer)

    async def _next(self, sub: Any, gone: asyncio.Future[None]) -> Event | None:
        """The next event, or None after ``keepalive`` seconds or when the client left."""
        get = asyncio.ensure_future(sub.get())
        done, _ = await asyncio.wait(
            {get, gone}, timeout=self.keepalive, return_when="FIRST_COMPLETED"
        )
        if get in done:
            ev: Event = get.result()
            return ev
        get.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await get
        return None

    def _frame(self, ev: Event) -> bytes:
        """An event's frame, rendered once for every client (a nationwide outage is ~1,000
        events times every wall screen)."""
        data = self._frames.get(ev.id)
        if data is None:
            data = self._frames[ev.id] = frame("state", self._enrich(ev), ev.id)
            while len(self._frames) > self._depth:
                self._frames.popitem(last=False)
        return data

    @staticmethod
    async def _until_eof(reader: asyncio.StreamReader) -> None:
        """A stream client sends nothing after its request: any read end means it left."""
        with contextlib.suppress(Exception):
            while await reader.read(4096):
                pass

    async def _write(self, writer: asyncio.StreamWriter, data: bytes) -> None:
        if writer.transport.get_write_buffer_size() > self._max_buffer:
            raise _Dropped("stopped reading (send buffer full)")
        writer.write(data)
        try:
            async with asyncio.timeout(self._write_timeout):
                await writer.drain()
        except TimeoutError as exc:
            raise _Dropped(f"did not read within {self._write_timeout:.0f} s") from exc

    def close(self) -> None:
        """Shutting down: cut every stream (browsers reconnect to the next netmon)."""
        for writer in list(self._writers):
            writer.transport.abort()

    def families(self) -> list[Family]:
        one = LabelSet(())
        return [
            Family(
                "netmon_sse_clients",
                "gauge",
                "Event streams (/noc/events) open.",
                [(one, len(self._writers))],
            ),
            Family(
                "netmon_sse_rejected_total",
                "counter",
                "Event stream requests answered 503: too many streams open.",
                [(one, self.rejected)],
            ),
            Family(
                "netmon_sse_dropped_total",
                "counter",
                "Event stream clients cut: fell behind, stopped reading or timed out.",
                [(one, self.dropped)],
            ),
            Family(
                "netmon_sse_events_sent_total",
                "counter",
                "Events written to event stream clients (all clients).",
                [(one, self.sent)],
            ),
        ]
