"""SNMPv3 for simulated devices: a USM engine per device (``netmon.snmp.usm``), with an engine
ID derived from the device name so it is stable across restarts."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from netmon.inventory.model import SnmpV3
from netmon.simulator.backbone import V3Agent

# RFC 3411 snmpEngineID: 0x80 | enterprise (net-snmp's 8072), a format byte, then the data.
_ENTERPRISE = bytes.fromhex("80001f88")
_FORMAT_TEXT = 4
_FORMAT_OCTETS = 5


def engine_id(device: str) -> bytes:
    """The device's snmpEngineID: its name as text (format 4) if it fits in 27 bytes, else
    16 bytes of a hash of it (format 5)."""
    raw = device.encode()
    if len(raw) <= 27:
        return _ENTERPRISE + bytes((_FORMAT_TEXT,)) + raw
    return _ENTERPRISE + bytes((_FORMAT_OCTETS,)) + hashlib.sha256(raw).digest()[:16]


def make_v3_agent(device: str, snmp: SnmpV3, resolve: Callable[[str], str]) -> V3Agent:
    from netmon.snmp.usm import UsmAgent, UsmUser

    user = UsmUser(
        name=snmp.username.encode(),
        auth=snmp.auth_protocol,
        auth_password=resolve(snmp.auth_key).encode(),
        priv=snmp.priv_protocol,
        priv_password=resolve(snmp.priv_key).encode(),
    )
    return UsmAgent(engine_id(device), [user])
