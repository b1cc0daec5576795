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

from collector.model import Target
from collector.transport import (
    Missing,
    SnmpAuthError,
    SnmpErrorStatus,
    SnmpGarbage,
    SnmpTransport,
    SnmpTransportError,
    SnmpWalkLoop,
    Value,
    oid_key,
)
from collector.udp_endpoint import Address, SnmpEndpoint, canonical_address
from netmon.errors import ConfigError
from netmon.inventory.model import Device, Inventory, SnmpTiming, SnmpV2c, SnmpV3
from netmon.inventory.secrets import resolve_secret
from netmon.snmp import ber
from netmon.snmp.ber import OID
from netmon.snmp.message import (
    TOO_BIG,
    V2C,
    MessageError,
    Response,
    decode_value,
    encode_pdu,
    message_prefix,
    null_varbinds,
    wrap_message,
)
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
_INT32 = (-(2**31), 2**31 - 1)
_UNSIGNED32 = (ber.COUNTER32, ber.GAUGE32, ber.TIMETICKS)
_UNSIGNED_TAGS = frozenset((*_UNSIGNED32, ber.COUNTER64))


def to_value(tag: int, raw: int | bytes | OID | None) -> Value:
    """A decoded varbind value as the pysnmp transport's ``to_value`` renders it."""
    if tag == ber.OCTET_STRING or tag == ber.OPAQUE:
        assert isinstance(raw, bytes)
        # ifAlias and friends are free text; never let one bad byte fail a poll.
        return raw.decode("utf-8", errors="replace")
    if tag in _UNSIGNED32:
        assert isinstance(raw, int)
        if raw > 0xFFFFFFFF:
            raise SnmpGarbage(f"value {raw} out of range for tag 0x{tag:02x}")
        return raw
    if tag == ber.INTEGER:
        assert isinstance(raw, int)
        if not _INT32[0] <= raw <= _INT32[1]:
            raise SnmpGarbage(f"INTEGER {raw} out of range")
        return raw
    if tag == ber.COUNTER64:
        assert isinstance(raw, int)
        if raw > 0xFFFFFFFFFFFFFFFF:
            raise SnmpGarbage(f"Counter64 {raw} out of range")
        return raw
    if tag == ber.OBJECT_IDENTIFIER:
        assert isinstance(raw, tuple)
        return ".".join(map(str, raw))
    if tag == ber.IPADDRESS:
        assert isinstance(raw, bytes)
        if len(raw) != 4:
            raise SnmpGarbage(f"IpAddress of {len(raw)} bytes")
        return ".".join(map(str, raw))
    if tag == ber.NO_SUCH_OBJECT:
        return Missing.no_such_object
    if tag == ber.NO_SUCH_INSTANCE:
        return Missing.no_such_instance
    if tag == ber.END_OF_MIB_VIEW:
        return Missing.end_of_mib_view
    if tag == ber.NULL:
        return ""  # pyasn1's Null is an OctetString: pysnmp renders it as empty text
    raise SnmpGarbage(f"unexpected value tag 0x{tag:02x}")


# --- decoding answers ----------------------------------------------------------------------------

# Decoded OIDs by their encoded bytes. decode_oid's byte loop was ~40 % of the CPU of a poll
# (profiled); a poll asks every device for the same columns and ifIndexes, so nearly every OID
# has been seen before and a dict lookup replaces the loop. Cleared when full (no LRU needed).
_OID_CACHE: dict[bytes, OID] = {}
OID_CACHE_MAX = 100_000  # entries (~20 MB at most); the backbone needs a few tens of thousands


def _cached_oid(buf: bytes, start: int, stop: int) -> OID:
    raw = buf[start:stop]
    oid = _OID_CACHE.get(raw)
    if oid is None:
        oid = ber.decode_oid(buf, start, stop)
        if len(_OID_CACHE) >= OID_CACHE_MAX:
            _OID_CACHE.clear()
        _OID_CACHE[raw] = oid
    return oid


# A row's OID -> (length of its column's OID, the row's index as text), for the same reason.
_INDEXES: dict[OID, tuple[int, str]] = {}

# Encoded request varbinds (OID + NULL) by OID: a poll asks for the same OIDs every cycle.
_VARBIND_CACHE: dict[OID, bytes] = {}


def request_varbinds(oids: Sequence[OID]) -> bytes:
    """``message.null_varbinds`` with a cache (encoding OIDs was ~1/3 of a poll's CPU)."""
    out = []
    for oid in oids:
        vb = _VARBIND_CACHE.get(oid)
        if vb is None:
            vb = null_varbinds((oid,))
            if len(_VARBIND_CACHE) >= OID_CACHE_MAX:
                _VARBIND_CACHE.clear()
            _VARBIND_CACHE[oid] = vb
        out.append(vb)
    return b"".join(out)


_oid_tuple = functools.lru_cache(maxsize=8192)(oid_key)


def decode_pdu(buf: bytes, pos: int = 0, end: int | None = None) -> Response:
    """``message.decode_pdu_full`` with the OID cache: same triples, same MessageError."""
    if end is None:
        end = len(buf)
    expect, read_tlv = ber.expect, ber.read_tlv
    try:
        tag, start, stop = read_tlv(buf, pos, end)
        if tag & 0xE0 != 0xA0:
            raise MessageError(f"not a PDU tag 0x{tag:02x}", pos)
        fields: list[int] = []
        p = start
        for _ in range(3):  # request-id, error-status, error-index
            s, p = expect(buf, p, stop, ber.INTEGER)
            fields.append(ber.decode_int(buf, s, p))
        vs, ve = expect(buf, p, stop, ber.SEQUENCE)
        out: list[tuple[OID, int, int | bytes | OID | None]] = []
        oids = _OID_CACHE
        p = vs
        while p < ve:
            # The fast path: a varbind whose lengths are all in the short form (nearly every
            # one in an answer), read inline. Anything else takes the general reader below,
            # which also says what is wrong with it.
            if p + 6 <= ve and buf[p] == 0x30 and buf[p + 2] == 0x06:
                blen, olen = buf[p + 1], buf[p + 3]
                be, oe = p + 2 + blen, p + 4 + olen
                if blen < 0x80 and olen < 0x80 and be <= ve and oe + 2 <= be:
                    vtag, vlen = buf[oe], buf[oe + 1]
                    s = oe + 2
                    if vlen < 0x80 and s + vlen == be and vtag & 0x1F != 0x1F:
                        oid = oids.get(buf[p + 4 : oe])
                        if oid is None:
                            oid = _cached_oid(buf, p + 4, oe)
                        if vtag in _UNSIGNED_TAGS and 0 < vlen <= 9:
                            value: int | bytes | OID | None = int.from_bytes(buf[s:be], "big")
                        elif vtag == ber.INTEGER and 0 < vlen <= 9:
                            value = int.from_bytes(buf[s:be], "big", signed=True)
                        else:
                            value = decode_value(buf, vtag, s, be)
                        out.append((oid, vtag, value))
                        p = be
                        continue
            bs, be = expect(buf, p, ve, ber.SEQUENCE)
            os_, oe = expect(buf, bs, be, ber.OBJECT_IDENTIFIER)
            vtag, s, e = read_tlv(buf, oe, be)
            if e != be:
                raise MessageError("trailing bytes inside a varbind", e)
            out.append((_cached_oid(buf, os_, oe), vtag, decode_value(buf, vtag, s, e)))
            p = be
    except MessageError:
        raise
    except ber.BerError as exc:
        raise MessageError(str(exc), exc.offset) from exc
    return Response(-1, b"", tag, fields[0], fields[1], fields[2], tuple(out))


def decode_answer(buf: bytes) -> Response:
    """``message.decode_response`` with the OID cache (v1/v2c messages)."""
    try:
        ms, me = ber.expect(buf, 0, len(buf), ber.SEQUENCE)
        vs, ve = ber.expect(buf, ms, me, ber.INTEGER)
        version = ber.decode_int(buf, vs, ve)
        if version not in (0, V2C):
            raise MessageError(f"unsupported SNMP version {version}", ms)
        cs, ce = ber.expect(buf, ve, me, ber.OCTET_STRING)
        r = decode_pdu(buf, ce, me)
    except MessageError:
        raise
    except ber.BerError as exc:
        raise MessageError(str(exc), exc.offset) from exc
    return Response(
        version, buf[cs:ce], r.tag, r.request_id, r.error_status, r.error_index, r.varbinds
    )


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

    async def _request(self, tag: int, a: int, b: int, oids: Sequence[OID]) -> Response:
        """Send one PDU, return the decoded Response (error-status not yet checked)."""
        varbinds = request_varbinds(oids)
        if self._usm is None:
            ep = self._endpoint
            rid = ep.next_id()
            msg = wrap_message(self._prefix, encode_pdu(tag, ber.encode_int(rid), a, b, varbinds))
            data = await ep.exchange(self._addr, rid, msg, self._timeout, self._retries)
            try:
                resp = decode_answer(data)
            except MessageError as exc:
                raise SnmpGarbage(f"{self._name}: undecodable answer: {exc}") from exc
            return self._checked(resp, rid)
        return await self._request_v3(tag, a, b, varbinds)

    def _checked(self, resp: Response, rid: int) -> Response:
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

    async def _request_v3(self, tag: int, a: int, b: int, varbinds: bytes) -> Response:
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
                resp = decode_pdu(got.pdu)
            except MessageError as exc:
                raise SnmpGarbage(f"{self._name}: undecodable answer: {exc}") from exc
            return self._checked(resp, rid)
        raise SnmpAuthError(f"{self._name}: still not in the time window after a re-sync")

    @staticmethod
    def _rediscover(usm: UsmManager, epoch: int) -> None:
        # Once per state: concurrent requests that all failed on it discover once, not N times.
        if usm.epoch == epoch:
            usm.reset()

    def _status(self, resp: Response) -> SnmpErrorStatus:
        name = ERROR_STATUS_NAMES.get(resp.error_status, str(resp.error_status))
        return SnmpErrorStatus(f"{self._name}: {name} at index {resp.error_index}")

    # --- SnmpTransport -------------------------------------------------------------------------

    async def get(self, oids: Sequence[str]) -> list[tuple[str, Value]]:
        resp = await self._request(ber.GET, 0, 0, [_oid_tuple(o) for o in oids])
        if resp.error_status:
            raise self._status(resp)
        if len(resp.varbinds) != len(oids):
            raise SnmpGarbage(
                f"{self._name}: asked {len(oids)} OIDs, got {len(resp.varbinds)} answers"
            )
        return [(".".join(map(str, oid)), to_value(tag, raw)) for oid, tag, raw in resp.varbinds]

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
        prefixes = {c: _oid_tuple(c) for c in columns}
        last: dict[str, OID] = dict(prefixes)
        active = list(columns)
        wanted = [_oid_tuple(o) for o in oids]
        asked = [w[:-1] for w in wanted]  # GETNEXT of the object gives its .0 instance
        scalars: list[tuple[str, Value]] = []
        # Rows this walk had last time: one more repetition than that ends every column in
        # the first answer without decoding max_repetitions rows of the columns after them.
        hint_key = tuple(columns)
        hint = self._rows_hint.get(hint_key)
        while active:
            width = len(active)
            nonrep = len(asked)
            reps = max(1, min(self._max_repetitions, (MAX_BULK_VARBINDS - nonrep) // width))
            if hint is not None:
                reps = min(reps, hint + 1)
                hint = None  # the table grew: go on at full size
            request = [*asked, *(last[c] for c in active)]
            resp = await self._request(ber.GETBULK, nonrep, reps, request)
            if resp.error_status == TOO_BIG and reps > 1:
                # Ask for less next time too: this device's answers do not fit.
                self._max_repetitions = reps // 2
                continue
            if resp.error_status:
                raise self._status(resp)
            var_binds = resp.varbinds
            if nonrep:
                if len(var_binds) < nonrep:
                    raise SnmpGarbage(f"{self._name}: {len(var_binds)} answers to {nonrep} scalars")
                for name, want, (key, tag, raw) in zip(oids, wanted, var_binds, strict=False):
                    if key == want and tag != ber.END_OF_MIB_VIEW:
                        scalars.append((name, to_value(tag, raw)))
                    else:  # the agent has no such object: GETNEXT went past it
                        scalars.append((name, Missing.no_such_object))
                var_binds = var_binds[nonrep:]
                asked = []
                if not var_binds:
                    continue  # an agent that cut the answer after the scalars: walk on
            if not var_binds:
                raise SnmpGarbage(f"{self._name}: empty GETBULK answer")
            finished: set[str] = set()
            for i, (key, tag, raw) in enumerate(var_binds):
                column = active[i % width]
                if column in finished:
                    continue
                if tag == ber.END_OF_MIB_VIEW:
                    finished.add(column)
                    continue
                # Checked before the column test: an agent answering an OID at or before the
                # one asked for would otherwise look like an empty column.
                if key <= last[column]:
                    raise SnmpWalkLoop(
                        f"{self._name}: {'.'.join(map(str, key))} does not follow "
                        f"{'.'.join(map(str, last[column]))}"
                    )
                prefix = prefixes[column]
                n = len(prefix)
                if key[:n] != prefix:
                    finished.add(column)
                    continue
                last[column] = key
                index = _INDEXES.get(key)  # a column's rows are the same ifIndexes every poll
                if index is None or index[0] != n:
                    index = (n, ".".join(map(str, key[n:])))
                    if len(_INDEXES) >= OID_CACHE_MAX:
                        _INDEXES.clear()
                    _INDEXES[key] = index
                out[column][index[1]] = to_value(tag, raw)
            active = [c for c in active if c not in finished]
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


__all__ = [
    "FastSnmpTransport",
    "SnmpEndpoint",
    "SnmpTransportError",
    "fast_factory",
    "make_fast_transport",
    "to_value",
]
