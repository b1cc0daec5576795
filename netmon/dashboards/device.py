"""The site / device dashboard and the link dashboard: IF-MIB series (64-bit counters, or the
32-bit ones where an agent has no ifXTable), vendor health, the link's two ends."""

from __future__ import annotations

from typing import Any

from netmon import links
from netmon.dashboards.common import (
    ERROR_THRESHOLDS,
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
    table,
    timeseries,
)

NAV = (
    (links.NATIONAL, "ภาพรวมประเทศ / National"),
    (links.PROVINCE, "จังหวัด / Province"),
)


def bits(direction: str, selector: str, window: str) -> str:
    """Bits/s of an interface from its 64-bit counter, or its 32-bit one if that is all the
    agent has (collector/profiles.yaml fallback_metrics); ``window`` is ``Windows.range``."""
    hc, old = (
        ("ifHCInOctets", "ifInOctets") if direction == "in" else ("ifHCOutOctets", "ifOutOctets")
    )
    return f"(rate({hc}{{{selector}}}{window}) or rate({old}{{{selector}}}{window})) * 8"


def memory_ratio(selector: str) -> str:
    """Memory in use as a share: vendors give a ratio (Huawei, Juniper, HOST-RESOURCES) or
    used and free bytes (Cisco memory pools)."""
    used = f"netmon_memory_used_bytes{{{selector}}}"
    free = f"netmon_memory_free_bytes{{{selector}}}"
    return f"netmon_memory_usage_ratio{{{selector}}} or {used} / ({used} + {free})"


def site(w: Windows) -> dict[str, Any]:
    d = new_dashboard(
        links.SITE,
        "ไซต์และอุปกรณ์",
        "Site / device",
        "One site's devices and one device in detail: identity, uptime, CPU, memory, "
        "temperature, the interface table and traffic, errors and discards per interface.",
    )
    d = d.with_variable(datasource_variable())
    d = d.with_variable(
        query_variable("site", "ไซต์ / Site", "label_values(netmon_device_info, site)")
    )
    d = d.with_variable(
        query_variable(
            "device", "อุปกรณ์ / Device", 'label_values(netmon_device_info{site="$site"}, device)'
        )
    )
    d = d.links(dashboard_links(*NAV))
    dev = 'device="$device"'
    g = Grid()
    d = d.with_panel(
        g.place(
            table(
                ("อุปกรณ์ในไซต์", "Devices of the site"),
                "Every device of the site: platform, address, sysName it reports, the site's "
                "Thai and English names, and its state now.",
                [
                    query('netmon_device_info{site="$site"}', instant=True, table=True),
                    query(
                        "max by (device) (" + device_state_code('site="$site"') + ")",
                        instant=True,
                        table=True,
                    ),
                ],
                merge=True,
                mappings=state_mappings(),
                hide=["Value #A", "lat", "lon", "province", "district", "region"],
                rename={"Value #B": "สถานะ / State"},
                links_=[
                    data_link(
                        "อุปกรณ์ / Device",
                        drill_url(links.SITE, site="$site", device="${__data.fields.device}"),
                    )
                ],
            ),
            24,
            6,
        )
    )
    d = d.with_panel(
        g.place(
            stat(
                ("ตอบสนอง", "Answers polls"),
                "1 if the device's last poll succeeded (netmon_device_up).",
                [query(f"netmon_device_up{{{dev}}}", instant=True)],
                steps=[(None, "red"), (1, "green")],
            ),
            4,
            4,
        )
    )
    d = d.with_panel(
        g.place(
            stat(
                ("เวลาทำงาน", "Uptime"),
                "Time since the agent restarted (sysUpTime; an agent without sysUpTime shows "
                "no value).",
                [query(f"sysUpTime{{{dev}}} / 100", instant=True)],
                unit="s",
                steps=[(None, "orange"), (3600, "green")],
            ),
            4,
            4,
        )
    )
    d = d.with_panel(
        g.place(
            stat(
                ("ความพร้อมใช้งาน 1 ชม.", "Availability, 1 h"),
                "Share of the last hour the device was up (netmon:device_availability:ratio_1h; "
                "maintenance is not counted against it).",
                [query(f"netmon:device_availability:ratio_1h{{{dev}}}", instant=True)],
                unit="percentunit",
                steps=[(None, "red"), (0.95, "yellow"), (0.99, "green")],
            ),
            4,
            4,
        )
    )
    for names, description, expr, unit, steps in (
        (
            ("ซีพียู", "CPU"),
            "CPU busy (vendor table: Cisco 5 min, Huawei, Juniper, HOST-RESOURCES 1 min).",
            f"netmon_cpu_usage_ratio{{{dev}}}",
            "percentunit",
            [(None, "green"), (0.7, "yellow"), (0.9, "red")],
        ),
        (
            ("หน่วยความจำ", "Memory"),
            "Memory in use as a share of the total, per pool or storage row.",
            memory_ratio(dev),
            "percentunit",
            [(None, "green"), (0.8, "yellow"), (0.95, "red")],
        ),
        (
            ("อุณหภูมิ", "Temperature"),
            "Temperature of each sensor the vendor reports.",
            f"netmon_temperature_celsius{{{dev}}}",
            "celsius",
            [(None, "green"), (60, "yellow"), (75, "red")],
        ),
    ):
        d = d.with_panel(
            g.place(
                stat(names, description, [query(expr, instant=True)], unit=unit, steps=steps), 4, 4
            )
        )
    iface = (
        f"ifOperStatus{{{dev}}}",
        f"ifHighSpeed{{{dev}}} * 1000000",
        bits("in", dev, w.range),
        bits("out", dev, w.range),
    )
    d = d.with_panel(
        g.place(
            table(
                ("ตารางอินเทอร์เฟซ", "Interfaces"),
                f"Every interface: operational status (1 up, 2 down), speed, and bits/s in and "
                f"out over {w.rate}. A row on an inventory link opens the link dashboard.",
                [query(e, instant=True, table=True) for e in iface],
                unit="bps",
                merge=True,
                hide=["province", "province_code", "district", "site", "device", "role", "region"],
                rename={
                    "Value #A": "สถานะ / Oper status",
                    "Value #B": "ความเร็ว / Speed",
                    "Value #C": "ขาเข้า / In",
                    "Value #D": "ขาออก / Out",
                },
                links_=[
                    data_link("ลิงก์ / Link", drill_url(links.LINK, link="${__data.fields.link}"))
                ],
            ),
            24,
            10,
        )
    )
    d = d.with_panel(
        g.place(
            timeseries(
                ("ปริมาณข้อมูลต่ออินเทอร์เฟซ", "Traffic per interface"),
                f"Bits/s per interface over {w.rate}: received above zero, transmitted below.",
                [
                    query(bits("in", dev, w.range), "{{ifName}} in"),
                    query("-" + bits("out", dev, w.range), "{{ifName}} out"),
                ],
                unit="bps",
                min_=None,
            ),
            24,
            8,
        )
    )
    for names, metric, unit in (
        (("ความผิดพลาด", "Errors per interface"), "Errors", "pps"),
        (("การทิ้งแพ็กเก็ต", "Discards per interface"), "Discards", "pps"),
    ):
        d = d.with_panel(
            g.place(
                timeseries(
                    names,
                    f"Packets/s with {metric.lower()} per interface, in and out, over {w.rate}.",
                    [
                        query(f"rate(ifIn{metric}{{{dev}}}{w.range})", "{{ifName}} in"),
                        query(f"rate(ifOut{metric}{{{dev}}}{w.range})", "{{ifName}} out"),
                    ],
                    unit=unit,
                    steps=ERROR_THRESHOLDS,
                ),
                12,
                8,
            )
        )
    return build(d)


def link(w: Windows) -> dict[str, Any]:
    d = new_dashboard(
        links.LINK,
        "ลิงก์",
        "Link",
        "One inventory link: its two ends side by side, utilisation against capacity and "
        "the 95th percentile over the time range (what capacity planning asks for).",
    )
    d = d.with_variable(datasource_variable())
    d = d.with_variable(
        query_variable("link", "ลิงก์ / Link", 'label_values(ifOperStatus{link!=""}, link)')
    )
    d = d.links(dashboard_links(*NAV))
    sel = 'link="$link"'
    g = Grid()
    d = d.with_panel(
        g.place(
            stat(
                ("สถานะลิงก์", "Link state"),
                "The link's state from netmon/state (up, down: the link itself failed, dark: an "
                "end device is not up, admin_down, unknown).",
                [query(f"netmon_link_state{{{sel}}} == 1", "{{state}}", instant=True)],
                steps=[(None, "green")],
            ),
            6,
            5,
        )
    )
    d = d.with_panel(
        g.place(
            stat(
                ("ความเร็ววงจร", "Circuit speed"),
                "The circuit's contracted rate from the inventory.",
                [query(f"netmon_link_speed_bits_per_second{{{sel}}}", instant=True)],
                unit="bps",
                steps=[(None, "blue")],
            ),
            6,
            5,
        )
    )
    d = d.with_panel(
        g.place(
            stat(
                ("การกระพือใน 24 ชม.", "Flaps, 24 h"),
                "Oper status transitions of the link in the last 24 hours.",
                [query(f"increase(netmon_link_flaps_total{{{sel}}}[24h])", instant=True)],
                steps=[(None, "green"), (1, "yellow"), (5, "red")],
            ),
            6,
            5,
        )
    )
    d = d.with_panel(
        g.place(
            stat(
                ("ความจุ", "Capacity"),
                "The lower of the interface speed and the circuit speed, per end "
                "(netmon:link_capacity_bits_per_second).",
                [
                    query(
                        f"netmon:link_capacity_bits_per_second{{{sel}}}", "{{device}}", instant=True
                    )
                ],
                unit="bps",
                steps=[(None, "blue")],
            ),
            6,
            5,
        )
    )
    ends = (
        f"ifOperStatus{{{sel}}}",
        f"ifHighSpeed{{{sel}}} * 1000000",
        bits("in", sel, w.range),
        bits("out", sel, w.range),
    )
    d = d.with_panel(
        g.place(
            table(
                ("ปลายทั้งสองด้าน", "Both ends"),
                "The two ends of the link side by side: device, interface, oper status (1 up), "
                f"speed, bits/s in and out over {w.rate}.",
                [query(e, instant=True, table=True) for e in ends],
                unit="bps",
                merge=True,
                hide=["province_code", "district", "role", "region", "ifDescr"],
                rename={
                    "Value #A": "สถานะ / Oper status",
                    "Value #B": "ความเร็ว / Speed",
                    "Value #C": "ขาเข้า / In",
                    "Value #D": "ขาออก / Out",
                },
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
            ),
            24,
            5,
        )
    )
    d = d.with_panel(
        g.place(
            timeseries(
                ("การใช้งานเทียบความจุ", "Utilisation vs capacity"),
                "Traffic over capacity per end and direction (netmon:link_utilisation:ratio).",
                [query(f"netmon:link_utilisation:ratio{{{sel}}}", "{{device}} {{direction}}")],
                unit="percentunit",
                steps=UTILISATION_THRESHOLDS,
                max_=1,
            ),
            12,
            8,
        )
    )
    d = d.with_panel(
        g.place(
            timeseries(
                ("ปริมาณข้อมูลทั้งสองด้าน", "Traffic at both ends"),
                f"Bits/s in and out at each end over {w.rate}, with the circuit speed.",
                [
                    query(bits("in", sel, w.range), "{{device}} {{ifName}} in"),
                    query(bits("out", sel, w.range), "{{device}} {{ifName}} out"),
                    query(f"netmon_link_speed_bits_per_second{{{sel}}}", "circuit"),
                ],
                unit="bps",
            ),
            12,
            8,
        )
    )
    p95 = (
        f"quantile_over_time(0.95, ({bits('in', sel, w.range)})[$__range:{w.step}])",
        f"quantile_over_time(0.95, ({bits('out', sel, w.range)})[$__range:{w.step}])",
    )
    d = d.with_panel(
        g.place(
            table(
                ("เปอร์เซ็นไทล์ที่ 95", "95th percentile over the range"),
                "95th percentile of bits/s in and out at each end over the dashboard's time "
                f"range ({w.step} steps of the {w.rate} rate): the figure capacity planning uses.",
                [query(e, instant=True, table=True) for e in p95],
                unit="bps",
                merge=True,
                hide=[
                    "province",
                    "province_code",
                    "district",
                    "role",
                    "region",
                    "ifDescr",
                    "ifAlias",
                ],
                rename={"Value #A": "p95 ขาเข้า / in", "Value #B": "p95 ขาออก / out"},
            ),
            24,
            5,
        )
    )
    d = d.with_panel(
        g.place(
            timeseries(
                ("ความผิดพลาดทั้งสองด้าน", "Errors at both ends"),
                f"Errored packets/s in and out at each end over {w.rate}.",
                [
                    query(f"rate(ifInErrors{{{sel}}}{w.range})", "{{device}} in"),
                    query(f"rate(ifOutErrors{{{sel}}}{w.range})", "{{device}} out"),
                ],
                unit="pps",
                steps=ERROR_THRESHOLDS,
            ),
            24,
            7,
        )
    )
    return build(d)
