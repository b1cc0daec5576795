"""FifoTimers: call_later semantics (order, cancel, re-arming from a callback) behind one timer."""

from __future__ import annotations

import asyncio
import logging

import pytest

from collector.fifo_timers import FifoTimers, loop_timers


def run(coro_fn):  # type: ignore[no-untyped-def]
    return asyncio.run(coro_fn())


def test_timeouts_of_several_lengths_fire_in_due_order_and_cancelled_ones_never() -> None:
    async def main() -> list[str]:
        loop = asyncio.get_running_loop()
        timers = FifoTimers(loop)
        fired: list[str] = []
        timers.call_later(0.06, fired.append, "b60")
        timers.call_later(0.02, fired.append, "a20")
        dropped = timers.call_later(0.02, fired.append, "never")
        timers.call_later(0.04, fired.append, "a40")
        timers.call_later(0.02, fired.append, "c20")
        dropped.cancel()
        dropped.cancel()  # idempotent
        assert dropped.cancelled
        await asyncio.sleep(0.1)
        assert len(timers) == 0  # everything left, cancelled entries included
        return fired

    assert run(main) == ["a20", "c20", "a40", "b60"]


def test_a_timeout_never_fires_before_it_is_due() -> None:
    async def main() -> list[float]:
        loop = asyncio.get_running_loop()
        timers = FifoTimers(loop)
        late: list[float] = []
        for i in range(50):
            due = loop.time() + 0.01 * (i % 5)
            timers.call_later(0.01 * (i % 5), lambda d=due: late.append(loop.time() - d))
            await asyncio.sleep(0.001)
        await asyncio.sleep(0.1)
        return late

    late = run(main)
    assert len(late) == 50
    assert min(late) >= -0.0011  # at most EARLY (1 ms) before, like the loop's own timers


def test_a_callback_may_set_the_next_timeout_and_one_failing_stops_no_other(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def main() -> list[int]:
        loop = asyncio.get_running_loop()
        timers = FifoTimers(loop)
        tries: list[int] = []

        def retransmit(n: int) -> None:  # what the SNMP endpoint's _expire does
            tries.append(n)
            if n < 3:
                timers.call_later(0.01, retransmit, n + 1)

        def broken() -> None:
            raise RuntimeError("a bug")

        timers.call_later(0.01, broken)
        timers.call_later(0.01, retransmit, 1)
        timers.call_later(0.005, timers.call_later, 0.001, tries.append, 99)  # a new length
        await asyncio.sleep(0.1)
        return tries

    with caplog.at_level(logging.ERROR, logger="collector.fifo_timers"):
        assert run(main) == [99, 1, 2, 3]
    assert "a bug" in caplog.text


def test_one_asyncio_timer_stands_for_thousands_and_close_drops_them() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        timers = FifoTimers(loop)
        before = len(loop._scheduled)  # type: ignore[attr-defined]
        entries = [timers.call_later(1.0 + (i % 3), lambda: None) for i in range(3000)]
        assert len(loop._scheduled) - before == 1  # type: ignore[attr-defined]
        for e in entries:
            e.cancel()
        timers.close()
        assert len(timers) == 0
        assert loop_timers() is loop_timers()  # one shared per loop

    run(main)
