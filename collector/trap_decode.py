"""Decode notification PDUs (v1 Trap-PDU, SNMPv2-Trap, InformRequest) into what netmon acts on.

On ``netmon.snmp`` (BER + message); every decoder raises ``MessageError`` and nothing else on
malformed input. The v1 mapping follows RFC 3584 3.1: generic-trap N becomes snmpTraps.(N+1).
"""

from __future__ import annotations

from dataclasses import dataclass

from netmon.snmp import ber
from netmon.snmp.ber import OID, BerError, expect, read_tlv
from netmon.snmp.message import V1, V2C, MessageError, Triple, decode_varbinds

TRAPV1 = 0xA4

SYS_UPTIME = (1, 3, 6, 1, 2, 1, 1, 3, 0)
SNMP_TRAP_OID = (1, 3, 6, 1, 6, 3, 1, 1, 4, 1, 0)
_SNMP_TRAPS = (1, 3, 6, 1, 6, 3, 1, 1, 5)
IF_ENTRY = (1, 3, 6, 1, 2, 1, 2, 2, 1)  # .1 ifIndex, .2 ifDescr, .7 admin, .8 oper
IF_X_ENTRY = (1, 3, 6, 1, 2, 1, 31, 1, 1, 1)  # .1 ifName

# snmpTrapOID value -> netmon's kind (SNMPv2-MIB snmpTraps).
KINDS: dict[OID, str] = {
    (*_SNMP_TRAPS, 1): "cold_start",
    (*_SNMP_TRAPS, 2): "warm_start",
    (*_SNMP_TRAPS, 3): "link_down",
    (*_SNMP_TRAPS, 4): "link_up",
    (*_SNMP_TRAPS, 5): "authentication_failure",
}
TRAP_NAMES = {
    "cold_start": "coldStart",
    "warm_start": "warmStart",
    "link_down": "linkDown",
    "link_up": "linkUp",
    "authentication_failure": "authenticationFailure",
}


class NotANotification(MessageError):
    """A well-formed PDU that is no notification (a GET sent to the trap port)."""


@dataclass(frozen=True, slots=True)
class Notification:
    """One decoded notification PDU (without its envelope)."""

    tag: int  # TRAPV1, ber.TRAPV2 or ber.INFORM
    request_id: int  # 0 for a v1 trap
    request_id_tlv: bytes  # as received, echoed in an inform's Response
    trap_oid: OID | None
    varbinds: tuple[Triple, ...]
    raw_varbinds: bytes  # the varbind list's contents, echoed in an inform's Response

    @property
    def kind(self) -> str | None:
        return KINDS.get(self.trap_oid) if self.trap_oid is not None else None

    def interface(self) -> tuple[int | None, str | None, int | None, int | None]:
        """(ifIndex, ifName or else ifDescr, ifAdminStatus, ifOperStatus) as carried."""
        index: int | None = None
        name: str | None = None
        descr: str | None = None
        admin: int | None = None
        oper: int | None = None
        for oid, _tag, value in self.varbinds:
            if len(oid) == len(IF_ENTRY) + 2 and oid[: len(IF_ENTRY)] == IF_ENTRY:
                column, idx = oid[-2], oid[-1]
                index = idx if index is None else index
                if column == 2 and isinstance(value, bytes):
                    descr = _text(value)
                elif column in (7, 8) and isinstance(value, int) and 1 <= value <= 7:
                    admin, oper = (value, oper) if column == 7 else (admin, value)
            elif len(oid) == len(IF_X_ENTRY) + 2 and oid[: len(IF_X_ENTRY)] == IF_X_ENTRY:
                index = oid[-1] if index is None else index
                if oid[-2] == 1 and isinstance(value, bytes):
                    name = _text(value)
        return index, name or descr, admin, oper


def _text(value: bytes) -> str | None:
    text = value.decode("utf-8", "replace").strip()
    return text[:64] or None  # an interface name is short; nothing hostile goes further


def _int(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    start, stop = expect(buf, pos, end, ber.INTEGER)
    return ber.decode_int(buf, start, stop), stop


def decode_notification(buf: bytes, pos: int, end: int) -> Notification:
    """The notification PDU TLV at ``pos``; MessageError for anything else or malformed."""
    try:
        tag, start, stop = read_tlv(buf, pos, end)
        if stop != end:
            raise MessageError("bytes after the PDU", stop)
        if tag == TRAPV1:
            return _decode_v1(buf, start, stop)
        if tag not in (ber.TRAPV2, ber.INFORM):
            if tag & 0xE0 == 0xA0:
                raise NotANotification(f"PDU 0x{tag:02x} is not a notification", pos)
            raise MessageError(f"not a PDU tag 0x{tag:02x}", pos)
        rs, re_ = expect(buf, start, stop, ber.INTEGER)
        request_id = ber.decode_int(buf, rs, re_)
        _, p = _int(buf, re_, stop)  # error-status
        _, p = _int(buf, p, stop)  # error-index
        vs, ve = expect(buf, p, stop, ber.SEQUENCE)
        if ve != stop:
            raise MessageError("bytes after the varbind list", ve)
        varbinds = decode_varbinds(buf, vs, ve)
    except MessageError:
        raise
    except BerError as exc:
        raise MessageError(str(exc), exc.offset) from exc
    trap_oid = next((v for o, _t, v in varbinds if o == SNMP_TRAP_OID), None)
    if not isinstance(trap_oid, tuple):
        raise MessageError("notification without an snmpTrapOID.0 OID value", vs)
    return Notification(
        tag, request_id, bytes(buf[start:re_]), trap_oid, varbinds, bytes(buf[vs:ve])
    )


def _decode_v1(buf: bytes, start: int, stop: int) -> Notification:
    es, ee = expect(buf, start, stop, ber.OBJECT_IDENTIFIER)
    enterprise = ber.decode_oid(buf, es, ee)
    _, p = expect(buf, ee, stop, ber.IPADDRESS)  # agent-addr: the UDP source is what counts
    generic, p = _int(buf, p, stop)
    specific, p = _int(buf, p, stop)
    _, p = expect(buf, p, stop, ber.TIMETICKS)
    vs, ve = expect(buf, p, stop, ber.SEQUENCE)
    if ve != stop:
        raise MessageError("bytes after the varbind list", ve)
    varbinds = decode_varbinds(buf, vs, ve)
    if 0 <= generic <= 5:
        trap_oid: OID = (*_SNMP_TRAPS, generic + 1)
    elif generic == 6:  # enterpriseSpecific: enterprise.0.specific
        trap_oid = (*enterprise, 0, specific & 0xFFFFFFFF)
    else:
        raise MessageError(f"generic-trap {generic} out of range", start)
    return Notification(TRAPV1, 0, b"", trap_oid, varbinds, bytes(buf[vs:ve]))


@dataclass(frozen=True, slots=True)
class CommunityMessage:
    version: int  # V1 or V2C
    community: bytes
    pdu_pos: int


def decode_community_header(buf: bytes) -> CommunityMessage:
    """The v1/v2c envelope; MessageError when malformed or another version."""
    try:
        ms, me = expect(buf, 0, len(buf), ber.SEQUENCE)
        if me != len(buf):
            raise MessageError("bytes after the message", me)
        version, p = _int(buf, ms, me)
        if version not in (V1, V2C):
            raise MessageError(f"unsupported SNMP version {version}", ms)
        cs, ce = expect(buf, p, me, ber.OCTET_STRING)
    except MessageError:
        raise
    except BerError as exc:
        raise MessageError(str(exc), exc.offset) from exc
    return CommunityMessage(version, bytes(buf[cs:ce]), ce)


def response_pdu(note: Notification) -> bytes:
    """The Response PDU that acknowledges an inform: its request-id and varbinds echoed."""
    body = (
        note.request_id_tlv + b"\x02\x01\x00\x02\x01\x00" + ber.tlv(ber.SEQUENCE, note.raw_varbinds)
    )
    return ber.tlv(ber.RESPONSE, body)
