"""The collector the scheduler sees: SNMP for every SNMP device, SSH on top for devices that
also list ``ssh``, SSH alone for CLI-only devices, merged into one ``PollResult``.

- A device listing both: its state (up/down, interfaces, counters) is SNMP's; the SSH poll
  runs beside it at most every ``ssh_interval`` (optics and neighbours change slowly: 5 min
  by default) and its last good data rides on every SNMP result until it is older than two
  SSH intervals. An SSH failure never marks the device down: it shows in the SSH health
  metrics (``netmon_ssh_up``, ``netmon_ssh_poll_errors_total``).
- A CLI-only device: its state is the SSH poll's, every poll interval.
- Anything else of the Collector protocol is delegated to the SNMP collector.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from collector.model import PollResult, ProbeResult, StatusResult, Target
from collector.ssh_collector import SshCollector
from collector.ssh_model import SshData
from collector.ssh_session import SshError


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

    def __getattr__(self, name: str) -> Any:
        # Methods the Collector protocol gains later (probe(), ...) and the SNMP collector's
        # own (reset_transports, profiles): SNMP's.
        return getattr(self.snmp, name)

    async def collect(self, target: Target) -> PollResult:
        if "snmp" not in target.methods:
            return await self.ssh.collect(target)
        if "ssh" not in target.methods:
            return await self.snmp.collect(target)  # type: ignore[no-any-return]
        now = self._clock()
        due = now - self._tried.get(target.name, -1e18) >= self.ssh_interval
        if not due:
            result: PollResult = await self.snmp.collect(target)
        else:
            self._tried[target.name] = now
            snmp_task = asyncio.ensure_future(self.snmp.collect(target))
            try:
                data = await self.ssh.poll(target)
            except SshError:
                self._last.pop(target.name, None)
            else:
                self._last[target.name] = (self._clock(), data)
            result = await snmp_task
        held = self._last.get(target.name)
        if held is not None and self._clock() - held[0] > 2 * self.ssh_interval:
            del self._last[target.name]
            held = None
        if result.ok and held is not None:
            result.ssh = held[1]
        return result

    async def probe(self, target: Target) -> ProbeResult:
        if "snmp" not in target.methods:
            return await self.ssh.probe(target)
        return await self.snmp.probe(target)  # type: ignore[no-any-return]

    async def poll_status(self, target: Target) -> StatusResult | None:
        if "snmp" not in target.methods:
            return None
        return await self.snmp.poll_status(target)  # type: ignore[no-any-return]

    def forget(self, name: str) -> None:
        self._last.pop(name, None)
        self._tried.pop(name, None)
        self.ssh.forget(name)
        self.snmp.forget(name)
