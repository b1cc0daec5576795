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
- Any collector that implements ``Collector`` can be scheduled (SNMP now, SSH next); one
  failing device is a failed result, never a failed run.
"""

from __future__ import annotations

import asyncio
import hashlib
import heapq
import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from collector.model import DeviceState, PollResult, StatusResult, Target
from collector.transport import SnmpTransportError
from netmon.errors import ConfigError, NetmonError

log = logging.getLogger(__name__)

DEFAULT_CONCURRENCY = 64
REQUESTS_BOUND = 10  # the most requests a full poll of one device is expected to need
STARTUP_WINDOW = 10.0
FULL, STATUS = "full", "status"


class Collector(Protocol):
    async def collect(self, target: Target) -> PollResult: ...

    async def poll_status(self, target: Target) -> StatusResult | None: ...

    def forget(self, name: str) -> None: ...


def jitter_fraction(name: str) -> float:
    """A stable number in [0, 1) from the device name (the same on every start)."""
    digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def poll_deadline(target: Target, requests_bound: int = REQUESTS_BOUND) -> float:
    timing = target.profile.snmp_timing if target.profile is not None else None
    if timing is None:
        return 0.9 * target.interval
    # 0.9: a poll cut at its deadline ends before the next one is due, so a dead or slow
    # device is still tried every interval instead of every other one (an overrun skip).
    return min(0.9 * target.interval, timing.timeout * (timing.retries + 1) * requests_bound)


def status_deadline(target: Target) -> float:
    timing = target.profile.snmp_timing if target.profile is not None else None
    if timing is None:
        return target.status_interval
    return min(target.status_interval, timing.timeout * (timing.retries + 1))


@dataclass(slots=True)
class SchedulerStats:
    started: float  # unix time
    polls: int
    in_flight: int
    status_in_flight: int
    last_lag: float  # how late the last poll got its turn (semaphore wait), seconds
    cycle_seconds: float  # age of the oldest poll result: how long a sweep of all takes


@dataclass(slots=True)
class _Slot:
    generation: int
    full_task: asyncio.Task[None] | None = None
    status_task: asyncio.Task[None] | None = None
    full_ok: bool = False
    status_ok: bool = True


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
    ) -> None:
        self.collector = collector
        self.states: dict[str, DeviceState] = {}
        self._slots: dict[str, _Slot] = {}
        self._heap: list[tuple[float, int, str, str, int]] = []
        self._seq = 0
        self._generation = 0
        self._sem = asyncio.Semaphore(concurrency)
        self._status_sem = asyncio.Semaphore(max(4, concurrency // 4))
        self._requests_bound = requests_bound
        self._startup_window = startup_window
        self._clock = clock
        self._wall = wall
        self._epoch = clock()
        self._started_wall = wall()
        self._wake = asyncio.Event()
        self.polls = 0
        self.in_flight = 0
        self.status_in_flight = 0
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
            self._slots[name] = _Slot(generation=self._generation, full_ok=was_up)
            first = now + jitter_fraction(name) * min(target.interval, self._startup_window)
            self._push(first, name, FULL)
            if target.uplinks:
                self._push(self._next_slot(now, name, target.status_interval), name, STATUS)
        self._wake.set()
        return added, removed, changed

    def _cancel(self, name: str) -> None:
        slot = self._slots.get(name)
        if slot is None:
            return
        for task in (slot.full_task, slot.status_task):
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
            interval = target.interval if kind == FULL else target.status_interval
            nxt = self._next_slot(max(now, due), name, interval)
            self._push(nxt, name, kind)
            if kind == FULL:
                if slot.full_task is not None and not slot.full_task.done():
                    state.skipped += 1
                    continue
                slot.full_task = asyncio.create_task(self._full(name, generation, due))
            else:
                if slot.status_task is not None and not slot.status_task.done():
                    continue  # status polls are cheap and frequent: drop silently
                slot.status_task = asyncio.create_task(self._status(name, generation))
            started += 1
        return started

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
        async with self._sem:
            start = self._clock()
            self._last_lag = max(0.0, start - due)
            self.in_flight += 1
            try:
                result = await self._guarded(
                    self.collector.collect(target), poll_deadline(target, self._requests_bound)
                )
            finally:
                self.in_flight -= 1
            duration = self._clock() - start
        state = self._current(name, generation)
        if state is None:
            return
        self._record(name, state, result, duration)

    async def _guarded(self, coro: object, deadline: float) -> PollResult:
        try:
            async with asyncio.timeout(deadline):
                return await coro  # type: ignore[misc, no-any-return]
        except TimeoutError:
            return PollResult.failed("timeout", f"no complete answer within {deadline:.1f}s")
        except SnmpTransportError as exc:
            return PollResult.failed(exc.kind, str(exc))
        except ConfigError as exc:
            return PollResult.failed("config", str(exc))
        except NetmonError as exc:
            return PollResult.failed("other", str(exc))
        except Exception as exc:  # a collector bug must not take the run down
            log.exception("poll crashed")
            return PollResult.failed("internal", f"{type(exc).__name__}: {exc}")

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
        state.up = slot.full_ok and slot.status_ok

    async def _status(self, name: str, generation: int) -> None:
        state = self._current(name, generation)
        if state is None or state.last is None:
            return
        target = state.target
        deadline = status_deadline(target)
        async with self._status_sem:
            self.status_in_flight += 1
            try:
                async with asyncio.timeout(deadline):
                    result = await self.collector.poll_status(target)
            except TimeoutError:
                result = StatusResult(ok=False, error_kind="timeout", error="no answer")
            except NetmonError as exc:
                kind = getattr(exc, "kind", "config" if isinstance(exc, ConfigError) else "other")
                result = StatusResult(ok=False, error_kind=kind, error=str(exc))
            except Exception as exc:
                log.exception("status poll crashed")
                result = StatusResult(ok=False, error_kind="internal", error=repr(exc))
            finally:
                self.status_in_flight -= 1
        state = self._current(name, generation)
        if state is None or result is None:
            return
        slot = self._slots[name]
        state.status_polls += 1
        if result.ok:
            state.status_overlay = result.oper_status
            state.status_time = self._wall()
            slot.status_ok = True
        else:
            state.status_failures += 1
            slot.status_ok = False
        state.up = slot.full_ok and slot.status_ok

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
            last_lag=self._last_lag,
            cycle_seconds=cycle,
        )

    async def run(self, stop: asyncio.Event) -> None:
        """Dispatch polls until ``stop`` is set, then cancel what is still running."""
        try:
            while not stop.is_set():
                now = self._clock()
                self.dispatch(now)
                nxt = self.next_due()
                wait = 1.0 if nxt is None else min(1.0, max(0.0, nxt - self._clock()))
                self._wake.clear()
                waiters = [
                    asyncio.ensure_future(stop.wait()),
                    asyncio.ensure_future(self._wake.wait()),
                ]
                _, pending = await asyncio.wait(
                    waiters, timeout=wait, return_when=asyncio.FIRST_COMPLETED
                )
                for w in pending:
                    w.cancel()
        finally:
            for name in list(self._slots):
                self._cancel(name)

    async def poll_all_once(self) -> float:
        """Poll every device now (bounded concurrency) and wait; returns the wall seconds.
        For benchmarks and the demo's first screen, not for the steady state."""
        start = self._clock()
        tasks = []
        for name, slot in self._slots.items():
            if slot.full_task is None or slot.full_task.done():
                slot.full_task = asyncio.create_task(self._full(name, slot.generation, start))
                tasks.append(slot.full_task)
        await asyncio.gather(*tasks)
        return self._clock() - start
