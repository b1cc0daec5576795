"""What one SSH/CLI poll of a device tells (frozen values, no parsing or I/O here).

The SSH collector attaches an ``SshData`` to the device's ``PollResult``; the exporter renders
it (``exporters/ssh_families.py``). Units are Prometheus base units except optical power, which
stays in dBm (the unit every transceiver datasheet and threshold uses).
"""

from __future__ import annotations

from dataclasses import dataclass

NO_LIGHT_DBM = -40.0  # what a receiver reports as "-Inf" / no light, as a finite floor
THRESHOLD_NAMES = (
    "rx_low_alarm",
    "rx_low_warning",
    "rx_high_warning",
    "rx_high_alarm",
    "tx_low_alarm",
    "tx_low_warning",
    "tx_high_warning",
    "tx_high_alarm",
)


@dataclass(frozen=True, slots=True)
class Optic:
    interface: str
    rx_dbm: float | None = None
    tx_dbm: float | None = None
    temperature_celsius: float | None = None
    bias_amperes: float | None = None
    thresholds: tuple[tuple[str, float], ...] = ()  # (one of THRESHOLD_NAMES, dBm)


@dataclass(frozen=True, slots=True)
class BgpPeer:
    neighbor: str
    remote_as: str
    state: str
    up: bool
    uptime_seconds: float | None = None
    prefixes: int | None = None


@dataclass(frozen=True, slots=True)
class OspfPeer:
    neighbor_id: str
    interface: str
    state: str
    up: bool


@dataclass(frozen=True, slots=True)
class LldpNeighbor:
    interface: str  # local interface, in the inventory's spelling when it is declared there
    system_name: str
    port: str


@dataclass(frozen=True, slots=True)
class Mismatch:
    """An LLDP neighbour that contradicts the inventory (or that the inventory lacks)."""

    interface: str
    kind: str  # wrong_port | wrong_device | unknown_neighbor | unlisted_link
    expected_device: str
    expected_port: str
    seen_device: str
    seen_port: str
    link: str  # the inventory link's name, "" when the interface has none


@dataclass(frozen=True, slots=True)
class IfRow:
    """An interface of a CLI-only device (SNMP gives these otherwise)."""

    name: str
    description: str = ""
    admin_up: bool = True
    oper_up: bool = False
    speed_bps: int | None = None
    counters: tuple[tuple[str, int], ...] = ()  # IF-MIB name -> value


@dataclass(frozen=True, slots=True)
class SshData:
    collected_at: float  # unix time of the SSH poll
    optics: tuple[Optic, ...] = ()
    bgp: tuple[BgpPeer, ...] = ()
    ospf: tuple[OspfPeer, ...] = ()
    lldp: tuple[LldpNeighbor, ...] = ()
    mismatches: tuple[Mismatch, ...] = ()
    checked_links: int = 0  # link interfaces whose LLDP neighbour was compared
    unparseable: tuple[str, ...] = ()  # kinds (optics, bgp, ...) whose output did not parse
    interfaces: tuple[IfRow, ...] = ()  # CLI-only devices
