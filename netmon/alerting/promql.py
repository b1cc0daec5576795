"""What the rules are generated from (``RulesContext``), and small PromQL building blocks."""

from __future__ import annotations

from dataclasses import dataclass

from netmon import links

# The state engine's topology labels on every per-device series.
TOPOLOGY = ("province", "province_code", "district", "site", "device", "role", "region")

# Interface and device-level alerts only for devices that answer: a down, unreachable, in
# maintenance or unknown device's interfaces never page (the device, or its cause, does).
UP = 'on(device) (netmon_device_state{state="up"} == 1)'


@dataclass(frozen=True, slots=True)
class RulesContext:
    """Inputs of the generator. ``time_scale`` shrinks every ``for:`` and range window (tests
    and the demo); the shipped files use 1."""

    poll_interval: float = 60.0  # the longest full-poll interval in the inventory (s)
    vendor_metrics: frozenset[str] = frozenset(
        {"netmon_cpu_usage_ratio", "netmon_memory_usage_ratio", "netmon_temperature_celsius"}
    )
    grafana_url: str = links.DEFAULT_GRAFANA_URL
    time_scale: float = 1.0
    job: str = "netmon"
    scrape_timeout: float = 25.0

    def d(self, seconds: float) -> str:
        """A scaled Prometheus duration: 900 -> "15m" (or "9s" at time scale 0.01)."""
        ms = round(seconds * self.time_scale * 1000)
        if ms == 0:
            return "0s" if seconds == 0 else "1ms"
        for unit, size in (("h", 3_600_000), ("m", 60_000), ("s", 1000)):
            if ms % size == 0:
                return f"{ms // size}{unit}"
        return f"{ms}ms"

    @property
    def rate_window(self) -> float:
        """Counters come from a poll: a window spans at least five of them (>= 5 m)."""
        return max(300.0, 5 * self.poll_interval)

    @property
    def rate_offset(self) -> float:
        """Counter samples carry their poll's time and reach Prometheus a scrape later: a rate
        evaluated one offset back has every sample of its window (``netmon/rate_window.py``)."""
        from netmon.rate_window import rate_offset_seconds

        return float(rate_offset_seconds())

    def counter_range(self) -> str:
        """``[5m] offset 1m`` (scaled): the range of every rate() over a polled counter."""
        return f"[{self.d(self.rate_window)}] offset {self.d(self.rate_offset)}"

    @property
    def stale_after(self) -> float:
        """A device that is up but has had no successful full poll for three intervals."""
        return 3 * self.poll_interval

    def url(self, uid: str, **labels: str) -> str:
        return links.dashboard_url_template(uid, self.grafana_url, **labels)


def with_names(expr: str, on: str = "device") -> str:
    """``expr`` with the site's Thai and English names (``name_th``, ``name_en``) joined from
    ``netmon_device_info``; a series whose device has no info series yet still fires (the
    right side falls back to a nameless 1 per ``on`` value), only unnamed."""
    names = (
        f"max by ({on}, name_th, name_en) (netmon_device_info)\n"
        f"  or on({on}) max by ({on}) (netmon_device_state * 0 + 1)"
    )
    return f"(\n  {indent(expr)}\n)\n* on({on}) group_left(name_th, name_en) (\n  {names}\n)"


def indent(expr: str, by: int = 2) -> str:
    return expr.replace("\n", "\n" + " " * by)


def site_annotations(ctx: RulesContext) -> dict[str, str]:
    """Where it is, in both languages, and the dashboard of the device's site."""
    return {
        "site": "{{ $labels.site }} {{ $labels.name_en }} / {{ $labels.name_th }}",
        "site_name_th": "{{ $labels.name_th }}",
        "site_name_en": "{{ $labels.name_en }}",
        "province": "{{ $labels.province }} ({{ $labels.province_code }})",
        "dashboard": ctx.url(links.SITE, site="site", device="device"),
    }
