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
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

from exporters.exposition import CONTENT_TYPE

log = logging.getLogger(__name__)

Render = Callable[[str | None], bytes]
_PROVINCE_PATH = re.compile(r"^/province/(\d{2})/metrics/?$")
_PROVINCE_CODE = re.compile(r"^\d{2}$")
MAX_REQUEST = 16 * 1024
SELF = "self"
HEALTH = "health"


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
    def __init__(self, render: Render) -> None:
        self._render = render
        self._server: asyncio.Server | None = None

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
        try:
            async with asyncio.timeout(10):
                request = await reader.readline()
                while True:  # headers: read and ignore
                    line = await reader.readline()
                    if line in (b"\r\n", b"\n", b""):
                        break
            parts = request.decode("latin-1").split()
            if len(parts) < 2 or parts[0] not in ("GET", "HEAD"):
                await self._reply(writer, 405, b"only GET\n", "text/plain")
                return
            status, province = route(parts[1])
            if status == 0:
                body = self._render(province)
                await self._reply(writer, 200, body, CONTENT_TYPE, head=parts[0] == "HEAD")
            elif status == 200:
                await self._reply(writer, 200, b"ok\n", "text/plain")
            else:
                await self._reply(writer, status, b"not found\n", "text/plain")
        except (TimeoutError, ConnectionError, asyncio.LimitOverrunError, ValueError):
            pass
        except Exception:
            log.exception("metrics request failed")
            with contextlib.suppress(Exception):
                await self._reply(writer, 500, b"internal error\n", "text/plain")
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    @staticmethod
    async def _reply(
        writer: asyncio.StreamWriter, status: int, body: bytes, ctype: str, head: bool = False
    ) -> None:
        reason = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed"}
        header = (
            f"HTTP/1.1 {status} {reason.get(status, 'Error')}\r\n"
            f"Content-Type: {ctype}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        )
        writer.write(header.encode() + (b"" if head else body))
        await writer.drain()
