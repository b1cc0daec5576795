"""Hand-built inventories for topology and state tests (no files, no secrets)."""

from __future__ import annotations

import itertools

from netmon.inventory.model import (
    Defaults,
    Device,
    Endpoint,
    Inventory,
    Link,
    LinkKind,
    PlacedSite,
    ProvinceInfo,
    Region,
    Site,
    SiteKind,
)

PROV = ProvinceInfo(code="50", name_th="เชียงใหม่", name_en="Chiang Mai", region=Region.north)
_n = itertools.count()  # shared by every test module: never runs out


def _address(n: int) -> str:
    return f"127.9.{n // 250}.{n % 250 + 1}"


def dev(name: str, role: str = "edge") -> Device:
    return Device(name=name, address=_address(next(_n)), platform="cisco_ios", role=role)


def up(a: str, b: str, kind: LinkKind = LinkKind.uplink) -> Link:
    return Link(
        a=Endpoint(device=a, interface=f"to-{b}"), b=Endpoint(device=b, interface=f"to-{a}"),
        speed=10**9, kind=kind,
    )  # fmt: skip


def site(code: str, kind: SiteKind, devices: list[Device], links: list[Link]) -> PlacedSite:
    s = Site(code=code, kind=kind, name_th="ท", name_en="T", lat=18.0, lon=99.0,
             devices=tuple(devices), links=tuple(links))  # fmt: skip
    return PlacedSite(site=s, province=PROV)


def backbone(extra: list[PlacedSite] | None = None) -> Inventory:
    """c1, c2 at the centre; hub 50 (core p1 dual-homed, dist s1); districts 5001 (behind s1,
    backup to p1), 5002 (behind s1); hub 51 single-homed with district 5101."""
    sites = [
        site("centre", SiteKind.centre, [dev("c1", "core"), dev("c2", "core")], []),
        site("50", SiteKind.province, [dev("p1", "core"), dev("s1", "distribution")],
             [up("p1", "c1"), up("p1", "c2", LinkKind.backup), up("s1", "p1")]),
        site("5001", SiteKind.district, [dev("e1")],
             [up("e1", "s1"), up("e1", "p1", LinkKind.backup)]),
        site("5002", SiteKind.district, [dev("e2")], [up("e2", "s1")]),
        site("51", SiteKind.province, [dev("p2", "core")], [up("p2", "c2")]),
        site("5101", SiteKind.district, [dev("e3")], [up("e3", "p2")]),
        *(extra or []),
    ]  # fmt: skip
    return Inventory(defaults=Defaults(), profiles=(), provinces=(PROV,), sites=tuple(sites))
