"""The state's value types: what a device or link is now, and what changed (``Event``)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    UP = "up"
    DOWN = "down"
    UNREACHABLE = "unreachable"
    MAINTENANCE = "maintenance"
    UNKNOWN = "unknown"


class LinkStatus(StrEnum):
    UP = "up"
    DOWN = "down"  # both end devices answer; an end is admin up, oper down
    DARK = "dark"  # an end device is not up: that device is the cause
    ADMIN_DOWN = "admin_down"
    UNKNOWN = "unknown"


class Cause(StrEnum):
    """What told netmon about a change."""

    POLL = "poll"  # a full poll
    STATUS = "status"  # the fast ifOperStatus poll of link interfaces
    PROBE = "probe"  # a reachability probe (scheduled, or to confirm a neighbour's failure)
    TRAP = "trap"  # an SNMP trap or inform (then confirmed by a poll)
    UPSTREAM = "upstream"  # another device's change made this one dark or reachable again
    MAINTENANCE = "maintenance"  # a window began or ended
    INVENTORY = "inventory"  # the device or link was added or removed


@dataclass(frozen=True, slots=True)
class DeviceView:
    name: str
    status: Status
    since: float  # unix time the status began
    causes: tuple[str, ...] = ()  # root-cause devices of an unreachable one (primary first)
    cause_status: Status | None = None  # DOWN or MAINTENANCE for an unreachable device
    window: str | None = None  # the maintenance window's name (maintenance or dark behind one)
    reason: Cause = Cause.POLL
    evidence: str = ""  # e.g. "timeout after 2 tries", "answered sysUpTime"


@dataclass(frozen=True, slots=True)
class LinkView:
    name: str
    status: LinkStatus
    since: float
    causes: tuple[str, ...] = ()  # the end devices that are not up (DARK)
    flaps: int = 0  # oper transitions seen since start
    flapping: bool = False


@dataclass(frozen=True, slots=True)
class Place:
    """Where a device is, for events and explanations (from the inventory)."""

    device: str
    site: str
    site_kind: str
    province_code: str
    province: str
    region: str
    name_th: str
    name_en: str


EVENT_KINDS = ("device", "link", "reboot", "flapping")


@dataclass(frozen=True, slots=True)
class Event:
    """One state change. ``id`` is derived from what changed and when it was decided, so a
    resend keeps it (dedup by id); two replicas decide the same change at different times, so
    their ids differ (an HA pair publishes one of the two: ``exporters/mqtt_ha.py``)."""

    kind: str  # one of EVENT_KINDS
    subject: str  # device name, or link name for link/flapping events
    time: float  # unix time of the decision
    previous: str
    current: str
    cause: Cause
    place: Place  # the device (for a link: its downstream end)
    cause_device: str | None = None
    evidence: str = ""
    shard: str | None = None  # the deciding replica's shard (`netmon run --shard K/N`): "K"
    id: str = field(default="")

    def __post_init__(self) -> None:
        if self.kind not in EVENT_KINDS:
            raise ValueError(f"unknown event kind {self.kind!r}")
        if not self.id:
            key = f"{self.kind}|{self.subject}|{self.previous}|{self.current}|{self.time:.3f}"
            digest = hashlib.blake2b(key.encode(), digest_size=12).hexdigest()
            object.__setattr__(self, "id", digest)

    def to_json(self) -> dict[str, Any]:
        p = self.place
        return {
            "id": self.id,
            "kind": self.kind,
            "subject": self.subject,
            "time": round(self.time, 3),
            "previous": self.previous,
            "current": self.current,
            "cause": self.cause.value,
            "cause_device": self.cause_device,
            "evidence": self.evidence,
            "device": p.device,
            "site": p.site,
            "site_kind": p.site_kind,
            "province_code": p.province_code,
            "province": p.province,
            "region": p.region,
            "name_th": p.name_th,
            "name_en": p.name_en,
            "shard": self.shard,
        }
