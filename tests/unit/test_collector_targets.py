"""Poll targets from the inventory: effective settings, topology labels, link interfaces."""

from __future__ import annotations

from collector.targets import targets_from_inventory
from netmon.inventory.model import Device, Method, PlacedSite, Site
from netmon.simulator.testbed import small_inventory


def test_targets_carry_effective_settings_and_topology() -> None:
    inv = small_inventory(31)
    targets = targets_from_inventory(inv)
    assert set(targets) == {"bkk-core-01", "cmi-dist-01", "cmi-dist-02", "cmi-5001-edge-01"}
    edge = targets["cmi-5001-edge-01"]
    assert dict(edge.labels) == {
        "province": "Chiang Mai",
        "province_code": "50",
        "district": edge.label("district"),
        "site": "5001",
        "device": "cmi-5001-edge-01",
        "role": edge.role,
        "region": "north",
    }
    assert edge.label("district") != ""  # a district site names its district
    assert targets["cmi-dist-01"].label("district") == ""  # the provincial hall does not
    assert edge.profile is not None and edge.profile.name == "sim-v3"
    assert targets["bkk-core-01"].profile is not None
    assert targets["bkk-core-01"].profile.name == inv.defaults.credentials
    assert edge.port == inv.defaults.snmp_port and edge.interval == inv.defaults.poll_interval
    assert edge.status_interval == inv.defaults.status_interval
    info = dict(edge.info)
    assert info["address"] == "127.31.50.11" and info["name_th"]
    # both ends of every link are polled fast; the link name labels the interface
    assert targets["bkk-core-01"].uplinks == ("xe-0/0/0", "xe-0/0/1")
    assert targets["cmi-dist-01"].uplinks == ("GigabitEthernet0/0/1", "GigabitEthernet0/0/2")
    link = "cmi-5001-edge-01:GigabitEthernet0/0/0--cmi-dist-01:GigabitEthernet0/0/2"
    assert dict(edge.links) == {"GigabitEthernet0/0/0": link}
    assert {t.port for t in targets_from_inventory(inv, port_override=16100).values()} == {16100}


def test_devices_without_snmp_are_not_snmp_targets() -> None:
    inv = small_inventory(31)
    placed = inv.sites[0]
    ssh_only = Device.model_validate(
        {
            "name": "bkk-ssh-01",
            "address": "127.31.0.9",
            "platform": "cisco_ios",
            "role": "core",
            "methods": ["ssh"],
        }
    )
    site = Site.model_validate(
        {**placed.site.model_dump(), "devices": [*placed.site.devices, ssh_only]}
    )
    inv2 = inv.model_copy(
        update={"sites": (PlacedSite(site=site, province=placed.province), *inv.sites[1:])}
    )
    assert "bkk-ssh-01" not in targets_from_inventory(inv2)
    assert "bkk-ssh-01" in targets_from_inventory(inv2, method=Method.ssh)
