"""Both SnmpTransports against a real snmpd: the fast v2c codec and pysnmp read the same values;
the fast one fails a device that answers garbage at once, and keeps serving the others."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import threading
from collections.abc import Iterator

import pytest
from support.collector_lab import COMMUNITY, snmpd_argv
from support.procs import free_udp_port, running

from collector.fast_transport import FastV2cTransport, UdpClient
from collector.snmp_transport import PysnmpEngine, PysnmpTransport, auth_data
from collector.transport import Missing, SnmpGarbage, SnmpTimeout
from netmon.inventory.model import CredentialProfile, SnmpTiming

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


@pytest.fixture(scope="module")
def snmpd_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    tmp = tmp_path_factory.mktemp("transports")
    port = free_udp_port()

    def answers() -> bool:
        got = asyncio.run(_fast(port).get(["1.3.6.1.2.1.1.5.0"]))
        return isinstance(got[0][1], str)

    with running(snmpd_argv(tmp, port, ["127.0.0.1"]), log=tmp / "snmpd.log", ready=answers):
        yield port


def _fast(port: int, client: UdpClient | None = None, max_rep: int = 3) -> FastV2cTransport:
    timing = SnmpTiming(timeout=0.5, retries=1, max_repetitions=max_rep)
    return FastV2cTransport(client or UdpClient(), "127.0.0.1", port, COMMUNITY, timing)


def test_fast_codec_and_pysnmp_read_the_same(snmpd_port: int) -> None:
    os.environ["NETMON_TEST_COMMUNITY"] = COMMUNITY
    profile = CredentialProfile.model_validate(
        {"name": "p", "snmp": {"version": "2c", "community": "env:NETMON_TEST_COMMUNITY"}}
    )

    async def main() -> None:
        engine = PysnmpEngine()
        try:
            slow = PysnmpTransport(
                engine,
                "127.0.0.1",
                snmpd_port,
                auth_data(profile),
                SnmpTiming(timeout=0.5, retries=1, max_repetitions=3),
            )
            fast = _fast(snmpd_port)  # max-repetitions 3: several GETBULKs per walk
            assert await fast.walk(COLUMNS) == await slow.walk(COLUMNS)
            got = await fast.get(SCALARS)
            assert got == await slow.get(SCALARS)
            assert got[2][1] is Missing.no_such_object
            assert all(len(rows) > 0 for c, rows in (await fast.walk(COLUMNS)).items())
        finally:
            engine.close()

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


def test_garbage_fails_that_device_at_once_and_not_the_others(snmpd_port: int) -> None:
    agent = _GarbageAgent()

    async def main() -> None:
        client = UdpClient()
        try:
            bad = FastV2cTransport(
                client, "127.0.0.1", agent.port, COMMUNITY, SnmpTiming(timeout=5, retries=3)
            )
            good = _fast(snmpd_port, client)
            loop = asyncio.get_running_loop()
            t0 = loop.time()
            results = await asyncio.gather(
                bad.get(["1.3.6.1.2.1.1.5.0"]), good.walk(COLUMNS), return_exceptions=True
            )
            assert isinstance(results[0], SnmpGarbage)
            assert loop.time() - t0 < 5  # failed at once, not after 4 x 5 s of timeouts
            assert isinstance(results[1], dict) and results[1][COLUMNS[0]]
            assert client.garbage >= 1
            silent = FastV2cTransport(
                client, "127.0.0.1", free_udp_port(), COMMUNITY, SnmpTiming(timeout=0.2, retries=1)
            )
            with pytest.raises(SnmpTimeout):
                await silent.get(["1.3.6.1.2.1.1.5.0"])
        finally:
            client.close()
            agent.close()

    asyncio.run(main())
    assert not agent.thread.is_alive()
