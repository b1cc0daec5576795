"""``/api/state``: the state engine's views as JSON, for ``netmon alerts explain``, the NOC
page and the demo. One document, rendered from the in-memory views (no I/O)."""

from __future__ import annotations

import json
import time
from typing import Any

from netmon.state.engine import StateEngine


def state_document(engine: StateEngine) -> dict[str, Any]:
    devices: list[dict[str, Any]] = []
    for name, view in sorted(engine.views().items()):
        p = engine.place(name)
        devices.append(
            {
                "device": name,
                "status": view.status.value,
                "since": round(view.since, 3),
                "causes": list(view.causes),
                "cause_status": view.cause_status.value if view.cause_status else None,
                "window": view.window,
                "reason": view.reason.value,
                "evidence": view.evidence,
                "site": p.site,
                "site_kind": p.site_kind,
                "province_code": p.province_code,
                "province": p.province,
                "region": p.region,
                "name_th": p.name_th,
                "name_en": p.name_en,
            }
        )
    links: list[dict[str, Any]] = []
    for name, lv in sorted(engine.links().items()):
        info = engine.link_info(name)
        links.append(
            {
                "link": name,
                "status": lv.status.value,
                "since": round(lv.since, 3),
                "causes": list(lv.causes),
                "flaps": lv.flaps,
                "flapping": lv.flapping,
                "kind": info.kind.value,
                "a_device": info.a_device,
                "a_interface": info.a_interface,
                "b_device": info.b_device,
                "b_interface": info.b_interface,
                "speed": info.speed,
            }
        )
    return {"time": round(time.time(), 3), "devices": devices, "links": links}


def state_json(engine: StateEngine) -> bytes:
    return json.dumps(state_document(engine), ensure_ascii=False).encode()
