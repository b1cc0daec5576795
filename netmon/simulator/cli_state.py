"""What a simulated device's CLI reports, derived from the same state its SNMP agent serves.

- Optics on every link interface: Rx/Tx power drift slowly (a few tenths of a dB over hours);
  ``degrade`` lowers an optic's Rx by some dB (a dirty connector, a bent fibre); a link that is
  down receives no light (``-Inf``).
- BGP and OSPF neighbours: one of each over every link, up while the link is up. A BGP session
  that is down stays listed (Active); an OSPF neighbour that is down disappears, as on a device.
- LLDP: the far end of each link that is up (its device name and port), unless a miscabling
  is injected, which makes the interface see another device/port.
- Faults: ``hang`` (a command's output stops half-way and the session then stays silent) and
  ``garbage`` (one kind of command answers with text no template reads).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from netmon.simulator import traffic
from netmon.simulator.backbone import Backbone, SimulatorError
from netmon.simulator.device import SimDevice, SimInterface

LINK_ROLES = ("uplink", "downlink", "backup")
KINDS = ("optics", "bgp", "ospf", "lldp")
# Typical 1G/10G LR module thresholds (dBm), the same for every simulated optic.
RX_THRESHOLDS = {"high_alarm": 2.0, "high_warning": 0.5, "low_warning": -14.0, "low_alarm": -16.0}
TX_THRESHOLDS = {"high_alarm": 1.5, "high_warning": 0.5, "low_warning": -7.5, "low_alarm": -8.5}


@dataclass
class OpticState:
    rx: float | None  # dBm; None: no light
    tx: float
    temperature: float
    bias_ma: float


@dataclass
class Peer:
    interface: str  # local
    device: str  # far end
    port: str
    up: bool
    since: float  # unix time of the last change


@dataclass
class CliFaults:
    hang: bool = False
    garbage: set[str] = field(default_factory=set)  # kinds answering garbage
    degraded: dict[str, float] = field(default_factory=dict)  # interface -> dB of Rx loss
    miscabled: dict[str, tuple[str, str]] = field(default_factory=dict)  # iface -> (dev, port)

    def active(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.hang:
            out["ssh_hang"] = True
        if self.garbage:
            out["ssh_garbage"] = sorted(self.garbage)
        if self.degraded:
            out["optics_degraded_db"] = dict(self.degraded)
        if self.miscabled:
            out["miscabled"] = {i: f"{d}:{p}" for i, (d, p) in self.miscabled.items()}
        return out


def router_id(name: str) -> str:
    h = int(traffic.seeded(name, "router-id") * 2**16)
    return f"10.255.{h >> 8}.{h & 0xFF}"


def link_address(a: str, b: str, mine: str) -> str:
    """The /30 of a link and this end's address in it (stable for the pair)."""
    lo, hi = sorted((a, b))
    n = int(traffic.seeded(lo, hi, "p2p") * 2**20) * 4
    base = f"10.{64 + (n >> 16) % 64}.{(n >> 8) & 0xFF}.{n & 0xFC}"
    octets = base.split(".")
    last = int(octets[3]) + (1 if mine == lo else 2)
    return ".".join([*octets[:3], str(last)])


def asn(name: str) -> int:
    return 64512 + int(traffic.seeded(name, "asn") * 1000)


class CliView:
    """One device's CLI facts at a given time (read-only over the backbone's state)."""

    def __init__(self, backbone: Backbone, device: str, faults: CliFaults) -> None:
        self.backbone = backbone
        self.dev: SimDevice = backbone.node(device).dev
        self.faults = faults

    @property
    def dead(self) -> bool:
        return bool(self.backbone.node(self.dev.name).faults.dead)

    def link_interfaces(self) -> list[SimInterface]:
        return [i for i in self.dev.interfaces if i.spec.role in LINK_ROLES]

    def optic(self, itf: SimInterface, now: float) -> OpticState:
        seed = f"{self.dev.name}/{itf.spec.name}"
        base_rx = -3.0 - 5.0 * traffic.seeded(seed, "rx")
        base_tx = -2.0 - 3.0 * traffic.seeded(seed, "tx")
        # drift: two slow waves (periods of hours), a few tenths of a dB
        phase = traffic.seeded(seed, "phase") * 2 * math.pi
        drift = 0.25 * math.sin(now / 5400 + phase) + 0.1 * math.sin(now / 1300 + 2 * phase)
        temp = 30 + 12 * traffic.seeded(seed, "temp") + 4 * traffic.profile_at(now)
        bias = 6 + 14 * traffic.seeded(seed, "bias")
        rx: float | None = base_rx + drift - self.faults.degraded.get(itf.spec.name, 0.0)
        if not itf.oper_up:
            rx = None
        return OpticState(rx, base_tx + drift / 3, temp, bias)

    def peers(self) -> list[Peer]:
        out = []
        for itf in self.link_interfaces():
            far = self.backbone.peer.get((self.dev.name, itf.spec.name))
            if far is None:
                continue
            out.append(Peer(itf.spec.name, far[0], far[1], itf.oper_up, itf.last_change))
        return out

    def lldp(self) -> list[Peer]:
        """What LLDP sees: the far ends of links that are up, after any miscabling."""
        out = []
        by_name = self.dev.by_name
        for p in self.peers():
            if not p.up:
                continue
            dev, port = self.faults.miscabled.get(p.interface, (p.device, p.port))
            out.append(Peer(p.interface, dev, port, True, p.since))
        for iface, (dev, port) in self.faults.miscabled.items():
            itf = by_name.get(iface)
            if itf is not None and itf.spec.role not in LINK_ROLES and itf.oper_up:
                out.append(Peer(iface, dev, port, True, itf.last_change))
        return out


class CliFaultBook:
    """The CLI faults of every device, and the control actions that set them."""

    def __init__(self, backbone: Backbone) -> None:
        self.backbone = backbone
        self.faults: dict[str, CliFaults] = {}

    def of(self, device: str) -> CliFaults:
        return self.faults.setdefault(device, CliFaults())

    def view(self, device: str) -> CliView:
        return CliView(self.backbone, device, self.of(device))

    def control(self, action: str, p: dict[str, Any]) -> dict[str, Any] | None:
        """Handle a CLI action; None when ``action`` is not one of ours."""
        heal = bool(p.get("heal", False))

        def s(key: str) -> str:
            v = p.get(key)
            if not isinstance(v, str) or not v:
                raise SimulatorError(f"{action}: {key!r} must be a non-empty string")
            return v

        if action == "optic_degrade":
            device, iface = s("device"), s("interface")
            self.backbone.interface(device, iface)
            db = p.get("db", 8.0)
            if isinstance(db, bool) or not isinstance(db, int | float) or not 0 <= db <= 40:
                raise SimulatorError("optic_degrade: 'db' must be a number 0..40")
            f = self.of(device)
            if heal or db == 0:
                f.degraded.pop(iface, None)
            else:
                f.degraded[iface] = float(db)
            return {"device": device, "interface": iface, "rx_loss_db": 0 if heal else db}
        if action == "miscable":
            device, iface = s("device"), s("interface")
            self.backbone.interface(device, iface)
            f = self.of(device)
            if heal:
                f.miscabled.pop(iface, None)
                return {"device": device, "interface": iface, "miscabled": False}
            far_dev, far_port = s("peer_device"), s("peer_interface")
            f.miscabled[iface] = (far_dev, far_port)
            return {"device": device, "interface": iface, "sees": f"{far_dev}:{far_port}"}
        if action == "ssh_hang":
            device = s("device")
            self.backbone.node(device)
            self.of(device).hang = not heal
            return {"device": device, "ssh_hang": not heal}
        if action == "ssh_garbage":
            device = s("device")
            self.backbone.node(device)
            kind = p.get("kind", "optics")
            if kind not in KINDS:
                raise SimulatorError(f"ssh_garbage: 'kind' is one of {', '.join(KINDS)}")
            g = self.of(device).garbage
            if heal:
                g.discard(kind)
            else:
                g.add(kind)
            return {"device": device, "ssh_garbage": kind, "on": not heal}
        if action == "clear":
            dev = p.get("device")
            for name in [dev] if isinstance(dev, str) else list(self.faults):
                self.faults.pop(name, None)
            return None  # the backbone clears its own part and answers
        return None

    def status(self) -> dict[str, Any]:
        return {n: f.active() for n, f in self.faults.items() if f.active()}
