"""message.py against pysnmp/pyasn1 (both directions) and under fuzzing."""

from __future__ import annotations

import random

import pytest
from pyasn1.codec.ber import decoder, encoder
from pysnmp.proto import api

from netmon.snmp import ber
from netmon.snmp import message as msg

P = api.PROTOCOL_MODULES[api.SNMP_VERSION_2C]
P1 = api.PROTOCOL_MODULES[api.SNMP_VERSION_1]
OIDS = [
    (1, 3, 6, 1, 2, 1, 1, 3, 0),
    (1, 3, 6, 1, 2, 1, 2, 2, 1, 10, 1_000_001),
    (1, 3, 6, 1, 4, 1, 2011, 5, 25, 31, 1, 1, 1, 1, 5, 16842753),
]


def _pysnmp_decode(data: bytes, mod: object = P) -> object:
    m, rest = decoder.decode(data, asn1Spec=mod.Message())  # type: ignore[attr-defined]
    assert rest == b""
    return m


def test_get_request_decodes_in_pysnmp() -> None:
    data = msg.encode_get(b"s3cret", 4242, OIDS)
    m = _pysnmp_decode(data)
    pdu = P.apiMessage.get_pdu(m)
    assert bytes(P.apiMessage.get_community(m)) == b"s3cret"
    assert int(P.apiPDU.get_request_id(pdu)) == 4242
    assert [tuple(o) for o, _ in P.apiPDU.get_varbinds(pdu)] == OIDS


def test_getbulk_request_decodes_in_pysnmp() -> None:
    data = msg.encode_getbulk(b"public", 7, OIDS[1:], max_repetitions=25, non_repeaters=1)
    pdu = P.apiMessage.get_pdu(_pysnmp_decode(data))
    assert int(P.apiBulkPDU.get_non_repeaters(pdu)) == 1
    assert int(P.apiBulkPDU.get_max_repetitions(pdu)) == 25
    assert [tuple(o) for o, _ in P.apiPDU.get_varbinds(pdu)] == OIDS[1:]


@pytest.mark.parametrize("tag", ["get", "getnext", "getbulk"])
def test_request_from_pysnmp_decodes(tag: str) -> None:
    pdu = {
        "get": P.GetRequestPDU,
        "getnext": P.GetNextRequestPDU,
        "getbulk": P.GetBulkRequestPDU,
    }[tag]()
    api_ = P.apiBulkPDU if tag == "getbulk" else P.apiPDU
    api_.set_defaults(pdu)
    P.apiPDU.set_request_id(pdu, 2**31 - 1)
    if tag == "getbulk":
        P.apiBulkPDU.set_max_repetitions(pdu, 50)
        P.apiBulkPDU.set_non_repeaters(pdu, 0)
    P.apiPDU.set_varbinds(pdu, [(o, P.Null("")) for o in OIDS])
    m = P.Message()
    P.apiMessage.set_defaults(m)
    P.apiMessage.set_community(m, "community")
    P.apiMessage.set_pdu(m, pdu)
    req = msg.decode_request(encoder.encode(m))
    assert req.version == msg.V2C
    assert req.community == b"community"
    assert req.pdu.request_id == 2**31 - 1
    assert req.pdu.tag == {"get": ber.GET, "getnext": ber.GETNEXT, "getbulk": ber.GETBULK}[tag]
    assert [ber.decode_oid(b, 0, len(b)) for b in req.pdu.oids] == OIDS
    if tag == "getbulk":
        assert req.pdu.max_repetitions == 50


def test_response_from_pysnmp_decodes_to_triples() -> None:
    pdu = P.ResponsePDU()
    P.apiPDU.set_defaults(pdu)
    P.apiPDU.set_request_id(pdu, 99)
    values = [
        P.TimeTicks(123456),
        P.Counter32(2**32 - 1),
        P.Counter64(2**64 - 1),
        P.OctetString(b"GigabitEthernet0/0/1"),
        P.Integer(-5),
        P.ObjectIdentifier((1, 3, 6, 1, 4, 1, 9, 1, 1861)),
        P.Gauge32(1000),
        P.IpAddress("127.0.0.1"),
    ]
    oids = [(1, 3, 6, 1, 2, 1, 99, i, 200 + i) for i in range(len(values))]
    P.apiPDU.set_varbinds(pdu, list(zip(oids, values, strict=True)))
    m = P.Message()
    P.apiMessage.set_defaults(m)
    P.apiMessage.set_community(m, "c")
    P.apiMessage.set_pdu(m, pdu)
    r = msg.decode_response(encoder.encode(m))
    assert r.tag == ber.RESPONSE and r.request_id == 99 and r.community == b"c"
    got = [(o, t, v) for o, t, v in r.varbinds]
    assert got == [
        (oids[0], ber.TIMETICKS, 123456),
        (oids[1], ber.COUNTER32, 2**32 - 1),
        (oids[2], ber.COUNTER64, 2**64 - 1),
        (oids[3], ber.OCTET_STRING, b"GigabitEthernet0/0/1"),
        (oids[4], ber.INTEGER, -5),
        (oids[5], ber.OBJECT_IDENTIFIER, (1, 3, 6, 1, 4, 1, 9, 1, 1861)),
        (oids[6], ber.GAUGE32, 1000),
        (oids[7], ber.IPADDRESS, b"\x7f\x00\x00\x01"),
    ]


def test_assembled_response_decodes_in_pysnmp() -> None:
    """An agent-side response (pre-encoded varbinds, echoed request-id) is what pysnmp reads."""
    req = msg.decode_request(msg.encode_getnext(b"pub", 123456789, OIDS[:1]))
    vbs = msg.varbind(ber.encode_oid(OIDS[1]), ber.encode_unsigned(2**63, ber.COUNTER64))
    vbs += msg.varbind(ber.encode_oid(OIDS[2]), b"\x82\x00")
    pdu = msg.encode_pdu(ber.RESPONSE, req.pdu.request_id_tlv, 0, 0, vbs)
    data = msg.wrap_message(msg.message_prefix(msg.V2C, b"pub"), pdu)
    m = _pysnmp_decode(data)
    p = P.apiMessage.get_pdu(m)
    assert int(P.apiPDU.get_request_id(p)) == 123456789
    (o1, v1), (o2, v2) = P.apiPDU.get_varbinds(p)
    assert tuple(o1) == OIDS[1] and int(v1) == 2**63
    assert tuple(o2) == OIDS[2] and isinstance(v2, P.EndOfMibView)


def test_big_response_lengths_and_overhead() -> None:
    vbs = b"".join(
        msg.varbind(
            ber.encode_oid((1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 1, i)), ber.encode_octets(b"x" * 40)
        )
        for i in range(100)
    )
    rid = ber.encode_int(5)
    data = msg.wrap_message(
        msg.message_prefix(1, b"public"), msg.encode_pdu(ber.RESPONSE, rid, 0, 0, vbs)
    )
    assert len(data) == len(vbs) + msg.response_overhead(
        len(msg.message_prefix(1, b"public")), len(rid), len(vbs)
    )
    r = msg.decode_response(data)
    assert len(r.varbinds) == 100 and r.varbinds[99][2] == b"x" * 40
    assert len(P.apiPDU.get_varbinds(P.apiMessage.get_pdu(_pysnmp_decode(data)))) == 100


def test_error_fields_and_v1() -> None:
    data = msg.encode_message(
        msg.V1, b"pub", ber.RESPONSE, 3, msg.NO_SUCH_NAME, 2, msg.null_varbinds(OIDS)
    )
    m = _pysnmp_decode(data, P1)
    p = P1.apiMessage.get_pdu(m)
    assert int(P1.apiPDU.get_error_status(p)) == 2 and int(P1.apiPDU.get_error_index(p)) == 2
    r = msg.decode_response(data)
    assert (r.version, r.error_status, r.error_index) == (0, 2, 2)


def test_decode_pdu_alone() -> None:
    data = msg.encode_get(b"pub", 77, OIDS)
    # The PDU starts after the version and community TLVs.
    _, start, _ = ber.read_tlv(data, 0, len(data))
    _, _, p = ber.read_tlv(data, start, len(data))
    _, _, p = ber.read_tlv(data, p, len(data))
    pdu = msg.decode_pdu(data[p:])
    assert pdu.tag == ber.GET and pdu.request_id == 77 and len(pdu.oids) == 3


@pytest.mark.parametrize(
    "bad",
    [
        b"",
        b"\x30",
        b"\x30\x00",
        b"\x30\x03\x02\x01\x05",  # version 5
        b"\x30\x05\x02\x01\x01\x04\x00",  # no PDU
        bytes.fromhex("300d020101040170a106020101020100"),  # truncated
    ],
)
def test_malformed_requests_raise_message_error(bad: bytes) -> None:
    with pytest.raises(msg.MessageError):
        msg.decode_request(bad)


def test_fuzz_only_message_error_escapes() -> None:
    rng = random.Random(20261124)
    seeds = [
        msg.encode_get(b"public", 1, OIDS),
        msg.encode_getbulk(b"public", 2**31 - 1, OIDS, 25),
        msg.encode_message(
            1,
            b"x",
            ber.RESPONSE,
            5,
            0,
            0,
            msg.varbind(ber.encode_oid(OIDS[1]), ber.encode_unsigned(2**64 - 1, ber.COUNTER64)),
        ),
    ]
    decoded = 0
    for n in range(6000):
        data = bytearray(rng.choice(seeds))
        if n % 3 == 0:
            data = data[: rng.randrange(len(data))]
        else:
            for _ in range(rng.randint(1, 4)):
                data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        for fn in (msg.decode_request, msg.decode_response):
            try:
                fn(bytes(data))
                decoded += 1
            except msg.MessageError:
                pass
    assert decoded > 0  # some flips land in values and still decode
