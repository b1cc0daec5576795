"""`netmon simulate` in a subprocess on the four-device test bed, read with the real net-snmp
tools (snmpget, snmpbulkwalk v2c and v3 authPriv), failures injected with `netmon control`."""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.procs import free_tcp_port, free_udp_port, http_ok, running

from netmon.simulator.testbed import SECRETS, V3_USER, write_inventory
from netmon.snmp import ber
from netmon.snmp import message as msg

pytestmark = pytest.mark.integration

NETMON = [sys.executable, "-m", "netmon.cli"]
COMMUNITY = SECRETS["NETMON_SIM_COMMUNITY"]
IF_ENTRY = "1.3.6.1.2.1.2.2.1"
IFX_ENTRY = "1.3.6.1.2.1.31.1.1.1"


@dataclass
class Sim:
    net: int
    port: int
    control: int
    traps: socket.socket
    proc: subprocess.Popen[bytes]

    def addr(self, name: str) -> str:
        last = {"bkk-core-01": "0.1", "cmi-dist-01": "50.1", "cmi-dist-02": "50.2"}
        last["cmi-5001-edge-01"] = "50.11"
        return f"127.{self.net}.{last[name]}:{self.port}"

    def snmp(self, tool: str, name: str, *oids: str, extra: tuple[str, ...] = ()) -> str:
        argv = [tool, "-v2c", "-c", COMMUNITY, "-On", "-t", "1", "-r", "1", *extra]
        out = subprocess.run(
            [*argv, self.addr(name), *oids], capture_output=True, text=True, timeout=30
        )
        assert out.returncode == 0, out.stderr
        return out.stdout

    def control_cli(self, *args: str) -> dict[str, object]:
        out = subprocess.run(
            [*NETMON, "control", "--control-port", str(self.control), *args],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert out.returncode == 0, out.stderr
        result: dict[str, object] = json.loads(out.stdout)
        return result


def _values(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        oid, _, value = line.partition(" = ")
        out[oid.lstrip(".")] = value
    return out


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sim]:
    root = tmp_path_factory.mktemp("sim")
    net = random.Random(os.getpid()).randrange(100, 250)
    write_inventory(root / "inventory", net=net)
    port, control = free_udp_port(), free_tcp_port()
    traps = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    traps.bind(("127.0.0.1", 0))
    traps.settimeout(5)
    argv = [
        *NETMON,
        "simulate",
        "--inventory",
        str(root / "inventory"),
        "--port",
        str(port),
        "--control-port",
        str(control),
        "--trap-target",
        f"127.0.0.1:{traps.getsockname()[1]}",
    ]
    env = {**SECRETS, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    with running(
        argv,
        ready=lambda: http_ok(f"http://127.0.0.1:{control}/status"),
        log=root / "simulate.log",
        env=env,
    ) as proc:
        yield Sim(net, port, control, traps, proc)
    traps.close()
    assert "serving 4 devices (v2c 3, v3 1)" in (root / "simulate.log").read_text()


def test_snmpget_v2c(sim: Sim) -> None:
    v = _values(sim.snmp("snmpget", "cmi-dist-01", "1.3.6.1.2.1.1.5.0", "1.3.6.1.2.1.1.2.0"))
    assert v["1.3.6.1.2.1.1.5.0"] == 'STRING: "cmi-dist-01"'
    assert v["1.3.6.1.2.1.1.2.0"].startswith("OID: .1.3.6.1.4.1.2011.")


def test_bulkwalk_if_tables(sim: Sim) -> None:
    x = _values(sim.snmp("snmpbulkwalk", "cmi-dist-01", IFX_ENTRY, extra=("-Cr25",)))
    names = [v for k, v in x.items() if k.startswith(f"{IFX_ENTRY}.1.")]
    assert names[:4] == [
        'STRING: "GigabitEthernet0/0/0"',
        'STRING: "LoopBack0"',
        'STRING: "GigabitEthernet0/0/1"',
        'STRING: "GigabitEthernet0/0/2"',
    ]
    assert len(names) == 9
    assert x[f"{IFX_ENTRY}.15.129"] == "Gauge32: 1000"
    assert x[f"{IFX_ENTRY}.18.129"] == 'STRING: "uplink to bkk-core-01 xe-0/0/0"'
    assert x[f"{IFX_ENTRY}.6.129"].startswith("Counter64: ")
    t = _values(sim.snmp("snmpbulkwalk", "bkk-core-01", IF_ENTRY, extra=("-Cr25",)))
    assert t[f"{IF_ENTRY}.2.513"] == 'STRING: "xe-0/0/0"'  # ifIndex > 127 on Juniper
    assert t[f"{IF_ENTRY}.8.517"] == "INTEGER: 2"  # an unused port is down
    assert t[f"{IF_ENTRY}.7.517"] == "INTEGER: 2"


def test_bulkwalk_v3_auth_priv(sim: Sim) -> None:
    argv = ["snmpbulkwalk", "-v3", "-l", "authPriv", "-u", V3_USER, "-a", "SHA-256"]
    argv += ["-A", SECRETS["NETMON_SIM_V3_AUTH"], "-x", "AES", "-X", SECRETS["NETMON_SIM_V3_PRIV"]]
    argv += ["-On", "-Cr25", "-t", "1", "-r", "1", sim.addr("cmi-5001-edge-01"), IFX_ENTRY]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    x = _values(out.stdout)
    assert x[f"{IFX_ENTRY}.1.1"] == 'STRING: "GigabitEthernet0/0/0"'
    assert x[f"{IFX_ENTRY}.18.1"] == 'STRING: "uplink to cmi-dist-01 GigabitEthernet0/0/2"'
    assert x[f"{IFX_ENTRY}.15.1"] == "Gauge32: 100"
    # A wrong key is refused (a Report), never answered with data.
    argv[argv.index("-A") + 1] = "not-the-password"
    bad = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    assert bad.returncode != 0 and IFX_ENTRY not in bad.stdout


def test_counters_increase(sim: Sim) -> None:
    oids = (f"{IFX_ENTRY}.6.129", f"{IF_ENTRY}.10.129")
    first = _values(sim.snmp("snmpget", "cmi-dist-01", *oids))
    time.sleep(1.2)
    second = _values(sim.snmp("snmpget", "cmi-dist-01", *oids))
    for oid in oids:
        a, b = int(first[oid].split()[-1]), int(second[oid].split()[-1])
        assert a != b
    hc = [int(v[oids[0]].split()[-1]) for v in (first, second)]
    assert hc[1] > hc[0]


def _drain(s: socket.socket) -> None:
    s.setblocking(False)
    try:
        while True:
            s.recv(65535)
    except BlockingIOError:
        pass
    finally:
        s.setblocking(True)
        s.settimeout(5)


def test_link_down_shows_at_once_on_both_ends_and_traps(sim: Sim) -> None:
    _drain(sim.traps)
    res = sim.control_cli("link-down", "cmi-dist-01", "GigabitEthernet0/0/1")
    assert res["up"] is False
    hub = _values(sim.snmp("snmpget", "cmi-dist-01", f"{IF_ENTRY}.8.129"))
    core = _values(sim.snmp("snmpget", "bkk-core-01", f"{IF_ENTRY}.8.513"))
    assert hub[f"{IF_ENTRY}.8.129"] == "INTEGER: 2"
    assert core[f"{IF_ENTRY}.8.513"] == "INTEGER: 2"
    got = {}
    for _ in range(2):
        data, (host, _port) = sim.traps.recvfrom(65535)
        trap = msg.decode_response(data)
        assert trap.tag == ber.TRAPV2 and trap.community == COMMUNITY.encode()
        got[host] = trap
    # Sent from each device's own address.
    assert sorted(got) == [f"127.{sim.net}.0.1", f"127.{sim.net}.50.1"]
    hub_trap = got[f"127.{sim.net}.50.1"]
    assert hub_trap.varbinds[1][2] == (1, 3, 6, 1, 6, 3, 1, 1, 5, 3)  # linkDown
    assert hub_trap.varbinds[2][2] == 129  # ifIndex
    sim.control_cli("link-up", "cmi-dist-01", "GigabitEthernet0/0/1")
    hub = _values(sim.snmp("snmpget", "cmi-dist-01", f"{IF_ENTRY}.8.129"))
    assert hub[f"{IF_ENTRY}.8.129"] == "INTEGER: 1"


def test_dead_device_times_out_while_others_answer(sim: Sim) -> None:
    sim.control_cli("dead", "cmi-dist-02")
    try:
        argv = ["snmpget", "-v2c", "-c", COMMUNITY, "-t", "0.5", "-r", "0"]
        out = subprocess.run(
            [*argv, sim.addr("cmi-dist-02"), "1.3.6.1.2.1.1.5.0"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert out.returncode != 0 and "Timeout" in out.stderr
        v = _values(sim.snmp("snmpget", "bkk-core-01", "1.3.6.1.2.1.1.5.0", f"{IF_ENTRY}.8.514"))
        assert v["1.3.6.1.2.1.1.5.0"] == 'STRING: "bkk-core-01"'
        assert v[f"{IF_ENTRY}.8.514"] == "INTEGER: 2"  # the backup link to it dropped
        status = sim.control_cli("status")
        assert status["injected"]["cmi-dist-02"]["dead"] == ["dead"]  # type: ignore[index]
    finally:
        sim.control_cli("clear")
    assert "cmi-dist-02" in sim.snmp("snmpget", "cmi-dist-02", "1.3.6.1.2.1.1.5.0")


def test_malformed_datagrams_are_counted_and_agent_keeps_answering(sim: Sim) -> None:
    def malformed() -> int:
        c = sim.control_cli("status")["devices"]["cmi-dist-01"]["counters"]  # type: ignore[index]
        return int(c["malformed"])

    before = malformed()
    host, port = sim.addr("cmi-dist-01").rsplit(":", 1)
    good = msg.encode_get(COMMUNITY.encode(), 1, [(1, 3, 6, 1, 2, 1, 1, 5, 0)])
    junk = [b"", b"\x30", b"\xff" * 100, good[:-4], os.urandom(300), good[:10] + b"\x00" * 20]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for data in junk:
            s.sendto(data, (host, int(port)))
    assert "cmi-dist-01" in sim.snmp("snmpget", "cmi-dist-01", "1.3.6.1.2.1.1.5.0")
    assert malformed() - before == len(junk)
    assert sim.proc.poll() is None


def test_cli_refuses_non_loopback(tmp_path: Path) -> None:
    out = subprocess.run(
        [*NETMON, "simulate", "--trap-target", "192.0.2.1:162"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 2 and "loopback" in out.stderr
    out = subprocess.run(
        [*NETMON, "control", "--host", "192.0.2.1", "status"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 2 and "not a loopback address" in out.stderr
    write_inventory(tmp_path / "inv")
    centre = tmp_path / "inv" / "centre.yaml"
    centre.write_text(centre.read_text().replace('"127.31.0.1"', '"192.0.2.10"'))
    out = subprocess.run(
        [*NETMON, "simulate", "--inventory", str(tmp_path / "inv"), "--port", "16100"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **SECRETS},
    )
    assert out.returncode == 2
    assert "device bkk-core-01 has address 192.0.2.10" in out.stderr


def test_v1_and_control_endpoint_errors(sim: Sim) -> None:
    argv = ["snmpget", "-v1", "-c", COMMUNITY, "-On", "-t", "1", "-r", "1", sim.addr("cmi-dist-01")]
    out = subprocess.run(
        [*argv, "1.3.6.1.2.1.1.5.0", f"{IFX_ENTRY}.6.129"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    # Counter64 is invisible to v1 (RFC 3584): noSuchName for the second varbind.
    assert out.returncode != 0 and "noSuchName" in out.stdout + out.stderr
    import urllib.error
    import urllib.request

    url = f"http://127.0.0.1:{sim.control}/action"
    for body, want in ((b"{not json", "not JSON"), (b'{"action": "explode"}', "unknown action")):
        req = urllib.request.Request(url, data=body)
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(req, timeout=5)
        assert err.value.code == 400 and want in err.value.read().decode()
    assert sim.proc.poll() is None
