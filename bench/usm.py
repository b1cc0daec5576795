"""SNMPv3 USM agent costs: building a simulator's worth of engines, and CPU per message.

Run: ``.venv/bin/python -m bench.usm``. CPU-seconds (process_time), medians of 5 runs.
Peers measured in the same run: pysnmp's key derivation (uncached password-to-key per user per
engine, what pysnmp does when each engine gets its own user entry) and pysnmp 7 as the manager
of the same v3 authPriv exchange over loopback (its per-request CPU).
"""

from __future__ import annotations

import asyncio
import hashlib
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from pyasn1.type import univ
from pysnmp.hlapi.v3arch.asyncio import (
    ContextData,
    ObjectIdentity,
    ObjectType,
    SnmpEngine,
    UdpTransportTarget,
    UsmUserData,
    get_cmd,
    usmAesCfb128Protocol,
    usmHMAC192SHA256AuthProtocol,
)
from pysnmp.proto.secmod.rfc3414 import localkey
from support.usm_responder import AsyncResponder, response_pdu

from netmon.snmp import ber
from netmon.snmp.usm import SecurityLevel, UsmAgent, UsmUser, V3Request
from netmon.snmp.usm_crypto import password_to_key
from netmon.snmp.usm_manager import UsmManager

DEVICES = 1100
RUNS = 5
USERS = [
    UsmUser(b"noc", "SHA-256", b"noc-auth-pass", "AES-128", b"noc-priv-pass"),
    UsmUser(b"ops", "SHA-512", b"ops-auth-pass", "AES-256", b"ops-priv-pass"),
]


def engine_id(i: int) -> bytes:
    return bytes.fromhex("80001f8804") + f"sim{i:05d}".encode()


def build_agents(cold: bool) -> float:
    if cold:
        password_to_key.cache_clear()
    t0 = time.process_time()
    agents = [UsmAgent(engine_id(i), USERS) for i in range(DEVICES)]
    elapsed = time.process_time() - t0
    assert len(agents) == DEVICES
    return elapsed


def pysnmp_keys(devices: int) -> float:
    t0 = time.process_time()
    for i in range(devices):
        eid = univ.OctetString(engine_id(i))
        for u in USERS:
            h = hashlib.sha256 if u.auth == "SHA-256" else hashlib.sha512
            localkey.password_to_key(u.auth_password, eid, h)
            localkey.password_to_key(u.priv_password, eid, h)
    return time.process_time() - t0


def get_pdu() -> bytes:
    vb = ber.tlv(ber.SEQUENCE, ber.encode_oid((1, 3, 6, 1, 2, 1, 1, 5, 0)) + b"\x05\x00")
    return ber.tlv(ber.GET, b"\x02\x01\x07\x02\x01\x00\x02\x01\x00" + ber.tlv(0x30, vb))


def per_message(user: UsmUser, level: SecurityLevel, n: int = 5000) -> float:
    agent = UsmAgent(engine_id(1), [user])
    manager = UsmManager(user, level)
    report = agent.receive(manager.discovery(1))
    assert isinstance(report, bytes)
    manager.receive(report)
    msg = manager.request(7, get_pdu())
    answer = response_pdu(get_pdu())
    t0 = time.process_time()
    for _ in range(n):
        req = agent.receive(msg)
        assert isinstance(req, V3Request)
        agent.respond(req, answer)
    return (time.process_time() - t0) / n


def manager_per_message(user: UsmUser, n: int = 5000) -> float:
    """The other end: UsmManager.request + receive of the same exchange."""
    agent = UsmAgent(engine_id(1), [user])
    manager = UsmManager(user)
    report = agent.receive(manager.discovery(1))
    assert isinstance(report, bytes)
    manager.receive(report)
    req = agent.receive(manager.request(7, get_pdu()))
    assert isinstance(req, V3Request)
    answer = agent.respond(req, response_pdu(get_pdu()))
    t0 = time.process_time()
    for i in range(n):
        manager.request(i, get_pdu())
        manager.receive(answer)
    return (time.process_time() - t0) / n


async def pysnmp_exchange(n: int = 300) -> tuple[float, float]:
    """(pysnmp manager CPU per request, our agent CPU per request) in the same loop."""
    user = UsmUser(b"noc", "SHA-256", b"noc-auth-pass", "AES-128", b"noc-priv-pass")
    agent = UsmAgent(engine_id(2), [user])
    spent = [0.0]

    class Timed(AsyncResponder):
        def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
            t = time.process_time()
            super().datagram_received(data, addr)
            spent[0] += time.process_time() - t

    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: Timed(agent), local_addr=("127.0.0.1", 0)
    )
    engine = SnmpEngine()
    target = await UdpTransportTarget.create(
        ("127.0.0.1", transport.get_extra_info("sockname")[1]), timeout=2, retries=1
    )
    data = UsmUserData(
        "noc",
        "noc-auth-pass",
        "noc-priv-pass",
        authProtocol=usmHMAC192SHA256AuthProtocol,
        privProtocol=usmAesCfb128Protocol,
    )
    oid = ObjectType(ObjectIdentity((1, 3, 6, 1, 2, 1, 1, 5, 0)))
    await get_cmd(engine, data, target, ContextData(), oid, lookupMib=False)  # discovery
    spent[0] = 0.0
    t0 = time.process_time()
    for _ in range(n):
        err, _, _, _ = await get_cmd(engine, data, target, ContextData(), oid, lookupMib=False)
        assert err is None, err
    total = time.process_time() - t0
    engine.close_dispatcher()
    transport.close()
    return (total - spent[0]) / n, spent[0] / n


def main() -> None:
    cold = statistics.median(build_agents(cold=True) for _ in range(RUNS))
    warm = statistics.median(build_agents(cold=False) for _ in range(RUNS))
    peer_n = 50
    peer = statistics.median(pysnmp_keys(peer_n) for _ in range(3)) * DEVICES / peer_n
    print(f"## USM engines: {DEVICES} agents x {len(USERS)} users (shared passwords)\n")
    print("| what | CPU-s |")
    print("|---|---|")
    print(f"| UsmAgent x{DEVICES}, Ku cache cold | {cold:.3f} |")
    print(f"| UsmAgent x{DEVICES}, Ku cache warm | {warm:.3f} |")
    print(f"| pysnmp localkey.password_to_key per user/engine (x{peer_n}, scaled) | {peer:.2f} |")
    print(f"| ratio pysnmp / ours (cold) | {peer / cold:.0f}x |\n")
    print("## CPU per v3 request (receive + respond, GET sysName)\n")
    print("| auth/priv | level | us/msg |")
    print("|---|---|---|")
    for u in [
        UsmUser(b"a", "SHA", b"auth-pass", "AES-128", b"priv-pass"),
        UsmUser(b"b", "SHA-256", b"auth-pass", "AES-128", b"priv-pass"),
        UsmUser(b"c", "SHA-512", b"auth-pass", "AES-256", b"priv-pass"),
    ]:
        for level in (SecurityLevel.AUTH_PRIV, SecurityLevel.AUTH_NO_PRIV):
            cost = statistics.median(per_message(u, level) for _ in range(RUNS))
            print(f"| {u.auth}/{u.priv} | {level.name} | {cost * 1e6:.1f} |")
        cost = statistics.median(manager_per_message(u) for _ in range(RUNS))
        print(f"| {u.auth}/{u.priv} | UsmManager request + receive, AUTH_PRIV | {cost * 1e6:.1f} |")
    results = [asyncio.run(pysnmp_exchange()) for _ in range(3)]
    manager = statistics.median(r[0] for r in results)
    ours = statistics.median(r[1] for r in results)
    print("\n## Same exchange over loopback: pysnmp 7 manager vs this agent (SHA-256/AES-128)\n")
    print("| side | us/request |")
    print("|---|---|")
    print(f"| pysnmp get_cmd (manager, whole stack) | {manager * 1e6:.0f} |")
    print(f"| UsmAgent + responder (incl. PDU answer) | {ours * 1e6:.0f} |")
    print(f"| ratio | {manager / ours:.0f}x |")


if __name__ == "__main__":
    main()
