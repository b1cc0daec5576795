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

This module decides *when*; ``collector.poll_runs`` runs one poll and records its result.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from collector.model import DeviceState, Target
from collector.poll_limits import REQUESTS_BOUND, jitter_fraction
from collector.poll_runs import (
    FULL,
    PROBE,
    STATUS,
    Collector,
    Observer,
    PollRuns,
    Slot,
)
from collector.slots import Slots

log = logging.getLogger(__name__)

DEFAULT_CONCURRENCY = 64
STARTUP_WINDOW = 10.0
PROBE_CONCURRENCY = 32  # probes of devices that answer (and confirmations)
DEAD_PROBE_CONCURRENCY = 32  # probes of devices known dead, on their own slots
DEAD_PROBE_FACTOR = 2  # a known-dead device is probed every 2 probe intervals
# The status and probe bounds grow with the inventory: a slot per SLOT_SECONDS of each second's
# demand (Little's law: in flight = rate x time per poll). 0.1 s is 4x the simulated backbone's
# mean round trip plus the loop's lag at 10x, where the fixed 16 status and 32 probe slots were
# all busy and ~600 status polls and probes a second were skipped (their device's previous one
# still queued for a slot), with the CPU at 0.65 core: a limit on slots, not on the CPU.
SLOT_SECONDS = 0.1
# Polls due within a tick start together, up to a tick early: at 10x (~600 due times a
# second, every device on its own phase) one wake-up per due time was ~15 % of the CPU.
DISPATCH_TICK = 0.025


@dataclass(slots=True)
class SchedulerStats:
    started: float  # unix time
    polls: int
    in_flight: int
    status_in_flight: int
    probe_in_flight: int
    slots: int  # full polls at once
    status_slots: int
    probe_slots: int
    last_lag: float  # how late the last poll got its turn (semaphore wait), seconds
    cycle_seconds: float  # age of the oldest poll result: how long a sweep of all takes


class Scheduler(PollRuns):
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
        self._slots: dict[str, Slot] = {}
        self._heap: list[tuple[float, int, str, str, int]] = []
        self._seq = 0
        self._generation = 0
        self._sem = Slots(concurrency)
        self._status_sem = Slots(max(4, concurrency // 4))  # the floor: grown by set_targets
        self._probe_sem = Slots(probe_concurrency)
        self._dead_sem = Slots(dead_probe_concurrency)
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
        # Callback polls where the collector offers them (collector.callback_polls).
        self._start_status = getattr(collector, "start_status", None)
        self._start_probe = getattr(collector, "start_probe", None)

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
            self._slots[name] = Slot(generation=self._generation, full_ok=was_up, dead=dead)
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
        self._grow_slots()
        self._wake_up()
        return added, removed, changed

    def _grow_slots(self) -> None:
        """Size the status and probe bounds from the demand of the device set (never below
        their floors). They only grow: shrinking would have to wait for polls in flight, and
        a bound is a maximum, not a cost."""
        status_rate = probe_rate = 0.0
        for state in self.states.values():
            t = state.target
            if t.uplinks and not t.probe_only and t.status_interval > 0:
                status_rate += 1.0 / t.status_interval
            interval = t.probe_interval or t.interval
            if (t.probe_interval > 0 or t.probe_only) and interval > 0:
                probe_rate += 1.0 / interval
        self._status_sem.grow(math.ceil(status_rate * SLOT_SECONDS))
        self._probe_sem.grow(math.ceil(probe_rate * SLOT_SECONDS))

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
                self._begin_status(name, slot, state)
                running = slot.status_task
                # state.last None: the task returns at once, asking nothing
                if state.last is not None and running is not None and not running.done():
                    slot.status_since = now
            else:
                if state.polls == 0 and not target.probe_only:
                    continue  # its first full poll gives the first verdict: no start-up burst
                if slot.probe_task is not None and not slot.probe_task.done():
                    state.status_skipped["probe_busy"] += 1
                    continue
                self._begin_probe(name, slot)
            started += 1
        return started

    def _probe_not_needed(self, name: str, slot: Slot, due: float, interval: float) -> bool:
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
            slots=self._sem.size,
            status_slots=self._status_sem.size,
            probe_slots=self._probe_sem.size,
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
