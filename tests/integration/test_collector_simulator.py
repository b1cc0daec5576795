"""`netmon run` against `netmon simulate` with failures injected by `netmon control`: a link
down shows within the fast status interval, dead/slow devices do not hold back the others,
garbage, walk loops and an empty SNMP view (noSuchObject) are reported per device and never
stall the collector."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from support.collector_lab import fetch, value_of
from support.procs import free_tcp_port, free_udp_port, http_ok, running, wait_for

from netmon.inventory.model import Inventory, SnmpV3
from netmon.simulator.testbed import SECRETS, V3_USER, small_inventory, write_inventory

pytestmark = pytest.mark.integration

NETMON = [sys.executable, "-m", "netmon.cli"]
SLOW_POLLED = "cmi-dist-01"  # full poll every 60 s: only the status poll can see its link go


@dataclass
class Bed:
    control: int
    metrics: str
    link: tuple[str, str]  # (device, interface) of a link of SLOW_POLLED
    port: int
    inventory: Inventory

    def control_cli(self, *args: str) -> None:
        out = subprocess.run(
            [*NETMON, "control", "--control-port", str(self.control), *args],
            capture_output=True,
            text=True,
            timeout=20,
        )
        assert out.returncode == 0, out.stderr

    def text(self) -> str:
        return fetch(self.metrics)

    def value(self, name: str, **labels: str) -> float | None:
        return value_of(self.text(), name, **labels)

    def polls(self, device: str) -> float:
        return self.value("netmon_device_polls_total", device=device) or 0.0


@pytest.fixture(scope="module")
def bed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bed]:
    tmp = tmp_path_factory.mktemp("collector-sim")
    net = random.Random(os.getpid() + 7).randrange(100, 250)
    inv_dir = tmp / "inventory"
    write_inventory(inv_dir, net=net)
    (inv_dir / "defaults.yaml").write_text(
        json.dumps({"defaults": {"credentials": "sim-v2c", "poll_interval": 1.5,
                                 "status_interval": 0.5}})
    )  # fmt: skip
    province = inv_dir / "provinces" / "50-chiang-mai.yaml"
    data = json.loads(province.read_text())
    for site in data["sites"]:
        for device in site.get("devices", []):
            if device["name"] == SLOW_POLLED:
                device["poll_interval"] = 60
    province.write_text(json.dumps(data, ensure_ascii=False))
    inv = small_inventory(net)
    link = next(
        (end.device, end.interface)
        for _, lk in inv.links()
        for end in (lk.a, lk.b)
        if end.device == SLOW_POLLED
    )
    port, control, metrics_port = free_udp_port(), free_tcp_port(), free_tcp_port()
    sim = [*NETMON, "simulate", "--inventory", str(inv_dir), "--port", str(port)]
    sim += ["--control-port", str(control)]
    run = [*NETMON, "run", "--inventory", str(inv_dir), "--port-override", str(port)]
    run += ["--listen", f"127.0.0.1:{metrics_port}"]
    bed = Bed(control, f"http://127.0.0.1:{metrics_port}/metrics", link, port, inv)

    def all_up() -> bool:
        text = bed.text()
        return all(value_of(text, "netmon_device_up", device=d.name) == 1 for _, d in inv.devices())

    with (
        running(
            sim,
            log=tmp / "simulate.log",
            env=SECRETS,
            ready=lambda: http_ok(f"http://127.0.0.1:{control}/status"),
        ),
        running(run, log=tmp / "netmon.log", env=SECRETS, ready=all_up, timeout=30),
    ):
        yield bed


IF_COUNTERS = {
    "ifHCInOctets": "1.3.6.1.2.1.31.1.1.1.6",
    "ifHCOutOctets": "1.3.6.1.2.1.31.1.1.1.10",
    "ifHCInUcastPkts": "1.3.6.1.2.1.31.1.1.1.7",
    "ifInErrors": "1.3.6.1.2.1.2.2.1.14",
    "ifOutDiscards": "1.3.6.1.2.1.2.2.1.19",
}
IF_GAUGES = {
    "ifOperStatus": "1.3.6.1.2.1.2.2.1.8",
    "ifAdminStatus": "1.3.6.1.2.1.2.2.1.7",
    "ifHighSpeed": "1.3.6.1.2.1.31.1.1.1.15",
}
SYS_UPTIME, SYS_NAME = "1.3.6.1.2.1.1.3.0", "1.3.6.1.2.1.1.5.0"


def snmpget(bed: Bed, device: str, oids: list[str]) -> list[str]:
    """Values as net-snmp's snmpget prints them (-Oqvt: bare numbers, unquoted text)."""
    dev = bed.inventory.device(device)
    assert dev is not None
    snmp = bed.inventory.profile_of(dev).snmp
    if isinstance(snmp, SnmpV3):
        auth = ["-v3", "-l", "authPriv", "-u", V3_USER, "-a", "SHA-256", "-x", "AES"]
        auth += ["-A", SECRETS["NETMON_SIM_V3_AUTH"], "-X", SECRETS["NETMON_SIM_V3_PRIV"]]
    else:
        auth = ["-v2c", "-c", SECRETS["NETMON_SIM_COMMUNITY"]]
    target = f"{dev.address}:{bed.port}"
    out = subprocess.run(
        ["snmpget", *auth, "-On", "-Oqvt", "-t", "2", "-r", "2", target, *oids],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return [line.strip().strip('"') for line in out.stdout.splitlines()]


@pytest.mark.parametrize("device", ["bkk-core-01", "cmi-5001-edge-01"])  # v2c; v3 authPriv
def test_metrics_equal_what_snmpget_reads(bed: Bed, device: str) -> None:
    from support.collector_lab import parse_metrics

    rows = {
        lab["ifIndex"]: lab
        for n, lab, _ in parse_metrics(bed.text())
        if n == "ifHCInOctets" and lab.get("device") == device
    }
    assert rows, "no interfaces exported"
    counter_oids = [f"{o}.{i}" for o in IF_COUNTERS.values() for i in rows] + [SYS_UPTIME]
    before = [int(v) for v in snmpget(bed, device, counter_oids)]
    polls = bed.polls(device)
    # Two polls later, one poll surely started after `before` was read.
    wait_for(lambda: bed.polls(device) >= polls + 2, 20, "two more polls")
    text = bed.text()
    after = [int(v) for v in snmpget(bed, device, counter_oids)]
    k = 0
    for name in IF_COUNTERS:
        for index in rows:
            got = value_of(text, name, device=device, ifIndex=index)
            assert got is not None and before[k] <= got <= after[k], (name, index)
            k += 1
    uptime = value_of(text, "sysUpTime", device=device)
    assert uptime is not None and before[-1] <= uptime <= after[-1]
    assert before[0] < after[0] or before[1] < after[1]  # traffic flows: the check has teeth

    label_oids = [f"1.3.6.1.2.1.31.1.1.1.{c}.{i}" for i in rows for c in (1, 18)]  # name, alias
    gauge_oids = [f"{o}.{i}" for o in IF_GAUGES.values() for i in rows]
    read = snmpget(bed, device, [*label_oids, *gauge_oids, SYS_NAME])
    for j, index in enumerate(rows):
        assert (rows[index]["ifName"], rows[index]["ifAlias"]) == (read[2 * j], read[2 * j + 1])
    k = len(label_oids)
    for name in IF_GAUGES:
        for index in rows:
            assert value_of(text, name, device=device, ifIndex=index) == int(read[k]), name
            k += 1
    info = [lab for n, lab, _ in parse_metrics(text) if n == "netmon_device_info"]
    assert {lab["sys_name"] for lab in info if lab["device"] == device} == {read[-1]}


def test_link_down_shows_within_the_status_interval(bed: Bed) -> None:
    device, interface = bed.link
    polls = bed.polls(device)
    bed.control_cli("link-down", device, interface)
    try:
        t0 = time.monotonic()
        wait_for(
            lambda: bed.value("ifOperStatus", device=device, ifName=interface) == 2,
            10,
            "ifOperStatus down",
        )
        seen = time.monotonic() - t0
        # the full poll (every 60 s) did not run: the fast status poll saw it
        assert bed.polls(device) == polls
        assert seen < 5.0
    finally:
        bed.control_cli("link-up", device, interface)
    wait_for(lambda: bed.value("ifOperStatus", device=device, ifName=interface) == 1, 10, "back up")


def test_dead_and_slow_devices_do_not_hold_back_the_others(bed: Bed) -> None:
    bed.control_cli("dead", "cmi-dist-02")
    bed.control_cli("slow", "cmi-5001-edge-01", "300")
    try:
        wait_for(
            lambda: (bed.value("netmon_poll_timeouts_total", device="cmi-dist-02") or 0) >= 1,
            20,
            "the dead device's timeout",
        )
        healthy = bed.polls("bkk-core-01")
        slow = bed.polls("cmi-5001-edge-01")
        wait_for(lambda: bed.polls("bkk-core-01") >= healthy + 3, 20, "healthy keeps polling")
        text = bed.text()
        assert value_of(text, "netmon_device_up", device="cmi-dist-02") == 0
        assert value_of(text, "netmon_device_up", device="bkk-core-01") == 1
        # the healthy device's polls stay short while the dead one uses its whole deadline
        duration = value_of(text, "netmon_poll_duration_seconds", device="bkk-core-01")
        assert duration is not None and duration < 1.0
        assert value_of(text, "netmon_poll_skipped_total", device="bkk-core-01") == 0
        wait_for(lambda: bed.polls("cmi-5001-edge-01") > slow, 20, "the slow device polled")
        slow_duration = bed.value("netmon_poll_duration_seconds", device="cmi-5001-edge-01")
        assert slow_duration is not None and slow_duration >= 0.3
        assert bed.value("netmon_device_up", device="cmi-5001-edge-01") == 1
    finally:
        bed.control_cli("clear")


@pytest.mark.parametrize("fault", ["garbage", "walk-loop", "no-view"])
def test_bad_answers_are_reported_per_device(bed: Bed, fault: str) -> None:
    victim = "cmi-dist-02"
    wait_for(lambda: bed.value("netmon_device_up", device=victim) == 1, 20, "victim up")
    before = bed.text()
    errors_before = sum(
        v
        for n, lab, v in _samples(before)
        if n == "netmon_poll_errors_total" and lab.get("device") == victim
    )
    bed.control_cli(fault, victim)
    try:
        wait_for(
            lambda: (
                sum(
                    v
                    for n, lab, v in _samples(bed.text())
                    if n == "netmon_poll_errors_total" and lab.get("device") == victim
                )
                > errors_before
            ),
            20,
            f"{fault} reported",
        )
        text = bed.text()
        kinds = {
            lab["kind"]
            for n, lab, _ in _samples(text)
            if n == "netmon_poll_errors_total" and lab.get("device") == victim
        }
        expected = {
            "garbage": {"garbage", "timeout"},
            "walk-loop": {"walk_loop"},
            "no-view": {"no_such_object"},
        }[fault]
        assert kinds & expected, kinds
        assert value_of(text, "netmon_device_up", device=victim) == 0
        healthy = bed.polls("bkk-core-01")
        wait_for(lambda: bed.polls("bkk-core-01") >= healthy + 2, 20, "others keep polling")
    finally:
        bed.control_cli("clear")


def _samples(text: str) -> list[tuple[str, dict[str, str], float]]:
    from support.collector_lab import parse_metrics

    return parse_metrics(text)
