"""The trap receiver against net-snmp's ``snmptrap`` / ``snmpinform`` on loopback: v1, v2c and
v3 with two users of two credential profiles, informs acknowledged (the tool exits 0), a wrong
key and an unknown address dropped and counted."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator

import pytest

from collector.traps import Trap, TrapReceiver, trap_config
from netmon.inventory.model import CredentialProfile, Inventory, SnmpV3
from netmon.inventory.secrets import resolve_secret
from netmon.simulator.testbed import SECRETS, small_inventory

pytestmark = pytest.mark.integration

NET = 33
HUB, BACKUP, EDGE = f"127.{NET}.50.1", f"127.{NET}.50.2", f"127.{NET}.50.11"
B_SECRETS = {"NETMON_TEST_V3B_AUTH": "second-auth-key", "NETMON_TEST_V3B_PRIV": "second-priv-key"}
LINK_DOWN, LINK_UP, COLD_START = (f"1.3.6.1.6.3.1.1.5.{n}" for n in (3, 4, 1))
IF_INDEX = "1.3.6.1.2.1.2.2.1.1"
IF_NAME = "1.3.6.1.2.1.31.1.1.1.1"


def two_user_inventory() -> Inventory:
    """The test bed, with the MikroTik backup router on a second SNMPv3 profile (SHA-512,
    AES-256): two USM users the receiver must hold at once."""
    inv = small_inventory(NET)
    second = CredentialProfile(
        name="sim-v3-b",
        snmp=SnmpV3(
            version="3",
            username="noc-b",
            auth_protocol="SHA-512",
            auth_key="env:NETMON_TEST_V3B_AUTH",
            priv_protocol="AES-256",
            priv_key="env:NETMON_TEST_V3B_PRIV",
        ),
    )
    hub_site = inv.sites[1].site
    devices = tuple(
        d.model_copy(update={"credentials": "sim-v3-b"}) if d.address == BACKUP else d
        for d in hub_site.devices
    )
    sites = list(inv.sites)
    sites[1] = sites[1].model_copy(
        update={"site": hub_site.model_copy(update={"devices": devices})}
    )
    return inv.model_copy(update={"profiles": (*inv.profiles, second), "sites": tuple(sites)})


@pytest.fixture(autouse=True)
def secrets(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for k, v in {**SECRETS, **B_SECRETS}.items():
        monkeypatch.setenv(k, v)
    yield


def v3(user: str, auth: str, akey: str, priv: str, pkey: str) -> list[str]:
    return ["-v3", "-l", "authPriv", "-u", user, "-a", auth, "-A", akey, "-x", priv, "-X", pkey]


USER_A = v3("netmon", "SHA-256", "netmon-sim-auth", "AES", "netmon-sim-priv")
USER_B = v3("noc-b", "SHA-512", "second-auth-key", "AES-256", "second-priv-key")


async def tool(*argv: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "MIBS": "", "SNMPCONFPATH": "/nonexistent"},
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode()


def test_net_snmp_traps_and_informs() -> None:
    got: list[Trap] = []

    async def scenario() -> TrapReceiver:
        r = TrapReceiver(trap_config(two_user_inventory(), resolve_secret), got.append)
        assert r.stats.users == 2
        port = await r.start("127.0.0.1", 0)
        to = f"udp:127.0.0.1:{port}"

        def src(address: str) -> str:
            return f"--clientaddr={address}"

        link = [IF_INDEX + ".3", "i", "3", IF_NAME + ".3", "s", "GigabitEthernet0/0/2"]
        cases: list[tuple[list[str], int]] = [
            (["snmptrap", "-v2c", "-c", "netmon-sim", src(HUB), to, "", LINK_DOWN, *link], 0),
            (["snmptrap", "-v1", "-c", "netmon-sim", src(HUB), to, "", HUB, "3", "0", ""], 0),
            (["snmptrap", *USER_A, "-e", "0x80001f880401", src(EDGE), to, "", LINK_UP], 0),
            (["snmptrap", *USER_B, "-e", "0x80001f880402", src(BACKUP), to, "", LINK_DOWN], 0),
            (
                ["snmpinform", "-v2c", "-c", "netmon-sim", "-t", "3", src(HUB), to, "", COLD_START],
                0,
            ),
            (["snmpinform", *USER_B, "-t", "3", src(BACKUP), to, "", LINK_UP, *link], 0),
            (["snmpinform", *USER_A, "-t", "3", src(EDGE), to, "", COLD_START], 0),
        ]
        for argv, want in cases:
            rc, out = await tool(*argv)
            assert rc == want, f"{' '.join(argv[:4])}: {out}"
        await wait(lambda: len(got) == 7)
        # Refused: a wrong key (trap and inform), a v2c guess, an unknown address.
        wrong = v3("noc-b", "SHA-512", "not-the-right-key", "AES-256", "second-priv-key")
        bad: list[tuple[list[str], int]] = [
            (["snmptrap", *wrong, "-e", "0x80001f880402", src(BACKUP), to, "", LINK_DOWN], 0),
            (["snmpinform", *wrong, "-t", "2", "-r", "0", src(BACKUP), to, "", LINK_DOWN], 1),
            (["snmptrap", "-v2c", "-c", "guess", src(HUB), to, "", LINK_DOWN], 0),
            (["snmptrap", "-v2c", "-c", "netmon-sim", src("127.33.9.9"), to, "", LINK_DOWN], 0),
        ]
        for argv, want in bad:
            rc, out = await tool(*argv)
            assert rc == want, f"{' '.join(argv[:4])}: {out}"
        await wait(lambda: sum(r.stats.dropped.values()) >= 4)
        r.close()
        return r

    async def wait(check: object, timeout: float = 20) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not check():  # type: ignore[operator]
            assert loop.time() < deadline, "timed out"
            await asyncio.sleep(0.02)

    r = asyncio.run(scenario())
    seen = [(t.device, t.kind, t.version, t.inform, t.user) for t in got]
    assert seen == [
        ("cmi-dist-01", "link_down", "2c", False, None),
        ("cmi-dist-01", "link_up", "1", False, None),
        ("cmi-5001-edge-01", "link_up", "3", False, "netmon"),
        ("cmi-dist-02", "link_down", "3", False, "noc-b"),
        ("cmi-dist-01", "cold_start", "2c", True, None),
        ("cmi-dist-02", "link_up", "3", True, "noc-b"),
        ("cmi-5001-edge-01", "cold_start", "3", True, "netmon"),
    ]
    assert (got[0].if_index, got[0].if_name) == (3, "GigabitEthernet0/0/2")
    assert dict(r.stats.dropped) == {"auth": 2, "bad_community": 1, "unknown_source": 1}
    assert r.stats.informs_acked == 3
