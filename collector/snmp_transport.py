"""SnmpTransport on pysnmp 7 (asyncio hlapi, v3arch), sharing one SnmpEngine for all devices.

Measured choices (see /work/shared/notes/measured-facts.md): ``lookupMib=False`` (the MIB
lookup doubles CPU), one GETBULK carrying every column of a walk (cheaper than a
``bulk_walk_cmd`` per column), one engine (a new one costs ~0.9 CPU-s and loses the v3
discovery cache) whose UDP socket gets a large receive buffer (the default dropped answers
at a few hundred concurrent devices, each drop a timeout).
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Sequence
from typing import Any

from pyasn1.type import univ
from pysnmp.carrier.asyncio.dgram import udp
from pysnmp.hlapi.v3arch.asyncio import (
    CommunityData,
    ContextData,
    ObjectIdentity,
    ObjectType,
    SnmpEngine,
    UdpTransportTarget,
    UsmUserData,
    bulk_cmd,
    get_cmd,
    usmAesBlumenthalCfb256Protocol,
    usmAesCfb128Protocol,
    usmHMAC192SHA256AuthProtocol,
    usmHMAC384SHA512AuthProtocol,
    usmHMACSHAAuthProtocol,
)
from pysnmp.proto import errind, rfc1902, rfc1905

from collector.transport import (
    Missing,
    SnmpAuthError,
    SnmpErrorStatus,
    SnmpGarbage,
    SnmpTimeout,
    SnmpTransportError,
    SnmpWalkLoop,
    Value,
    oid_key,
)
from netmon.inventory.model import CredentialProfile, SnmpTiming, SnmpV2c, SnmpV3
from netmon.inventory.secrets import resolve_secret

log = logging.getLogger(__name__)

AUTH_PROTOCOLS = {
    "SHA": usmHMACSHAAuthProtocol,
    "SHA-256": usmHMAC192SHA256AuthProtocol,
    "SHA-512": usmHMAC384SHA512AuthProtocol,
}
# netmon's "AES-256" is net-snmp's: the Blumenthal key extension. pysnmp's usmAesCfb256Protocol
# is the Reeder ("Cisco", AES-256-C) one, which gives another key with SHA-1 auth.
PRIV_PROTOCOLS = {"AES-128": usmAesCfb128Protocol, "AES-256": usmAesBlumenthalCfb256Protocol}

RCVBUF_BYTES = 4 * 1024 * 1024


def to_value(raw: Any) -> Value:
    """A pysnmp value as a plain python value."""
    if isinstance(raw, rfc1905.NoSuchObject):
        return Missing.no_such_object
    if isinstance(raw, rfc1905.NoSuchInstance):
        return Missing.no_such_instance
    if isinstance(raw, rfc1905.EndOfMibView):
        return Missing.end_of_mib_view
    if isinstance(raw, univ.Integer):  # every SNMP integer kind derives from it
        return int(raw)
    if isinstance(raw, rfc1902.IpAddress):
        return ".".join(str(b) for b in bytes(raw))
    if isinstance(raw, univ.OctetString):
        # ifAlias and friends are free text; never let one bad byte fail a poll.
        return bytes(raw).decode("utf-8", errors="replace")
    if isinstance(raw, univ.ObjectIdentifier):
        return str(raw)
    raise SnmpGarbage(f"unexpected value type {type(raw).__name__}")


def auth_data(profile: CredentialProfile) -> CommunityData | UsmUserData:
    """pysnmp credentials for a profile; secrets are resolved now (ConfigError if missing)."""
    snmp = profile.snmp
    if isinstance(snmp, SnmpV2c):
        return CommunityData(resolve_secret(snmp.community), mpModel=1)
    if isinstance(snmp, SnmpV3):
        return UsmUserData(
            snmp.username,
            authKey=resolve_secret(snmp.auth_key),
            privKey=resolve_secret(snmp.priv_key),
            authProtocol=AUTH_PROTOCOLS[snmp.auth_protocol],
            privProtocol=PRIV_PROTOCOLS[snmp.priv_protocol],
        )
    raise SnmpTransportError(f"credential profile {profile.name} has no SNMP settings")


class PysnmpEngine:
    """The one SnmpEngine of a process, with its socket buffer enlarged once it exists."""

    def __init__(self) -> None:
        self.engine = SnmpEngine()
        self._buffer_done = False

    def enlarge_buffer(self) -> None:
        if self._buffer_done:
            return
        self._buffer_done = True
        try:
            transport = self.engine.transport_dispatcher.get_transport(udp.DOMAIN_NAME)
            if transport is not None:
                sock = transport.transport.get_extra_info("socket")
                for opt in (getattr(socket, "SO_RCVBUFFORCE", None), socket.SO_RCVBUF):
                    if opt is None:
                        continue
                    try:
                        sock.setsockopt(socket.SOL_SOCKET, opt, RCVBUF_BYTES)
                        break
                    except OSError:
                        continue
        except Exception as exc:  # a smaller buffer costs drops under load, not correctness
            log.warning("could not enlarge the SNMP socket buffer: %s", exc)

    def close(self) -> None:
        self.engine.close_dispatcher()


class PysnmpTransport:
    """One device, spoken to through the shared engine."""

    def __init__(
        self,
        engine: PysnmpEngine,
        address: str,
        port: int,
        credentials: CommunityData | UsmUserData,
        timing: SnmpTiming,
    ) -> None:
        self._engine = engine
        self._address = (address, port)
        self._auth = credentials
        self._timing = timing
        self._target: UdpTransportTarget | None = None
        self._context = ContextData()

    async def _get_target(self) -> UdpTransportTarget:
        if self._target is None:
            self._target = await UdpTransportTarget.create(
                self._address, timeout=self._timing.timeout, retries=self._timing.retries
            )
        return self._target

    def _check(self, error_indication: Any, error_status: Any, error_index: Any) -> None:
        if error_indication:
            if isinstance(error_indication, errind.RequestTimedOut):
                raise SnmpTimeout(f"{self._address[0]}: no answer")
            if isinstance(error_indication, errind.OidNotIncreasing):
                raise SnmpWalkLoop(f"{self._address[0]}: {error_indication}")
            text = str(error_indication)
            if isinstance(
                error_indication,
                errind.UnknownUserName
                | errind.WrongDigest
                | errind.DecryptionError
                | errind.UnknownEngineID
                | errind.NotInTimeWindow
                | errind.UnsupportedSecurityLevel,
            ):
                raise SnmpAuthError(f"{self._address[0]}: {text}")
            raise SnmpGarbage(f"{self._address[0]}: {text}")
        if error_status and int(error_status) != 0:
            raise SnmpErrorStatus(
                f"{self._address[0]}: {error_status.prettyPrint()} at index {int(error_index)}"
            )

    async def get(self, oids: Sequence[str]) -> list[tuple[str, Value]]:
        target = await self._get_target()
        result = await get_cmd(
            self._engine.engine,
            self._auth,
            target,
            self._context,
            *[ObjectType(ObjectIdentity(oid)) for oid in oids],
            lookupMib=False,
        )
        self._engine.enlarge_buffer()
        self._check(*result[:3])
        var_binds = result[3]
        if len(var_binds) != len(oids):
            raise SnmpGarbage(
                f"{self._address[0]}: asked {len(oids)} OIDs, got {len(var_binds)} answers"
            )
        return [(str(vb[0]), to_value(vb[1])) for vb in var_binds]

    async def get_walk(
        self, oids: Sequence[str], columns: Sequence[str]
    ) -> tuple[list[tuple[str, Value]], dict[str, dict[str, Value]]]:
        """The reference: a GET, then the walk (two requests or more)."""
        return await self.get(oids), await self.walk(columns)

    async def walk(self, columns: Sequence[str]) -> dict[str, dict[str, Value]]:
        """GETBULK with every unfinished column per request, until each column ends."""
        target = await self._get_target()
        out: dict[str, dict[str, Value]] = {c: {} for c in columns}
        prefixes = {c: oid_key(c) for c in columns}
        last: dict[str, tuple[int, ...]] = dict(prefixes)
        active = list(columns)
        while active:
            result = await bulk_cmd(
                self._engine.engine,
                self._auth,
                target,
                self._context,
                0,
                self._timing.max_repetitions,
                *[ObjectType(ObjectIdentity(last[c])) for c in active],
                lookupMib=False,
            )
            self._engine.enlarge_buffer()
            self._check(*result[:3])
            var_binds = result[3]
            width = len(active)
            if not var_binds:
                raise SnmpGarbage(f"{self._address[0]}: empty GETBULK answer")
            finished: set[str] = set()
            for i, (name, raw) in enumerate(var_binds):
                column = active[i % width]
                if column in finished:
                    continue
                if isinstance(raw, rfc1905.EndOfMibView):
                    finished.add(column)
                    continue
                key = tuple(name)
                # Checked before the column test: an agent answering an OID at or before the
                # one asked for would otherwise look like an empty column.
                if key <= last[column]:
                    raise SnmpWalkLoop(
                        f"{self._address[0]}: {'.'.join(map(str, key))} does not follow "
                        f"{'.'.join(map(str, last[column]))}"
                    )
                prefix = prefixes[column]
                if key[: len(prefix)] != prefix:
                    finished.add(column)
                    continue
                last[column] = key
                out[column][".".join(map(str, key[len(prefix) :]))] = to_value(raw)
            active = [c for c in active if c not in finished]
        return out
