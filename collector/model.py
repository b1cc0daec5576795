"""Values shared by the scheduler, the collectors and the exporters.

A ``Target`` is what a collector needs to know about one device (built from the inventory);
a ``PollResult`` is what one poll produced; ``DeviceState`` is the scheduler's running record
of a device, which the exporter renders. Collectors (SNMP now, SSH next) only produce
``PollResult``s, so neither the scheduler nor the exporter knows how data was fetched.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from netmon.inventory.model import CredentialProfile

TOPOLOGY_LABELS = ("province", "province_code", "district", "site", "device", "role", "region")


@dataclass(frozen=True, slots=True)
class Target:
    name: str
    address: str
    port: int
    platform: str
    role: str
    interval: float
    status_interval: float
    profile: CredentialProfile | None
    labels: tuple[tuple[str, str], ...]  # TOPOLOGY_LABELS, in order
    info: tuple[tuple[str, str], ...] = ()  # extra netmon_device_info labels
    uplinks: tuple[str, ...] = ()  # interface names polled fast for ifOperStatus
    links: tuple[tuple[str, str], ...] = ()  # interface name -> inventory link name
    methods: tuple[str, ...] = ("snmp",)
    probe_interval: float = 5.0  # reachability probe (sysUpTime GET) of every device
    probe_only: bool = False  # only probed for reachability (a shard's upstream devices)

    def label(self, name: str) -> str:
        return next((v for k, v in self.labels if k == name), "")


@dataclass(slots=True)
class InterfaceTable:
    """Per-interface data of one poll. ``labels`` and ``cached`` are shared with the collector's
    cache (same objects until the cache is refreshed), so renderers can memoise on identity."""

    indexes: list[str]  # ifIndex, numerically sorted
    labels: dict[str, dict[str, str]]  # ifIndex -> {ifName, ifDescr, ifAlias}
    values: dict[str, dict[str, int]]  # metric name -> ifIndex -> value
    cached: dict[str, dict[str, int]]  # cached metric name -> ifIndex -> value


@dataclass(frozen=True, slots=True)
class VendorSample:
    name: str
    labels: tuple[tuple[str, str], ...]
    value: float


@dataclass(slots=True)
class PollResult:
    """One poll of one device. A failed poll has ``error_kind`` set and no data."""

    ok: bool
    varbinds: int = 0
    requests: int = 0
    error_kind: str | None = None
    error: str | None = None
    system: dict[str, int | str] = field(default_factory=dict)
    interfaces: InterfaceTable | None = None
    vendor: list[VendorSample] = field(default_factory=list)
    rebooted: bool = False
    labels_refreshed: bool = False
    # link interfaces only: ifIndex -> (receive, transmit) bits/s; None: no trustworthy rate
    rates: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)
    counters_at: float = 0.0  # unix time the interface counters were read (0: unknown)

    @classmethod
    def failed(cls, kind: str, message: str, varbinds: int = 0) -> PollResult:
        return cls(ok=False, error_kind=kind, error=message, varbinds=varbinds)


@dataclass(slots=True)
class StatusResult:
    """A fast status poll: ifOperStatus of some interfaces, by ifIndex."""

    ok: bool
    oper_status: dict[str, int] = field(default_factory=dict)
    error_kind: str | None = None
    error: str | None = None


@dataclass(slots=True)
class ProbeResult:
    """A reachability probe: did the device answer a GET of sysUpTime at all?
    ``answered`` is True for any answer (even an error or an SNMPv3 report): the device is
    reachable, whatever else is wrong with it."""

    answered: bool
    error_kind: str | None = None
    error: str | None = None


@dataclass(slots=True)
class DeviceState:
    """The scheduler's running record of one device; the exporter renders these."""

    target: Target
    up: bool = False
    last: PollResult | None = None  # the last successful poll
    last_error_kind: str | None = None
    last_duration: float = 0.0
    last_success: float = 0.0  # unix time
    last_poll: float = 0.0  # unix time the last poll (ok or not) ended
    polls: int = 0
    varbinds: int = 0
    timeouts: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    skipped: int = 0
    reboots: int = 0
    status_polls: int = 0
    status_failures: int = 0
    status_overlay: dict[str, int] = field(default_factory=dict)  # fresher ifOperStatus
    status_time: float = 0.0  # unix time of the overlay
    status_skipped: Counter[str] = field(default_factory=Counter)  # reason: busy | unreachable
    suspended: int = 0  # full polls not started: the device is known not to answer
    probes: int = 0
    probe_failures: int = 0
    answering: bool | None = None  # the last probe's verdict (None: not probed yet)
