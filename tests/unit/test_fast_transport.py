"""FastSnmpTransport and SnmpEndpoint against a tiny in-process agent (asyncio UDP on loopback,
answering from a dict with netmon.snmp.message): values equal the pysnmp transport's, walks
end where they should, and misbehaving agents (walk loops, garbage, silence, duplicates, late
answers, tooBig) become the right errors without disturbing the event loop."""

from __future__ import annotations

import asyncio
import bisect
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, cast

import pytest

from collector.answer_decode import decode_answer, to_value
from collector.fast_transport import FastSnmpTransport, make_fast_transport
from collector.snmp_transport import PysnmpEngine, PysnmpTransport, auth_data
from collector.transport import (
    Missing,
    SnmpAuthError,
    SnmpErrorStatus,
    SnmpGarbage,
    SnmpTimeout,
    SnmpTransportError,
    SnmpWalkLoop,
    Value,
    oid_key,
)
from collector.udp_endpoint import SnmpEndpoint, peek_id
from netmon.errors import ConfigError
from netmon.inventory.model import CredentialProfile, SnmpTiming, SnmpV2c, SnmpV3
from netmon.snmp import ber
from netmon.snmp.ber import OID
from netmon.snmp.message import (
    GEN_ERR,
    TOO_BIG,
    Pdu,
    decode_pdu,
    decode_request,
    encode_getbulk,
    encode_pdu,
    message_prefix,
    peek_version,
    varbind,
    wrap_message,
)
from netmon.snmp.usm import UsmAgent, UsmDrop, UsmUser

COMMUNITY = "fake-community"
SYS = (1, 3, 6, 1, 2, 1, 1)
IF = (1, 3, 6, 1, 2, 1, 2, 2, 1)
IFX = (1, 3, 6, 1, 2, 1, 31, 1, 1, 1)


def dotted(oid: OID) -> str:
    return ".".join(map(str, oid))


def _mib() -> dict[OID, bytes]:
    """Encoded value TLVs by OID: every kind the collector meets, and a few hard cases."""
    mib: dict[OID, bytes] = {
        (*SYS, 1, 0): ber.encode_octets("Juniper ทดสอบ router".encode()),
        (*SYS, 2, 0): ber.encode_oid((1, 3, 6, 1, 4, 1, 2636, 1, 1, 1, 2, 29)),
        (*SYS, 3, 0): ber.encode_unsigned(4_000_000_000, ber.TIMETICKS),
        (*SYS, 5, 0): ber.encode_octets(b"bkk-core-01"),
        (1, 3, 6, 1, 2, 1, 2, 1, 0): ber.encode_int(3),
        (1, 3, 6, 1, 2, 1, 4, 20, 1, 1, 127, 9, 0, 1): ber.encode_octets(
            bytes((127, 9, 0, 1)), ber.IPADDRESS
        ),
        (1, 3, 6, 1, 4, 1, 9, 9, 1, 0): ber.encode_int(-42),
        (1, 3, 6, 1, 4, 1, 9, 9, 2, 0): ber.encode_octets(b"\x9f\x78\x04\x3f\x80\x00\x00", 0x44),
    }
    # ifIndex > 1,000,000 (multi-byte sub-identifiers) as real routers have.
    for i, index in enumerate((1, 2, 1_000_001)):
        mib[(*IF, 1, index)] = ber.encode_int(index)
        mib[(*IF, 2, index)] = ber.encode_octets(f"ge-0/0/{i}".encode())
        # ifPhysAddress: binary, not UTF-8.
        mib[(*IF, 6, index)] = ber.encode_octets(bytes((0x00, 0x1B, 0xFF, 0x80, i, 0xC3)))
        mib[(*IF, 8, index)] = ber.encode_int(1 if i != 1 else 2)
        mib[(*IF, 10, index)] = ber.encode_unsigned(2**32 - 1 - i, ber.COUNTER32)
        mib[(*IFX, 1, index)] = ber.encode_octets(f"ge-0/0/{i}".encode())
        mib[(*IFX, 6, index)] = ber.encode_unsigned(2**64 - 1 - i, ber.COUNTER64)  # >= 2**63
        mib[(*IFX, 15, index)] = ber.encode_unsigned(10_000, ber.GAUGE32)
        mib[(*IFX, 18, index)] = ber.encode_octets("ลิงก์ไป เชียงใหม่ #".encode() + bytes([0xFF]))
    return mib


@dataclass
class FakeAgent(asyncio.DatagramProtocol):
    """A v2c agent answering GET/GETBULK from ``mib``; ``mode`` makes it misbehave."""

    mib: dict[OID, bytes]
    mode: str = "ok"
    max_response_varbinds: int = 10_000
    requests: list[tuple[int, int, int]] = field(default_factory=list)  # (tag, rid, max_reps)
    usm: UsmAgent | None = None  # answers SNMPv3 too when set
    transport: asyncio.DatagramTransport | None = None

    def __post_init__(self) -> None:
        self.held = b""
        self.keys = sorted(self.mib)
        self.prefix = message_prefix(1, COMMUNITY.encode())

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A DatagramTransport in fact (asyncio's class does not declare it in 3.11).
        self.transport = cast(asyncio.DatagramTransport, transport)

    @property
    def port(self) -> int:
        assert self.transport is not None
        return int(self.transport.get_extra_info("sockname")[1])

    def _next(self, oid: OID) -> tuple[OID, bytes]:
        i = bisect.bisect_right(self.keys, oid)
        if i == len(self.keys):
            return oid, b"\x82\x00"
        key = self.keys[i]
        return key, self.mib[key]

    def answer(self, data: bytes) -> bytes | None:
        if peek_version(data) == 3:
            return self.answer_v3(data)
        req = decode_request(data)
        if req.community != COMMUNITY.encode():
            return None
        return wrap_message(self.prefix, self.answer_pdu(req.pdu))

    def answer_v3(self, data: bytes) -> bytes | None:
        assert self.usm is not None
        try:
            got = self.usm.receive(data)
        except UsmDrop:
            return None
        if isinstance(got, bytes):  # a Report
            return got
        return self.usm.respond(got, self.answer_pdu(decode_pdu(got.pdu)))

    def answer_pdu(self, pdu: Pdu) -> bytes:
        self.requests.append((pdu.tag, pdu.request_id, pdu.max_repetitions))
        oids = [ber.decode_oid(o, 0, len(o)) for o in pdu.oids]
        out: list[bytes] = []
        status = 0
        if pdu.tag == ber.GET:
            for oid in oids:
                value = self.mib.get(oid, b"\x81\x00")
                if self.mode == "late":  # which send is being answered
                    value = ber.encode_octets(f"answer {len(self.requests)}".encode())
                out.append(varbind(ber.encode_oid(oid), value))
        elif pdu.tag == ber.GETBULK:
            if self.mode == "toobig" and pdu.max_repetitions * len(oids) > 8:
                status = TOO_BIG
            else:
                nonrep = min(pdu.non_repeaters, len(oids))
                for oid in oids[:nonrep]:  # a GETNEXT each
                    nxt, value = self._next(oid)
                    out.append(varbind(ber.encode_oid(nxt), value))
                cursor = list(oids[nonrep:])
                for _ in range(pdu.max_repetitions):
                    for j, oid in enumerate(cursor):
                        if self.mode == "walk_loop":
                            nxt, value = oid, ber.encode_int(1)
                        else:
                            nxt, value = self._next(oid)
                        cursor[j] = nxt
                        out.append(varbind(ber.encode_oid(nxt), value))
                out = out[: self.max_response_varbinds]
        if self.mode == "generr":
            status = GEN_ERR
        return encode_pdu(
            ber.RESPONSE, pdu.request_id_tlv, status, 1 if status else 0, b"".join(out)
        )

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        assert self.transport is not None
        resp = self.answer(data)
        if resp is None or self.mode == "silent":
            return
        if self.mode == "garbage":  # the right id in a PDU that ends after it
            pdu = ber.tlv(ber.RESPONSE, ber.encode_int(peek_id(resp)))
            bad = ber.tlv(ber.SEQUENCE, ber.encode_int(1) + ber.encode_octets(b"") + pdu)
            self.transport.sendto(bad, addr)
            return
        if self.mode == "noise":  # cannot even be matched
            self.transport.sendto(b"\x30\x82\x7f\xff\x02\x01\x01\x04junk", addr)
            return
        if self.mode == "duplicate":
            self.transport.sendto(resp, addr)
        if self.mode == "late":
            # Hold the first answer until the retransmission arrives, then send both.
            if len(self.requests) == 1:
                self.held = resp
                return
            if len(self.requests) == 2:
                self.transport.sendto(self.held, addr)
        self.transport.sendto(resp, addr)


async def start_agent(mode: str = "ok", **kw: Any) -> FakeAgent:
    agent = FakeAgent(_mib(), mode, **kw)
    loop = asyncio.get_running_loop()
    await loop.create_datagram_endpoint(lambda: agent, local_addr=("127.0.0.1", 0))
    return agent


V2C = SnmpV2c(version="2c", community="env:FAKE_COMMUNITY")
TIMING = SnmpTiming(timeout=0.1, retries=2, max_repetitions=4)


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_COMMUNITY", COMMUNITY)


def run(coro_fn: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(asyncio.wait_for(coro_fn(), 20))


@pytest.fixture
def lab() -> Callable[..., Any]:
    """``async with lab(mode) as (agent, endpoint, transport)``."""
    import contextlib

    @contextlib.asynccontextmanager
    async def make(
        mode: str = "ok", timing: SnmpTiming = TIMING, **kw: Any
    ) -> AsyncIterator[tuple[FakeAgent, SnmpEndpoint, FastSnmpTransport]]:
        agent = await start_agent(mode, **kw)
        ep = SnmpEndpoint()
        try:
            yield agent, ep, FastSnmpTransport(ep, "127.0.0.1", agent.port, V2C, timing)
        finally:
            ep.close()
            assert agent.transport is not None
            agent.transport.close()

    return make


ALL_GET = [dotted(k) for k in sorted(_mib()) if k[:7] == SYS or len(k) <= 10]
COLUMNS = [dotted((*IF, c)) for c in (2, 6, 8, 10)] + [dotted((*IFX, c)) for c in (1, 6, 15, 18)]


def test_values_equal_the_pysnmp_transport(lab: Callable[..., Any]) -> None:
    async def main() -> None:
        async with lab() as (agent, _, fast):
            engine = PysnmpEngine()
            try:
                profile = CredentialProfile(name="fake", snmp=V2C, snmp_timing=TIMING)
                slow = PysnmpTransport(engine, "127.0.0.1", agent.port, auth_data(profile), TIMING)
                oids = [*ALL_GET, dotted((*SYS, 4, 0)), "1.3.6.1.2.1.4.20.1.1.127.9.0.1"]
                got = await fast.get(oids)
                assert got == await slow.get(oids)
                walked = await fast.walk([*COLUMNS, "1.3.6.1.2.1.99"])
                assert walked == await slow.walk([*COLUMNS, "1.3.6.1.2.1.99"])
            finally:
                engine.close()
        values = dict(got)
        assert values[dotted((*SYS, 2, 0))] == "1.3.6.1.4.1.2636.1.1.1.2.29"
        assert values[dotted((*SYS, 4, 0))] is Missing.no_such_instance
        assert values["1.3.6.1.2.1.4.20.1.1.127.9.0.1"] == "127.9.0.1"
        assert values["1.3.6.1.4.1.9.9.1.0"] == -42
        assert walked[dotted((*IFX, 6))]["1000001"] == 2**64 - 3
        assert walked[dotted((*IF, 6))]["2"] == bytes((0, 0x1B, 0xFF, 0x80, 1, 0xC3)).decode(
            "utf-8", "replace"
        )
        assert walked["1.3.6.1.2.1.99"] == {}
        assert list(walked[dotted((*IF, 2))]) == ["1", "2", "1000001"]

    run(main)


def test_walk_sends_every_column_per_getbulk_and_drops_finished_ones(
    lab: Callable[..., Any],
) -> None:
    async def main() -> None:
        async with lab(timing=SnmpTiming(timeout=0.5, retries=0, max_repetitions=2)) as (
            agent,
            ep,
            fast,
        ):
            table = await fast.walk(COLUMNS)
            assert all(len(rows) == 3 for rows in table.values())
            # 3 rows at 2 per request: the second request sees each column end.
            assert [t for t, _, _ in agent.requests] == [ber.GETBULK, ber.GETBULK]
            assert ep.stats.sent == 2 and ep.stats.unmatched == 0

    run(main)


def test_get_walk_carries_the_scalars_in_the_first_getbulk(lab: Callable[..., Any]) -> None:
    """One request fewer per poll, the same answers as a GET and a walk: an object the agent
    lacks (sysLocation.0 here) is Missing, not the next object GETNEXT landed on."""
    scalars = [dotted((*SYS, n, 0)) for n in (3, 5, 4, 2)]

    async def main() -> None:
        async with lab(timing=SnmpTiming(timeout=0.5, retries=0, max_repetitions=2)) as (
            agent,
            _,
            fast,
        ):
            got, table = await fast.get_walk(scalars, COLUMNS)
            assert [t for t, _, _ in agent.requests] == [ber.GETBULK, ber.GETBULK]
            del agent.requests[:]
            assert got == [
                (o, Missing.no_such_object if v is Missing.no_such_instance else v)
                for o, v in await fast.get(scalars)
            ]
            assert table == await fast.walk(COLUMNS)
            assert len(agent.requests) == 3  # the GET and two GETBULKs of the plain walk
        assert dict(got)[dotted((*SYS, 4, 0))] is Missing.no_such_object
        assert dict(got)[dotted((*SYS, 2, 0))] == "1.3.6.1.4.1.2636.1.1.1.2.29"
        assert all(len(rows) == 3 for rows in table.values())

    run(main)


def test_walk_loop(lab: Callable[..., Any]) -> None:
    async def main() -> None:
        async with lab("walk_loop") as (_, _, fast):
            with pytest.raises(SnmpWalkLoop):
                await fast.walk(COLUMNS[:2])

    run(main)


def test_garbage_with_a_matching_id_is_garbage_at_once(lab: Callable[..., Any]) -> None:
    async def main() -> None:
        async with lab("garbage") as (agent, ep, fast):
            with pytest.raises(SnmpGarbage):
                await fast.get(ALL_GET)
            assert len(agent.requests) == 1 and ep.stats.retransmits == 0

    run(main)


def test_unmatchable_noise_is_counted_and_ends_as_garbage_after_the_retries(
    lab: Callable[..., Any],
) -> None:
    async def main() -> None:
        async with lab("noise") as (agent, ep, fast):
            other = await start_agent()
            try:
                good = FastSnmpTransport(ep, "127.0.0.1", other.port, V2C, TIMING)
                results = await asyncio.gather(
                    fast.get(ALL_GET), good.walk(COLUMNS), return_exceptions=True
                )
                # Not cut short (a real answer could still come), but not called silence.
                assert isinstance(results[0], SnmpGarbage), results[0]
                assert isinstance(results[1], dict) and len(results[1][COLUMNS[0]]) == 3
            finally:
                assert other.transport is not None
                other.transport.close()
            assert len(agent.requests) == 3  # 1 + 2 retries
            assert ep.stats.undecodable == 3 and ep.stats.timeouts == 1
            assert ep.outstanding == 0

    run(main)


def test_silence_times_out_after_the_retries(lab: Callable[..., Any]) -> None:
    async def main() -> None:
        async with lab("silent") as (agent, ep, fast):
            with pytest.raises(SnmpTimeout):
                await fast.walk(COLUMNS)
            assert len(agent.requests) == 3
            # The retransmissions keep the request id.
            assert len({rid for _, rid, _ in agent.requests}) == 1
            assert ep.stats.retransmits == 2 and ep.stats.timeouts == 1

    run(main)


def test_duplicate_answers_are_dropped(lab: Callable[..., Any]) -> None:
    async def main() -> None:
        async with lab("duplicate") as (_, ep, fast):
            assert await fast.get(ALL_GET[:2])
            assert await fast.get(ALL_GET[:2])
            await asyncio.sleep(0.05)
            assert ep.stats.matched == 2 and ep.stats.unmatched == 2

    run(main)


def test_late_first_answer_is_accepted_and_the_second_dropped(lab: Callable[..., Any]) -> None:
    async def main() -> None:
        timing = SnmpTiming(timeout=0.1, retries=3, max_repetitions=4)
        async with lab("late", timing=timing) as (agent, ep, fast):
            got = await fast.get(ALL_GET[:1])
            assert got[0][1] == "answer 1"  # the first send's answer, though it came late
            assert ep.stats.retransmits >= 1 and ep.stats.matched == 1
            await asyncio.sleep(0.05)
            assert ep.stats.unmatched >= 1 and len(agent.requests) >= 2

    run(main)


def test_too_big_halves_the_repetitions(lab: Callable[..., Any]) -> None:
    async def main() -> None:
        timing = SnmpTiming(timeout=0.5, retries=0, max_repetitions=8)
        async with lab("toobig", timing=timing) as (agent, _, fast):
            table = await fast.walk(COLUMNS[:4])
            assert all(len(rows) == 3 for rows in table.values())
            # 8 x 4 columns, 4 x 4 too big; 2 x 4 fits and stays for the rest of the walk.
            assert [r for _, _, r in agent.requests] == [8, 4, 2, 2]

    run(main)


def test_error_status_and_truncated_answers(lab: Callable[..., Any]) -> None:
    async def main() -> None:
        async with lab("generr") as (_, _, fast):
            with pytest.raises(SnmpErrorStatus, match="genErr"):
                await fast.get(ALL_GET)
            with pytest.raises(SnmpErrorStatus):
                await fast.walk(COLUMNS)
        # An agent answering fewer varbinds than asked still walks to the end.
        async with lab(max_response_varbinds=3) as (_, _, fast):
            table = await fast.walk(COLUMNS)
            assert all(len(rows) == 3 for rows in table.values())

    run(main)


def test_closing_cancels_outstanding_requests(lab: Callable[..., Any]) -> None:
    async def main() -> None:
        timing = SnmpTiming(timeout=5, retries=0, max_repetitions=4)
        async with lab("silent", timing=timing) as (_, ep, fast):
            task = asyncio.ensure_future(fast.get(ALL_GET))
            await asyncio.sleep(0.05)
            assert ep.outstanding == 1
            ep.close()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert ep.outstanding == 0

    run(main)


def test_many_devices_share_one_socket(lab: Callable[..., Any]) -> None:
    async def main() -> None:
        agents = [await start_agent() for _ in range(5)]
        ep = SnmpEndpoint()
        try:
            ts = [FastSnmpTransport(ep, "127.0.0.1", a.port, V2C, TIMING) for a in agents]
            tables = await asyncio.gather(*(t.walk(COLUMNS) for _ in range(4) for t in ts))
            assert all(t == tables[0] for t in tables)
            assert ep.stats.timeouts == 0 and ep.stats.unmatched == 0
        finally:
            ep.close()
            for a in agents:
                assert a.transport is not None
                a.transport.close()

    run(main)


@pytest.mark.parametrize(
    ("tag", "raw", "want"),
    [
        (ber.INTEGER, -5, -5),
        (ber.COUNTER64, 2**64 - 1, 2**64 - 1),
        (ber.OCTET_STRING, b"\xff", "\ufffd"),
        (ber.IPADDRESS, b"\x7f\x00\x00\x01", "127.0.0.1"),
        (ber.OBJECT_IDENTIFIER, (1, 3, 6), "1.3.6"),
        (ber.NO_SUCH_OBJECT, None, Missing.no_such_object),
        (ber.END_OF_MIB_VIEW, None, Missing.end_of_mib_view),
    ],
)
def test_to_value(tag: int, raw: int | bytes | OID | None, want: Value) -> None:
    assert to_value(tag, raw) == want


@pytest.mark.parametrize(
    ("tag", "raw"),
    [(ber.INTEGER, 2**31), (ber.COUNTER32, 2**32), (ber.IPADDRESS, b"\x01\x02"), (0x47, b"")],
)
def test_to_value_rejects(tag: int, raw: int | bytes) -> None:
    with pytest.raises(SnmpGarbage):
        to_value(tag, raw)


def test_peek_id_reads_v2c_and_v3_ids() -> None:
    from netmon.snmp.message import encode_get
    from netmon.snmp.usm_manager import UsmManager

    assert peek_id(encode_get(b"c", 123456, [(1, 3, 6, 1)])) == 123456
    assert peek_id(UsmManager.discovery(98765)) == 98765
    with pytest.raises(ber.BerError):
        peek_id(b"\x30\x82\x7f\xff\x02\x01\x01")


def test_make_fast_transport_uses_the_inventory_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NETMON_SIM_COMMUNITY", "x")
    from netmon.simulator.testbed import small_inventory

    inv = small_inventory(31)
    device = next(d for _, d in inv.devices() if d.name == "bkk-core-01")
    ep = SnmpEndpoint()
    t = make_fast_transport(ep, inv, device, port_override=16161)
    assert t._addr == ("127.31.0.1", 16161)
    assert make_fast_transport(ep, inv, device)._addr == ("127.31.0.1", 161)
    with pytest.raises(ConfigError, match="IPv6"):
        FastSnmpTransport(ep, "::1", 161, V2C, TIMING)
    with pytest.raises(ConfigError, match="not an IP address"):
        FastSnmpTransport(ep, "router.example", 161, V2C, TIMING)


# --- SNMPv3 -------------------------------------------------------------------------------------

USER = UsmUser(b"noc", "SHA-256", b"fake-auth-pass", "AES-128", b"fake-priv-pass")
V3 = SnmpV3(
    version="3",
    username="noc",
    auth_protocol="SHA-256",
    auth_key="env:FAKE_AUTH",
    priv_protocol="AES-128",
    priv_key="env:FAKE_PRIV",
)


@pytest.fixture
def v3_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_AUTH", "fake-auth-pass")
    monkeypatch.setenv("FAKE_PRIV", "fake-priv-pass")


def test_v3_reads_the_same_as_v2c_and_discovers_once(lab: Callable[..., Any], v3_env: None) -> None:
    async def main() -> None:
        async with lab() as (agent, ep, v2):
            agent.usm = UsmAgent(b"\x80\x00\x1f\x88\x04fake-1", [USER], engine_boots=7)
            t1 = FastSnmpTransport(ep, "127.0.0.1", agent.port, V3, TIMING)
            t2 = FastSnmpTransport(ep, "127.0.0.1", agent.port, V3, TIMING)  # rebuilt transport
            results = await asyncio.gather(t1.get(ALL_GET), t2.get(ALL_GET), t1.walk(COLUMNS))
            assert results[0] == results[1] == await v2.get(ALL_GET)
            assert results[2] == await v2.walk(COLUMNS)
            assert agent.usm.stats["usmStatsUnknownEngineIDs"] == 1  # one discovery

    run(main)


def test_v3_resyncs_after_a_reboot_and_rediscovers_a_new_engine(
    lab: Callable[..., Any], v3_env: None
) -> None:
    async def main() -> None:
        async with lab() as (agent, ep, _):
            agent.usm = UsmAgent(b"\x80\x00\x1f\x88\x04fake-1", [USER], engine_boots=7)
            t = FastSnmpTransport(ep, "127.0.0.1", agent.port, V3, TIMING)
            want = await t.get(ALL_GET)
            agent.usm.reboot()  # boots 8, time 0: our notion of its clock is now stale
            assert await t.get(ALL_GET) == want
            assert agent.usm.stats["usmStatsNotInTimeWindows"] == 1
            # The device was replaced: another engine ID behind the same address.
            agent.usm = UsmAgent(b"\x80\x00\x1f\x88\x04fake-2", [USER])
            assert await t.get(ALL_GET) == want
            assert agent.usm.stats["usmStatsUnknownEngineIDs"] == 2  # our request, rediscovery

    run(main)


def test_v3_wrong_key_is_an_auth_error(
    lab: Callable[..., Any], v3_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def main() -> None:
        async with lab() as (agent, ep, _):
            agent.usm = UsmAgent(b"\x80\x00\x1f\x88\x04fake-1", [USER])
            monkeypatch.setenv("FAKE_AUTH", "another-auth-pass")
            t = FastSnmpTransport(ep, "127.0.0.1", agent.port, V3, TIMING)
            with pytest.raises(SnmpAuthError, match="usmStatsWrongDigests"):
                await t.get(ALL_GET)
            other = V3.model_copy(update={"username": "stranger"})
            with pytest.raises(SnmpAuthError, match="usmStatsUnknownUserNames"):
                await FastSnmpTransport(ep, "127.0.0.1", agent.port, other, TIMING).get(ALL_GET)

    run(main)


# --- the cached decoder ---------------------------------------------------------------------------


def _broken_answers(
    repetitions: tuple[int, ...], seed: int, cut: float
) -> tuple[list[bytes], list[bytes]]:
    """The fake agent's GETBULK answers over COLUMNS, and those plus 3,000 broken copies
    (``cut``: the share cut short; then 1-3 bytes overwritten)."""
    import random

    agent = FakeAgent(_mib())
    good = []
    for reps in repetitions:
        req = encode_getbulk(COMMUNITY.encode(), 7, [oid_key(c) for c in COLUMNS], reps)
        answer = agent.answer(req)
        assert answer is not None
        good.append(answer)
    rng = random.Random(seed)
    cases = list(good)
    for _ in range(3000):
        broken = bytearray(rng.choice(good))
        if rng.random() < cut:
            del broken[rng.randrange(1, len(broken)) :]
        for _ in range(rng.randrange(1, 4)):
            broken[rng.randrange(len(broken))] = rng.randrange(256)
        cases.append(bytes(broken))
    return good, cases


def test_decode_answer_equals_message_decode_response_also_on_broken_input() -> None:

    from netmon.snmp.message import MessageError, decode_response

    good, cases = _broken_answers((1, 3, 5), seed=5, cut=0.5)
    decoded = 0
    for msg in cases:
        try:
            want = decode_response(msg)
        except MessageError:
            with pytest.raises(MessageError):
                decode_answer(msg)
            continue
        assert decode_answer(msg) == want
        decoded += 1
    assert decoded >= len(good)


def _header_cases() -> tuple[list[bytes], list[bytes]]:
    """Answers with short, 0x81 and 0x82 lengths (v1 and v2c), and copies of them with each of
    their first 40 bytes set to values that matter, cut anywhere, or 2-3 bytes changed."""
    import random

    from netmon.snmp import message

    agent = FakeAgent(_mib())
    good = []
    for reps in (1, 5):
        req = encode_getbulk(COMMUNITY.encode(), 2**31 - 7, [oid_key(c) for c in COLUMNS], reps)
        answer = agent.answer(req)
        assert answer is not None
        good.append(answer)
    for n, version, status in ((1, message.V2C, 0), (7, 0, 2)):  # short and 0x81 lengths
        varbinds = b"".join(
            message.varbind(ber.encode_oid((1, 3, 6, 1, 2, 1, 2, 2, 1, 10, i)), ber.encode_int(i))
            for i in range(n)
        )
        good.append(
            message.encode_message(version, b"public", ber.RESPONSE, 300 + n, status, n, varbinds)
        )
    assert sorted({min(len(g) // 128, 2) for g in good}) == [0, 1, 2]
    interesting = (0, 1, 2, 3, 4, 5, 6, 9, 10, 0x1F, 0x30, 0x7F, 0x80, 0x81, 0x82, 0x83, 0xA2, 0xFF)
    cases = []
    for msg in good:
        for i in range(min(40, len(msg))):
            for v in {*interesting, (msg[i] + 1) % 256, (msg[i] - 1) % 256}:
                cases.append(msg[:i] + bytes((v,)) + msg[i + 1 :])
        cases.extend(msg[:n] for n in range(len(msg)))
    rng = random.Random(11)
    for _ in range(5_000):
        broken = bytearray(rng.choice(good))
        for _ in range(rng.randrange(2, 4)):
            broken[rng.randrange(min(30, len(broken)))] = rng.choice(interesting)
        cases.append(bytes(broken))
    return good, cases


def _agrees_on_headers(fast: Callable[[bytes], Any], general: Callable[[bytes], Any]) -> None:
    """``fast`` takes every well-formed answer and, on any case it takes, says what
    ``general`` says; many broken cases are still taken (a changed id, a changed status)."""
    good, cases = _header_cases()
    for msg in good:
        assert fast(msg) is not None and fast(msg) == general(msg)
    taken = 0
    for msg in cases:
        got = fast(msg)
        if got is None:
            continue
        taken += 1
        assert got == general(msg), msg.hex()
    assert taken > 1_000


def test_inline_request_id_agrees_with_the_general_reader() -> None:
    from collector.udp_endpoint import _peek_any_id, _peek_v2c_id

    _agrees_on_headers(_peek_v2c_id, _peek_any_id)


def test_request_message_is_the_plain_encoding_byte_for_byte() -> None:
    """The cached request tails give what encoding the message TLV by TLV gives, for ids of
    every length, short and long PDUs, GET and GETBULK, and the same key asked twice."""
    import random

    from collector.answer_decode import request_message, request_varbinds
    from netmon.snmp.message import encode_pdu, message_prefix, wrap_message

    rng = random.Random(3)
    columns = [oid_key(c) for c in COLUMNS]
    for _ in range(2_000):
        prefix = message_prefix(rng.choice((0, 1)), rng.choice((b"public", b"x" * 90)))
        tag = rng.choice((ber.GET, ber.GETNEXT, ber.GETBULK))
        rid = rng.choice((1, 127, 128, 255, 256, 2**15, 2**23 - 1, 2**24, 2**31 - 1))
        rid = rng.choice((rid, rng.randrange(1, 2**31)))
        a, b = rng.choice((0, 1, 6, 200)), rng.choice((0, 1, 25, 300))
        oids = rng.sample(columns, rng.randrange(1, len(columns) + 1)) * rng.choice((1, 3))
        want = wrap_message(
            prefix, encode_pdu(tag, ber.encode_int(rid), a, b, request_varbinds(oids))
        )
        assert request_message(prefix, tag, rid, a, b, oids) == want
        assert request_message(prefix, tag, rid, a, b, oids) == want  # from the cache


def test_fast_answer_header_agrees_with_the_general_reader() -> None:
    """The inline header reader takes the well-formed answers and, for any header it accepts,
    gives what the TLV-by-TLV reader gives; the rest it leaves to that reader."""
    from collector.answer_decode import _fast_answer, _general_answer

    _agrees_on_headers(_fast_answer, _general_answer)


def _reference_step(
    msg: bytes, prefixes: list[OID], lasts: list[OID]
) -> tuple[list[dict[str, Value]], list[OID], list[bool]]:
    """One walk step the plain way: decode every triple (netmon.snmp.message), then walk them."""
    from netmon.snmp.message import decode_response

    var_binds = decode_response(msg).varbinds
    rows: list[dict[str, Value]] = [{} for _ in prefixes]
    lasts, done = list(lasts), [False] * len(prefixes)
    for i, (key, tag, raw) in enumerate(var_binds):
        k = i % len(prefixes)
        if done[k]:
            continue
        if tag == ber.END_OF_MIB_VIEW:
            done[k] = True
            continue
        if key <= lasts[k]:
            raise SnmpWalkLoop(dotted(key))
        if key[: len(prefixes[k])] != prefixes[k]:
            done[k] = True
            continue
        lasts[k] = key
        rows[k][dotted(key[len(prefixes[k]) :])] = to_value(tag, raw)
    return rows, lasts, done


def test_bulk_rows_equals_decoding_then_walking_also_on_broken_input() -> None:

    from collector.answer_decode import answer_pdu, bulk_rows
    from collector.transport import SnmpTransportError
    from netmon.snmp.message import MessageError

    prefixes = [oid_key(c) for c in COLUMNS]
    good, cases = _broken_answers((1, 3, 5, 25), seed=11, cut=0.3)
    walked = 0
    for msg in cases:
        try:
            want: object = _reference_step(msg, prefixes, list(prefixes))
        except (MessageError, SnmpTransportError):
            want = None
        try:
            h = answer_pdu(msg)[2]
            rows: list[dict[str, Value]] = [{} for _ in prefixes]
            lasts, done = list(prefixes), [False] * len(prefixes)
            bulk_rows(h.buf, h.start, h.stop, prefixes, lasts, rows, done, "d")
            got: object = (rows, lasts, done)
        except (MessageError, SnmpTransportError):
            got = None
        assert got == want, msg.hex()
        walked += want is not None
    assert walked >= len(good) + 100  # many broken answers still walk (a changed value)


def test_a_repeated_walk_asks_for_the_rows_it_had_plus_one(lab: Callable[..., Any]) -> None:
    async def main() -> None:
        timing = SnmpTiming(timeout=0.5, retries=0, max_repetitions=25)
        async with lab(timing=timing) as (agent, _, fast):
            first = await fast.walk(COLUMNS)
            second = await fast.walk(COLUMNS)
            assert first == second
            assert [r for _, _, r in agent.requests] == [25, 4]
            # The table grew: the walk goes on past the hint and finds every row.
            for c in range(10, 20):
                agent.mib[(*IF, 2, 2_000_000 + c)] = ber.encode_octets(b"new")
            agent.keys = sorted(agent.mib)
            third = await fast.walk(COLUMNS)
            assert len(third[dotted((*IF, 2))]) == 13
            assert [r for _, _, r in agent.requests][2:] == [4, 25]
            await fast.walk(COLUMNS)
            assert agent.requests[-1][2] == 14

    run(main)


def test_the_row_hint_holds_for_every_answer_of_a_walk_the_agent_cuts(
    lab: Callable[..., Any],
) -> None:
    """An agent cuts its answers to a size (here 2 repetitions of the 8 columns + 1): the
    second request asks for the rows still to come + 1, not max_repetitions rows, so what
    comes back past the columns' ends is one varbind per column, and the walk still takes
    two requests."""

    async def main() -> None:
        timing = SnmpTiming(timeout=0.5, retries=0, max_repetitions=25)
        width = len(COLUMNS)
        async with lab(timing=timing, max_response_varbinds=2 * width + 1) as (agent, _, fast):
            first = await fast.walk(COLUMNS)
            n = len(agent.requests)
            again = await fast.walk(COLUMNS)
            assert again == first and len(first[COLUMNS[0]]) == 3
            # 3 rows: 4 asked, 2 (and one more of the first column) in the cut answer; then
            # the column furthest behind has 1 row to come: 2 repetitions end every column.
            assert [r for _, _, r in agent.requests[n:]] == [4, 2]

    run(main)


# --- review fixes: boots going down, rotated keys, lost socket, pruned state ----------------------


def test_v3_recovers_when_the_engine_boots_go_down(lab: Callable[..., Any], v3_env: None) -> None:
    async def main() -> None:
        async with lab() as (agent, ep, _):
            engine_id = b"\x80\x00\x1f\x88\x04fake-1"
            agent.usm = UsmAgent(engine_id, [USER], engine_boots=7)
            t = FastSnmpTransport(ep, "127.0.0.1", agent.port, V3, TIMING)
            want = await t.get(ALL_GET)
            # NVRAM wiped (or an RMA with the config restored): same engine ID, boots back to 1.
            agent.usm = UsmAgent(engine_id, [USER], engine_boots=1)
            assert await t.get(ALL_GET) == want
            assert agent.usm.stats["usmStatsNotInTimeWindows"] == 1  # our stale request
            assert agent.usm.stats["usmStatsUnknownEngineIDs"] == 1  # one rediscovery
            # A rebuilt transport shares the re-learned state: no further discovery.
            again = FastSnmpTransport(ep, "127.0.0.1", agent.port, V3, TIMING)
            assert await again.get(ALL_GET) == want
            assert agent.usm.stats["usmStatsUnknownEngineIDs"] == 1

    run(main)


def test_v3_rotated_keys_get_fresh_usm_state(
    lab: Callable[..., Any], v3_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def main() -> None:
        async with lab() as (agent, ep, _):
            engine_id = b"\x80\x00\x1f\x88\x04fake-1"
            agent.usm = UsmAgent(engine_id, [USER])
            old = FastSnmpTransport(ep, "127.0.0.1", agent.port, V3, TIMING)
            want = await old.get(ALL_GET)
            new_user = UsmUser(b"noc", "SHA-256", b"rotated-auth", "AES-128", b"rotated-priv")
            agent.usm = UsmAgent(engine_id, [new_user])
            with pytest.raises(SnmpAuthError):
                await old.get(ALL_GET)
            monkeypatch.setenv("FAKE_AUTH", "rotated-auth")
            monkeypatch.setenv("FAKE_PRIV", "rotated-priv")
            new = FastSnmpTransport(ep, "127.0.0.1", agent.port, V3, TIMING)  # a rebuild
            assert await new.get(ALL_GET) == want
            assert len(ep._usm) == 1  # the old keys' state toward the device was dropped
            new.forget()
            assert ep._usm == {}

    run(main)


def test_the_endpoint_reopens_after_losing_its_socket(lab: Callable[..., Any]) -> None:
    async def main() -> None:
        async with lab() as (_, ep, fast):
            want = await fast.get(ALL_GET)
            first = ep.local_address
            assert ep._sock is not None
            ep._sock.close()  # under the endpoint: the next request must open another
            assert await fast.get(ALL_GET) == want
            assert ep.local_address is not None and ep.local_address != first

    run(main)


def test_garbage_marks_only_its_own_devices_requests(lab: Callable[..., Any]) -> None:
    async def main() -> None:
        timing = SnmpTiming(timeout=0.1, retries=1, max_repetitions=4)
        async with lab("noise", timing=timing) as (_, ep, fast):
            quiet = await start_agent("silent")
            try:
                mute = FastSnmpTransport(ep, "127.0.0.1", quiet.port, V2C, timing)
                results = await asyncio.gather(
                    fast.get(ALL_GET), fast.walk(COLUMNS), mute.get(ALL_GET), return_exceptions=True
                )
            finally:
                assert quiet.transport is not None
                quiet.transport.close()
            assert [type(r) for r in results] == [SnmpGarbage, SnmpGarbage, SnmpTimeout]
            assert ep.outstanding == 0 and ep._by_addr == {}  # the index is kept in step

    run(main)


async def _soon(fast: FastSnmpTransport, oids: list[str]) -> Any:
    """``get_soon``'s outcome, awaited (a future the callback resolves)."""
    fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    assert fast.get_soon(oids, fut.set_result)
    return await fut


@pytest.mark.parametrize("mode", ["ok", "garbage", "silent", "generr", "late"])
def test_get_soon_tells_what_get_returns_or_raises(lab: Callable[..., Any], mode: str) -> None:
    """The callback GET (status polls and probes) is ``get`` without a task: same answers,
    same errors, and the endpoint forgets the request either way."""

    async def main() -> None:
        timing = SnmpTiming(timeout=0.1, retries=3, max_repetitions=4)
        async with lab(mode, timing=timing) as (agent, ep, fast):
            oids = ALL_GET[:1] if mode == "late" else ALL_GET
            try:
                want: Any = await fast.get(oids)
            except SnmpTransportError as exc:
                want = exc
            asked = len(agent.requests)
            agent.requests.clear()  # "late" holds the first answer it is asked for
            got = await _soon(fast, oids)
            assert type(got) is type(want)
            if isinstance(want, list):
                assert got == want
            else:
                assert str(got) == str(want)
            if mode != "late":  # its retransmissions depend on when the late answer lands
                assert len(agent.requests) == asked  # the same requests, retransmissions
            assert ep.outstanding == 0

    run(main)


def test_get_soon_is_v2c_only_and_closing_tells_the_callback(
    lab: Callable[..., Any], v3_env: None
) -> None:
    async def main() -> None:
        timing = SnmpTiming(timeout=5, retries=0, max_repetitions=4)
        async with lab("silent", timing=timing) as (agent, ep, fast):
            told: list[Any] = []
            assert fast.get_soon(ALL_GET, told.append)
            await asyncio.sleep(0.05)
            assert ep.outstanding == 1 and not told
            ep.close()
            assert len(told) == 1 and isinstance(told[0], SnmpTransportError)
            v3 = FastSnmpTransport(ep, "127.0.0.1", agent.port, V3, timing)
            assert not v3.get_soon(ALL_GET, told.append)  # discovery takes turns: a task's job

    run(main)
