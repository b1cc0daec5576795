"""Repeated injected outages through the whole alert path: pages per outage, pages for devices
that are not the root cause, time from injection to page.

Run: ``.venv/bin/python -m bench.outages [--rounds N] [--seed S]``.

``netmon simulate`` serves six provinces of the shipped backbone (one per region, 150-odd
devices) plus the centre; ``netmon run`` polls them (probe 1 s, status 1 s, full poll 10 s); a
real Prometheus (scrape and evaluation 1 s) runs the shipped rules with every ``for:`` x 0.05
(a 1 m ``for:`` is 3 s), and a real Alertmanager routes with the shipped alerting.yaml
(group_wait 8 s) to local webhooks. Each round injects one outage in each of three different
provinces at once, chosen at random: a hub (its whole site dies), a district router, or a
district's uplink; waits for the pages and 10 s more, heals, and waits for every alert to
resolve. The expected root cause of each: the hub's core router (DeviceDown; the districts
behind it are cut off and must not page), the district router (DeviceDown; not also the hub
side of its link), the uplink (UplinkDown: both ends still answer in the simulator).

The time to page includes the probe (up to 1 s + 2 x 1 s), the confirmation of the upstream
device, a 1 s scrape, a 3 s ``for:``, a 1 s evaluation and group_wait 8 s: with the shipped
timings (probe 5 s, ``for: 1m``, group_wait 30 s) add about 85 s.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from netmon.alert_lab import AlertLab, Backbone, simulated_alert_path, write_shipped_subset
from netmon.alerting.routing import Timing
from netmon.inventory.loader import load_inventory
from netmon.inventory.model import Inventory, SiteKind
from netmon.procs import wait_for

PROVINCES = ("50", "40", "20", "90", "70", "14")  # north, northeast, east, south, west, central
NETMON = [sys.executable, "-m", "netmon.cli", "--log-level", "WARNING"]
TIMING = Timing(
    group_wait="8s", group_interval="1h", repeat_interval="1h", summary_repeat_interval="1h"
)


def outage(inv: Inventory, code: str, rng: random.Random) -> tuple[str, dict[str, Any], str]:
    """(kind, simulator action, the device or link that must page) in province ``code``."""
    kind = rng.choice(("hub", "district", "uplink"))
    districts = [
        (ps, d)
        for ps, d in inv.devices()
        if ps.province.code == code and ps.site.kind is SiteKind.district
    ]
    if kind == "hub":
        core = next(
            d.name for ps, d in inv.devices() if ps.site.code == code and d.role.value == "core"
        )
        return kind, {"action": "site_outage", "site": code}, core
    _, dev = rng.choice(districts)
    if kind == "district":
        return kind, {"action": "dead", "device": dev.name}, dev.name
    link = next(
        lk for _, lk in inv.links() if lk.a.device == dev.name and lk.kind.value == "uplink"
    )
    action = {"action": "link_down", "device": dev.name, "interface": link.a.interface}
    return kind, action, link.name  # both ends still answer: the link itself pages


def _first(lab: AlertLab, t0: float, subject: str) -> float:
    """When the first firing notification paging ``subject`` arrived."""
    return min(
        n.time
        for n in lab.notifications()
        if n.time >= t0
        and n.status == "firing"
        and any(
            subject in (a["labels"].get("device"), a["labels"].get("link"))
            and a["labels"].get("severity") == "critical"
            for a in n.firing()
        )
    )


@dataclass
class Tally:
    kinds: Counter[str] = field(default_factory=Counter)
    exact: int = 0
    missed: list[str] = field(default_factory=list)
    extra: list[tuple[str, str]] = field(default_factory=list)
    latency: list[float] = field(default_factory=list)
    used: set[str] = field(default_factory=set)


def one_round(
    lab: AlertLab, backbone: Backbone, inv: Inventory, rng: random.Random, tally: Tally
) -> None:
    """Three outages at once in three provinces; count what paged."""
    t0 = time.time()
    chosen = []
    for code in rng.sample(PROVINCES, 3):
        # never the same root cause twice: Alertmanager would hold a second page of one group
        # for group_interval (1 h here), which is its storm control, not a miss
        while True:
            pick = outage(inv, code, rng)
            if pick[2] not in tally.used:
                tally.used.add(pick[2])
                chosen.append(pick)
                break
    for _, action, _ in chosen:
        backbone.act(**action)
    wanted = {want for *_, want in chosen}
    with contextlib.suppress(TimeoutError):
        wait_for(lambda: wanted <= {p[1] for p in lab.pages_since(t0)}, 60, "the pages")
    time.sleep(10)  # room for any page that should not come
    pages = lab.pages_since(t0)
    count = Counter(p[1] for p in pages)
    for kind, _, want in chosen:
        tally.kinds[kind] += 1
        if count[want] == 1:
            tally.exact += 1
            tally.latency.append(_first(lab, t0, want) - t0)
        elif count[want] == 0:
            doc = backbone.state()
            seen = next((d for d in doc["devices"] if d["device"] == want), None)
            status = seen["status"] if seen else "?"
            fired = sorted(a for a in lab.firing() if a[1] == want)
            tally.missed.append(f"{kind} {want}: state {status}, firing {fired}")
    tally.extra += [(p[0], p[1]) for p in pages if p[1] not in wanted]
    tally.extra += [("repeat", w) for w in wanted for _ in range(count[w] - 1)]


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=12, help="rounds of 3 outages at once")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        inventory = write_shipped_subset(
            tmp / "inventory", PROVINCES, poll_interval=10, status_interval=1, probe_interval=1
        )
        inv = load_inventory(inventory)
        with simulated_alert_path(tmp, inventory, timing=TIMING) as (lab, backbone):
            tally = Tally()
            for _ in range(args.rounds):
                one_round(lab, backbone, inv, rng, tally)
                lab.heal(backbone, timeout=90)
    per_kind, exact, missed, extra, latency = (
        tally.kinds,
        tally.exact,
        tally.missed,
        tally.extra,
        tally.latency,
    )
    total = sum(per_kind.values())
    print(
        f"{total} outages ({', '.join(f'{n} {k}' for k, n in sorted(per_kind.items()))}), "
        f"3 at a time in different provinces, {args.rounds} rounds"
    )
    print("| what | measured | target |")
    print("|---|---|---|")
    print(f"| outages paged exactly once | {exact} of {total} | all |")
    print(f"| outages never paged | {len(missed)} | 0 |")
    print(f"| pages for devices that were not the root cause, or repeats | {len(extra)} | 0 |")
    if latency:
        print(
            f"| injection to page, p50 / p99 / max (bench intervals) | "
            f"{statistics.median(latency):.1f} / {pct(latency, 0.99):.1f} / {max(latency):.1f} s"
            " | |"
        )
    for lost in missed:
        print(f"missed: {lost}")
    for alertname, subject in extra:
        print(f"extra page: {alertname} {subject}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
