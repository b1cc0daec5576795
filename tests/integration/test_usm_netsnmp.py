"""Real net-snmp 5.9: snmpget/snmpbulkget as the manager against UsmAgent, and snmpd as the
agent for UsmManager, all on loopback UDP."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Iterator

import pytest
from support.procs import free_udp_port, running
from support.usm_responder import VALUE, thread_responder

from netmon.snmp import ber
from netmon.snmp.usm import UsmAgent, UsmUser
from netmon.snmp.usm_crypto import AUTH_PROTOCOLS, PRIV_PROTOCOLS
from netmon.snmp.usm_manager import UsmManager, V3Report, V3Response

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


# --- UsmManager (the manager side) against a real net-snmp snmpd ------------------------------

SNMPD_USERS = [
    ("SHA", "AES-256"),
    ("SHA", "AES-256-C"),
    ("SHA-256", "AES-128"),
    ("SHA-512", "AES-256"),
]


@pytest.fixture(scope="module")
def snmpd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    home = tmp_path_factory.mktemp("snmpd")
    conf = home / "snmpd.conf"
    lines = [f"sysName {VALUE.decode()}"]
    for auth, priv in SNMPD_USERS:
        lines.append(f'createUser {name(auth, priv)} {auth} "{AUTH_PW}" {priv} "{PRIV_PW}"')
        lines.append(f"rouser {name(auth, priv)} priv")
    conf.write_text("\n".join(lines) + "\n")
    udp = free_udp_port()
    argv = ["snmpd", "-f", "-Lo", "-C", "-c", str(conf), "-I", "-smux", "-M", "/dev/null"]
    argv += ["-m", "", f"udp:127.0.0.1:{udp}"]

    def ready() -> bool:
        manager = UsmManager(UsmUser(b"probe", "SHA", b"probe-pass", "AES-128", b"probe-pass"))
        return isinstance(udp_exchange(udp, manager.discovery(1), timeout=0.2), bytes)

    with running(argv, ready=ready, log=home / "snmpd.log", env={"SNMP_PERSISTENT_DIR": str(home)}):
        yield udp


def udp_exchange(port: int, msg: bytes, timeout: float = 2.0) -> bytes | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(msg, ("127.0.0.1", port))
        try:
            return s.recv(65535)
        except TimeoutError:
            return None


def get_sysname(request_id: int) -> bytes:
    vb = ber.tlv(ber.SEQUENCE, ber.encode_oid((1, 3, 6, 1, 2, 1, 1, 5, 0)) + b"\x05\x00")
    return ber.tlv(
        ber.GET,
        ber.encode_int(request_id) + b"\x02\x01\x00\x02\x01\x00" + ber.tlv(ber.SEQUENCE, vb),
    )


def ask(port: int, manager: UsmManager, msg: bytes) -> V3Response | V3Report:
    answer = udp_exchange(port, msg)
    assert answer is not None, "snmpd did not answer"
    return manager.receive(answer)


@pytest.mark.parametrize(("auth", "priv"), SNMPD_USERS)
def test_usm_manager_against_snmpd(snmpd: int, auth: str, priv: str) -> None:
    u = UsmUser(name(auth, priv).encode(), auth, AUTH_PW.encode(), priv, PRIV_PW.encode())
    manager = UsmManager(u)
    report = ask(snmpd, manager, manager.discovery(1))
    assert isinstance(report, V3Report) and report.counter == "usmStatsUnknownEngineIDs"
    assert manager.discovered and manager.engine_id
    answer = ask(snmpd, manager, manager.request(2, get_sysname(4711)))
    if isinstance(answer, V3Report):  # snmpd may not have told its time unauthenticated
        assert answer.counter == "usmStatsNotInTimeWindows" and answer.authenticated
        answer = ask(snmpd, manager, manager.request(3, get_sysname(4711)))
    assert isinstance(answer, V3Response), answer
    assert answer.pdu.endswith(ber.encode_octets(VALUE))
    assert ber.encode_int(4711) in answer.pdu[:8]


def test_usm_manager_wrong_password_gets_wrong_digests(snmpd: int) -> None:
    u = UsmUser(name("SHA", "AES-256").encode(), "SHA", b"not-the-password", "AES-256", b"x" * 8)
    manager = UsmManager(u)
    ask(snmpd, manager, manager.discovery(1))
    report = ask(snmpd, manager, manager.request(2, get_sysname(1)))
    assert isinstance(report, V3Report) and report.counter == "usmStatsWrongDigests"
