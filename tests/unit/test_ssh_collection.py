"""Logic of the SSH collection around the parsers: the cabling check, the commands file's
strict loading, the composite SNMP+SSH collector, the neighbour memory and the families."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from support.collector_lab import target

from collector import cabling
from collector.model import DeviceState, PollResult, ProbeResult, StatusResult, Target
from collector.multi_collector import MultiCollector
from collector.ssh_collector import SshCollector, SshHealth, _Device
from collector.ssh_model import LldpNeighbor, Optic, OspfPeer, SshData
from collector.ssh_profiles import load_ssh_profiles
from collector.ssh_session import HostKeys, SshError, classify
from exporters import ssh_families
from netmon.errors import ConfigError

EXPECTED = {
    "GigabitEthernet0/0": (
        "p50-dist1",
        "GE1/0/4",
        "d5005-edge1:GigabitEthernet0/0--p50-dist1:GE1/0/4",
    ),
    "GigabitEthernet0/2": (
        "p50-core1",
        "XGE1/0/1",
        "d5005-edge1:GigabitEthernet0/2--p50-core1:XGE1/0/1",
    ),
}
KNOWN = {"p50-dist1": "p50-dist1", "p50-core1": "p50-core1", "d5006-edge1": "d5006-edge1"}


def test_port_names_compare_across_abbreviations() -> None:
    assert cabling.port_key("Gi0/1") == cabling.port_key("GigabitEthernet0/1")
    assert cabling.port_key("GE1/0/4") == cabling.port_key("GigabitEthernet1/0/4")
    assert cabling.port_key("XGE1/0/1") == cabling.port_key("XGigabitEthernet1/0/1")
    assert cabling.port_key("Te1/1") == cabling.port_key("TenGigabitEthernet1/1")
    assert cabling.port_key("xe-0/1/0") != cabling.port_key("ge-0/1/0")
    assert cabling.port_key("Gi0/1") != cabling.port_key("Gi0/10")
    assert cabling.spelled("Gi0/0", EXPECTED) == "GigabitEthernet0/0"


def test_cabling_check_kinds() -> None:
    seen = [
        LldpNeighbor("Gi0/0", "p50-dist1.moi.go.th", "GigabitEthernet1/0/4"),  # right
        LldpNeighbor("Gi0/2", "P50-CORE1", "XGE1/0/7"),  # right device, wrong port
        LldpNeighbor("Gi0/1", "d5006-edge1", "ether1"),  # not a link in the inventory
        LldpNeighbor("Gi0/3", "ip-phone-0042", "eth0"),  # ordinary LAN neighbour
    ]
    mismatches, checked = cabling.check(seen, EXPECTED, KNOWN)
    assert checked == 2
    assert [(m.interface, m.kind, m.seen_device, m.seen_port) for m in mismatches] == [
        ("GigabitEthernet0/2", "wrong_port", "p50-core1", "XGE1/0/7"),
        ("Gi0/1", "unlisted_link", "d5006-edge1", "ether1"),
    ]
    assert mismatches[0].link.endswith("p50-core1:XGE1/0/1")
    wrong, _ = cabling.check([LldpNeighbor("Gi0/0", "p50-core1", "XGE1/0/9")], EXPECTED, KNOWN)
    assert wrong[0].kind == "wrong_device" and wrong[0].expected_device == "p50-dist1"
    stranger, _ = cabling.check([LldpNeighbor("Gi0/0", "isp-cpe", "0/1")], EXPECTED, KNOWN)
    assert stranger[0].kind == "unknown_neighbor" and stranger[0].seen_device == "isp-cpe"
    # a link without any LLDP neighbour (down, or LLDP off at the far end) is not a mismatch
    assert cabling.check([], EXPECTED, KNOWN) == ([], 0)


def test_the_commands_file_is_strict(tmp_path: Path) -> None:
    bad = tmp_path / "cmds.yaml"
    bad.write_text(
        "platforms:\n  cisco_ios:\n    device_type: cisco_ios\n    commands:\n"
        "      bgp: {command: show ip bgp summary, template: ntc:cisco_ios_show_ip_bgp_summary,\n"
        "            fields: {neighbor: NO_SUCH_VALUE, state: STATE_OR_PREFIXES_RECEIVED}}\n"
    )
    with pytest.raises(ConfigError, match=r"cmds.yaml:\d+:\d+: .*has no Value \['NO_SUCH_VALUE'\]"):
        load_ssh_profiles(bad)
    bad.write_text("platforms:\n  cisco_ios:\n    device_typo: cisco_ios\n    commands: {}\n")
    with pytest.raises(ConfigError, match=r"cmds\.yaml:3:5"):
        load_ssh_profiles(bad)


def test_secrets_never_reach_an_error_message() -> None:
    err = classify(RuntimeError("login as netmon with s3cr3t-pw refused"), ("s3cr3t-pw",))
    assert "s3cr3t-pw" not in str(err) and "***" in str(err)


class FakeSnmp:
    def __init__(self) -> None:
        self.calls = 0
        self.forgotten: list[str] = []

    async def collect(self, t: Target) -> PollResult:
        self.calls += 1
        return PollResult(ok=True, varbinds=1)

    async def poll_status(self, t: Target) -> StatusResult | None:
        return StatusResult(ok=True)

    def forget(self, name: str) -> None:
        self.forgotten.append(name)

    async def probe(self, t: Target) -> ProbeResult:
        return ProbeResult(True)

    def reset_transports(self) -> str:  # not a Collector method: reached by delegation
        return "reset"


class FakeSsh(SshCollector):
    def __init__(self, fail: bool = False) -> None:
        super().__init__(load_ssh_profiles(), HostKeys(None))
        self.fail = fail
        self.polls = 0

    async def poll(self, t: Target) -> SshData:
        self.polls += 1
        if self.fail:
            raise SshError("timeout", "no answer")
        return SshData(collected_at=1.0, optics=(Optic("Gi0/0", rx_dbm=-5.0),))


def dual(name: str = "d1001-edge1") -> Target:
    from dataclasses import replace

    return replace(target(name), methods=("snmp", "ssh"))


def test_a_dual_device_gets_ssh_data_on_its_snmp_result_at_the_ssh_interval() -> None:
    now = [1000.0]
    snmp, ssh = FakeSnmp(), FakeSsh()
    multi = MultiCollector(snmp, ssh, ssh_interval=300, clock=lambda: now[0])

    async def go() -> list[PollResult]:
        out = []
        for step in (0, 60, 60, 200):  # t = 1000, 1060, 1120, 1320
            now[0] += step
            out.append(await multi.collect(dual()))
            await asyncio.sleep(0)  # the background SSH poll ends
        return out

    results = asyncio.run(go())
    assert ssh.polls == 2 and snmp.calls == 4  # SSH at 1000 and 1320 only
    # SNMP never waits for SSH: the first result has none yet; then the last good data rides
    assert [r.ssh is not None for r in results] == [False, True, True, True]
    assert asyncio.run(multi.probe(dual())).answered  # SNMP's probe
    assert multi.reset_transports() == "reset"  # anything else: delegated to SNMP
    multi.forget("d1001-edge1")
    assert snmp.forgotten == ["d1001-edge1"]


def test_an_ssh_failure_never_marks_a_dual_device_down() -> None:
    multi = MultiCollector(FakeSnmp(), FakeSsh(fail=True), ssh_interval=0)

    async def go() -> list[PollResult]:
        out = []
        for _ in range(3):
            out.append(await multi.collect(dual()))
            await asyncio.sleep(0)
        return out

    assert all(r.ok and r.ssh is None for r in asyncio.run(go()))


def test_a_cli_only_device_is_the_ssh_poll() -> None:
    from dataclasses import replace

    cli = replace(target("d1002-edge1"), methods=("ssh",))
    snmp, ssh = FakeSnmp(), FakeSsh()
    multi = MultiCollector(snmp, ssh)
    result = asyncio.run(multi.collect(cli))
    assert result.ok and result.ssh is not None and snmp.calls == 0
    assert asyncio.run(multi.poll_status(cli)) is None
    failing = MultiCollector(snmp, FakeSsh(fail=True))
    bad = asyncio.run(failing.collect(cli))
    assert not bad.ok and bad.error_kind == "ssh_timeout"


def test_a_vanished_ospf_neighbour_is_reported_down() -> None:
    dev = _Device.__new__(_Device)
    dev.seen_ospf = {}
    first = SshCollector._remember_ospf(
        dev, [OspfPeer("10.0.0.1", "Gi0/0", "FULL", True)], 0, False
    )
    assert [p.up for p in first] == [True]
    later = SshCollector._remember_ospf(dev, [], 60, False)
    assert [(p.neighbor_id, p.up, p.state) for p in later] == [("10.0.0.1", False, "Down")]
    assert SshCollector._remember_ospf(dev, [], 120, True) == []  # unparseable: no guess
    assert SshCollector._remember_ospf(dev, [], 10 * 86400, False) == []  # forgotten


def test_families_carry_topology_and_link_labels() -> None:
    t = target("d1001-edge1", uplinks=("Gi0/0",))
    data = SshData(
        collected_at=5.0,
        optics=(Optic("Gi0/0", rx_dbm=-7.5, thresholds=(("rx_low_warning", -14.0),)),),
    )
    state = DeviceState(target=t, up=True, last=PollResult(ok=True, ssh=data), polls=1)
    health: dict[str, Any] = {t.name: SshHealth(polls=3, up=True)}
    health[t.name].errors["timeout"] = 2
    fams = {f.name: f for f in ssh_families.families([state], health)}
    ((labels, value),) = fams["netmon_optics_rx_power_dbm"].samples
    pairs = dict(labels.pairs)
    assert value == -7.5 and pairs["link"] == "d1001-edge1:Gi0/0--up:x"
    assert pairs["province"] == "Bangkok" and pairs["interface"] == "Gi0/0"
    assert fams["netmon_optics_rx_power_low_warning_threshold_dbm"].samples[0][1] == -14.0
    assert fams["netmon_cabling_mismatches"].samples[0][1] == 0
    ((err_labels, n),) = fams["netmon_ssh_poll_errors_total"].samples
    assert dict(err_labels.pairs)["kind"] == "timeout" and n == 2
    down = DeviceState(target=t, up=False, last=PollResult(ok=True, ssh=data), polls=1)
    assert ssh_families.families([down])[0].samples == []  # a down device publishes no tables


def test_a_cli_only_device_is_probed_on_its_ssh_port() -> None:
    from dataclasses import replace

    from netmon.ports import free_tcp_port

    async def go() -> tuple[bool, bool, str | None]:
        async def banner(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            w.write(b"SSH-2.0-test\r\n")
            await w.drain()
            w.close()

        server = await asyncio.start_server(banner, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        ssh = SshCollector(load_ssh_profiles(), HostKeys(None), port_override=port)
        t = replace(target("d1002-edge1"), methods=("ssh",))
        answered = await MultiCollector(FakeSnmp(), ssh).probe(t)
        server.close()
        await server.wait_closed()
        closed = SshCollector(load_ssh_profiles(), HostKeys(None), port_override=free_tcp_port())
        refused = await closed.probe(t)
        ssh.close()
        closed.close()
        return answered.answered, refused.answered, refused.error_kind

    # a refusal is an answer too: the device is there, its SSH service is not
    assert asyncio.run(go()) == (True, True, "refused")


def test_known_hosts_without_starting_the_simulator_match_its_keys() -> None:
    import os
    import tempfile
    import time

    from support.ssh_lab import write_ssh_inventory

    from netmon.simulator.backbone import Backbone, build
    from netmon.simulator.secrets import SIMULATION_SECRETS
    from netmon.simulator.ssh_server import SshSimulator
    from netmon.simulator.ssh_setup import known_hosts

    os.environ.update({k: v for k, v in SIMULATION_SECRETS.items() if k not in os.environ})
    inv = write_ssh_inventory(Path(tempfile.mkdtemp()), net=63)
    nodes, links = build(inv, now=time.time(), v3_factory=lambda *a: None)  # type: ignore[arg-type,return-value]
    sim = SshSimulator(Backbone(nodes, links), {"cmi-dist-01": ("netmon", "x")}, port=2222)
    mine = [line for line in known_hosts(inv, 2222).splitlines() if "127.63.50.1]" in line]
    assert mine == sim.known_hosts().splitlines()
