"""The demo's terminal summary is computed from exporter text exactly as Prometheus sees it,
and from /api/state for root causes."""

from __future__ import annotations

from netmon.live_view import Page, outages, render, summarise

METRICS = """\
# TYPE netmon_device_state gauge
netmon_device_state{state="up",device="pv50-core-1",region="north",site="50"} 0
netmon_device_state{state="down",device="pv50-core-1",region="north",site="50"} 1
netmon_device_state{state="unreachable",device="ds5001-edge-1",region="north",site="5001"} 1
netmon_device_state{state="up",device="ds5001-edge-1",region="north",site="5001"} 0
netmon_device_state{state="up",device="centre-core-1",region="central",site="centre"} 1
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

STATE = {
    "devices": [
        {"device": "pv50-core-1", "status": "down", "since": 100.0, "causes": [], "site": "50",
         "name_th": "ศาลากลาง", "name_en": "Chiang Mai", "province": "Chiang Mai"},
        {"device": "ds5001-edge-1", "status": "unreachable", "since": 101.0,
         "causes": ["pv50-core-1"], "site": "5001", "name_th": "เมือง", "name_en": "Mueang",
         "province": "Chiang Mai"},
        {"device": "centre-core-1", "status": "up", "since": 1.0, "causes": [], "site": "centre",
         "name_th": "ศูนย์", "name_en": "Centre", "province": "Bangkok"},
    ]
}  # fmt: skip


def test_summary_counts_regions_by_state_and_ranks_slowest() -> None:
    s = summarise(METRICS, slowest=2)
    assert s.regions["north"]["down"] == 1 and s.regions["north"]["unreachable"] == 1
    assert s.regions["central"]["up"] == 1 and s.regions["central"]["down"] == 0
    assert (s.up, s.down, s.total("unreachable")) == (1, 1, 1)
    assert s.varbinds_total == 1500 and s.polls_total == 40
    assert s.cycle_seconds == 61.5
    assert [name for name, _ in s.slowest] == ["ds5001-edge-1", "pv50-core-1"]
    assert s.down_devices == ["pv50-core-1"]


def test_outages_hang_dark_sites_on_their_root_cause() -> None:
    (o,) = outages(STATE)
    assert o.device == "pv50-core-1" and o.dark == ("5001",) and o.status == "down"


def test_render_shows_rates_root_causes_and_pages() -> None:
    before = summarise(METRICS)
    after = summarise(
        METRICS.replace(
            "netmon_collector_polls_total 40", "netmon_collector_polls_total 60"
        ).replace('"pv50-core-1"} 1000', '"pv50-core-1"} 3000')
    )
    page = Page(130.0, "critical", "DeviceDown", "pv50-core-1", "firing", "oncall-north")
    text = render(after, before, 2.0, "title", causes=outages(STATE), pages=[page], clock=160.0)
    assert "polls/s     10.0" in text
    assert "varbinds/s       1000" in text
    assert "down: pv50-core-1" in text
    assert "north" in text and "last full cycle 61.5 s" in text
    assert "pv50-core-1" in text and "60 s" in text and "1 site(s) dark behind it" in text
    assert "dark: 5001" in text
    assert "notifications delivered by Alertmanager: 1" in text
    assert "DeviceDown" in text and "-> oncall-north" in text
