"""The state engine's views as metric families and as /api/state JSON."""

from __future__ import annotations

import json

from support.backbones import backbone

from exporters.exposition import render_text
from exporters.families import LabelSet
from exporters.state_api import state_json
from exporters.state_families import maintenance_families, state_families
from netmon.state.engine import StateEngine
from netmon.state.maintenance import MaintenancePlan, Window
from netmon.state.model import Cause


def engine_with_dead_hub() -> StateEngine:
    eng = StateEngine(clock=lambda: 1000.0)
    eng.set_inventory(backbone())
    for n in ("c1", "c2", "p1", "s1", "e1", "e2", "p2", "e3"):
        eng.observe(n, True, Cause.POLL)
    eng.observe("p2", False, Cause.PROBE)
    eng.observe("c2", True, Cause.PROBE)
    eng.observe("e3", False, Cause.PROBE)
    return eng


def labels_for(*names: str) -> dict[str, LabelSet]:
    return {n: LabelSet((("device", n),)) for n in names}


def test_state_series_stateset_cause_and_links() -> None:
    eng = engine_with_dead_hub()
    text = render_text(state_families(eng, labels_for("p2", "e3"))).decode()
    assert 'netmon_device_state{state="down",device="p2"} 1' in text
    assert 'netmon_device_state{state="up",device="p2"} 0' in text
    assert 'netmon_device_state{state="unreachable",device="e3"} 1' in text
    assert (
        'netmon_device_cause_info{cause_device="p2",cause_site="51",cause_province_code="50",'
        'cause_state="down",device="e3"} 1'
    ) in text
    link = 'link="e3:to-p2--p2:to-e3",kind="uplink",peer_device="p2"'
    assert f'netmon_link_state{{state="dark",{link},device="e3"}} 1' in text
    assert f'netmon_link_speed_bits_per_second{{{link},device="e3"}} 1000000000' in text
    # only the devices asked for (a province slice), and links by their downstream end
    assert 'device="c1"' not in text
    assert "p2:to-c2" in text  # p2's own uplink is in its slice
    assert "p1:to-c1" not in text  # another province's is not
    assert text.count("# TYPE netmon_device_state gauge") == 1


def test_api_state_document() -> None:
    doc = json.loads(state_json(engine_with_dead_hub()))
    by_name = {d["device"]: d for d in doc["devices"]}
    assert by_name["e3"]["status"] == "unreachable" and by_name["e3"]["causes"] == ["p2"]
    assert by_name["p2"]["status"] == "down" and by_name["p2"]["name_en"] == "T"
    links = {lk["link"]: lk for lk in doc["links"]}
    assert links["e3:to-p2--p2:to-e3"]["status"] == "dark"


def test_maintenance_series() -> None:
    plan = MaintenancePlan(
        (
            Window("w1", "site", ("51",), "NOC", "upgrade", start=900.0, end=1100.0),
            Window("w2", "device", ("e3",), "NOC", "later", start=2000.0, end=3000.0),
        )
    )
    text = render_text(maintenance_families(plan, 1000.0)).decode()
    assert 'netmon_maintenance_active{window="w1",scope="site"} 1' in text
    assert 'netmon_maintenance_active{window="w2",scope="device"} 0' in text
    assert 'who="NOC",why="upgrade"' in text
