"""``netmon alerts explain``: what is down, dark or in maintenance now, and for each quiet
device the root cause it hangs on (read from a running netmon's ``/api/state``).

No peer shows what it kept quiet; this is the answer to "why did nobody page for 5001?".
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections import defaultdict
from typing import Any

QUIET = ("unreachable", "maintenance")


def fetch_state(url: str, timeout: float = 10.0) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        doc: dict[str, Any] = json.loads(resp.read())
    return doc


def _age(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def explain_text(doc: dict[str, Any], now: float | None = None) -> str:
    """A report: root causes first (these page), each with what is dark because of it; then
    links down; then a one-line count of everything else."""
    wall = doc.get("time", time.time()) if now is None else now
    devices = {d["device"]: d for d in doc.get("devices", [])}
    behind: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for d in devices.values():
        if d["status"] == "unreachable":
            for cause in d.get("causes", []) or ["?"]:
                behind[cause].append(d)
    lines: list[str] = []
    roots = [d for d in devices.values() if d["status"] in ("down", "maintenance")]
    roots += [devices[c] for c in behind if c in devices and devices[c] not in roots]
    roots.sort(key=lambda d: (d["status"] != "down", d["since"], d["device"]))
    if not roots:
        lines.append("nothing is down, dark or in maintenance")
    for d in roots:
        pages = "PAGES" if d["status"] == "down" else "quiet"
        where = f"{d['name_en']} / {d['name_th']}, {d['province']} (site {d['site']})"
        extra = f" window {d['window']}" if d.get("window") else ""
        lines.append(
            f"{d['device']}: {d['status']}{extra} for {_age(wall - d['since'])} [{pages}] {where}"
        )
        if d.get("evidence"):
            lines.append(f"    evidence: {d['evidence']}")
        dark = sorted(behind.get(d["device"], []), key=lambda x: (x["site"], x["device"]))
        for x in dark:
            others = [c for c in x.get("causes", []) if c != d["device"]]
            also = f" (and {', '.join(others)})" if others else ""
            why = "maintenance" if x.get("cause_status") == "maintenance" else "down"
            lines.append(
                f"    quiet: {x['device']} at {x['site']} {x['name_en']} / {x['name_th']}: "
                f"unreachable because {d['device']} is {why}{also}"
            )
    down_links = [lk for lk in doc.get("links", []) if lk["status"] == "down"]
    for lk in down_links:
        lines.append(f"link {lk['link']}: down for {_age(wall - lk['since'])} [PAGES]")
    dark_links = sum(1 for lk in doc.get("links", []) if lk["status"] == "dark")
    counts: dict[str, int] = defaultdict(int)
    for d in devices.values():
        counts[d["status"]] += 1
    summary = ", ".join(f"{counts[s]} {s}" for s in sorted(counts))
    lines.append(f"devices: {summary}; links: {len(down_links)} down, {dark_links} dark")
    return "\n".join(lines) + "\n"
