"""USM agent: RFC 3414 key vectors, keys cross-checked with pysnmp, pysnmp 7 as the manager over
loopback UDP, every USM report, reboot re-sync, and fuzzing (only UsmDrop may escape)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import random
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from pyasn1.type import univ
from pysnmp.hlapi.v3arch.asyncio import (
    ContextData,
    ObjectIdentity,
    ObjectType,
    SnmpEngine,
    UdpTransportTarget,
    UsmUserData,
    bulk_cmd,
    get_cmd,
    usmAesBlumenthalCfb256Protocol,
    usmAesCfb128Protocol,
    usmAesCfb256Protocol,
    usmHMAC192SHA256AuthProtocol,
    usmHMAC384SHA512AuthProtocol,
    usmHMACSHAAuthProtocol,
)
from pysnmp.proto.secmod.eso.priv import aes256
from pysnmp.proto.secmod.rfc3414 import localkey
from pysnmp.proto.secmod.rfc3414.auth import hmacsha
from pysnmp.proto.secmod.rfc7860.auth import hmacsha2
from support.procs import free_udp_port
from support.usm_responder import VALUE, AsyncResponder, response_pdu

from netmon.snmp import ber
from netmon.snmp.usm import (
    USM_STATS_OIDS,
    SecurityLevel,
    UsmAgent,
    UsmDrop,
    UsmTooBig,
    UsmUser,
    V3Request,
)
from netmon.snmp.usm_crypto import (
    AUTH_PROTOCOLS,
    PRIV_PROTOCOLS,
    localize,
    password_to_key,
    priv_key,
)
from netmon.snmp.usm_manager import UsmManager, UsmNotDiscovered, V3Report, V3Response

ENGINE = bytes.fromhex("80001f8880a1b2c3d4e5f60708")
SYSNAME = (1, 3, 6, 1, 2, 1, 1, 5, 0)
PYSNMP_AUTH = {
    "SHA": usmHMACSHAAuthProtocol,
    "SHA-256": usmHMAC192SHA256AuthProtocol,
    "SHA-512": usmHMAC384SHA512AuthProtocol,
}
# pysnmp's names: usmAesCfb256Protocol is the Reeder ("Cisco") key extension.
PYSNMP_PRIV = {
    "AES-128": usmAesCfb128Protocol,
    "AES-256": usmAesBlumenthalCfb256Protocol,
    "AES-256-C": usmAesCfb256Protocol,
}
COMBOS = [(a, p) for a in AUTH_PROTOCOLS for p in PRIV_PROTOCOLS]


def user(auth: str = "SHA", priv: str = "AES-128", name: str | None = None) -> UsmUser:
    return UsmUser(
        (name or f"u-{auth}-{priv}").encode(), auth, b"auth-secret-1", priv, b"priv-secret-1"
    )


# --- key derivation --------------------------------------------------------------------------


def test_rfc3414_a3_sha_vector() -> None:
    ku = password_to_key("sha1", b"maplesyrup")
    assert ku.hex() == "9fb5cc0381497b3793528939ff788d5d79145211"
    kul = localize("sha1", ku, bytes.fromhex("000000000000000000000002"))
    assert kul.hex() == "6695febc9288e36282235fc7151f128497b38f3f"


def test_password_to_key_is_the_rfc_algorithm_and_cached() -> None:
    # RFC 3414 A.2.2 literally: 64-byte chunks of the cyclically repeated password.
    pw = b"maplesyrup"
    h = hashlib.sha256()
    for i in range(0, 1_048_576, 64):
        h.update(bytes(pw[(i + j) % len(pw)] for j in range(64)))
    assert password_to_key("sha256", pw) == h.digest()
    before = password_to_key.cache_info().hits
    password_to_key("sha256", pw)
    assert password_to_key.cache_info().hits == before + 1


@pytest.mark.parametrize(("auth", "priv"), COMBOS)
def test_localized_keys_match_pysnmp(auth: str, priv: str) -> None:
    proto = AUTH_PROTOCOLS[auth]
    pysnmp_auth_id = {
        "SHA": hmacsha.HmacSha.SERVICE_ID,
        "SHA-256": hmacsha2.HmacSha2.SHA256_SERVICE_ID,
        "SHA-512": hmacsha2.HmacSha2.SHA512_SERVICE_ID,
    }[auth]
    hash_fn = getattr(hashlib, proto.hash_name)
    keys = user(auth, priv).localize(ENGINE)
    engine = univ.OctetString(ENGINE)
    expected_auth = localkey.password_to_key(b"auth-secret-1", engine, hash_fn)
    assert keys.auth_key == bytes(expected_auth)
    ku_priv = localkey.hash_passphrase(b"priv-secret-1", hash_fn)
    if priv == "AES-128":
        expected_priv = bytes(localkey.localize_key(ku_priv, engine, hash_fn))[:16]
    else:
        cls = aes256.AesBlumenthal256 if priv == "AES-256" else aes256.Aes256
        expected_priv = bytes(cls().localize_key(pysnmp_auth_id, ku_priv, engine))
    assert keys.priv_key == expected_priv
    mac = hmac.new(bytes(expected_auth), b"msg", hash_fn).digest()[: proto.mac_len]
    assert keys.mac(b"msg") == mac and len(mac) == {"SHA": 12, "SHA-256": 24, "SHA-512": 48}[auth]


def test_aes256_key_extensions_differ_only_for_sha1() -> None:
    sha1 = AUTH_PROTOCOLS["SHA"]
    blum = priv_key(sha1, PRIV_PROTOCOLS["AES-256"], b"priv-secret-1", ENGINE)
    reeder = priv_key(sha1, PRIV_PROTOCOLS["AES-256-C"], b"priv-secret-1", ENGINE)
    assert blum[:20] == reeder[:20] and blum != reeder
    sha256 = AUTH_PROTOCOLS["SHA-256"]
    assert priv_key(sha256, PRIV_PROTOCOLS["AES-256"], b"priv-secret-1", ENGINE) == priv_key(
        sha256, PRIV_PROTOCOLS["AES-256-C"], b"priv-secret-1", ENGINE
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        {"auth": "MD5"},
        {"priv": "DES"},
        {"auth_password": b"short"},
        {"priv_password": b"1234567"},
        {"name": b""},
        {"name": b"x" * 33},
    ],
)
def test_user_validates_itself(kwargs: dict[str, Any]) -> None:
    base: dict[str, Any] = {
        "name": b"ops",
        "auth": "SHA",
        "auth_password": b"12345678",
        "priv": "AES-128",
        "priv_password": b"12345678",
    }
    with pytest.raises(ValueError):
        UsmUser(**{**base, **kwargs})


def test_agent_rejects_bad_configuration() -> None:
    with pytest.raises(ValueError):
        UsmAgent(b"abc", [user()])
    with pytest.raises(ValueError):
        UsmAgent(ENGINE, [user(), user()])


# --- hand-made messages (a "forge" engine with the same keys encodes requests) --------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def get_pdu(request_id: int = 77) -> bytes:
    vb = ber.tlv(ber.SEQUENCE, ber.encode_oid(SYSNAME) + b"\x05\x00")
    return ber.tlv(
        ber.GET, ber.encode_int(request_id) + b"\x02\x01\x00\x02\x01\x00" + ber.tlv(0x30, vb)
    )


def forge_request(
    agent: UsmAgent,
    level: SecurityLevel = SecurityLevel.AUTH_PRIV,
    name: bytes = b"u-SHA-AES-128",
    boots: int | None = None,
    etime: int | None = None,
    engine_id: bytes | None = None,
    users: list[UsmUser] | None = None,
    pdu: bytes | None = None,
) -> bytes:
    """A manager's request encoded with the same code paths, at chosen boots/time."""
    clock = Clock()
    clock.now = float(agent.engine_time if etime is None else etime)
    forge = UsmAgent(
        engine_id or agent.engine_id,
        users or [user()],
        engine_boots=agent.engine_boots if boots is None else boots,
        clock=clock,
    )
    clock.now *= 2  # engine_time = now - start
    keys = forge._users.get(name)
    return forge._encode(
        4242,
        level,
        name,
        keys,
        agent.engine_id,
        b"",
        get_pdu() if pdu is None else pdu,
        reportable=True,
    )


def decode_report(agent: UsmAgent, msg: bytes) -> tuple[int, bytes, int, int, ber.OID, int, int]:
    """(flags, engine id, boots, time, varbind OID, counter value, request-id) of a Report."""
    from netmon.snmp.usm import parse_header

    head = parse_header(msg)
    assert head.data_tag == ber.SEQUENCE  # reports here are never encrypted
    s, e = ber.expect(msg, head.data_pos, len(msg), ber.SEQUENCE)
    a, p = ber.expect(msg, s, e, ber.OCTET_STRING)
    assert msg[a:p] == agent.engine_id  # contextEngineID
    _, p = ber.expect(msg, p, e, ber.OCTET_STRING)
    ps, pe = ber.expect(msg, p, e, ber.REPORT)
    a, p = ber.expect(msg, ps, pe, ber.INTEGER)
    rid = ber.decode_int(msg, a, p)
    _, p = ber.expect(msg, p, pe, ber.INTEGER)
    _, p = ber.expect(msg, p, pe, ber.INTEGER)
    vs, _ = ber.expect(msg, p, pe, ber.SEQUENCE)
    bs, be = ber.expect(msg, vs, pe, ber.SEQUENCE)
    a, p = ber.expect(msg, bs, be, ber.OBJECT_IDENTIFIER)
    oid = ber.decode_oid(msg, a, p)
    a, p = ber.expect(msg, p, be, ber.COUNTER32)
    value = ber.decode_unsigned(msg, a, p)
    return head.flags, head.engine_id, head.boots, head.time, oid, value, rid


def discovery_message(request_id: int = 99) -> bytes:
    scoped = ber.tlv(0x30, b"\x04\x00\x04\x00" + get_pdu(request_id))
    sec = ber.tlv(0x30, b"\x04\x00\x02\x01\x00\x02\x01\x00\x04\x00\x04\x00\x04\x00")
    header = ber.tlv(0x30, b"\x02\x02\x12\x34\x02\x03\x00\xff\xe3\x04\x01\x04\x02\x01\x03")
    return ber.tlv(0x30, b"\x02\x01\x03" + header + ber.tlv(0x04, sec) + scoped)


def test_discovery_report_carries_engine_id_boots_and_time() -> None:
    clock = Clock()
    agent = UsmAgent(ENGINE, [user()], engine_boots=7, clock=clock)
    clock.now += 321.7
    out = agent.receive(discovery_message())
    assert isinstance(out, bytes)
    flags, engine, boots, etime, oid, value, rid = decode_report(agent, out)
    assert (flags, engine, boots, etime) == (0, ENGINE, 7, 321)
    assert (oid, value, rid) == (USM_STATS_OIDS["usmStatsUnknownEngineIDs"], 1, 99)
    agent.receive(discovery_message())
    assert agent.stats["usmStatsUnknownEngineIDs"] == 2
    assert agent.usm_stats_values()[(1, 3, 6, 1, 6, 3, 15, 1, 1, 4, 0)] == 2


def test_authpriv_request_round_trip_and_response_encryption() -> None:
    agent = UsmAgent(ENGINE, [user()], clock=Clock())
    req = agent.receive(forge_request(agent))
    assert isinstance(req, V3Request)
    assert (req.msg_id, req.user, req.security_level) == (4242, b"u-SHA-AES-128", 3)
    assert (req.context_engine_id, req.context_name, req.pdu) == (ENGINE, b"", get_pdu())
    out = agent.respond(req, response_pdu(req.pdu))
    assert VALUE not in out  # encrypted
    with pytest.raises(ValueError):
        agent.respond(req, get_pdu())
    assert agent.overhead(req) + len(response_pdu(req.pdu)) >= len(out)


def test_authnopriv_is_accepted_noauth_is_unsupported() -> None:
    agent = UsmAgent(ENGINE, [user()], clock=Clock())
    req = agent.receive(forge_request(agent, SecurityLevel.AUTH_NO_PRIV))
    assert isinstance(req, V3Request) and req.security_level == SecurityLevel.AUTH_NO_PRIV
    out = agent.respond(req, response_pdu(req.pdu))
    assert VALUE in out  # authenticated only, not encrypted
    rep = agent.receive(forge_request(agent, SecurityLevel.NO_AUTH_NO_PRIV))
    assert isinstance(rep, bytes)
    _, _, _, _, oid, value, rid = decode_report(agent, rep)
    assert (oid, value, rid) == (USM_STATS_OIDS["usmStatsUnsupportedSecLevels"], 1, 77)


def test_unknown_user_wrong_digest_and_decryption_error_reports() -> None:
    agent = UsmAgent(ENGINE, [user()], clock=Clock())
    stranger = UsmUser(b"eve", "SHA", b"auth-secret-1", "AES-128", b"priv-secret-1")
    rep = agent.receive(forge_request(agent, name=b"eve", users=[stranger]))
    assert isinstance(rep, bytes)
    assert decode_report(agent, rep)[4] == USM_STATS_OIDS["usmStatsUnknownUserNames"]
    wrong_auth = UsmUser(b"u-SHA-AES-128", "SHA", b"not-the-pass", "AES-128", b"priv-secret-1")
    rep = agent.receive(forge_request(agent, users=[wrong_auth]))
    assert isinstance(rep, bytes)
    assert decode_report(agent, rep)[4] == USM_STATS_OIDS["usmStatsWrongDigests"]
    wrong_priv = UsmUser(b"u-SHA-AES-128", "SHA", b"auth-secret-1", "AES-128", b"not-the-pass")
    rep = agent.receive(forge_request(agent, users=[wrong_priv]))
    assert isinstance(rep, bytes)
    assert decode_report(agent, rep)[4] == USM_STATS_OIDS["usmStatsDecryptionErrors"]
    counts = {k: v for k, v in agent.stats.items() if v}
    assert counts == {
        "usmStatsUnknownUserNames": 1,
        "usmStatsWrongDigests": 1,
        "usmStatsDecryptionErrors": 1,
    }


def test_time_window_and_reboot() -> None:
    clock = Clock()
    agent = UsmAgent(ENGINE, [user()], engine_boots=3, clock=clock)
    clock.now += 1000
    assert isinstance(agent.receive(forge_request(agent, etime=1000 + 150)), V3Request)
    assert isinstance(agent.receive(forge_request(agent, etime=1000 - 150)), V3Request)
    rep = agent.receive(forge_request(agent, etime=1000 + 151))
    assert isinstance(rep, bytes)
    flags, _, boots, etime, oid, _, _ = decode_report(agent, rep)
    # notInTimeWindow is reported authenticated so the manager can trust the new time.
    assert (flags, boots, etime) == (1, 3, 1000)
    assert oid == USM_STATS_OIDS["usmStatsNotInTimeWindows"]
    agent.reboot()
    assert (agent.engine_boots, agent.engine_time) == (4, 0)
    rep = agent.receive(forge_request(agent, boots=3, etime=1000))
    assert isinstance(rep, bytes)
    assert decode_report(agent, rep)[2:4] == (4, 0)
    assert isinstance(agent.receive(forge_request(agent)), V3Request)  # re-synced
    assert agent.stats["usmStatsNotInTimeWindows"] == 2


def test_drops_are_counted_by_reason() -> None:
    agent = UsmAgent(ENGINE, [user()], clock=Clock())
    msg = discovery_message()
    cases = {
        "not_v3": msg.replace(b"\x02\x01\x03", b"\x02\x01\x01", 1),
        "unknown_security_model": msg.replace(
            b"\x04\x01\x04\x02\x01\x03", b"\x04\x01\x04\x02\x01\x02"
        ),
        "invalid_msg": msg.replace(b"\x04\x01\x04\x02\x01\x03", b"\x04\x01\x06\x02\x01\x03"),
        "parse_error": msg[:-1],
        "unreportable_usmStatsUnknownEngineIDs": msg.replace(
            b"\x04\x01\x04\x02\x01\x03", b"\x04\x01\x00\x02\x01\x03"
        ),
    }
    for reason, bad in cases.items():
        with pytest.raises(UsmDrop) as info:
            agent.receive(bad)
        assert info.value.reason == reason
        assert agent.stats["drop_" + reason] == 1
    small = msg.replace(b"\x02\x03\x00\xff\xe3", b"\x02\x03\x00\x01\xe3")  # msgMaxSize 483
    with pytest.raises(UsmDrop):
        agent.receive(small)
    response = forge_request(agent, pdu=response_pdu(get_pdu()))
    with pytest.raises(UsmDrop, match="unexpected_pdu"):
        agent.receive(response)


def test_response_larger_than_msg_max_size_raises_too_big() -> None:
    agent = UsmAgent(ENGINE, [user()], clock=Clock())
    req = agent.receive(forge_request(agent))
    assert isinstance(req, V3Request)
    small = V3Request(484, 484, req.user, req.security_level, ENGINE, b"", req.pdu, req.keys)
    big = ber.tlv(ber.RESPONSE, b"\x02\x01\x01\x02\x01\x00\x02\x01\x00" + ber.tlv(0x30, b"x" * 500))
    with pytest.raises(UsmTooBig):
        agent.respond(small, big)


def test_notify_is_an_authpriv_trap_from_this_engine() -> None:
    agent = UsmAgent(ENGINE, [user()], clock=Clock())
    trap = ber.tlv(ber.TRAPV2, b"\x02\x01\x01\x02\x01\x00\x02\x01\x00\x30\x00")
    from netmon.snmp.usm import parse_header

    head = parse_header(agent.notify(trap, b"u-SHA-AES-128"))
    assert (head.flags, head.engine_id, head.user) == (3, ENGINE, b"u-SHA-AES-128")
    with pytest.raises(ValueError):
        agent.notify(trap, b"nobody")


def test_fuzzed_messages_only_ever_raise_usm_drop() -> None:
    rng = random.Random(20261124)
    agent = UsmAgent(ENGINE, [user(), user("SHA-512", "AES-256")], clock=Clock())
    seeds = [
        discovery_message(),
        forge_request(agent),
        forge_request(agent, SecurityLevel.AUTH_NO_PRIV),
        forge_request(agent, name=b"u-SHA-512-AES-256", users=[user("SHA-512", "AES-256")]),
    ]
    outcomes = {"request": 0, "report": 0, "drop": 0}
    for i in range(5000):
        msg = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 3)):
            op = rng.randrange(5)
            pos = rng.randrange(len(msg)) if msg else 0
            if op == 0 and msg:
                msg[pos] ^= 1 << rng.randrange(8)
            elif op == 1 and msg:
                msg[pos] = rng.choice((0x00, 0x7F, 0x80, 0x81, 0x84, 0xFF, rng.randrange(256)))
            elif op == 2:
                del msg[rng.randrange(len(msg) + 1) :]
            elif op == 3:
                msg[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 4)))
            else:
                del msg[pos : pos + rng.randint(1, 8)]
        try:
            got = agent.receive(bytes(msg))
        except UsmDrop:
            outcomes["drop"] += 1
            continue
        if isinstance(got, V3Request):
            outcomes["request"] += 1
            agent.respond(got, response_pdu(get_pdu()))
        else:
            outcomes["report"] += 1
            decode_report(agent, got)
        if i % 500 == 0:
            agent.reboot()
    assert outcomes["drop"] > 2500 and outcomes["report"] > 100
    # Past the HMAC: correctly signed (and encrypted) messages around mangled PDUs.
    for _ in range(1000):
        pdu = bytearray(get_pdu(rng.randrange(2**31)))
        for _ in range(rng.randint(1, 3)):
            pos = rng.randrange(len(pdu))
            pdu[pos] = rng.randrange(256) if rng.random() < 0.7 else pdu[pos] ^ 0x80
        if rng.random() < 0.3:
            del pdu[rng.randrange(len(pdu)) :]
        level = rng.choice((SecurityLevel.AUTH_PRIV, SecurityLevel.AUTH_NO_PRIV))
        try:
            got = agent.receive(forge_request(agent, level, pdu=bytes(pdu)))
        except UsmDrop:
            outcomes["drop"] += 1
            continue
        if isinstance(got, V3Request):
            assert got.pdu == bytes(pdu)
            outcomes["request"] += 1
        else:
            outcomes["report"] += 1
            assert decode_report(agent, got)[4] == USM_STATS_OIDS["usmStatsDecryptionErrors"]
    assert outcomes["request"] > 50


# --- pysnmp 7 as the manager over loopback UDP ------------------------------------------------


async def with_responder(
    agent: UsmAgent, body: Callable[[SnmpEngine, Any], Awaitable[None]]
) -> None:
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: AsyncResponder(agent), local_addr=("127.0.0.1", 0)
    )
    engine = SnmpEngine()
    try:
        port = transport.get_extra_info("sockname")[1]
        target = await UdpTransportTarget.create(("127.0.0.1", port), timeout=1, retries=1)
        await body(engine, target)
    finally:
        engine.close_dispatcher()
        transport.close()


def usm_data(u: UsmUser, auth_pw: str = "auth-secret-1", priv_pw: str = "priv-secret-1") -> Any:
    return UsmUserData(
        u.name.decode(),
        auth_pw,
        priv_pw,
        authProtocol=PYSNMP_AUTH[u.auth],
        privProtocol=PYSNMP_PRIV[u.priv],
    )


async def pysnmp_get(engine: SnmpEngine, target: Any, data: Any) -> tuple[Any, list[str]]:
    err, status, _, varbinds = await get_cmd(
        engine, data, target, ContextData(), ObjectType(ObjectIdentity(SYSNAME)), lookupMib=False
    )
    assert not status
    return err, [bytes(vb[1]).decode() for vb in varbinds]


def test_pysnmp_get_and_bulk_for_every_protocol_pair() -> None:
    users = [user(a, p) for a, p in COMBOS]
    agent = UsmAgent(ENGINE, users)

    async def body(engine: SnmpEngine, target: Any) -> None:
        for u in users:
            assert await pysnmp_get(engine, target, usm_data(u)) == (None, [VALUE.decode()])
            err, status, _, varbinds = await bulk_cmd(
                engine,
                usm_data(u),
                target,
                ContextData(),
                0,
                5,
                ObjectType(ObjectIdentity((1, 3, 6, 1, 2, 1, 2, 2, 1, 10))),
                lookupMib=False,
            )
            assert err is None and not status
            assert [int(vb[1]) for vb in varbinds] == [1, 2, 3, 4, 5]

    asyncio.run(with_responder(agent, body))
    assert agent.stats["usmStatsUnknownEngineIDs"] >= 1  # pysnmp discovered the engine
    assert not any(v for k, v in agent.stats.items() if k != "usmStatsUnknownEngineIDs")


def test_pysnmp_sees_each_usm_error_then_resyncs_after_reboot() -> None:
    good = user("SHA", "AES-256-C")
    other = user("SHA-256", "AES-128")
    agent = UsmAgent(ENGINE, [good, other])

    async def body(engine: SnmpEngine, target: Any) -> None:
        err, _ = await pysnmp_get(engine, target, usm_data(good, auth_pw="wrong-password"))
        assert "digest" in str(err).lower()
        err, _ = await pysnmp_get(engine, target, usm_data(other, priv_pw="wrong-password"))
        assert "cipher" in str(err).lower()
        blumenthal = UsmUserData(
            good.name.decode(),
            "auth-secret-1",
            "priv-secret-1",
            authProtocol=usmHMACSHAAuthProtocol,
            privProtocol=usmAesBlumenthalCfb256Protocol,
        )
        err, _ = await pysnmp_get(engine, target, blumenthal)  # Reeder user, Blumenthal key
        assert "cipher" in str(err).lower()
        err, _ = await pysnmp_get(engine, target, usm_data(user(name="nobody")))
        assert "unknown usm user" in str(err).lower()
        err, _ = await pysnmp_get(engine, target, UsmUserData(other.name.decode()))
        assert "security level" in str(err).lower()
        assert await pysnmp_get(engine, target, usm_data(other)) == (None, [VALUE.decode()])
        auth_only = UsmUserData(
            other.name.decode(), "auth-secret-1", authProtocol=usmHMAC192SHA256AuthProtocol
        )
        assert await pysnmp_get(engine, target, auth_only) == (None, [VALUE.decode()])
        agent.reboot()
        assert await pysnmp_get(engine, target, usm_data(other)) == (None, [VALUE.decode()])

    asyncio.run(with_responder(agent, body))
    stats = agent.stats
    assert stats["usmStatsWrongDigests"] >= 1
    assert stats["usmStatsDecryptionErrors"] >= 2
    assert stats["usmStatsUnknownUserNames"] >= 1
    assert stats["usmStatsUnsupportedSecLevels"] >= 1
    assert stats["usmStatsNotInTimeWindows"] >= 1


def test_pysnmp_notification_receiver_accepts_our_v3_trap() -> None:
    from pysnmp.carrier.asyncio.dgram import udp
    from pysnmp.entity import config
    from pysnmp.entity import engine as pysnmp_engine
    from pysnmp.entity.rfc3413 import ntfrcv

    sender = user("SHA", "AES-256")  # SHA-1: the key extension matters
    agent = UsmAgent(ENGINE, [sender])
    link_down = (1, 3, 6, 1, 6, 3, 1, 1, 5, 3)
    varbinds = ber.tlv(
        ber.SEQUENCE, ber.encode_oid((1, 3, 6, 1, 2, 1, 1, 3, 0)) + ber.encode_int(4200, 0x43)
    ) + ber.tlv(
        ber.SEQUENCE,
        ber.encode_oid((1, 3, 6, 1, 6, 3, 1, 1, 4, 1, 0)) + ber.encode_oid(link_down),
    )
    trap = ber.tlv(
        ber.TRAPV2, b"\x02\x02\x30\x39\x02\x01\x00\x02\x01\x00" + ber.tlv(0x30, varbinds)
    )

    async def run() -> list[tuple[str, str]]:
        received: asyncio.Future[list[tuple[str, str]]] = asyncio.get_running_loop().create_future()
        receiver = pysnmp_engine.SnmpEngine()
        port = free_udp_port()
        transport = udp.UdpAsyncioTransport().open_server_mode(("127.0.0.1", port))
        config.add_transport(receiver, udp.DOMAIN_NAME, transport)
        config.add_v3_user(
            receiver,
            sender.name.decode(),
            config.USM_AUTH_HMAC96_SHA,
            "auth-secret-1",
            config.USM_PRIV_CFB256_AES_BLUMENTHAL,
            "priv-secret-1",
            securityEngineId=univ.OctetString(ENGINE),
        )

        def on_trap(*args: Any) -> None:
            vbs = args[4]
            if not received.done():
                received.set_result([(str(oid), vb.prettyPrint()) for oid, vb in vbs])

        ntfrcv.NotificationReceiver(receiver, on_trap)
        await transport._lport  # bound
        loop = asyncio.get_running_loop()
        out, _ = await loop.create_datagram_endpoint(
            asyncio.DatagramProtocol, remote_addr=("127.0.0.1", port)
        )
        try:
            out.sendto(agent.notify(trap, sender.name))
            return await asyncio.wait_for(received, 5)
        finally:
            out.close()
            receiver.close_dispatcher()

    got = asyncio.run(run())
    assert got == [("1.3.6.1.2.1.1.3.0", "4200"), ("1.3.6.1.6.3.1.1.4.1.0", "1.3.6.1.6.3.1.1.5.3")]


# --- the manager side, against the agent -----------------------------------------------------


def exchange(agent: UsmAgent, msg: bytes) -> bytes:
    got = agent.receive(msg)
    if isinstance(got, bytes):
        return got
    return agent.respond(got, response_pdu(got.pdu))


@pytest.mark.parametrize(("auth", "priv"), COMBOS)
def test_manager_discovers_requests_and_decodes(auth: str, priv: str) -> None:
    u = user(auth, priv)
    clock = Clock()
    agent = UsmAgent(ENGINE, [u], engine_boots=9, clock=clock)
    clock.now += 5000
    manager = UsmManager(u, clock=clock)
    with pytest.raises(UsmNotDiscovered):
        manager.request(1, get_pdu())
    report = manager.receive(exchange(agent, manager.discovery(1)))
    assert report == V3Report(1, "usmStatsUnknownEngineIDs", 1, False)
    assert (manager.engine_id, manager.engine_boots, manager.engine_time) == (ENGINE, 9, 5000)
    answer = manager.receive(exchange(agent, manager.request(2, get_pdu(31))))
    assert isinstance(answer, V3Response)
    assert (answer.msg_id, answer.security_level, answer.pdu) == (2, 3, response_pdu(get_pdu(31)))
    assert answer.context_engine_id == ENGINE


def test_manager_resyncs_after_reboot_and_rejects_forgeries() -> None:
    u = user("SHA-256", "AES-256")
    clock = Clock()
    agent = UsmAgent(ENGINE, [u], clock=clock)
    manager = UsmManager(u, clock=clock)
    manager.receive(exchange(agent, manager.discovery(1)))
    clock.now += 100
    agent.reboot()
    report = manager.receive(exchange(agent, manager.request(2, get_pdu())))
    assert report == V3Report(2, "usmStatsNotInTimeWindows", 1, True)
    assert (manager.engine_boots, manager.engine_time) == (2, 0)
    assert isinstance(manager.receive(exchange(agent, manager.request(3, get_pdu()))), V3Response)
    good = exchange(agent, manager.request(4, get_pdu()))
    forged = bytearray(good)
    forged[-1] ^= 1
    with pytest.raises(UsmDrop, match="wrong_digest"):
        manager.receive(bytes(forged))
    clock.now += 1000  # a replay from long ago
    with pytest.raises(UsmDrop, match="not_in_time_window"):
        manager.receive(good)
    stranger = UsmManager(user("SHA-256", "AES-256", name="eve"), clock=clock)
    stranger.receive(exchange(agent, stranger.discovery(5)))
    report = stranger.receive(exchange(agent, stranger.request(6, get_pdu())))
    assert report == V3Report(6, "usmStatsUnknownUserNames", 1, False)
    wrong = UsmManager(
        UsmUser(u.name, "SHA-256", b"not-the-password", "AES-256", b"priv-secret-1"), clock=clock
    )
    wrong.receive(exchange(agent, wrong.discovery(7)))
    report = wrong.receive(exchange(agent, wrong.request(8, get_pdu())))
    assert report == V3Report(8, "usmStatsWrongDigests", 1, False)
    rng = random.Random(7)
    for _ in range(300):  # fuzzed answers: a clean drop or a decoded answer, nothing else
        bad = bytearray(good)
        bad[rng.randrange(len(bad))] = rng.randrange(256)
        with contextlib.suppress(UsmDrop):
            manager.receive(bytes(bad[: rng.randrange(1, len(bad) + 1)]))
