"""Decoding the collector's SNMP answers fast: caches by encoded bytes and a walk decoder that
goes from the datagram straight into the walk's column rows.

``decode_pdu`` and ``decode_answer`` give the same triples and raise the same ``MessageError``
as ``netmon.snmp.message`` (tested against it, also on broken input). ``bulk_rows`` is the walk
step: decoding every varbind into a triple and then walking the triples was ~half of a full
poll's CPU (profiled on the shipped backbone); one pass over the bytes, with each row OID's
decoded tuple and index text cached by its encoded bytes, does the same checks in one loop.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import NamedTuple

from collector.transport import Missing, SnmpGarbage, SnmpWalkLoop, Value, oid_key
from netmon.snmp import ber
from netmon.snmp.ber import OID
from netmon.snmp.message import (
    V2C,
    MessageError,
    Response,
    decode_value,
    encode_pdu,
    null_varbinds,
    quick_head,
    tlv_header,
)

_INT32 = (-(2**31), 2**31 - 1)
_UNSIGNED32 = frozenset((ber.COUNTER32, ber.GAUGE32, ber.TIMETICKS))
_UNSIGNED_TAGS = frozenset((*_UNSIGNED32, ber.COUNTER64))
_INT_TAGS = frozenset((*_UNSIGNED_TAGS, ber.INTEGER))
_EOMV = ber.END_OF_MIB_VIEW
# Integer tags: the highest value to_value allows (unsigned), or 0 for INTEGER (signed 32-bit).
_INT_LIMIT = {
    **{tag: 0xFFFFFFFF for tag in _UNSIGNED32},
    ber.COUNTER64: 0xFFFFFFFFFFFFFFFF,
    ber.INTEGER: 0,
}


def to_value(tag: int, raw: int | bytes | OID | None) -> Value:
    """A decoded varbind value as the pysnmp transport's ``to_value`` renders it."""
    if tag == ber.OCTET_STRING or tag == ber.OPAQUE:
        assert isinstance(raw, bytes)
        # ifAlias and friends are free text; never let one bad byte fail a poll.
        return raw.decode("utf-8", errors="replace")
    if tag in _UNSIGNED_TAGS:
        assert isinstance(raw, int)
        if raw > _INT_LIMIT[tag]:
            raise SnmpGarbage(f"value {raw} out of range for tag 0x{tag:02x}")
        return raw
    if tag == ber.INTEGER:
        assert isinstance(raw, int)
        if not _INT32[0] <= raw <= _INT32[1]:
            raise SnmpGarbage(f"INTEGER {raw} out of range")
        return raw
    if tag == ber.OBJECT_IDENTIFIER:
        assert isinstance(raw, tuple)
        return ".".join(map(str, raw))
    if tag == ber.IPADDRESS:
        assert isinstance(raw, bytes)
        if len(raw) != 4:
            raise SnmpGarbage(f"IpAddress of {len(raw)} bytes")
        return ".".join(map(str, raw))
    if tag == ber.NO_SUCH_OBJECT:
        return Missing.no_such_object
    if tag == ber.NO_SUCH_INSTANCE:
        return Missing.no_such_instance
    if tag == ber.END_OF_MIB_VIEW:
        return Missing.end_of_mib_view
    if tag == ber.NULL:
        return ""  # pyasn1's Null is an OctetString: pysnmp renders it as empty text
    raise SnmpGarbage(f"unexpected value tag 0x{tag:02x}")


# --- caches ----------------------------------------------------------------------------------

# Decoded OIDs by their encoded bytes. decode_oid's byte loop was ~40 % of the CPU of a poll
# (profiled); a poll asks every device for the same columns and ifIndexes, so nearly every OID
# has been seen before and a dict lookup replaces the loop. Cleared when full (no LRU needed).
_OID_CACHE: dict[bytes, OID] = {}
OID_CACHE_MAX = 100_000  # entries (~20 MB at most); the backbone needs a few tens of thousands

# A row OID's encoded bytes -> (its tuple, the column prefix it was last found under (the
# very tuple object of that walk), its index text under that prefix).
_ROWS: dict[bytes, tuple[OID, OID, str]] = {}

# Encoded request varbinds (OID + NULL) by OID: a poll asks for the same OIDs every cycle.
_VARBIND_CACHE: dict[OID, bytes] = {}

oid_tuple = functools.lru_cache(maxsize=8192)(oid_key)


def _cached_oid(buf: bytes, start: int, stop: int) -> OID:
    raw = buf[start:stop]
    oid = _OID_CACHE.get(raw)
    if oid is None:
        oid = ber.decode_oid(buf, start, stop)
        if len(_OID_CACHE) >= OID_CACHE_MAX:
            _OID_CACHE.clear()
        _OID_CACHE[raw] = oid
    return oid


def request_varbinds(oids: Sequence[OID]) -> bytes:
    """``message.null_varbinds`` with a cache (encoding OIDs was ~1/3 of a poll's CPU)."""
    out = []
    for oid in oids:
        vb = _VARBIND_CACHE.get(oid)
        if vb is None:
            vb = null_varbinds((oid,))
            if len(_VARBIND_CACHE) >= OID_CACHE_MAX:
                _VARBIND_CACHE.clear()
            _VARBIND_CACHE[oid] = vb
        out.append(vb)
    return b"".join(out)


# A request's PDU after its request-id (error-status/non-repeaters, error-index/max-repetitions,
# the varbinds) by (tag, a, b, OIDs): every cycle asks each device the same questions, and
# encoding them TLV by TLV was ~4 % of the bench's cycle (profiled).
_REQUEST_TAILS: dict[tuple[int, int, int, tuple[OID, ...]], bytes] = {}
REQUEST_CACHE_MAX = 20_000


def request_message(
    prefix: bytes, tag: int, rid: int, a: int, b: int, oids: Sequence[OID]
) -> bytes:
    """``wrap_message(prefix, encode_pdu(tag, encode_int(rid), a, b, request_varbinds(oids)))``
    (a v1/v2c request; ``prefix`` is ``message_prefix(version, community)``), byte for byte."""
    key = (tag, a, b, tuple(oids))
    tail = _REQUEST_TAILS.get(key)
    if tail is None:
        pdu = encode_pdu(tag, b"", a, b, request_varbinds(oids))  # no request-id: its body
        tail = pdu[2 if pdu[1] < 0x80 else 2 + (pdu[1] & 0x7F) :]
        if len(_REQUEST_TAILS) >= REQUEST_CACHE_MAX:
            _REQUEST_TAILS.clear()
        _REQUEST_TAILS[key] = tail
    if rid <= 0:  # never from the endpoint's ids (1..2**31-1); the general encoder then
        rid_tlv = ber.encode_int(rid)
    else:
        n = rid.bit_length() // 8 + 1  # minimal two's complement of a positive id
        rid_tlv = b"\x02" + bytes((n,)) + rid.to_bytes(n, "big")
    body = len(rid_tlv) + len(tail)
    pdu_header = tlv_header(tag, body)
    return b"".join(
        (
            tlv_header(ber.SEQUENCE, len(prefix) + len(pdu_header) + body),
            prefix,
            pdu_header,
            rid_tlv,
            tail,
        )
    )


# --- PDUs ------------------------------------------------------------------------------------


class RawPdu(NamedTuple):
    """A PDU whose header is decoded; its varbinds are ``buf[start:stop]``, not yet read."""

    buf: bytes
    tag: int
    request_id: int
    error_status: int
    error_index: int
    start: int
    stop: int


def pdu_header(buf: bytes, pos: int = 0, end: int | None = None) -> RawPdu:
    """The PDU at ``pos``: tag, request-id, error-status, error-index; MessageError if broken."""
    if end is None:
        end = len(buf)
    try:
        tag, start, stop = ber.read_tlv(buf, pos, end)
        if tag & 0xE0 != 0xA0:
            raise MessageError(f"not a PDU tag 0x{tag:02x}", pos)
        fields: list[int] = []
        p = start
        for _ in range(3):  # request-id, error-status, error-index
            s, p = ber.expect(buf, p, stop, ber.INTEGER)
            fields.append(ber.decode_int(buf, s, p))
        vs, ve = ber.expect(buf, p, stop, ber.SEQUENCE)
    except MessageError:
        raise
    except ber.BerError as exc:
        raise MessageError(str(exc), exc.offset) from exc
    return RawPdu(buf, tag, fields[0], fields[1], fields[2], vs, ve)


def read_varbinds(
    buf: bytes, p: int, ve: int, limit: int = -1
) -> tuple[list[tuple[OID, int, int | bytes | OID | None]], int]:
    """Up to ``limit`` (all if negative) varbinds from ``p``: (triples, where the next starts)."""
    out: list[tuple[OID, int, int | bytes | OID | None]] = []
    oids = _OID_CACHE
    try:
        while p < ve and len(out) != limit:
            # The fast path: a varbind whose lengths are all in the short form (nearly every
            # one in an answer), read inline. Anything else takes the general reader below,
            # which also says what is wrong with it.
            if p + 6 <= ve and buf[p] == 0x30 and buf[p + 2] == 0x06:
                blen, olen = buf[p + 1], buf[p + 3]
                be, oe = p + 2 + blen, p + 4 + olen
                if blen < 0x80 and olen < 0x80 and be <= ve and oe + 2 <= be:
                    vtag, vlen = buf[oe], buf[oe + 1]
                    s = oe + 2
                    if vlen < 0x80 and s + vlen == be and vtag & 0x1F != 0x1F:
                        oid = oids.get(buf[p + 4 : oe])
                        if oid is None:
                            oid = _cached_oid(buf, p + 4, oe)
                        if vtag in _UNSIGNED_TAGS and 0 < vlen <= 9:
                            value: int | bytes | OID | None = int.from_bytes(buf[s:be], "big")
                        elif vtag == ber.INTEGER and 0 < vlen <= 9:
                            value = int.from_bytes(buf[s:be], "big", signed=True)
                        elif vtag == ber.OBJECT_IDENTIFIER:  # sysObjectID: every full poll
                            value = _cached_oid(buf, s, be)
                        else:
                            value = decode_value(buf, vtag, s, be)
                        out.append((oid, vtag, value))
                        p = be
                        continue
            bs, be = ber.expect(buf, p, ve, ber.SEQUENCE)
            os_, oe = ber.expect(buf, bs, be, ber.OBJECT_IDENTIFIER)
            vtag, s, e = ber.read_tlv(buf, oe, be)
            if e != be:
                raise MessageError("trailing bytes inside a varbind", e)
            out.append((_cached_oid(buf, os_, oe), vtag, decode_value(buf, vtag, s, e)))
            p = be
    except MessageError:
        raise
    except ber.BerError as exc:
        raise MessageError(str(exc), exc.offset) from exc
    return out, p


def decode_pdu(buf: bytes, pos: int = 0, end: int | None = None) -> Response:
    """``message.decode_pdu_full`` with the OID cache: same triples, same MessageError."""
    h = pdu_header(buf, pos, end)
    out, _ = read_varbinds(buf, h.start, h.stop)
    return Response(-1, b"", h.tag, h.request_id, h.error_status, h.error_index, tuple(out))


def _fast_answer(buf: bytes) -> tuple[int, bytes, RawPdu] | None:
    """``answer_pdu`` for the well-formed answer (nearly all): header fields read inline, no
    call per TLV. None for anything else, which the general reader decodes or explains."""
    head = quick_head(buf)
    if head is None:
        return None
    ms, ce, me = head
    try:
        tag = buf[ce]
        if tag & 0xE0 != 0xA0 or tag & 0x1F == 0x1F:
            return None
        ps, pe = ber.quick_tlv(buf, ce, me)
        if pe < 0:
            return None
        fields = []
        p = ps
        for _ in range(3):  # request-id, error-status, error-index: INTEGERs of 1-9 bytes
            n = buf[p + 1]
            if buf[p] != 0x02 or not 0 < n <= 9 or p + 2 + n > pe:
                return None
            fields.append(int.from_bytes(buf[p + 2 : p + 2 + n], "big", signed=True))
            p += 2 + n
        if buf[p] != 0x30:
            return None
        vs, ve = ber.quick_tlv(buf, p, pe)
        if ve < 0:
            return None
    except IndexError:
        return None
    return buf[ms + 2], buf[ms + 5 : ce], RawPdu(buf, tag, fields[0], fields[1], fields[2], vs, ve)


def answer_pdu(buf: bytes) -> tuple[int, bytes, RawPdu]:
    """A v1/v2c message: (version, community, its PDU's header)."""
    fast = _fast_answer(buf)
    return fast if fast is not None else _general_answer(buf)


def _general_answer(buf: bytes) -> tuple[int, bytes, RawPdu]:
    try:
        ms, me = ber.expect(buf, 0, len(buf), ber.SEQUENCE)
        vs, ve = ber.expect(buf, ms, me, ber.INTEGER)
        version = ber.decode_int(buf, vs, ve)
        if version not in (0, V2C):
            raise MessageError(f"unsupported SNMP version {version}", ms)
        cs, ce = ber.expect(buf, ve, me, ber.OCTET_STRING)
    except MessageError:
        raise
    except ber.BerError as exc:
        raise MessageError(str(exc), exc.offset) from exc
    return version, buf[cs:ce], pdu_header(buf, ce, me)


def decode_answer(buf: bytes) -> Response:
    """``message.decode_response`` with the OID cache (v1/v2c messages)."""
    version, community, h = answer_pdu(buf)
    out, _ = read_varbinds(buf, h.start, h.stop)
    return Response(
        version, community, h.tag, h.request_id, h.error_status, h.error_index, tuple(out)
    )


# --- the walk step ---------------------------------------------------------------------------


def bulk_rows(
    buf: bytes,
    p: int,
    ve: int,
    prefixes: Sequence[OID],
    lasts: list[OID],
    rows: Sequence[dict[str, Value]],
    done: list[bool],
    name: str,
) -> bool:
    """Read a GETBULK answer's repeated varbinds from ``p`` into the walk's columns.

    Varbind ``i`` belongs to column ``i % width`` (``prefixes[k]``, the row OIDs it has so far
    in ``rows[k]``, its last OID in ``lasts[k]``). A column is ``done`` at endOfMibView or at
    its first OID outside it; an OID at or before the column's last one is a walk loop. Returns
    whether there was any varbind. Same decoding, same errors as ``read_varbinds`` +
    ``to_value``, whose values are only converted for rows kept.

    It is the collector's hottest loop (every interface value of every poll passes here), so
    it is written for the interpreter: few operations per varbind, checks folded together."""
    start = p
    cache = _ROWS
    limits = _INT_LIMIT
    lowest, highest = _INT32
    from_bytes = int.from_bytes
    # One pass of the for loop per repetition: column k's prefix and rows without indexing.
    columns = list(zip(range(len(prefixes)), prefixes, rows, strict=True))
    try:
        while p < ve:
            for k, prefix, out in columns:
                if p >= ve:
                    break
                # Short-form lengths read inline (nearly every varbind), the rest by the
                # reader. The value's length needs no test of its own: the sum ties it to
                # the varbind's.
                blen = buf[p + 1]
                oe = p + 4 + buf[p + 3]
                be = p + 2 + blen
                try:
                    fast = (
                        buf[p] == 0x30
                        and buf[p + 2] == 0x06
                        and blen < 0x80
                        and buf[p + 3] < 0x80
                        and be <= ve
                        and oe + 2 + buf[oe + 1] == be
                    )
                except IndexError:
                    fast = False
                if fast:
                    os_ = p + 4
                    vtag = buf[oe]
                    s = oe + 2
                else:
                    os_, oe, vtag, s, be = _slow_varbind(buf, p, ve)
                p = be
                if done[k]:
                    _check(buf, os_, oe, vtag, s, be)
                    continue
                if vtag == _EOMV:
                    done[k] = True
                    _check(buf, os_, oe, vtag, s, be)
                    continue
                entry = cache.get(buf[os_:oe])
                if entry is None or entry[1] is not prefix:
                    entry = _row(buf, os_, oe, prefix)
                key = entry[0]
                # Before the column test: an agent answering an OID at or before the one
                # asked for would otherwise look like an empty column.
                if key <= lasts[k]:
                    raise SnmpWalkLoop(
                        f"{name}: {'.'.join(map(str, key))} does not follow "
                        f"{'.'.join(map(str, lasts[k]))}"
                    )
                if entry[1] is not prefix:
                    done[k] = True  # its OID is decoded (``_row``): only the value to check
                    if not (vtag in _INT_TAGS and 0 < be - s <= 9):
                        _check_value(buf, vtag, s, be)
                    continue
                lasts[k] = key
                limit = limits.get(vtag)
                if limit is not None and 0 < be - s <= 9:
                    if limit:
                        v = from_bytes(buf[s:be], "big")
                        if v > limit:
                            to_value(vtag, v)  # raises, saying what is out of range
                    else:  # INTEGER
                        v = from_bytes(buf[s:be], "big", signed=True)
                        if not lowest <= v <= highest:
                            to_value(vtag, v)
                    out[entry[2]] = v
                else:
                    out[entry[2]] = to_value(vtag, _value(buf, vtag, s, be))
    except IndexError as exc:  # a length byte read past the end of a truncated answer
        raise MessageError("truncated varbind", p) from exc
    except MessageError:
        raise
    except ber.BerError as exc:
        raise MessageError(str(exc), exc.offset) from exc
    return p > start


def _check(buf: bytes, os_: int, oe: int, vtag: int, s: int, be: int) -> None:
    """A varbind not kept must still be well formed (OID and value)."""
    if buf[os_:oe] not in _OID_CACHE:
        _cached_oid(buf, os_, oe)
    if not (vtag in _INT_TAGS and 0 < be - s <= 9):
        _check_value(buf, vtag, s, be)


def _check_value(buf: bytes, vtag: int, s: int, be: int) -> None:
    if vtag != ber.OCTET_STRING:  # any bytes are a valid OCTET STRING (ifName, ifAlias...)
        decode_value(buf, vtag, s, be)


def _value(buf: bytes, vtag: int, s: int, e: int) -> int | bytes | OID | None:
    if vtag in _UNSIGNED_TAGS and 0 < e - s <= 9:
        return int.from_bytes(buf[s:e], "big")
    if vtag == ber.INTEGER and 0 < e - s <= 9:
        return int.from_bytes(buf[s:e], "big", signed=True)
    return decode_value(buf, vtag, s, e)


def _row(buf: bytes, os_: int, oe: int, prefix: OID) -> tuple[OID, OID, str]:
    """The cache entry of a row OID under ``prefix``; not stored if it is not in that column
    (then its second item is not ``prefix``)."""
    raw = buf[os_:oe]
    entry = _ROWS.get(raw)
    key = entry[0] if entry is not None else _cached_oid(buf, os_, oe)
    n = len(prefix)
    if key[:n] != prefix:
        return (key, (), "")
    entry = (key, prefix, ".".join(map(str, key[n:])))
    if len(_ROWS) >= OID_CACHE_MAX:
        _ROWS.clear()
    _ROWS[raw] = entry
    return entry


def _slow_varbind(buf: bytes, p: int, ve: int) -> tuple[int, int, int, int, int]:
    """The general reader: (OID start, OID end, value tag, value start, varbind end), or a
    BerError saying what is wrong."""
    bs, be = ber.expect(buf, p, ve, ber.SEQUENCE)
    os_, oe = ber.expect(buf, bs, be, ber.OBJECT_IDENTIFIER)
    vtag, s, e = ber.read_tlv(buf, oe, be)
    if e != be:
        raise MessageError("trailing bytes inside a varbind", e)
    return os_, oe, vtag, s, be
