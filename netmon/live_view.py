"""The demo's live terminal summary, computed from what netmon serves over HTTP.

Reading the exporter (``/health/metrics``, as Prometheus does) and ``/api/state`` keeps the
view independent of the collector's internals: it shows what a NOC's Prometheus and the NOC
page see. Pages are what the Alertmanager delivered to the demo's local mail/webhook sinks.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

STATES = ("up", "down", "unreachable", "maintenance", "unknown")


@dataclass(frozen=True, slots=True)
class Summary:
    regions: dict[str, Counter[str]]  # region -> state -> devices
    varbinds_total: float
    polls_total: float
    cycle_seconds: float | None
    slowest: list[tuple[str, float]] = field(default_factory=list)
    down_devices: list[str] = field(default_factory=list)  # root causes (state down)

    def total(self, state: str) -> int:
        return sum(c[state] for c in self.regions.values())

    @property
    def up(self) -> int:
        return self.total("up")

    @property
    def down(self) -> int:
        return self.total("down")


@dataclass(frozen=True, slots=True)
class Outage:
    """A root cause and what is dark because of it."""

    device: str
    status: str  # down | maintenance
    since: float
    site: str
    name_th: str
    name_en: str
    province: str
    dark: tuple[str, ...]  # sites


@dataclass(frozen=True, slots=True)
class Page:
    time: float
    severity: str
    alertname: str
    subject: str  # device or site
    status: str  # firing | resolved
    receiver: str


def summarise(metrics_text: str, slowest: int = 5) -> Summary:
    regions: dict[str, Counter[str]] = defaultdict(Counter)
    durations: dict[str, float] = {}
    down: list[str] = []
    varbinds = polls = 0.0
    cycle: float | None = None
    for family in text_string_to_metric_families(metrics_text):
        for s in family.samples:
            name, labels, value = s.name, s.labels, s.value
            if name == "netmon_device_state" and value >= 1:
                state = labels.get("state", "unknown")
                regions[labels.get("region", "?")][state] += 1
                if state == "down":
                    down.append(labels.get("device", "?"))
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
        regions=dict(sorted(regions.items())),
        varbinds_total=varbinds,
        polls_total=polls,
        cycle_seconds=cycle,
        slowest=top,
        down_devices=sorted(down),
    )


def outages(doc: dict[str, Any]) -> list[Outage]:
    """Root causes (down or maintenance) from ``/api/state``, each with its dark sites."""
    devices = {d["device"]: d for d in doc.get("devices", [])}
    dark: dict[str, set[str]] = defaultdict(set)
    for d in devices.values():
        if d["status"] == "unreachable":
            for cause in d.get("causes", []):
                dark[cause].add(d["site"])
    out = []
    for name, d in devices.items():
        if d["status"] in ("down", "maintenance") or name in dark:
            out.append(
                Outage(
                    name,
                    d["status"],
                    float(d["since"]),
                    d["site"],
                    d["name_th"],
                    d["name_en"],
                    d["province"],
                    tuple(sorted(dark.get(name, set()) - {d["site"]})),
                )
            )
    return sorted(out, key=lambda o: (o.status != "down", o.since, o.device))


def render(
    now: Summary,
    before: Summary | None,
    elapsed: float,
    title: str,
    *,
    causes: list[Outage] | None = None,
    pages: list[Page] | None = None,
    clock: float | None = None,
) -> str:
    """A screenful of text; rates come from two summaries ``elapsed`` seconds apart."""
    wall = time.time() if clock is None else clock
    lines = [title, ""]
    lines.append(f"{'region':<12}{'up':>6}{'down':>6}{'dark':>6}{'maint':>6}")
    for region, c in now.regions.items():
        row = f"{c['up']:>6}{c['down']:>6}{c['unreachable']:>6}{c['maintenance']:>6}"
        lines.append(f"{region:<12}{row}")
    total = f"{now.up:>6}{now.down:>6}{now.total('unreachable'):>6}{now.total('maintenance'):>6}"
    lines.append(f"{'total':<12}{total}")
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
    if causes:
        lines.append("")
        lines.append("root causes (only these page; what hangs on them is kept quiet):")
        for o in causes[:8]:
            age = max(0.0, wall - o.since)
            lines.append(
                f"  {o.device:<16}{o.status:<12}{age:6.0f} s  {o.name_en} / {o.name_th} "
                f"({o.province})  {len(o.dark)} site(s) dark behind it"
            )
            if o.dark:
                shown = ", ".join(o.dark[:10]) + (" ..." if len(o.dark) > 10 else "")
                lines.append(f"      dark: {shown}")
    if now.down_devices:
        shown = ", ".join(now.down_devices[:8])
        more = len(now.down_devices) - 8
        lines.append(f"down: {shown}" + (f" (+{more} more)" if more > 0 else ""))
    if pages is not None:
        lines.append("")
        lines.append(f"notifications delivered by Alertmanager: {len(pages)}")
        for p in pages[-6:]:
            stamp = time.strftime("%H:%M:%S", time.localtime(p.time))
            lines.append(
                f"  {stamp}  {p.status:<9}{p.severity:<10}{p.alertname:<18}{p.subject:<28}"
                f"-> {p.receiver}"
            )
    return "\n".join(lines)
