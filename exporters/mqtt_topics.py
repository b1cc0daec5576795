"""What the MQTT publisher sends where: topic names (percent-encoded segments) and the JSON of
the retained device and link states (``exporters/mqtt.py`` publishes them)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlsplit

from netmon.errors import ConfigError
from netmon.state.model import DeviceView, LinkView, Place


def parse_mqtt_url(url: str) -> tuple[bool, str, int]:
    """``mqtt://HOST[:PORT]`` or ``mqtts://HOST[:PORT]`` -> (tls, host, port)."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise ConfigError(f"not an MQTT URL: {url!r} (write mqtt://HOST:PORT or mqtts://...)")
    if parts.username or parts.password:
        raise ConfigError("put MQTT credentials in --mqtt-username/--mqtt-password references")
    tls = parts.scheme == "mqtts"
    try:
        port = parts.port or (8883 if tls else 1883)
    except ValueError as exc:
        raise ConfigError(f"not an MQTT URL: {url!r}: {exc}") from exc
    return tls, parts.hostname, port


def segment(text: str) -> str:
    """One topic level: MQTT's separators and wildcards percent-encoded."""
    return quote(text, safe=":-._~@=,;!$&'()*")


def device_base(prefix: str, place: Place) -> str:
    return f"{prefix}/{segment(place.province_code)}/{segment(place.site)}/{segment(place.device)}"


def link_device(link: str) -> str:
    """The downstream ("from") device of an inventory link name ``dev:if--dev:if``."""
    return link.split(":", 1)[0]


def _place_json(place: Place) -> dict[str, Any]:
    return {
        "device": place.device,
        "site": place.site,
        "site_kind": place.site_kind,
        "province_code": place.province_code,
        "province": place.province,
        "region": place.region,
        "name_th": place.name_th,
        "name_en": place.name_en,
    }


def device_state(view: DeviceView, place: Place) -> tuple[dict[str, Any], str]:
    """The retained device payload and its key (what matters: not timestamps or evidence)."""
    payload = {
        "status": view.status.value,
        "since": round(view.since, 3),
        "causes": list(view.causes),
        "cause_status": view.cause_status.value if view.cause_status else None,
        "window": view.window,
        "reason": view.reason.value,
        "evidence": view.evidence,
        **_place_json(place),
    }
    key = f"{view.status.value}|{','.join(view.causes)}|{view.cause_status}|{view.window}"
    return payload, key


def link_state(view: LinkView, place: Place) -> tuple[dict[str, Any], str]:
    payload = {
        "link": view.name,
        "status": view.status.value,
        "since": round(view.since, 3),
        "causes": list(view.causes),
        "flaps": view.flaps,
        "flapping": view.flapping,
        **_place_json(place),
    }
    return payload, f"{view.status.value}|{','.join(view.causes)}|{view.flapping}"


def encode(payload: Mapping[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
