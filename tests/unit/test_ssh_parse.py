"""The SSH collector's parsing, per platform and command, from fixture files of real-world
output (tests/unit/ssh_fixtures/<platform>__<kind>__<case>.txt): timestamps and banners above a
table, wrapped descriptions, empty tables, a truncated answer, "- Inf" for no light, a Junos
peer whose Up/Down time has a space, a rejected command."""

from __future__ import annotations

from pathlib import Path

import pytest

from collector import ssh_parse as sp
from collector.ssh_model import NO_LIGHT_DBM
from collector.ssh_profiles import CommandSpec, load_ssh_profiles

FIXTURES = Path(__file__).parent / "ssh_fixtures"
PROFILES = load_ssh_profiles()


def spec(platform: str, kind: str) -> CommandSpec:
    p = PROFILES.platform(platform)
    assert p is not None
    return p.commands[kind]  # type: ignore[index]


def parse(platform: str, kind: str, case: str) -> list[sp.Record]:
    text = (FIXTURES / f"{platform}__{kind}__{case}.txt").read_text(encoding="utf-8")
    return sp.records(spec(platform, kind), text)


def test_cisco_optics_thresholds_flags_and_no_light() -> None:
    optics = {
        o.interface: o for o in sp.optics(parse("cisco_ios", "optics", "flags_and_no_light"), True)
    }
    gi, te = optics["Gi0/1"], optics["Te1/1"]
    assert (gi.rx_dbm, gi.tx_dbm, gi.temperature_celsius) == (-21.3, -5.1, 34.5)
    assert gi.bias_amperes == pytest.approx(0.0123)
    assert dict(gi.thresholds)["rx_low_warning"] == -20.0
    assert dict(gi.thresholds)["rx_low_alarm"] == -22.0
    assert dict(gi.thresholds)["tx_high_alarm"] == -3.0
    assert te.rx_dbm == NO_LIGHT_DBM and dict(te.thresholds)["rx_low_alarm"] == -15.9


def test_cisco_optics_truncated_output_keeps_what_arrived() -> None:
    optics = sp.optics(parse("cisco_ios", "optics", "truncated"), True)
    assert [(o.interface, o.rx_dbm, o.temperature_celsius) for o in optics] == [
        ("Gi0/1", -7.3, 34.5)
    ]


def test_cisco_bgp_states_and_uptimes() -> None:
    peers = {p.neighbor: p for p in sp.bgp(parse("cisco_ios", "bgp", "idle_admin_and_timestamps"))}
    up = peers["10.64.1.1"]
    assert up.up and up.prefixes == 170 and up.uptime_seconds == 2 * 604800 + 3 * 86400
    assert up.remote_as == "65000"
    assert not peers["10.64.1.5"].up and peers["10.64.1.5"].state == "Active"
    assert peers["10.64.1.9"].state == "Idle (Admin)" and peers["10.64.1.9"].uptime_seconds is None


def test_cisco_bgp_not_configured_is_empty_not_unparseable() -> None:
    assert parse("cisco_ios", "bgp", "not_active") == []


def test_cisco_lldp_wrapped_description_and_unadvertised_names() -> None:
    nbrs = sp.lldp(parse("cisco_ios", "lldp", "wrapped_description"))
    assert [(n.interface, n.system_name, n.port) for n in nbrs] == [
        ("Gi0/0", "p50-dist1.moi.go.th", "GE1/0/4"),
        ("Gi0/1", "", "Gi0/3"),
    ]
    assert parse("cisco_ios", "lldp", "empty") == []


def test_cisco_ospf_states() -> None:
    peers = sp.ospf(parse("cisco_ios", "ospf", "states"))
    assert [(p.neighbor_id, p.up) for p in peers] == [
        ("10.255.3.4", True),
        ("10.255.3.8", True),  # 2-Way between DROthers is a normal adjacency
        ("10.255.3.9", False),
    ]


def test_huawei_optics_both_threshold_spellings_and_no_light() -> None:
    optics = {
        o.interface: o for o in sp.optics(parse("huawei_vrp", "optics", "threshold_variant"), False)
    }
    ge = optics["GigabitEthernet0/0/1"]
    assert (ge.rx_dbm, ge.tx_dbm, ge.temperature_celsius) == (-6.23, -4.12, 35.0)
    # "Rx Power Low Threshold" is the alarm level on the VRP versions that print only that
    assert dict(ge.thresholds) == {
        "rx_low_alarm": -20.0,
        "rx_high_alarm": -3.0,
        "tx_low_alarm": -9.5,
        "tx_high_alarm": -3.0,
    }
    xge = optics["XGigabitEthernet0/0/1"]
    assert xge.rx_dbm == -40.0 and dict(xge.thresholds)["rx_low_warning"] == -14.4


def test_huawei_ospf_peers_and_an_empty_table() -> None:
    peers = sp.ospf(parse("huawei_vrp", "ospf", "peers"))
    assert [(p.interface, p.neighbor_id, p.up) for p in peers] == [
        ("XGigabitEthernet0/0/0", "10.255.0.1", True),
        ("GigabitEthernet0/0/2", "10.255.51.1", False),
    ]
    assert parse("huawei_vrp", "ospf", "empty") == []


def test_juniper_optics_minus_inf_and_a_module_without_thresholds() -> None:
    optics = {
        o.interface: o for o in sp.optics(parse("juniper_junos", "optics", "no_light"), False)
    }
    a, b = optics["xe-0/1/0"], optics["xe-0/1/1"]
    assert a.rx_dbm == NO_LIGHT_DBM and a.tx_dbm == -2.24
    assert dict(a.thresholds)["rx_low_warning"] == -10.9
    assert dict(a.thresholds)["tx_low_alarm"] == -8.51
    assert b.rx_dbm == -5.2 and b.thresholds == ()


def test_juniper_bgp_keeps_down_peers_and_spaced_uptimes() -> None:
    peers = {p.neighbor: p for p in sp.bgp(parse("juniper_junos", "bgp", "down_peers"))}
    assert set(peers) == {"10.64.1.2", "10.64.1.6", "10.64.1.10"}
    est = peers["10.64.1.2"]
    assert est.up and est.prefixes == 24
    assert est.uptime_seconds == 604800 + 2 * 86400 + 3 * 3600 + 4 * 60 + 5
    assert [peers[n].state for n in ("10.64.1.6", "10.64.1.10")] == ["Active", "Connect"]


def test_mikrotik_neighbours_and_a_rejected_command() -> None:
    nbrs = sp.lldp(parse("mikrotik_routeros", "lldp", "neighbors"))
    assert [(n.interface, n.system_name, n.port) for n in nbrs] == [
        ("ether1", "p50-dist1", "GE1/0/7"),
        ("ether2", "office-switch", "ether24"),
    ]
    with pytest.raises(sp.Unparseable, match="rejected"):
        parse("mikrotik_routeros", "optics", "rejected")


@pytest.mark.parametrize(
    ("platform", "kind"),
    [(p, k) for p, s in PROFILES.platforms.items() for k in s.commands],
)
def test_text_no_template_reads_is_unparseable(platform: str, kind: str) -> None:
    garbage = "#### CLI output buffer overrun, data lost ####\n\x07 0x7f3a 0x0000\n"
    with pytest.raises(sp.Unparseable):
        sp.records(spec(platform, kind), garbage)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("00:12:34", 754),
        ("1d02h", 93600),
        ("2w3d", 1468800),
        ("1w2d 3:04:05", 788645),
        ("5:32", 332),
        ("0049h12m", 177120),
        ("1d2h3m4s", 93784),
        ("never", None),
        ("", None),
    ],
)
def test_durations(text: str, seconds: float | None) -> None:
    assert sp.duration(text) == seconds


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("-7.32", -7.32),
        ("-7.32dBm", -7.32),
        ("35C", 35.0),
        ("15mA", 15.0),
        ("- Inf", -40.0),
        ("-Inf", -40.0),
        ("N/A", None),
        ("", None),
        ("abc", None),
    ],
)
def test_numbers(text: str, value: float | None) -> None:
    assert sp.number(text) == value


def test_cisco_interfaces_status_counters_and_admin_down() -> None:
    rows = {r.name: r for r in sp.interfaces(parse("cisco_ios", "interfaces", "admin_down"))}
    up = rows["GigabitEthernet0/0"]
    assert (up.admin_up, up.oper_up, up.speed_bps) == (True, True, 10**9)
    assert up.description == "uplink to p50-dist1 GE1/0/4"
    assert dict(up.counters) == {
        "ifHCInOctets": 98765432,
        "ifHCOutOctets": 87654321,
        "ifHCInUcastPkts": 123456,
        "ifHCOutUcastPkts": 654321,
        "ifInErrors": 3,
        "ifOutErrors": 2,
    }
    down = rows["GigabitEthernet0/2"]
    assert (down.admin_up, down.oper_up) == (False, False)
    assert rows["Loopback0"].counters == ()  # no counter lines: none invented


def test_mikrotik_interfaces_flags() -> None:
    rows = sp.interfaces(parse("mikrotik_routeros", "interfaces", "disabled"))
    assert [(r.name, r.admin_up, r.oper_up) for r in rows] == [
        ("ether1", True, True),
        ("ether5", False, False),
        ("sfp1", True, False),
    ]
    assert dict(rows[0].counters)["ifInErrors"] == 3
