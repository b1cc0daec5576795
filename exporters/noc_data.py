"""The NOC wall page's data: ``/noc/data`` (the whole map) and the SSE snapshot.

Everything comes from what netmon already holds: the inventory (sites, coordinates, links),
the state engine (each device's and link's state with its root causes) and the scheduler's
device records (last poll, link rates). Nothing is computed twice: statuses are the engine's,
site colours are derived from them on the page.

The map part that only changes with the inventory (sites, links, province outlines) is built
once per loaded inventory.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from collector.model import DeviceState
from netmon.inventory.model import Inventory, Region
from netmon.links import DEFAULT_GRAFANA_URL, SITE, dashboard_url
from netmon.state.engine import StateEngine
from netmon.state.model import Event

REGION_NAMES: dict[Region, tuple[str, str]] = {
    Region.north: ("ภาคเหนือ", "North"),
    Region.northeast: ("ภาคตะวันออกเฉียงเหนือ", "Northeast"),
    Region.central: ("ภาคกลาง", "Central"),
    Region.east: ("ภาคตะวันออก", "East"),
    Region.west: ("ภาคตะวันตก", "West"),
    Region.south: ("ภาคใต้", "South"),
}

Point = tuple[float, float]


def convex_hull(points: list[Point]) -> list[Point]:
    """Andrew's monotone chain; counter-clockwise, no repeated first point. A province's
    outline is drawn as the hull of its sites: no boundary data set with a licence we can
    ship is installed here, and the hull shows where a province's sites are."""
    pts = sorted(set(points))
    if len(pts) <= 2:
        return pts

    def cross(o: Point, a: Point, b: Point) -> float:
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    lower: list[Point] = []
    for p in pts:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    upper: list[Point] = []
    for p in reversed(pts):
        while len(upper) >= 2 and cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    return lower[:-1] + upper[:-1]


@dataclass(frozen=True)
class _Map:
    inventory: Inventory
    version: str
    doc: dict[str, Any]  # regions, provinces, sites, links (no state)
    site_of: dict[str, str]  # device -> site code
    ends: dict[tuple[str, str], tuple[str, bool]]  # (device, interface) -> (link, is a-end)


def _build_map(inv: Inventory, grafana: str) -> _Map:
    site_of: dict[str, str] = {}
    sites: list[dict[str, Any]] = []
    by_province: dict[str, list[Point]] = {}
    for ps in inv.sites:
        s, prov = ps.site, ps.province
        for d in s.devices:
            site_of[d.name] = s.code
        by_province.setdefault(prov.code, []).append((s.lon, s.lat))
        sites.append(
            {
                "code": s.code,
                "kind": s.kind.value,
                "name_th": s.name_th,
                "name_en": s.name_en,
                "lat": s.lat,
                "lon": s.lon,
                "province": prov.code,
                "region": prov.region.value,
                "devices": [
                    {"name": d.name, "role": d.role.value, "platform": d.platform.value}
                    for d in s.devices
                ],
                "grafana": dashboard_url(SITE, grafana, site=s.code),
            }
        )
    links: list[dict[str, Any]] = []
    ends: dict[tuple[str, str], tuple[str, bool]] = {}
    for _, link in inv.links():
        a_site, b_site = site_of.get(link.a.device), site_of.get(link.b.device)
        if a_site is None or b_site is None:
            continue
        ends[(link.a.device, link.a.interface)] = (link.name, True)
        ends[(link.b.device, link.b.interface)] = (link.name, False)
        links.append(
            {
                "name": link.name,
                "kind": link.kind.value,
                "a_site": a_site,
                "b_site": b_site,
                "a_device": link.a.device,
                "a_interface": link.a.interface,
                "b_device": link.b.device,
                "b_interface": link.b.interface,
                "speed": int(link.speed),
            }
        )
    provinces = [
        {
            "code": p.code,
            "name_th": p.name_th,
            "name_en": p.name_en,
            "region": p.region.value,
            "hull": [
                [round(x, 4), round(y, 4)] for x, y in convex_hull(by_province.get(p.code, []))
            ],
        }
        for p in inv.provinces
    ]
    regions = [
        {"code": r.value, "name_th": th, "name_en": en} for r, (th, en) in REGION_NAMES.items()
    ]
    key = "|".join(f"{s['code']}:{','.join(d['name'] for d in s['devices'])}" for s in sites)
    key += "|" + "|".join(link["name"] for link in links)
    version = hashlib.blake2b(key.encode(), digest_size=8).hexdigest()
    doc = {"regions": regions, "provinces": provinces, "sites": sites, "links": links}
    return _Map(inv, version, doc, site_of, ends)


class NocData:
    """Builds the page's documents from the running service's parts (read in the loop)."""

    def __init__(
        self,
        engine: StateEngine,
        inventory: Callable[[], Inventory | None],
        states: Callable[[], Mapping[str, DeviceState]] = dict,
        *,
        grafana: str = DEFAULT_GRAFANA_URL,
        clock: Callable[[], float] | None = None,
    ) -> None:
        import time

        self._engine = engine
        self._inventory = inventory
        self._states = states
        self._grafana = grafana
        self._clock = clock or time.time
        self._map: _Map | None = None

    def _current_map(self) -> _Map | None:
        inv = self._inventory()
        if inv is None:
            return None
        if self._map is None or self._map.inventory is not inv:
            self._map = _build_map(inv, self._grafana)
        return self._map

    def device_states(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for name, v in self._engine.views().items():
            out[name] = {
                "status": v.status.value,
                "since": round(v.since, 3),
                "causes": list(v.causes),
                "cause_status": v.cause_status.value if v.cause_status else None,
                "window": v.window,
                "evidence": v.evidence,
            }
        return out

    def link_states(self) -> dict[str, dict[str, Any]]:
        return {
            name: {"status": lv.status.value, "since": round(lv.since, 3), "flapping": lv.flapping}
            for name, lv in self._engine.links().items()
        }

    def snapshot(self) -> dict[str, Any]:
        """The state part alone: what an event stream starts with."""
        m = self._current_map()
        return {
            "time": round(self._clock(), 3),
            "version": m.version if m else "",
            "devices": self.device_states(),
            "links": self.link_states(),
        }

    def document(self) -> dict[str, Any]:
        """``/noc/data``: the map, every state, last polls and link utilisation."""
        m = self._current_map()
        doc: dict[str, Any] = {
            "time": round(self._clock(), 3),
            "version": m.version if m else "",
            "grafana": self._grafana,
        }
        if m is None:
            return {**doc, "regions": [], "provinces": [], "sites": [], "links": [], "devices": {}}
        devices = self.device_states()
        link_states = self.link_states()
        rates: dict[str, tuple[float | None, float | None]] = {}
        for name, st in self._states().items():
            dev = devices.get(name)
            if dev is not None:
                dev["last_poll"] = round(st.last_poll, 3) if st.last_poll else None
                dev["last_success"] = round(st.last_success, 3) if st.last_success else None
            self._link_rates(name, st, m, rates)
        links = []
        for link in m.doc["links"]:
            state = link_states.get(link["name"], {"status": "unknown", "since": 0})
            rx, tx = rates.get(link["name"], (None, None))
            links.append({**link, **state, "rx_bps": rx, "tx_bps": tx})
        return {**doc, **m.doc, "links": links, "devices": devices}

    @staticmethod
    def _link_rates(
        device: str,
        st: DeviceState,
        m: _Map,
        out: dict[str, tuple[float | None, float | None]],
    ) -> None:
        """Bits/s on each link, as the a-end (the downstream device) sees them; the b-end's
        reading (rx and tx swapped) when the a-end has none."""
        last = st.last
        if last is None or last.interfaces is None or not last.rates:
            return
        for index, (rx, tx) in last.rates.items():
            ifname = last.interfaces.labels.get(index, {}).get("ifName", "")
            end = m.ends.get((device, ifname))
            if end is None:
                continue
            name, is_a = end
            if is_a:
                out[name] = (rx, tx)
            elif name not in out:
                out[name] = (tx, rx)


def enrich(engine: StateEngine) -> Callable[[Event], dict[str, Any]]:
    """An event as the page wants it: ``Event.to_json()`` plus the device's root causes
    now (all of them; the event names the primary one only)."""

    def one(ev: Event) -> dict[str, Any]:
        doc = ev.to_json()
        if ev.kind == "device":
            view = engine.views().get(ev.subject)
            if view is not None and view.status.value == ev.current:
                doc["causes"] = list(view.causes)
                doc["window"] = view.window
            else:
                doc["causes"] = [ev.cause_device] if ev.cause_device else []
        return doc

    return one
