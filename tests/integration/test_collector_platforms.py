"""Data for every platform, against a real net-snmp snmpd on loopback.

One snmpd, two communities: the full view (a MikroTik-platform device: CPU, memory and storage
come from HOST-RESOURCES, which snmpd serves for real), and an "older agent" view without
ifXTable and without sysUpTime: that device is up, its traffic comes from the 32-bit
ifInOctets/ifOutOctets and netmon's own link rate still works.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.collector_lab import COMMUNITY, LAB_ENV, fetch, value_of, write_lab_inventory
from support.procs import free_tcp_port, free_udp_port, running, wait_for

pytestmark = pytest.mark.integration

if shutil.which("snmpd") is None or shutil.which("snmpget") is None:  # pragma: no cover
    pytest.skip("net-snmp snmpd/snmpget not installed", allow_module_level=True)

OLD_COMMUNITY = "netmon-lab-old-agent"
ENV = {**LAB_ENV, "NETMON_TEST_OLD_COMMUNITY": OLD_COMMUNITY}
HR_STORAGE = "1.3.6.1.2.1.25.2.3.1"
HR_RAM = ".1.3.6.1.2.1.25.2.1.2"


def _device(name: str, address: str, platform: str, credentials: str) -> str:
    return (
        f"      - name: {name}\n        address: {address}\n        platform: {platform}\n"
        f"        role: core\n        credentials: {credentials}\n"
        "        interfaces:\n          - {name: lo}\n"
    )


class Lab:
    def __init__(self, tmp: Path, snmp_port: int, metrics_port: int) -> None:
        self.tmp, self.snmp_port = tmp, snmp_port
        self.url = f"http://127.0.0.1:{metrics_port}/metrics"

    def metrics(self) -> str:
        return fetch(self.url)

    def snmp(self, tool: str, oid: str, community: str = COMMUNITY) -> list[str]:
        agent = f"127.0.0.1:{self.snmp_port}"
        out = subprocess.run(
            [tool, "-v2c", "-c", community, "-On", "-t", "2", "-r", "2", agent, oid],
            capture_output=True,
            text=True,
            timeout=20,
            env={"PATH": "/usr/bin:/bin", "MIBS": "", "MIBDIRS": "/nonexistent"},
        )
        assert out.returncode == 0, out.stderr
        return out.stdout.splitlines()


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    tmp = tmp_path_factory.mktemp("collector-platforms")
    lab = Lab(tmp, free_udp_port(), free_tcp_port())
    conf = tmp / "snmpd.conf"
    conf.write_text(
        f"agentaddress udp:127.0.0.1:{lab.snmp_port},udp:127.0.0.2:{lab.snmp_port}\n"
        "view full included .1\n"
        "view old included .1\n"
        "view old excluded .1.3.6.1.2.1.31.1.1\n"  # ifXTable
        "view old excluded .1.3.6.1.2.1.1.3\n"  # sysUpTime
        f"rocommunity {COMMUNITY} 127.0.0.0/8 -V full\n"
        f"rocommunity {OLD_COMMUNITY} 127.0.0.0/8 -V old\n"
    )
    (tmp / "state").mkdir()
    snmpd = ["snmpd", "-f", "-Lo", "-C", "-c", str(conf), f"--persistentDir={tmp / 'state'}"]
    snmpd += ["-M", "/nonexistent", "-m", ""]
    inventory = tmp / "inventory"
    write_lab_inventory(
        inventory,
        centre=[_device("centre-core1", "127.0.0.1", "mikrotik_routeros", "lab-v2c")],
        province=[_device("p12-core1", "127.0.0.2", "cisco_ios", "lab-old")],
    )
    creds = inventory / "credentials.yaml"
    creds.write_text(
        creds.read_text()
        + "  - name: lab-old\n    snmp: {version: 2c, community: env:NETMON_TEST_OLD_COMMUNITY}\n"
        "    snmp_timing: {timeout: 0.5, retries: 1}\n"
    )
    run = [sys.executable, "-m", "netmon.cli", "run", "--inventory", str(inventory)]
    run += ["--listen", lab.url.split("/")[2], "--port-override", str(lab.snmp_port)]

    def ready() -> bool:
        text = lab.metrics()
        return all(
            value_of(text, "netmon_device_up", device=d) == 1 for d in ("centre-core1", "p12-core1")
        )

    with (
        running(
            snmpd,
            log=tmp / "snmpd.log",
            ready=lambda: bool(lab.snmp("snmpget", "1.3.6.1.2.1.1.5.0")),
        ),
        running(run, log=tmp / "netmon.log", ready=ready, timeout=30, env=ENV),
    ):
        yield lab


def test_the_older_view_really_lacks_ifxtable_and_sysuptime(lab: Lab) -> None:
    assert "No Such Object" in " ".join(lab.snmp("snmpget", "1.3.6.1.2.1.1.3.0", OLD_COMMUNITY))
    walked = lab.snmp("snmpbulkwalk", "1.3.6.1.2.1.31.1.1.1", OLD_COMMUNITY)
    assert not any(line.startswith(".1.3.6.1.2.1.31.1.1.1.") for line in walked)


def test_agent_without_sysuptime_and_ifxtable_is_up_with_32_bit_traffic(lab: Lab) -> None:
    text = lab.metrics()
    assert value_of(text, "netmon_device_up", device="p12-core1") == 1
    assert value_of(text, "sysUpTime", device="p12-core1") is None
    assert value_of(text, "ifHCInOctets", device="p12-core1") is None
    octets = value_of(text, "ifInOctets", device="p12-core1", ifIndex="1", ifName="lo")
    assert octets is not None and octets > 0
    assert value_of(text, "ifOutOctets", device="p12-core1", ifIndex="1") is not None
    # a device with ifXTable keeps its 64-bit counters only
    assert value_of(text, "ifHCInOctets", device="centre-core1", ifIndex="1") is not None
    assert value_of(text, "ifInOctets", device="centre-core1") is None
    # netmon's own link rate works from the 32-bit counters (the lo -- lo link)
    wait_for(
        lambda: (
            value_of(lab.metrics(), "netmon_interface_receive_bits_per_second", device="p12-core1")
            is not None
        ),
        20,
        "a link rate from 32-bit counters",
    )


def test_mikrotik_platform_gets_memory_and_storage_from_host_resources(lab: Lab) -> None:
    rows: dict[str, dict[str, str]] = {}
    for line in lab.snmp("snmpbulkwalk", HR_STORAGE):
        oid, _, value = line.partition(" = ")
        column, index = oid.split(".")[11], oid.split(".")[12]
        rows.setdefault(index, {})[column] = value.split(": ", 1)[-1].strip('"')
    ram = [i for i, r in rows.items() if r.get("2") == HR_RAM]
    assert ram, rows
    text = lab.metrics()
    for index in ram:
        size = int(rows[index]["5"]) * int(rows[index]["4"])
        used = value_of(text, "netmon_memory_used_bytes", device="centre-core1", storage=index)
        ratio = value_of(text, "netmon_memory_usage_ratio", device="centre-core1", storage=index)
        assert used is not None and 0 < used <= size
        assert ratio is not None and ratio == pytest.approx(used / size, rel=0.05)
    assert value_of(text, "netmon_storage_size_bytes", device="centre-core1") is not None
    # (snmpd fills hrProcessorLoad only after a minute of sampling: CPU is checked against
    # the simulator in test_dashboards_prometheus.py)
