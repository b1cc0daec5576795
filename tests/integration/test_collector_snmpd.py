"""`netmon run` against a real net-snmp snmpd on loopback: /metrics equals what snmpget reads,
SNMPv3 authPriv works, a dead device is reported per device, and the inventory hot-reloads."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.collector_lab import (
    COMMUNITY,
    LAB_ENV,
    fetch,
    lab_device,
    snmpd_argv,
    value_of,
    write_lab_inventory,
)
from support.procs import free_tcp_port, free_udp_port, running, wait_for

pytestmark = pytest.mark.integration

if shutil.which("snmpd") is None or shutil.which("snmpget") is None:  # pragma: no cover
    pytest.skip("net-snmp snmpd/snmpget not installed", allow_module_level=True)

NETMON = [sys.executable, "-m", "netmon.cli"]
IF_COLUMNS = {
    "ifHCInOctets": "1.3.6.1.2.1.31.1.1.1.6",
    "ifHCOutOctets": "1.3.6.1.2.1.31.1.1.1.10",
    "ifHCInUcastPkts": "1.3.6.1.2.1.31.1.1.1.7",
    "ifHCOutUcastPkts": "1.3.6.1.2.1.31.1.1.1.11",
    "ifInErrors": "1.3.6.1.2.1.2.2.1.14",
    "ifOutErrors": "1.3.6.1.2.1.2.2.1.20",
    "ifInDiscards": "1.3.6.1.2.1.2.2.1.13",
    "ifOutDiscards": "1.3.6.1.2.1.2.2.1.19",
}
EXACT = {
    "ifOperStatus": "1.3.6.1.2.1.2.2.1.8",
    "ifAdminStatus": "1.3.6.1.2.1.2.2.1.7",
    "ifHighSpeed": "1.3.6.1.2.1.31.1.1.1.15",
    "ifLastChange": "1.3.6.1.2.1.2.2.1.9",
    "ifType": "1.3.6.1.2.1.2.2.1.3",
}


class Lab:
    def __init__(self, tmp: Path, snmp_port: int, metrics_port: int) -> None:
        self.tmp = tmp
        self.inventory = tmp / "inventory"
        self.snmp_port = snmp_port
        self.url = f"http://127.0.0.1:{metrics_port}/metrics"
        self.proc: subprocess.Popen[bytes] | None = None

    def metrics(self) -> str:
        return fetch(self.url)

    def snmpget(self, oid: str, address: str = "127.0.0.1") -> str:
        out = subprocess.run(
            [
                "snmpget",
                "-v2c",
                "-c",
                COMMUNITY,
                "-On",
                "-Oqvt",
                "-t",
                "2",
                "-r",
                "2",
                f"{address}:{self.snmp_port}",
                oid,
            ],
            capture_output=True,
            text=True,
            timeout=20,
            env={**os.environ, "MIBS": "", "MIBDIRS": "/nonexistent"},
        )
        assert out.returncode == 0, out.stderr
        return out.stdout.strip().strip('"')

    def polls(self, device: str) -> float:
        return value_of(self.metrics(), "netmon_device_polls_total", device=device) or 0.0

    def wait_new_poll(self, device: str) -> None:
        start = self.polls(device)
        wait_for(lambda: self.polls(device) > start, 20, f"a new poll of {device}")


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    tmp = tmp_path_factory.mktemp("collector-snmpd")
    snmp_port = free_udp_port()
    lab = Lab(tmp, snmp_port, free_tcp_port())
    write_lab_inventory(
        lab.inventory,
        centre=[
            lab_device("centre-core1", "127.0.0.1"),
            lab_device("centre-dead1", "127.0.0.3"),  # nothing listens there
        ],
        province=[lab_device("p12-core1", "127.0.0.2", credentials="lab-v3")],
    )
    snmpd = snmpd_argv(tmp, snmp_port, ["127.0.0.1", "127.0.0.2", "127.0.0.4"])
    listen = lab.url.split("/")[2]
    run = [*NETMON, "run", "--inventory", str(lab.inventory), "--listen", listen]
    run += ["--port-override", str(snmp_port)]

    def ready() -> bool:
        text = lab.metrics()
        return value_of(text, "netmon_device_up", device="p12-core1") == 1 and (
            value_of(text, "netmon_device_up", device="centre-core1") == 1
        )

    with (
        running(snmpd, log=tmp / "snmpd.log", ready=lambda: lab.snmpget("1.3.6.1.2.1.1.5.0") != ""),
        running(run, log=tmp / "netmon.log", ready=ready, timeout=30, env=LAB_ENV) as proc,
    ):
        lab.proc = proc
        yield lab


def test_metrics_equal_what_snmpget_reads(lab: Lab) -> None:
    # Counters move (other traffic on lo), so each is sandwiched: read before the poll that
    # produced the scraped value, and after it.
    before = {n: int(lab.snmpget(f"{oid}.1")) for n, oid in IF_COLUMNS.items()}
    up_before = int(lab.snmpget("1.3.6.1.2.1.1.3.0"))
    lab.wait_new_poll("centre-core1")
    text = lab.metrics()
    after = {n: int(lab.snmpget(f"{oid}.1")) for n, oid in IF_COLUMNS.items()}
    for name in IF_COLUMNS:
        got = value_of(text, name, device="centre-core1", ifIndex="1")
        assert got is not None, name
        assert before[name] <= got <= after[name], name
    for name, oid in EXACT.items():
        got = value_of(text, name, device="centre-core1", ifIndex="1")
        assert got == int(lab.snmpget(f"{oid}.1")), name
    labels_of = [
        lab.snmpget("1.3.6.1.2.1.31.1.1.1.1.1"),
        lab.snmpget("1.3.6.1.2.1.2.2.1.2.1"),
    ]
    assert (
        value_of(
            text, "ifHCInOctets", device="centre-core1", ifName=labels_of[0], ifDescr=labels_of[1]
        )
        is not None
    )
    uptime = value_of(text, "sysUpTime", device="centre-core1")
    assert uptime is not None and up_before <= uptime <= int(lab.snmpget("1.3.6.1.2.1.1.3.0"))
    sys_name = lab.snmpget("1.3.6.1.2.1.1.5.0")
    assert value_of(text, "netmon_device_info", device="centre-core1", sys_name=sys_name) == 1
    # topology labels on every IF-MIB series
    assert (
        value_of(
            text,
            "ifOperStatus",
            device="centre-core1",
            ifIndex="1",
            province="Bangkok",
            province_code="10",
            site="centre",
            role="core",
            region="central",
            link="p12-core1:lo--centre-core1:lo",
        )
        == 1
    )


def test_sysuptime_is_monotonic_across_polls(lab: Lab) -> None:
    first = value_of(lab.metrics(), "sysUpTime", device="centre-core1")
    lab.wait_new_poll("centre-core1")
    second = value_of(lab.metrics(), "sysUpTime", device="centre-core1")
    assert first is not None and second is not None and second >= first


def test_snmpv3_authpriv_device_is_polled(lab: Lab) -> None:
    text = lab.metrics()
    assert value_of(text, "netmon_device_up", device="p12-core1") == 1
    assert value_of(text, "ifOperStatus", device="p12-core1", ifIndex="1") == 1
    assert (value_of(text, "netmon_poll_varbinds_total", device="p12-core1") or 0) > 20


def test_dead_device_is_a_per_device_failure(lab: Lab) -> None:
    wait_for(
        lambda: (
            (value_of(lab.metrics(), "netmon_poll_timeouts_total", device="centre-dead1") or 0) >= 1
        ),
        20,
        "a timeout of the dead device",
    )
    text = lab.metrics()
    assert value_of(text, "netmon_device_up", device="centre-dead1") == 0
    assert value_of(text, "netmon_poll_errors_total", device="centre-dead1", kind="timeout")
    assert value_of(text, "netmon_device_up", device="centre-core1") == 1


def test_province_slice_and_collector_endpoints(lab: Lab) -> None:
    base = lab.url.rsplit("/", 1)[0]
    sliced = fetch(f"{base}/province/12/metrics")
    assert value_of(sliced, "netmon_device_up", device="p12-core1") == 1
    assert value_of(sliced, "netmon_device_up", device="centre-core1") is None
    own = fetch(f"{base}/collector/metrics")
    assert value_of(own, "netmon_inventory_reload_success") == 1
    assert value_of(own, "netmon_device_up") is None
    # the dead device may or may not have timed out yet; the others are up
    assert (value_of(own, "netmon_collector_devices", state="up") or 0) >= 2
    states = ("up", "down", "pending")
    total = sum(value_of(own, "netmon_collector_devices", state=k) or 0 for k in states)
    assert total == 3


def test_hot_reload_adds_a_device_and_survives_a_broken_edit(lab: Lab) -> None:
    assert lab.proc is not None
    polls_before = lab.polls("centre-core1")
    write_lab_inventory(
        lab.inventory,
        centre=[
            lab_device("centre-core1", "127.0.0.1"),
            lab_device("centre-dead1", "127.0.0.3"),
            lab_device("centre-core2", "127.0.0.4"),
        ],
        province=[lab_device("p12-core1", "127.0.0.2", credentials="lab-v3")],
    )
    lab.proc.send_signal(signal.SIGHUP)
    wait_for(
        lambda: value_of(lab.metrics(), "netmon_device_up", device="centre-core2") == 1,
        20,
        "the added device",
    )
    # the other devices kept their state (counters did not restart)
    assert lab.polls("centre-core1") >= polls_before
    # a broken edit (found by the file watcher, no signal): last good inventory keeps running
    centre = lab.inventory / "centre.yaml"
    good = centre.read_text()
    centre.write_text(good.replace("platform: cisco_iosxe", "platform: cisco_nxos", 1))
    wait_for(
        lambda: value_of(lab.metrics(), "netmon_inventory_reload_success") == 0,
        20,
        "the failed reload",
    )
    lab.wait_new_poll("centre-core2")
    assert value_of(lab.metrics(), "netmon_device_up", device="centre-core1") == 1
    log = (lab.tmp / "netmon.log").read_text()
    assert "centre.yaml:" in log  # the problem is logged with file:line
    centre.write_text(good)
    wait_for(
        lambda: value_of(lab.metrics(), "netmon_inventory_reload_success") == 1,
        20,
        "the fixed reload",
    )
