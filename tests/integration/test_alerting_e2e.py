"""The whole alert path, for real, on loopback: the simulator serves provinces 50 and 51 of the
shipped backbone, `netmon run` polls them, a real Prometheus evaluates the shipped rules
(time-scaled: every `for:` and window x 0.05), a real Alertmanager routes with the shipped
alerting.yaml (office hours pinned on), and every notification lands in a local webhook per
receiver. Pages are critical alerts in firing notifications.

Province 50's hub (p50-core1) is dual-homed to both centre cores and has a distribution
switch and 25 districts; province 51's hub (p51-core1) is single-homed to centre-core2.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.procs import wait_for

from netmon.alert_lab import AlertLab, Backbone, simulated_alert_path, write_shipped_subset
from netmon.alerting.routing import Timing
from netmon.inventory.loader import default_inventory_path, load_inventory

pytestmark = pytest.mark.integration

if shutil.which("prometheus") is None or shutil.which("prometheus-alertmanager") is None:
    pytest.skip("prometheus or alertmanager not installed", allow_module_level=True)

SHIPPED = default_inventory_path()
NETMON = [sys.executable, "-m", "netmon.cli", "--log-level", "WARNING"]
# group_wait longer than the time it takes to decide a whole outage (probes: 2 x 1 s), as the
# shipped 30 s is; group_interval long: a group's later changes would be another notification.
TIMING = Timing(
    group_wait="8s", group_interval="1h", repeat_interval="1h", summary_repeat_interval="1h"
)


@dataclass
class E2E:
    lab: AlertLab
    backbone: Backbone
    metrics: str
    inventory: Path

    def act(self, **body: Any) -> None:
        self.backbone.act(**body)

    def state(self) -> dict[str, Any]:
        return self.backbone.state()

    def status(self, device: str) -> str:
        return self.backbone.status(device)

    def firing(self) -> set[tuple[str, str]]:
        return self.lab.firing()

    def pages_since(self, t0: float) -> list[tuple[str, str, str]]:
        return self.lab.pages_since(t0)

    def notes_since(self, t0: float, alertname: str) -> list[Any]:
        return self.lab.notes_since(t0, alertname)

    def heal(self) -> None:
        self.lab.heal(self.backbone)


@pytest.fixture(scope="module")
def e2e(tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2E]:
    tmp = tmp_path_factory.mktemp("alerting-e2e")
    inventory = write_shipped_subset(
        tmp / "inventory", ("50", "51"), poll_interval=10, status_interval=1, probe_interval=1
    )
    with simulated_alert_path(tmp, inventory, timing=TIMING) as (lab, backbone):
        yield E2E(lab, backbone, backbone.metrics, inventory)


def wait_pages(e2e: E2E, t0: float, want: int, timeout: float = 60.0) -> None:
    try:
        wait_for(lambda: len(e2e.pages_since(t0)) >= want, timeout, f"{want} page(s)")
    except TimeoutError as exc:
        not_up = [(d["device"], d["status"]) for d in e2e.state()["devices"] if d["status"] != "up"]
        groups = [n.group_labels for n in e2e.lab.notifications()]
        raise AssertionError(
            f"{exc}; pages {e2e.pages_since(t0)}; firing {sorted(e2e.firing())}; "
            f"not up {not_up[:10]}; notifications {groups}"
        ) from exc


def test_a_hub_outage_pages_once_for_the_hub_and_never_for_its_districts(e2e: E2E) -> None:
    t0 = time.time()
    e2e.act(action="site_outage", site="50")  # the hub's core and distribution switch
    wait_pages(e2e, t0, 1)
    wait_for(lambda: e2e.notes_since(t0, "SiteUnreachable"), 30, "the summary")
    time.sleep(6)  # room for any page that should not come
    assert e2e.pages_since(t0) == [("DeviceDown", "p50-core1", "chiang-mai-desk")]
    summaries = e2e.notes_since(t0, "SiteUnreachable")
    assert len(summaries) == 1, [n.group_labels for n in summaries]
    dark = {a["labels"]["site"] for a in summaries[0].firing()}
    assert {"5001", "5025"} <= dark and len(dark) >= 25
    assert {a["labels"]["cause_device"] for a in summaries[0].firing()} == {"p50-core1"}
    assert summaries[0].alerts[0]["labels"]["severity"] == "info"
    assert e2e.status("d5001-edge1") == "unreachable"  # dual-homed, both paths dark
    # what was kept quiet, and why, from the running netmon
    explain = subprocess.run(
        [*NETMON, "alerts", "explain", "--url", e2e.metrics],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert explain.startswith("p50-core1: down for"), explain
    assert "[PAGES]" in explain.splitlines()[0]
    assert "quiet: d5001-edge1 at 5001 Mueang Chiang Mai" in explain
    assert "unreachable because p50-core1 is down" in explain
    e2e.heal()  # the hub's recovery resolves everything (but the reboots it caused)


def test_a_district_uplink_a_dead_district_and_a_flap_are_one_alert_each(e2e: E2E) -> None:
    t0 = time.time()
    e2e.act(action="link_down", device="d5101-edge1", interface="GigabitEthernet0/0")
    e2e.act(action="dead", device="d5102-edge1")
    inv = load_inventory(e2e.inventory)
    flapper = next(lk for _, lk in inv.links() if lk.a.device == "d5103-edge1")
    e2e.act(action="flap", device="d5103-edge1", interface=flapper.a.interface, times=5, interval=2)
    wait_pages(e2e, t0, 2)
    wait_for(lambda: e2e.notes_since(t0, "InterfaceFlapping"), 40, "the flapping alert")
    time.sleep(6)
    uplink = "d5101-edge1:GigabitEthernet0/0--p51-core1:GigabitEthernet1/2"
    assert sorted(e2e.pages_since(t0)) == [
        ("DeviceDown", "d5102-edge1", "north-desk"),  # not also UplinkDown: that link is dark
        ("UplinkDown", uplink, "north-desk"),
    ]
    flapping = e2e.notes_since(t0, "InterfaceFlapping")
    assert len(flapping) == 1  # one notification, not a storm
    assert {a["labels"]["device"] for a in flapping[0].firing()} == {"d5103-edge1"}
    e2e.heal()


def test_a_dual_homed_hub_pages_only_when_the_right_devices_are_down(e2e: E2E) -> None:
    t0 = time.time()
    e2e.act(action="dead", device="centre-core1")
    wait_pages(e2e, t0, 1)
    time.sleep(6)
    assert e2e.status("p50-core1") == "up"  # its backup path through centre-core2 answers
    assert e2e.pages_since(t0) == [("DeviceDown", "centre-core1", "noc-desk")]
    t1 = time.time()
    e2e.act(action="dead", device="centre-core2")
    wait_pages(e2e, t1, 1)
    time.sleep(6)
    assert e2e.pages_since(t1) == [("DeviceDown", "centre-core2", "noc-desk")]
    assert e2e.status("p50-core1") == "unreachable" and e2e.status("p51-core1") == "unreachable"
    e2e.heal()


def test_planned_work_pages_nobody_and_shows_as_maintenance(e2e: E2E) -> None:
    now = time.time()
    start = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(now - 60))
    end = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(now + 3600))
    window = {
        "name": "lamphun-hall-power",
        "scope": "site",
        "targets": ["51"],
        "who": "test",
        "why": "power work at the hall",
        "start": start,
        "end": end,
    }
    (e2e.inventory / "maintenance.yaml").write_text(yaml.safe_dump({"windows": [window]}))
    wait_for(lambda: e2e.status("p51-core1") == "maintenance", 30, "the window to apply")
    t0 = time.time()
    e2e.act(action="site_outage", site="51")
    wait_for(lambda: e2e.status("d5101-edge1") == "unreachable", 30, "the districts dark")
    time.sleep(8)  # longer than every for: + group_wait here
    assert e2e.pages_since(t0) == []
    assert e2e.notes_since(t0, "SiteUnreachable") == []  # dark because of planned work
    doc = e2e.state()
    d5101 = next(d for d in doc["devices"] if d["device"] == "d5101-edge1")
    assert d5101["causes"] == ["p51-core1"] and d5101["cause_status"] == "maintenance"
    (e2e.inventory / "maintenance.yaml").write_text("windows: []\n")
    e2e.heal()
