"""The /metrics server under clients that misbehave: stalled readers, too many connections,
a render that raises. Loopback only; deadlines are generous and asserted as "eventually"."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Awaitable, Callable

import pytest

from exporters.http import MetricsServer
from exporters.http_guard import GuardLimits

BIG = 20 * 1024 * 1024  # the size of the whole country's exposition
HOST = "127.0.0.1"


def big_render(province: str | None) -> bytes:
    return b"x" * BIG


async def eventually(check: Callable[[], bool], within: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not check():
        if loop.time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


async def stalled_client(port: int, target: str = "/metrics") -> socket.socket:
    """Sends a request and never reads: a tiny receive buffer so the reply cannot fit."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # also stops autotuning
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_connect(sock, (HOST, port))
    await loop.sock_sendall(sock, f"GET {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    return sock


async def get(port: int, target: str) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection(HOST, port)
    writer.write(f"GET {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    await writer.drain()
    async with asyncio.timeout(60):
        raw = await reader.read()  # the server closes after the reply
    writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def serve(server: MetricsServer, test: Callable[[int], Awaitable[None]]) -> None:
    async def main() -> None:
        port = await server.start(HOST, 0)
        try:
            await test(port)
        finally:
            await server.close()

    asyncio.run(main())


def test_clients_that_never_read_are_dropped_and_others_are_served() -> None:
    server = MetricsServer(big_render, write_timeout=0.5)

    async def test(port: int) -> None:
        stalled = [await stalled_client(port) for _ in range(5)]
        await eventually(lambda: server.active == 5)
        await eventually(lambda: server.active == 0)  # each handler gave up, none hangs on
        assert server.write_timeouts == 5
        # The stalled client's connection was aborted: it reads what was buffered, then a
        # reset or EOF, never the whole body.
        loop = asyncio.get_running_loop()
        received, ended = 0, False
        while not ended:
            try:
                chunk = await loop.sock_recv(stalled[0], 1 << 20)
            except ConnectionResetError:
                break
            received += len(chunk)
            ended = chunk == b""
        assert received < BIG
        for sock in stalled:
            sock.close()
        status, body = await get(port, "/metrics")
        assert (status, len(body)) == (200, BIG)
        assert server.active == 0

    serve(server, test)


def test_a_dropped_reply_is_told_and_a_finished_one_is_not() -> None:
    dropped: list[int] = []
    server = MetricsServer(
        big_render, write_timeout=0.5, on_dropped_reply=lambda: dropped.append(1)
    )

    async def test(port: int) -> None:
        status, body = await get(port, "/metrics")
        assert (status, len(body)) == (200, BIG) and dropped == []
        stalled = [await stalled_client(port) for _ in range(3)]
        await eventually(lambda: server.write_timeouts == 3)
        assert dropped == [1, 1, 1]
        for sock in stalled:
            sock.close()

    serve(server, test)


def test_a_full_server_evicts_a_stalled_reader_for_a_new_client() -> None:
    # Two slots, both held by clients that never read: a third client is still served, by
    # cutting the one that has made no progress for longest (the old server answered 503).
    limits = GuardLimits(max_connections=2, stall_grace=0.2)
    server = MetricsServer(big_render, limits=limits, write_timeout=60, render_ttl=0)

    async def test(port: int) -> None:
        stalled = [await stalled_client(port) for _ in range(2)]
        try:
            await eventually(lambda: server.active == 2)
            await asyncio.sleep(0.5)  # past the stall grace
            assert await get(port, "/healthz") == (200, b"ok\n")
            assert server.guard.evicted == 1 and server.rejected == 0
        finally:
            for sock in stalled:
                sock.close()
        await eventually(lambda: server.active == 0)

    serve(server, test)


def test_a_server_busy_with_progressing_replies_answers_503() -> None:
    async def slow_handler_server() -> None:
        gate = asyncio.Event()
        limits = GuardLimits(max_connections=1)
        server = MetricsServer(big_render, limits=limits)
        port = await server.start(HOST, 0)
        try:
            reader, writer = await asyncio.open_connection(HOST, port)
            writer.write(b"GET /metrics HTTP/1.1\r\n\r\n")
            await writer.drain()
            await reader.readexactly(1024)  # reading: its reply is progressing
            await eventually(lambda: next(iter(server.guard.conns)).phase == "write")
            status, body = await get(port, "/healthz")
            assert (status, body) == (503, b"busy\n")
            assert server.rejected == 1
            gate.set()
            writer.close()
        finally:
            await server.close()

    asyncio.run(slow_handler_server())


def test_a_render_error_is_a_logged_500(caplog: pytest.LogCaptureFixture) -> None:
    def broken(province: str | None) -> bytes:
        raise ValueError(f"no such label for {province}")

    server = MetricsServer(broken)

    async def test(port: int) -> None:
        assert await get(port, "/metrics?province=10") == (500, b"internal error\n")
        assert await get(port, "/healthz") == (200, b"ok\n")  # the server lives on
        assert await get(port, "/nowhere") == (404, b"not found\n")

    with caplog.at_level(logging.ERROR, logger="exporters.http"):
        serve(server, test)
    [record] = [r for r in caplog.records if r.name == "exporters.http"]
    assert record.exc_info is not None and record.exc_info[0] is ValueError
    assert "no such label for 10" in caplog.text


def test_a_malformed_request_is_answered_not_dropped() -> None:
    server = MetricsServer(big_render)

    async def test(port: int) -> None:
        assert (await get(port, "/metrics?province=abc"))[0] == 400
        assert (await get(port, "http://[::1/metrics"))[0] == 400
        reader, writer = await asyncio.open_connection(HOST, port)
        writer.write(b"POST /metrics HTTP/1.1\r\n\r\n")
        await writer.drain()
        assert (await reader.read()).startswith(b"HTTP/1.1 405 ")
        writer.close()
        assert server.active == 0

    serve(server, test)


def test_head_sends_no_body() -> None:
    server = MetricsServer(lambda province: b"up 1\n")

    async def test(port: int) -> None:
        reader, writer = await asyncio.open_connection(HOST, port)
        writer.write(b"HEAD /metrics HTTP/1.1\r\n\r\n")
        await writer.drain()
        raw = await reader.read()
        writer.close()
        assert raw.startswith(b"HTTP/1.1 200 OK\r\n")
        assert b"Content-Length: 5\r\n" in raw
        assert raw.endswith(b"\r\n\r\n")

    serve(server, test)


def test_a_request_head_has_one_deadline_not_one_per_line() -> None:
    from exporters.http_guard import GuardLimits

    server = MetricsServer(lambda p: b"up 1\n", limits=GuardLimits(head_timeout=0.5))

    async def test(port: int) -> None:
        reader, writer = await asyncio.open_connection(HOST, port)
        writer.write(b"GET /metrics HTTP/1.1\r\n")
        loop = asyncio.get_running_loop()
        started = loop.time()
        with contextlib.suppress(ConnectionError):
            while not reader.at_eof() and loop.time() - started < 5:
                writer.write(b"X-Slow: 1\r\n")  # a line every 0.1 s keeps no deadline alive
                await writer.drain()
                await asyncio.sleep(0.1)
        assert loop.time() - started < 2.0
        assert server.counters.head_timeouts == 1
        writer.close()

    serve(server, test)


def test_an_oversized_head_is_431_not_a_reset() -> None:
    server = MetricsServer(lambda p: b"up 1\n")

    async def test(port: int) -> None:
        reader, writer = await asyncio.open_connection(HOST, port)
        header = b"GET /metrics HTTP/1.1\r\nX-Big: " + b"a" * (10 * 1024 * 1024) + b"\r\n\r\n"

        async def send() -> None:
            with contextlib.suppress(ConnectionError):
                writer.write(header)
                await writer.drain()

        sender = asyncio.create_task(send())
        async with asyncio.timeout(20):
            first = await reader.readuntil(b"\r\n")
        assert first == b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
        sender.cancel()
        writer.transport.abort()

    serve(server, test)


def test_405_says_what_is_allowed_and_a_newline_is_no_province_code() -> None:
    server = MetricsServer(lambda p: b"up 1\n")

    async def test(port: int) -> None:
        reader, writer = await asyncio.open_connection(HOST, port)
        writer.write(b"DELETE /metrics HTTP/1.1\r\n\r\n")
        await writer.drain()
        raw = await reader.read()
        writer.close()
        assert raw.startswith(b"HTTP/1.1 405 ") and b"\r\nAllow: GET, HEAD\r\n" in raw
        assert (await get(port, "/metrics?province=50%0a"))[0] == 400
        assert (await get(port, "/metrics?province=50"))[0] == 200

    serve(server, test)


def test_routes_can_be_added() -> None:
    from exporters.http import Request, Response

    server = MetricsServer(lambda p: b"up 1\n")
    server.routes["/api/ping"] = lambda req: Response(
        200, f"pong {req.query.get('n', ['?'])[0]}".encode(), "text/plain"
    )

    async def test(port: int) -> None:
        assert await get(port, "/api/ping?n=3") == (200, b"pong 3")

    serve(server, test)
    assert Request  # the handler's argument type, for route authors


def test_simple_routes_are_body_makers_with_a_content_type() -> None:
    server = MetricsServer(
        lambda p: b"", routes={"/api/state": (lambda: b"{}", "application/json")}
    )

    async def test(port: int) -> None:
        assert await get(port, "/api/state/") == (200, b"{}")

    serve(server, test)


def test_only_an_expensive_render_is_shared() -> None:
    import time

    calls: list[str | None] = []

    def render(province: str | None) -> bytes:
        calls.append(province)
        if province is None:
            time.sleep(0.5)  # the whole backbone: shared for ~5 s (10x its render time)
        return b"up 1\n"

    server = MetricsServer(render)

    async def test(port: int) -> None:
        for _ in range(3):
            assert await get(port, "/metrics") == (200, b"up 1\n")
            assert await get(port, "/province/50/metrics") == (200, b"up 1\n")

    serve(server, test)
    assert calls.count(None) == 1  # three clients within the window, one render
    assert calls.count("50") == 3  # a cheap slice is always fresh
