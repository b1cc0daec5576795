"""Metric families of the state engine's views (the contract is in ``netmon/state``).

Rules, dashboards and the demo read these series; none of them recomputes a root cause.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from exporters.families import Family, LabelSet
from netmon.state.engine import StateEngine
from netmon.state.maintenance import MaintenancePlan
from netmon.state.model import LinkStatus, Status

STATES = tuple(s.value for s in Status)
LINK_STATES = tuple(s.value for s in LinkStatus)


def state_families(engine: StateEngine, labels: Mapping[str, LabelSet]) -> Iterator[Family]:
    """Families for the devices in ``labels`` (device name -> its topology label set), and
    the links whose downstream (``from``) end is one of them."""
    views = engine.views()
    state = Family(
        "netmon_device_state",
        "gauge",
        "1 for the device's state (up, down = a root cause, unreachable = dark because of "
        "another device, maintenance, unknown = not polled yet), 0 for the others.",
    )
    since = Family(
        "netmon_device_state_since_timestamp_seconds",
        "gauge",
        "Unix time the device's current state began.",
    )
    cause = Family(
        "netmon_device_cause_info",
        "gauge",
        "1 per (dark device, root cause): the device it is unreachable because of.",
    )
    for name, base in labels.items():
        view = views.get(name)
        if view is None:
            continue
        current = view.status.value
        for s in STATES:
            state.samples.append((base.plus((("state", s),)), 1 if s == current else 0))
        since.samples.append((base, view.since))
        for c in view.causes:
            place = engine.place(c)
            cause_view = views.get(c)
            cause_state = cause_view.status.value if cause_view is not None else "unknown"
            extra = (
                ("cause_device", c),
                ("cause_site", place.site),
                ("cause_province_code", place.province_code),
                ("cause_state", cause_state),
            )
            cause.samples.append((base.plus(extra), 1))
    yield state
    yield since
    yield cause

    link_state = Family(
        "netmon_link_state",
        "gauge",
        "1 for the inventory link's state (up; down = both ends answer and an end is admin up, "
        "oper down; dark = an end device is not up; admin_down; unknown), 0 for the others.",
    )
    speed = Family(
        "netmon_link_speed_bits_per_second",
        "gauge",
        "The link's circuit speed from the inventory.",
    )
    flaps = Family(
        "netmon_link_flaps_total",
        "counter",
        "Oper status transitions of the link's ends seen (status polls, full polls, traps).",
    )
    for name, lv in engine.links().items():
        info = engine.link_info(name)
        end = labels.get(info.a_device)
        if end is None:
            continue
        ls = end.plus((("link", name), ("kind", info.kind.value), ("peer_device", info.b_device)))
        current = lv.status.value
        for s in LINK_STATES:
            link_state.samples.append((ls.plus((("state", s),)), 1 if s == current else 0))
        speed.samples.append((ls, info.speed))
        flaps.samples.append((ls, lv.flaps))
    yield link_state
    yield speed
    yield flaps


def maintenance_families(plan: MaintenancePlan, now: float) -> Iterator[Family]:
    active = {w.name for w in plan.active(now)}
    fam = Family(
        "netmon_maintenance_active",
        "gauge",
        "1 while the maintenance window is active (inventory/maintenance.yaml), else 0.",
    )
    info = Family(
        "netmon_maintenance_info",
        "gauge",
        "A maintenance window: its scope, targets, who and why.",
    )
    for w in plan.windows:
        base = LabelSet((("window", w.name), ("scope", w.scope)))
        fam.samples.append((base, 1 if w.name in active else 0))
        extra = (("targets", ",".join(w.targets)), ("who", w.who), ("why", w.why))
        info.samples.append((LabelSet(base.pairs + extra), 1))
    yield fam
    yield info
