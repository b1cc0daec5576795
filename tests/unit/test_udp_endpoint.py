"""The shared SNMP socket and the poll guards: answers that came during a stall of the loop
win over the timers that expired in it."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator

from collector.model import ProbeResult
from collector.poll_limits import guard_probe
from collector.transport import SnmpTimeout
from collector.udp_endpoint import SnmpEndpoint
from netmon.snmp import ber


def _request(rid: int) -> bytes:
    """A v2c-shaped GET (an echo of it is an answer the endpoint matches on the id)."""
    pdu = ber.tlv(ber.GET, ber.encode_int(rid) + b"\x02\x01\x00\x02\x01\x00\x30\x00")
    return ber.tlv(ber.SEQUENCE, b"\x02\x01\x01" + ber.encode_octets(b"public") + pdu)


@contextlib.asynccontextmanager
async def _lab() -> AsyncIterator[tuple[SnmpEndpoint, socket.socket, tuple[str, int]]]:
    """An open endpoint and an agent socket (answered by hand) on loopback."""
    ep = SnmpEndpoint("127.0.0.1")
    await ep.open()
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as agent:
            agent.bind(("127.0.0.1", 0))
            yield ep, agent, agent.getsockname()
    finally:
        ep.close()


def _answer_all_then_stall(agent: socket.socket, n: int, stall: float) -> None:
    """Answer the ``n`` requests sent at once, then block the loop for ``stall`` seconds."""
    agent.settimeout(2)
    for _ in range(n):
        data, src = agent.recvfrom(2048)
        agent.sendto(data, src)  # an echo carries the request's id: an answer
    time.sleep(stall)


def test_answers_queued_during_a_stall_are_read_before_their_timers_fire() -> None:
    """Every answer arrives in time but the loop is blocked (a big render, say) until after
    the requests' timeouts. Read one datagram per loop iteration (asyncio's datagram
    transport), the timers of all but the first fire first: false "no answer" verdicts."""

    async def main() -> None:
        async with _lab() as (ep, agent, addr):
            tasks = [
                asyncio.create_task(ep.exchange(addr, rid, _request(rid), 0.2, 0))
                for rid in range(1, 51)
            ]
            await asyncio.sleep(0)  # every request sent
            _answer_all_then_stall(agent, len(tasks), 0.4)  # past every timeout
            results = await asyncio.gather(*tasks, return_exceptions=True)
        timeouts = sum(isinstance(r, SnmpTimeout) for r in results)
        assert timeouts == 0, f"{timeouts} of 50 answered requests timed out"
        assert ep.stats.matched == 50 and ep.stats.timeouts == 0

    asyncio.run(main())


def test_a_send_the_kernel_refuses_is_counted_and_the_request_times_out() -> None:
    async def main() -> None:
        ep = SnmpEndpoint("127.0.0.1")
        try:
            # Port 0 is not a destination: the kernel refuses the send at once.
            try:
                await ep.exchange(("127.0.0.1", 0), 7, _request(7), 0.05, 0)
            except SnmpTimeout:
                pass
            else:
                raise AssertionError("a refused send cannot be answered")
            assert ep.stats.socket_errors == 1 and ep.stats.timeouts == 1
        finally:
            ep.close()

    asyncio.run(main())


def test_a_guard_that_expired_during_the_stall_lets_an_answered_probe_finish() -> None:
    """The probe's own guard (5 s in the scheduler, 0.2 s here) expired during the stall too:
    the answer is read first, and the guard must not cancel the probe before it resumes."""

    async def main() -> None:
        async with _lab() as (ep, agent, addr):

            async def probe(rid: int) -> ProbeResult:
                await ep.exchange(addr, rid, _request(rid), 1.0, 0)
                return ProbeResult(True)

            tasks = [asyncio.create_task(guard_probe(probe(rid), 0.2)) for rid in range(1, 21)]
            await asyncio.sleep(0)
            _answer_all_then_stall(agent, len(tasks), 0.4)  # past every probe's guard
            results = await asyncio.gather(*tasks)
        assert [r.answered if r else None for r in results] == [True] * 20

    asyncio.run(main())


def test_a_guard_still_cuts_a_probe_that_gets_no_answer() -> None:
    async def main() -> None:
        ep = SnmpEndpoint("127.0.0.1")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as agent:  # silent
            agent.bind(("127.0.0.1", 0))

            async def probe() -> ProbeResult:
                await ep.exchange(agent.getsockname(), 1, _request(1), 5.0, 0)
                return ProbeResult(True)

            loop = asyncio.get_running_loop()
            t0 = loop.time()
            result = await guard_probe(probe(), 0.1)
            elapsed = loop.time() - t0
        ep.close()
        assert result is not None and not result.answered and result.error_kind == "timeout"
        assert elapsed < 1.0

    asyncio.run(main())
