"""The HA pair's logic (``exporters/ha_pair.py``) and its MQTT glue (``exporters/mqtt_ha.py``)
without a broker: election, matching both ways round, expiry, take-over, the shard on events."""

from __future__ import annotations

import json
import time
from typing import Any

import aiomqtt
import pytest

from exporters.event_families import ha_families
from exporters.event_queue import EventQueue
from exporters.ha_pair import ACTIVE, OFFLINE, STANDBY, Pair, parse_status, status_payload
from exporters.mqtt import MqttSettings
from exporters.mqtt_ha import HaPublisher
from netmon.state.engine import StateEngine
from netmon.state.model import Cause, Event, Place
from tests.support.mqtt_driver import place


class Clock:
    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def doc(subject: str, t: float, prev: str = "up", cur: str = "down") -> dict[str, Any]:
    return {"kind": "device", "subject": subject, "previous": prev, "current": cur, "time": t}


def status(role: str, through: float = 0.0, replica: str = "x") -> bytes:
    return status_payload(replica, "1", role, through)


def pair(name: str = "b", **kw: Any) -> tuple[Pair, Clock, Clock]:
    mono, wall = Clock(), Clock(2_000_000_000.0)
    return Pair(name, window=60, stale=30, monotonic=mono, clock=wall, **kw), mono, wall


# --- election ---------------------------------------------------------------------------------


def test_alone_takes_over_and_an_active_peer_keeps_it() -> None:
    p, _, _ = pair("b")
    assert p.elect() == ACTIVE  # nobody else: this one publishes
    p.heard("a", status(STANDBY))
    assert p.elect() == STANDBY  # a lower-named live replica takes over first
    p.heard("a", status(ACTIVE))
    assert p.elect() == STANDBY
    p.heard("a", status(OFFLINE))  # its will
    assert p.elect() == ACTIVE


def test_sticky_leadership_and_tiebreak() -> None:
    p, _, _ = pair("b")
    p.become(ACTIVE, 0)
    p.heard("a", status(STANDBY))  # a restarted: it comes back as standby, b keeps publishing
    assert p.elect() == ACTIVE
    p.heard("a", status(ACTIVE))  # both claim: the lowest name wins
    assert p.elect() == STANDBY
    assert p.become(STANDBY, 0) and p.stats.demotions == 1
    q, _, _ = pair("a")
    q.become(ACTIVE, 0)
    q.heard("b", status(ACTIVE))
    assert q.elect() == ACTIVE


def test_a_reconnecting_active_reclaims_unless_taken_over() -> None:
    p, _, _ = pair("b")
    p.become(ACTIVE, 3)
    assert p.stats.promotions == 1 and p.stats.promoted == 3
    p.suspend()
    p.heard("a", status(STANDBY))
    assert p.elect() == ACTIVE  # sticky: no other one is active
    p.become(ACTIVE, 5)
    assert p.stats.promotions == 1 and p.stats.promoted == 3  # a reconnect, not a take-over
    p.suspend()
    p.heard("a", status(ACTIVE))
    assert p.elect() == STANDBY and p.become(STANDBY, 0) and not p.was_active


def test_a_silent_peer_goes_stale() -> None:
    p, mono, _ = pair("b")
    p.heard("a", status(ACTIVE))  # retained, from a process whose will never came
    assert p.elect() == STANDBY
    mono.t += 31
    assert p.elect() == ACTIVE


def test_own_and_garbage_statuses_are_ignored() -> None:
    p, _, _ = pair("b")
    p.heard("b", status(ACTIVE))  # our own retained status of an earlier run
    p.heard("a", b"")  # a cleared retained topic
    p.heard("c", b"{not json")
    assert p.peers == {} and p.elect() == ACTIVE
    assert parse_status(b'{"role":"boss"}') is None
    assert parse_status(status(ACTIVE, 12.5)) == (ACTIVE, 12.5)


# --- matching ---------------------------------------------------------------------------------


def test_echo_after_own_and_own_after_echo_both_match() -> None:
    p, _, _ = pair()
    assert p.own(1, doc("d1", 100.0)) is False  # held
    assert p.echo(doc("d1", 103.5)) == 1  # the active's version, 3.5 s later: drop ours
    assert p.echo(doc("d2", 200.0)) is None  # the active decided first
    assert p.own(2, doc("d2", 201.0)) is True  # ours comes: dropped at once
    assert p.stats.matched == 2 and p.pending() == 0


def test_matching_needs_the_same_change_within_the_window() -> None:
    p, _, _ = pair()
    p.own(1, doc("d1", 100.0))
    assert p.echo(doc("d1", 100.0, "down", "up")) is None  # another transition
    assert p.echo(doc("d9", 100.0)) is None  # another device
    assert p.echo(doc("d1", 170.0)) is None  # 70 s apart: another occurrence
    assert p.pending() == 1 and p.stats.matched == 0


def test_repeated_flaps_pair_up_nearest_first() -> None:
    p, _, _ = pair()
    for seq, t in enumerate((100.0, 110.0, 120.0), start=1):
        p.own(seq, doc("d1", t))
    assert p.echo(doc("d1", 111.0)) == 2
    assert p.echo(doc("d1", 99.0)) == 1
    assert p.echo(doc("d1", 125.0)) == 3


def test_expiry_follows_the_actives_progress_not_the_clock() -> None:
    p, _, wall = pair()
    p.own(1, doc("d1", 100.0))  # a change the active never saw
    p.own(2, doc("d2", 150.0))
    wall.t = 10_000.0  # long ago by our clock, but the active has not said it moved past
    assert p.expire() == []  # no active: nothing dropped (a broker outage loses nothing)
    p.heard("a", status(ACTIVE, through=155.0))
    assert p.expire() == []  # the active may still publish its version (window 60 s)
    p.heard("a", status(ACTIVE, through=161.0))
    assert p.expire() == [1] and p.stats.expired == 1 and p.pending() == 1


def test_first_decisions_are_the_actives_business() -> None:
    p, _, _ = pair()
    p.own(1, doc("d1", 100.0, "unknown", "up"))  # decided before the election: held
    p.heard("a", status(ACTIVE, through=100.0))
    assert p.own(2, doc("d2", 101.0, "unknown", "up")) is True  # a restart's "unknown -> up"
    assert p.expire() == [1] and p.stats.first == 2 and p.pending() == 0


def test_after_taking_over_the_old_actives_versions_still_count() -> None:
    p, _, wall = pair()
    wall.t = 110.0
    p.heard("a", status(ACTIVE, through=100.0))
    assert p.echo(doc("d1", 105.0)) is None  # the old active published d1 ...
    p.heard("a", status(OFFLINE))
    assert p.become(ACTIVE, 0)
    assert p.own(1, doc("d1", 108.0)) is True  # ... so this replica's later version is dropped
    assert p.own(2, doc("d2", 108.0)) is False  # and anything else is published
    assert p.pending() == 0


def test_taking_over_counts_what_is_held() -> None:
    p, _, _ = pair()
    p.own(1, doc("d1", 100.0))
    p.own(2, doc("d2", 100.0))
    assert p.become(ACTIVE, 2)
    assert p.stats.promoted == 2 and p.pending() == 0
    fams = {f.name: f for f in ha_families(p)}
    roles = {dict(ls.pairs)["role"]: v for ls, v in fams["netmon_mqtt_ha_role"].samples}
    assert roles == {ACTIVE: 1, STANDBY: 0}
    assert fams["netmon_mqtt_ha_events_promoted_total"].samples[0][1] == 2
    dropped = {
        dict(ls.pairs)["reason"] for ls, _ in fams["netmon_mqtt_ha_events_dropped_total"].samples
    }
    assert dropped == {"matched", "expired", "first"}


# --- the glue, without a broker ----------------------------------------------------------------


def ev(n: int, t: float, shard: str | None = "1") -> Event:
    return Event("device", f"d{n}", t, "up", "down", Cause.PROBE, place(f"d{n}"), shard=shard)


def msg(topic: str, payload: bytes) -> aiomqtt.Message:
    return aiomqtt.Message(topic, payload, 1, False, 1, None)


@pytest.fixture
def ha() -> HaPublisher:
    queue = EventQueue(":memory:")
    pub = HaPublisher(MqttSettings(), queue, None, replica="b", shard="1", settle=0)
    pub._ready = True
    assert pub.settings.client_id == "netmon-1-b" and pub.clean_session is False
    return pub


def test_standby_drops_what_the_active_publishes(ha: HaPublisher) -> None:
    assert ha.status_topic == "netmon/ha/1/b"
    ha._message(msg("netmon/ha/1/a", status(ACTIVE, 0.0, "a")))
    assert ha.pair.role == STANDBY
    ha.accept(ev(1, 100.0))
    ha.accept(ev(2, 100.0))
    assert len(ha.queue) == 2  # held, not published
    ha._message(msg("netmon/events", json.dumps(ev(1, 102.0).to_json()).encode()))
    ha._message(msg("netmon/events", json.dumps(ev(2, 102.0, "2").to_json()).encode()))
    assert len(ha.queue) == 1  # shard 2's event is another pair's business
    now = time.time()
    ha._message(msg("netmon/events", json.dumps(ev(3, now).to_json()).encode()))  # a was first
    ha._message(msg("netmon/ha/1/a", status(OFFLINE, 0.0, "a")))  # the active's will
    assert ha.pair.role == ACTIVE and ha.pair.stats.promoted == 1
    ha.accept(ev(3, now + 2))  # b's version of what a published: still dropped
    ha.accept(ev(4, now + 2))  # what a never published: b publishes it
    assert [json.loads(i.payload)["subject"] for i in ha.queue.peek()] == ["d2", "d4"]
    assert parse_status(ha._status()) is not None and parse_status(ha._status())[0] == ACTIVE


def test_restart_as_standby_holds_the_old_outbox(tmp_path: Any) -> None:
    queue = EventQueue(tmp_path / "o.db")
    seq = queue.put("x", ("netmon/events",), json.dumps(ev(7, 100.0).to_json()).encode())
    pub = HaPublisher(MqttSettings(), queue, None, replica="a", shard="1", settle=0)
    pub._ready = True
    pub._message(msg("netmon/ha/1/b", status(ACTIVE, 120.0, "b")))
    assert pub.pair.role == STANDBY and pub.pair.pending() == 1  # a's pre-crash event: held
    pub._message(msg("netmon/ha/1/b", status(ACTIVE, 161.0, "b")))
    assert len(queue) == 0 and pub.pair.stats.expired == 1  # b moved past it: dropped
    assert queue.discard([seq]) == 0


def test_events_carry_the_shard() -> None:
    eng = StateEngine(shard="2")
    got: list[Event] = []
    eng.bus.listen(got.append)
    eng.set_inventory(_inventory())
    eng.observe("p1", True, Cause.PROBE, "answered")
    assert got and {e.shard for e in got} == {"2"}
    assert got[0].to_json()["shard"] == "2"
    assert Event("device", "x", 1.0, "up", "down", Cause.POLL, _place()).to_json()["shard"] is None


def _place() -> Place:
    return place("x")


def _inventory() -> Any:
    from tests.support.backbones import backbone

    return backbone()
