"""netmiko against the simulated SSH devices (Junos, VRP, RouterOS, IOS-XE), through `netmon
run`'s Service: the SSH metrics appear in /metrics and follow the simulator's state (a link
taken down, a degraded optic, a miscabling), a device that hangs mid-command is cut off at its
deadline without delaying the others, unparseable output is counted while the rest of the
device's data still publishes, and host keys are checked."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.ssh_lab import CLI_ONLY, SSH_TIMEOUT, SshLab

from collector.ssh_collector import SshCollector
from collector.ssh_profiles import load_ssh_profiles
from collector.ssh_session import HostKeys, SshError
from netmon.ports import free_tcp_port
from netmon.simulator.ssh_server import SshSimulator
from netmon.simulator.ssh_setup import logins

pytestmark = pytest.mark.integration

DEVICES = ("bkk-core-01", "cmi-dist-01", "cmi-dist-02", "cmi-5001-edge-01")


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshLab]:
    lab = SshLab(tmp_path_factory.mktemp("ssh-lab"), net=61).start()
    try:
        lab.wait(
            "every device's SSH data on its SNMP poll",
            lambda: (
                {lab_["device"] for lab_, _ in lab.series("netmon_ssh_data_timestamp_seconds")}
                == set(DEVICES)
            ),
        )
        yield lab
    finally:
        lab.stop()


def by(series: list[tuple[dict[str, str], float]], *keys: str) -> dict[tuple[str, ...], float]:
    return {tuple(lab[k] for k in keys): v for lab, v in series}


def fresh_after(lab: SshLab, device: str, t: float) -> bool:
    """Has ``device`` had a successful SSH poll that started after unix time ``t``?"""
    got = by(lab.series("netmon_ssh_data_timestamp_seconds", device=device), "device")
    return got.get((device,), 0) > t + 1.0


def test_every_platform_matches_the_simulator(lab: SshLab) -> None:
    for device in DEVICES:
        peers = lab.do(lambda d=device: lab.book.view(d).peers())
        bgp = by(lab.series("netmon_bgp_neighbor_up", device=device), "neighbor")
        assert len(bgp) == len(peers) and set(bgp.values()) == {1.0}, (device, bgp)
        ospf = by(lab.series("netmon_ospf_neighbor_up", device=device), "interface")
        assert ospf == {(p.interface,): 1.0 for p in peers}, device
        lldp = by(
            lab.series("netmon_lldp_neighbor_info", device=device),
            "interface",
            "neighbor_device",
            "neighbor_port",
        )
        assert set(lldp) == {(p.interface, p.device, p.port) for p in peers}, device
        assert by(lab.series("netmon_cabling_mismatches", device=device), "device") == {
            (device,): 0.0
        }
        checked = by(lab.series("netmon_cabling_checked_links", device=device), "device")
        assert checked == {(device,): float(len(peers))}
        rx = by(lab.series("netmon_optics_rx_power_dbm", device=device), "interface")
        assert set(rx) == {(p.interface,) for p in peers}, device
        for (iface,), value in rx.items():
            want = lab.do(
                lambda d=device, i=iface: lab.book.view(d).optic(
                    lab.backbone.interface(d, i), time.time()
                )
            )
            assert want.rx is not None and abs(value - want.rx) < 0.3, (device, iface)
        assert lab.series("netmon_ssh_poll_errors_total", device=device) == []
    # thresholds come from the devices (RouterOS prints none)
    lows = by(lab.series("netmon_optics_rx_power_low_warning_threshold_dbm"), "device")
    assert set(lows) == {(d,) for d in DEVICES if d != "cmi-dist-02"}
    # the link label joins CLI series with the IF-MIB ones
    uplink = lab.series("netmon_optics_rx_power_dbm", device="cmi-5001-edge-01")[0][0]
    assert (
        uplink["link"] == "cmi-5001-edge-01:GigabitEthernet0/0/0--cmi-dist-01:GigabitEthernet0/0/2"
    )


def test_a_cli_only_device_has_the_snmp_interface_series(lab: SshLab) -> None:
    """Interface status and counters read from the CLI, under the IF-MIB names and labels."""
    sim = lab.do(
        lambda: [
            (i.spec.name, i.oper_up, i.spec.admin_up)
            for i in lab.backbone.node(CLI_ONLY).dev.interfaces
        ]
    )
    oper = by(lab.series("ifOperStatus", device=CLI_ONLY), "ifName")
    admin = by(lab.series("ifAdminStatus", device=CLI_ONLY), "ifName")
    assert oper == {(n,): 1.0 if up else 2.0 for n, up, _ in sim}
    assert admin == {(n,): 1.0 if a else 2.0 for n, _, a in sim}
    octets = lab.series("ifHCInOctets", device=CLI_ONLY, ifName="sfp-sfpplus1")
    assert octets and octets[0][1] > 0 and octets[0][0]["link"].startswith(f"{CLI_ONLY}:")
    assert by(lab.series("netmon_device_up", device=CLI_ONLY), "device") == {(CLI_ONLY,): 1.0}
    # its uplink taken down at the far end shows on the next CLI poll
    lab.do(lab.backbone.link, "bkk-core-01", "xe-0/0/1", False)
    try:
        lab.wait(
            "ifOperStatus down from the CLI",
            lambda: (
                by(lab.series("ifOperStatus", device=CLI_ONLY), "ifName").get(("sfp-sfpplus1",))
                == 2.0
            ),
        )
    finally:
        lab.do(lab.backbone.link, "bkk-core-01", "xe-0/0/1", True)
    lab.wait(
        "ifOperStatus up again",
        lambda: (
            by(lab.series("ifOperStatus", device=CLI_ONLY), "ifName").get(("sfp-sfpplus1",)) == 1.0
        ),
    )


def test_a_link_taken_down_shows_in_the_cli_data(lab: SshLab) -> None:
    hub, port = "cmi-dist-01", "GigabitEthernet0/0/2"
    edge, edge_port = "cmi-5001-edge-01", "GigabitEthernet0/0/0"
    lab.do(lab.backbone.link, hub, port, False)
    try:

        def down() -> bool:
            ospf = by(lab.series("netmon_ospf_neighbor_up", device=hub), "interface")
            rx = by(lab.series("netmon_optics_rx_power_dbm", device=edge), "interface")
            lldp = by(lab.series("netmon_lldp_neighbor_info", device=hub), "interface")
            bgp = lab.series("netmon_bgp_neighbor_up", device=edge)
            return (
                ospf.get((port,)) == 0.0
                and rx.get((edge_port,)) == -40.0
                and (port,) not in lldp
                and bool(bgp)
                and all(v == 0.0 for _, v in bgp)
            )

        lab.wait("the link's neighbours down and no light", down)
        # the SNMP side agrees: the same device state
        status = lab.series("ifOperStatus", device=hub, ifName=port)
        assert status and status[0][1] == 2.0
    finally:
        lab.do(lab.backbone.link, hub, port, True)
    lab.wait(
        "the adjacency back",
        lambda: (
            by(lab.series("netmon_ospf_neighbor_up", device=hub), "interface").get((port,)) == 1.0
        ),
    )


def test_a_degraded_optic_crosses_its_own_warning_threshold(lab: SshLab) -> None:
    device, iface = "bkk-core-01", "xe-0/0/0"
    lab.do(lab.book.control, "optic_degrade", {"device": device, "interface": iface, "db": 12})
    try:

        def degraded() -> tuple[float, float] | None:
            rx = by(lab.series("netmon_optics_rx_power_dbm", device=device), "interface")
            low = by(
                lab.series("netmon_optics_rx_power_low_warning_threshold_dbm", device=device),
                "interface",
            )
            if (iface,) in rx and rx[(iface,)] < low.get((iface,), -99):
                return rx[(iface,)], low[(iface,)]
            return None

        value, threshold = lab.wait("Rx below the warning threshold", degraded)
        want = lab.do(
            lambda: lab.book.view(device).optic(lab.backbone.interface(device, iface), time.time())
        )
        assert abs(value - want.rx) < 0.3 and threshold == -14.0
    finally:
        lab.do(
            lab.book.control, "optic_degrade", {"device": device, "interface": iface, "heal": True}
        )


def test_a_miscabling_is_flagged_against_the_inventory(lab: SshLab) -> None:
    edge, port = "cmi-5001-edge-01", "GigabitEthernet0/0/0"
    core, core_port = "bkk-core-01", "xe-0/0/0"
    lab.do(
        lab.book.control,
        "miscable",
        {
            "device": edge,
            "interface": port,
            "peer_device": "cmi-dist-02",
            "peer_interface": "ether5",
        },
    )
    lab.do(
        lab.book.control,
        "miscable",
        {
            "device": core,
            "interface": core_port,
            "peer_device": "cmi-dist-01",
            "peer_interface": "GigabitEthernet0/0/9",
        },
    )
    try:
        found = lab.wait(
            "both mismatches",
            lambda: (
                len(lab.series("netmon_cabling_mismatch")) == 2
                and lab.series("netmon_cabling_mismatch")
            ),
        )
        got = {lab_["device"]: lab_ for lab_, _ in found}
        assert got[edge]["kind"] == "wrong_device"
        assert (got[edge]["expected_device"], got[edge]["expected_port"]) == (
            "cmi-dist-01",
            "GigabitEthernet0/0/2",
        )
        assert (got[edge]["seen_device"], got[edge]["seen_port"]) == ("cmi-dist-02", "ether5")
        assert got[edge]["link"].startswith(f"{edge}:{port}--")
        assert got[core]["kind"] == "wrong_port"
        assert got[core]["seen_port"] == "GigabitEthernet0/0/9"
        counts = by(lab.series("netmon_cabling_mismatches"), "device")
        assert counts[(edge,)] == 1.0 and counts[(core,)] == 1.0
    finally:
        for d, i in ((edge, port), (core, core_port)):
            lab.do(lab.book.control, "miscable", {"device": d, "interface": i, "heal": True})
    lab.wait("no mismatch", lambda: not lab.series("netmon_cabling_mismatch"))


def test_a_device_hanging_mid_command_is_cut_off_without_delaying_others(lab: SshLab) -> None:
    hung = "cmi-dist-01"
    started = time.time()
    lab.do(lab.book.control, "ssh_hang", {"device": hung})
    try:
        lab.wait(
            "a timeout counted",
            lambda: (
                by(lab.series("netmon_ssh_poll_errors_total", device=hung), "kind").get(
                    ("timeout",), 0
                )
                >= 1
            ),
        )
        duration = by(lab.series("netmon_ssh_poll_duration_seconds", device=hung), "device")
        assert duration[(hung,)] <= SSH_TIMEOUT + 2.0
        assert by(lab.series("netmon_ssh_up", device=hung), "device") == {(hung,): 0.0}
        others = [d for d in DEVICES if d != hung]
        lab.wait(
            "the others polled meanwhile", lambda: all(fresh_after(lab, d, started) for d in others)
        )
    finally:
        lab.do(lab.book.control, "ssh_hang", {"device": hung, "heal": True})
    healed = time.time()
    lab.wait("the hung device back", lambda: fresh_after(lab, hung, healed))


def test_unparseable_output_is_counted_and_the_rest_still_publishes(
    lab: SshLab, caplog: pytest.LogCaptureFixture
) -> None:
    device = "cmi-5001-edge-01"
    caplog.set_level(logging.WARNING, logger="collector.ssh_collector")
    lab.do(lab.book.control, "ssh_garbage", {"device": device, "kind": "optics"})
    started = time.time()
    try:
        lab.wait(
            "unparseable optics counted",
            lambda: (
                by(lab.series("netmon_ssh_unparseable_total", device=device), "command").get(
                    ("optics",), 0
                )
                >= 2
                and fresh_after(lab, device, started)
            ),
        )
        assert lab.series("netmon_optics_rx_power_dbm", device=device) == []
        assert lab.series("netmon_bgp_neighbor_up", device=device)
        assert lab.series("netmon_lldp_neighbor_info", device=device)
        assert by(lab.series("netmon_ssh_up", device=device), "device") == {(device,): 1.0}
        samples = [r for r in caplog.records if "unparseable output" in r.getMessage()]
        assert len(samples) == 1 and device in samples[0].getMessage()
        assert "buffer overrun" in samples[0].getMessage()
    finally:
        lab.do(lab.book.control, "ssh_garbage", {"device": device, "kind": "optics", "heal": True})
    lab.wait("optics back", lambda: lab.series("netmon_optics_rx_power_dbm", device=device))


def test_host_keys_are_checked(lab: SshLab, tmp_path: Path) -> None:
    """Another key on a device's address:port than the known-hosts file says is refused; an
    unknown one too, unless trust on first use is on (then it is recorded)."""
    port = free_tcp_port()
    device = "cmi-dist-02"
    target = lab.service.scheduler.states[device].target

    async def start_other() -> SshSimulator:
        other = SshSimulator(
            lab.backbone, {device: logins(lab.inventory)[device]}, port=port, key_seed="rekeyed"
        )
        await other.start()
        return other

    other = lab.call(start_other())
    try:
        known = lab.known_hosts.read_text().replace(f"]:{lab.ssh_port} ", f"]:{port} ")
        changed = tmp_path / "changed"
        changed.write_text(known)
        empty = tmp_path / "empty"
        empty.write_text("")

        def attempt(keys: HostKeys) -> str:
            collector = SshCollector(load_ssh_profiles(), keys, port_override=port)

            async def go() -> str:
                try:
                    await collector.poll(target)
                except SshError as exc:
                    return exc.kind
                finally:
                    collector.close()
                return "ok"

            return lab.call(go())

        assert attempt(HostKeys(changed)) == "host_key"
        assert attempt(HostKeys(empty)) == "unknown_host"
        assert attempt(HostKeys(None)) == "unknown_host"
        assert attempt(HostKeys(empty, trust_on_first_use=True)) == "ok"
        recorded = empty.read_text()
        assert "127.61.50.2" in recorded and f":{port}" in recorded
        assert attempt(HostKeys(empty)) == "ok"  # now known
        assert attempt(HostKeys(changed, trust_on_first_use=True)) == "host_key"
    finally:
        lab.call(other.stop())
