"""Turn the inventory into poll targets (effective settings and topology labels, computed once)."""

from __future__ import annotations

from collector.model import Target
from netmon.inventory.model import Inventory, Method, SiteKind


def targets_from_inventory(
    inv: Inventory, *, port_override: int | None = None, method: Method = Method.snmp
) -> dict[str, Target]:
    """One Target per device collected by ``method``; ``port_override`` points every device
    at one port (the simulator and tests serve every device on the same port)."""
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
    return out
