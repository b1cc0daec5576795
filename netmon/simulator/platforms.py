"""Per-platform data for the simulated agents: identity, interface naming and numbering, and the
vendor health objects (CPU, memory, temperature). Data, not code: the MIB builder reads it.

Health objects are ``(oid, kind, tag, arg)`` where kind is one of ``cpu`` (percent), ``mem_used``
and ``mem_free`` (bytes, arg = pool total), ``mem_pct`` (percent), ``mem_used_units`` /
``mem_total_units`` (HOST-RESOURCES allocation units of 1 KiB, arg = total KiB), ``temp``
(degrees C), ``temp_deci`` (tenths of a degree C), ``text`` (arg = a string), ``oid`` (arg = a
dotted OID) and ``int`` (arg = a constant).
"""

from __future__ import annotations

from dataclasses import dataclass

from netmon.inventory.model import Platform
from netmon.snmp import ber

OID = tuple[int, ...]
Health = tuple[OID, str, int, object]


def _o(dotted: str) -> OID:
    return tuple(int(x) for x in dotted.split("."))


@dataclass(frozen=True)
class PlatformProfile:
    descr: str  # sysDescr; {name} is replaced by the device name
    object_id: OID  # sysObjectID
    oui: bytes  # first 3 bytes of ifPhysAddress
    port_name: str  # str.format pattern for physical ports, {i} from 0
    port_index_base: int  # ifIndex of port i = base + i (large on Huawei/Juniper)
    mgmt_name: str
    mgmt_index: int
    loopback_name: str
    loopback_index: int
    default_speed: int  # bits/s of a physical port the inventory gives no speed for
    health: tuple[Health, ...]


_G = ber.GAUGE32
_I = ber.INTEGER
_S = ber.OCTET_STRING

_CISCO_HEALTH: tuple[Health, ...] = (
    # CISCO-PROCESS-MIB cpmCPUTotal1minRev (.7) / cpmCPUTotal5minRev (.8), cpu index 1.
    (_o("1.3.6.1.4.1.9.9.109.1.1.1.1.7.1"), "cpu", _G, 0),
    (_o("1.3.6.1.4.1.9.9.109.1.1.1.1.8.1"), "cpu", _G, 0),
    # CISCO-MEMORY-POOL-MIB ciscoMemoryPoolName (.2) / Used (.5) / Free (.6); 1 processor, 2 I/O.
    (_o("1.3.6.1.4.1.9.9.48.1.1.1.2.1"), "text", _S, "Processor"),
    (_o("1.3.6.1.4.1.9.9.48.1.1.1.2.2"), "text", _S, "I/O"),
    (_o("1.3.6.1.4.1.9.9.48.1.1.1.5.1"), "mem_used", _G, 1_610_612_736),
    (_o("1.3.6.1.4.1.9.9.48.1.1.1.5.2"), "mem_used", _G, 268_435_456),
    (_o("1.3.6.1.4.1.9.9.48.1.1.1.6.1"), "mem_free", _G, 1_610_612_736),
    (_o("1.3.6.1.4.1.9.9.48.1.1.1.6.2"), "mem_free", _G, 268_435_456),
    # CISCO-ENVMON-MIB ciscoEnvMonTemperatureStatusDescr (.2) / Value (.3) / State (.6).
    (_o("1.3.6.1.4.1.9.9.13.1.3.1.2.1"), "text", _S, "Inlet Temp Sensor"),
    (_o("1.3.6.1.4.1.9.9.13.1.3.1.3.1"), "temp", _G, 0),
    (_o("1.3.6.1.4.1.9.9.13.1.3.1.6.1"), "int", _I, 1),
)

_HUAWEI_ENTITY = 16842753  # entPhysicalIndex of the main board
_HUAWEI_HEALTH: tuple[Health, ...] = (
    # HUAWEI-ENTITY-EXTENT-MIB hwEntityCpuUsage (.5) / hwEntityMemUsage (.7) / Temperature (.11).
    (_o(f"1.3.6.1.4.1.2011.5.25.31.1.1.1.1.5.{_HUAWEI_ENTITY}"), "cpu", _I, 0),
    (_o(f"1.3.6.1.4.1.2011.5.25.31.1.1.1.1.7.{_HUAWEI_ENTITY}"), "mem_pct", _I, 0),
    (_o(f"1.3.6.1.4.1.2011.5.25.31.1.1.1.1.11.{_HUAWEI_ENTITY}"), "temp", _I, 0),
)

_JUNIPER_HEALTH: tuple[Health, ...] = (
    # JUNIPER-MIB jnxOperatingDescr (.5) / Temp (.7) / CPU (.8) / Buffer (.11), Routing Engine 0.
    (_o("1.3.6.1.4.1.2636.3.1.13.1.5.9.1.0.0"), "text", _S, "Routing Engine 0"),
    (_o("1.3.6.1.4.1.2636.3.1.13.1.7.9.1.0.0"), "temp", _G, 0),
    (_o("1.3.6.1.4.1.2636.3.1.13.1.8.9.1.0.0"), "cpu", _G, 0),
    (_o("1.3.6.1.4.1.2636.3.1.13.1.11.9.1.0.0"), "mem_pct", _G, 0),
)

_HR_MEM_KIB = 1_048_576
_HOST_RESOURCES: tuple[Health, ...] = (
    # HOST-RESOURCES-MIB hrProcessorLoad, hrStorageType/Descr/AllocationUnits/Size/Used (RAM
    # 65536, hrStorageRam, as RouterOS numbers it).
    (_o("1.3.6.1.2.1.25.2.3.1.2.65536"), "oid", ber.OBJECT_IDENTIFIER, "1.3.6.1.2.1.25.2.1.2"),
    (_o("1.3.6.1.2.1.25.2.3.1.3.65536"), "text", _S, "main memory"),
    (_o("1.3.6.1.2.1.25.2.3.1.4.65536"), "int", _I, 1024),
    (_o("1.3.6.1.2.1.25.2.3.1.5.65536"), "mem_total_units", _I, _HR_MEM_KIB),
    (_o("1.3.6.1.2.1.25.2.3.1.6.65536"), "mem_used_units", _I, _HR_MEM_KIB),
    (_o("1.3.6.1.2.1.25.3.3.1.2.1"), "cpu", _I, 0),
)

_MIKROTIK_HEALTH: tuple[Health, ...] = (
    # MIKROTIK-MIB mtxrHlTemperature (tenths of a degree C).
    (_o("1.3.6.1.4.1.14988.1.1.3.10.0"), "temp_deci", _I, 0),
    *_HOST_RESOURCES,
)

PLATFORMS: dict[Platform, PlatformProfile] = {
    Platform.cisco_ios: PlatformProfile(
        descr=(
            "Cisco IOS Software, C2900 Software (C2900-UNIVERSALK9-M), Version 15.7(3)M8, "
            "RELEASE SOFTWARE (fc1)\r\nTechnical Support: http://www.cisco.com/techsupport\r\n"
            "Copyright (c) 1986-2021 by Cisco Systems, Inc.\r\nCompiled Fri 05-Feb-21 03:12 "
            "by prod_rel_team"
        ),
        object_id=_o("1.3.6.1.4.1.9.1.1045"),
        oui=bytes.fromhex("001b54"),
        port_name="GigabitEthernet0/{i}",
        port_index_base=1,
        mgmt_name="FastEthernet0",
        mgmt_index=20,
        loopback_name="Loopback0",
        loopback_index=21,
        default_speed=1_000_000_000,
        health=_CISCO_HEALTH,
    ),
    Platform.cisco_iosxe: PlatformProfile(
        descr=(
            "Cisco IOS Software [Amsterdam], ISR Software (X86_64_LINUX_IOSD-UNIVERSALK9-M), "
            "Version 17.3.4a, RELEASE SOFTWARE (fc3)\r\nTechnical Support: "
            "http://www.cisco.com/techsupport\r\nCopyright (c) 1986-2021 by Cisco Systems, Inc."
            "\r\nCompiled Tue 20-Jul-21 05:59 by mcpre"
        ),
        object_id=_o("1.3.6.1.4.1.9.1.1861"),
        oui=bytes.fromhex("00a3d1"),
        port_name="GigabitEthernet0/0/{i}",
        port_index_base=1,
        mgmt_name="GigabitEthernet0",
        mgmt_index=30,
        loopback_name="Loopback0",
        loopback_index=31,
        default_speed=1_000_000_000,
        health=_CISCO_HEALTH,
    ),
    Platform.huawei_vrp: PlatformProfile(
        descr=(
            "Huawei Versatile Routing Platform Software\r\nVRP (R) software, Version 8.180 "
            "(NE40E V800R011C10SPC100)\r\nCopyright (C) 2012-2019 Huawei Technologies Co., Ltd."
            "\r\nHUAWEI NE40E-M2K"
        ),
        object_id=_o("1.3.6.1.4.1.2011.2.62.2.9"),
        oui=bytes.fromhex("00e0fc"),
        port_name="GigabitEthernet0/3/{i}",
        port_index_base=129,
        mgmt_name="GigabitEthernet0/0/0",
        mgmt_index=2,
        loopback_name="LoopBack0",
        loopback_index=3,
        default_speed=1_000_000_000,
        health=_HUAWEI_HEALTH,
    ),
    Platform.juniper_junos: PlatformProfile(
        descr=(
            "Juniper Networks, Inc. mx204 internet router, kernel JUNOS 21.4R3-S3.4, Build date: "
            "2023-03-02 19:20:07 UTC Copyright (c) 1996-2023 Juniper Networks, Inc."
        ),
        object_id=_o("1.3.6.1.4.1.2636.1.1.1.2.149"),
        oui=bytes.fromhex("000585"),
        port_name="xe-0/1/{i}",
        port_index_base=513,
        mgmt_name="fxp0",
        mgmt_index=1,
        loopback_name="lo0",
        loopback_index=16,
        default_speed=10_000_000_000,
        health=_JUNIPER_HEALTH,
    ),
    Platform.mikrotik_routeros: PlatformProfile(
        descr="RouterOS CCR2004-1G-12S+2XS",
        object_id=_o("1.3.6.1.4.1.14988.1"),
        oui=bytes.fromhex("4c5e0c"),
        port_name="sfp-sfpplus{n}",
        port_index_base=2,
        mgmt_name="ether1",
        mgmt_index=1,
        loopback_name="lo",
        loopback_index=40,
        default_speed=1_000_000_000,
        health=_MIKROTIK_HEALTH,
    ),
}

FALLBACK_HEALTH = _HOST_RESOURCES


def port_name(profile: PlatformProfile, i: int) -> str:
    return profile.port_name.format(i=i, n=i + 1)
