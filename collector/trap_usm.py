"""SNMPv3 USM for a notification receiver with many users (one per inventory credential profile).

Two roles (RFC 3414 3.2):

- **traps**: the sender is the authoritative engine, so each user's keys are localized to the
  engine ID the trap carries (cached per engine) and the sender's clock is learnt from its first
  authentic trap; a trap older than the 150 s window behind what that engine already said is a
  replay and is dropped.
- **informs**: this receiver is authoritative (its own engine ID and boots); discovery and
  time-window Reports go back to the sender. That part is ``netmon.snmp.usm.UsmAgent`` told to
  accept InformRequest PDUs.

Drop reasons are the receiver's counter keys: ``auth`` (unknown user, wrong key, no auth, stale)
and ``malformed``; ``unsupported`` for a PDU that is not a notification.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from netmon.snmp import ber
from netmon.snmp.usm import (
    FLAG_REPORTABLE,
    MAX_INT32,
    TIME_WINDOW,
    Header,
    SecurityLevel,
    UsmAgent,
    UsmDrop,
    UsmUser,
    V3Request,
    level_from_flags,
    parse_header,
    parse_scoped_pdu,
)
from netmon.snmp.usm_crypto import LocalizedKeys

_MAX_KEY_CACHE = 20_000  # (user, engine) localizations kept; a flood of fake engine IDs rolls
_MAX_ENGINES = 100_000  # remote engines whose clock is remembered (only authentic ones)


class TrapDrop(Exception):
    """Drop the message; ``reason`` is one of the receiver's counter keys."""

    def __init__(self, reason: str, detail: str) -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}")


class ReportAndDrop(TrapDrop):
    """Answer with ``report`` and count a drop (a refused inform)."""

    def __init__(self, report: bytes, reason: str, detail: str) -> None:
        super().__init__(reason, detail)
        self.report = report


@dataclass(frozen=True, slots=True)
class V3Notification:
    user: str
    level: SecurityLevel
    engine_id: bytes  # the authoritative engine: the sender's (trap) or ours (inform)
    pdu: bytes  # the scoped PDU's PDU TLV, decrypted
    inform: V3Request | None  # set for an inform: what ``respond()`` needs


@dataclass(slots=True)
class _Clock:
    boots: int
    latest: int
    synced_at: float


class TrapUsm:
    def __init__(
        self,
        users: Sequence[UsmUser],
        engine_id: bytes,
        engine_boots: int = 1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine_id = engine_id
        self._clock = clock
        self._users: dict[bytes, list[UsmUser]] = {}
        for user in users:
            same = self._users.setdefault(user.name, [])
            if user not in same:
                same.append(user)
        # Informs: one authoritative engine. A user name shared by two profiles with different
        # keys can only be one USM user there: the first profile's.
        first = [same[0] for same in self._users.values()]
        self.agent = UsmAgent(
            engine_id, first, engine_boots, clock, accept=frozenset((ber.INFORM,))
        )
        self._keys: dict[tuple[UsmUser, bytes], LocalizedKeys] = {}
        self._engines: dict[bytes, _Clock] = {}
        self.reports = 0

    @property
    def users(self) -> int:
        return sum(len(v) for v in self._users.values())

    def receive(self, msg: bytes) -> V3Notification | bytes:
        """A decrypted notification, or a Report to send back (inform discovery, time sync).

        Raises TrapDrop for everything to drop.
        """
        try:
            head = parse_header(msg)
        except ber.BerError as exc:
            raise TrapDrop("malformed", str(exc)) from exc
        except UsmDrop as exc:
            raise TrapDrop("malformed", str(exc)) from exc
        # Informs are confirmed (reportable) and name our engine, or none or a stale one while
        # discovering: the agent side answers those with a Report carrying our engine ID.
        if head.engine_id == self.engine_id or head.flags & FLAG_REPORTABLE:
            return self._inform(msg)
        return self._trap(msg, head)

    # --- informs: we are authoritative ------------------------------------------------------

    def _inform(self, msg: bytes) -> V3Notification | bytes:
        before = self.agent.stats
        try:
            got = self.agent.receive(msg)
        except UsmDrop as exc:
            if exc.reason == "unexpected_pdu":
                raise TrapDrop("unsupported", str(exc)) from None
            if exc.reason.startswith("unreportable_"):
                raise TrapDrop("auth", str(exc)) from None
            raise TrapDrop("malformed", str(exc)) from None
        if isinstance(got, bytes):
            after = self.agent.stats
            grew = {k for k, v in after.items() if v != before.get(k, 0)}
            self.reports += 1
            if grew & {"usmStatsUnknownEngineIDs", "usmStatsNotInTimeWindows"}:
                return got  # discovery or clock sync: the protocol, not an attack
            # Unknown user, wrong digest, unsupported level, decryption error: answered (the
            # sender learns why) and counted as an authentication drop by the caller.
            raise ReportAndDrop(got, "auth", ",".join(sorted(grew)) or "report")
        return V3Notification(
            got.user.decode("utf-8", "replace"),
            got.security_level,
            self.engine_id,
            got.pdu,
            got,
        )

    def respond(self, note: V3Notification, pdu: bytes) -> bytes:
        """An inform's Response PDU TLV wrapped for its sender (same user and level)."""
        if note.inform is None:
            raise ValueError("only an inform is answered")
        return self.agent.respond(note.inform, pdu)

    # --- traps: the sender is authoritative -------------------------------------------------

    def _localized(self, user: UsmUser, engine_id: bytes) -> LocalizedKeys:
        key = (user, engine_id)
        keys = self._keys.get(key)
        if keys is None:
            if len(self._keys) >= _MAX_KEY_CACHE:
                self._keys.pop(next(iter(self._keys)))
            keys = self._keys[key] = user.localize(engine_id)
        return keys

    def _trap(self, msg: bytes, head: Header) -> V3Notification:
        if not 5 <= len(head.engine_id) <= 32:
            raise TrapDrop("auth", "a trap's engine ID must be 5..32 bytes")
        level = level_from_flags(head.flags)
        if level == SecurityLevel.NO_AUTH_NO_PRIV:
            raise TrapDrop("auth", "unauthenticated SNMPv3 trap")
        candidates = self._users.get(head.user)
        if not candidates:
            raise TrapDrop("auth", "unknown USM user")
        got = msg[head.auth_start : head.auth_stop]
        zeroed = bytearray(msg)
        zeroed[head.auth_start : head.auth_stop] = bytes(len(got))
        keys: LocalizedKeys | None = None
        for user in candidates:
            k = self._localized(user, head.engine_id)
            if len(got) == k.auth.mac_len and hmac.compare_digest(k.mac(zeroed), got):
                keys = k
                break
        if keys is None:
            raise TrapDrop("auth", "wrong digest")
        self._timely(head.engine_id, head.boots, head.time)
        if level == SecurityLevel.AUTH_PRIV:
            if len(head.priv_params) != 8 or head.data_tag != ber.OCTET_STRING:
                raise TrapDrop("auth", "bad privacy parameters")
            iv = head.boots.to_bytes(4, "big") + head.time.to_bytes(4, "big") + head.priv_params
            plain = keys.decrypt(iv, memoryview(msg)[head.data_start : head.data_stop])
            try:
                _, _, pdu = parse_scoped_pdu(plain, 0, len(plain))
            except ber.BerError:
                raise TrapDrop("auth", "decryption error (wrong privacy key)") from None
        else:
            if head.data_tag != ber.SEQUENCE:
                raise TrapDrop("malformed", "encrypted data without the privacy flag")
            try:
                _, _, pdu = parse_scoped_pdu(msg, head.data_pos, len(msg))
            except ber.BerError as exc:
                raise TrapDrop("malformed", str(exc)) from exc
        if pdu[0] != ber.TRAPV2:
            raise TrapDrop("unsupported", f"PDU 0x{pdu[0]:02x} in an unconfirmed v3 message")
        return V3Notification(
            head.user.decode("utf-8", "replace"), level, head.engine_id, pdu, None
        )

    def _timely(self, engine_id: bytes, boots: int, etime: int) -> None:
        """RFC 3414 3.2 step 7b for a non-authoritative receiver (called once authentic)."""
        now = self._clock()
        c = self._engines.get(engine_id)
        if c is None:
            if len(self._engines) >= _MAX_ENGINES:
                self._engines.pop(next(iter(self._engines)))
            self._engines[engine_id] = _Clock(boots, etime, now)
            return
        if boots > c.boots or (boots == c.boots and etime > c.latest):
            c.boots, c.latest, c.synced_at = boots, etime, now
        local = min(c.latest + int(now - c.synced_at), MAX_INT32)
        if c.boots == MAX_INT32 or boots < c.boots or local > etime + TIME_WINDOW:
            raise TrapDrop("auth", "outside the time window (a replayed trap)")
