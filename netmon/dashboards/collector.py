"""The collector health dashboard: netmon's own metrics and Prometheus' scrape of it."""

from __future__ import annotations

from typing import Any

from netmon import links
from netmon.dashboards.common import (
    Grid,
    Windows,
    build,
    dashboard_links,
    data_link,
    datasource_variable,
    drill_url,
    new_dashboard,
    query,
    stat,
    table,
    timeseries,
)


def collector(w: Windows) -> dict[str, Any]:
    d = new_dashboard(
        links.COLLECTOR,
        "สุขภาพตัวเก็บข้อมูล",
        "Collector health",
        "Is netmon itself keeping up: sweep time, poll durations, timeouts and errors by kind, "
        "skipped polls, the slowest devices, inventory reload status and Prometheus' scrape.",
    )
    d = d.with_variable(datasource_variable()).links(
        dashboard_links((links.NATIONAL, "ภาพรวมประเทศ / National"))
    )
    g = Grid()
    r = w.rate
    for names, description, expr, unit, steps in (
        (
            ("รอบการเก็บ", "Cycle time"),
            "Age of the oldest device poll result: how long one sweep of every device takes "
            "(should stay under the 60 s poll interval).",
            "netmon_collector_cycle_seconds",
            "s",
            [(None, "green"), (50, "yellow"), (60, "red")],
        ),
        (
            ("การโหลดคลังอุปกรณ์", "Inventory reload"),
            "1: the last inventory (re)load succeeded; 0: running on the last good inventory "
            "(see the log for file:line:column).",
            "netmon_inventory_reload_success",
            "short",
            [(None, "red"), (1, "green")],
        ),
        (
            ("โหลดล่าสุดเมื่อ", "Last reload"),
            "Time since the last inventory (re)load attempt.",
            "time() - netmon_inventory_last_reload_timestamp_seconds",
            "s",
            [(None, "green")],
        ),
        (
            ("โพลต่อวินาที", "Polls per second"),
            f"Full polls completed per second over {r}.",
            f"rate(netmon_collector_polls_total{w.range})",
            "reqps",
            [(None, "green")],
        ),
        (
            ("รอคิว", "Poll lag"),
            "How long the last poll waited for a free slot after it was due.",
            "netmon_collector_poll_lag_seconds",
            "s",
            [(None, "green"), (5, "yellow"), (30, "red")],
        ),
        (
            ("การโพลที่ข้าม", "Skipped polls"),
            f"Polls skipped per second over {r} because the previous poll of the device was "
            "still running.",
            f"sum(rate(netmon_poll_skipped_total{w.range}))",
            "reqps",
            [(None, "green"), (0.01, "yellow"), (1, "red")],
        ),
    ):
        d = d.with_panel(
            g.place(
                stat(names, description, [query(expr, instant=True)], unit=unit, steps=steps), 4, 4
            )
        )
    d = d.with_panel(
        g.place(
            timeseries(
                ("อุปกรณ์ตามสถานะการโพล", "Devices by poll state"),
                "Devices scheduled, by whether their last poll answered (pending: not polled yet).",
                [query("netmon_collector_devices", "{{state}}")],
                unit="short",
            ),
            8,
            8,
        )
    )
    d = d.with_panel(
        g.place(
            timeseries(
                ("ระยะเวลาโพล", "Poll duration"),
                "Median, 95th percentile and maximum of the devices' last full poll duration.",
                [
                    query("quantile(0.5, netmon_poll_duration_seconds)", "median"),
                    query("quantile(0.95, netmon_poll_duration_seconds)", "p95"),
                    query("max(netmon_poll_duration_seconds)", "max"),
                ],
                unit="s",
            ),
            8,
            8,
        )
    )
    d = d.with_panel(
        g.place(
            timeseries(
                ("ข้อผิดพลาดตามชนิด", "Timeouts and errors by kind"),
                f"Failed full polls per second by kind over {r}: timeout, walk_loop, garbage, "
                "no_such_object, error_status, auth, config.",
                [query(f"sum by (kind) (rate(netmon_poll_errors_total{w.range}))", "{{kind}}")],
                unit="reqps",
                steps=[(None, "green"), (0.1, "red")],
            ),
            8,
            8,
        )
    )
    d = d.with_panel(
        g.place(
            timeseries(
                ("การตรวจการตอบสนอง", "Probes and suspended polls"),
                f"Per second over {r}: reachability probes that got no answer, and full polls "
                "suspended because the device is known dead (it is probed instead).",
                [
                    query(f"sum(rate(netmon_probe_failures_total{w.range}))", "probe failures"),
                    query(f"sum(rate(netmon_polls_suspended_total{w.range}))", "suspended polls"),
                ],
                unit="reqps",
            ),
            24,
            7,
        )
    )
    d = d.with_panel(
        g.place(
            table(
                ("อุปกรณ์ที่ช้าที่สุด", "Slowest devices"),
                "The 15 devices whose last full poll took longest.",
                [
                    query(
                        "topk(15, netmon_poll_duration_seconds)",
                        instant=True,
                        table=True,
                    )
                ],
                unit="s",
                steps=[(None, "green"), (2, "yellow"), (10, "red")],
                hide=["province", "district", "role", "region"],
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
                rename={"Value": "ระยะเวลา / Duration"},
            ),
            12,
            9,
        )
    )
    d = d.with_panel(
        g.place(
            timeseries(
                ("การดึงข้อมูลของ Prometheus", "Prometheus scrape duration"),
                "How long Prometheus takes to scrape each netmon slice (job netmon*).",
                [query('scrape_duration_seconds{job=~"netmon.*"}', "{{instance}}")],
                unit="s",
            ),
            12,
            9,
        )
    )
    d = d.with_panel(
        g.place(
            timeseries(
                ("ซ็อกเก็ต SNMP", "SNMP socket"),
                f"Datagrams per second on the shared SNMP socket by event, over {r}.",
                [query(f"rate(netmon_snmp_datagrams_total{w.range})", "{{event}}")],
                unit="pps",
            ),
            12,
            8,
        )
    )
    d = d.with_panel(
        g.place(
            timeseries(
                ("โพลที่กำลังทำงาน", "Polls in flight"),
                "Full polls, status polls and probes running now, and the slots each may use:"
                " in flight at its slots means polls wait (and skip when still waiting).",
                [
                    query("netmon_collector_in_flight_polls", "{{kind}}"),
                    query("netmon_collector_poll_slots", "{{kind}} slots"),
                ],
                unit="short",
            ),
            12,
            8,
        )
    )
    return build(d)
