"""The running simulator: one asyncio process, one UDP socket per device bound to the device's
own loopback address, and a small JSON-over-HTTP control endpoint on loopback.

Answers are delayed with ``loop.call_later`` (the device's distance latency plus any injected
slowness), so a slow device never delays another.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import resource
import socket
from typing import Any, cast

from netmon.errors import NetmonError
from netmon.simulator.backbone import Backbone, Node, SimulatorError

log = logging.getLogger(__name__)

RCVBUF = 4 * 1024 * 1024
_MAX_BODY = 64 * 1024


def raise_nofile_limit() -> int:
    """Lift the soft open-files limit to the hard one (one socket per device); returns it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
    return soft


class DeviceProtocol(asyncio.DatagramProtocol):
    def __init__(self, backbone: Backbone, node: Node, loop: asyncio.AbstractEventLoop) -> None:
        self.backbone = backbone
        self.node = node
        self.loop = loop
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)
        self.node.sender = self.transport.sendto

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        try:
            out = self.backbone.handle(self.node, data)
        except Exception:  # never let one datagram take the agent down
            log.exception("%s: unexpected error answering a request", self.node.dev.name)
            self.node.counters.malformed += 1
            self.backbone.totals.malformed += 1
            return
        if out is None or self.transport is None:
            return
        resp, delay = out
        if delay > 0:
            self.loop.call_later(delay, self._send, resp, addr)
        else:
            self.transport.sendto(resp, addr)

    def _send(self, resp: bytes, addr: tuple[str | Any, int]) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(resp, addr)

    def error_received(self, exc: Exception) -> None:  # e.g. ICMP port unreachable
        log.debug("%s: %s", self.node.dev.name, exc)


def _udp_socket(address: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        # A burst of polls must not overflow the default ~212 KB buffer (measured drops).
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
        sock.bind((address, port))
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


class Simulator:
    def __init__(
        self, backbone: Backbone, control_host: str = "127.0.0.1", control_port: int = 9161
    ) -> None:
        self.backbone = backbone
        self.control_host = control_host
        self.control_port = control_port
        self.transports: list[asyncio.DatagramTransport] = []
        self.control: asyncio.Server | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.backbone.scheduler = loop.call_later
        raise_nofile_limit()
        for node in self.backbone.nodes.values():
            dev = node.dev
            try:
                sock = _udp_socket(dev.address, dev.port)
            except OSError as exc:
                await self.stop()
                raise SimulatorError(
                    f"device {dev.name}: cannot bind {dev.address}:{dev.port}: {exc}"
                ) from exc
            proto = DeviceProtocol(self.backbone, node, loop)
            transport, _ = await loop.create_datagram_endpoint(lambda: proto, sock=sock)  # noqa: B023 (called at once)
            self.transports.append(transport)
        try:
            self.control = await asyncio.start_server(
                self._http, self.control_host, self.control_port
            )
        except OSError as exc:
            await self.stop()
            raise SimulatorError(
                f"control endpoint {self.control_host}:{self.control_port}: {exc}"
            ) from exc

    async def stop(self) -> None:
        for t in self.transports:
            t.close()
        self.transports.clear()
        if self.control is not None:
            self.control.close()
            await self.control.wait_closed()
            self.control = None

    # --- control endpoint -----------------------------------------------------------------

    async def _http(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            status, body = await asyncio.wait_for(self._http_request(reader), timeout=10)
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError, ValueError) as exc:
            status, body = 400, {"error": f"bad request: {exc}"}
        payload = json.dumps(body, ensure_ascii=False, indent=1).encode()
        reason = {200: "OK", 400: "Bad Request", 404: "Not Found"}.get(status, "Error")
        head = (
            f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json; charset=utf-8\r\n"
            f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n"
        )
        with contextlib.suppress(ConnectionError):
            writer.write(head.encode() + payload)
            await writer.drain()
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()

    async def _http_request(self, reader: asyncio.StreamReader) -> tuple[int, dict[str, Any]]:
        line = (await reader.readline()).decode("latin-1").strip()
        parts = line.split()
        if len(parts) != 3:
            return 400, {"error": "bad request line"}
        method, path = parts[0], parts[1]
        length = 0
        while True:
            h = (await reader.readline()).decode("latin-1").strip()
            if not h:
                break
            name, _, value = h.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip())
        if length > _MAX_BODY:
            return 400, {"error": "body too large"}
        raw = await reader.readexactly(length) if length else b""
        if method == "GET" and path == "/status":
            return 200, self.backbone.status()
        if method != "POST" or path != "/action":
            return 404, {"error": "use GET /status or POST /action with a JSON body"}
        try:
            params = json.loads(raw or b"{}")
        except json.JSONDecodeError as exc:
            return 400, {"error": f"body is not JSON: {exc}"}
        if not isinstance(params, dict) or not isinstance(params.get("action"), str):
            return 400, {"error": 'body must be a JSON object with an "action"'}
        try:
            result = self.backbone.control(params.pop("action"), params)
        except NetmonError as exc:
            return 400, {"error": str(exc)}
        log.info("control: %s", json.dumps(result, ensure_ascii=False)[:300])
        return 200, result
