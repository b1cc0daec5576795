"""FastSnmpTransport against real agents, cross-checked with the pysnmp transport in the same
run: the simulator (in-process, clock frozen so counters hold still: whole tables must be
equal) and a real net-snmp snmpd (v2c and SNMPv3 authPriv users)."""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.procs import free_tcp_port, free_udp_port, running

from collector.fast_transport import FastSnmpTransport, make_fast_transport
from collector.profiles import load_profiles
from collector.snmp_transport import PysnmpEngine, PysnmpTransport, auth_data
from collector.transport import SnmpAuthError, SnmpTransport, Value
from collector.udp_endpoint import SnmpEndpoint
from netmon.inventory.model import CredentialProfile, SnmpTiming, SnmpV2c, SnmpV3
from netmon.simulator.backbone import Backbone, build
from netmon.simulator.server import Simulator
from netmon.simulator.testbed import SECRETS, small_inventory
from netmon.simulator.v3 import make_v3_agent

pytestmark = pytest.mark.integration

PROFILES = load_profiles()
SYSTEM = PROFILES.system.oids()
COLUMNS = [
    *(m.oid for m in PROFILES.interfaces.metrics),
    *(m.oid for m in PROFILES.interfaces.cached_metrics),
    *(lc.oid for lc in PROFILES.interfaces.labels),
]
TIMING = SnmpTiming(timeout=1.0, retries=2, max_repetitions=25)


async def poll(t: SnmpTransport) -> tuple[list[tuple[str, Value]], dict[str, dict[str, Value]]]:
    return await t.get(SYSTEM), await t.walk(COLUMNS)


# --- the simulator ----------------------------------------------------------------------------


@pytest.fixture
def sim_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in SECRETS.items():
        monkeypatch.setenv(k, v)


def test_simulator_devices_read_the_same_through_both_transports(sim_env: None) -> None:
    net = random.Random(os.getpid() + 11).randrange(100, 250)
    inv = small_inventory(net)
    port = free_udp_port()
    frozen = time.time()
    nodes, links = build(inv, now=frozen - 3600, port=port, v3_factory=make_v3_agent)
    backbone = Backbone(nodes, links, clock=lambda: frozen, latency_scale=0)

    async def main() -> dict[str, Any]:
        sim = Simulator(backbone, control_port=free_tcp_port())
        await sim.start()
        engine, endpoint = PysnmpEngine(), SnmpEndpoint()
        results: dict[str, Any] = {}
        try:
            for _, device in inv.devices():
                profile = inv.profile_of(device)
                slow = PysnmpTransport(
                    engine, device.address, port, auth_data(profile), profile.snmp_timing
                )
                fast = make_fast_transport(endpoint, inv, device, port_override=port)
                want, got = await poll(slow), await poll(fast)
                assert got == want, device.name
                results[device.name] = got
        finally:
            engine.close()
            endpoint.close()
            await sim.stop()
        assert endpoint.stats.timeouts == 0 and endpoint.stats.unmatched == 0
        return results

    results = asyncio.run(asyncio.wait_for(main(), 60))
    assert len(results) == 4
    for name, (system, table) in results.items():
        assert dict(system)["1.3.6.1.2.1.1.5.0"] == name
        names = table["1.3.6.1.2.1.31.1.1.1.1"]  # ifName
        device = next(d for _, d in inv.devices() if d.name == name)
        assert {i.name for i in device.interfaces} <= set(names.values())
        # every column has a row for every interface
        assert all(set(rows) == set(names) for rows in table.values())


# --- net-snmp snmpd -----------------------------------------------------------------------------

COMMUNITY = "netmon-fast-lab"
AUTH_PW, PRIV_PW = "fast-auth-secret", "fast-priv-secret"
# net-snmp createUser names: AES is AES-128, AES-256 the Blumenthal key extension.
V3_USERS = {
    "u-sha256-aes128": ("SHA-256", "AES-128", "AES"),
    "u-sha-aes256": ("SHA", "AES-256", "AES-256"),
    "u-sha512-aes256": ("SHA-512", "AES-256", "AES-256"),
}
ENV = {"FAST_LAB_COMMUNITY": COMMUNITY, "FAST_LAB_AUTH": AUTH_PW, "FAST_LAB_PRIV": PRIV_PW}
# What changes between two polls a moment apart (the lab's own traffic crosses lo).
MOVING = {"1.3.6.1.2.1.1.3.0"} | {m.oid for m in PROFILES.interfaces.metrics[:8]}


def v3(user: str, *, auth_key: str = "env:FAST_LAB_AUTH") -> SnmpV3:
    auth, priv, _ = V3_USERS[user]
    return SnmpV3(
        version="3",
        username=user,
        auth_protocol=auth,
        auth_key=auth_key,
        priv_protocol=priv,
        priv_key="env:FAST_LAB_PRIV",
    )


V2 = SnmpV2c(version="2c", community="env:FAST_LAB_COMMUNITY")


@pytest.fixture(scope="module")
def snmpd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    if shutil.which("snmpd") is None:  # pragma: no cover
        pytest.skip("net-snmp snmpd not installed")
    tmp = tmp_path_factory.mktemp("fast-snmpd")
    port = free_udp_port()
    conf = tmp / "snmpd.conf"
    lines = [f"agentaddress udp:127.0.0.1:{port}", f"rocommunity {COMMUNITY} 127.0.0.1"]
    for user, (auth, _, priv) in V3_USERS.items():
        lines += [f"createUser {user} {auth} {AUTH_PW} {priv} {PRIV_PW}", f"rouser {user} priv"]
    conf.write_text("\n".join(lines) + "\n")
    state = tmp / "state"
    state.mkdir()
    argv = ["snmpd", "-f", "-Lo", "-C", "-c", str(conf), f"--persistentDir={state}"]
    argv += ["-M", "/nonexistent", "-m", ""]

    def answers() -> bool:
        async def probe() -> None:
            ep = SnmpEndpoint()
            try:
                t = FastSnmpTransport(ep, "127.0.0.1", port, V2, SnmpTiming(timeout=0.2, retries=0))
                await t.get(["1.3.6.1.2.1.1.5.0"])
            finally:
                ep.close()

        asyncio.run(probe())
        return True

    old = {k: os.environ.get(k) for k in ENV}
    os.environ.update(ENV)
    try:
        with running(argv, log=Path(tmp / "snmpd.log"), ready=answers, timeout=20):
            yield port
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def same_poll(a: Any, b: Any) -> None:
    """Equal except the values that move between two polls (which must still be ints)."""
    (sys_a, tab_a), (sys_b, tab_b) = a, b
    assert [o for o, _ in sys_a] == [o for o, _ in sys_b]
    for (oid, va), (_, vb) in zip(sys_a, sys_b, strict=True):
        if oid in MOVING:
            assert type(va) is type(vb) is int
        else:
            assert va == vb, oid
    assert tab_a.keys() == tab_b.keys()
    for column in tab_a:
        assert tab_a[column].keys() == tab_b[column].keys(), column
        if column in MOVING:
            assert all(type(v) is int for v in [*tab_a[column].values(), *tab_b[column].values()])
        else:
            assert tab_a[column] == tab_b[column], column


def lab_poll(port: int, snmp: SnmpV2c | SnmpV3, which: str, source: str = "127.0.0.1") -> Any:
    async def main() -> Any:
        if which == "fast":
            ep = SnmpEndpoint(source)
            try:
                return await poll(FastSnmpTransport(ep, "127.0.0.1", port, snmp, TIMING))
            finally:
                ep.close()
        engine = PysnmpEngine()
        try:
            creds = auth_data(CredentialProfile(name="lab", snmp=snmp))
            return await poll(PysnmpTransport(engine, "127.0.0.1", port, creds, TIMING))
        finally:
            engine.close()

    return asyncio.run(asyncio.wait_for(main(), 30))


def test_snmpd_v2c_same_as_pysnmp(snmpd: int) -> None:
    fast = lab_poll(snmpd, V2, "fast")
    same_poll(fast, lab_poll(snmpd, V2, "pysnmp"))
    system, table = fast
    assert isinstance(dict(system)["1.3.6.1.2.1.1.1.0"], str)  # sysDescr
    assert "lo" in table["1.3.6.1.2.1.31.1.1.1.1"].values()  # ifName


def test_a_wildcard_bound_socket_polls_the_same(snmpd: int) -> None:
    # What `netmon run` binds once devices are off loopback (netmon.service.source_address):
    # the kernel picks the source per route; here the route is loopback and nothing else.
    same_poll(lab_poll(snmpd, V2, "fast", source="0.0.0.0"), lab_poll(snmpd, V2, "fast"))
    same_poll(lab_poll(snmpd, v3(next(iter(V3_USERS))), "fast", source="0.0.0.0"),
              lab_poll(snmpd, V2, "pysnmp"))  # fmt: skip


@pytest.mark.parametrize("user", list(V3_USERS))
def test_snmpd_v3_authpriv_same_as_v2c(snmpd: int, user: str) -> None:
    fast = lab_poll(snmpd, v3(user), "fast")
    same_poll(fast, lab_poll(snmpd, V2, "pysnmp"))
    same_poll(fast, lab_poll(snmpd, v3(user), "pysnmp"))


def test_snmpd_v3_wrong_key_is_an_auth_error(snmpd: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAST_LAB_WRONG", "not-the-auth-secret")
    with pytest.raises(SnmpAuthError):
        lab_poll(snmpd, v3("u-sha256-aes128", auth_key="env:FAST_LAB_WRONG"), "fast")
