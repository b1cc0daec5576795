"""Starting and running one device's polls: the full poll, the status poll, the probe.

The scheduler (``collector.scheduler``) decides *when*; this part runs a poll under its
concurrency bound and deadline, records the result in the device's state, tells the observer
and asks for a probe when a poll timed out. ``request_*`` start one now, outside the
schedule (the state engine's confirmations, traps).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from collector.callback_polls import InFlight
from collector.model import DeviceState, PollResult, ProbeResult, StatusResult, Target
from collector.poll_limits import (
    guard_poll,
    guard_probe,
    guard_status,
    poll_deadline,
    status_deadline,
)
from collector.slots import Slots

log = logging.getLogger("collector.scheduler")  # one logger name for the scheduler's lines

FULL, STATUS, PROBE = "full", "status", "probe"
PROBE_DEADLINE = 5.0  # a probe's own timing is 2 x 1 s; this bounds a misbehaving one


class Collector(Protocol):
    async def collect(self, target: Target) -> PollResult: ...

    async def poll_status(self, target: Target) -> StatusResult | None: ...

    async def probe(self, target: Target) -> ProbeResult: ...

    def forget(self, name: str) -> None: ...


# Optional (``collector.callback_polls``): start a status poll or probe whose result comes by
# callback; False when it cannot (the scheduler then runs the coroutine in a task).
StartStatus = Callable[[Target, Callable[[StatusResult], None]], bool]
StartProbe = Callable[[Target, Callable[[ProbeResult], None]], bool]

Result = PollResult | StatusResult | ProbeResult
# (device, kind, state, result, unix time the request began: older news must not win)
Observer = Callable[[str, str, DeviceState, Result, float], None]


@dataclass(slots=True)
class Slot:
    generation: int
    full_task: asyncio.Task[None] | None = None
    status_task: asyncio.Task[None] | InFlight | None = None
    probe_task: asyncio.Task[None] | InFlight | None = None
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


class PollRuns:
    """The poll-running half of ``Scheduler`` (its attributes are set by its ``__init__``)."""

    collector: Collector
    observer: Observer | None
    states: dict[str, DeviceState]
    _slots: dict[str, Slot]
    _sem: Slots
    _status_sem: Slots
    _probe_sem: Slots
    _dead_sem: Slots
    _requests_bound: int
    _clock: Callable[[], float]
    _wall: Callable[[], float]
    polls: int
    in_flight: int
    status_in_flight: int
    probe_in_flight: int
    _last_lag: float
    _start_status: StartStatus | None
    _start_probe: StartProbe | None

    def request_probe(self, name: str) -> bool:
        """Probe ``name`` now (unless a probe of it is running); False if unknown."""
        slot = self._slots.get(name)
        if slot is None:
            return False
        if slot.probe_task is None or slot.probe_task.done():
            self._begin_probe(name, slot, urgent=True)
        return True

    def request_status(self, name: str) -> bool:
        """A status poll of ``name``'s link interfaces now (a trap said one moved); False if
        unknown, probe-only or not polled yet."""
        slot = self._slots.get(name)
        state = self.states.get(name)
        if slot is None or state is None or state.target.probe_only or not state.target.uplinks:
            return False
        if slot.status_task is None or slot.status_task.done():
            self._begin_status(name, slot, state)
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

    def _begin_status(self, name: str, slot: Slot, state: DeviceState) -> None:
        """A status poll by callback where the collector can, else in a task."""
        start = self._start_status
        if start is not None and state.last is not None and self._status_sem.take():
            run, began, now = InFlight(), self._wall(), self._clock()
            # Counted before it starts: a collector may answer from inside start().
            slot.status_task, slot.status_since = run, now
            self.status_in_flight += 1
            back = functools.partial(self._status_back, name, slot, run, now, began)
            if _started(start, state.target, back) or run.finished:
                return
            run.finished = True
            self._status_sem.release()
            self.status_in_flight -= 1
        slot.status_task = asyncio.create_task(self._status(name, slot.generation))

    def _status_back(
        self, name: str, slot: Slot, run: InFlight, start: float, began: float, result: StatusResult
    ) -> None:
        if run.finished:  # told twice, or after start() said it could not: a collector bug
            return
        run.finished = True
        self._status_sem.release()
        self.status_in_flight -= 1
        if slot.status_task is run:
            slot.status_since = -math.inf
        if not run.cancelled:
            self._status_result(name, slot, start, began, result)

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
        self._status_result(name, slot, start, began, result)

    def _status_result(
        self, name: str, slot: Slot, start: float, began: float, result: StatusResult | None
    ) -> None:
        slot.status_heard = result is not None and result.ok
        state = self._current(name, slot.generation)
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

    def _begin_probe(self, name: str, slot: Slot, urgent: bool = False) -> None:
        """A probe by callback where the collector can, else in a task."""
        start = self._start_probe
        # Known-dead devices wait on their own slots; a confirmation never waits behind them.
        sem = self._dead_sem if slot.dead and not urgent else self._probe_sem
        state = self.states.get(name)
        if start is not None and state is not None and sem.take():
            run, began = InFlight(), self._wall()
            slot.probe_task = run
            self.probe_in_flight += 1
            back = functools.partial(self._probe_back, name, slot, run, sem, self._clock(), began)
            if _started(start, state.target, back) or run.finished:
                return
            run.finished = True
            sem.release()
            self.probe_in_flight -= 1
        slot.probe_task = asyncio.create_task(self._probe(name, slot.generation, urgent))

    def _probe_back(
        self,
        name: str,
        slot: Slot,
        run: InFlight,
        sem: Slots,
        start: float,
        began: float,
        result: ProbeResult,
    ) -> None:
        if run.finished:  # told twice, or after start() said it could not: a collector bug
            return
        run.finished = True
        sem.release()
        self.probe_in_flight -= 1
        if not run.cancelled:
            self._probe_result(name, slot, start, began, result)

    async def _probe(self, name: str, generation: int, urgent: bool = False) -> None:
        state = self._current(name, generation)
        if state is None:
            return
        slot = self._slots[name]
        sem = self._dead_sem if slot.dead and not urgent else self._probe_sem
        async with sem:
            start = self._clock()
            began = self._wall()
            self.probe_in_flight += 1
            try:
                result = await guard_probe(self.collector.probe(state.target), PROBE_DEADLINE)
            finally:
                self.probe_in_flight -= 1
        if result is not None:  # None: a collector bug is not a verdict on the device
            self._probe_result(name, slot, start, began, result)

    def _probe_result(
        self, name: str, slot: Slot, start: float, began: float, result: ProbeResult
    ) -> None:
        state = self._current(name, slot.generation)
        if state is None:
            return
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


def _started(start: StartStatus | StartProbe, target: Target, back: Callable[[Any], None]) -> bool:
    try:
        return start(target, back)
    except Exception:  # e.g. a secret that cannot be resolved: the task path reports it
        return False
