"""A small asyncio HTTP server for /metrics, running in the collector's event loop.

Rendering in the loop reads a consistent snapshot without locks (the scheduler mutates
device states only between awaits). Routes:

- ``/metrics``                   everything (devices + collector self-metrics)
- ``/metrics?province=NN``       one province's devices (so Prometheus can scrape in parallel)
- ``/province/NN/metrics``       the same, as a path
- ``/collector/metrics``         the collector's own metrics only (province ``SELF``)
- ``/health/metrics``            per-device health and the collector's own, no interface
                                  tables (province ``HEALTH``): a light view of who is up
- ``/healthz``                   200 "ok"
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qs, urlsplit

from exporters.exposition import CONTENT_TYPE

log = logging.getLogger(__name__)

Render = Callable[[str | None], bytes]
Route = tuple[Callable[[], bytes], str]  # (body maker, content type)
# A long-lived reply (Server-Sent Events): takes the connection over once the head is read.
Stream = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
_PROVINCE_PATH = re.compile(r"^/province/(\d{2})/metrics/?$")
_PROVINCE_CODE = re.compile(r"^\d{2}$")
MAX_REQUEST = 16 * 1024
SELF = "self"
HEALTH = "health"
MAX_HANDLERS = 16  # Prometheus scrapes a few routes in parallel; more is a misbehaving client
READ_TIMEOUT = 10.0
WRITE_TIMEOUT = 30.0  # a 20 MB body over a slow link, with room to spare
_REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def route(target: str) -> tuple[int, str | None]:
    """(status, province) for a request target; status 0 means "serve metrics"."""
    parts = urlsplit(target)
    if parts.path == "/healthz":
        return 200, None
    if parts.path in ("/collector/metrics", "/collector/metrics/"):
        return 0, SELF
    if parts.path in ("/health/metrics", "/health/metrics/"):
        return 0, HEALTH
    if parts.path in ("/metrics", "/metrics/"):
        province = parse_qs(parts.query).get("province", [None])[0]
        if province is not None and not _PROVINCE_CODE.match(province):
            return 400, None
        return 0, province
    m = _PROVINCE_PATH.match(parts.path)
    if m:
        return 0, m.group(1)
    return 404, None


class MetricsServer:
    """Serves the routes above; every connection is bounded in time and in number.

    A scraper that sends a request and never reads would otherwise pin its handler and the
    rendered body (15-20 MB for the whole country) forever, so the reply has a deadline
    (the transport is aborted when it passes) and at most ``max_handlers`` connections are
    served at once: the next one gets a small 503 straight away instead of a queue.
    """

    def __init__(
        self,
        render: Render,
        *,
        routes: dict[str, Route] | None = None,
        streams: dict[str, Stream] | None = None,
        max_handlers: int = MAX_HANDLERS,
        read_timeout: float = READ_TIMEOUT,
        write_timeout: float = WRITE_TIMEOUT,
    ) -> None:
        if max_handlers < 1:
            raise ValueError(f"max_handlers must be at least 1, got {max_handlers}")
        self._render = render
        self._routes = routes or {}  # extra GET paths (e.g. /api/state)
        self._streams = streams or {}  # long-lived GET paths (e.g. /noc/events)
        self._server: asyncio.Server | None = None
        self._max_handlers = max_handlers
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self.active = 0  # connections being served (rejected ones not included)
        self.rejected = 0  # answered 503 because max_handlers were busy
        self.write_timeouts = 0  # replies aborted because the client did not read in time

    async def start(self, host: str, port: int) -> int:
        self._server = await asyncio.start_server(self._handle, host, port, limit=MAX_REQUEST)
        sock = self._server.sockets[0]
        return int(sock.getsockname()[1])

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.active >= self._max_handlers:
            self.rejected += 1
            try:
                await self._reject(reader, writer)
            finally:
                await self._close(writer)
            return
        self.active += 1
        try:
            await self._serve(reader, writer)
        except asyncio.CancelledError:
            writer.transport.abort()  # shutting down: do not wait for a client to read
            raise
        finally:
            await self._close(writer)
            self.active -= 1

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await self._read_request(reader, self._read_timeout)
        except (TimeoutError, ConnectionError, ValueError):
            return  # slow, vanished or oversized request (readline raises ValueError)
        parts = request.decode("latin-1").split()
        if len(parts) < 2 or parts[0] not in ("GET", "HEAD"):
            await self._reply(writer, 405, b"only GET\n", "text/plain")
            return
        try:
            path = urlsplit(parts[1]).path.rstrip("/") or "/"
        except ValueError:  # urlsplit on a malformed target, e.g. "http://[::1"
            path = ""
        stream = self._streams.get(path)
        if stream is not None:  # not a scrape: its own limits (exporters/sse.py), not ours
            self.active -= 1
            try:
                await stream(reader, writer)
            finally:
                self.active += 1
            return
        extra = self._routes.get(path)
        if extra is not None:
            make, ctype = extra
            try:
                body = make()
            except Exception:
                log.exception("http: rendering %s failed", parts[1])
                await self._reply(writer, 500, b"internal error\n", "text/plain")
                return
            await self._reply(writer, 200, body, ctype, head=parts[0] == "HEAD")
            return
        try:
            status, province = route(parts[1])
        except ValueError:  # urlsplit on a malformed target, e.g. "http://[::1"
            await self._reply(writer, 400, b"not found\n", "text/plain")
            return
        if status == 0:
            try:
                body = self._render(province)
            except Exception:
                log.exception("metrics: rendering %s failed", parts[1])
                await self._reply(writer, 500, b"internal error\n", "text/plain")
                return
            await self._reply(writer, 200, body, CONTENT_TYPE, head=parts[0] == "HEAD")
        elif status == 200:
            await self._reply(writer, 200, b"ok\n", "text/plain")
        else:
            await self._reply(writer, status, b"not found\n", "text/plain")

    async def _reject(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self._reply(writer, 503, b"busy\n", "text/plain", retry_after=True)
        # Read (and drop) the request briefly: closing with it unread would send a reset,
        # which can make the client lose the 503 it has not read yet.
        with contextlib.suppress(TimeoutError, ConnectionError, ValueError):
            await self._read_request(reader, min(1.0, self._read_timeout))

    @staticmethod
    async def _read_request(reader: asyncio.StreamReader, timeout: float) -> bytes:
        async with asyncio.timeout(timeout):
            request = await reader.readline()
            while True:  # headers: read and ignore
                line = await reader.readline()
                if line in (b"\r\n", b"\n", b""):
                    return request

    async def _reply(
        self,
        writer: asyncio.StreamWriter,
        status: int,
        body: bytes,
        ctype: str,
        head: bool = False,
        retry_after: bool = False,
    ) -> None:
        header = (
            f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n"
            f"Content-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
            + ("Retry-After: 1\r\n" if retry_after else "")
            + "Connection: close\r\n\r\n"
        )
        try:
            async with asyncio.timeout(self._write_timeout):
                writer.write(header.encode())
                if not head:
                    writer.write(body)  # separately: no second copy of a 20 MB body
                await writer.drain()
        except TimeoutError:
            self.write_timeouts += 1
            log.warning(
                "metrics: client %s did not read its reply within %.1f s; dropped",
                writer.get_extra_info("peername"),
                self._write_timeout,
            )
            writer.transport.abort()  # close() would wait for the unsent buffer forever
        except ConnectionError:
            writer.transport.abort()

    async def _close(self, writer: asyncio.StreamWriter) -> None:
        writer.close()
        try:
            async with asyncio.timeout(self._write_timeout):
                await writer.wait_closed()
        except TimeoutError:
            writer.transport.abort()
        except Exception:  # the peer's reset and the like: the connection is gone either way
            pass
