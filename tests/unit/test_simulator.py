"""The simulator's MIB semantics, counters, failures and traps, under a fake clock (no sockets)."""

from __future__ import annotations

import calendar
import time
from collections.abc import Callable
from typing import Any

import pytest

from netmon.simulator import traffic
from netmon.simulator.backbone import Backbone, Node, SimulatorError, build
from netmon.simulator.device import IF_ENTRY, IFX_ENTRY
from netmon.simulator.testbed import SECRETS, small_inventory
from netmon.simulator.v3 import engine_id, make_v3_agent
from netmon.snmp import ber
from netmon.snmp import message as msg

COMMUNITY = SECRETS["NETMON_SIM_COMMUNITY"].encode()
# Tuesday 2026-11-24 10:00 Bangkok (03:00 UTC): office hours.
T0 = float(calendar.timegm((2026, 11, 24, 3, 0, 0)))
SYS_DESCR = (1, 3, 6, 1, 2, 1, 1, 1, 0)
SYS_UPTIME = (1, 3, 6, 1, 2, 1, 1, 3, 0)
SYS_NAME = (1, 3, 6, 1, 2, 1, 1, 5, 0)


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


class Sim:
    def __init__(self) -> None:
        self.clock = Clock(T0)
        nodes, links = build(
            small_inventory(),
            now=T0,
            port=16100,
            resolve=lambda ref: SECRETS[ref.removeprefix("env:")],
            v3_factory=make_v3_agent,
        )
        self.bb = Backbone(nodes, links, clock=self.clock, trap_target=("127.0.0.1", 9162))
        self.sent: list[tuple[str, bytes]] = []
        self.later: list[tuple[float, Callable[[], object]]] = []
        for node in nodes:
            node.sender = lambda data, addr, name=node.dev.name: self.sent.append((name, data))

        def schedule(delay: float, fn: Callable[[], object]) -> Any:
            self.later.append((delay, fn))
            return _Handle()

        self.bb.scheduler = schedule

    def node(self, name: str = "cmi-dist-01") -> Node:
        return self.bb.nodes[name]

    def raw(self, data: bytes, name: str = "cmi-dist-01") -> bytes | None:
        out = self.bb.handle(self.node(name), data)
        return None if out is None else out[0]

    def ask(self, data: bytes, name: str = "cmi-dist-01") -> msg.Response:
        out = self.raw(data, name)
        assert out is not None, "no answer"
        return msg.decode_response(out)

    def get(
        self, *oids: tuple[int, ...], name: str = "cmi-dist-01", version: int = 1
    ) -> msg.Response:
        return self.ask(msg.encode_get(COMMUNITY, 1, list(oids), version), name)

    def value(self, oid: tuple[int, ...], name: str = "cmi-dist-01") -> Any:
        (got,) = self.get(oid, name=name).varbinds
        return got[2]

    def traps(self) -> list[tuple[str, msg.Response]]:
        return [(n, msg.decode_response(d)) for n, d in self.sent]


class _Handle:
    def cancel(self) -> None:
        pass


@pytest.fixture
def sim() -> Sim:
    return Sim()


def _walk(sim: Sim, name: str = "cmi-dist-01") -> list[tuple[tuple[int, ...], int, Any]]:
    oid: tuple[int, ...] = (1, 3)
    out = []
    while True:
        ((o, tag, v),) = sim.ask(msg.encode_getnext(COMMUNITY, 5, [oid]), name).varbinds
        if tag == ber.END_OF_MIB_VIEW:
            assert o == oid
            return out
        assert o > oid
        out.append((o, tag, v))
        oid = o


def test_getnext_walks_the_whole_table_in_order(sim: Sim) -> None:
    rows = _walk(sim)
    assert [o for o, _, _ in rows] == sim.node().dev.mib.oids
    # ifIndex >= 128 (Huawei) is served and ordered numerically, not by encoded bytes.
    descr = [o[-1] for o, _, _ in rows if o[:-1] == (*IF_ENTRY, 2)]
    assert descr == sorted(descr) and max(descr) >= 128


def test_getbulk_crosses_columns_and_tables(sim: Sim) -> None:
    mib = sim.node().dev.mib
    last_descr = max(o for o in mib.oids if o[:-1] == (*IF_ENTRY, 2))
    r = sim.ask(msg.encode_getbulk(COMMUNITY, 9, [last_descr], max_repetitions=30))
    start = mib.oids.index(last_descr) + 1
    assert [o for o, _, _ in r.varbinds] == mib.oids[start : start + 30]
    assert r.varbinds[0][0][:-1] == (*IF_ENTRY, 3)  # the next column
    last_if = max(o for o in mib.oids if o[: len(IF_ENTRY)] == IF_ENTRY)
    r = sim.ask(msg.encode_getbulk(COMMUNITY, 9, [last_if], max_repetitions=2))
    assert r.varbinds[0][0] == mib.oids[mib.oids.index(last_if) + 1]


def test_getbulk_non_repeaters_and_several_columns(sim: Sim) -> None:
    cols = [(1, 3, 6, 1, 2, 1, 1, 3), (*IFX_ENTRY, 1), (*IFX_ENTRY, 15)]
    r = sim.ask(msg.encode_getbulk(COMMUNITY, 3, cols, max_repetitions=4, non_repeaters=1))
    oids = [o for o, _, _ in r.varbinds]
    assert oids[0] == SYS_UPTIME
    assert len(oids) == 1 + 2 * 4
    names = [v for o, _, v in r.varbinds[1::2]]
    speeds = [v for o, _, v in r.varbinds[2::2]]
    assert names[:3] == [b"GigabitEthernet0/0/0", b"LoopBack0", b"GigabitEthernet0/0/1"]
    assert speeds[2] == 1000  # ifHighSpeed of the 1G uplink, in Mb/s


def test_end_of_mib_view(sim: Sim) -> None:
    mib = sim.node().dev.mib
    r = sim.ask(msg.encode_getbulk(COMMUNITY, 1, [mib.oids[-3]], max_repetitions=5))
    tags = [t for _, t, _ in r.varbinds]
    assert tags[:2] != [ber.END_OF_MIB_VIEW] * 2 and tags[2] == ber.END_OF_MIB_VIEW
    assert r.varbinds[2][0] == mib.oids[-1]  # endOfMibView names the last OID
    assert len(r.varbinds) == 3  # stops once every repeater ended
    ((o, t, _),) = sim.ask(msg.encode_getnext(COMMUNITY, 1, [(2, 1)])).varbinds
    assert (o, t) == ((2, 1), ber.END_OF_MIB_VIEW)


def test_get_exceptions(sim: Sim) -> None:
    r = sim.get(SYS_NAME, (1, 3, 6, 1, 2, 1, 1, 9, 0), (*IF_ENTRY, 10, 999), (*SYS_NAME[:-1], 1))
    tags = [t for _, t, _ in r.varbinds]
    assert r.varbinds[0][2] == b"cmi-dist-01"
    assert tags[1:] == [ber.NO_SUCH_OBJECT, ber.NO_SUCH_INSTANCE, ber.NO_SUCH_INSTANCE]
    assert r.error_status == 0


def test_v1_semantics(sim: Sim) -> None:
    r = sim.get(SYS_NAME, (1, 3, 6, 1, 2, 1, 1, 9, 0), version=msg.V1)
    assert (r.error_status, r.error_index) == (msg.NO_SUCH_NAME, 2)
    hc = (*IFX_ENTRY, 6, 129)
    assert sim.get(hc, version=msg.V1).error_status == msg.NO_SUCH_NAME
    # GETNEXT skips Counter64 columns (RFC 3584): after ifXTable col 5 comes col 14.
    last5 = max(o for o in sim.node().dev.mib.oids if o[:-1] == (*IFX_ENTRY, 5))
    r = sim.ask(msg.encode_getnext(COMMUNITY, 1, [last5], msg.V1))
    assert r.varbinds[0][0][:-1] == (*IFX_ENTRY, 14)
    # GetBulk does not exist in v1: dropped and counted.
    bulk = bytearray(msg.encode_getbulk(COMMUNITY, 1, [SYS_NAME], 5))
    bulk[4] = 0  # version 2c -> v1
    assert sim.raw(bytes(bulk)) is None
    assert sim.node().counters.malformed == 1


def test_too_big_and_truncation(sim: Sim) -> None:
    r = sim.get(*([SYS_DESCR] * 20))
    assert r.error_status == msg.TOO_BIG and r.varbinds == ()
    data = sim.raw(msg.encode_getbulk(COMMUNITY, 1, [(1, 3)], max_repetitions=200))
    assert data is not None and len(data) <= 1472
    r = msg.decode_response(data)
    assert r.error_status == 0 and 10 < len(r.varbinds) < 200
    assert [o for o, _, _ in r.varbinds] == sim.node().dev.mib.oids[: len(r.varbinds)]


def test_counters_grow_wrap_and_match_hc(sim: Sim) -> None:
    in32, hc = (*IF_ENTRY, 10, 129), (*IFX_ENTRY, 6, 129)
    a = sim.get(in32, hc).varbinds
    sim.clock.t += 60
    b = sim.get(in32, hc).varbinds
    assert b[1][2] > a[1][2]
    rate = (b[1][2] - a[1][2]) * 8 / 60
    assert 0.1e9 < rate < 1e9  # a busy 1G uplink at 10:00
    for vbs in (a, b):
        assert vbs[0][1] == ber.COUNTER32 and vbs[1][1] == ber.COUNTER64
        assert vbs[0][2] == vbs[1][2] % 2**32  # the 32-bit counter wraps
    assert b[1][2] > 2**32  # days of uptime on a 1G link: wrapped many times


def test_traffic_profile_office_hours() -> None:
    night = float(calendar.timegm((2026, 11, 24, 20, 0, 0)))  # 03:00 Bangkok
    assert traffic.profile_at(T0) > 5 * traffic.profile_at(night)
    # The closed-form integral matches a numeric one across a day boundary.
    a, b = T0 - 86400 * 1.5, T0
    numeric = sum(traffic.profile_at(a + i * 60 + 30) * 60 for i in range(int((b - a) / 60)))
    assert traffic.cumulative(b) - traffic.cumulative(a) == pytest.approx(numeric, rel=1e-6)


def test_deterministic_per_device() -> None:
    one, two = Sim(), Sim()
    oid = (*IFX_ENTRY, 10, 129)
    assert one.value(oid) == two.value(oid)
    assert one.value(oid) != one.value((*IFX_ENTRY, 10, 130))


def test_reboot_resets_uptime_and_counters(sim: Sim) -> None:
    hc = (*IFX_ENTRY, 6, 129)
    assert sim.value(SYS_UPTIME) > 3 * 86400 * 100
    sim.bb.control("reboot", {"device": "cmi-dist-01"})
    assert sim.value(SYS_UPTIME) == 0 and sim.value(hc) == 0
    sim.clock.t += 10
    assert sim.value(SYS_UPTIME) == 1000 and sim.value(hc) > 0
    ((name, trap),) = sim.traps()
    assert name == "cmi-dist-01" and trap.tag == ber.TRAPV2
    assert trap.varbinds[1][2] == (1, 3, 6, 1, 6, 3, 1, 1, 5, 1)  # coldStart


def test_link_down_both_ends_counters_stop_and_traps(sim: Sim) -> None:
    oper_hub, oper_core = (*IF_ENTRY, 8, 129), (*IF_ENTRY, 8, 513)
    hc = (*IFX_ENTRY, 6, 129)
    sim.clock.t += 5
    sim.bb.control("link_down", {"device": "cmi-dist-01", "interface": "GigabitEthernet0/0/1"})
    assert sim.value(oper_hub) == 2 and sim.value(oper_core, "bkk-core-01") == 2
    uptime = sim.value(SYS_UPTIME)
    assert sim.value((*IF_ENTRY, 9, 129)) == uptime  # ifLastChange = now
    assert sim.value((1, 3, 6, 1, 2, 1, 31, 1, 5, 0)) == uptime
    frozen = sim.value(hc)
    sim.clock.t += 300
    assert sim.value(hc) == frozen
    traps = sim.traps()
    assert sorted(n for n, _ in traps) == ["bkk-core-01", "cmi-dist-01"]
    hub_trap = dict(traps)["cmi-dist-01"]
    vbs = hub_trap.varbinds
    assert vbs[1][2] == (1, 3, 6, 1, 6, 3, 1, 1, 5, 3)  # linkDown
    assert vbs[2:] == (
        ((*IF_ENTRY, 1, 129), ber.INTEGER, 129),
        ((*IF_ENTRY, 7, 129), ber.INTEGER, 1),
        ((*IF_ENTRY, 8, 129), ber.INTEGER, 2),
        ((*IFX_ENTRY, 1, 129), ber.OCTET_STRING, b"GigabitEthernet0/0/1"),  # ifName
    )
    sim.bb.control("link_up", {"device": "bkk-core-01", "interface": "xe-0/0/0"})
    assert sim.value(oper_hub) == 1
    sim.clock.t += 60
    assert sim.value(hc) > frozen
    assert [t.varbinds[1][2][-1] for _, t in sim.traps()[2:]] == [4, 4]  # linkUp twice


def test_v3_device_sends_authenticated_encrypted_traps(sim: Sim) -> None:
    import hmac

    from netmon.simulator.testbed import V3_USER
    from netmon.snmp.usm import UsmUser, parse_header, parse_scoped_pdu

    sim.bb.control("reboot", {"device": "cmi-5001-edge-01"})
    ((name, wire),) = sim.sent
    assert name == "cmi-5001-edge-01"
    head = parse_header(wire)
    assert (head.engine_id, head.user) == (engine_id(name), V3_USER.encode())
    user = UsmUser(
        name=V3_USER.encode(),
        auth="SHA-256",
        auth_password=SECRETS["NETMON_SIM_V3_AUTH"].encode(),
        priv="AES-128",
        priv_password=SECRETS["NETMON_SIM_V3_PRIV"].encode(),
    )
    keys = user.localize(head.engine_id)
    zeroed = bytearray(wire)
    zeroed[head.auth_start : head.auth_stop] = bytes(head.auth_stop - head.auth_start)
    assert hmac.compare_digest(keys.mac(zeroed), wire[head.auth_start : head.auth_stop])
    iv = head.boots.to_bytes(4, "big") + head.time.to_bytes(4, "big") + head.priv_params
    plain = keys.decrypt(iv, memoryview(wire)[head.data_start : head.data_stop])
    _, _, pdu = parse_scoped_pdu(plain, 0, len(plain))
    trap = msg.decode_pdu_full(pdu)
    assert trap.tag == ber.TRAPV2
    assert trap.varbinds[1][2] == (1, 3, 6, 1, 6, 3, 1, 1, 5, 1)  # coldStart
    assert ber.encode_oid_body((1, 3, 6, 1, 6, 3, 1, 1, 5, 1)) not in wire  # encrypted


def test_dead_device_and_heal(sim: Sim) -> None:
    sim.bb.control("dead", {"device": "cmi-dist-01"})
    assert sim.raw(msg.encode_get(COMMUNITY, 1, [SYS_NAME])) is None
    assert sim.node().counters.dropped_dead == 1
    # Its neighbours see the links to it drop; the others still answer.
    assert sim.value((*IF_ENTRY, 8, 513), "bkk-core-01") == 2
    edge = sim.bb.nodes["cmi-5001-edge-01"].dev  # an SNMPv3 device: read its state directly
    assert not edge.by_name["GigabitEthernet0/0/0"].oper_up
    sim.bb.control("dead", {"device": "cmi-dist-01", "heal": True})
    assert sim.value(SYS_NAME) == b"cmi-dist-01"
    assert sim.value(SYS_UPTIME) == 0  # power came back: it booted
    assert sim.value((*IF_ENTRY, 8, 513), "bkk-core-01") == 1
    assert edge.by_name["GigabitEthernet0/0/0"].oper_up


def test_a_dead_core_cuts_off_what_is_only_reached_through_it(sim: Sim) -> None:
    # bkk-core-01 is the only root: every other device is reached through it.
    sim.bb.control("dead", {"device": "bkk-core-01"})
    assert sim.raw(msg.encode_get(COMMUNITY, 1, [SYS_NAME]), "cmi-dist-02") is None
    assert sim.node("cmi-dist-02").counters.dropped_cut == 1
    assert sim.bb.status()["injected"]["cmi-dist-02"]["cut_off"] is True
    uptime = sim.bb.nodes["cmi-dist-02"].dev.uptime_ticks(time.time())
    sim.bb.control("dead", {"device": "bkk-core-01", "heal": True})
    assert sim.value(SYS_NAME, "cmi-dist-02") == b"cmi-dist-02"  # reachable again...
    assert sim.bb.nodes["cmi-dist-02"].dev.uptime_ticks(time.time()) >= uptime  # ...not rebooted


def test_site_and_province_outage(sim: Sim) -> None:
    res = sim.bb.control("province_outage", {"province": "50"})
    assert sorted(res["devices"]) == ["cmi-5001-edge-01", "cmi-dist-01", "cmi-dist-02"]
    assert sim.raw(msg.encode_get(COMMUNITY, 1, [SYS_NAME]), "cmi-dist-02") is None
    assert sim.value((*IF_ENTRY, 8, 514), "bkk-core-01") == 2  # backup link to dist-02
    sim.bb.control("clear", {})
    assert sim.value(SYS_NAME, "cmi-dist-02") == b"cmi-dist-02"
    sim.bb.control("site_outage", {"site": "5001"})
    assert sim.bb.status()["injected"]["cmi-5001-edge-01"]["dead"] == ["site:5001"]
    with pytest.raises(SimulatorError, match="no simulated device at site"):
        sim.bb.control("site_outage", {"site": "9999"})


def test_flap_schedules_down_and_up(sim: Sim) -> None:
    sim.bb.control(
        "flap",
        {"device": "cmi-dist-01", "interface": "GigabitEthernet0/0/2", "times": 2, "interval": 1},
    )
    assert [d for d, _ in sim.later] == [0, 1, 2, 3]
    states = []
    for _, fn in sim.later:
        fn()
        states.append(sim.value((*IF_ENTRY, 8, 130)))
    assert states == [2, 1, 2, 1]


def test_slow_loss_status_and_errors(sim: Sim) -> None:
    base = sim.bb.handle(sim.node(), msg.encode_get(COMMUNITY, 1, [SYS_NAME]))
    assert base is not None and 0.02 < base[1] < 0.045  # Chiang Mai is ~590 km away
    sim.bb.control("slow", {"device": "cmi-dist-01", "ms": 500})
    slow = sim.bb.handle(sim.node(), msg.encode_get(COMMUNITY, 1, [SYS_NAME]))
    assert slow is not None and slow[1] == pytest.approx(base[1] + 0.5)
    sim.bb.control("loss", {"device": "cmi-dist-01", "pct": 100})
    assert sim.raw(msg.encode_get(COMMUNITY, 1, [SYS_NAME])) is None
    status = sim.bb.status()
    assert status["injected"]["cmi-dist-01"] == {"slow_ms": 500.0, "loss_pct": 100.0}
    assert status["counters"]["dropped_loss"] == 1
    for action, params in (
        ("nope", {}),
        ("dead", {"device": "ghost"}),
        ("link_down", {"device": "cmi-dist-01", "interface": "Gi9"}),
        ("loss", {"device": "cmi-dist-01", "pct": 101}),
        ("slow", {"device": "cmi-dist-01", "ms": "x"}),
    ):
        with pytest.raises(SimulatorError):
            sim.bb.control(action, params)
    sim.bb.control("clear", {"device": "cmi-dist-01"})
    assert sim.bb.status()["injected"] == {}


def test_wrong_community_and_malformed_are_counted(sim: Sim) -> None:
    assert sim.raw(msg.encode_get(b"wrong", 1, [SYS_NAME])) is None
    for bad in (
        b"",
        b"\x30\x03\x02\x01\x01",
        b"\xff" * 40,
        msg.encode_get(COMMUNITY, 1, [SYS_NAME])[:-3],
    ):
        assert sim.raw(bad) is None
    # An OID with an over-long sub-identifier encoding (leading 0x80) in a GETNEXT.
    bad_oid = msg.encode_getnext(COMMUNITY, 1, [(1, 3, 6, 1, 200)]).replace(
        b"\x81\x48", b"\x80\xc8"
    )
    assert sim.raw(bad_oid) is None
    c = sim.node().counters
    assert (c.wrong_community, c.malformed) == (1, 5)
    assert sim.value(SYS_NAME) == b"cmi-dist-01"  # still answering


def test_garbage_and_walk_loop(sim: Sim) -> None:
    sim.bb.control("garbage", {"device": "cmi-dist-01"})
    out = sim.raw(msg.encode_get(COMMUNITY, 1, [SYS_NAME]))
    assert out is not None
    with pytest.raises(msg.MessageError):
        msg.decode_response(out)
    sim.bb.control("garbage", {"device": "cmi-dist-01", "heal": True})
    sim.bb.control("walk_loop", {"device": "cmi-dist-01"})
    r = sim.ask(msg.encode_getnext(COMMUNITY, 1, [SYS_NAME]))
    assert r.varbinds[0][0] <= SYS_NAME
    r = sim.ask(msg.encode_getbulk(COMMUNITY, 1, [SYS_NAME], 3))
    assert r.varbinds[0][0] == SYS_NAME


def test_no_view(sim: Sim) -> None:
    sim.bb.control("no_view", {"device": "cmi-dist-01"})
    assert sim.bb.status()["injected"]["cmi-dist-01"] == {"no_view": True}
    r = sim.get(SYS_NAME, (1, 3, 6, 1, 2, 1, 1, 3, 0))
    assert [t for _, t, _ in r.varbinds] == [ber.NO_SUCH_OBJECT] * 2 and r.error_status == 0
    r = sim.ask(msg.encode_getbulk(COMMUNITY, 1, [IF_ENTRY, IFX_ENTRY], 10))
    assert [(o, t) for o, t, _ in r.varbinds] == [
        (IF_ENTRY, ber.END_OF_MIB_VIEW),
        (IFX_ENTRY, ber.END_OF_MIB_VIEW),
    ]
    r = sim.get(SYS_NAME, version=msg.V1)
    assert (r.error_status, r.error_index) == (msg.NO_SUCH_NAME, 1)
    assert sim.value(SYS_NAME, name="bkk-core-01") == b"bkk-core-01"  # only the one device
    sim.bb.control("no_view", {"device": "cmi-dist-01", "heal": True})
    assert sim.value(SYS_NAME) == b"cmi-dist-01"


def test_set_is_refused(sim: Sim) -> None:
    data = msg.encode_message(1, COMMUNITY, ber.SET, 1, 0, 0, msg.null_varbinds([SYS_NAME]))
    r = sim.ask(data)
    assert (r.error_status, r.error_index) == (msg.NOT_WRITABLE, 1)


def test_identity_per_platform(sim: Sim) -> None:
    want = {
        "bkk-core-01": (1, 3, 6, 1, 4, 1, 2636),
        "cmi-dist-01": (1, 3, 6, 1, 4, 1, 2011),
        "cmi-dist-02": (1, 3, 6, 1, 4, 1, 14988),
    }
    for name, prefix in want.items():
        oid = sim.value((1, 3, 6, 1, 2, 1, 1, 2, 0), name)
        assert oid[:7] == prefix
        assert sim.value((1, 3, 6, 1, 2, 1, 1, 6, 0), name).decode().count(" / ") == 1
    cpu = sim.value((1, 3, 6, 1, 4, 1, 2011, 5, 25, 31, 1, 1, 1, 1, 5, 16842753))
    assert 0 < cpu <= 100
    assert 20 < sim.value((1, 3, 6, 1, 4, 1, 2636, 3, 1, 13, 1, 7, 9, 1, 0, 0), "bkk-core-01") < 60
    alias = sim.value((*IFX_ENTRY, 18, 129))
    assert alias == b"uplink to bkk-core-01 xe-0/0/0"
    assert (
        sim.value((*IFX_ENTRY, 18, 513), "bkk-core-01")
        == b"downlink to cmi-dist-01 GigabitEthernet0/0/1"
    )


def test_engine_id_format() -> None:
    assert engine_id("cmi-dist-01") == bytes.fromhex("80001f8804") + b"cmi-dist-01"
    long = engine_id("x" * 40)
    assert long[:5] == bytes.fromhex("80001f8805") and len(long) == 21


def test_non_loopback_device_is_refused() -> None:
    inv = small_inventory()
    site = inv.sites[0].site
    dev = site.devices[0].model_copy(update={"address": "10.0.0.1"})  # refused, never contacted
    bad_site = site.model_copy(update={"devices": (dev,)})
    bad = inv.model_copy(
        update={"sites": (inv.sites[0].model_copy(update={"site": bad_site}), *inv.sites[1:])}
    )
    with pytest.raises(SimulatorError, match=r"bkk-core-01 has address 10\.0\.0\.1"):
        build(bad, now=T0, resolve=lambda ref: "x" * 10, v3_factory=make_v3_agent)


def _v3_get(sim: Sim, oid: tuple[int, ...]) -> bytes:
    from netmon.snmp import usm

    name = "cmi-5001-edge-01"
    eid = engine_id(name)
    user = usm.UsmUser(
        name=b"netmon",
        auth="SHA-256",
        auth_password=SECRETS["NETMON_SIM_V3_AUTH"].encode(),
        priv="AES-128",
        priv_password=SECRETS["NETMON_SIM_V3_PRIV"].encode(),
    )
    agent = sim.bb.nodes[name].v3
    assert isinstance(agent, usm.UsmAgent)
    pdu = msg.encode_pdu(ber.GET, ber.encode_int(7), 0, 0, msg.null_varbinds([oid]))
    return usm.encode_message(
        msg_id=1,
        level=usm.SecurityLevel.AUTH_PRIV,
        reportable=True,
        engine_id_tlv=ber.encode_octets(eid),
        boots=agent.engine_boots,
        etime=agent.engine_time,
        user=b"netmon",
        keys=user.localize(eid),
        salt=b"\x00" * 7 + b"\x01",
        context_engine_id=eid,
        context_name=b"",
        pdu=pdu,
    )


def test_v3_request_is_answered_and_v2c_to_v3_device_dropped(sim: Sim) -> None:
    out = sim.raw(_v3_get(sim, SYS_NAME), "cmi-5001-edge-01")
    assert out is not None and msg.peek_version(out) == 3
    assert sim.raw(msg.encode_get(COMMUNITY, 1, [SYS_NAME]), "cmi-5001-edge-01") is None
    assert sim.bb.nodes["cmi-5001-edge-01"].counters.wrong_community == 1


def test_fuzzed_requests_never_escape_handle(sim: Sim) -> None:
    import random

    rng = random.Random(7)
    seeds = [
        ("cmi-dist-01", msg.encode_getbulk(COMMUNITY, 5, [SYS_NAME, (*IF_ENTRY, 2)], 25, 1)),
        ("cmi-dist-01", msg.encode_get(COMMUNITY, 5, [SYS_NAME, (*IFX_ENTRY, 6, 129)], msg.V1)),
        ("cmi-5001-edge-01", _v3_get(sim, SYS_NAME)),
    ]
    for n in range(3000):
        name, seed = rng.choice(seeds)
        data = bytearray(seed)
        if n % 3 == 0:
            data = data[: rng.randrange(len(data))]
        else:
            for _ in range(rng.randint(1, 3)):
                data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        sim.bb.handle(sim.bb.nodes[name], bytes(data))  # must not raise
    t = sim.bb.totals
    accounted = t.responses + t.malformed + t.wrong_community + t.usm_dropped
    assert t.requests == 3000 and accounted == 3000
    assert t.malformed > 0 and t.responses > 0
