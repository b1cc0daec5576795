"""The one rule for ``rate()`` / ``increase()`` windows, for dashboards and Prometheus rules.

netmon polls a device every ``poll_interval`` (60 s by default) and Prometheus scrapes netmon
more often (30 s). Counters are exported with the time of the poll that read them as their
sample timestamp (``exporters/families.py``), so Prometheus stores one sample per poll, at the
moment it was true, however often it scrapes. A rate window must still hold enough polls:

    window = SAMPLES x poll_interval + scrape_interval, rounded up to a whole minute (whole
    seconds below one minute)

so that it always spans at least ``SAMPLES`` poll intervals (one missed poll still leaves a
rate), whatever the phase of the scrape. With the defaults: 4 x 60 s + 30 s = 270 s -> ``5m``.
``rate(ifHCInOctets[1m])`` over a 60 s poll is wrong for half the interfaces (measured: 0 for
half, 1.5x for the rest); ``[5m]`` agrees with netmon's own rate gauge (README, "Rates").

Rules (``deploy/prometheus/rules/``) and dashboards import ``RATE_WINDOW``; a deployment with
another poll interval regenerates both with ``rate_window(poll, scrape)``.
"""

from __future__ import annotations

import math

POLL_INTERVAL = 60.0  # seconds: the inventory's default poll_interval
SCRAPE_INTERVAL = 30.0  # seconds: the generated scrape config's interval
SAMPLES = 4


def rate_window_seconds(
    poll_interval: float = POLL_INTERVAL, scrape_interval: float = SCRAPE_INTERVAL
) -> int:
    if poll_interval <= 0 or scrape_interval <= 0:
        raise ValueError("intervals must be positive")
    raw = SAMPLES * poll_interval + scrape_interval
    return math.ceil(raw / 60) * 60 if raw >= 60 else math.ceil(raw)


def rate_window(
    poll_interval: float = POLL_INTERVAL, scrape_interval: float = SCRAPE_INTERVAL
) -> str:
    """The window as a PromQL duration: ``5m``, ``18s``."""
    seconds = rate_window_seconds(poll_interval, scrape_interval)
    return f"{seconds // 60}m" if seconds % 60 == 0 else f"{seconds}s"


RATE_WINDOW = rate_window()  # "5m"
