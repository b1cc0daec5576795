"""Real net-snmp (snmpget/snmpbulkget 5.9) as the manager against UsmAgent on loopback UDP."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator

import pytest
from support.usm_responder import VALUE, thread_responder

from netmon.snmp.usm import UsmAgent, UsmUser
from netmon.snmp.usm_crypto import AUTH_PROTOCOLS, PRIV_PROTOCOLS

pytestmark = pytest.mark.integration

ENGINE = bytes.fromhex("80001f8880c0ffee00000001")
AUTH_PW = "auth-secret-1"
PRIV_PW = "priv-secret-1"
# net-snmp's -x names: AES-256 is the Blumenthal key extension, AES-256-C the Reeder ("Cisco").
NETSNMP_PRIV = {"AES-128": "AES", "AES-256": "AES-256", "AES-256-C": "AES-256-C"}
COMBOS = [(a, p) for a in AUTH_PROTOCOLS for p in PRIV_PROTOCOLS]

if shutil.which("snmpget") is None:  # pragma: no cover - the Debian package is a prerequisite
    pytest.skip("net-snmp client tools not installed", allow_module_level=True)


def name(auth: str, priv: str) -> str:
    return f"u-{auth}-{priv}"


@pytest.fixture(scope="module")
def agent() -> UsmAgent:
    users = [
        UsmUser(name(a, p).encode(), a, AUTH_PW.encode(), p, PRIV_PW.encode()) for a, p in COMBOS
    ]
    return UsmAgent(ENGINE, users, engine_boots=5)


@pytest.fixture(scope="module")
def port(agent: UsmAgent) -> Iterator[int]:
    with thread_responder(agent) as p:
        yield p


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    # Keep net-snmp away from /etc/snmp and /var/lib/snmp: no config, no persistent state.
    home = tmp_path_factory.mktemp("netsnmp")
    return {**os.environ, "SNMPCONFPATH": str(home), "SNMP_PERSISTENT_DIR": str(home)}


def netsnmp(
    tool: str,
    port: int,
    env: dict[str, str],
    user: str,
    auth: str,
    priv: str,
    *oids: str,
    auth_pw: str = AUTH_PW,
    priv_pw: str = PRIV_PW,
    extra: tuple[str, ...] = (),
) -> subprocess.CompletedProcess[str]:
    argv = [
        tool,
        "-v3",
        "-l",
        "authPriv",
        "-u",
        user,
        "-a",
        auth,
        "-A",
        auth_pw,
        "-x",
        priv,
        "-X",
        priv_pw,
        "-m",
        "",
        "-On",
        "-r",
        "0",
        "-t",
        "2",
        *extra,
        f"127.0.0.1:{port}",
        *oids,
    ]
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=20)


@pytest.mark.parametrize(("auth", "priv"), COMBOS)
def test_snmpget_authpriv(port: int, env: dict[str, str], auth: str, priv: str) -> None:
    out = netsnmp(
        "snmpget", port, env, name(auth, priv), auth, NETSNMP_PRIV[priv], "1.3.6.1.2.1.1.5.0"
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f'.1.3.6.1.2.1.1.5.0 = STRING: "{VALUE.decode()}"'


def test_snmpbulkget_authpriv(port: int, env: dict[str, str]) -> None:
    out = netsnmp(
        "snmpbulkget",
        port,
        env,
        name("SHA-512", "AES-256"),
        "SHA-512",
        "AES-256",
        "1.3.6.1.2.1.2.2.1.10",
        extra=("-Cn0", "-Cr4"),
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        f".1.3.6.1.2.1.2.2.1.10.{i} = INTEGER: {i}" for i in range(1, 5)
    ]


def test_wrong_auth_key_is_an_authentication_failure(
    agent: UsmAgent, port: int, env: dict[str, str]
) -> None:
    before = agent.stats["usmStatsWrongDigests"]
    out = netsnmp(
        "snmpget",
        port,
        env,
        name("SHA-256", "AES-128"),
        "SHA-256",
        "AES",
        "1.3.6.1.2.1.1.5.0",
        auth_pw="not-the-password",
    )
    assert out.returncode != 0
    assert "Authentication failure" in out.stderr
    assert agent.stats["usmStatsWrongDigests"] == before + 1


@pytest.mark.parametrize(
    ("user", "priv", "priv_pw"),
    [
        (name("SHA", "AES-128"), "AES", "not-the-password"),
        # SHA-1 gives 20 bytes: the two AES-256 key extensions really differ.
        (name("SHA", "AES-256"), "AES-256-C", PRIV_PW),
        (name("SHA", "AES-256-C"), "AES-256", PRIV_PW),
    ],
)
def test_wrong_priv_key_is_a_decryption_error(
    agent: UsmAgent, port: int, env: dict[str, str], user: str, priv: str, priv_pw: str
) -> None:
    before = agent.stats["usmStatsDecryptionErrors"]
    out = netsnmp("snmpget", port, env, user, "SHA", priv, "1.3.6.1.2.1.1.5.0", priv_pw=priv_pw)
    assert out.returncode != 0
    assert "Decryption error" in out.stderr
    assert agent.stats["usmStatsDecryptionErrors"] == before + 1


def test_unknown_user_and_stale_boots(agent: UsmAgent, port: int, env: dict[str, str]) -> None:
    out = netsnmp("snmpget", port, env, "nobody", "SHA", "AES", "1.3.6.1.2.1.1.5.0")
    assert out.returncode != 0
    assert "Unknown user name" in out.stderr
    # -Z presets boots/time (no discovery of them): stale boots get notInTimeWindow, and
    # net-snmp re-syncs from the authenticated report and retries by itself.
    before = agent.stats["usmStatsNotInTimeWindows"]
    out = netsnmp(
        "snmpget",
        port,
        env,
        name("SHA", "AES-128"),
        "SHA",
        "AES",
        "1.3.6.1.2.1.1.5.0",
        extra=("-e", ENGINE.hex(), "-Z", "1,0"),
    )
    assert out.returncode == 0, out.stderr
    assert VALUE.decode() in out.stdout
    assert agent.stats["usmStatsNotInTimeWindows"] == before + 1
