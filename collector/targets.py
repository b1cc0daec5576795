"""Turn the inventory into poll targets (effective settings and topology labels, computed once)."""

from __future__ import annotations

import dataclasses

from collector.model import Target
from collector.shards import Shard
from netmon.inventory.model import Inventory, Method, SiteKind
from netmon.inventory.topology import Topology


def targets_from_inventory(
    inv: Inventory,
    *,
    port_override: int | None = None,
    method: Method = Method.snmp,
    shard: Shard | None = None,
) -> dict[str, Target]:
    """One Target per device collected by ``method``; ``port_override`` points every device
    at one port (the simulator and tests serve every device on the same port). With ``shard``
    only its provinces' devices, plus their upstream devices up to the centre as probe-only
    targets."""
    link_ends: dict[str, dict[str, str]] = {}
    for _, link in inv.links():
        for end in (link.a, link.b):
            link_ends.setdefault(end.device, {})[end.interface] = link.name
    defaults = inv.defaults
    out: dict[str, Target] = {}
    for placed, device in inv.devices():
        if method not in device.methods:
            continue
        site, province = placed.site, placed.province
        profile_name = device.credentials or defaults.credentials
        profile = inv.profile(profile_name) if profile_name else None
        labels = (
            ("province", province.name_en),
            ("province_code", province.code),
            ("district", site.name_en if site.kind is SiteKind.district else ""),
            ("site", site.code),
            ("device", device.name),
            ("role", device.role.value),
            ("region", province.region.value),
        )
        info = (
            ("platform", device.platform.value),
            ("address", device.address),
            ("site_kind", site.kind.value),
            ("name_th", site.name_th),
            ("name_en", site.name_en),
            ("lat", f"{site.lat:.5f}"),
            ("lon", f"{site.lon:.5f}"),
        )
        ends = link_ends.get(device.name, {})
        out[device.name] = Target(
            name=device.name,
            address=device.address,
            port=port_override or inv.port_of(device),
            platform=device.platform.value,
            role=device.role.value,
            interval=inv.interval_of(device),
            status_interval=defaults.status_interval,
            probe_interval=defaults.probe_interval,
            profile=profile,
            labels=labels,
            info=info,
            uplinks=tuple(sorted(ends)),
            links=tuple(sorted(ends.items())),
            methods=tuple(m.value for m in device.methods),
        )
    return out if shard is None else select_shard(inv, out, shard)


def select_shard(inv: Inventory, targets: dict[str, Target], shard: Shard) -> dict[str, Target]:
    """The shard's own devices, and every device they uplink through (transitively) that
    another shard owns, marked ``probe_only``."""
    owned = {name for name, t in targets.items() if shard.owns(t.label("province_code"))}
    topo = Topology.build(inv)
    upstream: set[str] = set()
    todo = list(owned)
    while todo:
        for parent in topo.parents(todo.pop()):
            if parent not in owned and parent not in upstream:
                upstream.add(parent)
                todo.append(parent)
    out = {name: targets[name] for name in sorted(owned)}
    for name in sorted(upstream):
        if name in targets:  # an upstream device not polled by this method is left out
            out[name] = dataclasses.replace(targets[name], probe_only=True)
    return out
