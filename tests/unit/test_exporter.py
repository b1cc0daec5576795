"""Exposition of the snapshot: snmp_exporter names and labels, topology, validity."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from prometheus_client.core import CollectorRegistry
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from support.collector_lab import device_data, target

from collector.model import DeviceState
from collector.profiles import load_profiles
from collector.scheduler import Scheduler
from collector.snmp_collector import SnmpCollector
from collector.transport import FakeTransport, SnmpTimeout, Value
from exporters.exposition import FamiliesCollector, render_text
from exporters.families import FamilyBuilder, LabelSet, ReloadStatus
from exporters.http import HEALTH, SELF, route
from exporters.scrape_config import scrape_config

PROFILES = load_profiles()


def snapshot(devices: dict[str, dict[str, Value] | None]) -> tuple[Scheduler, FamilyBuilder]:
    """Poll fake devices once; ``None`` is a dead device."""
    fakes = {
        name: FakeTransport(data) if data is not None else FakeTransport({}, fail=SnmpTimeout("x"))
        for name, data in devices.items()
    }
    col = SnmpCollector(PROFILES, lambda t: fakes[t.name])
    sched = Scheduler(col)
    sched.set_targets(
        {
            n: target(n, uplinks=("Gi0/1",), province_code="10" if i % 2 == 0 else "12")
            for i, n in enumerate(devices)
        }
    )
    asyncio.run(sched.poll_all_once())
    return sched, FamilyBuilder(PROFILES)


def text_of(sched: Scheduler, fb: FamilyBuilder, states: list[DeviceState] | None = None) -> str:
    reload = ReloadStatus(True, 1.0, len(sched.states))
    st = states if states is not None else list(sched.states.values())
    return render_text(fb.families(st, sched.stats(), reload)).decode()


_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)( -?\d+)?$")  # value [timestamp]
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def samples(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Samples by their exact exposed name (client_python's parser renames counters)."""
    list(text_string_to_metric_families(text))  # raises on anything malformed
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _LINE.match(line)
        assert m, line
        labels = {
            k: v.replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\")
            for k, v in _LABEL.findall(m.group(2) or "")
        }
        out.setdefault(m.group(1), []).append((labels, float(m.group(3))))
    return out


def test_counters_carry_the_poll_time_and_gauges_none() -> None:
    sched, fb = snapshot({"d1001-edge1": device_data({1: "Gi0/1"})})
    state = sched.states["d1001-edge1"]
    assert state.last is not None
    read = state.last.counters_at
    assert 0 < read <= state.last_success  # read during the poll, before it ended
    want = f" {int(read * 1000)}"
    lines = text_of(sched, fb).splitlines()
    for name, stamped in (
        ("ifHCInOctets", True),
        ("ifInErrors", True),
        ("ifOperStatus", False),
        ("ifHighSpeed", False),
        ("netmon_device_polls_total", False),
    ):
        line = next(x for x in lines if x.startswith(name + "{"))
        assert line.endswith(want) == stamped, line


def test_if_mib_names_labels_and_types_match_snmp_exporter() -> None:
    sched, fb = snapshot({"d1001-edge1": device_data({1: "Gi0/1", 2: "Gi0/2"})})
    text = text_of(sched, fb)
    assert "# TYPE ifHCInOctets counter\n" in text  # no _total, as snmp_exporter
    assert "# TYPE ifOperStatus gauge\n" in text
    assert "# TYPE sysUpTime gauge\n" in text
    s = samples(text)
    for name in (
        "ifHCInOctets",
        "ifHCOutOctets",
        "ifHCInUcastPkts",
        "ifHCOutUcastPkts",
        "ifInErrors",
        "ifOutErrors",
        "ifInDiscards",
        "ifOutDiscards",
        "ifOperStatus",
        "ifAdminStatus",
        "ifHighSpeed",
        "ifLastChange",
    ):
        assert len(s[name]) == 2, name
    labels, value = next(x for x in s["ifHCInOctets"] if x[0]["ifIndex"] == "2")
    assert value == 10
    assert labels == {
        "ifIndex": "2",
        "ifName": "Gi0/2",
        "ifDescr": "Gi0/2 descr",
        "ifAlias": 'alias "Gi0/2"',  # quotes escaped and parsed back
        "province": "Bangkok",
        "province_code": "10",
        "district": "Phra Nakhon",
        "site": "1001",
        "device": "d1001-edge1",
        "role": "edge",
        "region": "central",
    }
    link = next(x for x in s["ifOperStatus"] if x[0]["ifIndex"] == "1")[0]
    assert link["link"] == "d1001-edge1:Gi0/1--up:x"
    assert s["sysUpTime"][0][1] == 1000
    assert s["netmon_cpu_usage_ratio"][0][1] == pytest.approx(0.07)


def test_duplicate_ifnames_stay_distinct_series() -> None:
    sched, fb = snapshot({"d1": device_data({1: "Gi0/1", 2: "Gi0/1", 3: "Gi0/1"})})
    s = samples(text_of(sched, fb))
    series = {tuple(sorted(lab.items())) for lab, _ in s["ifHCInOctets"]}
    assert len(series) == 3


def test_device_health_metrics_and_a_dead_device() -> None:
    sched, fb = snapshot({"alive": device_data({1: "Gi0/1"}), "dead": None})
    s = samples(text_of(sched, fb))
    up = {lab["device"]: v for lab, v in s["netmon_device_up"]}
    assert up == {"alive": 1, "dead": 0}
    errors = {(lab["device"], lab["kind"]): v for lab, v in s["netmon_poll_errors_total"]}
    assert errors == {("dead", "timeout"): 1}
    timeouts = {lab["device"]: v for lab, v in s["netmon_poll_timeouts_total"]}
    assert timeouts == {"alive": 0, "dead": 1}
    # a dead device exports no stale interface values
    assert {lab["device"] for lab, _ in s["ifHCInOctets"]} == {"alive"}
    info = {lab["device"]: lab for lab, _ in s["netmon_device_info"]}
    assert info["alive"]["name_th"] == "พระนคร" and info["alive"]["sys_name"] == "router"
    for name in (
        "netmon_poll_duration_seconds",
        "netmon_last_success_timestamp_seconds",
        "netmon_poll_varbinds_total",
        "netmon_poll_skipped_total",
        "netmon_device_polls_total",
    ):
        assert len(s[name]) == 2, name
    assert s["netmon_inventory_reload_success"][0][1] == 1
    assert s["netmon_collector_polls_total"][0][1] == 2


def test_probe_counters_exist_at_zero_for_a_polled_device_never_probed() -> None:
    sched, fb = snapshot({"alive": device_data({1: "Gi0/1"})})
    assert sched.states["alive"].probes == 0  # its poll answered: no probe was needed
    s = samples(text_of(sched, fb))
    for name in ("netmon_probes_total", "netmon_probe_failures_total"):
        assert [(lab["device"], v) for lab, v in s[name]] == [("alive", 0)], name


def test_status_overlay_shows_a_link_down_before_the_next_full_poll() -> None:
    sched, fb = snapshot({"d1": device_data({1: "Gi0/1", 2: "Gi0/2"})})
    sched.states["d1"].status_overlay = {"1": 2}
    s = samples(text_of(sched, fb))
    status = {lab["ifIndex"]: v for lab, v in s["ifOperStatus"]}
    assert status == {"1": 2, "2": 1}


def test_province_slice_has_only_that_province() -> None:
    sched, fb = snapshot({"a": device_data({1: "x"}), "b": device_data({1: "y"})})
    sliced = [st for st in sched.states.values() if st.target.label("province_code") == "12"]
    s = samples(render_text(fb.families(sliced)).decode())
    assert {lab["device"] for lab, _ in s["ifHCInOctets"]} == {"b"}
    assert "netmon_collector_polls_total" not in s


def test_health_view_has_device_health_but_no_tables() -> None:
    sched, fb = snapshot({"alive": device_data({1: "Gi0/1"}), "dead": None})
    reload = ReloadStatus(True, 1.0, 2)
    text = render_text(
        fb.families(list(sched.states.values()), sched.stats(), reload, tables=False)
    )
    s = samples(text.decode())
    assert {lab["device"]: v for lab, v in s["netmon_device_up"]} == {"alive": 1, "dead": 0}
    assert s["netmon_collector_polls_total"][0][1] == 2
    full = samples(text_of(sched, fb))
    assert "ifHCInOctets" in full and "sysUpTime" in full
    assert not {"ifHCInOctets", "ifOperStatus", "sysUpTime"} & set(s)


def test_routes() -> None:
    assert route("/metrics") == (0, None)
    assert route("/metrics?province=12") == (0, "12")
    assert route("/province/12/metrics") == (0, "12")
    assert route("/collector/metrics") == (0, SELF)
    assert route("/health/metrics") == (0, HEALTH)
    assert route("/metrics?province=../x") == (400, None)
    assert route("/metrics?province=50%0a") == (400, None)  # "$" matched before a newline
    assert route("/nope") == (404, None)


def test_client_python_collector_yields_the_same_series() -> None:
    sched, fb = snapshot({"d1": device_data({1: "Gi0/1", 2: "Gi0/2"})})
    states = list(sched.states.values())
    registry = CollectorRegistry()
    registry.register(FamiliesCollector(lambda: fb.families(states, sched.stats())))
    via_client = samples(generate_latest(registry).decode())
    direct = samples(render_text(fb.families(states, sched.stats())).decode())
    assert via_client["ifHCInOctets"] == direct["ifHCInOctets"]
    assert via_client["netmon_poll_timeouts_total"] == direct["netmon_poll_timeouts_total"]


def test_label_sets_are_reused_until_the_label_cache_changes() -> None:
    sched, fb = snapshot({"d1": device_data({1: "Gi0/1"})})
    states = list(sched.states.values())
    fam1 = next(f for f in fb.families(states) if f.name == "ifHCInOctets")
    fam2 = next(f for f in fb.families(states) if f.name == "ifHCInOctets")
    assert fam1.all_samples()[0][0] is fam2.all_samples()[0][0]


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed")
def test_promtool_accepts_the_exposition() -> None:
    sched, fb = snapshot(
        {"d1": device_data({1: "Gi0/1", 2: "Gi0/1"}), "dead": None, "d3": device_data({5: "é"})}
    )
    text = text_of(sched, fb)
    proc = subprocess.run(
        ["promtool", "check", "metrics"], input=text.encode(), capture_output=True, timeout=30
    )
    problems = (proc.stdout + proc.stderr).decode().splitlines()
    # snmp_exporter's IF-MIB names are camelCase counters without _total by design; promtool's
    # style lint says so. Anything else (a parse error, a netmon_* lint) is a failure.
    inherited = re.compile(
        r"^(if\w+|sysUpTime) (metric names should be written in 'snake_case' not 'camelCase'|"
        r"label names should be written in 'snake_case' not 'camelCase'|"
        r'counter metrics should have "_total" suffix)$'
    )
    other = [p for p in problems if p and not inherited.match(p)]
    assert proc.returncode in (0, 3) and other == []


def test_scrape_config_is_valid_for_promtool(tmp_path: object) -> None:
    if shutil.which("promtool") is None:
        pytest.skip("promtool not installed")

    path = Path(str(tmp_path)) / "prometheus.yml"
    path.write_text(
        "global:\n  scrape_interval: 30s\n"
        + scrape_config("127.0.0.1:9800", ["10", "12"]).split("\n", 1)[1]
    )
    proc = subprocess.run(
        ["promtool", "check", "config", str(path)], capture_output=True, timeout=30
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_device_not_polled_yet_has_no_health_series() -> None:
    sched, fb = snapshot({"a": device_data({1: "x"})})
    sched.set_targets({"a": sched.states["a"].target, "new": target("new")})
    s = samples(text_of(sched, fb))
    assert {lab["device"] for lab, _ in s["netmon_device_up"]} == {"a"}
    assert {lab["device"] for lab, _ in s["netmon_device_info"]} == {"a", "new"}
    states = {lab["state"]: v for lab, v in s["netmon_collector_devices"]}
    assert states == {"up": 1, "down": 0, "pending": 1}


def test_an_interface_appearing_between_label_refreshes_is_exported() -> None:
    data = device_data({1: "Gi0/1"})
    sched, fb = snapshot({"d1": data})
    text_of(sched, fb)  # the label sets are now memoised
    # a new row shows up without ifNumber/ifTableLastChange changing (a lazy agent)
    state = sched.states["d1"]
    assert state.last is not None and state.last.interfaces is not None
    table = state.last.interfaces
    table.values["ifHCInOctets"]["7"] = 77
    table.indexes.append("7")
    s = samples(text_of(sched, fb))
    got = {lab["ifIndex"]: v for lab, v in s["ifHCInOctets"]}
    assert got == {"1": 5, "7": 77}
    # a value whose ifIndex is unknown to the table is skipped, never a failed scrape
    table.values["ifHCOutOctets"]["9"] = 1
    assert 'ifIndex="9"' not in text_of(sched, fb)


def test_families_with_thai_labels_are_rendered_whole_and_apart() -> None:
    # Families holding a non-ASCII label are joined apart from the rest (encoding speed): every
    # family must still come out whole, contiguous, its series in order, as UTF-8.
    sched, fb = snapshot(
        {"d1": device_data({1: "Gi0/1", 2: "Gi0/2"}), "d2": device_data({3: "ลิงก์ เชียงใหม่"})}
    )
    fams = list(fb.families(list(sched.states.values()), sched.stats()))
    text = render_text(fams).decode("utf-8")
    runs: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        series = line[: line.rindex("}") + 1] if "{" in line else line.split(" ")[0]
        name = series.split("{")[0]
        if not runs or runs[-1][0] != name:
            runs.append((name, []))
        runs[-1][1].append(series)
    expected = {
        fam.name: [f"{fam.name}{ls.text}" for ls, _ in fam.all_samples()]
        for fam in fams
        if fam.all_samples()
    }
    assert len(runs) == len(expected)  # each family in one run
    assert dict(runs) == expected
    assert 'ifName="ลิงก์ เชียงใหม่"' in text
    wide = {n for n, lines in runs if not all(x.isascii() for x in lines)}
    assert "netmon_device_info" in wide and "ifHCInOctets" in wide
    names = [n for n, _ in runs]
    assert names[-len(wide) :] == [n for n in names if n in wide]  # joined apart, at the end


def test_device_info_labels_are_memoised_until_sys_name_changes() -> None:
    sched, fb = snapshot({"d1": device_data({1: "Gi0/1"})})
    states = list(sched.states.values())

    def info() -> LabelSet:
        return next(f for f in fb.families(states) if f.name == "netmon_device_info").samples[0][0]

    first = info()
    assert info() is first and dict(first.pairs)["sys_name"] == "router"
    last = states[0].last
    assert last is not None
    last.system["sysName"] = "core-2"  # the device was renamed: the next poll says so
    assert dict(info().pairs)["sys_name"] == "core-2"
