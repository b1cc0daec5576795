"""Recording rules: what dashboards and alerts read instead of recomputing it.

Names (the dashboards use them; keep them stable):

- ``netmon:link_capacity_bits_per_second`` per link interface (both ends of every inventory
  link): min(ifHighSpeed x 1e6, the inventory's circuit speed); either alone when the other is
  missing or ifHighSpeed is 0.
- ``netmon:link_utilisation:ratio{direction="receive|transmit"}``: netmon's own wrap-safe rate
  gauges over that capacity.
- ``netmon:site_devices:count{site, province_code, province, region, state}`` and
  ``netmon:province_devices:count{province_code, province, region, state}``: devices per
  state (every state present, 0 included).
- ``netmon:device_availability:ratio_1h``: the share of the last hour the device was ``up``,
  counted over the time it was up, down or unreachable (maintenance and unknown count neither
  way); ``netmon:province_availability:ratio_1h``: their mean per province.
- ``netmon:interface_errors:ratio{direction}``: errors / (errors + unicast packets) over the
  rate window, for interfaces moving more than 1 packet/s.
- ``netmon:memory_usage:ratio``: the vendor's ratio, or used / (used + free) where the profile
  gives bytes (Cisco).
"""

from __future__ import annotations

from typing import Any

from netmon.alerting.promql import RulesContext


def _direction(expr: str, direction: str) -> str:
    return f'label_replace(\n  {expr},\n  "direction", "{direction}", "__name__", ".*"\n)'


def recording_groups(ctx: RulesContext) -> list[dict[str, Any]]:
    r = ctx.counter_range()
    speed = "max by (link) (netmon_link_speed_bits_per_second)"
    capacity = (
        '(ifHighSpeed{link!=""} > 0) * 1000000\n'
        f"  < on(link) group_left() {speed}\n"
        "or on(device, ifIndex)\n"
        f'(ifHighSpeed{{link!=""}} * 0 + 1) * on(link) group_left() {speed}\n'
        "or on(device, ifIndex)\n"
        '(ifHighSpeed{link!=""} > 0) * 1000000'
    )
    util = "\nor\n".join(
        _direction(
            f"netmon_interface_{d}_bits_per_second\n"
            "    / on(device, ifIndex) group_left() netmon:link_capacity_bits_per_second",
            d,
        )
        for d in ("receive", "transmit")
    )
    errors = "\nor\n".join(
        _direction(
            f"rate({err}{r})\n    / ((rate({err}{r}) + rate({pkts}{r})) > 1)",
            d,
        )
        for d, err, pkts in (
            ("receive", "ifInErrors", "ifHCInUcastPkts"),
            ("transmit", "ifOutErrors", "ifHCOutUcastPkts"),
        )
    )
    up_1h = f'sum_over_time(netmon_device_state{{state="up"}}[{ctx.d(3600)}])'
    seen_1h = f'sum_over_time(netmon_device_state{{state=~"up|down|unreachable"}}[{ctx.d(3600)}])'
    rules: list[dict[str, Any]] = [
        {"record": "netmon:link_capacity_bits_per_second", "expr": capacity},
        {"record": "netmon:link_utilisation:ratio", "expr": util},
        {
            "record": "netmon:site_devices:count",
            "expr": "sum by (site, province_code, province, region, state) (netmon_device_state)",
        },
        {
            "record": "netmon:province_devices:count",
            "expr": "sum by (province_code, province, region, state) (netmon_device_state)",
        },
        {
            "record": "netmon:device_availability:ratio_1h",
            "expr": (f"sum without (state) ({up_1h})\n  / (sum without (state) ({seen_1h}) > 0)"),
        },
        {
            "record": "netmon:province_availability:ratio_1h",
            "expr": (
                "avg by (province_code, province, region) (netmon:device_availability:ratio_1h)"
            ),
        },
        {"record": "netmon:interface_errors:ratio", "expr": errors},
    ]
    memory = _memory(ctx)
    if memory:
        rules.append({"record": "netmon:memory_usage:ratio", "expr": memory})
    return [{"name": "netmon-recording", "rules": rules}]


def _memory(ctx: RulesContext) -> str:
    parts = []
    if "netmon_memory_usage_ratio" in ctx.vendor_metrics:
        parts.append("netmon_memory_usage_ratio")
    if {"netmon_memory_used_bytes", "netmon_memory_free_bytes"} <= ctx.vendor_metrics:
        parts.append(
            "netmon_memory_used_bytes\n"
            "  / (netmon_memory_used_bytes + netmon_memory_free_bytes > 0)"
        )
    return "\nor\n".join(parts)
