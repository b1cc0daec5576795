"""The poll scheduler: every device on its own interval, spread evenly, never overlapping.

- Each device's polls sit at a fixed phase inside its interval, derived from a hash of its
  name, so a thousand devices with a 60 s interval make a steady ~17 polls/s, not a burst.
  The very first poll of each device is spread over a short start-up window instead, so a
  fresh start shows data within seconds.
- A poll runs under a deadline (min(interval, timeout x (retries+1) x requests bound)): a
  dead or slow device costs its own deadline and nobody else's.
- A device never has two polls at once: a poll due while the previous one still runs is
  skipped and counted (the peers' "overlapping polls" pain), not queued.
- Concurrency is bounded by a semaphore; the fast status polls have their own, so a queue
  of full polls never delays the detection of a dead link.
- Every device is probed for reachability (a GET of sysUpTime, short timeout, two tries)
  every ``probe_interval``: the probe is the judge of "does it answer". A device whose probe
  fails is *known dead*: its full and status polls are suspended (counted), and it is probed
  on its own slots at half the rate, so dead devices never hold the slots that detect the next
  failure. Its first answer brings a full poll at once. A full or status poll that times out
  asks for a probe at once, and so can anyone else (``request_probe``: the state engine
  confirms a failing device's upstream devices this way).
- An ``observer`` hears every result (the wiring feeds the state engine with it).
- Any collector that implements ``Collector`` can be scheduled (SNMP now, SSH next); one
  failing device is a failed result, never a failed run.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from collector.model import DeviceState, PollResult, ProbeResult, StatusResult, Target
from collector.poll_limits import (
    REQUESTS_BOUND,
    guard_poll,
    guard_probe,
    guard_status,
    jitter_fraction,
    poll_deadline,
    status_deadline,
)

log = logging.getLogger(__name__)

DEFAULT_CONCURRENCY = 64
STARTUP_WINDOW = 10.0
FULL, STATUS, PROBE = "full", "status", "probe"
PROBE_CONCURRENCY = 32  # probes of devices that answer (and confirmations)
DEAD_PROBE_CONCURRENCY = 32  # probes of devices known dead, on their own slots
DEAD_PROBE_FACTOR = 2  # a known-dead device is probed every 2 probe intervals
# Polls due within a tick start together, up to a tick early: at 10x (~600 due times a
# second, every device on its own phase) one wake-up per due time was ~15 % of the CPU.
DISPATCH_TICK = 0.025
PROBE_DEADLINE = 5.0  # a probe's own timing is 2 x 1 s; this bounds a misbehaving one


class Collector(Protocol):
    async def collect(self, target: Target) -> PollResult: ...

    async def poll_status(self, target: Target) -> StatusResult | None: ...

    async def probe(self, target: Target) -> ProbeResult: ...

    def forget(self, name: str) -> None: ...


Result = PollResult | StatusResult | ProbeResult
# (device, kind, state, result, unix time the request began: older news must not win)
Observer = Callable[[str, str, DeviceState, Result, float], None]


@dataclass(slots=True)
class SchedulerStats:
    started: float  # unix time
    polls: int
    in_flight: int
    status_in_flight: int
    probe_in_flight: int
    last_lag: float  # how late the last poll got its turn (semaphore wait), seconds
    cycle_seconds: float  # age of the oldest poll result: how long a sweep of all takes


@dataclass(slots=True)
class _Slot:
    generation: int
    full_task: asyncio.Task[None] | None = None
    status_task: asyncio.Task[None] | None = None
    probe_task: asyncio.Task[None] | None = None
    full_ok: bool = False
    status_ok: bool = True
    dead: bool = False  # the last probe got no answer
    # A full or status poll that answers is a probe too (see dispatch): when the latest
    # answered one was sent, when the running ones were, when the next status poll is due.
    heard_at: float = -math.inf
    full_since: float = -math.inf
    status_since: float = -math.inf
    next_status: float = math.inf
    status_heard: bool = False  # the last status poll answered
    # The spread start-up poll can land just before the device's phase, so its first regular
    # poll comes due while it still runs: that one overlap is no overrun, not a skip to count.
    forgive_overlap: bool = False


class Scheduler:
    def __init__(
        self,
        collector: Collector,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        requests_bound: int = REQUESTS_BOUND,
        startup_window: float = STARTUP_WINDOW,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        observer: Observer | None = None,
        probe_concurrency: int = PROBE_CONCURRENCY,
        dead_probe_concurrency: int = DEAD_PROBE_CONCURRENCY,
    ) -> None:
        self.collector = collector
        self.observer = observer
        self.states: dict[str, DeviceState] = {}
        self._slots: dict[str, _Slot] = {}
        self._heap: list[tuple[float, int, str, str, int]] = []
        self._seq = 0
        self._generation = 0
        self._sem = asyncio.Semaphore(concurrency)
        self._status_sem = asyncio.Semaphore(max(4, concurrency // 4))
        self._probe_sem = asyncio.Semaphore(probe_concurrency)
        self._dead_sem = asyncio.Semaphore(dead_probe_concurrency)
        self._requests_bound = requests_bound
        self._startup_window = startup_window
        self._clock = clock
        self._wall = wall
        self._epoch = clock()
        self._started_wall = wall()
        self._waiter: asyncio.Future[None] | None = None  # run()'s sleep, cut short by _wake_up
        self.polls = 0
        self.in_flight = 0
        self.status_in_flight = 0
        self.probe_in_flight = 0
        self._last_lag = 0.0

    # --- targets ------------------------------------------------------------------------

    def set_targets(self, targets: Mapping[str, Target]) -> tuple[int, int, int]:
        """Make ``targets`` the device set. Unchanged devices keep their state and schedule;
        changed ones keep their counters and are rescheduled. Returns (added, removed, changed)."""
        now = self._clock()
        added = removed = changed = 0
        for name in list(self.states):
            if name not in targets:
                self._drop(name)
                removed += 1
        for name, target in targets.items():
            state = self.states.get(name)
            if state is not None and state.target == target:
                continue
            if state is None:
                self.states[name] = DeviceState(target=target)
                added += 1
            else:
                state.target = target
                changed += 1
                self._cancel(name)
            self._generation += 1
            # a changed device keeps its health until its next poll says otherwise
            was_up = state is not None and state.up
            dead = state is not None and state.answering is False
            self._slots[name] = _Slot(generation=self._generation, full_ok=was_up, dead=dead)
            spread = jitter_fraction(name) * min(target.interval, self._startup_window)
            if target.probe_only:
                self._push(now + spread, name, PROBE)
                continue
            self._push(now + spread, name, FULL)
            if target.uplinks:
                due = self._next_slot(now, name, target.status_interval)
                self._slots[name].next_status = due
                self._push(due, name, STATUS)
            if target.probe_interval > 0:
                self._push(self._next_slot(now, name, target.probe_interval), name, PROBE)
        self._wake_up()
        return added, removed, changed

    def _cancel(self, name: str) -> None:
        slot = self._slots.get(name)
        if slot is None:
            return
        for task in (slot.full_task, slot.status_task, slot.probe_task):
            if task is not None and not task.done():
                task.cancel()

    def _drop(self, name: str) -> None:
        self._cancel(name)
        self._slots.pop(name, None)
        self.states.pop(name, None)
        self.collector.forget(name)

    # --- timing -------------------------------------------------------------------------

    def _push(self, due: float, name: str, kind: str) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (due, self._seq, name, kind, self._slots[name].generation))

    def _next_slot(self, now: float, name: str, interval: float) -> float:
        """The first time after ``now`` at this device's phase of ``interval``."""
        offset = jitter_fraction(name) * interval
        k = math.floor((now - self._epoch - offset) / interval) + 1
        return self._epoch + offset + k * interval

    def next_due(self) -> float | None:
        return self._heap[0][0] if self._heap else None

    def dispatch(self, now: float) -> int:
        """Start every poll due at ``now``; returns how many started."""
        started = 0
        while self._heap and self._heap[0][0] <= now:
            due, _, name, kind, generation = heapq.heappop(self._heap)
            slot = self._slots.get(name)
            if slot is None or slot.generation != generation:
                continue  # the device was removed or changed since
            state = self.states[name]
            target = state.target
            if kind == FULL:
                interval = target.interval
            elif kind == STATUS:
                interval = target.status_interval
            else:
                interval = target.probe_interval or target.interval
                if slot.dead:
                    interval *= DEAD_PROBE_FACTOR
                elif self._probe_not_needed(name, slot, due, interval):
                    state.status_skipped["answered"] += 1
                    continue
            nxt = self._next_slot(max(now, due), name, interval)
            if kind == STATUS:
                slot.next_status = nxt
            self._push(nxt, name, kind)
            if kind == FULL:
                if slot.dead:
                    state.suspended += 1  # known dead: the probe tells when it is back
                    continue
                if slot.full_task is not None and not slot.full_task.done():
                    if slot.forgive_overlap:
                        slot.forgive_overlap = False
                    else:
                        state.skipped += 1
                    continue
                slot.forgive_overlap = slot.full_task is None and self._startup_window > 0
                slot.full_task = asyncio.create_task(self._full(name, generation, due))
                slot.full_since = now  # a probe due in this same dispatch is not needed
            elif kind == STATUS:
                if slot.dead:
                    state.status_skipped["unreachable"] += 1
                    continue
                if slot.status_task is not None and not slot.status_task.done():
                    state.status_skipped["busy"] += 1
                    continue
                slot.status_task = asyncio.create_task(self._status(name, generation))
                if state.last is not None:  # else the task returns at once, asking nothing
                    slot.status_since = now
            else:
                if state.polls == 0 and not target.probe_only:
                    continue  # its first full poll gives the first verdict: no start-up burst
                if slot.probe_task is not None and not slot.probe_task.done():
                    state.status_skipped["probe_busy"] += 1
                    continue
                slot.probe_task = asyncio.create_task(self._probe(name, generation))
            started += 1
        return started

    def _probe_not_needed(self, name: str, slot: _Slot, due: float, interval: float) -> bool:
        """A poll that answers is a probe: skip this one (and schedule the next) when the
        device answered a poll sent less than ``interval`` ago, one is running, or its status
        poll is due within half an interval. The longest silence stays one interval, a device
        with status polls every 2 intervals needs half the probes, and a poll that fails asks
        for a probe at once."""
        last = max(slot.heard_at, slot.full_since, slot.status_since)
        if due - last < 0.9 * interval:  # 0.9: a probe's own slot lags its due time a little
            self._push(last + interval, name, PROBE)
            return True
        if slot.status_heard and slot.next_status - due <= interval / 2:
            self._push(slot.next_status + interval, name, PROBE)
            return True
        return False

    def request_probe(self, name: str) -> bool:
        """Probe ``name`` now (unless a probe of it is running); False if unknown."""
        slot = self._slots.get(name)
        if slot is None:
            return False
        if slot.probe_task is None or slot.probe_task.done():
            slot.probe_task = asyncio.create_task(self._probe(name, slot.generation, urgent=True))
        return True

    def request_status(self, name: str) -> bool:
        """A status poll of ``name``'s link interfaces now (a trap said one moved); False if
        unknown, probe-only or not polled yet."""
        slot = self._slots.get(name)
        state = self.states.get(name)
        if slot is None or state is None or state.target.probe_only or not state.target.uplinks:
            return False
        if slot.status_task is None or slot.status_task.done():
            slot.status_task = asyncio.create_task(self._status(name, slot.generation))
        return True

    def request_full(self, name: str) -> bool:
        """A full poll of ``name`` now (unless one is running); False if unknown or a
        probe-only device."""
        slot = self._slots.get(name)
        state = self.states.get(name)
        if slot is None or state is None or state.target.probe_only:
            return False
        if slot.full_task is None or slot.full_task.done():
            slot.full_task = asyncio.create_task(self._full(name, slot.generation, self._clock()))
        return True

    # --- polls --------------------------------------------------------------------------

    def _current(self, name: str, generation: int) -> DeviceState | None:
        slot = self._slots.get(name)
        if slot is None or slot.generation != generation:
            return None
        return self.states.get(name)

    async def _full(self, name: str, generation: int, due: float) -> None:
        state = self._current(name, generation)
        if state is None:
            return
        target = state.target
        slot = self._slots[name]
        async with self._sem:
            start = self._clock()
            began = self._wall()
            self._last_lag = max(0.0, start - due)
            self.in_flight += 1
            slot.full_since = start
            try:
                result = await guard_poll(
                    self.collector.collect(target), poll_deadline(target, self._requests_bound)
                )
            finally:
                self.in_flight -= 1
                slot.full_since = -math.inf
            duration = self._clock() - start
        state = self._current(name, generation)
        if state is None:
            return
        if result.ok:
            slot.heard_at = max(slot.heard_at, start)
        self._record(name, state, result, duration)
        self._observe(name, FULL, state, result, began)
        if result.error_kind == "timeout":
            self.request_probe(name)  # does it answer at all? Ask now, not in a few seconds

    def _record(self, name: str, state: DeviceState, result: PollResult, duration: float) -> None:
        slot = self._slots[name]
        now = self._wall()
        self.polls += 1
        state.polls += 1
        state.varbinds += result.varbinds
        state.last_duration = duration
        state.last_poll = now
        if result.ok:
            slot.full_ok = True
            slot.status_ok = True
            state.last = result
            state.last_success = now
            if state.last_error_kind is not None:
                log.info("%s: polled again after %s", name, state.last_error_kind)
            state.last_error_kind = None
            if state.status_time < now - duration:
                state.status_overlay = {}
            if result.rebooted:
                state.reboots += 1
        else:
            slot.full_ok = False
            kind = result.error_kind or "other"
            state.errors[kind] += 1
            if kind == "timeout":
                state.timeouts += 1
            # Log when the trouble starts or changes, not on every failed poll.
            level = logging.DEBUG if kind == state.last_error_kind else logging.WARNING
            log.log(level, "%s: poll failed (%s): %s", name, kind, result.error)
            state.last_error_kind = kind
        state.up = slot.full_ok and slot.status_ok and not slot.dead

    async def _status(self, name: str, generation: int) -> None:
        state = self._current(name, generation)
        if state is None or state.last is None:
            return
        target = state.target
        deadline = status_deadline(target)
        slot = self._slots[name]
        async with self._status_sem:
            start = self._clock()
            began = self._wall()
            self.status_in_flight += 1
            slot.status_since = start
            try:
                result = await guard_status(self.collector.poll_status(target), deadline)
            finally:
                self.status_in_flight -= 1
                slot.status_since = -math.inf
        slot.status_heard = result is not None and result.ok
        state = self._current(name, generation)
        if state is None or result is None:
            return
        state.status_polls += 1
        if result.ok:
            state.status_overlay = result.oper_status
            state.status_time = self._wall()
            slot.status_ok = True
            slot.heard_at = max(slot.heard_at, start)
        else:
            state.status_failures += 1
            slot.status_ok = False
        state.up = slot.full_ok and slot.status_ok and not slot.dead
        self._observe(name, STATUS, state, result, began)
        if result.error_kind == "timeout":
            self.request_probe(name)

    async def _probe(self, name: str, generation: int, urgent: bool = False) -> None:
        state = self._current(name, generation)
        if state is None:
            return
        slot = self._slots[name]
        # Known-dead devices wait on their own slots; a confirmation never waits behind them.
        sem = self._dead_sem if slot.dead and not urgent else self._probe_sem
        async with sem:
            start = self._clock()
            began = self._wall()
            self.probe_in_flight += 1
            try:
                result = await guard_probe(self.collector.probe(state.target), PROBE_DEADLINE)
            finally:
                self.probe_in_flight -= 1
        state = self._current(name, generation)
        if state is None or result is None:
            return  # a collector bug is not a verdict on the device
        was_dead = slot.dead
        slot.dead = not result.answered
        if result.answered:
            slot.heard_at = max(slot.heard_at, start)
        state.probes += 1
        state.answering = result.answered
        if not result.answered:
            state.probe_failures += 1
            if not was_dead:
                log.warning("%s: does not answer (%s)", name, result.error)
        state.up = slot.full_ok and slot.status_ok and not slot.dead
        self._observe(name, PROBE, state, result, began)
        if was_dead and result.answered:
            log.info("%s: answers again", name)
            self.request_full(name)

    def _observe(
        self, name: str, kind: str, state: DeviceState, result: Result, began: float
    ) -> None:
        if self.observer is None:
            return
        try:
            self.observer(name, kind, state, result, began)
        except Exception:  # a consumer's bug must not stop polling
            log.exception("%s: observer failed on a %s result", name, kind)

    # --- running ------------------------------------------------------------------------

    def stats(self) -> SchedulerStats:
        now = self._wall()
        polled = [s.last_poll for s in self.states.values() if s.last_poll]
        cycle = now - min(polled) if polled else 0.0
        return SchedulerStats(
            started=self._started_wall,
            polls=self.polls,
            in_flight=self.in_flight,
            status_in_flight=self.status_in_flight,
            probe_in_flight=self.probe_in_flight,
            last_lag=self._last_lag,
            cycle_seconds=cycle,
        )

    async def run(self, stop: asyncio.Event) -> None:
        """Dispatch polls until ``stop`` is set, then cancel what is still running."""
        stopping = asyncio.ensure_future(stop.wait())
        stopping.add_done_callback(lambda _: self._wake_up())
        try:
            while not stop.is_set():
                now = self._clock()
                self.dispatch(now + DISPATCH_TICK)
                nxt = self.next_due()
                wait = 1.0 if nxt is None else nxt - DISPATCH_TICK - self._clock()
                await self._sleep(min(1.0, max(DISPATCH_TICK, wait)))
        finally:
            stopping.cancel()
            for name in list(self._slots):
                self._cancel(name)

    async def _sleep(self, seconds: float) -> None:
        # One future and one timer per wake-up (asyncio.wait on two events made two tasks).
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        self._waiter = waiter
        handle = loop.call_later(seconds, _resolve, waiter)
        try:
            await waiter
        finally:
            handle.cancel()
            self._waiter = None

    def _wake_up(self) -> None:
        """Cut run()'s sleep short (new targets, stop)."""
        if self._waiter is not None:
            _resolve(self._waiter)

    async def poll_all_once(self) -> float:
        """Poll every device now (bounded concurrency) and wait; returns the wall seconds.
        For benchmarks and the demo's first screen, not for the steady state."""
        start = self._clock()
        tasks = []
        for name, slot in self._slots.items():
            if self.states[name].target.probe_only:
                continue
            if slot.full_task is None or slot.full_task.done():
                slot.full_task = asyncio.create_task(self._full(name, slot.generation, start))
                tasks.append(slot.full_task)
        await asyncio.gather(*tasks)
        return self._clock() - start


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
