"""Shared builders for the collector/exporter unit tests (targets and fake device data)."""

from __future__ import annotations

from collector.model import Target
from collector.transport import Value
from netmon.inventory.model import CredentialProfile

PROFILE = CredentialProfile.model_validate(
    {
        "name": "lab",
        "snmp": {"version": "2c", "community": "env:NETMON_TEST_COMMUNITY"},
        "snmp_timing": {"timeout": 0.2, "retries": 0},
    }
)


def target(
    name: str = "d1001-edge1",
    *,
    interval: float = 60.0,
    status_interval: float = 10.0,
    platform: str = "cisco_ios",
    uplinks: tuple[str, ...] = (),
    province_code: str = "10",
) -> Target:
    return Target(
        name=name,
        address="127.0.0.1",
        port=161,
        platform=platform,
        role="edge",
        interval=interval,
        status_interval=status_interval,
        profile=PROFILE,
        labels=(
            ("province", "Bangkok"),
            ("province_code", province_code),
            ("district", "Phra Nakhon"),
            ("site", "1001"),
            ("device", name),
            ("role", "edge"),
            ("region", "central"),
        ),
        info=(("platform", platform), ("address", "127.0.0.1"), ("name_th", "พระนคร")),
        uplinks=uplinks,
        links=tuple((u, f"{name}:{u}--up:x") for u in uplinks),
    )


def device_data(
    interfaces: dict[int, str],
    *,
    uptime: int = 1000,
    octets: int = 5,
    if_number: int | None = None,
    last_change: int = 0,
) -> dict[str, Value]:
    """A plausible agent: system scalars + IF-MIB rows for ``{ifIndex: ifName}``."""
    data: dict[str, Value] = {
        "1.3.6.1.2.1.1.3.0": uptime,
        "1.3.6.1.2.1.1.5.0": "router",
        "1.3.6.1.2.1.1.1.0": "Cisco IOS",
        "1.3.6.1.2.1.1.2.0": "1.3.6.1.4.1.9.1.1",
        "1.3.6.1.2.1.2.1.0": if_number if if_number is not None else len(interfaces),
        "1.3.6.1.2.1.31.1.5.0": last_change,
    }
    for i, name in interfaces.items():
        data[f"1.3.6.1.2.1.31.1.1.1.1.{i}"] = name
        data[f"1.3.6.1.2.1.2.2.1.2.{i}"] = f"{name} descr"
        data[f"1.3.6.1.2.1.31.1.1.1.18.{i}"] = f'alias "{name}"'
        data[f"1.3.6.1.2.1.2.2.1.3.{i}"] = 6
        data[f"1.3.6.1.2.1.31.1.1.1.15.{i}"] = 1000
        for col in ("6", "10", "7", "11"):
            data[f"1.3.6.1.2.1.31.1.1.1.{col}.{i}"] = octets * i
        for col in ("14", "20", "13", "19"):
            data[f"1.3.6.1.2.1.2.2.1.{col}.{i}"] = i
        data[f"1.3.6.1.2.1.2.2.1.8.{i}"] = 1
        data[f"1.3.6.1.2.1.2.2.1.7.{i}"] = 1
        data[f"1.3.6.1.2.1.2.2.1.9.{i}"] = 100 + i
    # Cisco CPU (5 min) and a temperature sensor
    data["1.3.6.1.4.1.9.9.109.1.1.1.1.8.1"] = 7
    data["1.3.6.1.4.1.9.9.13.1.3.1.3.1006"] = 41
    return data
