"""The SNMP collector: one full poll of a device per call, with slow columns cached.

Per poll: one multi-column walk of the per-cycle interface columns whose first GETBULK also
carries the system scalars (non-repeaters), a walk of the cached columns when the scalars say
the cache is stale, one walk of the platform's vendor tables. The label columns (ifName,
ifDescr, ifAlias) and slow gauges (ifHighSpeed, ifType) are refreshed hourly, after a reboot
(sysUpTime went backwards, and not by wrapping at 2**32 TimeTicks, every ~497 days), or when
ifNumber or ifTableLastChange change: the peers' pain
point "no caching of ifName/ifAlias".

Not every agent has every object: without sysUpTime a device is still up (reboots are then
seen only as counter resets); without ifXTable the 32-bit ifInOctets/ifOutOctets are polled
(``fallback_metrics`` in the profiles) for the interfaces that lack the 64-bit counters.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from collector.callback_polls import probe_result, status_result
from collector.counters import rate
from collector.model import (
    InterfaceTable,
    PollResult,
    ProbeResult,
    StatusResult,
    Target,
    VendorSample,
)
from collector.profiles import Profiles
from collector.transport import (
    Missing,
    SnmpGarbage,
    SnmpNoSuchObject,
    SnmpTransport,
    SnmpTransportError,
    Value,
)

CACHE_TTL = 3600.0
PROBE_TIMEOUT = 1.0  # a reachability probe: two tries of at most a second each
PROBE_RETRIES = 1
TICKS_WRAP = 2**32  # sysUpTime is TimeTicks (1/100 s), a 32-bit counter
WRAP_TOLERANCE = 6000  # ticks (60 s), or 10 % of the time since the last reading if more
TransportFactory = Callable[[Target], SnmpTransport]


@dataclass(slots=True)
class _Cache:
    fetched_at: float
    uptime: int | None
    if_number: int | None
    if_table_last_change: int | None
    labels: dict[str, dict[str, str]]
    cached: dict[str, dict[str, int]]
    by_name: dict[str, str] = field(default_factory=dict)  # ifName -> ifIndex
    # link interfaces: ifIndex -> (when, in octets, out octets, counter bits) of the last poll
    previous: dict[str, tuple[float, int, int, int]] = field(default_factory=dict)
    uptime_at: float = 0.0  # collector clock when ``uptime`` was read
    fallback: bool = False  # some interface needs the 32-bit fallback columns


_INT_ONLY = frozenset((int,))  # bool is not: ``_int`` refuses it


def _int(name: str, value: Value) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise SnmpGarbage(f"{name}: expected a number, got {value!r}")


def _bits(octets_per_second: float | None, ceiling: float | None) -> float | None:
    if octets_per_second is None:
        return None
    bits = octets_per_second * 8
    return None if ceiling is not None and bits > ceiling else bits


def _uptime_wrapped(previous: int, previous_at: float, uptime: int, now: float) -> bool:
    """Did sysUpTime wrap at 2**32 since ``previous`` (read at ``previous_at``), rather than
    restart? Only if the time since then carries ``previous`` past 2**32 to about ``uptime``."""
    elapsed = max(0.0, now - previous_at) * 100
    expected = previous + elapsed
    tolerance = max(elapsed * 0.1, WRAP_TOLERANCE)
    return abs(uptime + TICKS_WRAP - expected) <= tolerance


# Every poll sorts each device's ifIndexes: the same few thousand texts each cycle.
@functools.lru_cache(maxsize=65536)
def _index_order(index: str) -> tuple[int, ...]:
    return tuple(int(p) for p in index.split(".")) if index else ()


class SnmpCollector:
    """Implements the scheduler's Collector protocol over any SnmpTransport."""

    def __init__(
        self,
        profiles: Profiles,
        transport_for: TransportFactory,
        *,
        clock: Callable[[], float] = time.monotonic,
        cache_ttl: float = CACHE_TTL,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.profiles = profiles
        self._transport_for = transport_for
        self._transports: dict[str, tuple[Target, SnmpTransport]] = {}
        self._probe_transports: dict[str, tuple[Target, SnmpTransport]] = {}
        self._caches: dict[str, _Cache] = {}
        self._clock = clock
        self._wall = wall
        self._cache_ttl = cache_ttl
        ifp = profiles.interfaces
        self._metric_oids = {m.oid: m.name for m in ifp.metrics}
        self._cached_oids = {m.oid: m.name for m in ifp.cached_metrics}
        self._label_oids = {lc.oid: lc.name for lc in ifp.labels}
        self._fallback_oids = {m.oid: (m.name, m.replaces) for m in ifp.fallback_metrics}
        self._fallback_for = {m.replaces: (m.name, m.bits) for m in ifp.fallback_metrics}

    def transport(self, target: Target) -> SnmpTransport:
        # A changed target (address, credentials) gets a new transport; the cache survives.
        held = self._transports.get(target.name)
        if held is None or held[0] != target:
            held = (target, self._transport_for(target))
            self._transports[target.name] = held
        return held[1]

    def probe_transport(self, target: Target) -> SnmpTransport:
        """The device's transport with the probe's short timing (same endpoint, same keys)."""
        held = self._probe_transports.get(target.name)
        if held is None or held[0] != target:
            quick = target
            profile = target.profile
            if profile is not None:
                t = profile.snmp_timing
                timing = t.model_copy(
                    update={"timeout": min(PROBE_TIMEOUT, t.timeout), "retries": PROBE_RETRIES}
                )
                quick = replace(target, profile=profile.model_copy(update={"snmp_timing": timing}))
            held = (target, self._transport_for(quick))
            self._probe_transports[target.name] = held
        return held[1]

    def reset_transports(self) -> None:
        """Drop every transport (not the caches): the next poll of each device builds a new one
        with its secrets resolved again, so rotated communities and v3 keys take effect."""
        self._transports.clear()
        self._probe_transports.clear()

    def forget(self, name: str) -> None:
        """Drop a device's transport and cache (it left the inventory)."""
        held = self._transports.pop(name, None)
        self._probe_transports.pop(name, None)
        self._caches.pop(name, None)
        if held is None:
            return
        gone, transport = held
        if any(
            (t.address, t.port) == (gone.address, gone.port) for t, _ in self._transports.values()
        ):
            return  # another device still speaks to that address (a renamed device)
        # The fast transport's endpoint keeps per-address USM state: let it go too.
        forget = getattr(transport, "forget", None)
        if callable(forget):
            forget()

    def _stale(
        self,
        cache: _Cache | None,
        uptime: int | None,
        if_number: int | None,
        iflc: int | None,
        now: float,
    ) -> tuple[bool, bool]:
        """(refresh the cache?, did the device reboot?)"""
        if cache is None:
            return True, False
        rebooted = (
            uptime is not None
            and cache.uptime is not None
            and uptime < cache.uptime
            and not _uptime_wrapped(cache.uptime, cache.uptime_at, uptime, now)
        )
        stale = (
            rebooted
            or now - cache.fetched_at >= self._cache_ttl
            or if_number != cache.if_number
            or iflc != cache.if_table_last_change
        )
        return stale, rebooted

    async def collect(self, target: Target) -> PollResult:
        transport = self.transport(target)
        sys_oids = self.profiles.system
        names = ["sysUpTime", "sysName", "sysDescr", "sysObjectID", "ifNumber", "ifTableLastChange"]
        cache = self._caches.get(target.name)
        # The per-cycle columns ride with the system scalars in one GETBULK; the slow columns
        # follow in a walk of their own when the scalars say the cache is stale (hourly).
        columns = list(self._metric_oids)
        if cache is None or cache.fallback:
            columns += list(self._fallback_oids)
        answers, table = await transport.get_walk(sys_oids.oids(), columns)
        read_at = self._clock()
        varbinds = len(answers)
        system: dict[str, int | str] = {}
        for name, (_, value) in zip(names, answers, strict=True):
            if not isinstance(value, Missing):
                system[name] = value
        if not system:  # nothing in view: a misconfigured agent, not a device to call up
            raise SnmpNoSuchObject("no system object answered (sysUpTime.0, sysName.0, ...)")
        uptime = _int("sysUpTime", system["sysUpTime"]) if "sysUpTime" in system else None
        if_number = _int("ifNumber", system["ifNumber"]) if "ifNumber" in system else None
        iflc = (
            _int("ifTableLastChange", system["ifTableLastChange"])
            if "ifTableLastChange" in system
            else None
        )

        stale, rebooted = self._stale(cache, uptime, if_number, iflc, read_at)
        previous = cache.previous if cache is not None else {}
        counters_at = self._wall()  # the counters' sample timestamp in the exposition
        if stale:
            slow = list(self._cached_oids) + list(self._label_oids)
            if not (cache is None or cache.fallback):
                slow += list(self._fallback_oids)
            table.update(await transport.walk(slow))
        varbinds += sum(len(rows) for rows in table.values())

        values: dict[str, dict[str, int]] = {}
        for oid, name in self._metric_oids.items():
            rows = table.get(oid, {})
            if set(map(type, rows.values())) <= _INT_ONLY:  # nearly always: a copy in C
                values[name] = dict(rows)  # type: ignore[arg-type]
                continue
            values[name] = {i: _int(name, v) for i, v in rows.items() if not isinstance(v, Missing)}
        fallback = False
        for oid, (name, replaces) in self._fallback_oids.items():
            have = values.get(replaces, {})
            older = {
                i: _int(name, v)
                for i, v in table.get(oid, {}).items()
                if i not in have and not isinstance(v, Missing)
            }
            if older:
                values[name] = older
                fallback = True
        if stale or cache is None:
            labels: dict[str, dict[str, str]] = {}
            for oid, name in self._label_oids.items():
                for index, v in table.get(oid, {}).items():
                    if not isinstance(v, Missing):
                        labels.setdefault(index, {})[name] = str(v)
            for lab in labels.values():  # no ifXTable: ifDescr is the interface's name
                if "ifName" not in lab and "ifDescr" in lab:
                    lab["ifName"] = lab["ifDescr"]
            cached = {
                name: {
                    i: _int(name, v)
                    for i, v in table.get(oid, {}).items()
                    if not isinstance(v, Missing)
                }
                for oid, name in self._cached_oids.items()
            }
            by_name = {lab["ifName"]: i for i, lab in labels.items() if "ifName" in lab}
            cache = _Cache(
                self._clock(), uptime, if_number, iflc, labels, cached, by_name, previous, read_at
            )
            self._caches[target.name] = cache
        else:
            cache.uptime = uptime
            cache.uptime_at = read_at
        if stale or cache.fallback:
            cache.fallback = fallback
        indexes: set[str] = set(cache.labels)
        for metric_rows in values.values():
            indexes.update(metric_rows)
        interfaces = InterfaceTable(
            indexes=sorted(indexes, key=_index_order),
            labels=cache.labels,
            values=values,
            cached=cache.cached,
        )

        rates = self._link_rates(target, cache, values, rebooted)

        vendor: list[VendorSample] = []
        vendor_columns = self.profiles.vendor_columns(target.platform)
        if vendor_columns:
            vtable = await transport.walk(vendor_columns)
            varbinds += sum(len(rows) for rows in vtable.values())
            vendor = self._vendor_samples(target.platform, vtable)

        return PollResult(
            ok=True,
            varbinds=varbinds,
            system=system,
            interfaces=interfaces,
            vendor=vendor,
            rebooted=rebooted,
            labels_refreshed=stale,
            rates=rates,
            counters_at=counters_at,
        )

    def _link_rates(
        self, target: Target, cache: _Cache, values: dict[str, dict[str, int]], rebooted: bool
    ) -> dict[str, tuple[float | None, float | None]]:
        """Bits/s of the link interfaces since the previous poll (wrap- and reboot-safe)."""
        now = self._clock()
        hc_rx, hc_tx = values.get("ifHCInOctets", {}), values.get("ifHCOutOctets", {})
        rx_fb, rx_bits = self._fallback_for.get("ifHCInOctets", ("", 32))
        tx_fb, tx_bits = self._fallback_for.get("ifHCOutOctets", ("", 32))
        speeds = cache.cached.get("ifHighSpeed", {})
        out: dict[str, tuple[float | None, float | None]] = {}
        current: dict[str, tuple[float, int, int, int]] = {}
        for name in target.uplinks:
            index = cache.by_name.get(name)
            if index is None:
                continue
            if index in hc_rx and index in hc_tx:
                bits, rx, tx = 64, hc_rx[index], hc_tx[index]
            elif index in values.get(rx_fb, {}) and index in values.get(tx_fb, {}):
                bits, rx, tx = min(rx_bits, tx_bits), values[rx_fb][index], values[tx_fb][index]
            else:
                continue
            current[index] = (now, rx, tx, bits)
            prev = cache.previous.get(index)
            if prev is None or prev[3] != bits:
                continue
            seconds = now - prev[0]
            speed = speeds.get(index)
            # a rate above twice the line speed is a counter glitch, not traffic
            ceiling = speed * 2e6 if speed else None
            out[index] = (
                _bits(rate(prev[1], rx, seconds, bits=bits, rebooted=rebooted), ceiling),
                _bits(rate(prev[2], tx, seconds, bits=bits, rebooted=rebooted), ceiling),
            )
        cache.previous = current
        return out

    def _vendor_samples(
        self, platform: str, vtable: dict[str, dict[str, Value]]
    ) -> list[VendorSample]:
        out: list[VendorSample] = []
        for metric in self.profiles.vendor_metrics(platform):
            rows = vtable.get(metric.oid, {})
            factors = vtable.get(metric.multiply_by, {}) if metric.multiply_by else {}
            divisors = vtable.get(metric.divide_by, {}) if metric.divide_by else {}
            for index in sorted(rows, key=_index_order):
                raw = rows[index]
                if isinstance(raw, Missing) or not all(
                    str(vtable.get(column, {}).get(index)) == want
                    for column, want in metric.where.items()
                ):
                    continue
                value = float(_int(metric.name, raw)) * metric.scale
                if metric.multiply_by:
                    factor = factors.get(index)
                    if not isinstance(factor, int):
                        continue
                    value *= factor
                if metric.divide_by:
                    divisor = divisors.get(index)
                    if not isinstance(divisor, int) or divisor <= 0:
                        continue
                    value /= divisor
                labels = [(metric.index_label, index)]
                for label, column in metric.label_columns.items():
                    lv = vtable.get(column, {}).get(index)
                    labels.append((label, "" if lv is None or isinstance(lv, Missing) else str(lv)))
                out.append(VendorSample(metric.name, tuple(labels), value))
        return out

    async def probe(self, target: Target) -> ProbeResult:
        """Does the device answer at all? One GET of sysUpTime.0, short timeout, two tries.
        Any answer counts (an error status, noSuchObject, an SNMPv3 report): it is reachable."""
        try:
            await self.probe_transport(target).get([self.profiles.system.sysUpTime])
        except SnmpTransportError as exc:
            return probe_result(exc)
        return ProbeResult(True)

    def start_probe(self, target: Target, done: Callable[[ProbeResult], None]) -> bool:
        """``probe`` by callback (``collector.callback_polls``); False: use ``probe``."""
        get_soon = getattr(self.probe_transport(target), "get_soon", None)
        if get_soon is None:
            return False
        oids = [self.profiles.system.sysUpTime]
        return bool(get_soon(oids, lambda outcome: done(probe_result(outcome))))

    async def poll_status(self, target: Target) -> StatusResult | None:
        """GET ifOperStatus of the device's uplink interfaces; None if there is nothing to ask
        (no uplinks, or their ifIndex is not known yet)."""
        asked = self._status_oids(target)
        if asked is None:
            return None
        answers = await self.transport(target).get(asked[1])
        return StatusResult(ok=True, oper_status=_oper_status(asked[0], answers))

    def start_status(self, target: Target, done: Callable[[StatusResult], None]) -> bool:
        """``poll_status`` by callback; False: use ``poll_status`` (also when it has nothing
        to ask)."""
        asked = self._status_oids(target)
        if asked is None:
            return False
        get_soon = getattr(self.transport(target), "get_soon", None)
        if get_soon is None:
            return False
        indexes = asked[0]
        return bool(get_soon(asked[1], lambda got: done(status_result(indexes, got, _oper_status))))

    def _status_oids(self, target: Target) -> tuple[list[str], list[str]] | None:
        """(the uplinks' ifIndexes, their ifOperStatus OIDs), None if there is nothing to ask."""
        cache = self._caches.get(target.name)
        if cache is None or not target.uplinks:
            return None
        indexes = [cache.by_name[n] for n in target.uplinks if n in cache.by_name]
        if not indexes:
            return None
        column = self.profiles.interfaces.status_column
        return indexes, [f"{column}.{i}" for i in indexes]


def _oper_status(indexes: Sequence[str], answers: list[tuple[str, Value]]) -> dict[str, int]:
    status: dict[str, int] = {}
    for index, (_, value) in zip(indexes, answers, strict=True):
        if isinstance(value, Missing):
            continue  # the interface went away; the next full poll refreshes the cache
        status[index] = _int("ifOperStatus", value)
    return status
