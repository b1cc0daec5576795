"""SNMPv3 User-based Security Model (RFC 3412 message format, RFC 3414 USM), agent side.

Built for the simulator's hot path: bytes in, bytes out over ``netmon.snmp.ber``, no pyasn1.
The HMAC is computed over the whole message with a zeroed placeholder whose offset is known
while encoding, then patched in. Everything that cannot be parsed becomes ``UsmDrop`` (never an
IndexError/ValueError); security failures become Report messages as RFC 3414 3.2 says.
"""

from __future__ import annotations

import enum
import hmac
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from netmon.errors import SnmpError
from netmon.snmp import ber
from netmon.snmp.ber import INTEGER, OCTET_STRING, OID, SEQUENCE
from netmon.snmp.usm_crypto import AUTH_PROTOCOLS, PRIV_PROTOCOLS, LocalizedKeys

TIME_WINDOW = 150  # seconds, RFC 3414 3.2 step 7
MIN_MAX_SIZE = 484  # RFC 3412: msgMaxSize (484..2147483647)
MAX_INT32 = 2**31 - 1
OWN_MAX_SIZE = 65507  # what this engine accepts: a full UDP datagram
MIN_PASSWORD = 8  # RFC 3414 11.2

_FLAG_AUTH = 0x01
_FLAG_PRIV = 0x02
FLAG_REPORTABLE = 0x04

# Request PDUs an agent handles (confirmed class, RFC 3411 2.8).
_REQUEST_PDUS = frozenset((ber.GET, ber.GETNEXT, ber.SET, ber.GETBULK))

# usmStats (SNMP-USER-BASED-SM-MIB 1.3.6.1.6.3.15.1.1.x.0).
USM_STATS_OIDS: dict[str, OID] = {
    "usmStatsUnsupportedSecLevels": (1, 3, 6, 1, 6, 3, 15, 1, 1, 1, 0),
    "usmStatsNotInTimeWindows": (1, 3, 6, 1, 6, 3, 15, 1, 1, 2, 0),
    "usmStatsUnknownUserNames": (1, 3, 6, 1, 6, 3, 15, 1, 1, 3, 0),
    "usmStatsUnknownEngineIDs": (1, 3, 6, 1, 6, 3, 15, 1, 1, 4, 0),
    "usmStatsWrongDigests": (1, 3, 6, 1, 6, 3, 15, 1, 1, 5, 0),
    "usmStatsDecryptionErrors": (1, 3, 6, 1, 6, 3, 15, 1, 1, 6, 0),
}
_REPORT_VARBIND_PREFIX = {name: ber.encode_oid(oid) for name, oid in USM_STATS_OIDS.items()}


class SecurityLevel(enum.IntEnum):
    """SnmpSecurityLevel (RFC 3411): the values are the MIB's."""

    NO_AUTH_NO_PRIV = 1
    AUTH_NO_PRIV = 2
    AUTH_PRIV = 3


def level_from_flags(flags: int) -> SecurityLevel:
    if flags & _FLAG_PRIV:
        return SecurityLevel.AUTH_PRIV
    return SecurityLevel.AUTH_NO_PRIV if flags & _FLAG_AUTH else SecurityLevel.NO_AUTH_NO_PRIV


_LEVEL_FLAGS = {
    SecurityLevel.NO_AUTH_NO_PRIV: 0,
    SecurityLevel.AUTH_NO_PRIV: _FLAG_AUTH,
    SecurityLevel.AUTH_PRIV: _FLAG_AUTH | _FLAG_PRIV,
}


class UsmDrop(SnmpError):
    """The message must be dropped silently; ``reason`` is a short counter key."""

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        super().__init__(f"{reason}: {detail}" if detail else reason)


class UsmTooBig(SnmpError):
    """The encoded response exceeds the manager's msgMaxSize: answer with tooBig instead."""


@dataclass(frozen=True, slots=True)
class UsmUser:
    """One USM user (always with authentication; privacy AES). Validates itself."""

    name: bytes
    auth: str
    auth_password: bytes
    priv: str
    priv_password: bytes

    def __post_init__(self) -> None:
        if not 1 <= len(self.name) <= 32:
            raise ValueError(f"USM user name must be 1..32 bytes, got {len(self.name)}")
        if self.auth not in AUTH_PROTOCOLS:
            raise ValueError(
                f"unknown auth protocol {self.auth!r} (one of {', '.join(AUTH_PROTOCOLS)})"
            )
        if self.priv not in PRIV_PROTOCOLS:
            raise ValueError(
                f"unknown priv protocol {self.priv!r} (one of {', '.join(PRIV_PROTOCOLS)})"
            )
        for what, pw in (("auth", self.auth_password), ("priv", self.priv_password)):
            if len(pw) < MIN_PASSWORD:
                raise ValueError(
                    f"{what} password of user {self.name!r} is shorter than 8 bytes (RFC 3414)"
                )

    def localize(self, engine_id: bytes) -> LocalizedKeys:
        return LocalizedKeys.derive(
            AUTH_PROTOCOLS[self.auth],
            PRIV_PROTOCOLS[self.priv],
            self.auth_password,
            self.priv_password,
            engine_id,
        )


@dataclass(frozen=True, slots=True)
class V3Request:
    """An authenticated (per its level), decrypted request, ready for the PDU handler."""

    msg_id: int
    max_size: int  # the manager's msgMaxSize: the answer must fit in it
    user: bytes
    security_level: SecurityLevel
    context_engine_id: bytes
    context_name: bytes
    pdu: bytes  # the raw PDU TLV, decrypted
    keys: LocalizedKeys = field(repr=False)


@dataclass(slots=True)
class Header:
    """What the outer message and UsmSecurityParameters said (offsets into the message)."""

    msg_id: int
    max_size: int
    flags: int
    engine_id: bytes
    boots: int
    time: int
    user: bytes
    auth_start: int
    auth_stop: int
    priv_params: bytes
    data_pos: int  # where the msgData TLV starts
    data_tag: int
    data_start: int
    data_stop: int


def _int_in(msg: bytes, pos: int, end: int, lo: int, hi: int, what: str) -> tuple[int, int]:
    start, stop = ber.expect(msg, pos, end, INTEGER)
    value = ber.decode_int(msg, start, stop)
    if not lo <= value <= hi:
        raise UsmDrop("parse_error", f"{what} {value} out of range")
    return value, stop


def parse_header(msg: bytes) -> Header:
    """RFC 3412 7.2 steps 1-3 and RFC 3414 3.2 step 1; raises BerError or UsmDrop."""
    end = len(msg)
    start, stop = ber.expect(msg, 0, end, SEQUENCE)
    if stop != end:
        raise UsmDrop("parse_error", "bytes after the message")
    vstart, pos = ber.expect(msg, start, stop, INTEGER)
    if ber.decode_int(msg, vstart, pos) != 3:
        raise UsmDrop("not_v3", "msgVersion is not 3")
    gstart, gstop = ber.expect(msg, pos, stop, SEQUENCE)
    msg_id, p = _int_in(msg, gstart, gstop, 0, MAX_INT32, "msgID")
    max_size, p = _int_in(msg, p, gstop, MIN_MAX_SIZE, MAX_INT32, "msgMaxSize")
    fstart, p = ber.expect(msg, p, gstop, OCTET_STRING)
    if p - fstart != 1:
        raise UsmDrop("invalid_msg", "msgFlags is not one byte")
    flags = msg[fstart]
    model, p = _int_in(msg, p, gstop, 0, MAX_INT32, "msgSecurityModel")
    if p != gstop:
        raise UsmDrop("parse_error", "extra fields in msgGlobalData")
    if model != 3:
        raise UsmDrop("unknown_security_model", f"msgSecurityModel {model}")
    if flags & _FLAG_PRIV and not flags & _FLAG_AUTH:
        raise UsmDrop("invalid_msg", "privacy without authentication")
    sp_start, sp_stop = ber.expect(msg, gstop, stop, OCTET_STRING)
    data_tag, data_start, data_stop = ber.read_tlv(msg, sp_stop, stop)
    if data_stop != stop:
        raise UsmDrop("parse_error", "bytes after msgData")
    # UsmSecurityParameters, itself BER inside the OCTET STRING.
    s, e = ber.expect(msg, sp_start, sp_stop, SEQUENCE)
    if e != sp_stop:
        raise UsmDrop("parse_error", "bytes after UsmSecurityParameters")
    a, p = ber.expect(msg, s, e, OCTET_STRING)
    if p - a > 32:
        raise UsmDrop("parse_error", "msgAuthoritativeEngineID longer than 32 bytes")
    engine_id = msg[a:p]
    boots, p = _int_in(msg, p, e, 0, MAX_INT32, "msgAuthoritativeEngineBoots")
    etime, p = _int_in(msg, p, e, 0, MAX_INT32, "msgAuthoritativeEngineTime")
    a, p = ber.expect(msg, p, e, OCTET_STRING)
    if p - a > 32:
        raise UsmDrop("parse_error", "msgUserName longer than 32 bytes")
    user = msg[a:p]
    auth_start, auth_stop = ber.expect(msg, p, e, OCTET_STRING)
    a, p = ber.expect(msg, auth_stop, e, OCTET_STRING)
    priv_params = msg[a:p]
    if p != e:
        raise UsmDrop("parse_error", "extra fields in UsmSecurityParameters")
    return Header(
        msg_id,
        max_size,
        flags,
        engine_id,
        boots,
        etime,
        user,
        auth_start,
        auth_stop,
        priv_params,
        sp_stop,
        data_tag,
        data_start,
        data_stop,
    )


def parse_scoped_pdu(buf: bytes, pos: int, end: int) -> tuple[bytes, bytes, bytes]:
    """ScopedPDU -> (contextEngineID, contextName, PDU TLV); trailing bytes (padding) ignored."""
    s, e = ber.expect(buf, pos, end, SEQUENCE)
    a, p = ber.expect(buf, s, e, OCTET_STRING)
    ctx_engine = buf[a:p]
    a, p = ber.expect(buf, p, e, OCTET_STRING)
    ctx_name = buf[a:p]
    _, _, pdu_stop = ber.read_tlv(buf, p, e)
    if pdu_stop != e:
        raise ber.BerError("bytes after the PDU", pdu_stop)
    return ctx_engine, ctx_name, buf[p:pdu_stop]


def _request_id(pdu: bytes) -> int:
    """The PDU's request-id for a Report, 0 when it cannot be read."""
    try:
        s, e = ber.expect(pdu, 0, len(pdu), pdu[0] if pdu else 0)
        a, b = ber.expect(pdu, s, e, INTEGER)
        rid = ber.decode_int(pdu, a, b)
    except ber.BerError:
        return 0
    return rid if -(2**31) <= rid <= MAX_INT32 else 0


class _Report(Exception):
    """Internal: a USM error that is answered with a Report (when the request is reportable)."""

    def __init__(
        self,
        counter: str,
        level: SecurityLevel = SecurityLevel.NO_AUTH_NO_PRIV,
        keys: LocalizedKeys | None = None,
        request_id: int = 0,
        context_name: bytes = b"",
    ) -> None:
        self.counter = counter
        self.level = level
        self.keys = keys
        self.request_id = request_id
        self.context_name = context_name


class UsmAgent:
    """One authoritative SNMP engine's USM: receive requests, wrap responses, send traps."""

    def __init__(
        self,
        engine_id: bytes,
        users: Sequence[UsmUser],
        engine_boots: int = 1,
        clock: Callable[[], float] = time.monotonic,
        accept: frozenset[int] = _REQUEST_PDUS,
    ) -> None:
        if not 5 <= len(engine_id) <= 32:
            raise ValueError(f"snmpEngineID must be 5..32 bytes, got {len(engine_id)}")
        if not 0 <= engine_boots < MAX_INT32:
            raise ValueError(f"engine_boots {engine_boots} out of range")
        self.engine_id = engine_id
        self._engine_tlv = ber.encode_octets(engine_id)
        self._users: dict[bytes, LocalizedKeys] = {}
        for user in users:
            if user.name in self._users:
                raise ValueError(f"duplicate USM user {user.name!r}")
            self._users[user.name] = user.localize(engine_id)
        self.engine_boots = engine_boots
        self._accept = accept  # the PDUs handed on: requests (an agent), InformRequest (traps)
        self._clock = clock
        self._start = clock()
        self._salt = int.from_bytes(os.urandom(8), "big")
        self._next_msg_id = int.from_bytes(os.urandom(3), "big")
        self._stats: dict[str, int] = dict.fromkeys(USM_STATS_OIDS, 0)

    # --- engine state ----------------------------------------------------------------------

    @property
    def engine_time(self) -> int:
        return min(int(self._clock() - self._start), MAX_INT32)

    def reboot(self) -> None:
        """engineBoots += 1 and engineTime restarts at 0 (as after a device reload)."""
        self.engine_boots = min(self.engine_boots + 1, MAX_INT32)
        self._start = self._clock()

    @property
    def stats(self) -> Mapping[str, int]:
        """usmStats counters by MIB name, plus ``drop_<reason>`` for silently dropped messages."""
        return dict(self._stats)

    def usm_stats_values(self) -> dict[OID, int]:
        """The usmStats scalars by OID, for serving SNMP-USER-BASED-SM-MIB from the simulator."""
        return {oid: self._stats[name] for name, oid in USM_STATS_OIDS.items()}

    def _count(self, key: str) -> int:
        value = self._stats.get(key, 0) + 1
        self._stats[key] = value
        return value

    # --- incoming --------------------------------------------------------------------------

    def receive(self, msg: bytes) -> V3Request | bytes:
        """A decoded, authenticated, decrypted request; or a Report message to send back.

        Raises UsmDrop for what must be dropped silently (it is counted under ``drop_<reason>``).
        """
        try:
            try:
                head = parse_header(msg)
            except ber.BerError as exc:
                raise UsmDrop("parse_error", str(exc)) from exc
            try:
                return self._process(msg, head)
            except _Report as rep:
                value = self._count(rep.counter)
                if not head.flags & FLAG_REPORTABLE:
                    raise UsmDrop("unreportable_" + rep.counter) from None
                return self._report(head, rep, value)
        except UsmDrop as drop:
            self._count("drop_" + drop.reason)
            raise

    def _process(self, msg: bytes, head: Header) -> V3Request:
        """RFC 3414 3.2 steps 3-8 for an authoritative receiver."""
        level = level_from_flags(head.flags)
        if head.engine_id != self.engine_id:  # step 3, discovery included
            raise _Report("usmStatsUnknownEngineIDs", request_id=self._plain_request_id(msg, head))
        keys = self._users.get(head.user)
        if keys is None:  # step 4
            raise _Report("usmStatsUnknownUserNames", request_id=self._plain_request_id(msg, head))
        if level == SecurityLevel.NO_AUTH_NO_PRIV:
            # Step 5: every user here is configured with auth; this agent's policy (as a VACM
            # requiring auth would) refuses unauthenticated requests outright.
            raise _Report(
                "usmStatsUnsupportedSecLevels", request_id=self._plain_request_id(msg, head)
            )
        # Step 6: authenticate the whole message with the digest zeroed.
        got = msg[head.auth_start : head.auth_stop]
        if len(got) != keys.auth.mac_len:
            raise _Report("usmStatsWrongDigests")
        zeroed = bytearray(msg)
        zeroed[head.auth_start : head.auth_stop] = bytes(len(got))
        if not hmac.compare_digest(keys.mac(zeroed), got):
            raise _Report("usmStatsWrongDigests")
        # Step 7: the timeliness check, reported authenticated (authNoPriv).
        boots = self.engine_boots
        if (
            boots == MAX_INT32
            or head.boots != boots
            or abs(head.time - self.engine_time) > TIME_WINDOW
        ):
            raise _Report("usmStatsNotInTimeWindows", SecurityLevel.AUTH_NO_PRIV, keys)
        # Step 8: decrypt.
        if level == SecurityLevel.AUTH_PRIV:
            if len(head.priv_params) != 8 or head.data_tag != OCTET_STRING:
                raise _Report("usmStatsDecryptionErrors")
            iv = head.boots.to_bytes(4, "big") + head.time.to_bytes(4, "big") + head.priv_params
            plain = keys.decrypt(iv, memoryview(msg)[head.data_start : head.data_stop])
            try:
                ctx_engine, ctx_name, pdu = parse_scoped_pdu(plain, 0, len(plain))
            except ber.BerError:
                # CFB cannot fail by itself: garbage out means a wrong privacy key.
                raise _Report("usmStatsDecryptionErrors") from None
        else:
            if head.data_tag != SEQUENCE:
                raise UsmDrop("parse_error", "encrypted data without the privacy flag")
            try:
                ctx_engine, ctx_name, pdu = parse_scoped_pdu(msg, head.data_pos, len(msg))
            except ber.BerError as exc:
                raise UsmDrop("parse_error", str(exc)) from exc
        if pdu[0] not in self._accept:
            raise UsmDrop("unexpected_pdu", f"PDU tag 0x{pdu[0]:02x}")
        return V3Request(
            head.msg_id,
            head.max_size,
            head.user,
            level,
            ctx_engine,
            ctx_name,
            pdu,
            keys,
        )

    @staticmethod
    def _plain_request_id(msg: bytes, head: Header) -> int:
        """The request-id of an unencrypted request (for its Report), else 0."""
        if head.flags & _FLAG_PRIV or head.data_tag != SEQUENCE:
            return 0
        try:
            _, _, pdu = parse_scoped_pdu(msg, head.data_pos, len(msg))
        except ber.BerError:
            return 0
        return _request_id(pdu)

    # --- outgoing --------------------------------------------------------------------------

    def respond(self, request: V3Request, pdu: bytes) -> bytes:
        """Wrap a Response PDU TLV into an SNMPv3 message at the request's security level.

        Raises UsmTooBig when the result exceeds the manager's msgMaxSize.
        """
        if not pdu or pdu[0] not in (ber.RESPONSE, ber.REPORT):
            raise ValueError("respond() takes a Response (0xA2) or Report (0xA8) PDU TLV")
        out = self._encode(
            request.msg_id,
            request.security_level,
            request.user,
            request.keys,
            request.context_engine_id,
            request.context_name,
            pdu,
        )
        if len(out) > request.max_size:
            raise UsmTooBig(f"response of {len(out)} bytes exceeds msgMaxSize {request.max_size}")
        return out

    def overhead(self, request: V3Request) -> int:
        """Bytes a response message adds around its PDU TLV (an upper bound), so a responder
        can size its PDU to fit ``request.max_size``."""
        empty = self._encode(
            request.msg_id,
            request.security_level,
            request.user,
            request.keys,
            request.context_engine_id,
            request.context_name,
            b"",
        )
        return len(empty) + 9  # 3 growing length fields: up to 3 more bytes each

    def notify(self, pdu: bytes, user: bytes) -> bytes:
        """An SNMPv3 trap (SNMPv2-Trap-PDU TLV, tag 0xA7) from this engine, authPriv."""
        keys = self._users.get(user)
        if keys is None:
            raise ValueError(f"unknown USM user {user!r}")
        if not pdu or pdu[0] != ber.TRAPV2:
            raise ValueError("notify() takes an SNMPv2-Trap PDU TLV (0xA7)")
        self._next_msg_id = (self._next_msg_id + 1) & MAX_INT32
        return self._encode(
            self._next_msg_id, SecurityLevel.AUTH_PRIV, user, keys, self.engine_id, b"", pdu
        )

    def _report(self, head: Header, rep: _Report, value: int) -> bytes:
        varbind = ber.tlv(
            SEQUENCE,
            _REPORT_VARBIND_PREFIX[rep.counter]
            + ber.encode_unsigned(value & 0xFFFFFFFF, ber.COUNTER32),
        )
        pdu = ber.tlv(
            ber.REPORT,
            ber.encode_int(rep.request_id)
            + b"\x02\x01\x00\x02\x01\x00"
            + ber.tlv(SEQUENCE, varbind),
        )
        return self._encode(
            head.msg_id, rep.level, head.user, rep.keys, self.engine_id, rep.context_name, pdu
        )

    def _encode(
        self,
        msg_id: int,
        level: SecurityLevel,
        user: bytes,
        keys: LocalizedKeys | None,
        context_engine_id: bytes,
        context_name: bytes,
        pdu: bytes,
        reportable: bool = False,
    ) -> bytes:
        salt = b""
        if level == SecurityLevel.AUTH_PRIV:
            self._salt = (self._salt + 1) & 0xFFFFFFFFFFFFFFFF
            salt = self._salt.to_bytes(8, "big")
        return encode_message(
            msg_id,
            level,
            reportable,
            self._engine_tlv,
            self.engine_boots,
            self.engine_time,
            user,
            keys,
            salt,
            context_engine_id,
            context_name,
            pdu,
        )


def encode_message(
    msg_id: int,
    level: SecurityLevel,
    reportable: bool,
    engine_id_tlv: bytes,
    boots: int,
    etime: int,
    user: bytes,
    keys: LocalizedKeys | None,
    salt: bytes,
    context_engine_id: bytes,
    context_name: bytes,
    pdu: bytes,
) -> bytes:
    """An SNMPv3/USM message. The HMAC goes over the whole message with a zeroed placeholder
    whose offset is tracked while encoding, then is patched in (no re-parse)."""
    scoped = ber.tlv(
        SEQUENCE, ber.encode_octets(context_engine_id) + ber.encode_octets(context_name) + pdu
    )
    priv_params = b""
    auth_len = 0
    if level != SecurityLevel.NO_AUTH_NO_PRIV:
        if keys is None:
            raise ValueError("an authenticated message needs keys")
        auth_len = keys.auth.mac_len
        if level == SecurityLevel.AUTH_PRIV:
            priv_params = salt
            iv = boots.to_bytes(4, "big") + etime.to_bytes(4, "big") + salt
            scoped = ber.encode_octets(keys.encrypt(iv, scoped))
    before_auth = (
        engine_id_tlv
        + ber.encode_int(boots)
        + ber.encode_int(etime)
        + ber.encode_octets(user)
        + bytes((OCTET_STRING, auth_len))
    )
    sec_body = before_auth + bytes(auth_len) + ber.encode_octets(priv_params)
    sec = ber.tlv(SEQUENCE, sec_body)
    sec_octets = ber.tlv(OCTET_STRING, sec)
    flags = _LEVEL_FLAGS[level] | (FLAG_REPORTABLE if reportable else 0)
    head = b"\x02\x01\x03" + ber.tlv(
        SEQUENCE,
        ber.encode_int(msg_id)
        + ber.encode_int(OWN_MAX_SIZE)
        + bytes((OCTET_STRING, 1, flags))
        + b"\x02\x01\x03",
    )
    body = head + sec_octets + scoped
    msg = ber.tlv(SEQUENCE, body)
    if keys is None or not auth_len:
        return msg
    offset = (
        (len(msg) - len(body))
        + len(head)
        + (len(sec_octets) - len(sec))
        + (len(sec) - len(sec_body))
        + len(before_auth)
    )
    out = bytearray(msg)
    out[offset : offset + auth_len] = keys.mac(msg)
    return bytes(out)
