"""The NOC wall page, served by ``netmon run`` itself (no Grafana, no Prometheus between).

- ``/noc``         the page: one self-contained HTML file shipped in the package
                   (``exporters/noc/wall.html``; inline CSS and JS, no CDN, works offline)
- ``/noc/data``    the map and every state as JSON (``exporters/noc_data.py``)
- ``/noc/events``  the live feed: Server-Sent Events from the state engine's bus
                   (``exporters/sse.py``)

The Grafana links point at ``NETMON_GRAFANA_URL`` (default ``netmon.links``' local Grafana).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from importlib import resources

from collector.model import DeviceState
from exporters.http import Route, Stream
from exporters.noc_data import NocData, enrich
from exporters.sse import KEEPALIVE, SseHub
from netmon.inventory.model import Inventory
from netmon.links import DEFAULT_GRAFANA_URL
from netmon.state.engine import StateEngine

PAGE = "/noc"
DATA = "/noc/data"
EVENTS = "/noc/events"
HTML = "text/html; charset=utf-8"
JSON = "application/json; charset=utf-8"


def page_html() -> bytes:
    return resources.files("exporters").joinpath("noc/wall.html").read_bytes()


class NocPage:
    def __init__(
        self,
        engine: StateEngine,
        inventory: Callable[[], Inventory | None],
        states: Callable[[], Mapping[str, DeviceState]] = dict,
        *,
        grafana: str | None = None,
        keepalive: float = KEEPALIVE,
    ) -> None:
        base = grafana or os.environ.get("NETMON_GRAFANA_URL") or DEFAULT_GRAFANA_URL
        self.data = NocData(engine, inventory, states, grafana=base)
        self.hub = SseHub(
            engine.bus, self.data.snapshot, enrich=enrich(engine), keepalive=keepalive
        )
        self._html = page_html()  # read once: a broken install fails at start, not on a wall

    def routes(self) -> dict[str, Route]:
        return {
            PAGE: (lambda: self._html, HTML),
            DATA: (self.render_data, JSON),
        }

    def streams(self) -> dict[str, Stream]:
        return {EVENTS: self.hub.handle}

    def render_data(self) -> bytes:
        doc = self.data.document()
        doc["keepalive"] = self.hub.keepalive
        return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()
