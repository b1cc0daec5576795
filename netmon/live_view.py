"""The demo's live terminal summary, computed from the exporter's /metrics text.

Reading the exporter over HTTP (as Prometheus does) keeps the view independent of the
collector's internals, and shows exactly what a NOC's Prometheus would see.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families


@dataclass(frozen=True, slots=True)
class RegionCount:
    up: int = 0
    down: int = 0


@dataclass(frozen=True, slots=True)
class Summary:
    regions: dict[str, RegionCount]
    varbinds_total: float
    polls_total: float
    cycle_seconds: float | None
    slowest: list[tuple[str, float]] = field(default_factory=list)
    down_devices: list[str] = field(default_factory=list)

    @property
    def up(self) -> int:
        return sum(r.up for r in self.regions.values())

    @property
    def down(self) -> int:
        return sum(r.down for r in self.regions.values())


def summarise(metrics_text: str, slowest: int = 5) -> Summary:
    up: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    durations: dict[str, float] = {}
    down_devices: list[str] = []
    varbinds = polls = 0.0
    cycle: float | None = None
    for family in text_string_to_metric_families(metrics_text):
        for s in family.samples:
            name, labels, value = s.name, s.labels, s.value
            if name == "netmon_device_up":
                region = labels.get("region", "?")
                up[region][0 if value >= 1 else 1] += 1
                if value < 1:
                    down_devices.append(labels.get("device", "?"))
            elif name == "netmon_poll_duration_seconds":
                durations[labels.get("device", "?")] = value
            elif name == "netmon_poll_varbinds_total":
                varbinds += value
            elif name == "netmon_collector_polls_total":
                polls += value
            elif name == "netmon_collector_cycle_seconds":
                cycle = value
    top = sorted(durations.items(), key=lambda kv: kv[1], reverse=True)[:slowest]
    return Summary(
        regions={r: RegionCount(up=c[0], down=c[1]) for r, c in sorted(up.items())},
        varbinds_total=varbinds,
        polls_total=polls,
        cycle_seconds=cycle,
        slowest=top,
        down_devices=sorted(down_devices),
    )


def render(now: Summary, before: Summary | None, elapsed: float, title: str) -> str:
    """A screenful of text; rates come from two summaries ``elapsed`` seconds apart."""
    lines = [title, ""]
    lines.append(f"{'region':<12}{'up':>6}{'down':>6}")
    for region, c in now.regions.items():
        lines.append(f"{region:<12}{c.up:>6}{c.down:>6}")
    lines.append(f"{'total':<12}{now.up:>6}{now.down:>6}")
    lines.append("")
    if before is not None and elapsed > 0:
        vb_rate = (now.varbinds_total - before.varbinds_total) / elapsed
        poll_rate = (now.polls_total - before.polls_total) / elapsed
        lines.append(f"polls/s {poll_rate:8.1f}    varbinds/s {vb_rate:10.0f}")
    if now.cycle_seconds is not None:
        lines.append(f"last full cycle {now.cycle_seconds:.1f} s")
    if now.slowest:
        lines.append("slowest devices (last poll):")
        lines.extend(f"  {name:<28}{secs * 1000:8.0f} ms" for name, secs in now.slowest)
    if now.down_devices:
        shown = ", ".join(now.down_devices[:8])
        more = len(now.down_devices) - 8
        lines.append(f"down: {shown}" + (f" (+{more} more)" if more > 0 else ""))
    return "\n".join(lines)
