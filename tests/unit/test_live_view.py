"""The demo's terminal summary is computed from exporter text exactly as Prometheus sees it."""

from __future__ import annotations

from netmon.live_view import render, summarise

METRICS = """\
# TYPE netmon_device_up gauge
netmon_device_up{device="pv50-core-1",region="north",site="50"} 1
netmon_device_up{device="ds5001-edge-1",region="north",site="5001"} 0
netmon_device_up{device="centre-core-1",region="central",site="centre"} 1
# TYPE netmon_poll_duration_seconds gauge
netmon_poll_duration_seconds{device="pv50-core-1"} 0.120
netmon_poll_duration_seconds{device="ds5001-edge-1"} 2.5
netmon_poll_duration_seconds{device="centre-core-1"} 0.030
# TYPE netmon_poll_varbinds_total counter
netmon_poll_varbinds_total{device="pv50-core-1"} 1000
netmon_poll_varbinds_total{device="centre-core-1"} 500
# TYPE netmon_collector_polls_total counter
netmon_collector_polls_total 40
# TYPE netmon_collector_cycle_seconds gauge
netmon_collector_cycle_seconds 61.5
"""


def test_summary_counts_regions_and_ranks_slowest() -> None:
    s = summarise(METRICS, slowest=2)
    assert s.regions["north"].up == 1 and s.regions["north"].down == 1
    assert s.regions["central"].up == 1 and s.regions["central"].down == 0
    assert (s.up, s.down) == (2, 1)
    assert s.varbinds_total == 1500 and s.polls_total == 40
    assert s.cycle_seconds == 61.5
    assert [name for name, _ in s.slowest] == ["ds5001-edge-1", "pv50-core-1"]
    assert s.down_devices == ["ds5001-edge-1"]


def test_render_shows_rates_between_two_summaries() -> None:
    before = summarise(METRICS)
    after = summarise(
        METRICS.replace(
            "netmon_collector_polls_total 40", "netmon_collector_polls_total 60"
        ).replace('"pv50-core-1"} 1000', '"pv50-core-1"} 3000')
    )
    text = render(after, before, 2.0, "title")
    assert "polls/s     10.0" in text
    assert "varbinds/s       1000" in text
    assert "down: ds5001-edge-1" in text
    assert "north" in text and "last full cycle 61.5 s" in text
