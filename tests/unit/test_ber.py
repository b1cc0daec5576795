"""BER primitives agree with pyasn1 (pysnmp's codec) and reject malformed input cleanly."""

from __future__ import annotations

import random

import pytest
from pyasn1.codec.ber import decoder, encoder
from pysnmp.proto import rfc1902

from netmon.snmp import ber

OIDS = [
    (1, 3, 6, 1, 2, 1, 2, 2, 1, 10, 1000001),
    (1, 3, 6, 1, 4, 1, 9, 9, 109, 1, 1, 1, 1, 8, 1),
    (1, 3, 6, 1, 4, 1, 2011, 5, 25, 31, 1, 1, 1, 1, 5, 16842753),
    (2, 999, 3),
    (0, 0),
    (1, 3, 4294967295),
]


@pytest.mark.parametrize("oid", OIDS)
def test_oid_round_trip_matches_pyasn1(oid: tuple[int, ...]) -> None:
    wire = ber.encode_oid(oid)
    assert wire == encoder.encode(rfc1902.ObjectName(oid))
    start, stop = ber.expect(wire, 0, len(wire), ber.OBJECT_IDENTIFIER)
    assert ber.decode_oid(wire, start, stop) == oid


@pytest.mark.parametrize("value", [0, 1, 127, 128, 255, 256, -1, -128, -129, 2**31 - 1, -(2**31)])
def test_integer_decodes_in_pyasn1(value: int) -> None:
    wire = ber.encode_int(value)
    assert int(decoder.decode(wire, asn1Spec=rfc1902.Integer32())[0]) == value
    start, stop = ber.expect(wire, 0, len(wire), ber.INTEGER)
    assert ber.decode_int(wire, start, stop) == value


@pytest.mark.parametrize(
    ("value", "tag", "kind"),
    [
        (0, ber.COUNTER32, rfc1902.Counter32),
        (2**31, ber.COUNTER32, rfc1902.Counter32),
        (2**32 - 1, ber.GAUGE32, rfc1902.Gauge32),
        (2**63, ber.COUNTER64, rfc1902.Counter64),
        (2**64 - 1, ber.COUNTER64, rfc1902.Counter64),
    ],
)
def test_unsigned_matches_pyasn1(value: int, tag: int, kind: type) -> None:
    wire = ber.encode_unsigned(value, tag)
    assert wire == encoder.encode(kind(value))
    start, stop = ber.expect(wire, 0, len(wire), tag)
    assert ber.decode_unsigned(wire, start, stop) == value


def test_long_lengths() -> None:
    payload = b"x" * 70000
    wire = ber.encode_octets(payload)
    tag, start, stop = ber.read_tlv(wire, 0, len(wire))
    assert (tag, stop - start) == (ber.OCTET_STRING, 70000)


@pytest.mark.parametrize(
    "wire",
    [
        b"",
        b"\x06",
        b"\x06\x05\x2b\x06",  # length past the end
        b"\x06\x02\x2b\x80",  # ends inside a sub-identifier
        b"\x06\x03\x2b\x80\x01",  # leading 0x80
        b"\x04\x80",  # indefinite length
        b"\x04\x85\x01\x00\x00\x00\x00",  # 5 length bytes
        b"\x1f\x01\x00",  # multi-byte tag
    ],
)
def test_malformed_raises_ber_error(wire: bytes) -> None:
    with pytest.raises(ber.BerError):
        _tag, start, stop = ber.read_tlv(wire, 0, len(wire))
        ber.decode_oid(wire, start, stop)


def test_fuzzed_oids_raise_only_ber_error() -> None:
    rng = random.Random(7)
    good = ber.encode_oid(OIDS[2])
    for _ in range(5000):
        wire = bytearray(good)
        for _ in range(rng.randint(1, 3)):
            wire[rng.randrange(len(wire))] = rng.randrange(256)
        wire = wire[: rng.randint(0, len(wire))]
        try:
            _tag, start, stop = ber.read_tlv(bytes(wire), 0, len(wire))
            ber.decode_oid(bytes(wire), start, stop)
        except ber.BerError:
            pass
