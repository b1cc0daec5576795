"""SNMPv3 USM, manager side: the security state toward ONE authoritative engine (one device).

For a fast collector transport: ``discovery()`` -> send, ``receive(report)`` learns the engine ID,
boots and time; then ``request(msg_id, pdu)`` -> send, ``receive(answer)`` gives the decrypted
Response PDU or a ``V3Report`` (the caller retries once after ``usmStatsNotInTimeWindows``: the
authenticated report has already re-synced the clock, RFC 3414 3.2 step 7b). Matching answers
to requests (msgID, source address) and retransmission stay with the caller.
"""

from __future__ import annotations

import hmac
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

from netmon.errors import SnmpError
from netmon.snmp import ber
from netmon.snmp.usm import (
    FLAG_REPORTABLE,
    MAX_INT32,
    TIME_WINDOW,
    USM_STATS_OIDS,
    SecurityLevel,
    UsmDrop,
    UsmUser,
    encode_message,
    level_from_flags,
    parse_header,
    parse_scoped_pdu,
)
from netmon.snmp.usm_crypto import LocalizedKeys

_COUNTER_NAMES = {oid: name for name, oid in USM_STATS_OIDS.items()}


class UsmNotDiscovered(SnmpError):
    """``request()`` before the engine ID and time are known: run ``discovery()`` first."""


@dataclass(frozen=True, slots=True)
class V3Response:
    msg_id: int
    security_level: SecurityLevel
    context_engine_id: bytes
    context_name: bytes
    pdu: bytes  # the Response PDU TLV (0xA2), decrypted


@dataclass(frozen=True, slots=True)
class V3Report:
    """A Report from the agent: which counter (usmStats name, or the dotted OID) and its value."""

    msg_id: int
    counter: str
    value: int
    authenticated: bool


def _report_varbind(pdu: bytes) -> tuple[str, int]:
    s, e = ber.expect(pdu, 0, len(pdu), ber.REPORT)
    for _ in range(3):  # request-id, error-status, error-index
        _, s = ber.expect(pdu, s, e, ber.INTEGER)
    vs, ve = ber.expect(pdu, s, e, ber.SEQUENCE)
    if vs == ve:
        return "", 0
    bs, be = ber.expect(pdu, vs, ve, ber.SEQUENCE)
    a, p = ber.expect(pdu, bs, be, ber.OBJECT_IDENTIFIER)
    oid = ber.decode_oid(pdu, a, p)
    tag, a, p = ber.read_tlv(pdu, p, be)
    value = ber.decode_unsigned(pdu, a, p) if tag in (ber.COUNTER32, ber.INTEGER) else 0
    return _COUNTER_NAMES.get(oid, ".".join(map(str, oid))), value


class UsmManager:
    """One user's USM state toward one authoritative engine."""

    def __init__(
        self,
        user: UsmUser,
        level: SecurityLevel = SecurityLevel.AUTH_PRIV,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if level == SecurityLevel.NO_AUTH_NO_PRIV:
            raise ValueError("a USM user here always authenticates")
        self.user = user
        self.level = level
        self._clock = clock
        self._salt = int.from_bytes(os.urandom(8), "big")
        self.epoch = -1  # how many times reset() ran: callers tell a state they saw from a new one
        self.reset()

    def reset(self) -> None:
        """Forget the engine (its ID changed, or its boots went down): discover it again."""
        self.epoch += 1
        self.engine_id: bytes | None = None
        self._engine_tlv = b""
        self._keys: LocalizedKeys | None = None
        self.engine_boots = 0
        self._latest_time = 0  # latestReceivedEngineTime
        self._synced_at = self._clock()

    @property
    def discovered(self) -> bool:
        return self._keys is not None

    @property
    def engine_time(self) -> int:
        """The local notion of the agent's snmpEngineTime."""
        return min(self._latest_time + int(self._clock() - self._synced_at), MAX_INT32)

    def _learn(self, engine_id: bytes, boots: int, etime: int) -> None:
        if engine_id != self.engine_id:
            self.engine_id = engine_id
            self._engine_tlv = ber.encode_octets(engine_id)
            self._keys = self.user.localize(engine_id)
        self.engine_boots = boots
        self._latest_time = etime
        self._synced_at = self._clock()

    # --- outgoing --------------------------------------------------------------------------

    @staticmethod
    def discovery(msg_id: int) -> bytes:
        """RFC 3414 section 4: noAuthNoPriv, empty engine ID and user, an empty GET."""
        pdu = ber.tlv(ber.GET, ber.encode_int(msg_id) + b"\x02\x01\x00\x02\x01\x00\x30\x00")
        return encode_message(
            msg_id,
            SecurityLevel.NO_AUTH_NO_PRIV,
            True,
            b"\x04\x00",
            0,
            0,
            b"",
            None,
            b"",
            b"",
            b"",
            pdu,
        )

    def request(self, msg_id: int, pdu: bytes, context_name: bytes = b"") -> bytes:
        """An authenticated (and encrypted, at authPriv) request carrying the PDU TLV."""
        if self._keys is None or self.engine_id is None:
            raise UsmNotDiscovered("engine not discovered yet")
        salt = b""
        if self.level == SecurityLevel.AUTH_PRIV:
            self._salt = (self._salt + 1) & 0xFFFFFFFFFFFFFFFF
            salt = self._salt.to_bytes(8, "big")
        return encode_message(
            msg_id,
            self.level,
            True,
            self._engine_tlv,
            self.engine_boots,
            self.engine_time,
            self.user.name,
            self._keys,
            salt,
            self.engine_id,
            context_name,
            pdu,
        )

    # --- incoming --------------------------------------------------------------------------

    def receive(self, msg: bytes) -> V3Response | V3Report:
        """Decode an answer; raises UsmDrop for anything to ignore (forged, stale, malformed)."""
        try:
            return self._receive(msg)
        except ber.BerError as exc:
            raise UsmDrop("parse_error", str(exc)) from exc

    def _receive(self, msg: bytes) -> V3Response | V3Report:
        head = parse_header(msg)
        if head.flags & FLAG_REPORTABLE:
            raise UsmDrop("invalid_msg", "an answer must not be reportable")
        level = level_from_flags(head.flags)
        if level == SecurityLevel.NO_AUTH_NO_PRIV:
            # Only Reports come unauthenticated; the discovery one teaches the engine ID.
            if head.data_tag != ber.SEQUENCE:
                raise UsmDrop("parse_error", "encrypted data without the privacy flag")
            _, _, pdu = parse_scoped_pdu(msg, head.data_pos, len(msg))
            if pdu[0] != ber.REPORT:
                raise UsmDrop("unauthenticated", "an unauthenticated non-Report answer")
            counter, value = _report_varbind(pdu)
            if counter == "usmStatsUnknownEngineIDs" and head.engine_id and not self.discovered:
                self._learn(head.engine_id, head.boots, head.time)
            return V3Report(head.msg_id, counter, value, False)
        keys = self._keys
        if keys is None or head.engine_id != self.engine_id or head.user != self.user.name:
            raise UsmDrop("unknown_engine_or_user")
        got = msg[head.auth_start : head.auth_stop]
        zeroed = bytearray(msg)
        zeroed[head.auth_start : head.auth_stop] = bytes(len(got))
        if len(got) != keys.auth.mac_len or not hmac.compare_digest(keys.mac(zeroed), got):
            raise UsmDrop("wrong_digest")
        # RFC 3414 3.2 step 7b: a newer authenticated notion of the agent's clock wins...
        if head.boots > self.engine_boots or (
            head.boots == self.engine_boots and head.time > self._latest_time
        ):
            self._learn(head.engine_id, head.boots, head.time)
        # ...and anything older than the window is a replay.
        if (
            self.engine_boots == MAX_INT32
            or head.boots < self.engine_boots
            or self.engine_time > head.time + TIME_WINDOW
        ):
            raise UsmDrop("not_in_time_window")
        if level == SecurityLevel.AUTH_PRIV:
            if len(head.priv_params) != 8 or head.data_tag != ber.OCTET_STRING:
                raise UsmDrop("decryption_error")
            iv = head.boots.to_bytes(4, "big") + head.time.to_bytes(4, "big") + head.priv_params
            plain = keys.decrypt(iv, memoryview(msg)[head.data_start : head.data_stop])
            try:
                ctx_engine, ctx_name, pdu = parse_scoped_pdu(plain, 0, len(plain))
            except ber.BerError as exc:
                raise UsmDrop("decryption_error", str(exc)) from exc
        else:
            if head.data_tag != ber.SEQUENCE:
                raise UsmDrop("parse_error", "encrypted data without the privacy flag")
            ctx_engine, ctx_name, pdu = parse_scoped_pdu(msg, head.data_pos, len(msg))
        if pdu[0] == ber.REPORT:
            counter, value = _report_varbind(pdu)
            return V3Report(head.msg_id, counter, value, True)
        if pdu[0] != ber.RESPONSE:
            raise UsmDrop("unexpected_pdu", f"PDU tag 0x{pdu[0]:02x}")
        return V3Response(head.msg_id, level, ctx_engine, ctx_name, pdu)
