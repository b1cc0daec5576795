"""SNMP v1/v2c messages and PDUs: agent side (decode requests, assemble responses from
pre-encoded varbinds) and manager side (encode requests, decode responses into triples).

Built on ``netmon.snmp.ber``. Request OIDs are kept as their raw encoded bodies (bytes) so an
agent can look them up without decoding (a walk asks for the OID it was just given); decode
them with ``ber.decode_oid`` only when ordering matters. Every decoder raises ``MessageError``
(a ``BerError``) and nothing else on malformed input.

Wire layout (RFC 1157 / RFC 3416)::

    Message  ::= SEQUENCE { version INTEGER (0 = v1, 1 = v2c), community OCTET STRING, PDU }
    PDU      ::= [tag] { request-id, error-status | non-repeaters, error-index | max-repetitions,
                         SEQUENCE OF SEQUENCE { name OID, value } }
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from netmon.snmp import ber
from netmon.snmp.ber import OID, BerError, encode_length, expect, read_tlv

V1 = 0
V2C = 1

# Error statuses (RFC 3416).
NO_ERROR = 0
TOO_BIG = 1
NO_SUCH_NAME = 2  # v1 only
BAD_VALUE = 3
READ_ONLY = 4
GEN_ERR = 5
NOT_WRITABLE = 17

REQUEST_TAGS = frozenset((ber.GET, ber.GETNEXT, ber.GETBULK, ber.SET))
_NULL = b"\x05\x00"

Value = int | bytes | OID | None
Triple = tuple[OID, int, Value]


class MessageError(BerError):
    """A malformed or unsupported SNMP message (a ``BerError``, hence a ``SnmpError``)."""


@dataclass(frozen=True, slots=True)
class Pdu:
    """A decoded PDU. ``oids`` are the raw OID bodies (no tag/length) in request order;
    ``request_id_tlv`` is the request-id exactly as received, to echo it cheaply."""

    tag: int
    request_id: int
    request_id_tlv: bytes
    error_status: int  # non-repeaters for GETBULK
    error_index: int  # max-repetitions for GETBULK
    oids: tuple[bytes, ...]

    @property
    def non_repeaters(self) -> int:
        return self.error_status

    @property
    def max_repetitions(self) -> int:
        return self.error_index


@dataclass(frozen=True, slots=True)
class Request:
    version: int
    community: bytes
    pdu: Pdu


def _int(buf: bytes, pos: int, end: int) -> tuple[int, int, int]:
    start, stop = expect(buf, pos, end, ber.INTEGER)
    return ber.decode_int(buf, start, stop), start, stop


def decode_pdu(buf: bytes, pos: int = 0, end: int | None = None) -> Pdu:
    """Decode the PDU TLV at ``pos`` (used directly for SNMPv3's scopedPDU contents).

    Only the varbind names are kept: a request's values are Null (SET is answered elsewhere).
    """
    if end is None:
        end = len(buf)
    try:
        tag, start, stop = read_tlv(buf, pos, end)
        if tag & 0xE0 != 0xA0:
            raise MessageError(f"not a PDU tag 0x{tag:02x}", pos)
        request_id, _, p = _int(buf, start, stop)
        rid_tlv = buf[start:p]
        error_status, _, p = _int(buf, p, stop)
        error_index, _, p = _int(buf, p, stop)
        vs, ve = expect(buf, p, stop, ber.SEQUENCE)
        oids: list[bytes] = []
        p = vs
        while p < ve:
            bs, be = expect(buf, p, ve, ber.SEQUENCE)
            os_, oe = expect(buf, bs, be, ber.OBJECT_IDENTIFIER)
            if os_ == oe:
                raise MessageError("empty OID", os_)
            oids.append(buf[os_:oe])
            _, _, vend = read_tlv(buf, oe, be)  # the value must be a well-formed TLV
            if vend != be:
                raise MessageError("trailing bytes inside a varbind", vend)
            p = be
    except MessageError:
        raise
    except BerError as exc:
        raise MessageError(str(exc), exc.offset) from exc
    return Pdu(tag, request_id, bytes(rid_tlv), error_status, error_index, tuple(oids))


def _community_header(buf: bytes) -> tuple[int, int, int, int]:
    """The v1/v2c envelope: (version, community start, community end = PDU start, end)."""
    end = len(buf)
    ms, me = expect(buf, 0, end, ber.SEQUENCE)
    version, _, p = _int(buf, ms, me)
    if version not in (V1, V2C):
        raise MessageError(f"unsupported SNMP version {version}", ms)
    cs, ce = expect(buf, p, me, ber.OCTET_STRING)
    return version, cs, ce, me


def decode_request(buf: bytes) -> Request:
    """Decode a v1/v2c request message; raises MessageError on anything malformed."""
    try:
        version, cs, ce, me = _community_header(buf)
        pdu = decode_pdu(buf, ce, me)
    except MessageError:
        raise
    except BerError as exc:
        raise MessageError(str(exc), exc.offset) from exc
    return Request(version, bytes(buf[cs:ce]), pdu)


def peek_version(buf: bytes) -> int:
    """The message's version field (0 v1, 1 v2c, 3 v3) without decoding the rest."""
    try:
        ms, me = expect(buf, 0, len(buf), ber.SEQUENCE)
        return _int(buf, ms, me)[0]
    except BerError as exc:
        raise MessageError(str(exc), exc.offset) from exc


# --- encoding ----------------------------------------------------------------------------------


def tlv_header(tag: int, n: int) -> bytes:
    """A TLV's tag and length bytes for ``n`` bytes of content."""
    if n < 0x80:
        return bytes((tag, n))
    return bytes((tag,)) + encode_length(n)


def varbind(oid_tlv: bytes, value_tlv: bytes) -> bytes:
    """One pre-encoded varbind from an encoded OID TLV and an encoded value TLV."""
    n = len(oid_tlv) + len(value_tlv)
    return tlv_header(ber.SEQUENCE, n) + oid_tlv + value_tlv


def quick_head(buf: bytes) -> tuple[int, int, int] | None:
    """Where a well-formed v1/v2c message's parts are, read inline (the collector's fast
    paths): (the version TLV's start ``ms``, the PDU's start, the message's end); the version
    is ``buf[ms + 2]`` and the community ``buf[ms + 5 : pdu_start]``. None unless the message
    is a SEQUENCE with a 0-2 byte length that fits, a one-byte INTEGER version 0 or 1, and a
    community of a short length with at least a byte after it: the TLV-by-TLV readers then
    decode it or say what is wrong."""
    try:
        if buf[0] != 0x30:
            return None
        ms, me = ber.quick_tlv(buf, 0, len(buf))
        if (
            me < ms + 5
            or buf[ms] != 0x02
            or buf[ms + 1] != 0x01
            or buf[ms + 2] > 1
            or buf[ms + 3] != 0x04
            or buf[ms + 4] >= 0x80
        ):
            return None
    except IndexError:
        return None
    ce = ms + 5 + buf[ms + 4]
    return (ms, ce, me) if ce < me else None


def message_prefix(version: int, community: bytes) -> bytes:
    """The version + community TLVs: constant per agent, cache it."""
    return ber.encode_int(version) + ber.encode_octets(community)


def encode_pdu(
    tag: int, request_id_tlv: bytes, error_status: int, error_index: int, varbinds: bytes
) -> bytes:
    """A PDU TLV from the already-encoded request-id TLV and the concatenated varbinds."""
    es = ber.encode_int(error_status) if error_status else b"\x02\x01\x00"
    ei = ber.encode_int(error_index) if error_index else b"\x02\x01\x00"
    vl_hdr = tlv_header(ber.SEQUENCE, len(varbinds))
    body_len = len(request_id_tlv) + len(es) + len(ei) + len(vl_hdr) + len(varbinds)
    return b"".join((tlv_header(tag, body_len), request_id_tlv, es, ei, vl_hdr, varbinds))


def wrap_message(prefix: bytes, pdu: bytes) -> bytes:
    """A v1/v2c message from ``message_prefix(...)`` and a PDU TLV."""
    return tlv_header(ber.SEQUENCE, len(prefix) + len(pdu)) + prefix + pdu


def encode_message(
    version: int,
    community: bytes,
    tag: int,
    request_id: int,
    error_status: int,
    error_index: int,
    varbinds: bytes,
) -> bytes:
    pdu = encode_pdu(tag, ber.encode_int(request_id), error_status, error_index, varbinds)
    return wrap_message(message_prefix(version, community), pdu)


def response_overhead(prefix_len: int, request_id_tlv_len: int, varbinds_len: int) -> int:
    """Bytes a Response adds around ``varbinds_len`` bytes of varbinds (error fields of 3
    bytes each, i.e. up to 127): lets an agent check a size budget without encoding."""
    vl = varbinds_len + len(encode_length(varbinds_len)) + 1
    pdu = request_id_tlv_len + 6 + vl
    pdu += len(encode_length(pdu)) + 1
    msg = prefix_len + pdu
    return msg + len(encode_length(msg)) + 1 - varbinds_len


# --- manager side ------------------------------------------------------------------------------


def null_varbinds(oids: Iterable[OID]) -> bytes:
    return b"".join(varbind(ber.encode_oid(o), _NULL) for o in oids)


def encode_get(community: bytes, request_id: int, oids: Sequence[OID], version: int = V2C) -> bytes:
    return encode_message(version, community, ber.GET, request_id, 0, 0, null_varbinds(oids))


def encode_getnext(
    community: bytes, request_id: int, oids: Sequence[OID], version: int = V2C
) -> bytes:
    return encode_message(version, community, ber.GETNEXT, request_id, 0, 0, null_varbinds(oids))


def encode_getbulk(
    community: bytes,
    request_id: int,
    oids: Sequence[OID],
    max_repetitions: int,
    non_repeaters: int = 0,
) -> bytes:
    return encode_message(
        V2C,
        community,
        ber.GETBULK,
        request_id,
        non_repeaters,
        max_repetitions,
        null_varbinds(oids),
    )


def decode_value(buf: bytes, tag: int, start: int, stop: int) -> Value:
    if tag in (ber.INTEGER,):
        return ber.decode_int(buf, start, stop)
    if tag in (ber.COUNTER32, ber.GAUGE32, ber.TIMETICKS, ber.COUNTER64):
        return ber.decode_unsigned(buf, start, stop)
    if tag in (ber.OCTET_STRING, ber.IPADDRESS, ber.OPAQUE):
        return bytes(buf[start:stop])
    if tag == ber.OBJECT_IDENTIFIER:
        return ber.decode_oid(buf, start, stop)
    if tag in (ber.NULL, ber.NO_SUCH_OBJECT, ber.NO_SUCH_INSTANCE, ber.END_OF_MIB_VIEW):
        if start != stop:
            raise MessageError(f"tag 0x{tag:02x} must be empty", start)
        return None
    raise MessageError(f"unknown value tag 0x{tag:02x}", start)


@dataclass(frozen=True, slots=True)
class Response:
    version: int
    community: bytes
    tag: int
    request_id: int
    error_status: int
    error_index: int
    varbinds: tuple[Triple, ...]


def decode_varbinds(buf: bytes, pos: int, end: int) -> tuple[Triple, ...]:
    out: list[Triple] = []
    while pos < end:
        bs, be = expect(buf, pos, end, ber.SEQUENCE)
        os_, oe = expect(buf, bs, be, ber.OBJECT_IDENTIFIER)
        oid = ber.decode_oid(buf, os_, oe)
        tag, vs, ve = read_tlv(buf, oe, be)
        if ve != be:
            raise MessageError("trailing bytes inside a varbind", ve)
        out.append((oid, tag, decode_value(buf, tag, vs, ve)))
        pos = be
    return tuple(out)


def decode_pdu_full(buf: bytes, pos: int = 0, end: int | None = None) -> Response:
    """Decode a PDU TLV with its varbind values (version/community left empty)."""
    if end is None:
        end = len(buf)
    try:
        tag, start, stop = read_tlv(buf, pos, end)
        if tag & 0xE0 != 0xA0:
            raise MessageError(f"not a PDU tag 0x{tag:02x}", pos)
        request_id, _, p = _int(buf, start, stop)
        error_status, _, p = _int(buf, p, stop)
        error_index, _, p = _int(buf, p, stop)
        vs, ve = expect(buf, p, stop, ber.SEQUENCE)
        varbinds = decode_varbinds(buf, vs, ve)
    except MessageError:
        raise
    except BerError as exc:
        raise MessageError(str(exc), exc.offset) from exc
    return Response(-1, b"", tag, request_id, error_status, error_index, varbinds)


def decode_response(buf: bytes) -> Response:
    """Decode a v1/v2c message (Response, Trap or any PDU) with its values as triples."""
    try:
        version, cs, ce, me = _community_header(buf)
        r = decode_pdu_full(buf, ce, me)
    except MessageError:
        raise
    except BerError as exc:
        raise MessageError(str(exc), exc.offset) from exc
    return Response(
        version, bytes(buf[cs:ce]), r.tag, r.request_id, r.error_status, r.error_index, r.varbinds
    )
