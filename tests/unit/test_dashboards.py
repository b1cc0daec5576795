"""The generated dashboards: Grafana's schema, stable files, UIDs, bilingual titles, a
description and a unit on every panel, drill-down links, one rate window."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from netmon import links
from netmon.dashboards.common import DATASOURCE_UID, Windows
from netmon.dashboards.generate import all_dashboards, render, write
from netmon.rate_window import RATE_OFFSET, RATE_WINDOW

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "netmon/dashboards/schema/dashboard.schema.json").read_text())
VALIDATOR = jsonschema.Draft7Validator(SCHEMA)
DASHBOARDS = all_dashboards()
THAI = re.compile(r"[\u0e00-\u0e7f]")


def panels(d: dict[str, Any]) -> list[dict[str, Any]]:
    return list(d["panels"])


def schema_errors(d: dict[str, Any]) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in VALIDATOR.iter_errors(d)]


@pytest.mark.parametrize("uid", links.UIDS)
def test_every_dashboard_validates_against_grafanas_schema(uid: str) -> None:
    assert schema_errors(DASHBOARDS[uid]) == []


@pytest.mark.parametrize(
    "breakage",
    [
        lambda d: d["panels"][0]["gridPos"].update(h="eight"),
        lambda d: d.update(refresh=30),
        lambda d: d["templating"]["list"][0].update(type="dropdown"),
        lambda d: d["panels"][0]["fieldConfig"]["defaults"]["thresholds"].update(mode="relative"),
        lambda d: d.update(graphTooltip=7),
    ],
)
def test_the_schema_rejects_a_broken_dashboard(breakage: Any) -> None:
    broken = copy.deepcopy(DASHBOARDS[links.NATIONAL])
    breakage(broken)
    assert schema_errors(broken)


def test_the_committed_files_are_what_the_generator_writes(tmp_path: Path) -> None:
    for uid, data in DASHBOARDS.items():
        path = ROOT / "dashboards" / f"{uid}.json"
        assert path.read_text(encoding="utf-8") == render(data), (
            f"{path} is stale: run `netmon dashboards generate`"
        )
    first = write(tmp_path)
    again = write(tmp_path)
    assert {a for _, a in first} == {"created"} and {a for _, a in again} == {"unchanged"}


def test_uids_are_the_ones_in_links() -> None:
    assert set(DASHBOARDS) == set(links.UIDS)
    for uid, d in DASHBOARDS.items():
        assert d["uid"] == uid


@pytest.mark.parametrize("uid", links.UIDS)
def test_every_panel_has_bilingual_title_description_unit_and_queries(uid: str) -> None:
    d = DASHBOARDS[uid]
    assert THAI.search(d["title"]) and re.search("[A-Za-z]", d["title"])
    assert d["description"]
    for p in panels(d):
        name = p["title"]
        assert THAI.search(name) and " / " in name, name
        assert len(p.get("description", "")) > 20, name
        assert p["fieldConfig"]["defaults"].get("unit") or p["type"] == "geomap", name
        refs = [t["refId"] for t in p["targets"]]
        assert refs and len(set(refs)) == len(refs) and all(refs), name
        for t in p["targets"]:
            assert t["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, name
            assert t["expr"].strip(), name
    for v in d["templating"]["list"]:
        assert THAI.search(v["label"]), v["name"]
    ds = next(v for v in d["templating"]["list"] if v["name"] == "datasource")
    assert ds["current"]["value"] == DATASOURCE_UID


def _link_targets(d: dict[str, Any]) -> set[str]:
    out = set()
    for p in panels(d):
        for link in p["fieldConfig"]["defaults"].get("links", []):
            m = re.match(r"^/d/([a-z-]+)\?", link["url"])
            assert m, link["url"]
            out.add(m.group(1))
    return out


def test_drill_down_national_province_site_device_link() -> None:
    assert all(uid in links.UIDS for d in DASHBOARDS.values() for uid in _link_targets(d))
    assert {links.PROVINCE, links.SITE, links.LINK} <= _link_targets(DASHBOARDS[links.NATIONAL])
    assert links.SITE in _link_targets(DASHBOARDS[links.PROVINCE])
    assert links.LINK in _link_targets(DASHBOARDS[links.PROVINCE])
    assert links.LINK in _link_targets(DASHBOARDS[links.SITE])
    assert links.SITE in _link_targets(DASHBOARDS[links.LINK])  # an end's device
    assert links.SITE in _link_targets(DASHBOARDS[links.SUPPRESSED])  # the root cause
    # the variables a link sets are the target dashboard's variables
    variables = {uid: {v["name"] for v in d["templating"]["list"]} for uid, d in DASHBOARDS.items()}
    for d in DASHBOARDS.values():
        for p in panels(d):
            for link in p["fieldConfig"]["defaults"].get("links", []):
                uid = link["url"].split("?")[0].rsplit("/", 1)[1]
                for var in re.findall(r"var-([a-z_]+)=", link["url"]):
                    assert var in variables[uid], (uid, var)
                assert "${__url_time_range}" in link["url"]


_WINDOW = re.compile(
    r"\b(rate|increase|irate)\((?:[^()]|\([^()]*\))*?\[([^\]]+)\]( offset [0-9a-z]+)?"
)


def test_every_rate_uses_the_rate_window_rule() -> None:
    seen = 0
    for d in DASHBOARDS.values():
        for p in panels(d):
            for t in p["targets"]:
                for fn, window, offset in _WINDOW.findall(t["expr"]):
                    seen += 1
                    assert fn != "irate", t["expr"]
                    assert window in (RATE_WINDOW, "24h"), t["expr"]
                    assert offset == f" offset {RATE_OFFSET}" or window == "24h", t["expr"]
                assert "[1m]" not in t["expr"] and "[2m]" not in t["expr"], t["expr"]
    assert seen > 20
    short = all_dashboards(Windows(rate="18s", offset="4s"))
    text = json.dumps(short)
    assert "[18s] offset 4s" in text and f"[{RATE_WINDOW}]" not in text


def test_geomap_has_a_basemap_type_and_coordinates() -> None:
    geo = next(p for p in panels(DASHBOARDS[links.NATIONAL]) if p["type"] == "geomap")
    assert geo["options"]["basemap"]["type"] == "default"
    location = geo["options"]["layers"][0]["location"]
    assert location == {"mode": "coords", "latitude": "lat", "longitude": "lon"}


def test_provisioning_files_point_at_the_generated_dashboards() -> None:
    ds = yaml.safe_load((ROOT / "deploy/grafana/provisioning/datasources/netmon.yaml").read_text())
    (source,) = ds["datasources"]
    assert ds["apiVersion"] == 1 and source["uid"] == DATASOURCE_UID
    assert source["type"] == "prometheus" and source["url"].startswith("http://127.0.0.1:")
    assert source["jsonData"]["timeInterval"] == "60s"
    prov = yaml.safe_load((ROOT / "deploy/grafana/provisioning/dashboards/netmon.yaml").read_text())
    (provider,) = prov["providers"]
    assert prov["apiVersion"] == 1 and provider["type"] == "file"
    assert provider["folderUid"] == "netmon" and provider["options"]["path"]
