"""A four-device inventory for tests and quick experiments with the simulator: the centre's
Juniper core, Chiang Mai's Huawei hub with a MikroTik backup router, and a Cisco district edge
router on SNMPv3. ``small_inventory()`` gives the model; ``write_inventory()`` writes it as an
inventory directory the loader reads (YAML files; JSON is YAML)."""

from __future__ import annotations

import json
from pathlib import Path

from netmon.inventory.model import (
    CentreFile,
    CredentialProfile,
    Defaults,
    DefaultsFile,
    Device,
    Endpoint,
    Interface,
    Inventory,
    Link,
    LinkKind,
    PlacedSite,
    Platform,
    ProvinceInfo,
    Region,
    Role,
    Site,
    SiteKind,
    SnmpV2c,
    SnmpV3,
)
from netmon.simulator.secrets import SIMULATION_SECRETS

# The test bed's secrets (env references in the profiles). They protect loopback only.
SECRETS = SIMULATION_SECRETS
V3_USER = "netmon"


def small_inventory(net: int = 31) -> Inventory:
    """Devices on 127.<net>.x.y (pick ``net`` so parallel test runs do not collide)."""
    ip = f"127.{net}"
    v2c = CredentialProfile(
        name="sim-v2c", snmp=SnmpV2c(version="2c", community="env:NETMON_SIM_COMMUNITY")
    )
    v3 = CredentialProfile(
        name="sim-v3",
        snmp=SnmpV3(
            version="3",
            username=V3_USER,
            auth_protocol="SHA-256",
            auth_key="env:NETMON_SIM_V3_AUTH",
            priv_protocol="AES-128",
            priv_key="env:NETMON_SIM_V3_PRIV",
        ),
    )
    core = Device(
        name="bkk-core-01",
        address=f"{ip}.0.1",
        platform=Platform.juniper_junos,
        role=Role.core,
        interfaces=(
            Interface(name="xe-0/0/0", speed=10_000_000_000, description="to Chiang Mai"),
            Interface(name="xe-0/0/1", speed=10_000_000_000),
        ),
    )
    centre = Site(
        code="centre",
        kind=SiteKind.centre,
        name_th="ศูนย์เทคโนโลยีสารสนเทศและการสื่อสาร กระทรวงมหาดไทย",
        name_en="MOI ICT Centre",
        lat=13.7563,
        lon=100.5018,
        devices=(core,),
    )
    hub = Device(
        name="cmi-dist-01",
        address=f"{ip}.50.1",
        platform=Platform.huawei_vrp,
        role=Role.distribution,
        interfaces=(
            Interface(name="GigabitEthernet0/0/1", speed=1_000_000_000),
            Interface(name="GigabitEthernet0/0/2", speed=1_000_000_000),
        ),
    )
    backup = Device(
        name="cmi-dist-02",
        address=f"{ip}.50.2",
        platform=Platform.mikrotik_routeros,
        role=Role.distribution,
        interfaces=(Interface(name="sfp-sfpplus1", speed=1_000_000_000),),
    )
    edge = Device(
        name="cmi-5001-edge-01",
        address=f"{ip}.50.11",
        platform=Platform.cisco_iosxe,
        role=Role.edge,
        credentials="sim-v3",
        interfaces=(Interface(name="GigabitEthernet0/0/0", speed=100_000_000),),
    )

    def link(a: tuple[str, str], b: tuple[str, str], speed: int, kind: LinkKind) -> Link:
        return Link.model_validate(
            {
                "from": Endpoint(device=a[0], interface=a[1]),
                "to": Endpoint(device=b[0], interface=b[1]),
                "speed": speed,
                "kind": kind,
            }
        )

    hub_site = Site(
        code="50",
        kind=SiteKind.province,
        name_th="ศาลากลางจังหวัดเชียงใหม่",
        name_en="Chiang Mai Provincial Hall",
        lat=18.7883,
        lon=98.9853,
        devices=(hub, backup),
        links=(
            link(
                ("cmi-dist-01", "GigabitEthernet0/0/1"),
                ("bkk-core-01", "xe-0/0/0"),
                1_000_000_000,
                LinkKind.uplink,
            ),
            link(
                ("cmi-dist-02", "sfp-sfpplus1"),
                ("bkk-core-01", "xe-0/0/1"),
                1_000_000_000,
                LinkKind.backup,
            ),
        ),
    )
    district = Site(
        code="5001",
        kind=SiteKind.district,
        name_th="เมืองเชียงใหม่",
        name_en="Mueang Chiang Mai",
        lat=18.7904,
        lon=98.9847,
        devices=(edge,),
        links=(
            link(
                ("cmi-5001-edge-01", "GigabitEthernet0/0/0"),
                ("cmi-dist-01", "GigabitEthernet0/0/2"),
                100_000_000,
                LinkKind.uplink,
            ),
        ),
    )
    bangkok = ProvinceInfo(
        code="10", name_th="กรุงเทพมหานคร", name_en="Bangkok", region=Region.central
    )
    chiang_mai = ProvinceInfo(
        code="50", name_th="เชียงใหม่", name_en="Chiang Mai", region=Region.north
    )
    return Inventory(
        defaults=Defaults(credentials="sim-v2c"),
        profiles=(v2c, v3),
        provinces=(chiang_mai,),
        sites=(
            PlacedSite(site=centre, province=bangkok),
            PlacedSite(site=hub_site, province=chiang_mai),
            PlacedSite(site=district, province=chiang_mai),
        ),
    )


def _dump(model: object) -> str:
    data = model.model_dump(mode="json", by_alias=True, exclude_defaults=True)  # type: ignore[attr-defined]
    return json.dumps(data, ensure_ascii=False, indent=1) + "\n"


def write_inventory(root: Path, net: int = 31) -> Inventory:
    """Write ``small_inventory(net)`` as an inventory directory under ``root``."""
    inv = small_inventory(net)
    (root / "provinces").mkdir(parents=True, exist_ok=True)
    (root / "defaults.yaml").write_text(_dump(DefaultsFile(defaults=inv.defaults)))
    creds = {"profiles": [p.model_dump(mode="json", exclude_defaults=True) for p in inv.profiles]}
    (root / "credentials.yaml").write_text(json.dumps(creds, indent=1) + "\n")
    centre = inv.sites[0].site
    (root / "centre.yaml").write_text(_dump(CentreFile(site=centre)))
    sites = [json.loads(_dump(ps.site)) for ps in inv.sites[1:]]
    province = json.loads(_dump(inv.provinces[0]))
    text = json.dumps({"province": province, "sites": sites}, ensure_ascii=False, indent=1)
    (root / "provinces" / "50-chiang-mai.yaml").write_text(text + "\n")
    return inv
