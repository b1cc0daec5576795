"""The running simulator: one asyncio process, one UDP socket per device bound to the device's
own loopback address, and a small JSON-over-HTTP control endpoint on loopback.

Answers are delayed with ``loop.call_later`` (the device's distance latency plus any injected
slowness), so a slow device never delays another.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import resource
import socket
from typing import Any

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


_BATCH = 64  # datagrams read per readiness event before yielding to other sockets
_MAX_LOGGED = 20


class DeviceSocket:
    """One device's UDP socket, read straight from the event loop's selector.

    A plain non-blocking socket with ``add_reader`` instead of an asyncio transport: several
    queued datagrams are read per wake-up and answers are sent without a write buffer, which
    halves the per-packet cost of the event loop (UDP: a full send buffer is a lost answer).
    """

    unexpected = 0  # errors other than the codec's own, over all sockets

    def __init__(
        self, backbone: Backbone, node: Node, sock: socket.socket, loop: asyncio.AbstractEventLoop
    ) -> None:
        self.backbone = backbone
        self.node = node
        self.sock = sock
        self.loop = loop
        self.send_errors = 0
        node.sender = self.send
        loop.add_reader(sock.fileno(), self._readable)

    def close(self) -> None:
        self.node.sender = None
        with contextlib.suppress(ValueError, OSError):
            self.loop.remove_reader(self.sock.fileno())
        self.sock.close()

    def send(self, data: bytes, addr: Any) -> None:
        try:
            self.sock.sendto(data, addr)
        except OSError:  # buffer full, unreachable, closed: a lost datagram, as on a network
            self.send_errors += 1

    def _readable(self) -> None:
        recv, handle, node = self.sock.recvfrom, self.backbone.handle, self.node
        for _ in range(_BATCH):
            try:
                data, addr = recv(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # e.g. an ICMP error queued on the socket
                continue
            try:
                out = handle(node, data)
            except Exception:  # never let one datagram take the agent down
                DeviceSocket.unexpected += 1
                if DeviceSocket.unexpected <= _MAX_LOGGED:  # a hostile flood must not flood logs
                    log.exception("%s: unexpected error answering a request", node.dev.name)
                node.counters.malformed += 1
                self.backbone.totals.malformed += 1
                continue
            if out is None:
                continue
            resp, delay = out
            if delay > 0:
                self.loop.call_later(delay, self.send, resp, addr)
            else:
                self.send(resp, addr)


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
        self,
        backbone: Backbone,
        control_host: str = "127.0.0.1",
        control_port: int = 9161,
        control_token: str | None = None,
    ) -> None:
        self.backbone = backbone
        # A training room exposes the control endpoint to trainees' machines: then every
        # request must carry "Authorization: Bearer <token>" (see `netmon simulate`).
        self.control_token = control_token
        self.control_host = control_host
        self.control_port = control_port
        self.sockets: list[DeviceSocket] = []
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
            self.sockets.append(DeviceSocket(self.backbone, node, sock, loop))
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
        for ds in self.sockets:
            ds.close()
        self.sockets.clear()
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
        reason = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found"}.get(
            status, "Error"
        )
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
        authorization = ""
        while True:
            h = (await reader.readline()).decode("latin-1").strip()
            if not h:
                break
            name, _, value = h.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip())
            elif name.strip().lower() == "authorization":
                authorization = value.strip()
        if self.control_token is not None and not hmac.compare_digest(
            authorization.encode(), f"Bearer {self.control_token}".encode()
        ):
            return 401, {"error": "this control endpoint needs its token (netmon control --token)"}
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
