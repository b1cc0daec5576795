"""Alerting rules. Each pages a root cause only, as the state engine decides it:

- ``DeviceDown`` (critical): the device is ``down``, i.e. a root cause. Devices dark because of
  it are ``unreachable`` and never page on their own.
- ``SiteUnreachable`` (info): one per dark site (no device of it up) and root cause that is
  *down* (not in maintenance), with ``cause_device``/``cause_site``; Alertmanager groups them by
  cause into one low-severity summary per outage.
- ``UplinkDown`` (critical for ``kind=uplink``, warning for a ``backup`` link): the engine says
  the link itself is the cause (both end devices answer); never for a link whose far end is
  down or unreachable (the engine calls that ``dark``; the rule also checks ``peer_device``).
- ``InterfaceFlapping``, ``HighUtilization`` (warning 80 % for 15 m, critical 95 % for 5 m, on
  the link's downstream end so one congested link is one alert per direction), ``ErrorRate``,
  ``DeviceRebooted`` (not after an outage or maintenance that explains it), ``HighCPU``,
  ``HighMemory``, ``HighTemperature``: only for devices that are ``up``.
- ``CollectorUnhealthy{problem=stale_polls|skipped_polls|reload_failed|scrape_slow|
  scrape_failed}`` (warning) and ``CollectorDown`` (critical): netmon itself.
"""

from __future__ import annotations

from typing import Any

from netmon import links
from netmon.alerting.promql import UP, RulesContext, indent, site_annotations, with_names

# Thresholds (documented in README "Alerts").
UTIL_WARNING, UTIL_CRITICAL = 0.80, 0.95
ERROR_RATIO = 0.01
FLAP_TRANSITIONS = 4  # oper status changes within the flap window: two down/up cycles
CPU_RATIO, MEMORY_RATIO, TEMPERATURE_C = 0.90, 0.90, 75.0
SKIPPED_RATIO = 0.01

_PEER_UP = (
    "on(peer_device) label_replace(\n"
    '  netmon_device_state{state="up"} == 1, "peer_device", "$1", "device", "(.*)"\n)'
)
# The link's downstream ("from") end: netmon_link_state carries that device's labels.
_FROM_END = "on(device, link) netmon_link_state"


def _alert(
    ctx: RulesContext,
    name: str,
    expr: str,
    for_s: float,
    severity: str,
    annotations: dict[str, str],
    **labels: str,
) -> dict[str, Any]:
    rule: dict[str, Any] = {"alert": name, "expr": expr}
    if for_s:
        rule["for"] = ctx.d(for_s)
    rule["labels"] = {"severity": severity, **labels}
    rule["annotations"] = annotations
    return rule


def _gated(expr: str) -> str:
    return with_names(f"{expr}\nand {UP}")


def state_rules(ctx: RulesContext) -> list[dict[str, Any]]:
    where = site_annotations(ctx)
    site_names = {k: v for k, v in where.items() if k != "dashboard"}
    dark = (
        "max by (site, district, province, province_code, region,\n"
        "        cause_device, cause_site, cause_province_code) (\n"
        '  netmon_device_cause_info{cause_state="down"} == 1\n'
        ")\n"
        'unless on(site) (max by (site) (netmon_device_state{state="up"}) == 1)'
    )
    link_down = f'netmon_link_state{{state="down", kind="KIND"}} == 1\nand {UP}\nand {_PEER_UP}'
    link_where = {**where, "dashboard": ctx.url(links.LINK, link="link")}
    rules = [
        _alert(
            ctx,
            "DeviceDown",
            with_names('netmon_device_state{state="down"} == 1'),
            60,
            "critical",
            {
                "summary": "{{ $labels.device }} is down: {{ $labels.name_en }} "
                "({{ $labels.name_th }}), {{ $labels.province }}",
                "description": "{{ $labels.device }} stops answering and is the root cause: "
                "the sites behind it are listed in one SiteUnreachable summary, not paged.",
                **where,
            },
        ),
        _alert(
            ctx,
            "SiteUnreachable",
            with_names(dark, on="site"),
            60,
            "info",
            {
                "summary": "site {{ $labels.site }} {{ $labels.name_en }} is dark because "
                "{{ $labels.cause_device }} (site {{ $labels.cause_site }}) is down",
                "description": "No device of the site answers; it hangs on "
                "{{ $labels.cause_device }}, which is paged as DeviceDown.",
                "cause_device": "{{ $labels.cause_device }}",
                **site_names,
                "dashboard": ctx.url(links.SITE, site="site"),
                "cause_dashboard": ctx.url(links.SITE, site="cause_site", device="cause_device"),
            },
        ),
    ]
    for kind, severity in (("uplink", "critical"), ("backup", "warning")):
        rules.append(
            _alert(
                ctx,
                "UplinkDown",
                with_names(link_down.replace("KIND", kind)),
                60,
                severity,
                {
                    "summary": "{{ $labels.kind }} link {{ $labels.link }} is down "
                    "({{ $labels.device }} to {{ $labels.peer_device }})",
                    "description": "Both end devices answer but the link is admin up / oper "
                    "down: the link itself is the cause.",
                    **link_where,
                },
            )
        )
    return rules


def interface_rules(ctx: RulesContext) -> list[dict[str, Any]]:
    where = site_annotations(ctx)
    link_where = {**where, "dashboard": ctx.url(links.LINK, link="link")}
    util = "netmon:link_utilisation:ratio > {t}\nand " + _FROM_END
    rules = [
        _alert(
            ctx,
            "InterfaceFlapping",
            _gated(f"increase(netmon_link_flaps_total[{ctx.d(600)}]) >= {FLAP_TRANSITIONS}"),
            0,
            "warning",
            {
                "summary": "link {{ $labels.link }} is flapping "
                '({{ $value | printf "%.0f" }} status changes in 10 minutes)',
                "description": "The link keeps going down and up; it resolves 10 minutes "
                "after the last change.",
                **link_where,
            },
        ),
    ]
    for t, for_s, severity in ((UTIL_WARNING, 900, "warning"), (UTIL_CRITICAL, 300, "critical")):
        rules.append(
            _alert(
                ctx,
                "HighUtilization",
                _gated(util.format(t=t)),
                for_s,
                severity,
                {
                    "summary": "link {{ $labels.link }} {{ $labels.direction }} at "
                    "{{ $value | humanizePercentage }} of its capacity",
                    "description": "Capacity is the lower of ifHighSpeed and the inventory's "
                    f"circuit speed; above {t:.0%} for {for_s // 60:.0f} minutes.",
                    **link_where,
                },
            )
        )
    rules.append(
        _alert(
            ctx,
            "ErrorRate",
            _gated(f"netmon:interface_errors:ratio > {ERROR_RATIO}"),
            600,
            "warning",
            {
                "summary": "{{ $labels.device }} {{ $labels.ifName }} {{ $labels.direction }}: "
                "{{ $value | humanizePercentage }} of packets in error",
                "description": f"errors / (errors + unicast packets) above {ERROR_RATIO:.0%} "
                "for 10 minutes.",
                **where,
            },
        )
    )
    return rules


def device_rules(ctx: RulesContext) -> list[dict[str, Any]]:
    where = site_annotations(ctx)
    window = ctx.d(900)
    explained = (
        f'max_over_time(netmon_device_state{{state=~"down|unreachable|maintenance"}}[{window}])'
    )
    rules = [
        _alert(
            ctx,
            "DeviceRebooted",
            with_names(
                f"increase(netmon_device_reboots_total[{window}]) > 0\n"
                f"and {UP}\n"
                f"unless on(device) ({explained} == 1)"
            ),
            0,
            "warning",
            {
                "summary": "{{ $labels.device }} rebooted (sysUpTime restarted)",
                "description": "Not sent when an outage or maintenance of the device in the "
                "last 15 minutes explains the reboot.",
                **where,
            },
        )
    ]
    vendor = (
        ("HighCPU", "netmon_cpu_usage_ratio", CPU_RATIO, "CPU", "netmon_cpu_usage_ratio"),
        ("HighMemory", "netmon:memory_usage:ratio", MEMORY_RATIO, "memory", None),
        (
            "HighTemperature",
            "netmon_temperature_celsius",
            TEMPERATURE_C,
            "temperature",
            "netmon_temperature_celsius",
        ),
    )
    memory_known = (
        "netmon_memory_usage_ratio" in ctx.vendor_metrics
        or {
            "netmon_memory_used_bytes",
            "netmon_memory_free_bytes",
        }
        <= ctx.vendor_metrics
    )
    for name, metric, threshold, what, needs in vendor:
        if (needs is not None and needs not in ctx.vendor_metrics) or (
            needs is None and not memory_known
        ):
            continue  # no profile polls it: no rule that can never fire
        value = (
            '{{ $value | printf "%.0f" }} °C'
            if what == "temperature"
            else "{{ $value | humanizePercentage }}"
        )
        shown = f"{threshold:.0f} °C" if what == "temperature" else f"{threshold:.0%}"
        rules.append(
            _alert(
                ctx,
                name,
                _gated(f"{metric} > {threshold}"),
                900 if what != "temperature" else 600,
                "warning",
                {
                    "summary": f"{{{{ $labels.device }}}} {what} at {value}",
                    "description": f"Above {shown} for "
                    f"{15 if what != 'temperature' else 10} minutes.",
                    **where,
                },
            )
        )
    return rules


def collector_rules(ctx: RulesContext) -> list[dict[str, Any]]:
    job = ctx.job
    dash = {"dashboard": ctx.url(links.COLLECTOR)}
    w = ctx.d(900)
    stale = (
        "count(\n"
        f"  (time() - netmon_last_success_timestamp_seconds > {ctx.stale_after:g})\n"
        f"  and {indent(UP)}\n"
        ") > 0"
    )
    skipped = (
        f"sum(increase(netmon_poll_skipped_total[{w}]))\n"
        f"  / (sum(increase(netmon_device_polls_total[{w}])) > 0)\n"
        f"> {SKIPPED_RATIO}"
    )
    problems = (
        (
            "stale_polls",
            stale,
            300,
            "{{ $value }} devices are up but had no full poll for "
            f"{ctx.stale_after:g} s: the collector is falling behind",
        ),
        (
            "skipped_polls",
            skipped,
            300,
            "{{ $value | humanizePercentage }} of full polls skipped in 15 minutes "
            "(the previous poll of the device still ran)",
        ),
        (
            "reload_failed",
            "count(netmon_inventory_reload_success == 0) > 0",
            60,
            "the last inventory reload failed: netmon runs on its last good inventory "
            "(run `netmon inventory check`)",
        ),
        (
            "scrape_slow",
            f'max by (job) (scrape_duration_seconds{{job="{job}"}}) > {0.8 * ctx.scrape_timeout:g}',
            600,
            "scraping netmon takes {{ $value | humanizeDuration }}, near the "
            f"{ctx.scrape_timeout:g} s timeout",
        ),
        (
            "scrape_failed",
            f'count by (job) (up{{job="{job}"}} == 0) > 0',
            300,
            "{{ $value }} of netmon's scrape targets (province slices) fail",
        ),
    )
    rules = [
        _alert(
            ctx,
            "CollectorUnhealthy",
            expr,
            for_s,
            "warning",
            {"summary": f"netmon collector: {text}", **dash},
            problem=problem,
        )
        for problem, expr, for_s, text in problems
    ]
    rules.append(
        _alert(
            ctx,
            "CollectorDown",
            f'max by (job) (up{{job="{job}"}}) == 0\nor absent(up{{job="{job}"}})',
            120,
            "critical",
            {
                "summary": "netmon is not being scraped: no device state, no alerts",
                "description": "Every target of the netmon scrape job is down (or the job "
                "is missing): nothing is monitored until it is back.",
                **dash,
            },
        )
    )
    return rules


def alert_groups(ctx: RulesContext) -> list[dict[str, Any]]:
    return [
        {"name": "netmon-state", "rules": state_rules(ctx)},
        {"name": "netmon-interfaces", "rules": interface_rules(ctx)},
        {"name": "netmon-devices", "rules": device_rules(ctx)},
        {"name": "netmon-collector", "rules": collector_rules(ctx)},
    ]
