"""Both SnmpTransports against a real snmpd: netmon's codec and pysnmp read the same values
over v2c and v3 authPriv; a device answering garbage fails alone, the others keep going."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest
from ruamel.yaml import YAML
from support.collector_lab import LAB_CREDENTIALS, LAB_ENV, snmpd_argv, target
from support.procs import free_udp_port, running

from collector.fast_transport import fast_factory
from collector.model import ProbeResult, Target
from collector.profiles import load_profiles
from collector.snmp_collector import SnmpCollector
from collector.snmp_transport import PysnmpEngine
from collector.transport import Missing, SnmpGarbage, SnmpTimeout, SnmpTransport
from collector.udp_endpoint import SnmpEndpoint
from netmon.inventory.model import CredentialProfile
from netmon.service import pysnmp_factory

pytestmark = pytest.mark.integration

if shutil.which("snmpd") is None:  # pragma: no cover
    pytest.skip("snmpd not installed", allow_module_level=True)

COLUMNS = [
    "1.3.6.1.2.1.31.1.1.1.1",  # ifName
    "1.3.6.1.2.1.2.2.1.2",  # ifDescr
    "1.3.6.1.2.1.2.2.1.6",  # ifPhysAddress (binary octets)
    "1.3.6.1.2.1.2.2.1.8",  # ifOperStatus
    "1.3.6.1.2.1.31.1.1.1.15",  # ifHighSpeed
    "1.3.6.1.2.1.4.20.1.1",  # ipAdEntAddr (IpAddress, 4-part index)
    "1.3.6.1.2.1.1.9.1.2",  # sysORID (OIDs)
]
SCALARS = ["1.3.6.1.2.1.1.5.0", "1.3.6.1.2.1.1.2.0", "1.3.6.1.2.1.1.99.0"]


PROFILES = {
    p["name"]: CredentialProfile.model_validate(p)
    for p in YAML(typ="safe").load(LAB_CREDENTIALS)["profiles"]
}


def lab_target(port: int, profile: str = "lab-v2c", timeout: float = 0.5) -> Target:
    prof = PROFILES[profile]
    timing = prof.snmp_timing.model_copy(update={"timeout": timeout, "max_repetitions": 3})
    return replace(target(), port=port, profile=prof.model_copy(update={"snmp_timing": timing}))


@pytest.fixture(scope="module")
def snmpd_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    os.environ.update(LAB_ENV)
    tmp = tmp_path_factory.mktemp("transports")
    port = free_udp_port()

    async def ask() -> object:
        endpoint = SnmpEndpoint()
        try:
            return (await fast_factory(endpoint)(lab_target(port)).get(SCALARS[:1]))[0][1]
        finally:
            endpoint.close()

    with running(
        snmpd_argv(tmp, port, ["127.0.0.1"]),
        log=tmp / "snmpd.log",
        ready=lambda: isinstance(asyncio.run(ask()), str),
    ):
        yield port


@pytest.mark.parametrize("profile", ["lab-v2c", "lab-v3"])
def test_fast_codec_and_pysnmp_read_the_same(snmpd_port: int, profile: str) -> None:
    async def main() -> None:
        engine, endpoint = PysnmpEngine(), SnmpEndpoint()
        try:
            t = lab_target(snmpd_port, profile)  # max-repetitions 3: several GETBULKs a walk
            slow: SnmpTransport = pysnmp_factory(engine)(t)
            fast: SnmpTransport = fast_factory(endpoint)(t)
            walked = await fast.walk(COLUMNS)
            assert walked == await slow.walk(COLUMNS)
            assert all(len(rows) > 0 for rows in walked.values())
            got = await fast.get(SCALARS)
            assert got == await slow.get(SCALARS)
            assert got[2][1] is Missing.no_such_object
        finally:
            engine.close()
            endpoint.close()

    asyncio.run(main())


def test_callback_status_polls_and_probes_read_what_the_coroutines_read(snmpd_port: int) -> None:
    """The scheduler's callback path (collector.callback_polls) against real snmpd: the same
    ifOperStatus and verdict as poll_status() and probe(); a silent port is a timeout; SNMPv3
    says it cannot (its discovery takes turns: the task path)."""

    async def told(start: Callable[[Target, Callable[[Any], None]], bool], t: Target) -> Any:
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        assert start(t, fut.set_result)
        return await asyncio.wait_for(fut, 10)

    async def main() -> None:
        endpoint = SnmpEndpoint()
        try:
            col = SnmpCollector(load_profiles(), fast_factory(endpoint))
            t = replace(lab_target(snmpd_port), uplinks=("lo",))
            assert not col.start_status(t, print)  # nothing to ask before a full poll
            assert (await col.collect(t)).ok
            want = await col.poll_status(t)
            assert want is not None and want.ok and list(want.oper_status.values()) == [1]
            assert await told(col.start_status, t) == want
            assert await told(col.start_probe, t) == await col.probe(t) == ProbeResult(True)
            dead = replace(t, name="dead", port=free_udp_port())
            verdict = await told(col.start_probe, dead)
            assert not verdict.answered and verdict.error_kind == "timeout"
            v3 = replace(lab_target(snmpd_port, "lab-v3"), uplinks=("lo",))
            assert (await col.collect(v3)).ok
            assert not col.start_status(v3, print) and not col.start_probe(v3, print)
        finally:
            endpoint.close()

    asyncio.run(main())


class _GarbageAgent:
    """Answers every datagram with bytes that are not SNMP."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                _, addr = self.sock.recvfrom(65535)
            except TimeoutError:
                continue
            self.sock.sendto(b"\x30\x82\xff\xff garbage", addr)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.sock.close()


def test_garbage_fails_that_device_alone(snmpd_port: int) -> None:
    agent = _GarbageAgent()

    async def main() -> None:
        endpoint = SnmpEndpoint()
        make = fast_factory(endpoint)
        try:
            bad = make(lab_target(agent.port, timeout=0.3))
            good = make(lab_target(snmpd_port))
            results = await asyncio.gather(
                bad.get(SCALARS[:1]), good.walk(COLUMNS), return_exceptions=True
            )
            assert isinstance(results[0], SnmpGarbage | SnmpTimeout), results[0]
            assert isinstance(results[1], dict) and results[1][COLUMNS[0]]
            with pytest.raises(SnmpTimeout):  # nothing listens there
                await make(lab_target(free_udp_port(), timeout=0.2)).get(SCALARS[:1])
        finally:
            endpoint.close()
            agent.close()

    asyncio.run(main())
    assert not agent.thread.is_alive()
