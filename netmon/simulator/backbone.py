"""The simulated backbone: every inventory device as a ``SimDevice``, the links between them,
injected failures, counters, and the per-datagram request handling (no sockets here: the
server feeds datagrams in and sends what comes back, so all of this runs under a fake clock).
"""

from __future__ import annotations

import ipaddress
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from netmon.errors import SnmpError
from netmon.inventory.model import Device, Inventory, LinkKind, Method, SnmpV2c, SnmpV3
from netmon.simulator import agent
from netmon.simulator.device import (
    IF_ENTRY,
    IFX_ENTRY,
    SOFTWARE_LOOPBACK,
    SYS_UPTIME,
    IfSpec,
    SimDevice,
    SimInterface,
    platform_ports,
)
from netmon.simulator.informs import InformSender
from netmon.simulator.mib import enc_int, enc_unsigned
from netmon.simulator.platforms import PLATFORMS
from netmon.snmp import ber
from netmon.snmp.message import (
    TOO_BIG,
    V1,
    V2C,
    MessageError,
    decode_pdu,
    decode_request,
    encode_message,
    encode_pdu,
    message_prefix,
    varbind,
    wrap_message,
)
from netmon.snmp.usm import UsmUser

log = logging.getLogger(__name__)

MAX_V2C_MESSAGE = 1472  # an Ethernet frame of UDP payload: answers never fragment
SNMP_TRAP_OID = (1, 3, 6, 1, 6, 3, 1, 1, 4, 1, 0)
COLD_START = (1, 3, 6, 1, 6, 3, 1, 1, 5, 1)
LINK_DOWN = (1, 3, 6, 1, 6, 3, 1, 1, 5, 3)
LINK_UP = (1, 3, 6, 1, 6, 3, 1, 1, 5, 4)


class SimulatorError(SnmpError):
    """The simulator cannot start or a control request names something that does not exist."""


class V3Agent(Protocol):
    """What the simulator needs of ``netmon.snmp.usm.UsmAgent``."""

    def receive(self, msg: bytes) -> Any: ...
    def respond(self, request: Any, pdu: bytes) -> bytes: ...
    def overhead(self, request: Any) -> int: ...
    def reboot(self) -> None: ...
    def notify(self, pdu: bytes, user: bytes) -> bytes: ...


@dataclass
class Counters:
    requests: int = 0
    responses: int = 0
    malformed: int = 0
    wrong_community: int = 0
    dropped_dead: int = 0
    dropped_cut: int = 0  # requests to a live device cut off behind a dead one
    dropped_loss: int = 0
    usm_dropped: int = 0
    reports: int = 0
    traps: int = 0
    informs: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass
class Faults:
    dead: set[str] = field(default_factory=set)  # reasons: dead, site:CODE, province:NN
    cut: bool = False  # alive, but every path to the centre crosses a dead device
    extra_latency: float = 0.0
    loss: float = 0.0
    garbage: bool = False
    walk_loop: bool = False
    no_view: bool = False  # the access view excludes everything

    def active(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.dead:
            out["dead"] = sorted(self.dead)
        if self.cut:
            out["cut_off"] = True
        if self.extra_latency:
            out["slow_ms"] = round(self.extra_latency * 1000, 3)
        if self.loss:
            out["loss_pct"] = round(self.loss * 100, 3)
        if self.garbage:
            out["garbage"] = True
        if self.walk_loop:
            out["walk_loop"] = True
        if self.no_view:
            out["no_view"] = True
        return out


class Node:
    """A served device: the MIB model plus how it is reached and what is wrong with it."""

    def __init__(self, dev: SimDevice, community: bytes | None, v3: V3Agent | None) -> None:
        self.dev = dev
        self.community = community
        self.prefixes = {
            V1: message_prefix(V1, community or b""),
            V2C: message_prefix(V2C, community or b""),
        }
        self.v3 = v3
        self.v3_user: bytes | None = None  # who the device's v3 traps are from
        self.usm_user: UsmUser | None = None  # the same user with its keys: v3 informs
        self.v3_overhead: dict[tuple[object, ...], int] = {}
        self.faults = Faults()
        self.counters = Counters()
        self.sender: Callable[[bytes, tuple[str, int]], None] | None = None  # the device socket


Scheduler = Callable[[float, Callable[[], object]], Any]


class Backbone:
    def __init__(
        self,
        nodes: list[Node],
        links: list[tuple[tuple[str, str], tuple[str, str]]],
        *,
        clock: Callable[[], float] = time.time,
        latency_scale: float = 1.0,
        trap_target: tuple[str, int] | None = None,
        trap_community: bytes = b"public",
        rng: random.Random | None = None,
        inform_target: tuple[str, int] | None = None,
        inform_timeout: float = 1.0,
        inform_retries: int = 3,
    ) -> None:
        self.nodes = {n.dev.name: n for n in nodes}
        self.clock = clock
        self.latency_scale = latency_scale
        self.trap_target = trap_target
        self.trap_community = trap_community
        self.rng = rng or random.Random(1)
        self.totals = Counters()
        self.scheduler: Scheduler | None = None  # loop.call_later, set by the server
        self._trap_id = 1
        # Informs: acknowledged notifications, resent until answered (netmon/simulator/informs).
        self.informs = (
            InformSender(
                inform_target,
                lambda: self.scheduler,
                timeout=inform_timeout,
                retries=inform_retries,
            )
            if inform_target is not None
            else None
        )
        self._flaps: dict[tuple[str, str], list[Any]] = {}
        # Other control surfaces (the SSH devices' CLI faults): tried before the built-ins;
        # an extension returns None for an action that is not its own.
        self.extensions: list[Callable[[str, dict[str, Any]], dict[str, Any] | None]] = []
        self.status_extras: dict[str, Callable[[], Any]] = {}
        # Both ends of every link, keyed by either end.
        self.peer: dict[tuple[str, str], tuple[str, str]] = {}
        self.uplinks: dict[str, list[str]] = {}  # device -> the devices it uplinks to
        for a, b in links:
            self.peer[a] = b
            self.peer[b] = a
            self.uplinks.setdefault(a[0], []).append(b[0])

    # --- requests ---------------------------------------------------------------------------

    def handle(self, node: Node, data: bytes) -> tuple[bytes, float] | None:
        """The answer to one datagram and after how many seconds to send it, or None to drop."""
        c, t = node.counters, self.totals
        informs = self.informs
        # An inform's acknowledgement (or the receiver's Report) is no request.
        if (
            informs is not None
            and not node.faults.dead
            and informs.busy(node.dev.name)
            and informs.receive(node.dev.name, data, _sender(node))
        ):
            return None
        c.requests += 1
        t.requests += 1
        f = node.faults
        if f.dead:
            c.dropped_dead += 1
            t.dropped_dead += 1
            return None
        if f.cut:  # the NOC reaches devices through the backbone: not past a dead hub
            c.dropped_cut += 1
            t.dropped_cut += 1
            return None
        if f.loss and self.rng.random() < f.loss:
            c.dropped_loss += 1
            t.dropped_loss += 1
            return None
        try:
            if _is_v3(data):
                out = self._handle_v3(node, data)
            else:
                out = self._handle_community(node, data)
        except SnmpError as exc:  # MessageError/BerError (bad PDU or OID), UsmDrop
            if hasattr(exc, "reason"):  # UsmDrop: unknown user, bad digest, outside the window
                c.usm_dropped += 1
                t.usm_dropped += 1
            else:
                c.malformed += 1
                t.malformed += 1
            return None
        if out is None:
            return None
        if f.garbage:
            out = self._garbage(out)
        c.responses += 1
        t.responses += 1
        return out, node.dev.base_latency * self.latency_scale + f.extra_latency

    def _handle_community(self, node: Node, data: bytes) -> bytes | None:
        req = decode_request(data)
        if node.community is None or req.community != node.community:
            node.counters.wrong_community += 1
            self.totals.wrong_community += 1
            return None
        pdu = req.pdu
        budget = MAX_V2C_MESSAGE - len(node.prefixes[req.version]) - len(pdu.request_id_tlv) - 20
        f = node.faults
        ans = agent.answer(
            node.dev.mib, pdu, req.version, budget, self.clock(), f.walk_loop, f.no_view
        )
        if ans is None:
            raise MessageError(f"not a request PDU 0x{pdu.tag:02x}", 0)
        status, index, varbinds = ans
        body = encode_pdu(ber.RESPONSE, pdu.request_id_tlv, status, index, varbinds)
        return wrap_message(node.prefixes[req.version], body)

    def _handle_v3(self, node: Node, data: bytes) -> bytes | None:
        if node.v3 is None:
            raise MessageError("SNMPv3 message to a community-based device", 0)
        got = node.v3.receive(data)
        if isinstance(got, bytes):
            node.counters.reports += 1
            self.totals.reports += 1
            return got
        pdu = decode_pdu(got.pdu)
        # The USM wrapping's size depends on the user, level and context only: measuring it
        # costs an encryption and an HMAC, so once per kind of request, not per request.
        key = (got.user, got.security_level, len(got.context_engine_id), len(got.context_name))
        overhead = node.v3_overhead.get(key)
        if overhead is None:
            overhead = node.v3_overhead[key] = node.v3.overhead(got) + 8  # msgID may grow
        budget = min(int(got.max_size), 65507) - overhead - len(pdu.request_id_tlv) - 20
        f = node.faults
        ans = agent.answer(node.dev.mib, pdu, V2C, budget, self.clock(), f.walk_loop, f.no_view)
        if ans is None:
            raise MessageError(f"not a request PDU 0x{pdu.tag:02x}", 0)
        status, index, varbinds = ans
        body = encode_pdu(ber.RESPONSE, pdu.request_id_tlv, status, index, varbinds)
        try:
            return node.v3.respond(got, body)
        except SnmpError:  # UsmTooBig: the budget was not conservative enough
            body = encode_pdu(ber.RESPONSE, pdu.request_id_tlv, TOO_BIG, 0, b"")
            return node.v3.respond(got, body)

    def _garbage(self, good: bytes) -> bytes:
        """A malformed answer: a plausible header whose lengths lie, then noise."""
        noise = bytes(self.rng.getrandbits(8) for _ in range(min(len(good), 64)))
        return b"\x30\x82\x7f\xff\x02\x01\x01\x04" + noise

    # --- traps ------------------------------------------------------------------------------

    def _trap(self, node: Node, trap_oid: tuple[int, ...], itf: SimInterface | None) -> None:
        if node.sender is None or node.faults.dead or node.faults.cut:
            return
        if self.trap_target is None and self.informs is None:
            return
        now = self.clock()
        vbs = [
            varbind(
                ber.encode_oid(SYS_UPTIME), enc_unsigned(ber.TIMETICKS, node.dev.uptime_ticks(now))
            ),
            varbind(ber.encode_oid(SNMP_TRAP_OID), ber.encode_oid(trap_oid)),
        ]
        if itf is not None:
            for col, value in (
                (1, itf.index),
                (7, 1 if itf.spec.admin_up else 2),
                (8, 1 if itf.oper_up else 2),
            ):
                vbs.append(varbind(ber.encode_oid((*IF_ENTRY, col, itf.index)), enc_int(value)))
            name = ber.encode_octets(itf.spec.name.encode())
            vbs.append(varbind(ber.encode_oid((*IFX_ENTRY, 1, itf.index)), name))
        if self.informs is not None:
            community = node.community or self.trap_community
            user = node.usm_user if node.v3 is not None else None
            self.informs.send(node.dev.name, community, user, b"".join(vbs), _sender(node))
            node.counters.informs += 1
            self.totals.informs += 1
        if self.trap_target is None:
            return
        if node.v3 is not None and node.v3_user is not None:
            # An SNMPv3 device sends its traps authPriv, as its own authoritative engine.
            pdu = encode_pdu(ber.TRAPV2, ber.encode_int(self._trap_id), 0, 0, b"".join(vbs))
            msg = node.v3.notify(pdu, node.v3_user)
        else:
            community = node.community or self.trap_community
            msg = encode_message(V2C, community, ber.TRAPV2, self._trap_id, 0, 0, b"".join(vbs))
        self._trap_id = self._trap_id % 0x7FFFFFFF + 1
        node.counters.traps += 1
        self.totals.traps += 1
        node.sender(msg, self.trap_target)

    # --- state changes ----------------------------------------------------------------------

    def node(self, name: str) -> Node:
        try:
            return self.nodes[name]
        except KeyError:
            raise SimulatorError(f"no simulated device named {name!r}") from None

    def interface(self, device: str, interface: str) -> SimInterface:
        node = self.node(device)
        itf = node.dev.by_name.get(interface)
        if itf is None:
            names = ", ".join(i.spec.name for i in node.dev.interfaces)
            raise SimulatorError(f"{device} has no interface {interface!r} (it has: {names})")
        return itf

    def _set_reason(self, device: str, interface: str, reason: str, down: bool) -> bool:
        node = self.nodes.get(device)
        if node is None:
            return False
        itf = node.dev.by_name.get(interface)
        if itf is None:
            return False
        if down:
            itf.down_reasons.add(reason)
        else:
            itf.down_reasons.discard(reason)
        changed = node.dev.set_oper(itf, not itf.down_reasons, self.clock())
        if changed:
            self._trap(node, LINK_UP if itf.oper_up else LINK_DOWN, itf)
        return changed

    def _link_ends(self, device: str, interface: str) -> list[tuple[str, str]]:
        self.interface(device, interface)  # validates
        ends = [(device, interface)]
        if (device, interface) in self.peer:
            ends.append(self.peer[(device, interface)])
        return ends

    def link(self, device: str, interface: str, up: bool, reason: str = "link") -> dict[str, Any]:
        ends = self._link_ends(device, interface)
        for d, i in ends:
            self._set_reason(d, i, reason, not up)
        return {"interfaces": [f"{d}:{i}" for d, i in ends], "up": up}

    def flap(self, device: str, interface: str, times: int, interval: float) -> dict[str, Any]:
        if self.scheduler is None:
            raise SimulatorError("flapping needs a running simulator")
        if times < 1 or interval <= 0:
            raise SimulatorError("flap needs times >= 1 and interval > 0")
        self._link_ends(device, interface)
        key = (device, interface)
        self._cancel_flap(key)
        handles: list[Any] = []
        for n in range(times):
            t0 = n * 2 * interval
            handles.append(self.scheduler(t0, lambda: self.link(device, interface, False, "flap")))
            handles.append(
                self.scheduler(t0 + interval, lambda: self.link(device, interface, True, "flap"))
            )
        self._flaps[key] = handles
        return {"interface": f"{device}:{interface}", "times": times, "interval": interval}

    def _cancel_flap(self, key: tuple[str, str]) -> None:
        for h in self._flaps.pop(key, []):
            h.cancel()

    def _kill(self, node: Node, reason: str, dead: bool) -> None:
        was_dead = bool(node.faults.dead)
        if dead:
            node.faults.dead.add(reason)
        else:
            node.faults.dead.discard(reason)
        is_dead = bool(node.faults.dead)
        if was_dead == is_dead:
            return
        name = node.dev.name
        if not is_dead:  # power comes back: the device boots
            self._reboot(node)
        # The far end of each of its links sees the link drop (or come back).
        for itf in node.dev.interfaces:
            far = self.peer.get((name, itf.spec.name))
            if far is not None:
                self._set_reason(far[0], far[1], f"peer:{name}", is_dead)
            if itf.spec.role in ("uplink", "backup", "downlink"):
                if is_dead:
                    itf.down_reasons.add("dead")
                else:
                    itf.down_reasons.discard("dead")
                node.dev.set_oper(itf, not itf.down_reasons, self.clock())

    def _cut_off(self) -> None:
        """Mark the live devices that the centre can no longer reach: every uplink path
        crosses a dead device. They stop answering (and come back without rebooting)."""
        reached: set[str] = set()
        pending = [n for n in self.nodes if not self.uplinks.get(n)]  # the roots
        children: dict[str, list[str]] = {}
        for child, ups in self.uplinks.items():
            for up in ups:
                children.setdefault(up, []).append(child)
        while pending:
            name = pending.pop()
            node = self.nodes.get(name)
            if name in reached or (node is not None and node.faults.dead):
                continue  # (a device not served over SNMP passes traffic on)
            reached.add(name)
            pending.extend(children.get(name, ()))
        for name, node in self.nodes.items():
            node.faults.cut = not node.faults.dead and name not in reached

    def dead(self, device: str, dead: bool = True) -> dict[str, Any]:
        self._kill(self.node(device), "dead", dead)
        self._cut_off()
        return {"device": device, "dead": dead}

    def _group(self, reason: str, names: list[str], dead: bool) -> dict[str, Any]:
        for name in names:
            self._kill(self.nodes[name], reason, dead)
        self._cut_off()
        return {"devices": names, "dead": dead}

    def site_outage(self, site: str, dead: bool = True) -> dict[str, Any]:
        names = [n for n, node in self.nodes.items() if node.dev.site_code == site]
        if not names:
            raise SimulatorError(f"no simulated device at site {site!r}")
        return self._group(f"site:{site}", names, dead)

    def province_outage(self, province: str, dead: bool = True) -> dict[str, Any]:
        names = [n for n, node in self.nodes.items() if node.dev.province_code == province]
        if not names:
            raise SimulatorError(f"no simulated device in province {province!r}")
        return self._group(f"province:{province}", names, dead)

    def _reboot(self, node: Node) -> None:
        node.dev.reboot(self.clock())
        if node.v3 is not None:
            node.v3.reboot()
        self._trap(node, COLD_START, None)

    def reboot(self, device: str) -> dict[str, Any]:
        self._reboot(self.node(device))
        return {"device": device, "rebooted": True}

    def slow(self, device: str, ms: float) -> dict[str, Any]:
        if not 0 <= ms <= 60_000:
            raise SimulatorError("slow: added latency must be 0..60000 ms")
        self.node(device).faults.extra_latency = ms / 1000.0
        return {"device": device, "slow_ms": ms}

    def loss(self, device: str, pct: float) -> dict[str, Any]:
        if not 0 <= pct <= 100:
            raise SimulatorError("loss: a percentage 0..100")
        self.node(device).faults.loss = pct / 100.0
        return {"device": device, "loss_pct": pct}

    def misbehave(self, device: str, mode: str, on: bool = True) -> dict[str, Any]:
        faults = self.node(device).faults
        if mode == "garbage":
            faults.garbage = on
        elif mode == "walk_loop":
            faults.walk_loop = on
        elif mode == "no_view":
            faults.no_view = on
        else:
            raise SimulatorError(f"unknown misbehaviour {mode!r} (garbage, walk_loop, no_view)")
        return {"device": device, mode: on}

    def clear(self, device: str | None = None) -> dict[str, Any]:
        """Heal everything injected (on one device, or everywhere)."""
        names = [device] if device is not None else list(self.nodes)
        for name in names:
            node = self.node(name)
            for key in [k for k in self._flaps if k[0] == name]:
                self._cancel_flap(key)
            for reason in list(node.faults.dead):
                self._kill(node, reason, False)
            node.faults.extra_latency = 0.0
            node.faults.loss = 0.0
            node.faults.garbage = node.faults.walk_loop = node.faults.no_view = False
            for itf in node.dev.interfaces:
                for reason in ("link", "flap"):
                    if reason in itf.down_reasons:
                        for d, i in self._link_ends(name, itf.spec.name):
                            self._set_reason(d, i, reason, False)
        self._cut_off()
        return {"cleared": device or "all"}

    def status(self) -> dict[str, Any]:
        devices: dict[str, Any] = {}
        for name, node in self.nodes.items():
            entry: dict[str, Any] = {"counters": node.counters.as_dict()}
            faults = node.faults.active()
            down = [
                {"interface": i.spec.name, "reasons": sorted(i.down_reasons)}
                for i in node.dev.interfaces
                if i.down_reasons
            ]
            if down:
                faults["interfaces_down"] = down
            if faults:
                entry["faults"] = faults
            devices[name] = entry
        return {
            "devices_total": len(self.nodes),
            "counters": self.totals.as_dict(),
            "injected": {n: d["faults"] for n, d in devices.items() if "faults" in d},
            "devices": devices,
            **{k: extra() for k, extra in self.status_extras.items()},
        }

    def control(self, action: str, params: dict[str, Any]) -> dict[str, Any]:
        """One control request (the HTTP endpoint's body): ``{"action": ..., ...}``."""
        p = params

        def s(key: str) -> str:
            v = p.get(key)
            if not isinstance(v, str) or not v:
                raise SimulatorError(f"{action}: {key!r} must be a non-empty string")
            return v

        def num(key: str, default: float | None = None) -> float:
            v = p.get(key, default)
            if isinstance(v, bool) or not isinstance(v, int | float):
                raise SimulatorError(f"{action}: {key!r} must be a number")
            return float(v)

        up = not bool(p.get("heal", False))
        for extension in self.extensions:
            handled = extension(action, p)
            if handled is not None:
                return handled
        if action == "status":
            return self.status()
        if action == "link_down":
            return self.link(s("device"), s("interface"), False)
        if action == "link_up":
            return self.link(s("device"), s("interface"), True)
        if action == "flap":
            return self.flap(s("device"), s("interface"), int(num("times", 3)), num("interval", 2))
        if action == "dead":
            return self.dead(s("device"), up)
        if action == "site_outage":
            return self.site_outage(s("site"), up)
        if action == "province_outage":
            return self.province_outage(s("province"), up)
        if action == "reboot":
            return self.reboot(s("device"))
        if action == "slow":
            return self.slow(s("device"), num("ms"))
        if action == "loss":
            return self.loss(s("device"), num("pct"))
        if action in ("garbage", "walk_loop", "no_view"):
            return self.misbehave(s("device"), action, up)
        if action == "clear":
            dev = p.get("device")
            if dev is not None and not isinstance(dev, str):
                raise SimulatorError("clear: 'device' must be a string")
            return self.clear(dev)
        raise SimulatorError(f"unknown action {action!r}")


# --- building from the inventory -----------------------------------------------------------


def _sender(node: Node) -> Callable[[bytes, tuple[str, int]], None]:
    def send(data: bytes, addr: tuple[str, int]) -> None:
        if node.sender is not None and not node.faults.dead:  # a dead device resends nothing
            node.sender(data, addr)

    return send


def _is_v3(data: bytes) -> bool:
    """Whether the message's version field says 3, without decoding anything else."""
    if len(data) < 5 or data[0] != ber.SEQUENCE:
        return False
    n = data[1]
    off = 2 if n < 0x80 else 2 + (n & 0x7F)
    return data[off : off + 3] == b"\x02\x01\x03"


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def build(
    inventory: Inventory,
    *,
    now: float,
    port: int | None = None,
    resolve: Callable[[str], str] | None = None,
    v3_factory: Callable[[str, SnmpV3, Callable[[str], str]], V3Agent] | None = None,
) -> tuple[list[Node], list[tuple[tuple[str, str], tuple[str, str]]]]:
    """Every device of the inventory as a Node (a CLI-only one answers no SNMP), plus the
    links' end pairs.

    Raises SimulatorError for a non-loopback device address (naming the device) or a secret
    that cannot be resolved.
    """
    if resolve is None:
        from netmon.inventory.secrets import resolve_secret

        resolve = resolve_secret
    ends: dict[str, dict[str, LinkEnd]] = {}
    pairs: list[tuple[tuple[str, str], tuple[str, str]]] = []
    for _ps, link in inventory.links():
        a, b = (link.a.device, link.a.interface), (link.b.device, link.b.interface)
        pairs.append((a, b))
        backup = link.kind is LinkKind.backup
        up_role, down_role = ("backup", "backup") if backup else ("uplink", "downlink")
        word = "backup " if backup else ""
        up_alias, down_alias = f"{word}uplink to {b[0]} {b[1]}", f"{word}downlink to {a[0]} {a[1]}"
        ends.setdefault(a[0], {})[a[1]] = LinkEnd(up_role, up_alias, b, link.name, True, link.speed)
        ends.setdefault(b[0], {})[b[1]] = LinkEnd(
            down_role, down_alias, a, link.name, False, link.speed
        )
    nodes: list[Node] = []
    for ps, device in inventory.devices():
        if not _is_loopback(device.address):
            raise SimulatorError(
                f"device {device.name} has address {device.address}: the simulator serves "
                "loopback addresses only (127.0.0.0/8, ::1)"
            )
        profile_name = device.credentials or inventory.defaults.credentials
        profile = inventory.profile(profile_name) if profile_name else None
        if profile is None or (profile.snmp is None and Method.snmp in device.methods):
            continue
        site = ps.site
        specs = _interface_specs(device, site.name_en, ends.get(device.name, {}), device.role.value)
        dev = SimDevice(
            name=device.name,
            platform=device.platform.value,
            address=device.address,
            port=port or device.snmp_port or inventory.defaults.snmp_port,
            site_code=site.code,
            site_name=f"{site.name_th} / {site.name_en}",
            province_code=ps.province.code,
            lat=site.lat,
            lon=site.lon,
            specs=specs,
            now=now,
        )
        try:
            if profile.snmp is None or Method.snmp not in device.methods:
                node = Node(dev, None, None)  # CLI only: served over SSH, not SNMP
            elif isinstance(profile.snmp, SnmpV2c):
                node = Node(dev, resolve(profile.snmp.community).encode(), None)
            else:
                if v3_factory is None:
                    raise SimulatorError(f"device {device.name}: SNMPv3 is not available")
                node = Node(dev, None, v3_factory(device.name, profile.snmp, resolve))
                node.v3_user = profile.snmp.username.encode()
                node.usm_user = UsmUser(
                    node.v3_user,
                    profile.snmp.auth_protocol,
                    resolve(profile.snmp.auth_key).encode(),
                    profile.snmp.priv_protocol,
                    resolve(profile.snmp.priv_key).encode(),
                )
        except SimulatorError:
            raise
        except Exception as exc:
            raise SimulatorError(f"device {device.name}: {exc}") from exc
        nodes.append(node)
    return nodes, pairs


class LinkEnd(NamedTuple):
    role: str  # uplink, downlink, backup
    alias: str
    peer: tuple[str, str]
    seed: str  # the link's name: both ends draw the same traffic from it
    a_end: bool
    speed: int


def _interface_specs(
    device: Device, site_en: str, link_ends: dict[str, LinkEnd], role: str
) -> list[IfSpec]:
    platform = device.platform.value
    prof = PLATFORMS.get(device.platform)
    default_speed = prof.default_speed if prof else 1_000_000_000
    declared: list[tuple[str, int | None, str]] = [
        (i.name, i.speed, i.description) for i in device.interfaces
    ]
    for name in link_ends:
        if name not in {d[0] for d in declared}:
            declared.append((name, None, ""))
    used = {d[0] for d in declared}
    physical: list[IfSpec] = []
    for name, speed, descr in declared:
        e = link_ends.get(name)
        if e is not None:
            spec = IfSpec(name, 0, speed or e.speed, e.alias, e.role, peer=e.peer, a_end=e.a_end)
            spec.link_seed = e.seed
            spec.circuit = e.speed
            physical.append(spec)
        else:
            physical.append(IfSpec(name, 0, speed or default_speed, descr or "LAN", "lan"))
    mgmt_name = prof.mgmt_name if prof else "mgmt0"
    mgmt_name = "mgmt0" if mgmt_name in used else mgmt_name
    used.add(mgmt_name)
    loop_name = prof.loopback_name if prof else "lo"
    loop_name = "loopback0" if loop_name in used else loop_name
    lan_count = 1 if role == "edge" else 2
    for name in platform_ports(platform, used, lan_count):
        physical.append(IfSpec(name, 0, default_speed, f"LAN {site_en}", "lan"))
    for name in platform_ports(platform, used, 3):
        physical.append(IfSpec(name, 0, default_speed, "", "unused", admin_up=False))
    base = prof.port_index_base if prof else 1
    for n, spec in enumerate(physical):
        spec.index = base + n
    taken = {s.index for s in physical}

    def pick(want: int) -> int:
        while want in taken:
            want = max(taken) + 1
        taken.add(want)
        return want

    specs = list(physical)
    specs.append(
        IfSpec(
            mgmt_name,
            pick(prof.mgmt_index if prof else 100),
            100_000_000 if prof is None or "Fast" in mgmt_name else 1_000_000_000,
            "management",
            "mgmt",
        )
    )
    specs.append(
        IfSpec(
            loop_name,
            pick(prof.loopback_index if prof else 101),
            0,
            "router-id",
            "loopback",
            if_type=SOFTWARE_LOOPBACK,
        )
    )
    specs.sort(key=lambda s: s.index)
    return specs
