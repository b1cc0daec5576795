"""The SNMP trap and inform receiver: v1 Trap-PDU, v2c SNMPv2-Trap and InformRequest, v3 traps
and informs with one USM user per SNMPv3 credential profile of the inventory.

A datagram's source address must be an inventory device (else ``unknown_source``); a v1/v2c
community must be that device's own (or one passed with ``--trap-community``); a v3 message must
authenticate as one of the users. What passes and is one of linkDown, linkUp, coldStart,
warmStart or authenticationFailure goes to the sink as a ``Trap``; everything else is counted by
reason (unknown_source, bad_community, auth, malformed, unsupported) and dropped. Informs are
acknowledged with a Response once they pass those checks, whatever their kind. No input makes
the receiver raise: ``handle()`` is fuzzed.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import cast

from collector.trap_decode import (
    TRAP_NAMES,
    TRAPV1,
    NotANotification,
    Notification,
    decode_community_header,
    decode_notification,
    response_pdu,
)
from collector.trap_usm import ReportAndDrop, TrapDrop, TrapUsm
from netmon.inventory.model import Inventory, SnmpV2c, SnmpV3
from netmon.snmp import ber
from netmon.snmp.message import V1, MessageError, message_prefix, wrap_message
from netmon.snmp.usm import UsmUser

log = logging.getLogger(__name__)

DROP_REASONS = ("unknown_source", "bad_community", "auth", "malformed", "unsupported")
RCVBUF = 4 * 1024 * 1024  # a province going dark is a burst of traps
# RFC 3411 engine ID: enterprise 8072 (net-snmp's, as the simulator uses), text format.
DEFAULT_ENGINE_ID = bytes.fromhex("80001f8804") + b"netmon-traps"
_BOOTS_EPOCH = 1_700_000_000
INFORM_MEMORY = 60.0  # seconds a handled inform is remembered (senders resend for ~5-30 s)
_MAX_INFORMS = 10_000


def default_engine_boots(now: float | None = None) -> int:
    """snmpEngineBoots must grow on every restart: seconds since 2023-11 do, without state."""
    return max(1, int(now if now is not None else time.time()) - _BOOTS_EPOCH)


@dataclass(frozen=True, slots=True)
class Trap:
    """One accepted notification, as the state engine takes it."""

    device: str
    kind: str  # cold_start, warm_start, link_down, link_up, authentication_failure
    if_index: int | None
    if_name: str | None  # as carried by the trap (ifName, else ifDescr)
    if_admin: int | None  # ifAdminStatus / ifOperStatus when carried (1 up, 2 down)
    if_oper: int | None
    time: float  # unix time it arrived
    source: str  # the sender's address
    version: str  # "1", "2c", "3"
    inform: bool
    user: str | None  # the v3 user; communities are secrets and never leave the receiver

    @property
    def evidence(self) -> str:
        what = "inform" if self.inform else "trap"
        out = f"{TRAP_NAMES[self.kind]} {what} (SNMPv{self.version}) from {self.source}"
        if self.if_index is not None:
            out += f" ifIndex {self.if_index}"
        if self.if_name:
            out += f" ({self.if_name})"
        return out


@dataclass(frozen=True, slots=True)
class TrapConfig:
    """What the receiver accepts, built from the inventory (secrets resolved)."""

    devices: dict[str, str]  # normalized address -> device name
    communities: dict[str, frozenset[bytes]]  # device -> communities its traps may carry
    users: tuple[UsmUser, ...]
    problems: tuple[str, ...] = ()  # profiles whose secrets could not be resolved


def _normal(address: str) -> str:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)


def trap_config(
    inventory: Inventory,
    resolve: Callable[[str], str],
    extra_communities: Iterable[str] = (),
) -> TrapConfig:
    """Accepted sources, communities and USM users of ``inventory``. A profile whose secret
    cannot be resolved is left out and named in ``problems`` (never its secret)."""
    problems: list[str] = []
    community: dict[str, bytes] = {}
    users: list[UsmUser] = []
    for profile in inventory.profiles:
        snmp = profile.snmp
        try:
            if isinstance(snmp, SnmpV2c):
                community[profile.name] = resolve(snmp.community).encode()
            elif isinstance(snmp, SnmpV3):
                users.append(
                    UsmUser(
                        snmp.username.encode(),
                        snmp.auth_protocol,
                        resolve(snmp.auth_key).encode(),
                        snmp.priv_protocol,
                        resolve(snmp.priv_key).encode(),
                    )
                )
        except Exception as exc:  # ConfigError (unset secret), ValueError (short password)
            problems.append(f"credential profile {profile.name}: {exc}")
    extra = frozenset(resolve(ref).encode() for ref in extra_communities)
    devices: dict[str, str] = {}
    communities: dict[str, frozenset[bytes]] = {}
    for _placed, device in inventory.devices():
        devices[_normal(device.address)] = device.name
        name = device.credentials or inventory.defaults.credentials
        own = community.get(name) if name else None
        communities[device.name] = extra | ({own} if own is not None else set())
    return TrapConfig(devices, communities, tuple(users), tuple(problems))


@dataclass
class TrapStats:
    received: Counter[str] = field(default_factory=Counter)  # by version: 1, 2c, 3
    accepted: Counter[str] = field(default_factory=Counter)  # by kind
    dropped: Counter[str] = field(default_factory=Counter)  # by reason (DROP_REASONS)
    informs_acked: int = 0
    inform_duplicates: int = 0  # resent informs acknowledged again but not acted on twice
    reports: int = 0  # v3 Reports sent (discovery, time sync, refusals)
    sink_errors: int = 0
    unexpected: int = 0  # errors the decoders did not foresee (a bug: the fuzz test wants 0)
    users: int = 0  # USM users configured
    sources: int = 0  # inventory addresses accepted


class TrapReceiver:
    """Decide on each datagram (``handle``, no I/O) and serve a UDP socket (``start``)."""

    def __init__(
        self,
        config: TrapConfig,
        sink: Callable[[Trap], None],
        *,
        engine_id: bytes = DEFAULT_ENGINE_ID,
        engine_boots: int | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.sink = sink
        self.stats = TrapStats()
        self.engine_id = engine_id
        self._boots = engine_boots if engine_boots is not None else default_engine_boots()
        self._clock = clock
        self._config = config
        self._usm = TrapUsm(config.users, engine_id, self._boots)
        self._transport: asyncio.DatagramTransport | None = None
        self._informs: dict[tuple[str, int, bytes], float] = {}  # recent informs, oldest first
        self.apply(config)

    def apply(self, config: TrapConfig) -> None:
        """A new inventory: new sources and credentials (the v3 engine state is kept when the
        users did not change, so senders need not rediscover)."""
        if config.users != self._config.users:
            self._usm = TrapUsm(config.users, self.engine_id, self._boots)
        self._config = config
        self.stats.users = self._usm.users
        self.stats.sources = len(config.devices)
        for problem in config.problems:
            log.error("traps: %s", problem)

    # --- one datagram -----------------------------------------------------------------------

    def handle(self, data: bytes, source: str) -> bytes | None:
        """Process one datagram from ``source``; return what to send back (an inform's
        Response or a v3 Report), or None."""
        try:
            return self._handle(data, source)
        except TrapDrop as drop:
            self.stats.dropped[drop.reason] += 1
            if isinstance(drop, ReportAndDrop):
                self.stats.reports += 1
                return drop.report
            return None
        except Exception:  # a bug must not stop the receiver: count it, keep going
            self.stats.unexpected += 1
            if self.stats.unexpected <= 20:  # a hostile flood must not flood the log
                log.exception("traps: unexpected error on a datagram from %s", source)
            self.stats.dropped["malformed"] += 1
            return None

    def _handle(self, data: bytes, source: str) -> bytes | None:
        device = self._config.devices.get(_normal(source))
        if device is None:
            raise TrapDrop("unknown_source", source)
        if _is_v3(data):
            self.stats.received["3"] += 1
            return self._v3(device, data, source)
        try:
            env = decode_community_header(data)
        except MessageError as exc:
            raise TrapDrop("malformed", str(exc)) from exc
        version = "1" if env.version == V1 else "2c"
        self.stats.received[version] += 1
        if env.community not in self._config.communities.get(device, frozenset()):
            raise TrapDrop("bad_community", device)
        note = _decode(data, env.pdu_pos, len(data))
        if (note.tag == TRAPV1) != (env.version == V1):
            raise TrapDrop("malformed", "a v1 Trap-PDU in a v2c message or the reverse")
        if note.tag != ber.INFORM:
            self._deliver(device, note, source, version, None)
            return None
        self.stats.informs_acked += 1
        if self._first_time(source, note):
            self._deliver(device, note, source, version, None)
        return wrap_message(message_prefix(env.version, env.community), response_pdu(note))

    def _v3(self, device: str, data: bytes, source: str) -> bytes | None:
        got = self._usm.receive(data)
        if isinstance(got, bytes):
            self.stats.reports += 1
            return got
        note = _decode(got.pdu, 0, len(got.pdu))
        if got.inform is None:
            self._deliver(device, note, source, "3", got.user)
            return None
        reply = self._usm.respond(got, response_pdu(note))
        self.stats.informs_acked += 1
        if self._first_time(source, note):
            self._deliver(device, note, source, "3", got.user)
        return reply

    def _first_time(self, source: str, note: Notification) -> bool:
        """False for a resent inform (our Response was lost): acknowledge it again, act once."""
        now = self._clock()
        seen = self._informs
        while seen and next(iter(seen.values())) < now - INFORM_MEMORY:
            seen.pop(next(iter(seen)))
        key = (source, note.request_id, note.raw_varbinds)
        if key in seen:
            self.stats.inform_duplicates += 1
            return False
        if len(seen) >= _MAX_INFORMS:
            seen.pop(next(iter(seen)))
        seen[key] = now
        return True

    def _deliver(
        self, device: str, note: Notification, source: str, version: str, user: str | None
    ) -> None:
        kind = note.kind
        if kind is None:
            # Counted and dropped; an inform of another kind is still acknowledged (the sender
            # must not resend what netmon will never act on).
            self.stats.dropped["unsupported"] += 1
            return
        self.stats.accepted[kind] += 1
        if_index, if_name, admin, oper = note.interface()
        trap = Trap(
            device,
            kind,
            if_index,
            if_name,
            admin,
            oper,
            self._clock(),
            source,
            version,
            note.tag == ber.INFORM,
            user,
        )
        try:
            self.sink(trap)
        except Exception:
            self.stats.sink_errors += 1
            log.exception("traps: the sink failed on %s", trap.evidence)

    # --- the socket -------------------------------------------------------------------------

    async def start(self, host: str, port: int) -> int:
        """Listen on ``host:port`` (UDP); returns the bound port."""
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
            sock.bind((host, port))
        except OSError:
            sock.close()
            raise
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(lambda: _Protocol(self), sock=sock)
        self._transport = transport
        bound: int = sock.getsockname()[1]
        log.info(
            "traps: listening on udp %s:%d (%d sources, %d USM users)",
            host,
            bound,
            self.stats.sources,
            self.stats.users,
        )
        return bound

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, receiver: TrapReceiver) -> None:
        self.receiver = receiver
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        reply = self.receiver.handle(data, str(addr[0]))
        if reply is not None and self.transport is not None:
            self.transport.sendto(reply, addr)

    def error_received(self, exc: Exception) -> None:  # an ICMP error: nothing to do
        log.debug("traps: socket error %s", exc)


def _decode(buf: bytes, pos: int, end: int) -> Notification:
    try:
        return decode_notification(buf, pos, end)
    except NotANotification as exc:
        raise TrapDrop("unsupported", str(exc)) from exc
    except MessageError as exc:
        raise TrapDrop("malformed", str(exc)) from exc


def _is_v3(data: bytes) -> bool:
    if len(data) < 5 or data[0] != ber.SEQUENCE:
        return False
    n = data[1]
    off = 2 if n < 0x80 else 2 + (n & 0x7F)
    return data[off : off + 3] == b"\x02\x01\x03"
