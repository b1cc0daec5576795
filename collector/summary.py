"""A pure summary of the collector's snapshot, for terminal views (``netmon demo``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from collector.model import DeviceState
from collector.scheduler import SchedulerStats


@dataclass(frozen=True, slots=True)
class RegionSummary:
    up: int = 0
    down: int = 0


@dataclass(frozen=True, slots=True)
class Summary:
    regions: dict[str, RegionSummary]
    polls_per_second: float  # full polls completed over the last minute, per second
    cycle_seconds: float  # age of the oldest poll result
    in_flight: int
    pending: int = 0  # devices not polled yet
    slowest: list[tuple[str, float]] = field(default_factory=list)  # (device, last poll s)
    down: list[tuple[str, str]] = field(default_factory=list)  # (device, error kind)
    links_down: list[tuple[str, str]] = field(default_factory=list)  # (device, ifName)

    @property
    def devices_up(self) -> int:
        return sum(r.up for r in self.regions.values())

    @property
    def devices_down(self) -> int:
        return sum(r.down for r in self.regions.values())


def summarise(states: Iterable[DeviceState], stats: SchedulerStats, *, slowest: int = 5) -> Summary:
    counts: dict[str, list[int]] = {}
    durations: list[tuple[str, float]] = []
    down: list[tuple[str, str]] = []
    links_down: list[tuple[str, str]] = []
    pending = 0
    for s in states:
        if not s.polls:
            pending += 1
            continue
        region = s.target.label("region") or "?"
        c = counts.setdefault(region, [0, 0])
        c[0 if s.up else 1] += 1
        if s.polls:
            durations.append((s.target.name, s.last_duration))
        if not s.up:
            down.append((s.target.name, s.last_error_kind or "status"))
            continue
        table = s.last.interfaces if s.last is not None else None
        if table is None:
            continue
        oper = {**table.values.get("ifOperStatus", {}), **s.status_overlay}
        for name in s.target.uplinks:
            index = next((i for i, lab in table.labels.items() if lab.get("ifName") == name), None)
            if index is not None and oper.get(index, 1) != 1:
                links_down.append((s.target.name, name))
    durations.sort(key=lambda kv: kv[1], reverse=True)
    return Summary(
        regions={r: RegionSummary(c[0], c[1]) for r, c in sorted(counts.items())},
        polls_per_second=stats.polls_last_minute / 60.0,
        cycle_seconds=stats.cycle_seconds,
        in_flight=stats.in_flight,
        pending=pending,
        slowest=durations[:slowest],
        down=sorted(down),
        links_down=sorted(links_down),
    )
