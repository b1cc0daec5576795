"""The routing file (inventory/alerting.yaml): strict checks with file:line:column, and the
Alertmanager config generated from it (checked by the real amtool)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from netmon.alerting.alertmanager import build_config, render_config
from netmon.alerting.routing import Timing, check_routing_text, load_routing
from netmon.cli import main
from netmon.errors import InventoryError
from netmon.inventory.loader import load_inventory
from netmon.inventory.model import Inventory

REPO = Path(__file__).resolve().parents[2]
CASES = Path(__file__).parent / "inventory_cases"
AMTOOL = "/usr/bin/amtool"

SMALL = """\
smtp: {smarthost: "127.0.0.1:2525", from: netmon@noc.netmon.invalid, require_tls: false,
       username: netmon, password: file:/etc/netmon/smtp-password}
office_hours:
  intervals:
    - {weekdays: ["monday:friday"], times: ["08:30-16:30"]}
receivers:
  - {name: desk, email: [desk@noc.netmon.invalid]}
  - {name: pager, webhook: [{url: "http://127.0.0.1:9/p", bearer_token: file:/etc/netmon/t}]}
  - {name: cm, email: [cm@noc.netmon.invalid, x@noc.netmon.invalid]}
teams:
  - {name: noc, receiver: desk, after_hours: pager}
  - {name: cm, provinces: ["50"], receiver: cm}
  - {name: north, regions: [north], receiver: desk}
default_team: noc
"""


@pytest.fixture(scope="module")
def inv() -> Inventory:
    return load_inventory(CASES / "_valid")


def problems(text: str, inv: Inventory) -> list[str]:
    routing, found = check_routing_text("alerting.yaml", text, inv)
    assert routing is None
    return [
        f"{p.line}:{p.column}: {p.message}" for p in sorted(found, key=lambda p: (p.line, p.column))
    ]


def amtool_check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [AMTOOL, "check-config", str(path)], capture_output=True, text=True, timeout=60
    )


def test_every_mistake_at_its_line_and_column(inv: Inventory) -> None:
    text = (Path(__file__).parent / "alerting_cases" / "many-mistakes.yaml").read_text()
    assert problems(text, inv) == [
        "2:14: smarthost: 'mail.example' is not host:port",
        "3:9: from: 'netmon' is not an e-mail address",
        "4:13: password: secrets must be references, never the secret itself: "
        "write file:/absolute/path",
        "5:3: unknown key 'require_tsl' (did you mean 'require_tls'?)",
        "8:18: weekdays: 'mon:fri' is not a day or a range of days (monday, monday:friday)",
        "9:14: times: '16:30-08:30': the end is not after the start",
        "10:15: years: '26' is not a year or a range (2026, 2026:2027)",
        "11:7: unknown key 'hours'",
        "15:11: receiver 'desk' is declared twice (first at line 13)",
        "16:15: url: 'ftp://127.0.0.1/x' is not an http:// or https:// URL",
        "18:59: bearer_token: Alertmanager reads its secrets from files, not from netmon's "
        "environment: write file:/absolute/path",
        "19:5: receiver 'empty' has no email and no webhook",
        "23:18: after_hours: unknown receiver 'oncall'",
        "25:22: regions: should be 'central', 'east', 'north', 'northeast', 'south' or 'west', "
        "got 'moon'",
        '26:29: provinces: expected text, got the number 51: write it in quotes: "51"',
        "32:5: unknown key 'recever' (did you mean 'receiver'?)",
        "33:15: default_team: unknown team 'nobody'",
        "35:15: group_wait: 'soon' is not a duration (30s, 5m, 4h)",
    ]


def test_unknown_province_and_a_province_or_region_owned_twice(inv: Inventory) -> None:
    text = SMALL.replace('provinces: ["50"]', 'provinces: ["50", "99"], regions: [north]')
    assert problems(text, inv) == [
        "12:34: provinces: unknown province code '99'",
        "13:29: region north is already routed to team 'cm' (line 12)",
    ]
    text = SMALL.replace("regions: [north]", 'provinces: ["50"]')
    assert problems(text, inv) == [
        "13:31: province 50 is already routed to team 'cm' (line 12)",
    ]


def test_weekday_ranges_follow_alertmanager_week(inv: Inventory) -> None:
    text = SMALL.replace('"monday:friday"', '"monday:sunday"')
    assert problems(text, inv) == [
        "5:18: weekdays: 'monday:sunday': a range runs from Sunday to Saturday "
        '(write e.g. ["monday:saturday", "sunday"])'
    ]


def test_references_need_their_sections(inv: Inventory) -> None:
    text = (
        "receivers:\n"
        "  - {name: desk, email: [d@noc.netmon.invalid]}\n"
        '  - {name: pager, webhook: ["http://127.0.0.1:9/"]}\n'
        "teams:\n"
        "  - {name: noc, receiver: desk, after_hours: pager}\n"
        "default_team: noc\n"
    )
    assert problems(text, inv) == [
        "2:25: email needs the smtp: section (smarthost, from)",
        "5:46: after_hours needs the office_hours: section",
    ]
    assert problems("default_team: x\n", inv) == [
        "1:1: receivers: list at least one",
        "1:1: teams: list at least one",
        "1:15: default_team: unknown team 'x'",
    ]


def test_generated_config_routes_province_then_region_then_default(
    inv: Inventory, tmp_path: Path
) -> None:
    routing, found = check_routing_text("alerting.yaml", SMALL, inv)
    assert routing is not None and not found
    config = build_config(routing, inv)
    route = config["route"]
    assert route["receiver"] == "desk"
    collector, summaries, cm, north, default = route["routes"]
    assert collector["matchers"] == ['alertname=~"CollectorDown|CollectorUnhealthy"']
    assert summaries["group_by"] == ["alertname", "cause_device"]
    assert [r.get("matchers") for r in summaries["routes"]] == [
        ['cause_province_code=~"50"'],
        ['cause_province_code=~"50|51"'],  # the region, from the inventory's provinces
        None,
    ]
    assert cm == {"matchers": ['province_code=~"50"'], "receiver": "cm"}
    assert north == {"matchers": ['province_code=~"50|51"'], "receiver": "desk"}
    # The default team has an after-hours receiver: office vs nights by time interval.
    assert default["routes"] == [
        {"receiver": "desk", "active_time_intervals": ["office-hours"], "continue": True},
        {"receiver": "pager", "mute_time_intervals": ["office-hours"]},
    ]
    assert config["time_intervals"][0]["time_intervals"][0]["location"] == "Asia/Bangkok"
    # Secrets stay files Alertmanager reads; nothing secret is in the config.
    assert config["global"]["smtp_auth_password_file"] == "/etc/netmon/smtp-password"
    pager = next(r for r in config["receivers"] if r["name"] == "pager")
    assert pager["webhook_configs"][0]["http_config"] == {
        "authorization": {"credentials_file": "/etc/netmon/t"}
    }
    cm_rec = next(r for r in config["receivers"] if r["name"] == "cm")
    assert cm_rec["email_configs"][0]["to"] == "cm@noc.netmon.invalid, x@noc.netmon.invalid"
    fast = Timing.override(routing.timing, group_wait="1s", repeat_interval="1m")
    text = render_config(routing, inv, fast)
    assert yaml.safe_load(text)["route"]["group_wait"] == "1s"
    out = tmp_path / "am.yml"
    out.write_text(text)
    result = amtool_check(out)
    assert result.returncode == 0, result.stdout + result.stderr


def test_shipped_routing_and_config_amtool_and_regeneration(tmp_path: Path) -> None:
    shipped = REPO / "deploy" / "alertmanager" / "alertmanager.yml"
    result = amtool_check(shipped)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "5 inhibit rules" in result.stdout
    out = tmp_path / "alertmanager.yml"
    assert main(["alerts", "alertmanager", "--out", str(out)]) == 0
    assert out.read_text() == shipped.read_text(), "regenerate deploy/alertmanager/alertmanager.yml"
    routing = load_routing(REPO / "inventory" / "alerting.yaml", load_inventory(REPO / "inventory"))
    assert {t.name for t in routing.teams} >= {"noc", "chiang-mai", "north"}


def test_alertmanager_command_reports_problems(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "alerting.yaml"
    bad.write_text("receivers: []\n")
    rc = main(
        [
            "alerts",
            "alertmanager",
            "--inventory",
            str(CASES / "_valid"),
            "--routing",
            str(bad),
            "--out",
            str(tmp_path / "x.yml"),
        ]
    )
    assert rc == 1
    assert f"{bad}:1:12: receivers: list at least one" in capsys.readouterr().err
    assert not (tmp_path / "x.yml").exists()
    with pytest.raises(InventoryError):
        load_routing(bad, load_inventory(CASES / "_valid"))


def test_inventory_check_also_checks_maintenance_and_routing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    root = tmp_path / "inv"
    shutil.copytree(CASES / "_valid", root)
    (root / "alerting.yaml").write_text(SMALL)
    (root / "maintenance.yaml").write_text("windows: []\n")
    # secret references are resolved too: --no-secrets, the inventory's env is not set here
    assert main(["inventory", "check", "--no-secrets", str(root)]) == 0
    out = capsys.readouterr().out
    assert "maintenance.yaml OK: 0 maintenance windows" in out
    assert "alerting.yaml OK: 3 teams, 3 receivers" in out
    (root / "alerting.yaml").write_text(SMALL.replace("default_team: noc", "default_team: nope"))
    (root / "maintenance.yaml").write_text("windows: [{name: x}]\n")
    assert main(["inventory", "check", "--no-secrets", str(root)]) == 1
    out = capsys.readouterr().out
    assert "alerting.yaml:14:15: default_team: unknown team 'nope'" in out
    assert "maintenance.yaml:1:11: missing key 'scope'" in out
