"""Simulated devices sending InformRequests (acknowledged notifications) and resending them
until the receiver answers, as routers do with ``snmp-server host ... informs``.

v2c informs carry the device's community. SNMPv3 informs make the device the *non*-authoritative
side: it discovers the receiver's engine ID first (an empty-engine request answered with a
Report), then sends the inform authPriv with its keys localized to the receiver's engine
(``netmon.snmp.usm_manager.UsmManager``). A Report that says the clock or the engine changed is
followed at once by a fresh attempt. Unacknowledged informs are resent ``retries`` times,
``timeout`` seconds apart, then given up and counted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from netmon.errors import SnmpError
from netmon.snmp import ber
from netmon.snmp.message import V2C, decode_response, encode_message, encode_pdu
from netmon.snmp.usm import UsmUser
from netmon.snmp.usm_manager import UsmManager, V3Report

log = logging.getLogger(__name__)

_NO_TIMER = object()  # discovery under way without a timer (no event loop: unit tests)
Schedule = Callable[[float, Callable[[], object]], Any]
Send = Callable[[bytes, tuple[str, int]], None]


@dataclass
class InformCounters:
    sent: int = 0  # first transmissions
    resent: int = 0
    acked: int = 0
    failed: int = 0  # given up after every retry

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass
class _Pending:
    request_id: int
    varbinds: bytes
    tries: int = 0
    handle: Any = None


@dataclass
class _Device:
    community: bytes | None
    usm: UsmManager | None
    pending: dict[int, _Pending] = field(default_factory=dict)  # by request-id
    by_msg_id: dict[int, int] = field(default_factory=dict)  # v3 msgID -> request-id
    waiting: list[int] = field(default_factory=list)  # v3 informs waiting for discovery
    discovering: Any = None


class InformSender:
    def __init__(
        self,
        target: tuple[str, int],
        schedule: Callable[[], Schedule | None],
        *,
        timeout: float = 1.0,
        retries: int = 3,
    ) -> None:
        self.target = target
        self._schedule = schedule  # the backbone's loop.call_later, once the server runs
        self.timeout = timeout
        self.retries = retries
        self.counters = InformCounters()
        self._devices: dict[str, _Device] = {}
        self._next_id = 1

    def _id(self) -> int:
        self._next_id = self._next_id % 0x7FFFFFFF + 1
        return self._next_id

    def device(self, name: str, community: bytes | None, user: UsmUser | None) -> _Device:
        d = self._devices.get(name)
        if d is None:
            usm = UsmManager(user) if user is not None else None
            d = self._devices[name] = _Device(community, usm)
        return d

    def busy(self, name: str) -> bool:
        d = self._devices.get(name)
        return d is not None and bool(d.pending or d.discovering)

    # --- sending ----------------------------------------------------------------------------

    def send(
        self, name: str, community: bytes | None, user: UsmUser | None, varbinds: bytes, out: Send
    ) -> None:
        d = self.device(name, community, user)
        p = _Pending(self._id(), varbinds)
        d.pending[p.request_id] = p
        self.counters.sent += 1
        self._transmit(name, d, p, out)

    def _transmit(self, name: str, d: _Device, p: _Pending, out: Send) -> None:
        if p.request_id not in d.pending:
            return
        if p.tries > self.retries:
            self._give_up(name, d, p)
            return
        if d.usm is not None and not d.usm.discovered:
            if p.request_id not in d.waiting:
                d.waiting.append(p.request_id)
            self._discover(name, d, out)
            return
        if p.tries:
            self.counters.resent += 1
        p.tries += 1
        if d.usm is not None:
            msg_id = self._id()
            d.by_msg_id[msg_id] = p.request_id
            pdu = encode_pdu(ber.INFORM, ber.encode_int(p.request_id), 0, 0, p.varbinds)
            wire = d.usm.request(msg_id, pdu)
        else:
            wire = encode_message(
                V2C, d.community or b"", ber.INFORM, p.request_id, 0, 0, p.varbinds
            )
        out(wire, self.target)
        p.handle = self._later(lambda: self._expired(name, d, p, out))

    def _discover(self, name: str, d: _Device, out: Send) -> None:
        if d.discovering is not None or d.usm is None:
            return
        msg_id = self._id()
        d.by_msg_id[msg_id] = -1
        out(UsmManager.discovery(msg_id), self.target)

        def retry() -> None:
            d.discovering = None
            waiting = [d.pending[r] for r in d.waiting if r in d.pending]
            for p in waiting:  # a lost discovery costs each waiting inform a try
                p.tries += 1
                if p.tries > self.retries:
                    self._give_up(name, d, p)
            if any(r in d.pending for r in d.waiting):
                self._discover(name, d, out)

        d.discovering = self._later(retry) or _NO_TIMER

    def _expired(self, name: str, d: _Device, p: _Pending, out: Send) -> None:
        if p.request_id in d.pending:
            self._transmit(name, d, p, out)

    def _forget(self, d: _Device, request_id: int) -> _Pending | None:
        for msg_id in [m for m, r in d.by_msg_id.items() if r == request_id]:
            del d.by_msg_id[msg_id]
        return d.pending.pop(request_id, None)

    def _give_up(self, name: str, d: _Device, p: _Pending) -> None:
        self._forget(d, p.request_id)
        self.counters.failed += 1
        log.debug("%s: inform %d unacknowledged after %d tries", name, p.request_id, p.tries)

    def _later(self, fn: Callable[[], object]) -> Any:
        schedule = self._schedule()
        return schedule(self.timeout, fn) if schedule is not None else None

    # --- answers ----------------------------------------------------------------------------

    def receive(self, name: str, data: bytes, out: Send) -> bool:
        """Whether ``data`` (arriving at device ``name``) answered one of its informs."""
        d = self._devices.get(name)
        if d is None or not (d.pending or d.discovering):
            return False
        try:
            if d.usm is None:
                return self._v2c(d, data)
            return self._v3(name, d, data, out)
        except SnmpError:  # MessageError, UsmDrop: not for us (a request, a forgery)
            return False

    def _v2c(self, d: _Device, data: bytes) -> bool:
        resp = decode_response(data)
        if resp.tag != ber.RESPONSE or resp.community != d.community:
            return False
        return self._acked(d, resp.request_id)

    def _v3(self, name: str, d: _Device, data: bytes, out: Send) -> bool:
        assert d.usm is not None
        got = d.usm.receive(data)
        request_id = d.by_msg_id.pop(got.msg_id, None)
        if request_id is None:
            return False
        if isinstance(got, V3Report):
            if got.counter == "usmStatsUnknownEngineIDs" and request_id != -1:
                d.usm.reset()  # the receiver's engine changed: discover it again
            if request_id == -1 or got.counter in (
                "usmStatsUnknownEngineIDs",
                "usmStatsNotInTimeWindows",
            ):
                self._resume(name, d, request_id, out)
            return True
        try:
            answered = decode_response_pdu(got.pdu)
        except ber.BerError:
            return True
        self._acked(d, answered)
        return True

    def _resume(self, name: str, d: _Device, request_id: int, out: Send) -> None:
        if request_id == -1:  # discovery answered
            if d.discovering is not _NO_TIMER and d.discovering is not None:
                d.discovering.cancel()
            d.discovering = None
            waiting, d.waiting = d.waiting, []
            for r in waiting:
                p = d.pending.get(r)
                if p is not None:
                    self._transmit(name, d, p, out)
            return
        p = d.pending.get(request_id)
        if p is not None:  # resync'd clock or engine: try again now, not after the timeout
            if p.handle is not None:
                p.handle.cancel()
            self._transmit(name, d, p, out)

    def _acked(self, d: _Device, request_id: int) -> bool:
        p = self._forget(d, request_id)
        if p is None:
            return False
        if p.handle is not None:
            p.handle.cancel()
        self.counters.acked += 1
        return True


def decode_response_pdu(pdu: bytes) -> int:
    """The request-id of a Response PDU TLV."""
    s, e = ber.expect(pdu, 0, len(pdu), ber.RESPONSE)
    a, b = ber.expect(pdu, s, e, ber.INTEGER)
    return ber.decode_int(pdu, a, b)
