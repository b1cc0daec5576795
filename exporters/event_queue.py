"""The MQTT publisher's durable outbox: SQLite in WAL mode, so nothing is lost while the broker
is unreachable or when netmon is killed (a committed row survives SIGKILL).

Two tables:

- ``events``: a FIFO of state-change events (in the order the state engine published them),
  each deleted only after the broker acknowledged it (QoS 1 PUBACK). At most ``max_events``
  rows: beyond that the oldest are dropped and counted (``dropped``).
- ``retained``: the board, one row per retained topic: the payload wanted now and the one last
  acknowledged. Only a topic whose wanted state differs from the published one is sent, so a
  restart re-announces nothing the broker already holds, and many changes of one device while
  the broker is down become one retained message.

Every method is synchronous and short (one transaction); the publisher runs them on its event
loop: a commit in WAL mode with ``synchronous=NORMAL`` costs tens of microseconds.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

DEFAULT_MAX_EVENTS = 100_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL,
    topics TEXT NOT NULL,          -- newline-separated topics the event goes to
    payload BLOB NOT NULL,
    queued REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS retained (
    topic TEXT PRIMARY KEY,
    wanted BLOB NOT NULL,
    wanted_key TEXT NOT NULL,      -- what matters of the state (not its timestamps)
    published_key TEXT            -- NULL: never acknowledged
);
"""


@dataclass(frozen=True, slots=True)
class QueuedEvent:
    seq: int
    event_id: str
    topics: tuple[str, ...]
    payload: bytes
    queued: float


@dataclass(frozen=True, slots=True)
class RetainedUpdate:
    topic: str
    payload: bytes
    key: str


class EventQueue:
    def __init__(self, path: Path | str, max_events: int = DEFAULT_MAX_EVENTS) -> None:
        if max_events < 1:
            raise ValueError("max_events must be at least 1")
        self.path = str(path)
        self.max_events = max_events
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self.enqueued = 0  # since this process started
        self.delivered = 0
        self.dropped = 0

    def close(self) -> None:
        self._db.close()

    # --- events -----------------------------------------------------------------------------

    def put(self, event_id: str, topics: tuple[str, ...], payload: bytes) -> int:
        """Append one event (durable when this returns); drop the oldest beyond the bound.
        Returns its ``seq``."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            cur = db.execute(
                "INSERT INTO events (event_id, topics, payload, queued) VALUES (?, ?, ?, ?)",
                (event_id, "\n".join(topics), payload, time.time()),
            )
            over = self._count() - self.max_events
            if over > 0:
                db.execute(
                    "DELETE FROM events WHERE seq IN (SELECT seq FROM events ORDER BY seq LIMIT ?)",
                    (over,),
                )
                self.dropped += over
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        self.enqueued += 1
        return int(cur.lastrowid or 0)

    def peek(self, limit: int = 100) -> list[QueuedEvent]:
        """The oldest ``limit`` events, oldest first."""
        rows = self._db.execute(
            "SELECT seq, event_id, topics, payload, queued FROM events ORDER BY seq LIMIT ?",
            (limit,),
        ).fetchall()
        return [QueuedEvent(s, i, tuple(t.split("\n")), bytes(p), q) for s, i, t, p, q in rows]

    def ack(self, seq: int) -> None:
        """The broker acknowledged event ``seq`` on every topic: forget it."""
        cur = self._db.execute("DELETE FROM events WHERE seq = ?", (seq,))
        self.delivered += cur.rowcount

    def discard(self, seqs: list[int]) -> int:
        """Forget events that are not to be published (an HA standby's, published by the
        active replica); not counted as delivered. Returns how many were still there."""
        if not seqs:
            return 0
        cur = self._db.executemany("DELETE FROM events WHERE seq = ?", [(s,) for s in seqs])
        return max(cur.rowcount, 0)

    def _count(self) -> int:
        row = self._db.execute("SELECT COUNT(*) FROM events").fetchone()
        return int(row[0])

    def __len__(self) -> int:
        return self._count()

    # --- the retained board -----------------------------------------------------------------

    def want(self, topic: str, payload: bytes, key: str) -> bool:
        """The retained ``topic`` should now carry ``payload``; ``key`` says what matters of it
        (two payloads with the same key are the same state). Returns whether it is pending."""
        db = self._db
        row = db.execute("SELECT wanted_key, published_key FROM retained WHERE topic = ?", (topic,))
        found = row.fetchone()
        if found is not None and found[0] == key:
            return bool(found[1] != key)
        db.execute(
            "INSERT INTO retained (topic, wanted, wanted_key, published_key) "
            "VALUES (?, ?, ?, NULL) ON CONFLICT(topic) DO UPDATE SET "
            "wanted = excluded.wanted, wanted_key = excluded.wanted_key",
            (topic, payload, key),
        )
        return found is None or found[1] != key

    def pending_retained(self, limit: int = 500) -> list[RetainedUpdate]:
        rows = self._db.execute(
            "SELECT topic, wanted, wanted_key FROM retained "
            "WHERE published_key IS NULL OR published_key != wanted_key LIMIT ?",
            (limit,),
        ).fetchall()
        return [RetainedUpdate(t, bytes(p), k) for t, p, k in rows]

    def retained_done(self, update: RetainedUpdate) -> None:
        self._db.execute(
            "UPDATE retained SET published_key = ? WHERE topic = ?", (update.key, update.topic)
        )

    def forget_published(self) -> None:
        """Consider nothing acknowledged: every retained topic is sent again (an HA replica
        taking over: the broker holds what the other replica published)."""
        self._db.execute("UPDATE retained SET published_key = NULL")

    def retained_topics(self) -> list[str]:
        """Every retained topic that carries (or is to carry) a state, not a removal."""
        rows = self._db.execute("SELECT topic FROM retained WHERE wanted != x''").fetchall()
        return [str(r[0]) for r in rows]

    def retained_pending_count(self) -> int:
        row = self._db.execute(
            "SELECT COUNT(*) FROM retained "
            "WHERE published_key IS NULL OR published_key != wanted_key"
        ).fetchone()
        return int(row[0])
