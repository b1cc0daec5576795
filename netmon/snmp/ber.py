"""BER primitives for SNMP (X.690 subset): lengths, TLVs, INTEGER, OCTET STRING, OID.

Purpose-built rather than generic ASN.1 objects: pyasn1 decoding is 65-72 % of pysnmp's CPU
cost here, while these functions work on bytes and ints only. Decoders raise BerError (never
IndexError or ValueError) on anything malformed, so a hostile packet is one clean exception.
"""

from __future__ import annotations

from netmon.errors import SnmpError

OID = tuple[int, ...]

# Universal and SNMP application tags.
INTEGER = 0x02
OCTET_STRING = 0x04
NULL = 0x05
OBJECT_IDENTIFIER = 0x06
SEQUENCE = 0x30
IPADDRESS = 0x40
COUNTER32 = 0x41
GAUGE32 = 0x42
TIMETICKS = 0x43
OPAQUE = 0x44
COUNTER64 = 0x46
# Varbind exceptions (RFC 3416).
NO_SUCH_OBJECT = 0x80
NO_SUCH_INSTANCE = 0x81
END_OF_MIB_VIEW = 0x82
# PDU tags.
GET = 0xA0
GETNEXT = 0xA1
RESPONSE = 0xA2
SET = 0xA3
GETBULK = 0xA5
INFORM = 0xA6
TRAPV2 = 0xA7
REPORT = 0xA8

MAX_OID_LEN = 128  # RFC 2578: at most 128 sub-identifiers
_MAX_SUBID = 0xFFFFFFFF


class BerError(SnmpError):
    """A malformed BER encoding; carries the byte offset where decoding failed."""

    def __init__(self, message: str, offset: int) -> None:
        self.offset = offset
        super().__init__(f"{message} at byte {offset}")


# --- encoding ----------------------------------------------------------------------------------


def encode_length(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(body),)) + body


def tlv(tag: int, payload: bytes) -> bytes:
    return bytes((tag,)) + encode_length(len(payload)) + payload


def encode_int(value: int, tag: int = INTEGER) -> bytes:
    """Two's-complement INTEGER; use with an application tag for Counter32/Gauge32/TimeTicks."""
    length = (value + (value < 0)).bit_length() // 8 + 1
    return tlv(tag, value.to_bytes(length, "big", signed=True))


def encode_unsigned(value: int, tag: int) -> bytes:
    """Counter32/Gauge32/TimeTicks/Counter64: unsigned, so a leading zero byte when the top bit
    is set (a Counter64 >= 2**63 is 9 bytes on the wire)."""
    return tlv(tag, value.to_bytes(value.bit_length() // 8 + 1, "big"))


def encode_octets(value: bytes, tag: int = OCTET_STRING) -> bytes:
    return tlv(tag, value)


def encode_oid_body(oid: OID) -> bytes:
    if len(oid) < 2 or oid[0] > 2 or (oid[0] < 2 and oid[1] >= 40):
        raise ValueError(f"invalid OID {oid!r}")
    out = bytearray()
    for i, sub in enumerate((oid[0] * 40 + oid[1], *oid[2:])):
        if sub < 0 or (i > 0 and sub > _MAX_SUBID):
            raise ValueError(f"invalid OID sub-identifier {sub} in {oid!r}")
        if sub < 0x80:
            out.append(sub)
            continue
        chunk = [sub & 0x7F]
        sub >>= 7
        while sub:
            chunk.append(0x80 | (sub & 0x7F))
            sub >>= 7
        out.extend(reversed(chunk))
    return bytes(out)


def encode_oid(oid: OID) -> bytes:
    return tlv(OBJECT_IDENTIFIER, encode_oid_body(oid))


# --- decoding ----------------------------------------------------------------------------------


def read_tlv(buf: bytes | memoryview, pos: int, end: int) -> tuple[int, int, int]:
    """Read the TLV header at ``pos``; return ``(tag, content_start, content_end)``.

    Only definite lengths (SNMP forbids the indefinite form); the content must fit in ``end``.
    """
    if pos + 2 > end:
        raise BerError("truncated TLV header", pos)
    tag = buf[pos]
    if tag & 0x1F == 0x1F:
        raise BerError("multi-byte tags are not used by SNMP", pos)
    first = buf[pos + 1]
    start = pos + 2
    if first < 0x80:
        length = first
    else:
        n = first & 0x7F
        if n == 0 or n > 4:
            raise BerError("unsupported length encoding", pos + 1)
        if start + n > end:
            raise BerError("truncated length", pos + 1)
        length = int.from_bytes(buf[start : start + n], "big")
        start += n
    stop = start + length
    if stop > end:
        raise BerError(f"length {length} runs past the end of its container", pos)
    return tag, start, stop


def quick_tlv(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    """``read_tlv``'s (content_start, content_end) when the length is short or takes one or two
    bytes and fits in ``end``, else (0, -1): for inline fast paths over well-formed messages,
    which leave the rest (and the tag's check) to ``read_tlv``. IndexError past the buffer."""
    n = buf[pos + 1]
    if n < 0x80:
        start = pos + 2
    elif n == 0x81:
        start, n = pos + 3, buf[pos + 2]
    elif n == 0x82:
        start, n = pos + 4, (buf[pos + 2] << 8) | buf[pos + 3]
    else:
        return 0, -1
    return (start, start + n) if start + n <= end else (0, -1)


def expect(buf: bytes | memoryview, pos: int, end: int, tag: int) -> tuple[int, int]:
    """Read a TLV that must carry ``tag``; return its ``(content_start, content_end)``."""
    got, start, stop = read_tlv(buf, pos, end)
    if got != tag:
        raise BerError(f"expected tag 0x{tag:02x}, got 0x{got:02x}", pos)
    return start, stop


def decode_int(buf: bytes | memoryview, start: int, stop: int) -> int:
    if start == stop:
        raise BerError("empty INTEGER", start)
    if stop - start > 9:
        raise BerError("INTEGER too long", start)
    return int.from_bytes(buf[start:stop], "big", signed=True)


def decode_unsigned(buf: bytes | memoryview, start: int, stop: int) -> int:
    if start == stop:
        raise BerError("empty unsigned integer", start)
    if stop - start > 9:
        raise BerError("unsigned integer too long", start)
    return int.from_bytes(buf[start:stop], "big")


def decode_oid(buf: bytes | memoryview, start: int, stop: int) -> OID:
    if start == stop:
        raise BerError("empty OID", start)
    subs: list[int] = []
    value = 0
    fresh = True
    for i in range(start, stop):
        byte = buf[i]
        if fresh and byte == 0x80:
            raise BerError("OID sub-identifier with a leading 0x80", i)
        value = (value << 7) | (byte & 0x7F)
        if byte & 0x80:
            fresh = False
            continue
        if not subs:
            first = min(value // 40, 2)
            subs.extend((first, value - 40 * first))
        else:
            if value > _MAX_SUBID:
                raise BerError("OID sub-identifier above 2**32-1", i)
            subs.append(value)
        value = 0
        fresh = True
    if not fresh:
        raise BerError("OID ends inside a sub-identifier", stop)
    if len(subs) > MAX_OID_LEN:
        raise BerError("OID longer than 128 sub-identifiers", start)
    return tuple(subs)
