"""SnmpTransport on netmon's own SNMP codec (v2c and SNMPv3 USM), all devices on one socket.

The drop-in peer of ``collector.snmp_transport.PysnmpTransport``: same answers value for value
(integers as ``int``, OCTET STRINGs as UTF-8 text with bad bytes replaced, OIDs and IpAddress
as dotted text, exceptions as ``Missing``), same walk rules, same error kinds. It exists for
speed: pyasn1 decoding is most of pysnmp's cost; ``netmon.snmp.message`` decodes a Response
straight into (OID, tag, value) triples (measured-facts.md: ~0.07 vs ~2.8 CPU-s/10k varbinds).

Walks send one GETBULK carrying every unfinished column; an agent answering tooBig gets the
same request with half the repetitions. SNMPv3: engine discovery once per device (the USM
state lives in the endpoint, so a rebuilt transport keeps it), one retry after an
authenticated notInTimeWindow report (it re-synced the clock) or an unknownEngineID report
(the device was replaced: discover again), or after an authenticated answer outside the time
window (the engine's boots went down, e.g. NVRAM wiped: our notion of its clock can never catch
up, so discover again too).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Sequence

from collector.answer_decode import (
    RawPdu,
    answer_pdu,
    bulk_rows,
    oid_tuple,
    pdu_header,
    read_varbinds,
    request_message,
    request_varbinds,
    to_value,
)
from collector.model import Target
from collector.transport import (
    Missing,
    SnmpAuthError,
    SnmpErrorStatus,
    SnmpGarbage,
    SnmpTransport,
    SnmpTransportError,
    Value,
)
from collector.udp_endpoint import Address, SnmpEndpoint, canonical_address
from netmon.errors import ConfigError
from netmon.inventory.model import Device, Inventory, SnmpTiming, SnmpV2c, SnmpV3
from netmon.inventory.secrets import resolve_secret
from netmon.snmp import ber
from netmon.snmp.ber import OID
from netmon.snmp.message import TOO_BIG, V2C, MessageError, encode_pdu, message_prefix
from netmon.snmp.usm import UsmDrop, UsmUser
from netmon.snmp.usm_manager import UsmManager, V3Report

# Varbinds one GETBULK may ask for: ~60 bytes each stays well inside a 64 KB datagram; agents
# truncate anyway (snmpd at 100 varbinds) but a sane request spares them the work.
MAX_BULK_VARBINDS = 512

ERROR_STATUS_NAMES = {
    1: "tooBig",
    2: "noSuchName",
    3: "badValue",
    4: "readOnly",
    5: "genErr",
    6: "noAccess",
    7: "wrongType",
    8: "wrongLength",
    9: "wrongEncoding",
    10: "wrongValue",
    11: "noCreation",
    12: "inconsistentValue",
    13: "resourceUnavailable",
    14: "commitFailed",
    15: "undoFailed",
    16: "authorizationError",
    17: "notWritable",
    18: "inconsistentName",
}

# USM answers we refuse for security reasons are auth errors; the rest is garbage.
_AUTH_DROPS = frozenset(("wrong_digest", "unknown_engine_or_user", "not_in_time_window"))


def usm_user(snmp: SnmpV3) -> UsmUser:
    """The USM user of a profile; secrets are resolved now (ConfigError if missing)."""
    try:
        return UsmUser(
            snmp.username.encode(),
            snmp.auth_protocol,
            resolve_secret(snmp.auth_key).encode(),
            snmp.priv_protocol,
            resolve_secret(snmp.priv_key).encode(),
        )
    except ValueError as exc:
        raise ConfigError(f"SNMPv3 user {snmp.username}: {exc}") from exc


# What ``get_soon`` tells its callback: the answers, or why there are none.
GetOutcome = list[tuple[str, Value]] | SnmpTransportError


@functools.lru_cache(maxsize=256)
def _column_prefixes(columns: tuple[str, ...]) -> dict[str, OID]:
    """Each column's OID; every poll walks the same few column lists (never mutated)."""
    return {c: oid_tuple(c) for c in columns}


class FastSnmpTransport:
    """One device, spoken to through the shared endpoint."""

    _usm: UsmManager | None  # SNMPv3 only: the USM state shared through the endpoint
    _usm_lock: asyncio.Lock | None

    def __init__(
        self,
        endpoint: SnmpEndpoint,
        address: str,
        port: int,
        snmp: SnmpV2c | SnmpV3,
        timing: SnmpTiming,
    ) -> None:
        self._setup(endpoint, address, port, timing)
        if isinstance(snmp, SnmpV2c):
            self._prefix = message_prefix(V2C, resolve_secret(snmp.community).encode())
        else:
            self._usm, self._usm_lock = endpoint.usm_state(self._addr, usm_user(snmp))

    def forget(self) -> None:
        """Drop the endpoint's USM state toward this device (it left the inventory)."""
        self._endpoint.forget(self._addr)

    def _setup(self, endpoint: SnmpEndpoint, address: str, port: int, timing: SnmpTiming) -> None:
        self._endpoint = endpoint
        self._name = address
        self._addr: Address = (canonical_address(address), port)
        self._timeout = timing.timeout
        self._retries = timing.retries
        self._max_repetitions = timing.max_repetitions
        self._rows_hint: dict[tuple[str, ...], int] = {}
        self._prefix = b""
        self._usm = None
        self._usm_lock = None

    # --- one request ---------------------------------------------------------------------------

    async def _request(self, tag: int, a: int, b: int, oids: Sequence[OID]) -> RawPdu:
        """Send one PDU, return its answer's header (error-status not yet checked)."""
        if self._usm is None:
            ep = self._endpoint
            rid = ep.next_id()
            msg = request_message(self._prefix, tag, rid, a, b, oids)
            data = await ep.exchange(self._addr, rid, msg, self._timeout, self._retries)
            try:
                resp = answer_pdu(data)[2]
            except MessageError as exc:
                raise SnmpGarbage(f"{self._name}: undecodable answer: {exc}") from exc
            return self._checked(resp, rid)
        return await self._request_v3(tag, a, b, request_varbinds(oids))

    def _checked(self, resp: RawPdu, rid: int) -> RawPdu:
        if resp.tag != ber.RESPONSE:
            raise SnmpGarbage(f"{self._name}: answer is PDU 0x{resp.tag:02x}, not a Response")
        if resp.request_id != rid:
            raise SnmpGarbage(f"{self._name}: answer carries request-id {resp.request_id}")
        return resp

    async def _discover(self, usm: UsmManager) -> None:
        ep = self._endpoint
        rid = ep.next_id()
        data = await ep.exchange(self._addr, rid, usm.discovery(rid), self._timeout, self._retries)
        try:
            got = usm.receive(data)
        except UsmDrop as exc:
            raise SnmpGarbage(f"{self._name}: engine discovery: {exc}") from exc
        if not usm.discovered:
            what = got.counter if isinstance(got, V3Report) else "a Response"
            raise SnmpAuthError(f"{self._name}: engine discovery answered with {what}")

    async def _request_v3(self, tag: int, a: int, b: int, varbinds: bytes) -> RawPdu:
        usm, lock = self._usm, self._usm_lock
        assert usm is not None and lock is not None
        ep = self._endpoint
        for attempt in (0, 1):
            if not usm.discovered:
                async with lock:  # concurrent get/walk of one device discover once
                    if not usm.discovered:
                        await self._discover(usm)
            epoch = usm.epoch
            rid = ep.next_id()
            msg = usm.request(rid, encode_pdu(tag, ber.encode_int(rid), a, b, varbinds))
            data = await ep.exchange(self._addr, rid, msg, self._timeout, self._retries)
            try:
                got = usm.receive(data)
            except UsmDrop as exc:
                if attempt == 0 and (exc.reason == "not_in_time_window" or usm.epoch != epoch):
                    # Authentic but older than our notion of the agent's clock: its boots went
                    # down with the same engine ID (NVRAM wiped, an RMA with the config restored)
                    # and would be refused forever. Or another request already reset the state.
                    self._rediscover(usm, epoch)
                    continue
                if exc.reason in _AUTH_DROPS:
                    raise SnmpAuthError(f"{self._name}: {exc}") from exc
                raise SnmpGarbage(f"{self._name}: {exc}") from exc
            if isinstance(got, V3Report):
                if attempt == 0 and got.counter == "usmStatsNotInTimeWindows" and got.authenticated:
                    continue  # the authenticated report re-synced the clock (RFC 3414 3.2 7b)
                if attempt == 0 and got.counter == "usmStatsUnknownEngineIDs":
                    self._rediscover(usm, epoch)  # a new engine behind the address
                    continue
                raise SnmpAuthError(f"{self._name}: report {got.counter}")
            try:
                resp = pdu_header(got.pdu)
            except MessageError as exc:
                raise SnmpGarbage(f"{self._name}: undecodable answer: {exc}") from exc
            return self._checked(resp, rid)
        raise SnmpAuthError(f"{self._name}: still not in the time window after a re-sync")

    @staticmethod
    def _rediscover(usm: UsmManager, epoch: int) -> None:
        # Once per state: concurrent requests that all failed on it discover once, not N times.
        if usm.epoch == epoch:
            usm.reset()

    def _status(self, resp: RawPdu) -> SnmpErrorStatus:
        name = ERROR_STATUS_NAMES.get(resp.error_status, str(resp.error_status))
        return SnmpErrorStatus(f"{self._name}: {name} at index {resp.error_index}")

    # --- SnmpTransport -------------------------------------------------------------------------

    async def get(self, oids: Sequence[str]) -> list[tuple[str, Value]]:
        resp = await self._request(ber.GET, 0, 0, [oid_tuple(o) for o in oids])
        return self._get_answer(resp, oids)

    def get_soon(self, oids: Sequence[str], done: Callable[[GetOutcome], None]) -> bool:
        """``get`` by callback, no task: ``done`` gets the answers or the SnmpTransportError,
        once, later. SNMPv2c only (False: use ``get``); SNMPv3's discovery and re-sync take
        several requests in turn."""
        if self._usm is not None:
            return False
        ep = self._endpoint
        rid = ep.next_id()
        ep.send(
            self._addr,
            rid,
            request_message(self._prefix, ber.GET, rid, 0, 0, [oid_tuple(o) for o in oids]),
            self._timeout,
            self._retries,
            functools.partial(self._got, rid, oids, done),
        )
        return True

    def _got(
        self,
        rid: int,
        oids: Sequence[str],
        done: Callable[[GetOutcome], None],
        data: bytes | SnmpTransportError,
    ) -> None:
        if isinstance(data, SnmpTransportError):
            done(data)
            return
        try:
            try:
                resp = answer_pdu(data)[2]
            except MessageError as exc:
                raise SnmpGarbage(f"{self._name}: undecodable answer: {exc}") from exc
            answers = self._get_answer(self._checked(resp, rid), oids)
        except SnmpTransportError as exc:
            done(exc)
            return
        done(answers)

    def _get_answer(self, resp: RawPdu, oids: Sequence[str]) -> list[tuple[str, Value]]:
        if resp.error_status:
            raise self._status(resp)
        var_binds, _ = self._varbinds(resp)
        if len(var_binds) != len(oids):
            raise SnmpGarbage(f"{self._name}: asked {len(oids)} OIDs, got {len(var_binds)} answers")
        return [(".".join(map(str, oid)), to_value(tag, raw)) for oid, tag, raw in var_binds]

    def _varbinds(
        self, resp: RawPdu, limit: int = -1
    ) -> tuple[list[tuple[OID, int, int | bytes | OID | None]], int]:
        try:
            return read_varbinds(resp.buf, resp.start, resp.stop, limit)
        except MessageError as exc:
            raise SnmpGarbage(f"{self._name}: undecodable answer: {exc}") from exc

    async def walk(self, columns: Sequence[str]) -> dict[str, dict[str, Value]]:
        """GETBULK with every unfinished column per request, until each column ends."""
        return (await self._walk((), columns))[1]

    async def get_walk(
        self, oids: Sequence[str], columns: Sequence[str]
    ) -> tuple[list[tuple[str, Value]], dict[str, dict[str, Value]]]:
        """The scalars (``.0`` instances) as non-repeaters of the walk's first GETBULK: one
        request fewer per poll. GETBULK's non-repeaters are GETNEXTs, so each asks for the
        scalar's object and takes the answer only if it is that object's ``.0``."""
        if not columns or not all(o.endswith(".0") for o in oids):
            return await self.get(oids), await self.walk(columns)
        return await self._walk(oids, columns)

    async def _walk(
        self, oids: Sequence[str], columns: Sequence[str]
    ) -> tuple[list[tuple[str, Value]], dict[str, dict[str, Value]]]:
        out: dict[str, dict[str, Value]] = {c: {} for c in columns}
        prefixes = _column_prefixes(tuple(columns))
        last: dict[str, OID] = dict(prefixes)
        active = list(columns)
        wanted = [oid_tuple(o) for o in oids]
        asked = [w[:-1] for w in wanted]  # GETNEXT of the object gives its .0 instance
        scalars: list[tuple[str, Value]] = []
        # Rows this walk had last time: ask for one more repetition than the rows still to
        # come, and every column ends in that answer without max_repetitions rows of the
        # columns after them to decode and drop. The agent cuts an answer to its size limit
        # (~70 varbinds), so a walk takes two or more answers: the hint holds for each of
        # them (it covered only the first: a third of the varbinds received were past their
        # column's end, measured on the backbone).
        hint_key = tuple(columns)
        hint = self._rows_hint.get(hint_key)
        while active:
            width = len(active)
            nonrep = len(asked)
            reps = max(1, min(self._max_repetitions, (MAX_BULK_VARBINDS - nonrep) // width))
            if hint is not None:
                read = min(len(out[c]) for c in active)  # the column furthest behind
                if read <= hint:
                    reps = min(reps, hint - read + 1)
                else:
                    hint = None  # the table grew: go on at full size
            request = [*asked, *(last[c] for c in active)]
            resp = await self._request(ber.GETBULK, nonrep, reps, request)
            if resp.error_status == TOO_BIG and reps > 1:
                # Ask for less next time too: this device's answers do not fit.
                self._max_repetitions = reps // 2
                continue
            if resp.error_status:
                raise self._status(resp)
            start = resp.start
            if nonrep:
                var_binds, start = self._varbinds(resp, nonrep)
                if len(var_binds) < nonrep:
                    raise SnmpGarbage(f"{self._name}: {len(var_binds)} answers to {nonrep} scalars")
                for name, want, (key, tag, raw) in zip(oids, wanted, var_binds, strict=False):
                    if key == want and tag != ber.END_OF_MIB_VIEW:
                        scalars.append((name, to_value(tag, raw)))
                    else:  # the agent has no such object: GETNEXT went past it
                        scalars.append((name, Missing.no_such_object))
                asked = []
                if start >= resp.stop:
                    continue  # an agent that cut the answer after the scalars: walk on
            lasts = [last[c] for c in active]
            done = [False] * width
            try:
                read = bulk_rows(
                    resp.buf,
                    start,
                    resp.stop,
                    [prefixes[c] for c in active],
                    lasts,
                    [out[c] for c in active],
                    done,
                    self._name,
                )
            except MessageError as exc:
                raise SnmpGarbage(f"{self._name}: undecodable answer: {exc}") from exc
            if not read:
                raise SnmpGarbage(f"{self._name}: empty GETBULK answer")
            for c, key in zip(active, lasts, strict=True):
                last[c] = key
            active = [c for c, ended in zip(active, done, strict=True) if not ended]
        if len(self._rows_hint) < 64 or hint_key in self._rows_hint:
            self._rows_hint[hint_key] = max((len(rows) for rows in out.values()), default=0)
        return scalars, out


# --- construction from the inventory --------------------------------------------------------


def make_fast_transport(
    endpoint: SnmpEndpoint, inventory: Inventory, device: Device, port_override: int | None = None
) -> FastSnmpTransport:
    """The transport for an inventory device, with the same effective settings as
    ``collector.targets`` (credential profile, timing, port; ``port_override`` wins)."""
    profile = inventory.profile_of(device)
    if profile.snmp is None:
        raise ConfigError(f"{device.name}: credential profile {profile.name} has no SNMP settings")
    port = port_override or inventory.port_of(device)
    return FastSnmpTransport(endpoint, device.address, port, profile.snmp, profile.snmp_timing)


def fast_factory(endpoint: SnmpEndpoint) -> Callable[[Target], SnmpTransport]:
    """``netmon.service.pysnmp_factory``'s twin: a transport per collector Target."""

    def make(target: Target) -> SnmpTransport:
        profile = target.profile
        if profile is None or profile.snmp is None:
            raise ConfigError(f"{target.name}: no SNMP credential profile")
        return FastSnmpTransport(
            endpoint, target.address, target.port, profile.snmp, profile.snmp_timing
        )

    return make


__all__ = ["FastSnmpTransport", "GetOutcome", "fast_factory", "make_fast_transport"]
