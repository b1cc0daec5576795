"""The national overview, the province dashboard and "suppressed now": states from netmon/state
(the root-cause state), counts from the recording rules, alerts from Prometheus' ALERTS."""

from __future__ import annotations

from typing import Any

from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import geomap, statetimeline
from grafana_foundation_sdk.models import dashboard as dm
from grafana_foundation_sdk.models.common import FrameGeometrySourceMode

from netmon import links
from netmon.dashboards.common import (
    DS,
    ERROR_THRESHOLDS,
    STATE_COLOURS,
    UTILISATION_THRESHOLDS,
    Grid,
    Windows,
    build,
    dashboard_links,
    data_link,
    datasource_variable,
    device_state_code,
    drill_url,
    new_dashboard,
    query,
    query_variable,
    stat,
    state_mappings,
    state_name_mappings,
    state_thresholds,
    table,
    timeseries,
)

SITE_LABELS = "site, name_th, name_en, lat, lon, province, province_code, region"
NAV = (
    (links.NATIONAL, "ภาพรวมประเทศ / National"),
    (links.SUPPRESSED, "ถูกระงับ / Suppressed now"),
    (links.COLLECTOR, "ตัวเก็บข้อมูล / Collector"),
)


def site_state(selector: str = "") -> str:
    """Each site's worst device state code, with the site's names and coordinates."""
    info = f"netmon_device_info{{{selector}}}" if selector else "netmon_device_info"
    return (
        f"max by (site) ({device_state_code(selector)})"
        f" * on (site) group_left (name_th, name_en, lat, lon, province, province_code, region)"
        f" max by ({SITE_LABELS}) ({info})"
    )


def _geomap(expr: str) -> Any:
    markers = (
        cb.MapLayerOptions()
        .type("markers")
        .name("sites")
        .location(
            cb.FrameGeometrySource()
            .mode(FrameGeometrySourceMode.COORDS)
            .latitude("lat")
            .longitude("lon")
        )
        .config(
            {
                "showLegend": True,
                "style": {
                    "color": {"field": "Value", "fixed": STATE_COLOURS["up"]},
                    "size": {"fixed": 6, "min": 4, "max": 12},
                    "opacity": 0.8,
                    "symbol": {"fixed": "img/icons/marker/circle.svg", "mode": "fixed"},
                },
            }
        )
        .tooltip(True)
    )
    basemap = cb.MapLayerOptions().type("default").name("basemap")  # SDK leaves type empty
    return (
        geomap.Panel()
        .view(geomap.MapViewConfig().id("coords").lat(13).lon(101).zoom(5))
        .basemap(basemap)
        .layers([markers])
        .controls(geomap.ControlsOptions().show_zoom(True).mouse_wheel_zoom(True))
        .with_transformation(
            dm.DataTransformerConfig(
                id_val="convertFieldType",
                options={
                    "conversions": [
                        {"targetField": "lat", "destinationType": "number"},
                        {"targetField": "lon", "destinationType": "number"},
                    ]
                },
            )
        )
        .thresholds(state_thresholds())
        .mappings(state_mappings())
        .data_links(
            [
                data_link(
                    "จังหวัด / Province",
                    drill_url(links.PROVINCE, province="${__data.fields.province_code}"),
                ),
                data_link("ไซต์ / Site", drill_url(links.SITE, site="${__data.fields.site}")),
            ]
        )
        .with_target(query(expr, instant=True, table=True))
    )


def national(w: Windows) -> dict[str, Any]:
    d = new_dashboard(
        links.NATIONAL,
        "ภาพรวมเครือข่ายทั่วประเทศ",
        "National overview",
        "Every site of the backbone by its root-cause state, counts per region, active alerts, "
        "the sites down longest, the busiest links and the worst error rates. Click a site or a "
        "province to drill down.",
    )
    d = d.with_variable(datasource_variable()).links(dashboard_links(*NAV[1:]))
    g = Grid()
    m = _geomap(site_state())
    m = m.title("แผนที่สถานะไซต์ / Sites by state").description(
        "Each site coloured by its worst device's state from netmon/state: green up, blue "
        "maintenance, orange unreachable (dark behind a failure elsewhere), red down (a root "
        "cause). Click a marker for its province or site."
    )
    d = d.with_panel(g.place(m, 12, 18))
    for name, colour in (("down", "red"), ("unreachable", "orange"), ("maintenance", "blue")):
        d = d.with_panel(
            g.place(
                stat(
                    (
                        {"down": "อุปกรณ์ล่ม", "unreachable": "เข้าไม่ถึง", "maintenance": "ซ่อมบำรุง"}[
                            name
                        ],
                        f"Devices {name}",
                    ),
                    f"Devices whose state is {name} now (netmon_device_state).",
                    [query(f'sum(netmon_device_state{{state="{name}"}})', instant=True)],
                    steps=[(None, "green"), (1, colour)],
                ),
                4,
                4,
            )
        )
    d = d.with_panel(
        g.place(
            table(
                ("จำนวนอุปกรณ์ตามภาค", "Devices per region"),
                "Devices per region and state, from the recording rule "
                "netmon:province_devices:count.",
                [
                    query(
                        "sum by (region, state) (netmon:province_devices:count)",
                        instant=True,
                        table=True,
                    )
                ],
                mappings=state_name_mappings(),
                rename={
                    "region": "ภาค / Region",
                    "state": "สถานะ / State",
                    "Value": "จำนวน / Devices",
                },
            ),
            12,
            7,
        )
    )
    d = d.with_panel(
        g.place(
            table(
                ("การแจ้งเตือนที่ทำงานอยู่", "Active alerts"),
                "Alerts firing now (Prometheus' ALERTS series): only root causes page; what "
                "they keep quiet is on the Suppressed now dashboard.",
                [query('ALERTS{alertstate="firing"}', instant=True, table=True)],
                hide=["alertstate", "Value"],
                links_=[
                    data_link("ไซต์ / Site", drill_url(links.SITE, site="${__data.fields.site}"))
                ],
            ),
            12,
            7,
        )
    )
    down_since = (
        "sort_desc(time() - max by (site, province, province_code) ("
        "netmon_device_state_since_timestamp_seconds"
        ' and on (device) (netmon_device_state{state="down"} == 1)))'
    )
    d = d.with_panel(
        g.place(
            table(
                ("ไซต์ที่ล่มนานที่สุด", "Sites down longest"),
                "Sites with a device down (a root cause), longest first: how long it has been "
                "down.",
                [query(down_since, instant=True, table=True)],
                unit="s",
                steps=[(None, "orange"), (3600, "red")],
                links_=[
                    data_link("ไซต์ / Site", drill_url(links.SITE, site="${__data.fields.site}"))
                ],
                rename={"Value": "ล่มมาแล้ว / Down for"},
            ),
            12,
            8,
        )
    )
    top = (
        "topk(10, max by (link, device, ifName, site, province_code) "
        "(netmon:link_utilisation:ratio))"
    )
    d = d.with_panel(
        g.place(
            table(
                ("ลิงก์ที่ใช้งานสูงสุด", "Top 10 utilised links"),
                "Inventory links by utilisation of their capacity (the lower of the interface "
                "speed and the circuit speed), either direction, over the rate window.",
                [query(top, instant=True, table=True)],
                unit="percentunit",
                steps=UTILISATION_THRESHOLDS,
                links_=[
                    data_link("ลิงก์ / Link", drill_url(links.LINK, link="${__data.fields.link}"))
                ],
                rename={"Value": "ใช้งาน / Utilisation"},
            ),
            12,
            8,
        )
    )
    errors = (
        "topk(10, sum by (device, ifName, site, province_code) ("
        f"rate(ifInErrors{w.range}) + rate(ifOutErrors{w.range})))"
    )
    d = d.with_panel(
        g.place(
            table(
                ("อัตราความผิดพลาดสูงสุด", "Worst error rates"),
                f"Interfaces with the most errored packets per second (in + out, over {w.rate}).",
                [query(errors, instant=True, table=True)],
                unit="pps",
                steps=ERROR_THRESHOLDS,
                links_=[
                    data_link(
                        "อุปกรณ์ / Device",
                        drill_url(
                            links.SITE,
                            site="${__data.fields.site}",
                            device="${__data.fields.device}",
                        ),
                    )
                ],
                rename={"Value": "ผิดพลาด / Errors"},
            ),
            12,
            8,
        )
    )
    return build(d)


def province(w: Windows) -> dict[str, Any]:
    d = new_dashboard(
        links.PROVINCE,
        "จังหวัด",
        "Province",
        "One province: its hall (hub) and districts with their state and history, uplink "
        "utilisation against the circuit speed, and recent state changes.",
    )
    d = d.with_variable(datasource_variable()).with_variable(
        query_variable(
            "province",
            "จังหวัด / Province",
            "label_values(netmon_device_info, province_code)",
        )
    )
    d = d.links(dashboard_links(*NAV))
    sel = 'province_code="$province"'
    g = Grid()
    status = (
        f"max by (site, device, role) ({device_state_code(sel)})"
        f" * on (device) group_left (name_th, name_en, site_kind, platform) "
        f"netmon_device_info{{{sel}}}"
    )
    d = d.with_panel(
        g.place(
            table(
                ("สถานะศาลากลางและอำเภอ", "Hall and districts"),
                "Every device of the province: site (Thai and English name), role and state "
                "now. Click a row for its site dashboard.",
                [query(status, instant=True, table=True)],
                mappings=state_mappings(),
                steps=[(None, "green")],
                links_=[
                    data_link(
                        "ไซต์ / Site",
                        drill_url(
                            links.SITE,
                            site="${__data.fields.site}",
                            device="${__data.fields.device}",
                        ),
                    )
                ],
                rename={"Value": "สถานะ / State"},
            ),
            14,
            10,
        )
    )
    d = d.with_panel(
        g.place(
            table(
                ("จำนวนอุปกรณ์ตามสถานะ", "Devices by state"),
                "Devices of the province per state (recording rule netmon:province_devices:count).",
                [query(f"netmon:province_devices:count{{{sel}}}", instant=True, table=True)],
                mappings=state_name_mappings(),
                hide=["province", "province_code", "region"],
                rename={"state": "สถานะ / State", "Value": "จำนวน / Devices"},
            ),
            5,
            10,
        )
    )
    d = d.with_panel(
        g.place(
            stat(
                ("ความพร้อมใช้งาน 1 ชม.", "Availability, 1 h"),
                "Share of the province's devices up over the last hour "
                "(netmon:province_availability:ratio_1h).",
                [query(f"netmon:province_availability:ratio_1h{{{sel}}}", instant=True)],
                unit="percentunit",
                steps=[(None, "red"), (0.95, "yellow"), (0.99, "green")],
            ),
            5,
            10,
        )
    )
    history = (
        statetimeline.Panel()
        .title("ประวัติสถานะ / State history")
        .description("Each site's worst device state over the time range.")
        .datasource(DS)
        .with_target(query(f"max by (site) ({device_state_code(sel)})", "{{site}}"))
        .mappings(state_mappings())
        .thresholds(state_thresholds())
        .unit("short")
    )
    d = d.with_panel(g.place(history, 24, 8))
    util = f"netmon:link_utilisation:ratio{{{sel}}}"
    d = d.with_panel(
        g.place(
            timeseries(
                ("การใช้งานลิงก์เทียบความเร็ววงจร", "Uplink utilisation vs circuit speed"),
                "Utilisation of each inventory link of the province (traffic over the lower of "
                "interface speed and circuit speed), per direction.",
                [query(util, "{{link}} {{direction}}")],
                unit="percentunit",
                steps=UTILISATION_THRESHOLDS,
                max_=1,
                links_=[
                    data_link("ลิงก์ / Link", drill_url(links.LINK, link="${__field.labels.link}"))
                ],
            ),
            12,
            8,
        )
    )
    traffic = f'rate(ifHCInOctets{{{sel}, link!=""}}{w.range}) * 8'
    d = d.with_panel(
        g.place(
            timeseries(
                ("ปริมาณข้อมูลขาเข้าลิงก์", "Link traffic received"),
                f"Bits/s received on the province's link interfaces (rate over {w.rate}) and "
                "each link's capacity.",
                [
                    query(traffic, "{{device}} {{ifName}}"),
                    query(f"netmon:link_capacity_bits_per_second{{{sel}}}", "capacity {{link}}"),
                ],
                unit="bps",
            ),
            12,
            8,
        )
    )
    changes = f"sort_desc(netmon_device_state_since_timestamp_seconds{{{sel}}} * 1000)"
    d = d.with_panel(
        g.place(
            table(
                ("การเปลี่ยนสถานะล่าสุด", "Recent state changes"),
                "When each device of the province entered its current state, newest first.",
                [query(changes, instant=True, table=True)],
                unit="dateTimeAsIso",
                hide=["province", "province_code", "region", "district"],
                rename={"Value": "ตั้งแต่ / Since"},
            ),
            24,
            8,
        )
    )
    return build(d)


def suppressed(w: Windows) -> dict[str, Any]:
    d = new_dashboard(
        links.SUPPRESSED,
        "ที่ถูกระงับการแจ้งเตือนขณะนี้",
        "Suppressed now",
        "What is down, unreachable or in maintenance now, and the root cause each dark device "
        "hangs on: what the alerting kept quiet, and why.",
    )
    d = d.with_variable(datasource_variable()).links(dashboard_links(NAV[0], NAV[2]))
    g = Grid()
    causes = "netmon_device_cause_info == 1"
    d = d.with_panel(
        g.place(
            table(
                ("อุปกรณ์ที่มืดและต้นเหตุ", "Dark devices and their root cause"),
                "Each unreachable or maintenance-shadowed device with the device it hangs on "
                "(cause_device, its site and state): these do not page.",
                [query(causes, instant=True, table=True)],
                hide=["Value", "province", "district", "role"],
                mappings=state_name_mappings(),
                links_=[
                    data_link(
                        "ต้นเหตุ / Root cause",
                        drill_url(
                            links.SITE,
                            site="${__data.fields.cause_site}",
                            device="${__data.fields.cause_device}",
                        ),
                    )
                ],
            ),
            16,
            12,
        )
    )
    d = d.with_panel(
        g.place(
            table(
                ("ต้นเหตุและจำนวนที่ถูกระงับ", "Root causes by devices kept quiet"),
                "How many dark devices each root cause keeps quiet.",
                [
                    query(
                        "sort_desc(count by (cause_device, cause_site, cause_state) "
                        "(netmon_device_cause_info == 1))",
                        instant=True,
                        table=True,
                    )
                ],
                mappings=state_name_mappings(),
                rename={"Value": "ถูกระงับ / Kept quiet"},
            ),
            8,
            12,
        )
    )
    for name in ("down", "unreachable", "maintenance"):
        d = d.with_panel(
            g.place(
                table(
                    (STATE_THAI[name], f"Devices {name} now"),
                    f"Devices whose state is {name} now, with their site.",
                    [
                        query(
                            f'(netmon_device_state{{state="{name}"}} == 1)'
                            " * on (device) group_left (name_th, name_en) netmon_device_info",
                            instant=True,
                            table=True,
                        )
                    ],
                    hide=["Value", "province", "district"],
                ),
                8,
                8,
            )
        )
    d = d.with_panel(
        g.place(
            table(
                ("ช่วงซ่อมบำรุงที่ทำงานอยู่", "Active maintenance windows"),
                "Maintenance windows active now (inventory/maintenance.yaml): nothing inside "
                "pages, nor what is dark behind it.",
                [query("netmon_maintenance_active == 1", instant=True, table=True)],
                hide=["Value"],
            ),
            24,
            6,
        )
    )
    return build(d)


STATE_THAI = {"down": "อุปกรณ์ล่ม", "unreachable": "เข้าไม่ถึง", "maintenance": "ซ่อมบำรุง"}
