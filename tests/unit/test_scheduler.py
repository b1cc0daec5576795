"""Scheduler logic with a scripted collector and a manual clock: no wall-clock assertions."""

from __future__ import annotations

import asyncio
import itertools
import math
import statistics
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
from support.collector_lab import target

from collector.model import PollResult, ProbeResult, StatusResult, Target
from collector.poll_limits import jitter_fraction, poll_deadline
from collector.scheduler import Scheduler
from collector.transport import SnmpWalkLoop


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class ScriptedCollector:
    """collect() blocks until released (per device), and records concurrency."""

    def __init__(self) -> None:
        self.gates: dict[str, asyncio.Event] = {}
        self.calls: list[str] = []
        self.running = 0
        self.max_running = 0
        self.fail: dict[str, Exception] = {}
        self.forgotten: list[str] = []
        self.status: dict[str, StatusResult] = {}
        self.dead: set[str] = set()  # probes of these get no answer
        self.probed: list[str] = []
        self.probe_gates: dict[str, asyncio.Event] = {}

    def gate(self, name: str) -> asyncio.Event:
        return self.gates.setdefault(name, asyncio.Event())

    async def collect(self, t: Target) -> PollResult:
        self.calls.append(t.name)
        self.running += 1
        self.max_running = max(self.max_running, self.running)
        try:
            await self.gate(t.name).wait()
            if t.name in self.fail:
                raise self.fail[t.name]
            return PollResult(ok=True, varbinds=3)
        finally:
            self.running -= 1

    async def poll_status(self, t: Target) -> StatusResult | None:
        return self.status.get(t.name)

    async def probe(self, t: Target) -> ProbeResult:
        self.probed.append(t.name)
        if t.name in self.probe_gates:
            await self.probe_gates[t.name].wait()
        if t.name in self.dead:
            return ProbeResult(False, "timeout", "no answer")
        return ProbeResult(True)

    def forget(self, name: str) -> None:
        self.forgotten.append(name)


class CallbackCollector(ScriptedCollector):
    """ScriptedCollector's answers by callback (``start_status`` / ``start_probe``), as the
    fast transport gives them: the scheduler then holds an InFlight, not a task."""

    def __init__(self) -> None:
        super().__init__()
        self.started: list[tuple[str, str]] = []
        self.refuse: bool | Exception = False  # start() says it cannot, or raises
        self.twice = False  # a buggy collector that calls back twice

    def start_status(self, t: Target, done: Callable[[StatusResult], None]) -> bool:
        return self._start(t, "status", self.poll_status(t), done)

    def start_probe(self, t: Target, done: Callable[[ProbeResult], None]) -> bool:
        return self._start(t, "probe", self.probe(t), done)

    def _start(
        self, t: Target, kind: str, coro: Coroutine[Any, Any, Any], done: Callable[[Any], None]
    ) -> bool:
        if self.refuse:
            coro.close()
            if isinstance(self.refuse, Exception):
                raise self.refuse
            return False
        self.started.append((t.name, kind))

        def back(fut: asyncio.Future[Any]) -> None:
            done(fut.result())
            if self.twice:
                done(fut.result())

        asyncio.ensure_future(coro).add_done_callback(back)
        return True


BOTH = pytest.mark.parametrize("cls", [ScriptedCollector, CallbackCollector])


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def test_jitter_is_stable_and_spreads_evenly() -> None:
    names = [f"d{i:04d}-edge1" for i in range(2000)]
    fractions = [jitter_fraction(n) for n in names]
    assert fractions == [jitter_fraction(n) for n in names]  # deterministic
    assert all(0 <= f < 1 for f in fractions)
    buckets = [0] * 10
    for f in fractions:
        buckets[int(f * 10)] += 1
    # 200 expected per bucket; a clump would show as a bucket far off
    assert min(buckets) > 140 and max(buckets) < 260
    assert 0.45 < statistics.mean(fractions) < 0.55


def test_deadline_is_bounded_by_interval_and_timing() -> None:
    t = target(interval=60.0)  # timeout 0.2 s, retries 0
    assert poll_deadline(t, requests_bound=10) == pytest.approx(2.0)
    # A poll cut at its deadline ends before the next is due: no every-other-interval skips.
    assert poll_deadline(target(interval=1.0), requests_bound=10) == pytest.approx(0.9)


async def polled_once(
    targets: dict[str, Target], cls: type[ScriptedCollector] = ScriptedCollector
) -> tuple[Clock, ScriptedCollector, Scheduler]:
    """A scheduler without start-up spread whose devices were each polled once, successfully."""
    clock = Clock()
    col = cls()
    sched = Scheduler(col, clock=clock, startup_window=0.0)
    sched.set_targets(targets)
    for name in targets:
        col.gate(name).set()
    await sched.poll_all_once()
    return clock, col, sched


def test_scheduler_state_does_not_grow_with_polls() -> None:
    async def main() -> None:
        clock, _, sched = await polled_once({n: target(n) for n in ("a", "b", "c")})
        for _ in range(19):  # 19 more sweeps, 30 s apart, and never a call to stats()
            clock.now += 30.0
            await sched.poll_all_once()
        assert sched.polls == 60
        # No per-poll history is kept at all: the poll rate is rate() of the exported counter.
        held = [v for v in vars(sched).values() if isinstance(v, (list, deque, dict))]
        assert all(len(v) <= 3 for v in held), [len(v) for v in held]

    asyncio.run(main())


def test_overrun_is_skipped_and_counted_never_overlapping() -> None:
    async def main() -> None:
        clock = Clock()
        col = ScriptedCollector()
        sched = Scheduler(col, clock=clock, startup_window=0.0)
        sched.set_targets({"a": target("a", interval=10.0)})
        clock.now += 0.001
        assert sched.dispatch(clock.now) == 1
        await settle()
        for _ in range(3):  # three more intervals pass while the first poll hangs
            clock.now += 10.0
            sched.dispatch(clock.now)
            await settle()
        assert col.calls == ["a"]
        assert col.max_running == 1
        assert sched.states["a"].skipped == 3
        col.gate("a").set()
        await settle()
        assert sched.states["a"].up and sched.states["a"].polls == 1
        clock.now += 10.0
        sched.dispatch(clock.now)
        await settle()
        assert col.calls == ["a", "a"]

    asyncio.run(main())


def test_deadline_turns_a_hung_device_into_a_timeout_result() -> None:
    async def main() -> None:
        col = ScriptedCollector()
        sched = Scheduler(col, requests_bound=1, startup_window=0.0)
        sched.set_targets({"slow": target("slow"), "fast": target("fast")})
        col.gate("fast").set()  # "slow" never answers: its deadline is 0.2 s
        await sched.poll_all_once()
        slow, fast = sched.states["slow"], sched.states["fast"]
        assert not slow.up and slow.timeouts == 1 and slow.errors["timeout"] == 1
        assert fast.up and fast.errors == {}

    asyncio.run(main())


def test_concurrency_is_bounded() -> None:
    async def main() -> None:
        col = ScriptedCollector()
        sched = Scheduler(col, concurrency=3, startup_window=0.0)
        names = [f"d{i}" for i in range(10)]
        sched.set_targets({n: target(n) for n in names})
        run = asyncio.create_task(sched.poll_all_once())
        await settle()
        assert col.running == 3
        for n in names:
            col.gate(n).set()
        await run
        assert col.max_running == 3
        assert all(sched.states[n].up for n in names)

    asyncio.run(main())


def test_status_and_probe_slots_grow_with_the_inventory_and_are_used() -> None:
    class GatedStatus(ScriptedCollector):
        def __init__(self) -> None:
            super().__init__()
            self.status_gate = asyncio.Event()
            self.status_running = 0

        async def poll_status(self, t: Target) -> StatusResult | None:
            self.status_running += 1
            await self.status_gate.wait()
            return StatusResult(ok=True, oper_status={})

    async def main() -> None:
        clock = Clock()
        col = GatedStatus()
        sched = Scheduler(col, concurrency=8, clock=clock, startup_window=0.0, probe_concurrency=3)
        assert (sched.stats().status_slots, sched.stats().probe_slots) == (4, 3)  # the floors
        few = {f"d{i}": target(f"d{i}", uplinks=("Gi0/1",), probe_interval=5.0) for i in range(5)}
        sched.set_targets(few)
        assert (sched.stats().status_slots, sched.stats().probe_slots) == (
            4,
            3,
        )  # 0.5 and 1 a second: floors
        # 300 devices, status every 2 s and probes every 1 s: 150 and 300 a second
        many = {
            f"d{i}": target(f"d{i}", uplinks=("Gi0/1",), status_interval=2.0, probe_interval=1.0)
            for i in range(300)
        }
        sched.set_targets(many)
        assert (sched.stats().status_slots, sched.stats().probe_slots) == (15, 30)
        stats = sched.stats()
        assert (stats.slots, stats.status_slots, stats.probe_slots) == (8, 15, 30)
        for n in many:
            col.gate(n).set()
        await sched.poll_all_once()  # a status poll needs a first full poll
        for n in many:
            sched.request_status(n)
        await settle()
        assert col.status_running == 15  # the grown bound, not the floor of 4
        sched.set_targets(few)
        assert (sched.stats().status_slots, sched.stats().probe_slots) == (15, 30)  # never shrinks
        col.status_gate.set()
        await settle()

    asyncio.run(main())


def test_one_failing_device_is_a_failed_result_not_a_failed_run() -> None:
    async def main() -> None:
        col = ScriptedCollector()
        col.fail["bad"] = SnmpWalkLoop("1.3.6.1.2.1.2.2.1.8.3 does not follow ...5")
        col.fail["bug"] = ZeroDivisionError("oops")
        sched = Scheduler(col, startup_window=0.0)
        sched.set_targets({n: target(n) for n in ("bad", "bug", "good")})
        for n in ("bad", "bug", "good"):
            col.gate(n).set()
        await sched.poll_all_once()
        assert sched.states["bad"].errors == {"walk_loop": 1}
        assert sched.states["bug"].errors == {"internal": 1}
        assert sched.states["good"].up

    asyncio.run(main())


def test_set_targets_keeps_unchanged_state_and_forgets_removed() -> None:
    async def main() -> None:
        col = ScriptedCollector()
        sched = Scheduler(col, startup_window=0.0)
        sched.set_targets({"a": target("a"), "b": target("b")})
        for n in ("a", "b", "c"):
            col.gate(n).set()
        await sched.poll_all_once()
        before = sched.states["a"]
        added, removed, changed = sched.set_targets(
            {"a": target("a"), "b": target("b", interval=30.0), "c": target("c")}
        )
        assert (added, removed, changed) == (1, 0, 1)
        assert sched.states["a"] is before and before.polls == 1
        assert sched.states["b"].polls == 1  # changed: counters kept
        assert sched.set_targets({"a": target("a")}) == (0, 2, 0)
        assert sorted(col.forgotten) == ["b", "c"]
        assert set(sched.states) == {"a"}

    asyncio.run(main())


def test_polls_keep_their_phase_inside_the_interval() -> None:
    async def main() -> None:
        clock = Clock()
        col = ScriptedCollector()
        sched = Scheduler(col, clock=clock, startup_window=0.0)
        names = [f"d{i}" for i in range(300)]
        for n in names:
            col.gate(n).set()
        sched.set_targets({n: target(n, interval=60.0) for n in names})
        sched.dispatch(clock.now)  # the first polls (start-up window 0)
        await settle()
        starts: list[float] = []
        for _ in range(600):  # one interval, in 0.1 s steps
            clock.now += 0.1
            starts += [clock.now] * sched.dispatch(clock.now)
            await settle()
        assert len(starts) == 300  # every device exactly once per interval
        per_10s = [sum(1 for s in starts if k * 10 <= s - 1000 < (k + 1) * 10) for k in range(6)]
        assert min(per_10s) > 25  # ~50 expected in each sixth: spread, not a burst

    asyncio.run(main())


@BOTH
def test_status_poll_overlays_oper_status_and_failure_marks_down(
    cls: type[ScriptedCollector],
) -> None:
    async def main() -> None:
        t = target("a", interval=60.0, status_interval=5.0, uplinks=("Gi0/1",))
        clock, col, sched = await polled_once({"a": t}, cls)
        col.status["a"] = StatusResult(ok=True, oper_status={"1": 2})
        clock.now += 5.0
        sched.dispatch(clock.now)
        await settle()
        state = sched.states["a"]
        assert state.status_overlay == {"1": 2} and state.up
        col.status["a"] = StatusResult(ok=False, error_kind="timeout")
        clock.now += 5.0
        sched.dispatch(clock.now)
        await settle()
        assert not state.up and state.status_failures == 1

    asyncio.run(main())


def test_a_changed_device_stays_up_until_a_poll_says_otherwise() -> None:
    async def main() -> None:
        t = target("a", interval=60.0, status_interval=5.0, uplinks=("Gi0/1",))
        clock, col, sched = await polled_once({"a": t})
        assert sched.states["a"].up
        col.status["a"] = StatusResult(ok=True, oper_status={"1": 1})
        sched.set_targets(
            {"a": target("a", interval=30.0, status_interval=5.0, uplinks=("Gi0/1",))}
        )
        col.gate("a").clear()  # its next full poll hangs; a status poll answers meanwhile
        for _ in range(3):
            clock.now += 5.0
            sched.dispatch(clock.now)
            await settle()
        assert sched.states["a"].status_polls >= 1
        assert sched.states["a"].up

    asyncio.run(main())


@BOTH
def test_probes_judge_reachability_and_dead_devices_are_suspended(
    cls: type[ScriptedCollector],
) -> None:
    async def main() -> None:
        seen: list[tuple[str, str, bool]] = []

        def observer(name: str, kind: str, state: object, result: object, began: float) -> None:
            if isinstance(result, ProbeResult):
                seen.append((name, kind, result.answered))

        t = target("a", interval=60.0, status_interval=10.0, uplinks=("Gi0/1",), probe_interval=5.0)
        clock, col, sched = await polled_once({"a": t}, cls)
        sched.observer = observer
        col.dead.add("a")
        sched.request_probe("a")
        await settle()
        col.calls.clear()
        for _ in range(12):  # 60 s in 5 s steps: the dead device's polls are all suspended
            clock.now += 5.0
            sched.dispatch(clock.now)
            await settle()
        state = sched.states["a"]
        assert not state.up and state.answering is False
        assert col.calls == []  # no full poll while it is dead
        assert state.suspended == 2 and state.status_skipped["unreachable"] >= 5
        # a known-dead device is probed every 2 probe intervals, not every one
        assert 7 <= state.probes <= 8, state.probes
        assert seen[0] == ("a", "probe", False)
        col.dead.clear()
        clock.now += 10.0
        sched.dispatch(clock.now)
        await settle()
        assert state.answering is True and seen[-1] == ("a", "probe", True)
        assert col.calls == ["a"]  # its first answer brings a full poll at once

    asyncio.run(main())


@BOTH
def test_a_timed_out_poll_asks_for_a_probe_at_once(cls: type[ScriptedCollector]) -> None:
    async def main() -> None:
        col = cls()
        sched = Scheduler(col, requests_bound=1, startup_window=0.0)
        sched.set_targets({"slow": target("slow")})  # never released: its poll times out
        col.dead.add("slow")
        await sched.poll_all_once()
        await settle()
        assert col.probed == ["slow"]
        assert sched.states["slow"].answering is False

    asyncio.run(main())


@BOTH
def test_dead_devices_never_hold_the_slots_of_live_ones(cls: type[ScriptedCollector]) -> None:
    async def main() -> None:
        clock = Clock()
        col = cls()
        sched = Scheduler(
            col, clock=clock, startup_window=0.0, probe_concurrency=1, dead_probe_concurrency=1
        )
        names = ("dead1", "dead2", "live")
        sched.set_targets({n: target(n, probe_interval=5.0) for n in names})
        for n in names:
            col.gate(n).set()
        await sched.poll_all_once()  # scheduled probes start after a device's first poll
        for n in ("dead1", "dead2"):
            col.dead.add(n)
            sched.request_probe(n)
        await settle()
        assert sched.states["dead1"].answering is False
        # both dead ones are now stuck on their next probe; the live one's still runs
        for n in ("dead1", "dead2"):
            col.probe_gates[n] = asyncio.Event()
        for _ in range(4):
            clock.now += 5.0
            sched.dispatch(clock.now)
            await settle()
        assert sched.states["live"].probes >= 3
        assert sched.states["dead1"].probes + sched.states["dead2"].probes == 2
        # and a confirmation (urgent) of a live device never waits behind the dead either
        before = sched.states["live"].probes
        sched.request_probe("live")
        await settle()
        assert sched.states["live"].probes == before + 1

    asyncio.run(main())


@BOTH
def test_probe_only_devices_are_never_polled(cls: type[ScriptedCollector]) -> None:
    async def main() -> None:
        clock = Clock()
        col = cls()
        sched = Scheduler(col, clock=clock, startup_window=0.0)
        sched.set_targets({"up": target("up", probe_only=True, probe_interval=5.0)})
        for _ in range(30):
            clock.now += 5.0
            sched.dispatch(clock.now)
            await settle()
        assert col.calls == [] and len(col.probed) == 30
        assert not sched.request_full("up")
        assert await sched.poll_all_once() >= 0 and col.calls == []

    asyncio.run(main())


def test_the_start_up_poll_is_not_followed_by_a_false_skip() -> None:
    # A device whose spread first poll lands just before its phase: its regular poll came due
    # while the first (a slow first walk, a v3 discovery) still ran, and a skip was counted on
    # a healthy device after every start. The next regular poll still comes on its phase.
    names = [f"d{i:04d}-edge1" for i in range(400)]
    name = min(names, key=jitter_fraction)  # phase 60 j s, first poll at 10 j s: close

    async def main() -> None:
        clock = Clock()
        col = ScriptedCollector()
        sched = Scheduler(col, clock=clock, startup_window=10.0)
        sched.set_targets({name: target(name, interval=60.0)})
        first = sched.next_due()
        assert first is not None
        clock.now = first
        assert sched.dispatch(clock.now) >= 1
        await settle()
        clock.now += 1.5  # past the phase slot, the first poll still running
        sched.dispatch(clock.now)
        await settle()
        assert sched.states[name].skipped == 0
        col.gate(name).set()
        await settle()
        clock.now += 60.0
        sched.dispatch(clock.now)
        await settle()
        assert sched.states[name].skipped == 0 and col.calls.count(name) == 2

    asyncio.run(main())


@BOTH
def test_a_status_poll_on_request(cls: type[ScriptedCollector]) -> None:
    async def main() -> None:
        t = target("a", interval=60.0, status_interval=10.0, uplinks=("Gi0/1",))
        _, col, sched = await polled_once({"a": t, "b": target("b")}, cls)
        col.status["a"] = StatusResult(ok=True, oper_status={"1": 2})
        assert sched.request_status("a")
        await settle()
        assert sched.states["a"].status_overlay == {"1": 2}
        assert not sched.request_status("b")  # no link interfaces to ask about
        assert not sched.request_status("ghost")

    asyncio.run(main())


def test_no_scheduled_probe_before_the_first_full_poll() -> None:
    async def main() -> None:
        clock = Clock()
        col = ScriptedCollector()
        sched = Scheduler(col, clock=clock, startup_window=10.0)
        sched.set_targets({"a": target("a", probe_interval=1.0)})  # its poll hangs
        for _ in range(5):
            clock.now += 1.0
            sched.dispatch(clock.now)
            await settle()
        assert col.calls == ["a"] and col.probed == []
        col.gate("a").set()
        await settle()
        clock.now += 1.0
        sched.dispatch(clock.now)
        await settle()
        assert col.probed == ["a"]

    asyncio.run(main())


@pytest.mark.parametrize("name", ["a", "b", "c", "d1", "e22", "f333"])  # other phases
@BOTH
def test_a_device_answering_its_status_polls_needs_half_the_probes(
    name: str, cls: type[ScriptedCollector]
) -> None:
    async def main() -> None:
        t = target(
            name, interval=600.0, status_interval=10.0, uplinks=("Gi0/1",), probe_interval=5.0
        )
        clock, col, sched = await polled_once({name: t}, cls)
        col.status[name] = StatusResult(ok=True, oper_status={"Gi0/1": 1})
        asked: list[float] = []  # when each request that the device answered was sent

        def observer(name: str, kind: str, state: object, result: object, began: float) -> None:
            asked.append(clock.now)

        sched.observer = observer
        for _ in range(400):  # 200 s in 0.5 s steps
            clock.now += 0.5
            sched.dispatch(clock.now)
            await settle()
        state = sched.states[name]
        assert 19 <= state.status_polls <= 21
        # every second probe was not needed: a status poll had just answered
        assert 18 <= state.probes <= 22, state.probes
        assert state.status_skipped["answered"] >= 18
        gaps = [b - a for a, b in itertools.pairwise(asked)]
        assert max(gaps) <= 5.0 + 0.5, max(gaps)  # never silent longer than a probe interval
        # once its status polls stop answering, it is probed every interval again
        col.status[name] = StatusResult(ok=False, error_kind="timeout", error="no answer")
        probes = state.probes
        for _ in range(100):
            clock.now += 0.5
            sched.dispatch(clock.now)
            await settle()
        assert state.probes - probes >= 9

    asyncio.run(main())


def test_callback_polls_keep_the_slot_bound_and_fall_back_to_tasks() -> None:
    async def main() -> None:
        col = CallbackCollector()
        sched = Scheduler(col, clock=Clock(), startup_window=0.0, probe_concurrency=2)
        names = [f"d{i}" for i in range(5)]
        sched.set_targets({n: target(n, uplinks=("Gi0/1",)) for n in names})
        for n in names:
            col.gate(n).set()
        await sched.poll_all_once()
        seen: list[str] = []
        sched.observer = lambda name, kind, state, result, began: seen.append(f"{name} {kind}")
        slots = sched._probe_sem
        assert slots.size == 2
        for n in names:
            col.probe_gates[n] = asyncio.Event()
            sched.request_probe(n)
        await settle()
        # two by callback; the other three wait for a slot in tasks, asking nothing yet
        assert col.started == [("d0", "probe"), ("d1", "probe")] and col.probed == ["d0", "d1"]
        assert sched.probe_in_flight == 2 and slots.free == 0
        for n in names:
            col.probe_gates[n].set()
        await settle()
        assert sorted(seen) == [f"{n} probe" for n in names]
        assert sched.probe_in_flight == 0 and slots.free == 2
        assert all(sched.states[n].probes == 1 for n in names)

        for refuse in (True, RuntimeError("a secret that does not resolve")):
            col.refuse, seen[:] = refuse, []
            assert sched.request_probe("d0") and sched.request_status("d1")
            await settle()
            assert seen == ["d0 probe"]  # by task (the scripted status poll answers None)
            assert col.started[2:] == [] and slots.free == 2
        col.refuse = False

        col.twice, seen[:] = True, []  # a buggy collector: recorded once, one slot given back
        col.status["d1"] = StatusResult(ok=True, oper_status={"Gi0/1": 1})
        sched.request_probe("d0")
        sched.request_status("d1")
        await settle()
        assert sorted(seen) == ["d0 probe", "d1 status"] and col.started[-1] == ("d1", "status")
        assert (slots.free, sched._status_sem.free) == (2, sched._status_sem.size)
        assert sched.states["d1"].status_polls == 1 and sched.status_in_flight == 0
        col.twice = False

        # a device removed while its callback probe runs: the answer records nothing
        col.probe_gates["d2"].clear()
        seen[:] = []
        sched.request_probe("d2")
        await settle()
        assert sched.probe_in_flight == 1
        sched.set_targets({n: target(n, uplinks=("Gi0/1",)) for n in names if n != "d2"})
        col.probe_gates["d2"].set()
        await settle()
        assert seen == [] and slots.free == 2 and sched.probe_in_flight == 0

    asyncio.run(main())


def test_a_callback_from_inside_start_leaves_nothing_in_flight() -> None:
    class AtOnce(ScriptedCollector):
        def start_status(self, t: Target, done: Callable[[StatusResult], None]) -> bool:
            done(StatusResult(ok=True, oper_status={"Gi0/1": 2}))
            return True

    async def main() -> None:
        t = target("a", interval=60.0, status_interval=5.0, uplinks=("Gi0/1",))
        clock, _, sched = await polled_once({"a": t}, AtOnce)
        clock.now += 5.0
        sched.dispatch(clock.now)
        state, slot = sched.states["a"], sched._slots["a"]
        assert state.status_overlay == {"Gi0/1": 2} and state.status_polls == 1
        assert sched.status_in_flight == 0 and slot.status_task is not None
        assert slot.status_task.done() and slot.status_since == -math.inf

    asyncio.run(main())
