"""A small asyncio HTTP server for /metrics, running in the collector's event loop.

Rendering in the loop reads a consistent snapshot without locks (the scheduler mutates
device states only between awaits). Routes:

- ``/metrics``                   everything (devices + collector self-metrics)
- ``/metrics?province=NN``       one province's devices (so Prometheus can scrape in parallel)
- ``/province/NN/metrics``       the same, as a path
- ``/collector/metrics``         the collector's own metrics only (province ``SELF``)
- ``/health/metrics``            per-device health and the collector's own, no interface
                                  tables (province ``HEALTH``): a light view of who is up
- ``/healthz``                   200 "ok" (never behind basic auth: a liveness probe)

More routes: ``server.routes[path] = handler`` (a ``Request -> Response`` function).
Clients cannot starve it (``exporters/http_guard.py`` has the policy); TLS and basic auth
come from an exporter-toolkit web-config file (``exporters/web_config.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

from exporters.exposition import CONTENT_TYPE
from exporters.families import Family, LabelSet
from exporters.http_guard import Conn, Guard, GuardLimits
from exporters.web_config import WebConfig

log = logging.getLogger(__name__)

Render = Callable[[str | None], bytes]
_PROVINCE_PATH = re.compile(r"/province/(\d{2})/metrics/?")
_PROVINCE_CODE = re.compile(r"\d{2}")
MAX_REQUEST = 16 * 1024  # request line + headers; more is a 431
SELF = "self"
HEALTH = "health"
CHUNK = 256 * 1024  # a reply is written in chunks, each with its own progress deadline
# A render that took RENDER_SHARE_MIN or more is shared with the clients asking for the same
# route for RENDER_DUTY times its render time: the whole backbone renders in 0.3-1 s in the
# event loop, so clients re-requesting /metrics cannot keep the loop rendering (measured: 16
# reconnecting never-readers starved polls until they timed out). Cheap routes (a province
# slice) are always rendered fresh: a 1 s scrape sees every change.
RENDER_SHARE_MIN = 0.05
RENDER_DUTY = 10.0
RENDER_TTL_MAX = 15.0
_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
}
_ALLOW = (("Allow", "GET, HEAD"),)


@dataclass(frozen=True)
class Request:
    method: str
    target: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    client: str


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    content_type: str = "text/plain"
    headers: tuple[tuple[str, str], ...] = ()


Handler = Callable[[Request], Response]
Route = tuple[Callable[[], bytes], str]  # (body maker, content type): a simple GET route
# A long-lived reply (Server-Sent Events): takes the connection over once the head is read
# (and basic auth passed); it leaves the guard's slots, having its own limits (exporters/sse.py).
Stream = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def _as_handler(route: Route | Handler) -> Handler:
    if not isinstance(route, tuple):
        return route
    make, ctype = route
    return lambda req: Response(200, make(), ctype)


def route(target: str) -> tuple[int, str | None]:
    """(status, province) for a metrics request target; status 0 means "serve metrics"."""
    parts = urlsplit(target)
    if parts.path == "/healthz":
        return 200, None
    if parts.path in ("/collector/metrics", "/collector/metrics/"):
        return 0, SELF
    if parts.path in ("/health/metrics", "/health/metrics/"):
        return 0, HEALTH
    if parts.path in ("/metrics", "/metrics/"):
        province = parse_qs(parts.query).get("province", [None])[0]
        # fullmatch: "50\n" (from %0a) must not pass as "50" ($ matches before a newline)
        if province is not None and not _PROVINCE_CODE.fullmatch(province):
            return 400, None
        return 0, province
    m = _PROVINCE_PATH.fullmatch(parts.path)
    if m:
        return 0, m.group(1)
    return 404, None


class _HeadTooLarge(Exception):
    pass


@dataclass
class _Counters:
    rejected: int = 0  # answered 503: no slot could be freed
    write_timeouts: int = 0  # replies cut because the client stopped reading
    head_timeouts: int = 0  # request head not complete within its deadline
    unauthorized: int = 0
    too_large: int = 0
    by_status: dict[int, int] = field(default_factory=dict)


class MetricsServer:
    """Serves the routes above; every connection is bounded in time, size and number."""

    def __init__(
        self,
        render: Render,
        *,
        routes: dict[str, Route | Handler] | None = None,
        streams: dict[str, Stream] | None = None,
        limits: GuardLimits | None = None,
        write_timeout: float | None = None,
        max_handlers: int | None = None,  # the older name of limits.max_connections
        web: WebConfig | None = None,
        render_ttl: float = 0.0,
        on_dropped_reply: Callable[[], None] | None = None,
    ) -> None:
        limits = limits or GuardLimits()
        if write_timeout is not None:
            limits = limits.replace(write_timeout=write_timeout)
        if max_handlers is not None:
            limits = limits.replace(max_connections=max_handlers)
        self.limits = limits
        self.guard = Guard(limits)
        self._render = render
        self._server: asyncio.Server | None = None
        self.web = web or WebConfig()
        self.counters = _Counters()
        self._render_ttl = render_ttl
        # Called when a reply was cut off (a stalled or vanished client), after its buffers go:
        # the service gives the memory back to the system then (netmon/runtime_tuning.py).
        self._on_dropped_reply = on_dropped_reply
        self._cache: dict[str | None, tuple[float, bytes]] = {}  # route -> (expiry, body)
        self.routes: dict[str, Handler] = {"/healthz": lambda req: Response(200, b"ok\n")}
        for path, extra in (routes or {}).items():  # e.g. /api/state
            self.routes[path] = _as_handler(extra)
        self.streams: dict[str, Stream] = dict(streams or {})  # e.g. /noc/events

    # the names service.py and the tests read
    @property
    def active(self) -> int:
        return len(self.guard.conns)

    @property
    def rejected(self) -> int:
        return self.counters.rejected

    @property
    def write_timeouts(self) -> int:
        return self.counters.write_timeouts

    async def start(self, host: str, port: int) -> int:
        ctx: ssl.SSLContext | None = self.web.ssl_context()
        self._server = await asyncio.start_server(
            self._handle,
            host,
            port,
            limit=MAX_REQUEST,
            ssl=ctx,
            ssl_handshake_timeout=self.limits.head_timeout if ctx else None,
        )
        sock = self._server.sockets[0]
        return int(sock.getsockname()[1])

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for conn in list(self.guard.conns):
                conn.writer.transport.abort()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()

    # --- one connection ------------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        client = str(peer[0]) if isinstance(peer, tuple) else "?"
        conn = self.guard.admit(client, writer)
        if conn is None:
            self.counters.rejected += 1
            try:
                await self._reject(reader, writer)
            finally:
                await self._close(writer)
            return
        try:
            await self._serve(conn, reader, writer)
        except asyncio.CancelledError:
            writer.transport.abort()  # shutting down: do not wait for a client to read
            raise
        except ConnectionError:
            writer.transport.abort()
        finally:
            self.guard.release(conn)
            await self._close(writer)

    async def _serve(
        self, conn: Conn, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            line, headers = await self._read_head(reader, self.limits.head_timeout)
        except TimeoutError:
            self.counters.head_timeouts += 1
            return
        except _HeadTooLarge:
            self.counters.too_large += 1
            await self._send(conn, writer, Response(431, b"request head too large\n"))
            await self._discard(reader)
            return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        if conn.evicted:
            return
        stream = self._stream_for(line)
        if stream is not None:
            if self.web.users and not await self.web.check(headers.get("authorization")):
                await self._send(conn, writer, self._unauthorized())
                return
            if conn.evicted:
                return
            self.guard.release(conn)  # not a scrape: its own limits, not a slot of ours
            await stream(reader, writer)
            return
        self.guard.shed()
        response = self._respond(line, headers, conn.client)  # renders in the loop, at once
        if response is None:
            # Basic auth not seen before: bcrypt in a thread, one at a time. The connection
            # stays evictable meanwhile (phase "head"), so a flood of guesses cannot hold
            # every slot; Prometheus' header is cached after its first success.
            response = await self._respond_authorized(line, headers, conn.client)
            if conn.evicted:
                return
        conn.phase = "write"
        conn.body = response.body
        head_only = line.split(" ", 1)[0] == "HEAD"
        await self._send(conn, writer, response, head=head_only)

    def _stream_for(self, line: str) -> Stream | None:
        parts = line.split()
        if not self.streams or len(parts) < 2 or parts[0] != "GET":
            return None
        try:
            return self.streams.get(urlsplit(parts[1]).path.rstrip("/") or "/")
        except ValueError:
            return None

    def _respond(self, line: str, headers: dict[str, str], client: str) -> Response | None:
        parts = line.split()
        if len(parts) < 2:
            return Response(400, b"bad request\n")
        if parts[0] not in ("GET", "HEAD"):
            return Response(405, b"only GET and HEAD\n", headers=_ALLOW)
        try:
            split = urlsplit(parts[1])
        except ValueError:  # urlsplit on a malformed target, e.g. "http://[::1"
            return Response(400, b"bad request\n")
        if split.path != "/healthz" and self.web.users:
            verdict = self.web.check_cached(headers.get("authorization"))
            if verdict is None:
                return None
            if not verdict:
                return self._unauthorized()
        return self._dispatch(parts[0], parts[1], split.path, split.query, headers, client)

    async def _respond_authorized(
        self, line: str, headers: dict[str, str], client: str
    ) -> Response:
        if not await self.web.check(headers.get("authorization")):
            return self._unauthorized()
        parts = line.split()
        split = urlsplit(parts[1])
        return self._dispatch(parts[0], parts[1], split.path, split.query, headers, client)

    def _unauthorized(self) -> Response:
        self.counters.unauthorized += 1
        realm = (("WWW-Authenticate", 'Basic realm="netmon"'),)
        return Response(401, b"unauthorized\n", headers=realm)

    def _dispatch(
        self, method: str, target: str, path: str, query: str, headers: dict[str, str], client: str
    ) -> Response:
        handler = self.routes.get(path.rstrip("/") or "/")
        try:
            if handler is not None:
                return handler(Request(method, target, path, parse_qs(query), headers, client))
            status, province = route(target)
            if status != 0:
                return Response(status, b"not found\n" if status == 404 else b"bad request\n")
            return Response(200, self._rendered(province), CONTENT_TYPE)
        except Exception:
            log.exception("metrics: rendering %s failed", target)
            return Response(500, b"internal error\n")

    def _rendered(self, province: str | None) -> bytes:
        """An expensive body is shared for a while: N clients asking at once hold one copy."""
        now = time.monotonic()
        hit = self._cache.get(province)
        if hit is not None and now < hit[0]:
            return hit[1]
        body = self._render(province)
        done = time.monotonic()
        for key in [k for k, (expiry, _) in self._cache.items() if done >= expiry]:
            del self._cache[key]
        took = done - now
        ttl = RENDER_DUTY * took if took >= RENDER_SHARE_MIN else 0.0
        ttl = min(max(self._render_ttl, ttl), RENDER_TTL_MAX)  # render_ttl: a floor (tests)
        if ttl > 0:
            self._cache[province] = (done + ttl, body)
        return body

    async def _reject(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self._write_all(writer, self._header(Response(503, b"busy\n"), retry_after=True))
        await self._write_all(writer, b"busy\n")
        # Read (and drop) the request briefly: closing with it unread would send a reset,
        # which can make the client lose the 503 it has not read yet.
        with contextlib.suppress(TimeoutError, ConnectionError, ValueError, _HeadTooLarge):
            await self._read_head(reader, min(1.0, self.limits.head_timeout))

    @staticmethod
    async def _read_head(
        reader: asyncio.StreamReader, timeout: float
    ) -> tuple[str, dict[str, str]]:
        """The request line and headers, within ``timeout`` in total (a client that sends a
        header line a second is cut at the deadline, not kept alive by each line)."""
        headers: dict[str, str] = {}
        size = 0
        async with asyncio.timeout(timeout):
            try:
                raw = await reader.readline()
                size += len(raw)
                while True:
                    line = await reader.readline()
                    size += len(line)
                    if size > MAX_REQUEST:
                        raise _HeadTooLarge
                    if line in (b"\r\n", b"\n", b""):
                        break
                    name, sep, value = line.decode("latin-1").partition(":")
                    if sep:
                        headers[name.strip().lower()] = value.strip()
            except ValueError as exc:  # a line longer than the stream's limit
                raise _HeadTooLarge from exc
        return raw.decode("latin-1").strip(), headers

    async def _discard(self, reader: asyncio.StreamReader) -> None:
        """After a 431, read what the client still sends for a moment, so closing does not
        reset the connection before it has read the answer."""
        with contextlib.suppress(Exception):
            async with asyncio.timeout(2.0):
                while await reader.read(1 << 16):
                    pass

    def _header(self, r: Response, retry_after: bool = False) -> bytes:
        self.counters.by_status[r.status] = self.counters.by_status.get(r.status, 0) + 1
        extra = "".join(f"{k}: {v}\r\n" for k, v in r.headers)
        return (
            f"HTTP/1.1 {r.status} {_REASONS.get(r.status, 'Error')}\r\n"
            f"Content-Type: {r.content_type}\r\nContent-Length: {len(r.body)}\r\n"
            + extra
            + ("Retry-After: 1\r\n" if retry_after else "")
            + "Connection: close\r\n\r\n"
        ).encode()

    async def _send(
        self, conn: Conn, writer: asyncio.StreamWriter, r: Response, head: bool = False
    ) -> None:
        """Write in chunks, each to be taken by the client within ``stall_timeout`` and the
        whole within ``write_timeout``; a client that stops reading is aborted, which frees
        the buffered reply at once."""
        limits = self.limits
        view = memoryview(b"" if head else r.body)
        dropped = True
        try:
            async with asyncio.timeout(limits.write_timeout):
                writer.write(self._header(r))
                for start in range(0, len(view), CHUNK):
                    writer.write(view[start : start + CHUNK])
                    async with asyncio.timeout(limits.stall_timeout):
                        await writer.drain()
                    conn.progress = time.monotonic()
                await writer.drain()
            dropped = False
        except TimeoutError:
            self.counters.write_timeouts += 1
            log.warning("metrics: client %s did not read its reply in time; dropped", conn.client)
            writer.transport.abort()  # close() would wait for the unsent buffer forever
        except ConnectionError:
            writer.transport.abort()
        finally:
            conn.body = None
            if dropped and self._on_dropped_reply is not None and not head:
                self._on_dropped_reply()

    async def _write_all(self, writer: asyncio.StreamWriter, data: bytes) -> None:
        try:
            async with asyncio.timeout(self.limits.stall_timeout):
                writer.write(data)
                await writer.drain()
        except (TimeoutError, ConnectionError):
            writer.transport.abort()

    async def _close(self, writer: asyncio.StreamWriter) -> None:
        writer.close()
        try:
            async with asyncio.timeout(self.limits.stall_timeout):
                await writer.wait_closed()
        except TimeoutError:
            writer.transport.abort()
        except Exception:  # the peer's reset and the like: the connection is gone either way
            pass

    # --- its own metrics -----------------------------------------------------------------

    def families(self) -> list[Family]:
        c = self.counters
        one = LabelSet(())

        def fam(name: str, kind: str, help_: str, value: float) -> Family:
            return Family(name, kind, help_, [(one, value)])

        out = [
            fam("netmon_http_connections", "gauge", "HTTP connections open.", self.active),
            fam(
                "netmon_http_rejected_total",
                "counter",
                "Connections answered 503: no slot could be freed.",
                c.rejected,
            ),
            fam(
                "netmon_http_write_timeouts_total",
                "counter",
                "Replies cut because the client stopped reading.",
                c.write_timeouts,
            ),
            fam(
                "netmon_http_head_timeouts_total",
                "counter",
                "Connections cut: the request head did not arrive within its deadline.",
                c.head_timeouts,
            ),
            fam(
                "netmon_http_evicted_total",
                "counter",
                "Idle or stalled connections cut to serve a new client.",
                self.guard.evicted,
            ),
            fam(
                "netmon_http_unauthorized_total",
                "counter",
                "Requests answered 401 (basic auth).",
                c.unauthorized,
            ),
        ]
        responses = Family("netmon_http_responses_total", "counter", "HTTP responses by code.")
        for code, n in sorted(c.by_status.items()):
            responses.samples.append((LabelSet((("code", str(code)),)), n))
        out.append(responses)
        return out
