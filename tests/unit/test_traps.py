"""The trap/inform receiver's decisions, on messages made by netmon's own codec (agent-side USM
for v3 traps, manager-side USM for v3 informs), and a fuzz run: no input makes it raise."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.trap_decode import IF_ENTRY, SNMP_TRAP_OID, SYS_UPTIME
from collector.traps import Trap, TrapConfig, TrapReceiver, trap_config
from netmon.simulator.testbed import SECRETS, small_inventory
from netmon.snmp import ber
from netmon.snmp.message import V1, V2C, decode_response, encode_message, encode_pdu, varbind
from netmon.snmp.usm import UsmAgent, UsmUser
from netmon.snmp.usm_manager import UsmManager, V3Report, V3Response

LINK_DOWN = (1, 3, 6, 1, 6, 3, 1, 1, 5, 3)
COLD_START = (1, 3, 6, 1, 6, 3, 1, 1, 5, 1)
HUB = "127.31.50.1"
EDGE = "127.31.50.11"
USER_A = UsmUser(b"noc-a", "SHA-256", b"auth-key-a-123", "AES-128", b"priv-key-a-123")
USER_B = UsmUser(b"noc-b", "SHA-512", b"auth-key-b-456", "AES-256", b"priv-key-b-456")


def config() -> TrapConfig:
    inv = small_inventory(31)
    base = trap_config(inv, lambda ref: SECRETS[ref.removeprefix("env:")])
    return TrapConfig(base.devices, base.communities, (USER_A, USER_B))


def receiver() -> tuple[TrapReceiver, list[Trap]]:
    got: list[Trap] = []
    return TrapReceiver(config(), got.append, engine_boots=7, clock=lambda: 1000.0), got


def trap_varbinds(trap_oid: tuple[int, ...], if_index: int | None = 3) -> bytes:
    vbs = [
        varbind(ber.encode_oid(SYS_UPTIME), ber.encode_unsigned(4242, ber.TIMETICKS)),
        varbind(ber.encode_oid(SNMP_TRAP_OID), ber.encode_oid(trap_oid)),
    ]
    if if_index is not None:
        vbs.append(varbind(ber.encode_oid((*IF_ENTRY, 1, if_index)), ber.encode_int(if_index)))
        name = ber.encode_octets(b"GigabitEthernet0/0/1")
        vbs.append(varbind(ber.encode_oid((1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 1, if_index)), name))
    return b"".join(vbs)


def v2c(tag: int = ber.TRAPV2, community: bytes = b"netmon-sim", rid: int = 77) -> bytes:
    return encode_message(V2C, community, tag, rid, 0, 0, trap_varbinds(LINK_DOWN))


def v1_trap(generic: int = 2) -> bytes:
    body = (
        ber.encode_oid((1, 3, 6, 1, 4, 1, 8072))
        + ber.encode_octets(bytes((127, 31, 50, 1)), ber.IPADDRESS)
        + ber.encode_int(generic)
        + ber.encode_int(0)
        + ber.encode_unsigned(100, ber.TIMETICKS)
        + ber.tlv(ber.SEQUENCE, varbind(ber.encode_oid((*IF_ENTRY, 1, 5)), ber.encode_int(5)))
    )
    pdu = ber.tlv(0xA4, body)
    return ber.tlv(ber.SEQUENCE, ber.encode_int(V1) + ber.encode_octets(b"netmon-sim") + pdu)


def test_v2c_link_down_is_accepted_with_its_interface() -> None:
    r, got = receiver()
    assert r.handle(v2c(), HUB) is None
    assert [(t.device, t.kind, t.if_index, t.if_name, t.version) for t in got] == [
        ("cmi-dist-01", "link_down", 3, "GigabitEthernet0/0/1", "2c")
    ]
    assert "linkDown trap (SNMPv2c) from 127.31.50.1 ifIndex 3" in got[0].evidence
    assert "netmon-sim" not in got[0].evidence  # the community is a secret


def test_v1_generic_traps_map_to_kinds() -> None:
    r, got = receiver()
    for generic in (0, 1, 2, 3, 4):
        r.handle(v1_trap(generic), HUB)
    kinds = ["cold_start", "warm_start", "link_down", "link_up", "authentication_failure"]
    assert [t.kind for t in got] == kinds
    assert got[2].if_index == 5 and got[2].version == "1"
    r.handle(v1_trap(6), HUB)  # enterpriseSpecific: not one netmon acts on
    assert r.stats.dropped["unsupported"] == 1


def test_drops_are_counted_by_reason() -> None:
    r, got = receiver()
    r.handle(v2c(), "127.9.9.9")
    r.handle(v2c(community=b"guess"), HUB)
    r.handle(b"\x30\x03\x02\x01", HUB)
    r.handle(encode_message(V2C, b"netmon-sim", ber.GET, 1, 0, 0, b""), HUB)
    assert got == []
    assert dict(r.stats.dropped) == {
        "unknown_source": 1,
        "bad_community": 1,
        "malformed": 1,
        "unsupported": 1,  # a GET is no notification
    }
    # The v3 device's own profile has no community: a v2c trap from it is refused.
    r.handle(v2c(), EDGE)
    assert r.stats.dropped["bad_community"] == 2


def test_v2c_inform_is_acknowledged_once_and_a_resend_acted_on_once() -> None:
    r, got = receiver()
    reply = r.handle(v2c(ber.INFORM, rid=991), HUB)
    assert reply is not None
    resp = decode_response(reply)
    assert (resp.tag, resp.request_id, resp.error_status) == (ber.RESPONSE, 991, 0)
    assert resp.community == b"netmon-sim"
    assert [v[0] for v in resp.varbinds][:2] == [SYS_UPTIME, SNMP_TRAP_OID]
    again = r.handle(v2c(ber.INFORM, rid=991), HUB)
    assert again == reply
    assert len(got) == 1 and got[0].inform
    assert (r.stats.informs_acked, r.stats.inform_duplicates) == (2, 1)


def v3_trap(agent: UsmAgent, user: bytes, trap_oid: tuple[int, ...] = LINK_DOWN) -> bytes:
    pdu = encode_pdu(ber.TRAPV2, ber.encode_int(5), 0, 0, trap_varbinds(trap_oid))
    return agent.notify(pdu, user)


def test_v3_traps_from_two_users_each_keyed_to_the_sender_engine() -> None:
    r, got = receiver()
    sender_a = UsmAgent(b"\x80\x00\x1f\x88\x04edge-a", [USER_A])
    sender_b = UsmAgent(b"\x80\x00\x1f\x88\x04edge-b", [USER_B])
    r.handle(v3_trap(sender_a, b"noc-a"), EDGE)
    r.handle(v3_trap(sender_b, b"noc-b", COLD_START), EDGE)
    assert [(t.kind, t.user, t.version) for t in got] == [
        ("link_down", "noc-a", "3"),
        ("cold_start", "noc-b", "3"),
    ]
    # The same user name with another key: wrong digest.
    forged = UsmUser(b"noc-a", "SHA-256", b"not-the-key-1", "AES-128", b"priv-key-a-123")
    r.handle(v3_trap(UsmAgent(b"\x80\x00\x1f\x88\x04edge-a", [forged]), b"noc-a"), EDGE)
    stranger = UsmUser(b"nobody", "SHA-256", b"auth-key-a-123", "AES-128", b"priv-key-a-123")
    r.handle(v3_trap(UsmAgent(b"\x80\x00\x1f\x88\x04edge-c", [stranger]), b"nobody"), EDGE)
    assert len(got) == 2 and r.stats.dropped["auth"] == 2


def test_v3_trap_replayed_from_before_the_window_is_dropped() -> None:
    now = [0.0]
    sender = UsmAgent(b"\x80\x00\x1f\x88\x04edge-a", [USER_A], clock=lambda: now[0])
    old = v3_trap(sender, b"noc-a")
    now[0] = 400.0
    fresh = v3_trap(sender, b"noc-a")
    r, got = receiver()
    r.handle(fresh, EDGE)
    r.handle(old, EDGE)  # authentic but 400 s older than what the engine already said
    assert len(got) == 1 and r.stats.dropped["auth"] == 1


def test_v3_inform_discovery_then_acknowledged() -> None:
    r, got = receiver()
    manager = UsmManager(USER_B)
    report = r.handle(UsmManager.discovery(11), EDGE)
    assert report is not None
    learnt = manager.receive(report)
    assert isinstance(learnt, V3Report) and learnt.counter == "usmStatsUnknownEngineIDs"
    assert manager.engine_id == r.engine_id
    pdu = encode_pdu(ber.INFORM, ber.encode_int(12), 0, 0, trap_varbinds(COLD_START, None))
    reply = r.handle(manager.request(12, pdu), EDGE)
    assert reply is not None
    answer = manager.receive(reply)
    assert isinstance(answer, V3Response) and answer.pdu[0] == ber.RESPONSE
    assert [(t.kind, t.user, t.inform) for t in got] == [("cold_start", "noc-b", True)]
    # A wrong key: refused with a Report, counted, not acted on.
    wrong = UsmManager(UsmUser(b"noc-b", "SHA-512", b"wrong-key-4567", "AES-256", b"x" * 8))
    wrong.receive(r.handle(UsmManager.discovery(13), EDGE) or b"")
    refused = r.handle(wrong.request(14, pdu), EDGE)
    assert refused is not None and isinstance(wrong.receive(refused), V3Report)
    assert len(got) == 1 and r.stats.dropped["auth"] == 1


def test_reload_keeps_engine_state_and_takes_new_sources() -> None:
    r, _ = receiver()
    usm = r._usm
    cfg = config()
    r.apply(TrapConfig({**cfg.devices, "127.31.99.1": "new-dev"}, cfg.communities, cfg.users))
    assert r._usm is usm and r.stats.sources == 5
    r.apply(TrapConfig(cfg.devices, cfg.communities, (USER_A,)))
    assert r._usm is not usm and r.stats.users == 1


VALID = [v2c(), v2c(ber.INFORM), v1_trap()]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        st.binary(max_size=300),
        st.tuples(st.sampled_from(VALID), st.integers(0, 200), st.integers(0, 255)).map(
            lambda t: t[0][: t[1]] + bytes((t[2],)) + t[0][t[1] + 1 :]
        ),
        st.tuples(st.sampled_from(VALID), st.integers(0, 200)).map(lambda t: t[0][: t[1]]),
    ),
    st.sampled_from([HUB, EDGE]),
)
def test_fuzz_never_raises(data: bytes, source: str) -> None:
    r, _ = receiver()
    r.handle(data, source)
    assert r.stats.unexpected == 0


def test_fuzz_v3_mutations_never_raise() -> None:
    r, _ = receiver()
    sender = UsmAgent(b"\x80\x00\x1f\x88\x04edge-a", [USER_A])
    good = v3_trap(sender, b"noc-a")
    import random

    rng = random.Random(8)
    for _ in range(3000):
        buf = bytearray(good)
        for _ in range(rng.randint(1, 4)):
            buf[rng.randrange(len(buf))] = rng.randrange(256)
        r.handle(bytes(buf[: rng.randint(1, len(buf))]), EDGE)
    assert r.stats.unexpected == 0
    assert sum(r.stats.dropped.values()) + sum(r.stats.accepted.values()) == 3000
