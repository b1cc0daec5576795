"""The NOC wall page's data (``/noc/data``, the SSE snapshot, events as the page gets them) on
the hand-built backbone of tests/support/backbones.py: c1, c2 at the centre; hub 50 (p1
dual-homed to c1 and c2, s1 behind p1); districts 5001 (e1) and 5002 (e2) behind s1; hub 51
(p2 behind c2) with district 5101 (e3 behind p2)."""

from __future__ import annotations

import json
import re

from support.backbones import backbone
from support.collector_lab import target

from collector.model import DeviceState, InterfaceTable, PollResult
from exporters.noc_data import NocData, convex_hull, enrich
from exporters.noc_page import NocPage, page_html
from netmon.inventory.model import Inventory
from netmon.state.engine import StateEngine
from netmon.state.model import Cause, Event

ALL = ("c1", "c2", "p1", "s1", "e1", "e2", "p2", "e3")
# Built once: backbones.dev() draws addresses from one iterator shared by every test module.
BACKBONE = backbone()


class Lab:
    def __init__(self) -> None:
        self.now = 1_000_000.0
        self.engine = StateEngine(clock=lambda: self.now, confirm_timeout=5.0)
        self.inv: Inventory | None = BACKBONE
        self.engine.set_inventory(self.inv)
        self.states: dict[str, DeviceState] = {}
        self.data = NocData(
            self.engine,
            lambda: self.inv,
            lambda: self.states,
            grafana="http://grafana.example:3000",
            clock=lambda: self.now,
        )
        self.events: list[Event] = []
        self.engine.bus.listen(self.events.append)

    def see(self, device: str, answered: bool) -> None:
        self.engine.observe(device, answered, Cause.PROBE, "test")

    def all_up(self) -> None:
        for n in ALL:
            self.see(n, True)

    def hub_51_down(self) -> None:
        """p2 (hub 51) and e3 behind it stop answering; c2 still answers: p2 is the cause."""
        self.see("e3", False)
        self.see("p2", False)
        self.see("c2", True)


def test_the_document_has_every_site_at_its_coordinates_with_devices_and_grafana_links() -> None:
    lab = Lab()
    doc = lab.data.document()
    assert lab.inv is not None
    assert len(doc["sites"]) == len(lab.inv.sites) == 6
    sites = {s["code"]: s for s in doc["sites"]}
    assert sites["50"]["kind"] == "province" and sites["5001"]["kind"] == "district"
    assert sites["centre"]["kind"] == "centre"
    assert [d["name"] for d in sites["50"]["devices"]] == ["p1", "s1"]
    assert sites["5101"]["province"] == "50" and sites["5101"]["region"] == "north"
    assert (sites["5001"]["lat"], sites["5001"]["lon"]) == (18.0, 99.0)
    assert sites["5001"]["grafana"] == "http://grafana.example:3000/d/netmon-site?var-site=5001"
    assert doc["grafana"] == "http://grafana.example:3000"
    assert {r["code"] for r in doc["regions"]} == {
        "north", "northeast", "central", "east", "west", "south"
    }  # fmt: skip
    assert next(r for r in doc["regions"] if r["code"] == "north")["name_th"] == "ภาคเหนือ"
    # every device of the inventory, unknown before anything was heard
    assert set(doc["devices"]) == set(ALL)
    assert {d["status"] for d in doc["devices"].values()} == {"unknown"}
    json.dumps(doc)  # serialisable as is


def test_links_join_the_sites_of_their_two_ends() -> None:
    lab = Lab()
    links = {(x["a_device"], x["b_device"]): x for x in lab.data.document()["links"]}
    assert len(links) == 8
    e1_up = links[("e1", "s1")]
    assert (e1_up["a_site"], e1_up["b_site"], e1_up["kind"]) == ("5001", "50", "uplink")
    assert links[("e1", "p1")]["kind"] == "backup"
    assert links[("p1", "c1")]["b_site"] == "centre"
    assert links[("s1", "p1")]["a_site"] == links[("s1", "p1")]["b_site"] == "50"  # in-site
    assert e1_up["speed"] == 10**9 and e1_up["status"] == "unknown"
    assert e1_up["rx_bps"] is None and e1_up["tx_bps"] is None  # nothing polled yet


def test_statuses_and_root_causes_come_from_the_state_engine() -> None:
    lab = Lab()
    lab.all_up()
    lab.now += 10
    lab.hub_51_down()
    devices = lab.data.document()["devices"]
    assert devices["p2"]["status"] == "down" and devices["p2"]["since"] == lab.now
    assert devices["e3"]["status"] == "unreachable"
    assert devices["e3"]["causes"] == ["p2"] and devices["e3"]["cause_status"] == "down"
    assert all(devices[n]["status"] == "up" for n in ALL if n not in ("p2", "e3"))
    # the snapshot an event stream starts with says the same
    snap = lab.data.snapshot()
    assert snap["devices"] == devices  # the same fields (no scheduler records in this lab)
    assert snap["version"] == lab.data.document()["version"]
    assert snap["time"] == lab.now
    # the hub's uplink is dark: its end device is the cause
    dark = [x for x in lab.data.document()["links"] if x["status"] == "dark"]
    assert {(x["a_device"], x["b_device"]) for x in dark} == {("p2", "c2"), ("e3", "p2")}


def test_last_polls_and_link_rates_come_from_the_scheduler_records() -> None:
    lab = Lab()
    st = DeviceState(target=target("e1"))
    st.last_poll, st.last_success = lab.now - 3, lab.now - 3
    st.last = PollResult(
        ok=True,
        interfaces=InterfaceTable(
            indexes=["1", "2"],
            labels={"1": {"ifName": "to-s1"}, "2": {"ifName": "to-p1"}},
            values={},
            cached={},
        ),
        rates={"1": (2.5e8, 1.0e8), "2": (None, None)},
    )
    s1 = DeviceState(target=target("s1"))
    s1.last = PollResult(
        ok=True,
        interfaces=InterfaceTable(["7"], {"7": {"ifName": "to-e2"}}, {}, {}),
        rates={"7": (3.0e6, 4.0e6)},  # the b-end of e2's uplink: e2 has no reading of its own
    )
    lab.states = {"e1": st, "s1": s1}
    doc = lab.data.document()
    assert doc["devices"]["e1"]["last_poll"] == lab.now - 3
    assert doc["devices"]["e2"].get("last_poll") is None
    links = {(x["a_device"], x["b_device"]): x for x in doc["links"]}
    assert (links[("e1", "s1")]["rx_bps"], links[("e1", "s1")]["tx_bps"]) == (2.5e8, 1.0e8)
    assert links[("e1", "p1")]["rx_bps"] is None
    # seen from the a-end (e2): what s1 transmits, e2 receives
    assert (links[("e2", "s1")]["rx_bps"], links[("e2", "s1")]["tx_bps"]) == (4.0e6, 3.0e6)


def test_the_map_is_built_once_per_inventory_and_its_version_follows_the_inventory() -> None:
    lab = Lab()
    first = lab.data.document()
    assert lab.data.document()["sites"] is first["sites"]  # the same loaded inventory: cached
    again = BACKBONE.model_copy()  # a reload with the same content: another object
    lab.inv = again
    lab.engine.set_inventory(again)
    assert lab.data.document()["version"] == first["version"]
    from support.backbones import SiteKind, dev, site, up

    bigger = backbone([site("5003", SiteKind.district, [dev("e9")], [up("e9", "s1")])])
    lab.inv = bigger
    lab.engine.set_inventory(bigger)
    doc = lab.data.document()
    assert doc["version"] != first["version"] and len(doc["sites"]) == 7
    assert "e9" in doc["devices"]


def test_no_inventory_yet_gives_an_empty_map() -> None:
    lab = Lab()
    lab.inv = None
    doc = lab.data.document()
    assert doc["sites"] == [] and doc["devices"] == {} and doc["version"] == ""


def test_province_outlines_are_the_hulls_of_their_sites() -> None:
    square = [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0), (0.5, 0.5), (1.0, 0.5)]
    assert convex_hull(square) == [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)]
    assert convex_hull([(1.0, 2.0), (1.0, 2.0)]) == [(1.0, 2.0)]
    assert convex_hull([]) == []
    lab = Lab()
    prov = lab.data.document()["provinces"]
    assert [p["code"] for p in prov] == ["50"]
    assert prov[0]["hull"] == [[99.0, 18.0]]  # every test site sits on one point


def test_device_events_carry_all_their_root_causes() -> None:
    lab = Lab()
    lab.all_up()
    lab.events.clear()
    lab.hub_51_down()
    one = enrich(lab.engine)
    dark = next(e for e in lab.events if e.subject == "e3")
    doc = one(dark)
    assert doc["current"] == "unreachable" and doc["causes"] == ["p2"]
    assert doc["site"] == "5101" and doc["name_en"] == "T" and doc["id"] == dark.id
    # an event overtaken by a newer state keeps what it said itself
    lab.see("p2", True)
    lab.see("e3", True)
    assert one(dark)["causes"] == ["p2"]


def test_the_page_is_self_contained_and_its_data_route_is_json() -> None:
    html = page_html().decode()
    assert "<script>" in html and "<style>" in html
    # nothing fetched from elsewhere: no external scripts, styles, fonts or images
    assert not re.search(r"<script[^>]+src=|<link[^>]+stylesheet|@import|url\(", html)
    assert not re.search(r"(src|href)=\"https?://", html)
    lab = Lab()
    page = NocPage(lab.engine, lambda: lab.inv, lambda: lab.states, grafana="http://g:3000")
    routes = page.routes()
    body, ctype = routes["/noc"]
    assert body() == page_html() and ctype.startswith("text/html")
    make, ctype = routes["/noc/data"]
    doc = json.loads(make())
    assert ctype.startswith("application/json")
    assert doc["keepalive"] == page.hub.keepalive and len(doc["sites"]) == 6
    assert set(page.streams()) == {"/noc/events"}
