"""Local receivers for Alertmanager's notifications: an SMTP sink (aiosmtpd) and a webhook
endpoint, both on loopback. The demo shows what they receive as pages going out; the tests
and the outage benchmark count them. Each notification is kept as received."""

from __future__ import annotations

import email
import email.policy
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from netmon.ports import LOOPBACK, free_tcp_port


@dataclass(frozen=True, slots=True)
class Mail:
    time: float
    to: tuple[str, ...]
    subject: str
    body: str


@dataclass(frozen=True, slots=True)
class Notification:
    """One webhook POST from Alertmanager: one group of alerts, firing or resolved."""

    time: float
    path: str  # which webhook (a receiver per path)
    status: str  # firing | resolved
    receiver: str
    group_labels: dict[str, str]
    alerts: tuple[dict[str, Any], ...]

    def firing(self) -> list[dict[str, Any]]:
        return [a for a in self.alerts if a.get("status") == "firing"]


class _MailHandler:
    def __init__(self, sink: MailSink) -> None:
        self.sink = sink

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.content if isinstance(envelope.content, bytes) else b""
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        part = msg.get_body(("plain", "html")) if hasattr(msg, "get_body") else None
        body = str(part.get_content()) if part is not None else ""
        mail = Mail(time.time(), tuple(envelope.rcpt_tos), str(msg.get("Subject", "")), body)
        with self.sink.lock:
            self.sink.mails.append(mail)
        return "250 OK"


@dataclass
class MailSink:
    """An SMTP server on loopback that keeps every message (no auth, no TLS: tests/demo)."""

    port: int = 0
    mails: list[Mail] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _controller: Controller | None = None

    def start(self) -> MailSink:
        self.port = self.port or free_tcp_port()
        self._controller = Controller(_MailHandler(self), hostname=LOOPBACK, port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def snapshot(self) -> list[Mail]:
        with self.lock:
            return list(self.mails)


class _HookHandler(BaseHTTPRequestHandler):
    sink: WebhookSink

    def do_POST(self) -> None:
        length = min(int(self.headers.get("Content-Length", "0") or 0), 10 * 2**20)
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw)
            note = Notification(
                time.time(),
                self.path,
                str(body.get("status", "")),
                str(body.get("receiver", "")),
                dict(body.get("groupLabels", {})),
                tuple(body.get("alerts", [])),
            )
        except (ValueError, AttributeError, TypeError):
            self.send_response(400)
            self.end_headers()
            return
        with self.sink.lock:
            self.sink.notifications.append(note)
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # quiet
        return


@dataclass
class WebhookSink:
    """An HTTP server on loopback that keeps every Alertmanager webhook notification."""

    port: int = 0
    notifications: list[Notification] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    def start(self) -> WebhookSink:
        handler = type("Handler", (_HookHandler,), {"sink": self})
        self._server = ThreadingHTTPServer((LOOPBACK, self.port), handler)
        self.port = int(self._server.server_address[1])
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def url(self, path: str = "/") -> str:
        return f"http://{LOOPBACK}:{self.port}{path}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def snapshot(self) -> list[Notification]:
        with self.lock:
            return list(self.notifications)
