"""The collector the scheduler sees: SNMP for every SNMP device, SSH on top for devices that
also list ``ssh``, SSH alone for CLI-only devices, merged into one ``PollResult``.

- A device listing both: its state (up/down, interfaces, counters) is SNMP's; the SSH poll
  runs in the background at most every ``ssh_interval`` (optics and neighbours change
  slowly: 5 min by default), so a queue of SSH sessions never holds the scheduler's slots or
  delays an SNMP poll; its last good data rides on every SNMP result until it is older than
  two SSH (or poll) intervals. An SSH failure never marks the device down: it shows in the
  SSH health metrics (``netmon_ssh_up``, ``netmon_ssh_poll_errors_total``).
- A CLI-only device: its state is the SSH poll's, every poll interval (the poll waits for an
  SSH worker inside the scheduler's slot).
- Anything else of the Collector protocol is delegated to the SNMP collector.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from collector.model import PollResult, ProbeResult, StatusResult, Target
from collector.ssh_collector import SshCollector
from collector.ssh_model import SshData
from collector.ssh_session import SshError

log = logging.getLogger(__name__)
RETRY_AFTER_FAILURE = 60.0


class MultiCollector:
    def __init__(
        self,
        snmp: Any,
        ssh: SshCollector,
        *,
        ssh_interval: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.snmp = snmp
        self.ssh = ssh
        self.ssh_interval = ssh_interval
        self._clock = clock
        self._last: dict[str, tuple[float, SshData]] = {}  # device -> (monotonic, data)
        self._tried: dict[str, float] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def __getattr__(self, name: str) -> Any:
        # Methods the Collector protocol gains later (probe(), ...) and the SNMP collector's
        # own (reset_transports, profiles): SNMP's.
        return getattr(self.snmp, name)

    async def collect(self, target: Target) -> PollResult:
        if "snmp" not in target.methods:
            return await self.ssh.collect(target)
        if "ssh" not in target.methods:
            return await self.snmp.collect(target)  # type: ignore[no-any-return]
        self._start_ssh(target)
        result: PollResult = await self.snmp.collect(target)
        held = self._last.get(target.name)
        if held is not None and self._clock() - held[0] > 2 * max(
            self.ssh_interval, target.interval
        ):
            del self._last[target.name]
            held = None
        if result.ok and held is not None:
            result.ssh = held[1]
        return result

    def _start_ssh(self, target: Target) -> None:
        name = target.name
        now = self._clock()
        running = self._tasks.get(name)
        if running is not None and not running.done():
            return
        if now - self._tried.get(name, -1e18) < self.ssh_interval:
            return
        self._tried[name] = now
        self._tasks[name] = asyncio.ensure_future(self._ssh_poll(target))

    async def _ssh_poll(self, target: Target) -> None:
        try:
            data = await self.ssh.poll(target)
        except SshError:
            self._last.pop(target.name, None)
            # a failed SSH poll is tried again within a minute, not a whole SSH interval
            retry = min(self.ssh_interval, RETRY_AFTER_FAILURE)
            self._tried[target.name] = self._clock() - self.ssh_interval + retry
        except Exception:  # a collector bug must not go unseen, nor stop the others
            log.exception("%s: SSH poll crashed", target.name)
            self._last.pop(target.name, None)
        else:
            if target.name in self._tried:  # not forgotten meanwhile
                self._last[target.name] = (self._clock(), data)

    def close(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        self._tasks.clear()

    async def probe(self, target: Target) -> ProbeResult:
        if "snmp" not in target.methods:
            return await self.ssh.probe(target)
        return await self.snmp.probe(target)  # type: ignore[no-any-return]

    async def poll_status(self, target: Target) -> StatusResult | None:
        if "snmp" not in target.methods:
            return None
        return await self.snmp.poll_status(target)  # type: ignore[no-any-return]

    def start_probe(self, target: Target, done: Callable[[ProbeResult], None]) -> bool:
        if "snmp" not in target.methods:
            return False  # SSH's probe: the task path
        return bool(self.snmp.start_probe(target, done))

    def start_status(self, target: Target, done: Callable[[StatusResult], None]) -> bool:
        if "snmp" not in target.methods:
            return False
        return bool(self.snmp.start_status(target, done))

    def forget(self, name: str) -> None:
        task = self._tasks.pop(name, None)
        if task is not None:
            task.cancel()
        self._last.pop(name, None)
        self._tried.pop(name, None)
        self.ssh.forget(name)
        self.snmp.forget(name)
