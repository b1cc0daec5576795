"""The state engine: observations in, device and link states (with root causes) and events out.

Observations come from the wiring: a device answered or not (full poll, status poll, probe,
trap), a link interface's admin/oper status, a reboot. From them and the topology every device
gets one ``Status`` (see ``netmon.state``), every inventory link one ``LinkStatus``, and each
change is published once on the ``EventBus``.

Races (the peers' false pages) are settled here, not in rules:

- A device that stops answering is *held* in its previous state while its upstream devices are
  confirmed by an immediate probe (``confirm`` asks the wiring). Only then is it decided: down
  (a root cause) if some upstream path still answers, unreachable if none does. A district
  polled before its dead hub never pages.
- When an upstream device answers again, the dead devices behind it are held (still
  unreachable) until a fresh probe of their own says whether they are back or down in their
  own right: a hub's recovery never pages its districts for a moment.
- A hold ends when the confirmations arrive or after ``confirm_timeout``, whichever is first.

The computation is incremental: an observation marks its device (and links) dirty, and only
they and what lies downstream of a changed device are computed again, in topological order
(10x the backbone is ~9,400 devices: a whole recomputation per second cost most of a core).
"""

from __future__ import annotations

import heapq
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from netmon.inventory.model import Inventory, SiteKind
from netmon.inventory.topology import Topology
from netmon.state.events import EventBus
from netmon.state.links import IF_UP, LinkInfo, LinkRecord, link_status
from netmon.state.model import (
    Cause,
    DeviceView,
    Event,
    LinkStatus,
    LinkView,
    Place,
    Status,
)

__all__ = ["CONFIRM_TIMEOUT", "LinkInfo", "Maintenance", "StateEngine"]

log = logging.getLogger(__name__)

CONFIRM_TIMEOUT = 10.0  # a probe's 2 x 1 s plus queueing on a busy collector, with room
FLAP_WINDOW = 600.0  # seconds of oper transitions that count towards flapping
FLAP_START = 4  # transitions within the window that make a link flapping

Maintenance = Callable[[float], Mapping[str, str]]  # now -> {device: window name}


@dataclass(slots=True)
class _Device:
    alive: bool | None = None  # None: never observed
    observed_at: float = 0.0
    answered_at: float = 0.0  # when the latest request it answered was sent
    evidence: str = ""
    reason: Cause = Cause.POLL
    waiting: dict[str, float] = field(default_factory=dict)  # device -> asked at (hold)
    hold_until: float = 0.0


class StateEngine:
    def __init__(
        self,
        *,
        bus: EventBus | None = None,
        clock: Callable[[], float] = time.time,
        confirm: Callable[[Iterable[str]], None] = lambda names: None,
        confirm_timeout: float = CONFIRM_TIMEOUT,
        maintenance: Maintenance | None = None,
        flap_window: float = FLAP_WINDOW,
        flap_start: int = FLAP_START,
        defer: Callable[[Callable[[], None]], object] | None = None,
        shard: str | None = None,
    ) -> None:
        self.bus = bus or EventBus()
        self.shard = shard  # carried by every event (a plain string: "K" of --shard K/N)
        self._clock = clock
        self._confirm = confirm
        self._confirm_timeout = confirm_timeout
        self._maintenance = maintenance or (lambda now: {})
        self._flap_window = flap_window
        self._flap_start = flap_start
        self.topology: Topology | None = None
        self._devices: dict[str, _Device] = {}
        self._views: dict[str, DeviceView] = {}
        self._places: dict[str, Place] = {}
        self._links: dict[str, LinkRecord] = {}
        self._link_views: dict[str, LinkView] = {}
        self._by_end: dict[tuple[str, str], str] = {}  # (device, interface) -> link name
        self._in_maintenance: Mapping[str, str] = {}
        self._waiters: dict[str, set[str]] = {}  # device -> devices held until it is heard
        # ``defer(fn)`` runs fn a little later (the service: loop.call_later(0.2, fn)): a burst
        # of observations (a start, an outage) is one computation, not one per observation.
        # None: compute at once (tests). Reading the views computes what is pending first.
        self._defer = defer
        self._pending: Cause | None = None
        # The incremental computation: what each device's children read of it (its root
        # causes, whether its decision is held), what must be computed again, and what
        # changes with time alone (holds that expire, flapping windows that empty).
        self._index: dict[str, int] = {}  # device -> its place in topology.order
        self._roots: dict[str, tuple[str, ...] | None] = {}
        self._held_now: dict[str, bool] = {}
        self._dirty: set[str] = set()
        self._dirty_links: set[str] = set()
        self._holding: set[str] = set()  # devices with a hold (waiting on confirmations)
        self._flappy: set[str] = set()  # links with oper transitions in the flap window
        self._links_of: dict[str, tuple[str, ...]] = {}  # device -> its links

    # --- inventory ----------------------------------------------------------------------

    def set_inventory(self, inv: Inventory, topology: Topology | None = None) -> None:
        """Adopt a (re)loaded inventory: new devices start unknown, removed ones are gone,
        the rest keep what was observed of them."""
        topo = topology or Topology.build(inv)
        places: dict[str, Place] = {}
        for placed, device in inv.devices():
            site, prov = placed.site, placed.province
            places[device.name] = Place(
                device=device.name,
                site=site.code,
                site_kind=site.kind.value,
                province_code=prov.code,
                province=prov.name_en,
                region=prov.region.value,
                name_th=site.name_th,
                name_en=site.name_en,
            )
        links: dict[str, LinkRecord] = {}
        by_end: dict[tuple[str, str], str] = {}
        for _, link in inv.links():
            info = LinkInfo(
                link.name,
                link.kind,
                link.a.device,
                link.a.interface,
                link.b.device,
                link.b.interface,
                int(link.speed),
            )
            held = self._links.get(link.name)
            links[link.name] = (
                LinkRecord(info, held.ends, held.transitions, held.flaps, held.read_at)
                if held
                else LinkRecord(info)
            )
            by_end[(link.a.device, link.a.interface)] = link.name
            by_end[(link.b.device, link.b.interface)] = link.name
        self.topology = topo
        self._places = places
        self._devices = {n: self._devices.get(n) or _Device() for n in places}
        self._views = {n: v for n, v in self._views.items() if n in places}
        self._links = links
        self._link_views = {n: v for n, v in self._link_views.items() if n in links}
        self._by_end = by_end
        links_of: dict[str, list[str]] = {}
        for name, rec in links.items():
            for dev in dict.fromkeys((rec.info.a_device, rec.info.b_device)):
                links_of.setdefault(dev, []).append(name)
        self._links_of = {d: tuple(ns) for d, ns in links_of.items()}
        self._index = {n: i for i, n in enumerate(topo.order)}
        self._roots = {n: r for n, r in self._roots.items() if n in places}
        self._held_now = {n: h for n, h in self._held_now.items() if n in places}
        self._holding = {n for n in self._holding if n in places}
        self._flappy = {n for n, rec in links.items() if rec.transitions}
        self._waiters = {
            n: {w for w in ws if w in places} for n, ws in self._waiters.items() if n in places
        }
        self._pending = None
        self._recompute(Cause.INVENTORY, full=True)

    # --- observations -------------------------------------------------------------------

    def observe(
        self,
        device: str,
        answered: bool,
        cause: Cause,
        evidence: str = "",
        began: float | None = None,
    ) -> None:
        """``device`` answered (or did not) a request of kind ``cause`` sent at ``began``
        (unix time; None: now). Older news never wins: a "no answer" to a request sent
        before the device's last answer is stale (a probe in flight across a recovery), and
        only a request sent after a neighbour's confirmation was asked for confirms it."""
        d = self._devices.get(device)
        if d is None or self.topology is None:
            return
        now = self._clock()
        sent = now if began is None else began
        if not answered and sent < d.answered_at:
            return
        was = d.alive
        d.alive, d.observed_at, d.evidence, d.reason = answered, now, evidence, cause
        if answered:
            d.answered_at = max(d.answered_at, sent)
        # Whoever was waiting for fresh word of this device has it now.
        released: list[str] = []
        waiting = self._waiters.get(device, set())
        for name in list(waiting):
            other = self._devices.get(name)
            asked = other.waiting.get(device) if other is not None else None
            if other is None or asked is None:
                waiting.discard(name)
            elif sent >= asked:
                del other.waiting[device]
                waiting.discard(name)
                released.append(name)
        if not waiting:
            self._waiters.pop(device, None)
        if was is not False and not answered:
            self._hold_for_upstream(device, now)
        elif was is False and answered:
            self._hold_downstream(device, now)
            # An answer from behind a device thought dead: that device is back too, probably.
            assert self.topology is not None
            dead_ups = [p for p in self.topology.parents(device) if self._devices[p].alive is False]
            if dead_ups:
                self._confirm(dead_ups)
        elif was is answered and not released:
            return  # nothing changed: most observations end here (cheap)
        self._dirty.add(device)
        self._dirty.update(released)
        self._changed(cause)

    def observe_interfaces(
        self,
        device: str,
        statuses: Mapping[str, tuple[int | None, int | None]],
        cause: Cause,
        began: float | None = None,
    ) -> None:
        """(ifAdminStatus, ifOperStatus) of some of ``device``'s interfaces, by name; either
        may be None (not read this time: the previous reading stands). ``began``: when the
        reading was asked for; a reading older than the one held (a poll in flight when a
        trap came) is ignored."""
        now = self._clock()
        taken = now if began is None else began
        changed = False
        for iface, (admin, oper) in statuses.items():
            name = self._by_end.get((device, iface))
            if name is None:
                continue
            link = self._links[name]
            if taken < link.read_at.get(device, 0.0):
                continue
            link.read_at[device] = taken
            old_admin, old_oper = link.ends.get(device, (None, None))
            admin = old_admin if admin is None else admin
            oper = old_oper if oper is None else oper
            if old_oper is not None and oper is not None and (old_oper == IF_UP) != (oper == IF_UP):
                link.flaps += 1
                link.transitions.append(now)
                self._flappy.add(name)
            if (admin, oper) != (old_admin, old_oper):
                link.ends[device] = (admin, oper)
                self._dirty_links.add(name)
                changed = True
        if changed:
            self._changed(cause)

    def observe_trap(self, device: str, kind: str, if_name: str | None, evidence: str) -> None:
        """An SNMP notification from ``device``: ``linkDown``/``linkUp`` move that link end at
        once, ``coldStart``/``warmStart`` are a reboot. A trap can be forged or stale, so it
        never decides reachability; the wiring asks for a confirming poll, which does."""
        if kind in ("linkDown", "linkUp") and if_name:
            oper = IF_UP if kind == "linkUp" else 2
            self.observe_interfaces(device, {if_name: (None, oper)}, Cause.TRAP)
        elif kind in ("coldStart", "warmStart"):
            self.observe_reboot(device, evidence or kind, Cause.TRAP)

    def observe_reboot(self, device: str, evidence: str, cause: Cause = Cause.POLL) -> None:
        place = self._places.get(device)
        if place is None:
            return
        view = self._views.get(device)
        status = view.status.value if view else Status.UNKNOWN.value
        self.bus.publish(
            Event(
                "reboot",
                device,
                self._clock(),
                status,
                status,
                cause,
                place,
                None,
                evidence,
                shard=self.shard,
            )
        )

    def tick(self) -> None:
        """Re-evaluate what changes with time alone: maintenance windows, expired holds,
        flapping windows. Called every second or so by the wiring."""
        self.flush()
        self._recompute(Cause.MAINTENANCE)

    def _changed(self, cause: Cause) -> None:
        if self._defer is None:
            self._recompute(cause)
            return
        if self._pending is None:
            self._pending = cause
            self._defer(self.flush)

    def flush(self) -> None:
        """Compute what observations are pending (the deferred computation, or a reader)."""
        cause, self._pending = self._pending, None
        if cause is not None:
            self._recompute(cause)

    # --- holds --------------------------------------------------------------------------

    def _hold_for_upstream(self, device: str, now: float) -> None:
        assert self.topology is not None
        ask = [p for p in self.topology.parents(device) if self._devices[p].alive is not False]
        if not ask:
            return  # no upstream, or every one already known dead: decide now
        self._wait(device, ask, now)
        self._confirm(ask)

    def _wait(self, device: str, on: list[str], now: float) -> None:
        d = self._devices[device]
        d.waiting = dict.fromkeys(on, now)
        d.hold_until = now + self._confirm_timeout
        self._holding.add(device)
        self._dirty.add(device)
        for name in on:
            self._waiters.setdefault(name, set()).add(device)

    def _hold_downstream(self, device: str, now: float) -> None:
        """``device`` is back: the dead devices behind it must speak for themselves before
        they can be called down."""
        assert self.topology is not None
        ask: list[str] = []
        queue = list(self.topology.children(device))
        seen: set[str] = set()
        while queue:
            n = queue.pop()
            if n in seen:
                continue
            seen.add(n)
            d = self._devices[n]
            if d.alive is False:
                self._wait(n, [n], now)
                ask.append(n)
                queue.extend(self.topology.children(n))
        if ask:
            self._confirm(ask)

    # --- the computation ----------------------------------------------------------------

    def _held(self, name: str, now: float) -> bool:
        d = self._devices[name]
        if d.waiting and now >= d.hold_until:
            d.waiting.clear()
        if not d.waiting:
            self._holding.discard(name)
        return bool(d.waiting)

    def _recompute(self, cause: Cause, full: bool = False) -> None:
        topo = self.topology
        if topo is None:
            return
        now = self._clock()
        maint = self._maintenance(now)
        if maint != self._in_maintenance:
            # Who is in a window also changes the cause status of whoever is dark behind
            # them: rare (a window opens or closes), so compute everything.
            full = True
        self._in_maintenance = maint
        for n in list(self._holding):
            if now >= self._devices[n].hold_until:
                self._dirty.add(n)  # a hold expired: decide without the confirmations
        dirty, self._dirty = self._dirty, set()
        index, order = self._index, topo.order
        queue = list(range(len(order))) if full else [index[n] for n in dirty if n in index]
        heapq.heapify(queue)
        done: set[int] = set()
        # roots[n]: the root causes that make n dark (n itself when it is down or in
        # maintenance); None while n is reachable. held[n]: n's decision is pending. Both are
        # what n's children read; a child is computed again only when they change.
        roots, held = self._roots, self._held_now
        while queue:
            i = heapq.heappop(queue)
            if i in done:
                continue
            done.add(i)
            n = order[i]
            before = (roots.get(n, ()), held.get(n))
            self._compute(n, topo.parents(n), maint, cause, now)
            if (roots[n], held[n]) != before:
                for c in topo.children(n):
                    heapq.heappush(queue, index[c])
        self._recompute_links(cause, now, full)

    def _compute(
        self, n: str, ups: tuple[str, ...], maint: Mapping[str, str], cause: Cause, now: float
    ) -> None:
        roots, held = self._roots, self._held_now
        d = self._devices[n]
        prev = self._views.get(n)
        held[n] = False
        if n in maint:
            # dark behind it is because of the window; alive, it hides nothing
            roots[n] = None if d.alive else (n,)
            self._set(n, Status.MAINTENANCE, (), None, maint[n], Cause.MAINTENANCE, now)
            return
        if d.alive is None:
            roots[n] = None
            self._set(n, Status.UNKNOWN, (), None, None, cause, now)
            return
        if d.alive:
            roots[n] = None
            self._set(n, Status.UP, (), None, None, d.reason, now)
            return
        if self._held(n, now) or any(held[u] for u in ups):
            held[n] = True
            roots[n] = (prev.causes or (n,)) if prev is not None else (n,)
            return  # keep the previous view until the confirmations are in
        parent_roots = [roots[u] for u in ups]
        if ups and all(r is not None for r in parent_roots):
            causes = tuple(dict.fromkeys(c for r in parent_roots if r for c in r))
            roots[n] = causes
            in_maint = [c for c in causes if c in maint]
            cause_status = Status.DOWN if len(in_maint) < len(causes) else Status.MAINTENANCE
            window = maint[in_maint[0]] if in_maint else None
            reason = Cause.UPSTREAM if prev is None or prev.status is not Status.DOWN else cause
            self._set(n, Status.UNREACHABLE, causes, cause_status, window, reason, now)
        else:
            roots[n] = (n,)
            self._set(n, Status.DOWN, (), None, None, d.reason, now)

    def _set(
        self,
        name: str,
        status: Status,
        causes: tuple[str, ...],
        cause_status: Status | None,
        window: str | None,
        reason: Cause,
        now: float,
    ) -> None:
        prev = self._views.get(name)
        if (
            prev is not None
            and prev.status is status
            and prev.causes == causes
            and prev.window == window
        ):
            return
        d = self._devices[name]
        view = DeviceView(name, status, now, causes, cause_status, window, reason, d.evidence)
        if prev is not None and prev.status is status:
            view = DeviceView(
                name, status, prev.since, causes, cause_status, window, reason, d.evidence
            )
        self._views[name] = view
        self._dirty_links.update(self._links_of.get(name, ()))
        before = prev.status.value if prev is not None else Status.UNKNOWN.value
        if before == status.value:
            return  # only the cause list changed (another parent died): no new event
        cause_device = causes[0] if causes else None
        self.bus.publish(
            Event(
                "device",
                name,
                now,
                before,
                status.value,
                reason,
                self._places[name],
                cause_device,
                d.evidence if status in (Status.UP, Status.DOWN) else window or "",
                shard=self.shard,
            )
        )

    def _recompute_links(self, cause: Cause, now: float, full: bool) -> None:
        # sorted: the same events in the same order whatever the hashes of the names
        names = list(self._links) if full else sorted(self._dirty_links | self._flappy)
        self._dirty_links = set()
        for name in names:
            link = self._links.get(name)
            if link is None:
                continue
            info = link.info
            while link.transitions and link.transitions[0] < now - self._flap_window:
                link.transitions.popleft()
            if not link.transitions:
                self._flappy.discard(name)
            flapping = len(link.transitions) >= self._flap_start
            status, causes = link_status(link, self._views)
            prev = self._link_views.get(name)
            since = prev.since if prev is not None and prev.status is status else now
            view = LinkView(name, status, since, causes, link.flaps, flapping)
            if prev == view:
                continue
            self._link_views[name] = view
            place = self._places[info.a_device]
            if prev is None or prev.status is not status:
                before = prev.status.value if prev is not None else LinkStatus.UNKNOWN.value
                if before != status.value:
                    self.bus.publish(
                        Event(
                            "link",
                            name,
                            now,
                            before,
                            status.value,
                            cause,
                            place,
                            causes[0] if causes else None,
                            f"{info.a_device} {info.a_interface} - "
                            f"{info.b_device} {info.b_interface}",
                            shard=self.shard,
                        )
                    )
            if prev is not None and prev.flapping != flapping:
                self.bus.publish(
                    Event(
                        "flapping",
                        name,
                        now,
                        "flapping" if prev.flapping else "stable",
                        "flapping" if flapping else "stable",
                        cause,
                        place,
                        None,
                        f"{len(link.transitions)} transitions in {self._flap_window:.0f} s",
                        shard=self.shard,
                    )
                )

    # --- reading ------------------------------------------------------------------------

    def views(self) -> Mapping[str, DeviceView]:
        self.flush()
        return self._views

    def links(self) -> Mapping[str, LinkView]:
        self.flush()
        return self._link_views

    def link_info(self, name: str) -> LinkInfo:
        return self._links[name].info

    def place(self, device: str) -> Place:
        return self._places[device]

    def maintenance_now(self) -> Mapping[str, str]:
        """{device: window} as of the last computation."""
        return self._in_maintenance

    def is_central(self, device: str) -> bool:
        return self._places[device].site_kind == SiteKind.centre.value
