"""What the SSH collector needs from the inventory: the devices it polls (those listing
``ssh``; CLI-only ones are scheduled too) and, for the cabling check, the far end of every
link interface and the names of every inventory device."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from collector.model import Target
from collector.targets import targets_from_inventory
from netmon.inventory.model import Inventory, Method

DEFAULT_SSH_INTERVAL = 300.0  # optics and neighbours change slowly; SNMP keeps its own pace
DEFAULT_WORKERS = 8


@dataclass(frozen=True, slots=True)
class SshOptions:
    known_hosts: Path | None = None
    trust_on_first_use: bool = False
    port: int | None = None  # every device on this port (the simulator); None: the profile's
    interval: float = DEFAULT_SSH_INTERVAL
    workers: int = DEFAULT_WORKERS


@dataclass(slots=True)
class Topology:
    # device -> local interface -> (far device, far interface, link name)
    expected: dict[str, dict[str, tuple[str, str, str]]] = field(default_factory=dict)
    devices: dict[str, str] = field(default_factory=dict)  # lower-case name -> device name


def topology(inv: Inventory) -> Topology:
    top = Topology()
    for _, link in inv.links():
        a, b = link.a, link.b
        top.expected.setdefault(a.device, {})[a.interface] = (b.device, b.interface, link.name)
        top.expected.setdefault(b.device, {})[b.interface] = (a.device, a.interface, link.name)
    top.devices = {d.name.lower(): d.name for _, d in inv.devices()}
    return top


def cli_only_targets(inv: Inventory) -> dict[str, Target]:
    """The devices that list ``ssh`` but not ``snmp``."""
    return {
        name: t
        for name, t in targets_from_inventory(inv, method=Method.ssh).items()
        if "snmp" not in t.methods
    }
