"""Build every dashboard and write them as ``dashboards/<uid>.json`` (stable, sorted keys)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from netmon import links
from netmon.dashboards.collector import collector
from netmon.dashboards.common import Windows
from netmon.dashboards.device import link, site
from netmon.dashboards.overview import national, province, suppressed

BUILDERS: dict[str, Callable[[Windows], dict[str, Any]]] = {
    links.NATIONAL: national,
    links.PROVINCE: province,
    links.SITE: site,
    links.LINK: link,
    links.COLLECTOR: collector,
    links.SUPPRESSED: suppressed,
}
DEFAULT_DIR = Path(__file__).resolve().parents[2] / "dashboards"


def all_dashboards(windows: Windows | None = None) -> dict[str, dict[str, Any]]:
    w = windows or Windows()
    out = {}
    for uid, builder in BUILDERS.items():
        data = builder(w)
        if data.get("uid") != uid:
            raise AssertionError(f"{builder.__name__} built uid {data.get('uid')!r}, not {uid!r}")
        out[uid] = data
    return out


def render(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def write(directory: Path = DEFAULT_DIR, windows: Windows | None = None) -> list[tuple[Path, str]]:
    """Write every dashboard; returns (path, "created" | "updated" | "unchanged")."""
    directory.mkdir(parents=True, exist_ok=True)
    report = []
    for uid, data in all_dashboards(windows).items():
        path = directory / f"{uid}.json"
        text = render(data)
        old = path.read_text(encoding="utf-8") if path.exists() else None
        if old != text:
            path.write_text(text, encoding="utf-8")
        report.append(
            (path, "unchanged" if old == text else "created" if old is None else "updated")
        )
    return report
