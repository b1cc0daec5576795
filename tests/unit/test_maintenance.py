"""Maintenance windows: the file format, its strict checks, and which windows are active when."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from netmon.errors import InventoryError
from netmon.inventory.loader import load_inventory
from netmon.inventory.model import Inventory
from netmon.state.maintenance import (
    MaintenancePlan,
    Window,
    devices_in_maintenance,
    load_maintenance,
)

CASES = Path(__file__).parent / "inventory_cases"
BKK = ZoneInfo("Asia/Bangkok")
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def inv() -> Inventory:
    return load_inventory(CASES / "_valid")


def at(text: str) -> float:
    """Bangkok wall-clock time 'YYYY-MM-DD HH:MM' as unix seconds."""
    return datetime.fromisoformat(text).replace(tzinfo=BKK).timestamp()


def load(tmp_path: Path, inv: Inventory, text: str) -> MaintenancePlan:
    f = tmp_path / "maintenance.yaml"
    f.write_text(text, encoding="utf-8")
    return load_maintenance(f, inv)


def problems(tmp_path: Path, inv: Inventory, text: str) -> list[str]:
    with pytest.raises(InventoryError) as info:
        load(tmp_path, inv, text)
    return [f"{p.line}:{p.column}: {p.message}" for p in info.value.problems]


ABSOLUTE = """\
windows:
  - name: hub-upgrade
    scope: device
    targets: [p50-core1]
    who: Somchai (NOC)
    why: software upgrade, change 1234
    start: 2026-12-05T22:00:00+07:00
    end: 2026-12-06T02:00:00+07:00
"""


def test_missing_file_is_no_windows(tmp_path: Path, inv: Inventory) -> None:
    plan = load_maintenance(tmp_path / "maintenance.yaml", inv)
    assert plan.windows == () and plan.active(0.0) == [] and plan.next_change(0.0) is None


def test_comments_only_is_no_windows(tmp_path: Path, inv: Inventory) -> None:
    assert load(tmp_path, inv, "# nothing planned\n").windows == ()
    assert load(tmp_path, inv, "windows: []\n").windows == ()


def test_absolute_window_is_frozen_and_active_in_its_span(tmp_path: Path, inv: Inventory) -> None:
    plan = load(tmp_path, inv, ABSOLUTE)
    (w,) = plan.windows
    assert (w.name, w.scope, w.targets, w.who) == (
        "hub-upgrade",
        "device",
        ("p50-core1",),
        "Somchai (NOC)",
    )
    assert w.start == at("2026-12-05 22:00") and w.end == at("2026-12-06 02:00")
    with pytest.raises(AttributeError):
        w.name = "other"  # type: ignore[misc]
    assert plan.active(at("2026-12-05 21:59")) == []
    assert plan.active(at("2026-12-05 22:00")) == [w]  # start is inside
    assert plan.active(at("2026-12-06 01:59")) == [w]
    assert plan.active(at("2026-12-06 02:00")) == []  # end is outside
    assert plan.next_change(at("2026-12-01 00:00")) == at("2026-12-05 22:00")
    assert plan.next_change(at("2026-12-05 23:00")) == at("2026-12-06 02:00")
    assert plan.next_change(at("2026-12-06 02:00")) is None


def test_times_without_offset_are_bangkok_and_utc_offsets_are_honoured(
    tmp_path: Path, inv: Inventory
) -> None:
    text = ABSOLUTE.replace("2026-12-05T22:00:00+07:00", '"2026-12-05T22:00"').replace(
        "2026-12-06T02:00:00+07:00", "2026-12-05T19:00:00Z"
    )
    (w,) = load(tmp_path, inv, text).windows
    assert w.start == at("2026-12-05 22:00")
    assert w.end == at("2026-12-06 02:00")  # 19:00 UTC is 02:00 in Bangkok


def test_weekly_window_across_midnight(tmp_path: Path, inv: Inventory) -> None:
    text = """\
windows:
  - name: sunday-night
    scope: site
    targets: ["5001", "5002"]
    who: district team
    why: weekly backups
    weekly: {days: [saturday, sunday], start: "23:00", duration: 3h}
"""
    plan = load(tmp_path, inv, text)
    # 2026-12-05 is a Saturday, 12-06 a Sunday.
    assert datetime.fromtimestamp(at("2026-12-05 12:00"), BKK).strftime("%A") == "Saturday"
    assert plan.active(at("2026-12-05 22:59")) == []
    assert len(plan.active(at("2026-12-05 23:00"))) == 1
    assert len(plan.active(at("2026-12-06 01:59"))) == 1  # Saturday's, past midnight
    assert plan.active(at("2026-12-06 02:00")) == []
    assert len(plan.active(at("2026-12-07 00:30"))) == 1  # Sunday's, on Monday morning
    assert plan.active(at("2026-12-07 23:30")) == []  # Monday: not listed
    assert plan.next_change(at("2026-12-05 12:00")) == at("2026-12-05 23:00")
    assert plan.next_change(at("2026-12-06 00:00")) == at("2026-12-06 02:00")
    assert plan.next_change(at("2026-12-06 02:00")) == at("2026-12-06 23:00")
    assert plan.next_change(at("2026-12-07 02:00")) == at("2026-12-12 23:00")  # next Saturday


def test_bangkok_has_no_dst_a_weekly_window_is_always_utc_plus_7(
    tmp_path: Path, inv: Inventory
) -> None:
    text = """\
windows:
  - name: monday-early
    scope: province
    targets: ["51"]
    who: Lamphun team
    why: power work
    weekly: {days: [monday], start: "01:30", duration: 1h30m}
"""
    plan = load(tmp_path, inv, text)
    # Every Monday of a year (where DST countries shift) starts at 18:30 UTC on Sunday.
    now = at("2026-01-01 00:00")
    starts = []
    while len(starts) < 52:
        now = plan.next_change(now) or 0.0
        if plan.active(now):
            starts.append(now)
    assert all(
        datetime.fromtimestamp(t, ZoneInfo("UTC")).strftime("%a %H:%M") == "Sun 18:30"
        for t in starts
    )


def test_devices_in_maintenance_by_scope(tmp_path: Path, inv: Inventory) -> None:
    text = """\
windows:
  - name: lamphun
    scope: province
    targets: ["51"]
    who: a
    why: b
    start: 2026-12-01T00:00:00+07:00
    end: 2026-12-02T00:00:00+07:00
  - name: chom-thong
    scope: site
    targets: ["5002"]
    who: a
    why: b
    start: 2026-12-01T00:00:00+07:00
    end: 2026-12-02T00:00:00+07:00
  - name: hub
    scope: device
    targets: [p50-core1, d5002-edge1]
    who: a
    why: b
    start: 2026-12-01T12:00:00+07:00
    end: 2026-12-03T00:00:00+07:00
  - name: bangkok
    scope: province
    targets: ["10"]
    who: a
    why: b
    start: 2026-12-01T00:00:00+07:00
    end: 2026-12-02T00:00:00+07:00
"""
    plan = load(tmp_path, inv, text)
    # Overlap: the first window in file order names the device; province 10 never covers
    # the centre.
    assert devices_in_maintenance(plan, inv, at("2026-12-01 13:00")) == {
        "p51-core1": "lamphun",
        "d5101-edge1": "lamphun",
        "d5002-edge1": "chom-thong",
        "p50-core1": "hub",
    }
    assert devices_in_maintenance(plan, inv, at("2026-12-02 13:00")) == {
        "p50-core1": "hub",
        "d5002-edge1": "hub",
    }
    assert devices_in_maintenance(plan, inv, at("2026-12-04 00:00")) == {}


def test_every_mistake_with_its_line_and_column(tmp_path: Path, inv: Inventory) -> None:
    text = """\
windows:
  - name: one
    scope: device
    targets: [p50-core9]
    who: a
    why: b
    start: 2026-12-05T22:00:00+07:00
    end: 2026-12-05T21:00:00+07:00
  - name: two
    scope: site
    targets: ["9999", 5001]
    who: a
    why: b
    start: tomorrow
    end: 2026-12-05T21:00:00+07:00
  - name: three
    scope: region
    targets: [north]
    who: a
    why: b
    weekly: {days: [sunday], start: "23:00", duration: 3h}
  - name: four
    scope: province
    targets: ["77"]
    who: a
    why: b
    weekly: {days: [funday], start: "25:00", duration: 9d}
    startt: x
  - name: one
    scope: site
    targets: ["5001"]
    who: ""
    why: b
    start: 2026-12-05T21:00:00+07:00
  - name: six
    scope: site
    targets: ["5001"]
    who: a
    why: b
    start: 2026-12-05T21:00:00+07:00
    end: 2026-12-05T22:00:00+07:00
    weekly: {days: [sunday], start: "23:00", duration: 3h}
  - name: seven
    scope: site
    targets: ["5001"]
    who: a
    why: b
    timezone: Mars/Olympus
    start: 2026-12-05T21:00:00
    end: 2026-12-05T22:00:00
"""
    assert problems(tmp_path, inv, text) == [
        "4:15: unknown device 'p50-core9'",
        "8:10: end: 2026-12-05T21:00:00+07:00 is not after start 2026-12-05T22:00:00+07:00",
        "11:15: unknown site '9999'",
        '11:23: targets: expected text, got the number 5001: write it in quotes: "5001"',
        "14:12: start: 'tomorrow' is not a time (write e.g. 2026-12-05T22:00:00+07:00)",
        "17:12: scope: should be 'device', 'site' or 'province', got 'region'",
        "24:15: unknown province '77'",
        "27:21: days: 'funday' is not a day (write e.g. sunday)",
        "27:37: start: '25:00' is not a time of day (write e.g. \"23:00\")",
        "27:56: duration: '9d' is not a duration of at most 7d (write e.g. 3h, 90m, 1h30m)",
        "28:5: unknown key 'startt' (did you mean 'start'?)",
        "29:5: missing key 'end'",
        "29:11: window 'one' is declared twice (first at line 2)",
        "32:10: who: String should have at least 1 character",
        "35:5: a window needs either start and end, or weekly (not both)",
        "48:15: timezone: unknown time zone 'Mars/Olympus'",
    ]


def test_not_a_mapping_and_bad_yaml(tmp_path: Path, inv: Inventory) -> None:
    assert problems(tmp_path, inv, "- a\n- b\n") == ["1:1: expected keys and values (windows:)"]
    assert problems(tmp_path, inv, "windows: [\n") == [
        "2:1: YAML syntax error: did not find expected node content "
        "(while parsing a flow node at line 2)"
    ]
    assert problems(tmp_path, inv, "windows: 3\n") == ["1:10: windows: should be a list, got 3"]
    assert problems(tmp_path, inv, "window: []\n") == [
        "1:1: unknown key 'window' (did you mean 'windows'?)"
    ]


def test_shipped_file_and_example_load_against_the_shipped_inventory() -> None:
    inv = load_inventory(REPO / "inventory")
    load_maintenance(REPO / "inventory" / "maintenance.yaml", inv)
    example = load_maintenance(REPO / "inventory" / "examples" / "maintenance-example.yaml", inv)
    assert example.windows and all(isinstance(w, Window) for w in example.windows)
