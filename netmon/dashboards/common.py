"""Shared pieces of the generated dashboards: the data source, queries, bilingual titles,
state colours, drill-down links and a simple grid layout, over grafana-foundation-sdk."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import prometheus
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.models import dashboard as dm
from grafana_foundation_sdk.models.common import (
    BigValueColorMode,
    BigValueGraphMode,
    GraphThresholdsStyleMode,
)
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

from netmon import links
from netmon.rate_window import RATE_OFFSET, RATE_WINDOW

DATASOURCE_UID = "netmon-prometheus"  # deploy/grafana/provisioning/datasources/netmon.yaml
DS = dm.DataSourceRef(type_val="prometheus", uid="${datasource}")
FOLDER = "netmon"
TAGS = ["netmon"]

# Device states (netmon/state) as one number per device, so a site can take its worst device:
# unknown 0 < up 1 < maintenance 2 < unreachable 3 < down 4.
STATE_CODES = (("unknown", 0), ("up", 1), ("maintenance", 2), ("unreachable", 3), ("down", 4))
STATE_COLOURS = {
    "unknown": "#8e8e8e",
    "up": "green",
    "maintenance": "blue",
    "unreachable": "orange",
    "down": "red",
}
STATE_TEXT = {
    "unknown": "ไม่ทราบ / unknown",
    "up": "ปกติ / up",
    "maintenance": "ซ่อมบำรุง / maintenance",
    "unreachable": "เข้าไม่ถึง / unreachable",
    "down": "ล่ม / down",
}


@dataclass(frozen=True)
class Windows:
    """Windows the queries use, by the rule of netmon/rate_window.py."""

    rate: str = RATE_WINDOW
    offset: str = RATE_OFFSET
    step: str = "1m"  # resolution of a percentile over the time range (a subquery step)

    @property
    def range(self) -> str:
        """What follows a counter selector inside ``rate()``: ``[5m] offset 1m``."""
        return f"[{self.rate}] offset {self.offset}"


def device_state_code(selector: str = "") -> str:
    """PromQL: each device's state as its STATE_CODES number (labels of netmon_device_state
    without ``state``)."""
    parts = [
        f'{code} * netmon_device_state{{state="{name}"{"," + selector if selector else ""}}}'
        for name, code in STATE_CODES
    ]
    return "sum without (state) (" + " or ".join(parts) + ")"


def state_mappings() -> list[dm.ValueMapping]:
    return [
        dm.ValueMap(
            options={
                str(code): dm.ValueMappingResult(
                    text=STATE_TEXT[name], color=STATE_COLOURS[name], index=code
                )
                for name, code in STATE_CODES
            }
        )
    ]


def state_name_mappings() -> list[dm.ValueMapping]:
    """For a ``state`` label shown as text (tables)."""
    return [
        dm.ValueMap(
            options={
                name: dm.ValueMappingResult(text=STATE_TEXT[name], color=STATE_COLOURS[name])
                for name, _ in STATE_CODES
            }
        )
    ]


def state_thresholds() -> db.ThresholdsConfig:
    steps: list[tuple[float | None, str]] = [(None, STATE_COLOURS["unknown"])]
    steps += [(float(code), STATE_COLOURS[name]) for name, code in STATE_CODES[1:]]
    return thresholds(steps)


def thresholds(steps: Sequence[tuple[float | None, str]]) -> db.ThresholdsConfig:
    return (
        db.ThresholdsConfig()
        .mode(dm.ThresholdsMode.ABSOLUTE)
        .steps([dm.Threshold(value=v, color=c) for v, c in steps])
    )


UTILISATION_THRESHOLDS = [(None, "green"), (0.7, "yellow"), (0.9, "red")]
ERROR_THRESHOLDS = [(None, "green"), (0.01, "yellow"), (1.0, "red")]  # packets/s


def query(
    expr: str, legend: str = "", *, ref: str = "A", instant: bool = False, table: bool = False
) -> prometheus.Dataquery:
    q = prometheus.Dataquery().expr(expr).ref_id(ref).datasource(DS)
    if legend:
        q = q.legend_format(legend)
    q = q.instant() if instant else q.range()
    if table:
        q = q.format(PromQueryFormat.TABLE)
    return q


def title(thai: str, english: str) -> str:
    return f"{thai} / {english}"


def drill_url(uid: str, **variables: str) -> str:
    """A Grafana data link to another netmon dashboard (netmon/links.py: ``/d/<uid>?var-x=``);
    values may be Grafana interpolations such as ``${__data.fields.site}``; the time range
    travels with it."""
    base = links.dashboard_url(uid, base="")
    parts = [f"var-{k}={v}" for k, v in variables.items()] + ["${__url_time_range}"]
    return base + "?" + "&".join(parts)


def data_link(title_: str, url: str) -> db.DashboardLink:
    return db.DashboardLink(title_).url(url).type(dm.DashboardLinkType.LINK)


def dashboard_links(*uids_titles: tuple[str, str]) -> list[cogbuilder.Builder[dm.DashboardLink]]:
    """Top-of-dashboard links to the other dashboards, keeping time and variables."""
    out: list[cogbuilder.Builder[dm.DashboardLink]] = []
    for uid, text in uids_titles:
        out.append(
            db.DashboardLink(text)
            .type(dm.DashboardLinkType.LINK)
            .url(links.dashboard_url(uid, base=""))
            .include_vars(True)
            .keep_time(True)
            .icon("dashboard")
        )
    return out


class Grid:
    """Places panels left to right, wrapping at Grafana's 24 columns."""

    def __init__(self) -> None:
        self.x = 0
        self.y = 0
        self.row_h = 0

    def place(self, panel: Any, w: int, h: int) -> Any:
        if self.x + w > 24:
            self.x, self.y, self.row_h = 0, self.y + self.row_h, 0
        panel.grid_pos(dm.GridPos(h=h, w=w, x=self.x, y=self.y))
        self.x += w
        self.row_h = max(self.row_h, h)
        return panel


def datasource_variable() -> db.DatasourceVariable:
    return (
        db.DatasourceVariable("datasource")
        .label("แหล่งข้อมูล / Data source")
        .type("prometheus")
        .current(dm.VariableOption(selected=True, text="netmon Prometheus", value=DATASOURCE_UID))
    )


def query_variable(
    name: str, label: str, promql: str, *, include_all: bool = False
) -> db.QueryVariable:
    v = (
        db.QueryVariable(name)
        .label(label)
        .query(promql)
        .datasource(DS)
        .refresh(dm.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(dm.VariableSort.ALPHABETICAL_ASC)
    )
    if include_all:
        v = v.include_all(True).all_value(".*")
    return v


def new_dashboard(uid: str, thai: str, english: str, description: str) -> db.Dashboard:
    return (
        db.Dashboard(title(thai, english))
        .uid(uid)
        .description(description)
        .tags(TAGS)
        .refresh("30s")
        .time("now-6h", "now")
        .timezone("Asia/Bangkok")
        .readonly()  # provisioned: edit the generator, not the dashboard
        .tooltip(dm.DashboardCursorSync.CROSSHAIR)
    )


def build(dashboard: cogbuilder.Builder[dm.Dashboard]) -> dict[str, Any]:
    """The dashboard as plain JSON data, with the fixes the SDK build needs (measured-facts)."""
    import json

    from grafana_foundation_sdk.cog.encoder import JSONEncoder

    data: dict[str, Any] = json.loads(json.dumps(dashboard.build(), cls=JSONEncoder))
    return data


# --- panels: every one has a bilingual title, a description and a unit ---------------------


def _common(p: Any, names: tuple[str, str], description: str, queries: Sequence[Any]) -> Any:
    p = p.title(title(*names)).description(description).datasource(DS)
    for i, q in enumerate(queries):
        p = p.with_target(q.ref_id(chr(ord("A") + i)))
    return p


def stat(
    names: tuple[str, str],
    description: str,
    queries: Sequence[prometheus.Dataquery],
    *,
    unit: str = "short",
    steps: Sequence[tuple[float | None, str]] = ((None, "green"),),
    mappings: list[dm.ValueMapping] | None = None,
    links_: Sequence[db.DashboardLink] = (),
) -> Any:
    from grafana_foundation_sdk.builders import stat as stat_b

    p = (
        _common(stat_b.Panel(), names, description, queries)
        .unit(unit)
        .thresholds(thresholds(steps))
    )
    p = p.color_mode(BigValueColorMode.BACKGROUND).graph_mode(BigValueGraphMode.NONE)
    if mappings:
        p = p.mappings(mappings)
    if links_:
        p = p.data_links(list(links_))
    return p


def timeseries(
    names: tuple[str, str],
    description: str,
    queries: Sequence[prometheus.Dataquery],
    *,
    unit: str,
    steps: Sequence[tuple[float | None, str]] | None = None,
    min_: float | None = 0,
    max_: float | None = None,
    links_: Sequence[db.DashboardLink] = (),
) -> Any:
    from grafana_foundation_sdk.builders import timeseries as ts

    p = _common(ts.Panel(), names, description, queries).unit(unit).fill_opacity(10)
    if min_ is not None:
        p = p.min(min_)
    if max_ is not None:
        p = p.max(max_)
    if steps:
        p = p.thresholds(thresholds(steps)).thresholds_style(
            cb.GraphThresholdsStyleConfig().mode(GraphThresholdsStyleMode.LINE)
        )
    if links_:
        p = p.data_links(list(links_))
    return p


def table(
    names: tuple[str, str],
    description: str,
    queries: Sequence[prometheus.Dataquery],
    *,
    unit: str = "short",
    steps: Sequence[tuple[float | None, str]] = ((None, "green"),),
    mappings: list[dm.ValueMapping] | None = None,
    links_: Sequence[db.DashboardLink] = (),
    hide: Sequence[str] = (),
    rename: dict[str, str] | None = None,
    merge: bool = False,
) -> Any:
    """Instant table queries; columns named by ``rename`` (label -> header); Value columns of
    several queries merged into one row per series when ``merge``."""
    from grafana_foundation_sdk.builders import table as tb

    p = _common(tb.Panel(), names, description, queries).unit(unit).thresholds(thresholds(steps))
    if mappings:
        p = p.mappings(mappings)
    if links_:
        p = p.data_links(list(links_))
    if merge:
        p = p.with_transformation(dm.DataTransformerConfig(id_val="merge", options={}))
    exclude = {"Time": True, "__name__": True, "job": True, "instance": True}
    exclude.update({h: True for h in hide})
    p = p.with_transformation(
        dm.DataTransformerConfig(
            id_val="organize",
            options={"excludeByName": exclude, "renameByName": rename or {}},
        )
    )
    return p
