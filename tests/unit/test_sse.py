"""The event stream (/noc/events) through the real HTTP server on loopback: a snapshot first,
then every event; its own client bound; slow readers dropped; keepalives; and streams never
take (or lose) the slots meant for /metrics scrapes."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from exporters.http import MetricsServer
from exporters.sse import SseHub, frame
from netmon.state.events import EventBus
from netmon.state.model import Cause, Event, Place

PLACE = Place("d5001-edge1", "5001", "district", "50", "Chiang Mai", "north", "ท", "T")


def event(n: int, evidence: str = "") -> Event:
    return Event(
        "device", "d5001-edge1", 1000.0 + n, "up", "down", Cause.PROBE, PLACE, None, evidence
    )


@asynccontextmanager
async def served(hub: SseHub, **kw: Any) -> AsyncIterator[tuple[MetricsServer, int]]:
    server = MetricsServer(lambda province: b"up 1\n", streams={"/noc/events": hub.handle}, **kw)
    port = await server.start("127.0.0.1", 0)
    try:
        yield server, port
    finally:
        hub.close()
        await server.close()


async def open_stream(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /noc/events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
    await writer.drain()
    return reader, writer


async def messages(reader: asyncio.StreamReader, n: int) -> list[tuple[str, str]]:
    """The next ``n`` (event, data) messages (comments skipped)."""
    out: list[tuple[str, str]] = []
    name, data = "", ""
    async with asyncio.timeout(10):
        while len(out) < n:
            line = (await reader.readline()).decode()
            if not line:
                raise EOFError
            line = line.rstrip("\n")
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data = line[6:]
            elif line == "" and name:
                out.append((name, data))
                name, data = "", ""
    return out


async def head(reader: asyncio.StreamReader) -> str:
    lines = []
    async with asyncio.timeout(10):
        while (line := await reader.readline()) not in (b"\r\n", b""):
            lines.append(line.decode())
    return "".join(lines)


async def get(port: int, path: str) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    async with asyncio.timeout(10):
        data = await reader.read()
    writer.close()
    return data


def test_a_stream_starts_with_a_snapshot_then_carries_every_event() -> None:
    async def main() -> None:
        bus = EventBus()
        hub = SseHub(bus, lambda: {"devices": {"d5001-edge1": {"status": "up"}}})
        async with served(hub) as (_, port):
            reader, writer = await open_stream(port)
            status = await head(reader)
            assert status.startswith("HTTP/1.1 200")
            assert "Content-Type: text/event-stream" in status
            assert "Cache-Control: no-store" in status
            [(name, data)] = await messages(reader, 1)
            assert name == "snapshot"
            snap = json.loads(data)
            assert snap["devices"]["d5001-edge1"]["status"] == "up"
            assert snap["keepalive"] == hub.keepalive
            for n in range(3):
                bus.publish(event(n))
            got = await messages(reader, 3)
            assert [m[0] for m in got] == ["state"] * 3
            assert [json.loads(m[1]) for m in got] == [event(n).to_json() for n in range(3)]
            assert hub.clients == 1 and hub.sent == 3
            writer.close()
            deadline = time.monotonic() + 20  # the hub notices the client left, unsubscribes
            while (hub.clients or bus._subs) and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            assert hub.clients == 0 and not bus._subs

    asyncio.run(main())


def test_keepalives_reach_proxies_as_comments_and_the_page_as_pings() -> None:
    async def main() -> None:
        hub = SseHub(EventBus(), dict, keepalive=0.1)
        async with served(hub) as (_, port):
            reader, _ = await open_stream(port)
            await head(reader)
            await messages(reader, 1)  # the snapshot
            async with asyncio.timeout(5):
                raw = await reader.readuntil(b"\n\n")
            assert raw.startswith(b': keepalive\nevent: ping\ndata: {"time":')
            assert [m[0] for m in await messages(reader, 2)] == ["ping", "ping"]

    asyncio.run(main())


def test_streams_do_not_take_the_scrape_slots() -> None:
    async def main() -> None:
        hub = SseHub(EventBus(), dict)
        # one scrape slot only: three open streams must leave it free for /metrics
        async with served(hub, max_handlers=1) as (server, port):
            streams = [await open_stream(port) for _ in range(3)]
            for reader, _ in streams:
                assert (await head(reader)).startswith("HTTP/1.1 200")
            assert hub.clients == 3 and server.active == 0
            reply = await get(port, "/metrics")
            assert reply.startswith(b"HTTP/1.1 200") and reply.endswith(b"up 1\n")
            assert server.rejected == 0

    asyncio.run(main())


def test_streams_have_their_own_bound() -> None:
    async def main() -> None:
        hub = SseHub(EventBus(), dict, max_clients=2)
        async with served(hub) as (_, port):
            streams = [await open_stream(port) for _ in range(2)]
            for reader, _ in streams:
                assert (await head(reader)).startswith("HTTP/1.1 200")
            assert hub.clients == 2
            third = await get(port, "/noc/events")
            assert third.startswith(b"HTTP/1.1 503") and b"Retry-After: 2" in third
            assert hub.rejected == 1 and hub.clients == 2
            assert (await get(port, "/metrics")).startswith(b"HTTP/1.1 200")

    asyncio.run(main())


def test_a_client_that_falls_behind_is_dropped_not_shown_a_wrong_map() -> None:
    async def main() -> None:
        bus = EventBus()
        hub = SseHub(bus, dict, depth=5)
        async with served(hub) as (_, port):
            reader, _ = await open_stream(port)
            await head(reader)
            await messages(reader, 1)
            for n in range(20):  # all at once: more than its queue holds
                bus.publish(event(n))
            async with asyncio.timeout(10):
                rest = await reader.read()  # the hub cuts the stream
            assert b"event: state" not in rest  # nothing after a gap: the page resyncs
            assert hub.dropped == 1 and hub.clients == 0 and not bus._subs

    asyncio.run(main())


def test_a_client_that_stops_reading_is_cut_and_its_buffer_freed() -> None:
    async def main() -> None:
        bus = EventBus()
        hub = SseHub(bus, dict, write_timeout=0.5, max_buffer=64 * 1024)
        async with served(hub) as (_, port):
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.connect(("127.0.0.1", port))
            sock.sendall(b"GET /noc/events HTTP/1.1\r\nHost: x\r\n\r\n")
            big = "x" * 50_000
            deadline = time.monotonic() + 30
            n = 0
            while not hub.dropped and time.monotonic() < deadline:  # 50 kB events, never read
                bus.publish(event(n, big))
                n += 1
                await asyncio.sleep(0.005)
            await asyncio.sleep(0.1)  # the handler's cleanup after the cut
            assert hub.dropped == 1 and hub.clients == 0 and not bus._subs
            sock.close()

    asyncio.run(main())


def test_frames_are_one_json_line_with_an_id() -> None:
    raw = frame("state", {"a": "line\nbreak", "th": "ท"}, "abc")
    assert raw == 'id: abc\nevent: state\ndata: {"a":"line\\nbreak","th":"ท"}\n\n'.encode()


def test_every_client_gets_each_event_rendered_once() -> None:
    async def main() -> None:
        bus = EventBus()
        calls: list[str] = []

        def enrich(ev: Event) -> dict[str, Any]:
            calls.append(ev.id)
            return {**ev.to_json(), "causes": []}

        hub = SseHub(bus, dict, enrich=enrich)
        async with served(hub) as (_, port):
            streams = [await open_stream(port) for _ in range(3)]
            for reader, _ in streams:
                await head(reader)
                await messages(reader, 1)
            bus.publish(event(1))
            got = [await messages(reader, 1) for reader, _ in streams]
            assert len({m[0][1] for m in got}) == 1 and json.loads(got[0][0][1])["causes"] == []
            assert calls == [event(1).id] and hub.sent == 3

    asyncio.run(main())
