"""One replica's view of its HA pair: who publishes the MQTT events (the election) and which of
its own events the active replica already published (the matching). No I/O: the MQTT glue
(``exporters/mqtt_ha.py``) feeds it the peers' status messages and the active's events.

Both replicas of a shard decide the same changes, seconds apart, so their events differ in
time and ``id``. The standby holds its own events (in its durable outbox, indexed here by
kind, subject, previous, current) and drops each one the active published within ``window``
seconds of decision time. What is left when the active goes away (its will, or its status
gone stale) is what the active never published: the standby takes over and publishes it.

The active's status carries ``through``: every event it decided before that moment has been
acknowledged by the broker. A standby event older than ``through - window`` that found no
match is one the active never had (it missed the change): it is dropped, counted as expired.
A standby's first decision about a device or link (``previous`` unknown: its own start, or an
inventory reload) while an active replica is live is dropped too: the active has announced
that state itself. After taking over, an own event matching one the old active published
within the window is still dropped (the old active was faster).

Election: a replica seeing another one active stays (or becomes) standby; with no active
one, the replica that was active before (sticky: a restart or reconnect does not move the
role) or else the lowest-named live replica takes over; two replicas claiming active resolve
to the lowest name.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

ACTIVE, STANDBY, OFFLINE = "active", "standby", "offline"
ROLES = (ACTIVE, STANDBY)
DEFAULT_WINDOW = 60.0  # seconds of decision time between two replicas' versions of a change
DEFAULT_HEARTBEAT = 5.0  # the active's status (and its ``through``) is republished this often
DEFAULT_STALE = 30.0  # a peer silent this long is gone (a retained status its will never ended)
SEEN_MAX = 100_000  # the active's events kept for a later own decision to match

Key = tuple[str, str, str, str]  # kind, subject, previous, current


def event_key(doc: Mapping[str, Any]) -> Key:
    return (str(doc["kind"]), str(doc["subject"]), str(doc["previous"]), str(doc["current"]))


def status_payload(replica: str, shard: str | None, role: str, through: float) -> bytes:
    doc = {"replica": replica, "shard": shard, "role": role, "through": round(through, 3)}
    return json.dumps(doc, separators=(",", ":")).encode()


def parse_status(payload: bytes) -> tuple[str, float] | None:
    """(role, through) of a status message; None for anything else (an empty retained
    message, garbage)."""
    try:
        doc = json.loads(payload)
        role = doc["role"]
        through = float(doc.get("through") or 0.0)
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
    return (role, through) if role in (ACTIVE, STANDBY, OFFLINE) else None


@dataclass(frozen=True, slots=True)
class Peer:
    role: str
    through: float
    heard: float  # local monotonic time of its last status


UNKNOWN = "unknown"
HA_DROP_REASONS = ("matched", "expired", "first")


@dataclass
class PairStats:
    matched: int = 0  # own events dropped: the active published them
    expired: int = 0  # own events dropped: the active never had them and has moved past
    first: int = 0  # own first decisions about a subject, dropped: the active announced it
    promoted: int = 0  # own events published on taking over (the active never published them)
    promotions: int = 0
    demotions: int = 0


class Pair:
    def __init__(
        self,
        replica: str,
        *,
        window: float = DEFAULT_WINDOW,
        stale: float = DEFAULT_STALE,
        monotonic: Callable[[], float] = time.monotonic,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.replica = replica
        self.window = window
        self.stale = stale
        self._monotonic = monotonic
        self._clock = clock
        self.role = STANDBY
        self.was_active = False  # this process was active before its connection dropped
        self.peers: dict[str, Peer] = {}
        self.stats = PairStats()
        self._pending: dict[Key, list[tuple[float, int]]] = {}  # own: (decision time, seq)
        self._seen: dict[Key, list[float]] = {}  # the active's, not matched yet: decision times
        self._seen_count = 0

    # --- the peers and the election ---------------------------------------------------------

    def heard(self, replica: str, payload: bytes) -> None:
        """A status message of ``replica`` (retained, will, heartbeat)."""
        if replica == self.replica:
            return  # our own retained status (or will) of an earlier connection
        parsed = parse_status(payload)
        if parsed is None:
            self.peers.pop(replica, None)
            return
        self.peers[replica] = Peer(parsed[0], parsed[1], self._monotonic())

    def live(self) -> dict[str, Peer]:
        now = self._monotonic()
        return {
            name: p
            for name, p in self.peers.items()
            if p.role != OFFLINE and now - p.heard < self.stale
        }

    def elect(self) -> str:
        """The role this replica should have now (does not change ``role``)."""
        live = self.live()
        active = sorted(name for name, p in live.items() if p.role == ACTIVE)
        if self.role == ACTIVE:
            return STANDBY if active and active[0] < self.replica else ACTIVE
        if active:
            return STANDBY
        if self.was_active or all(self.replica < name for name in live):
            return ACTIVE
        return STANDBY  # a lower-named live replica takes over

    def become(self, role: str, outbox: int) -> bool:
        """Take ``role``; ``outbox``: own events held now (published if taking over).
        Returns whether anything changed."""
        if role == ACTIVE:
            if self.role == ACTIVE:
                return False
            if not self.was_active:  # not merely back after a reconnect
                self.stats.promotions += 1
                self.stats.promoted += outbox
            self.role = ACTIVE
            self.was_active = True
            self._pending.clear()  # the outbox is published now
            self._forget_seen(self._clock() - 2 * self.window)  # kept: the old active's
            return True
        changed = self.role == ACTIVE or self.was_active  # active, or suspended and outvoted
        if changed:
            self.stats.demotions += 1
        self.role = STANDBY
        self.was_active = False
        return changed

    def suspend(self) -> None:
        """A new connection: standby until elected again (an active one keeps its claim:
        ``was_active``, unless another replica took over meanwhile)."""
        self.role = STANDBY

    def active_through(self) -> float | None:
        """The live active peer's ``through`` (None: no live active peer)."""
        actives = [p.through for p in self.live().values() if p.role == ACTIVE]
        return min(actives) if actives else None

    # --- matching own events with the active's ----------------------------------------------

    def index(self, rows: Iterable[tuple[int, Mapping[str, Any]]]) -> None:
        """The outbox's events (seq, JSON) when becoming standby: all are pending."""
        self._pending.clear()
        for seq, doc in rows:
            self._pending.setdefault(event_key(doc), []).append((float(doc["time"]), seq))

    def own(self, seq: int, doc: Mapping[str, Any]) -> bool:
        """An own event, queued as ``seq``: True if it is not to be published (the active
        published it already, or it is a first decision while an active is live); else, as
        standby, it is held until the active's version comes or the active moves past it."""
        key, when = event_key(doc), float(doc["time"])
        seen = self._seen.get(key)
        if seen:
            best = min(range(len(seen)), key=lambda i: abs(seen[i] - when))
            if abs(seen[best] - when) <= self.window:
                del seen[best]
                self._seen_count -= 1
                self.stats.matched += 1
                return True
        if self.role == ACTIVE:
            return False
        if key[2] == UNKNOWN and self.active_through() is not None:
            self.stats.first += 1
            return True
        self._pending.setdefault(key, []).append((when, seq))
        return False

    def echo(self, doc: Mapping[str, Any]) -> int | None:
        """An event the active published: the seq of the own event it matches (to drop), or
        None (kept to match an own decision yet to come)."""
        key, when = event_key(doc), float(doc["time"])
        pending = self._pending.get(key)
        if pending:
            best = min(range(len(pending)), key=lambda i: abs(pending[i][0] - when))
            if abs(pending[best][0] - when) <= self.window:
                seq = pending.pop(best)[1]
                self.stats.matched += 1
                return seq
        self._remember(key, when)
        return None

    def _remember(self, key: Key, when: float) -> None:
        if self._seen_count >= SEEN_MAX:
            self._forget_seen(self._clock() - self.window)
            if self._seen_count >= SEEN_MAX:
                return  # a flood of events nobody here decided: the oldest matter most
        self._seen.setdefault(key, []).append(when)
        self._seen_count += 1

    def _forget_seen(self, before: float) -> None:
        for key in list(self._seen):
            kept = [t for t in self._seen[key] if t >= before]
            self._seen_count -= len(self._seen[key]) - len(kept)
            if kept:
                self._seen[key] = kept
            else:
                del self._seen[key]

    def expire(self) -> list[int]:
        """Own events the live active has moved past by more than the window without
        publishing them: their seqs (to drop). Also forgets the active's old events."""
        through = self.active_through()
        if through is None:
            return []
        before = through - self.window
        out: list[int] = []
        for key in list(self._pending):
            if key[2] == UNKNOWN:  # decided before the active was heard: it announced it
                firsts = [seq for _, seq in self._pending.pop(key)]
                self.stats.first += len(firsts)
                out += firsts
                continue
            kept = [(when, seq) for when, seq in self._pending[key] if when >= before]
            expired = [seq for when, seq in self._pending[key] if when < before]
            self.stats.expired += len(expired)
            out += expired
            if kept:
                self._pending[key] = kept
            else:
                del self._pending[key]
        self._forget_seen(self._clock() - 2 * self.window)  # too old to match a new decision
        return out

    def pending(self) -> int:
        return sum(len(v) for v in self._pending.values())
