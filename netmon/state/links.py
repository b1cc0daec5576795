"""Inventory links as the state engine holds them: what each end last said, and the status
that follows from it and from the two end devices' states."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

from netmon.inventory.model import LinkKind
from netmon.state.model import DeviceView, LinkStatus, Status

IF_UP = 1
IF_ADMIN_DOWN = 2

Ends = tuple[int | None, int | None]  # (ifAdminStatus, ifOperStatus); None: not read yet


@dataclass(frozen=True, slots=True)
class LinkInfo:
    name: str
    kind: LinkKind
    a_device: str
    a_interface: str
    b_device: str
    b_interface: str
    speed: int  # bits/s, the inventory's circuit speed


@dataclass(slots=True)
class LinkRecord:
    info: LinkInfo
    ends: dict[str, Ends] = field(default_factory=dict)  # device -> its end's reading
    transitions: deque[float] = field(default_factory=deque)  # oper changes (flapping)
    flaps: int = 0
    read_at: dict[str, float] = field(default_factory=dict)  # dev: when its reading was taken


def link_status(
    record: LinkRecord, views: Mapping[str, DeviceView]
) -> tuple[LinkStatus, tuple[str, ...]]:
    """(status, root causes): dark behind a dead or unreachable end, else what the ends say."""
    info = record.info
    dark: list[str] = []
    unknown = False
    for dev in (info.a_device, info.b_device):
        dv = views.get(dev)
        if dv is None or dv.status is Status.UNKNOWN:
            unknown = True
        elif dv.status is Status.UNREACHABLE:
            dark.extend(dv.causes)
        elif dv.status is not Status.UP:
            dark.append(dev)
    if dark:
        return LinkStatus.DARK, tuple(dict.fromkeys(dark))
    if unknown:
        return LinkStatus.UNKNOWN, ()
    ends = [record.ends.get(d, (None, None)) for d in (info.a_device, info.b_device)]
    if any(adm == IF_ADMIN_DOWN for adm, _ in ends):
        return LinkStatus.ADMIN_DOWN, ()
    if any(op is not None and op != IF_UP for _, op in ends):
        return LinkStatus.DOWN, ()
    if all(op is None for _, op in ends):
        return LinkStatus.UNKNOWN, ()
    return LinkStatus.UP, ()
