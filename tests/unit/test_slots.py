"""Slots: bound, FIFO hand-over, cancellation in every state, growth while in use."""

from __future__ import annotations

import asyncio

import pytest

from collector.slots import Slots


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def test_at_most_size_holders_served_first_come_first_served() -> None:
    async def main() -> None:
        slots = Slots(2)
        order: list[int] = []
        gates = [asyncio.Event() for _ in range(6)]
        running = 0
        peak = 0

        async def hold(i: int) -> None:
            nonlocal running, peak
            async with slots:
                running += 1
                peak = max(peak, running)
                order.append(i)
                await gates[i].wait()
                running -= 1

        tasks = [asyncio.create_task(hold(i)) for i in range(6)]
        await settle()
        assert order == [0, 1] and slots.free == 0 and slots.waiting == 4
        for i in (1, 0, 2, 3, 4, 5):
            gates[i].set()
            await settle()
        await asyncio.gather(*tasks)
        assert order == [0, 1, 2, 3, 4, 5] and peak == 2
        assert slots.free == 2 and slots.waiting == 0

    asyncio.run(main())


def test_a_slot_is_released_when_the_body_raises() -> None:
    async def main() -> None:
        slots = Slots(1)
        with pytest.raises(RuntimeError):
            async with slots:
                raise RuntimeError("boom")
        assert slots.free == 1

    asyncio.run(main())


def test_cancelled_waiters_never_hold_or_lose_a_slot() -> None:
    async def main() -> None:
        slots = Slots(1)
        release = asyncio.Event()
        got: list[str] = []

        async def hold(name: str) -> None:
            async with slots:
                got.append(name)
                await release.wait()

        await slots.__aenter__()  # this test holds the one slot
        waiting = asyncio.create_task(hold("cancelled while waiting"))
        handed = asyncio.create_task(hold("cancelled once handed the slot"))
        last = asyncio.create_task(hold("last"))
        await settle()
        waiting.cancel()
        await settle()
        assert slots.waiting == 2
        release.set()
        await slots.__aexit__(None, None, None)  # hands the slot to `handed` (skipping one)...
        handed.cancel()  # ...cancelled before it runs: the slot goes on to `last`
        async with asyncio.timeout(5):  # a lost slot would leave `last` waiting forever
            await asyncio.gather(waiting, handed, last, return_exceptions=True)
        assert got == ["last"]
        assert slots.free == 1 and slots.waiting == 0

    asyncio.run(main())


def test_growing_hands_the_new_slots_to_waiters_first() -> None:
    async def main() -> None:
        slots = Slots(1)
        release = asyncio.Event()
        running = 0

        async def hold() -> None:
            nonlocal running
            async with slots:
                running += 1
                await release.wait()

        tasks = [asyncio.create_task(hold()) for _ in range(5)]
        await settle()
        assert running == 1
        slots.grow(3)
        await settle()
        assert running == 3 and slots.size == 3 and slots.free == 0
        slots.grow(2)  # never shrinks
        assert slots.size == 3
        release.set()
        await asyncio.gather(*tasks)
        assert slots.free == 3
        with pytest.raises(ValueError):
            Slots(0)

    asyncio.run(main())
