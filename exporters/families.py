"""The metric families of the collector's snapshot, independent of the output format.

IF-MIB families keep snmp_exporter's if_mib names and labels (``ifHCInOctets{ifIndex,ifName,
ifDescr,ifAlias}``) with netmon's topology labels added; ifIndex is always a label, so
duplicate ifNames never collide. Label strings are built once per interface and reused until
the collector refreshes its label cache (identity of the cached dicts), which is what keeps a
full-backbone render cheap.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from collector.model import DeviceState, Target
from collector.profiles import Profiles
from collector.scheduler import SchedulerStats


def escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class LabelSet:
    """Labels of one series: pre-rendered text for the exposition, pairs for client_python."""

    __slots__ = ("ascii", "pairs", "text")

    def __init__(self, pairs: tuple[tuple[str, str], ...]) -> None:
        self.pairs = pairs
        inner = ",".join(f'{k}="{escape(v)}"' for k, v in pairs)
        self.text = f"{{{inner}}}" if inner else ""  # braces included: ready to print
        self.ascii = self.text.isascii()  # see exposition.render_text

    def plus(self, extra: tuple[tuple[str, str], ...]) -> LabelSet:
        return LabelSet(extra + self.pairs)


class IfLabels(dict[str, LabelSet]):
    """A device's interface label sets by ifIndex; ``ascii``: all of their texts are ASCII.

    Each line is still an f-string of its own (``exposition.render_text``): writing a device's
    block with one ``%`` over a cached template was ~30 % faster to render, but its ~2.4 KB
    strings come from malloc's heap, not pymalloc's arenas, and stayed there after the render
    (10x: RSS 865 -> 1,142 MiB after three whole renders, measured; README)."""

    ascii: bool = True


@dataclass(slots=True)
class Family:
    """A metric family. Interface families keep their rows per device in ``blocks``
    ({ifIndex: labels}, {ifIndex: value}, stamp) so the text renderer can write them without
    building a tuple per sample; ``all_samples()`` gives everything as pairs. ``stamp`` is
    ``" <unix ms>"`` (the exposition's sample timestamp) or ``""``."""

    name: str
    type: str  # counter | gauge | untyped
    help: str
    samples: list[tuple[LabelSet, float | int]] = field(default_factory=list)
    blocks: list[tuple[IfLabels, dict[str, int], str]] = field(default_factory=list)

    def all_samples(self) -> list[tuple[LabelSet, float | int]]:
        out = list(self.samples)
        for per_if, rows, _ in self.blocks:
            out.extend([(per_if[i], v) for i, v in rows.items() if i in per_if])
        return out


@dataclass(frozen=True, slots=True)
class ReloadStatus:
    success: bool
    timestamp: float  # unix time of the last reload attempt
    devices: int
    message: str = ""


@dataclass(slots=True)
class _DeviceLabels:
    target: Target
    labels_obj: object
    base: LabelSet
    per_if: IfLabels
    info: LabelSet | None = None  # netmon_device_info's labels, for sys_name ``info_of``
    info_of: str = ""


class FamilyBuilder:
    """Builds the families from device states; memoises label sets across renders."""

    def __init__(self, profiles: Profiles) -> None:
        self.profiles = profiles
        ifp = profiles.interfaces
        self._if_metrics = [(m.name, m.type, m.help) for m in (*ifp.metrics, *ifp.fallback_metrics)]
        self._if_cached = [(m.name, m.type, m.help) for m in ifp.cached_metrics]
        self._label_names = [lc.name for lc in ifp.labels]
        self._status_name = next(m.name for m in ifp.metrics if m.oid == ifp.status_column)
        self._vendor_help: dict[str, str] = {}
        for metrics in profiles.vendors.values():
            for vm in metrics:
                self._vendor_help.setdefault(vm.name, vm.help)
        self._cache: dict[str, _DeviceLabels] = {}

    def _labels(self, state: DeviceState) -> _DeviceLabels:
        target = state.target
        table = state.last.interfaces if state.last is not None else None
        labels_obj: object = table.labels if table is not None else None
        held = self._cache.get(target.name)
        if (
            held is not None
            and held.target is target
            and held.labels_obj is labels_obj
            and (table is None or len(table.indexes) == len(held.per_if))
        ):
            return held
        base = LabelSet(target.labels)
        per_if = IfLabels()
        if table is not None:
            links = dict(target.links)
            for index in table.indexes:
                lab = table.labels.get(index, {})
                pairs = [("ifIndex", index)] + [(n, lab.get(n, "")) for n in self._label_names]
                link = links.get(lab.get("ifName", ""))
                if link:
                    pairs.append(("link", link))
                per_if[index] = LabelSet(tuple(pairs) + target.labels)
        per_if.ascii = all(ls.ascii for ls in per_if.values())
        held = _DeviceLabels(target, labels_obj, base, per_if)
        self._cache[target.name] = held
        return held

    def base_labels(self, states: Iterable[DeviceState]) -> dict[str, LabelSet]:
        """Each device's topology label set (memoised with the interface ones)."""
        return {s.target.name: self._labels(s).base for s in states}

    def forget_missing(self, names: Iterable[str]) -> None:
        keep = set(names)
        for name in [n for n in self._cache if n not in keep]:
            del self._cache[name]

    def families(
        self,
        states: list[DeviceState],
        stats: SchedulerStats | None = None,
        reload: ReloadStatus | None = None,
        *,
        per_device: bool = True,
        tables: bool = True,
    ) -> Iterator[Family]:
        """Every family; ``per_device=False`` leaves only the collector's own (for
        ``/collector/metrics``), still counting ``states``; ``tables=False`` leaves out the
        interface, uptime and vendor tables (``/health/metrics``: a light view of who is up)."""
        if not per_device:
            yield from self._own(states, stats, reload)
            return
        labelled = [(s, self._labels(s)) for s in states]
        live = [(s, dl) for s, dl in labelled if s.up and s.last is not None]

        if tables:
            yield from self._tables(live)

        # --- per-device health ---
        # A device not polled yet (the first seconds after a start or an addition) has no
        # health series rather than a misleading up=0.
        polled = [(s, dl) for s, dl in labelled if s.polls]

        def device_family(name: str, typ: str, help_: str, value: object) -> Family:
            fam = Family(name, typ, help_)
            fam.samples = [(dl.base, value(s)) for s, dl in polled]  # type: ignore[operator]
            return fam

        yield device_family(
            "netmon_device_up",
            "gauge",
            "1 if the last poll of the device succeeded (and its fast status poll answers).",
            lambda s: 1 if s.up else 0,
        )
        yield device_family(
            "netmon_poll_duration_seconds",
            "gauge",
            "Wall time of the device's last full poll.",
            lambda s: s.last_duration,
        )
        yield device_family(
            "netmon_last_success_timestamp_seconds",
            "gauge",
            "Unix time of the device's last successful full poll (0: never).",
            lambda s: s.last_success,
        )
        yield device_family(
            "netmon_device_polls_total", "counter", "Full polls of the device.", lambda s: s.polls
        )
        yield device_family(
            "netmon_poll_varbinds_total",
            "counter",
            "Variable bindings received from the device.",
            lambda s: s.varbinds,
        )
        yield device_family(
            "netmon_poll_timeouts_total",
            "counter",
            "Full polls of the device that ran out of time.",
            lambda s: s.timeouts,
        )
        yield device_family(
            "netmon_poll_skipped_total",
            "counter",
            "Full polls skipped because the previous poll of the device was still running.",
            lambda s: s.skipped,
        )
        yield device_family(
            "netmon_device_reboots_total",
            "counter",
            "Reboots seen (sysUpTime went backwards): a counter discontinuity for the device.",
            lambda s: s.reboots,
        )
        yield device_family(
            "netmon_status_poll_failures_total",
            "counter",
            "Fast ifOperStatus polls of the device's link interfaces that failed.",
            lambda s: s.status_failures,
        )
        yield device_family(
            "netmon_polls_suspended_total",
            "counter",
            "Full polls not started because the device is known not to answer (its probes go "
            "on; its first answer brings a full poll at once).",
            lambda s: s.suspended,
        )
        # every polled device, 0 until probed: with the probe skip a healthy backbone sends
        # few probes, and a panel of them must say 0, not "No data"
        probed = [(s, dl) for s, dl in labelled if s.probes or s.polls]
        yield Family(
            "netmon_probes_total",
            "counter",
            "Reachability probes of the device (a GET of sysUpTime).",
            [(dl.base, s.probes) for s, dl in probed],
        )
        yield Family(
            "netmon_probe_failures_total",
            "counter",
            "Reachability probes that got no answer.",
            [(dl.base, s.probe_failures) for s, dl in probed],
        )
        skipped = Family(
            "netmon_fast_polls_skipped_total",
            "counter",
            "Status polls and probes not started: reason busy (the previous one still runs), "
            "unreachable (status polls of a device known not to answer), probe_busy, answered "
            "(a probe not needed: the device answered a poll sent within the probe interval).",
        )
        for s, dl in labelled:
            for reason, n in sorted(s.status_skipped.items()):
                skipped.samples.append((dl.base.plus((("reason", reason),)), n))
        yield skipped
        errors = Family(
            "netmon_poll_errors_total", "counter", "Failed full polls of the device, by kind."
        )
        for s, dl in labelled:
            for kind, n in sorted(s.errors.items()):
                errors.samples.append((dl.base.plus((("kind", kind),)), n))
        yield errors
        info = Family(
            "netmon_device_info",
            "gauge",
            "The device's inventory facts (site names in Thai and English, coordinates).",
        )
        for s, dl in labelled:
            sys_name = str(s.last.system.get("sysName", "")) if s.last is not None else ""
            if dl.info is None or dl.info_of != sys_name:  # ~40 % of families() unmemoised
                dl.info = dl.base.plus((*s.target.info, ("sys_name", sys_name)))
                dl.info_of = sys_name
            info.samples.append((dl.info, 1))
        yield info
        yield from self._own(states, stats, reload)

    def _tables(self, live: list[tuple[DeviceState, _DeviceLabels]]) -> Iterator[Family]:
        """IF-MIB (snmp_exporter names), link rates, sysUpTime and vendor tables.

        Counters carry the time the poll read them as the sample timestamp: a
        Prometheus scraping more often than netmon polls then sees each reading once, at the
        time it was true, so ``rate()`` agrees with the device (see netmon/rate_window.py).
        Gauges carry none: the fast status poll updates ifOperStatus between polls, and a
        series that stops must go stale at once."""
        # --- IF-MIB, snmp_exporter names ---
        # One pass over the devices, then one comprehension per family (~10k blocks a render
        # on the backbone; the per-block loop with its lookups was ~2/3 of _tables).
        tabled: list[tuple[DeviceState, dict[str, dict[str, int]], IfLabels, str]] = []
        for s, dl in live:
            table = s.last.interfaces  # type: ignore[union-attr]
            if table is None:
                continue
            at = s.last.counters_at or s.last_success  # type: ignore[union-attr]
            tabled.append((s, table.values, dl.per_if, f" {int(at * 1000)}" if at else ""))
        empty: dict[str, int] = {}
        for name, typ, help_ in self._if_metrics:
            fam = Family(name, typ, help_)
            counter = typ == "counter"
            # ifOperStatus as the fast status poll last saw it (a gauge in the shipped profile)
            overlay = name == self._status_name
            fam.blocks = [
                (
                    per_if,
                    _overlaid(values.get(name, empty), s.status_overlay)
                    if overlay
                    else values.get(name, empty),
                    stamp if counter else "",
                )
                for s, values, per_if, stamp in tabled
            ]
            yield fam
        for name, typ, help_ in self._if_cached:
            fam = Family(name, typ, help_)
            fam.blocks = [
                (per_if, s.last.interfaces.cached.get(name, empty), "")  # type: ignore[union-attr]
                for s, _, per_if, _ in tabled
            ]
            yield fam

        for pos, name, help_ in (
            (
                0,
                "netmon_interface_receive_bits_per_second",
                "Received bits/s on a link interface "
                "since the previous poll (wrap- and reboot-safe; absent after a reset).",
            ),
            (
                1,
                "netmon_interface_transmit_bits_per_second",
                "Transmitted bits/s on a link "
                "interface since the previous poll (wrap- and reboot-safe; absent after a reset).",
            ),
        ):
            fam = Family(name, "gauge", help_)
            for s, dl in live:
                for index, pair in s.last.rates.items():  # type: ignore[union-attr]
                    value = pair[pos]
                    if value is not None and index in dl.per_if:
                        fam.samples.append((dl.per_if[index], value))
            yield fam

        fam = Family(
            "sysUpTime",
            "gauge",
            "The time (in hundredths of a second) since the network management portion of "
            "the system was last re-initialized.",
        )
        for s, dl in live:
            up = s.last.system.get("sysUpTime")  # type: ignore[union-attr]
            if isinstance(up, int):
                fam.samples.append((dl.base, up))
        yield fam

        # --- vendor tables ---
        vendor: dict[str, Family] = {}
        for s, dl in live:
            for vs in s.last.vendor:  # type: ignore[union-attr]
                f = vendor.get(vs.name)
                if f is None:
                    f = vendor[vs.name] = Family(vs.name, "gauge", self._vendor_help[vs.name])
                f.samples.append((dl.base.plus(vs.labels), vs.value))
        yield from vendor.values()

    def _own(
        self,
        states: list[DeviceState],
        stats: SchedulerStats | None,
        reload: ReloadStatus | None,
    ) -> Iterator[Family]:
        if stats is not None:
            yield Family(
                "netmon_collector_cycle_seconds",
                "gauge",
                "Age of the oldest device poll result: how long a sweep of all devices takes.",
                [(LabelSet(()), stats.cycle_seconds)],
            )
            yield Family(
                "netmon_collector_in_flight_polls",
                "gauge",
                "Polls running now.",
                [
                    (LabelSet((("kind", "full"),)), stats.in_flight),
                    (LabelSet((("kind", "status"),)), stats.status_in_flight),
                    (LabelSet((("kind", "probe"),)), stats.probe_in_flight),
                ],
            )
            yield Family(
                "netmon_collector_poll_slots",
                "gauge",
                "Polls of each kind allowed at once (status and probe slots grow with the"
                " inventory): in-flight polls at this bound mean polls wait for a slot.",
                [
                    (LabelSet((("kind", "full"),)), stats.slots),
                    (LabelSet((("kind", "status"),)), stats.status_slots),
                    (LabelSet((("kind", "probe"),)), stats.probe_slots),
                ],
            )
            yield Family(
                "netmon_collector_polls_total",
                "counter",
                "Full polls completed.",
                [(LabelSet(()), stats.polls)],
            )
            yield Family(
                "netmon_collector_poll_lag_seconds",
                "gauge",
                "How long the last poll waited for a free slot after it was due.",
                [(LabelSet(()), stats.last_lag)],
            )
            yield Family(
                "netmon_collector_devices",
                "gauge",
                "Devices scheduled, by state (pending: not polled yet).",
                _count_by_state(states),
            )
        if reload is not None:
            yield Family(
                "netmon_inventory_reload_success",
                "gauge",
                "1 if the last inventory (re)load succeeded; 0: running on the last good one.",
                [(LabelSet(()), 1 if reload.success else 0)],
            )
            yield Family(
                "netmon_inventory_last_reload_timestamp_seconds",
                "gauge",
                "Unix time of the last inventory (re)load attempt.",
                [(LabelSet(()), reload.timestamp)],
            )


def _overlaid(rows: dict[str, int], overlay: dict[str, int]) -> dict[str, int]:
    """ifOperStatus as the fast status poll last saw it, for the interfaces the poll has."""
    if not overlay:
        return rows
    return {**rows, **{i: v for i, v in overlay.items() if i in rows}}


def _count_by_state(states: list[DeviceState]) -> list[tuple[LabelSet, float | int]]:
    counts: dict[str, int] = defaultdict(int, {"up": 0, "down": 0, "pending": 0})
    for s in states:
        counts["pending" if not s.polls else "up" if s.up else "down"] += 1
    return [(LabelSet((("state", k),)), v) for k, v in sorted(counts.items())]
