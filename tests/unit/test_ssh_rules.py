"""`promtool test rules` for the SSH rules (deploy/prometheus/rules/netmon-ssh.yml): each
alert fires after its `for:` and not before, the optic warning gives way to the alarm, no light
(a link that is down) and devices that are not up never page, and the shipped file is exactly
what netmon/alerting/rules_ssh.py writes."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml
from support.promtool import PROMTOOL, RULES, device_state, info, place, render, series

from netmon.alerting.promql import RulesContext
from netmon.alerting.rules_ssh import FILE, write_ssh_rules

EDGE = place("d5005-edge1", "5005")
DOWN = place("d5006-edge1", "5006")
ROS = place("d5008-edge1", "5008")
NAMES = {"name_en": "Doi Saket", "name_th": "ดอยสะเก็ด"}
LINK = "d5005-edge1:GigabitEthernet0/0/0--p50-dist1:GE1/0/4"
PORT = {"interface": "GigabitEthernet0/0/0", "link": LINK}


def rules() -> dict[str, dict[str, Any]]:
    doc = yaml.safe_load((RULES / FILE).read_text(encoding="utf-8"))
    return {r["alert"]: r for g in doc["groups"] for r in g["rules"]}


def expect(alert: str, labels: dict[str, str], value: float) -> dict[str, Any]:
    rule = rules()[alert]
    full = {**labels, **NAMES, **rule["labels"]}
    ann = {
        k: render(v, {**full, "alertname": alert}, value) for k, v in rule["annotations"].items()
    }
    return {"exp_labels": full, "exp_annotations": ann}


def run(tmp: Path, series_: list[dict[str, str]], checks: list[tuple[str, str, list[Any]]]) -> None:
    doc = {
        "rule_files": [str(RULES / FILE)],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": series_,
                "alert_rule_test": [
                    {"eval_time": t, "alertname": a, "exp_alerts": exp} for t, a, exp in checks
                ],
            }
        ],
    }
    path = tmp / "ssh.test.yml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False))
    out = subprocess.run(
        [PROMTOOL, "test", "rules", str(path)], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stdout + out.stderr


def up(where: dict[str, str]) -> list[dict[str, str]]:
    return [*device_state(where, [("up", 60)]), info(where, NAMES["name_en"], NAMES["name_th"])]


def test_optic_warning_then_alarm_and_never_for_no_light(tmp_path: Path) -> None:
    rx = {**EDGE, **PORT}
    s = [
        *up(EDGE),
        # -7 dBm for 5 m, -15 (below warning) for 20 m, -18 (below alarm) for 10 m, no light
        series("netmon_optics_rx_power_dbm", rx, "-7x4 -15x20 -18x10 -40x20"),
        series("netmon_optics_rx_power_low_warning_threshold_dbm", rx, "-14x60"),
        series("netmon_optics_rx_power_low_alarm_threshold_dbm", rx, "-16x60"),
        # a device that is down, and a RouterOS one without thresholds: never
        *device_state(DOWN, [("down", 60)]),
        series("netmon_optics_rx_power_dbm", {**DOWN, **PORT}, "-30x60"),
        series("netmon_optics_rx_power_low_warning_threshold_dbm", {**DOWN, **PORT}, "-14x60"),
        *up(ROS),
        series("netmon_optics_rx_power_dbm", {**ROS, "interface": "sfp1"}, "-30x60"),
    ]
    run(
        tmp_path,
        s,
        [
            ("12m", "OpticRxLow", []),  # below for 7 m only
            ("17m", "OpticRxLow", [expect("OpticRxLow", rx, -15)]),
            ("17m", "OpticRxCritical", []),
            ("26m", "OpticRxCritical", []),  # below alarm for 1 m only
            ("29m", "OpticRxCritical", [expect("OpticRxCritical", rx, -18)]),
            ("29m", "OpticRxLow", []),  # the alarm replaces the warning
            ("45m", "OpticRxCritical", []),  # no light: the link's own alerts page
            ("45m", "OpticRxLow", []),
        ],
    )


def test_neighbours_down_cabling_and_ssh_health(tmp_path: Path) -> None:
    bgp = {**EDGE, "neighbor": "10.64.1.1", "remote_as": "65000"}
    ospf = {**EDGE, **PORT, "neighbor_id": "10.255.50.2"}
    mm = {
        **EDGE,
        **PORT,
        "kind": "wrong_port",
        "expected_device": "p50-dist1",
        "expected_port": "GE1/0/4",
        "seen_device": "p50-dist1",
        "seen_port": "GE1/0/9",
    }
    bad = {**EDGE, "command": "optics"}
    s = [
        *up(EDGE),
        series("netmon_bgp_neighbor_up", bgp, "1x5 0x30"),
        series("netmon_ospf_neighbor_up", ospf, "1x5 0x30"),
        series("netmon_cabling_mismatch", mm, "1x40"),
        series("netmon_ssh_up", EDGE, "1x5 0x30"),
        series("netmon_ssh_unparseable_total", bad, "0x5 1 2 2x20"),
    ]
    run(
        tmp_path,
        s,
        [
            ("9m", "BgpNeighborDown", []),
            ("12m", "BgpNeighborDown", [expect("BgpNeighborDown", bgp, 0)]),
            ("9m", "OspfNeighborDown", []),
            ("12m", "OspfNeighborDown", [expect("OspfNeighborDown", ospf, 0)]),
            ("8m", "CablingMismatch", []),
            ("12m", "CablingMismatch", [expect("CablingMismatch", mm, 1)]),
            ("15m", "SshCollectionFailing", []),
            ("22m", "SshCollectionFailing", [expect("SshCollectionFailing", EDGE, 0)]),
            ("4m", "SshOutputUnparseable", []),
            ("8m", "SshOutputUnparseable", [expect("SshOutputUnparseable", bad, 2)]),
        ],
    )


def test_the_shipped_file_is_what_the_generator_writes(tmp_path: Path) -> None:
    written = write_ssh_rules(RulesContext(), tmp_path)
    assert written.read_text(encoding="utf-8") == (RULES / FILE).read_text(encoding="utf-8")
    check = subprocess.run(
        [PROMTOOL, "check", "rules", str(RULES / FILE)], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
