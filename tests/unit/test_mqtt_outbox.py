"""The durable outbox, the topic tree and the retained board logic, without a broker; the
trap feed into a real state engine; `netmon run`'s event options."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path

import pytest

from collector.traps import Trap
from exporters.event_queue import EventQueue
from exporters.mqtt import MqttPublisher, MqttSettings
from exporters.mqtt_topics import parse_mqtt_url, segment
from netmon.errors import ConfigError
from netmon.event_options import add_arguments, options_from_args
from netmon.event_wiring import TrapFeed
from netmon.simulator.testbed import small_inventory
from netmon.state.engine import StateEngine
from netmon.state.events import EventBus
from netmon.state.model import Cause, DeviceView, Event, LinkStatus, LinkView, Place, Status


def place(device: str = "d1") -> Place:
    return Place(device, "5001", "district", "50", "Chiang Mai", "north", "เมือง", "Mueang")


def event(n: int, device: str = "d1") -> Event:
    return Event("device", device, 1000.0 + n, "up", "down", Cause.PROBE, place(device))


def test_outbox_keeps_order_across_reopen_and_drops_oldest_beyond_its_bound(
    tmp_path: Path,
) -> None:
    q = EventQueue(tmp_path / "q.db", max_events=5)
    for n in range(7):
        q.put(f"id{n}", ("a", "b"), f"{n}".encode())
    assert q.dropped == 2 and len(q) == 5
    q.close()
    again = EventQueue(tmp_path / "q.db", max_events=5)
    items = again.peek(10)
    assert [i.event_id for i in items] == ["id2", "id3", "id4", "id5", "id6"]
    assert items[0].topics == ("a", "b")
    again.ack(items[0].seq)
    assert [i.event_id for i in again.peek(2)] == ["id3", "id4"] and again.delivered == 1
    mode = again._db.execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_retained_board_publishes_only_real_changes(tmp_path: Path) -> None:
    q = EventQueue(tmp_path / "q.db")
    assert q.want("t/1", b"up@1", "up")
    (u,) = q.pending_retained()
    q.retained_done(u)
    assert not q.want("t/1", b"up@2", "up")  # same state, a new timestamp: nothing to send
    assert q.pending_retained() == []
    assert q.want("t/1", b"down@3", "down")
    assert q.retained_pending_count() == 1
    # Back to up before "down" was sent: the broker still says up, nothing to send.
    assert not q.want("t/1", b"up@4", "up")
    assert q.retained_pending_count() == 0
    q.close()
    # A restart re-announces nothing.
    again = EventQueue(tmp_path / "q.db")
    assert not again.want("t/1", b"up@9", "up") and again.pending_retained() == []


class Board:
    def __init__(self) -> None:
        self.devices: dict[str, DeviceView] = {}
        self.link_views: dict[str, LinkView] = {}

    def views(self) -> Mapping[str, DeviceView]:
        return self.devices

    def links(self) -> Mapping[str, LinkView]:
        return self.link_views

    def place(self, device: str) -> Place | None:
        return place(device)


def test_publisher_topics_and_board(tmp_path: Path) -> None:
    board = Board()
    bus = EventBus()
    pub = MqttPublisher(MqttSettings(), EventQueue(tmp_path / "q.db"), bus.subscribe(), board)
    board.devices["d1"] = DeviceView("d1", Status.DOWN, 1001.0)
    pub.accept(event(1))
    (item,) = pub.queue.peek()
    assert item.topics == ("netmon/events", "netmon/50/5001/d1/events")
    (retained,) = pub.queue.pending_retained()
    assert retained.topic == "netmon/50/5001/d1/state"
    # An undecided device never overwrites the broker's last known state.
    board.devices["d2"] = DeviceView("d2", Status.UNKNOWN, 1.0)
    link = "d1:Gi0/0/1--d9:xe-0/0/0"
    board.link_views[link] = LinkView(link, LinkStatus.DOWN, 5.0)
    pub.sync_board()
    topics = sorted(u.topic for u in pub.queue.pending_retained())
    assert topics == [
        "netmon/50/5001/d1/link/d1:Gi0%2F0%2F1--d9:xe-0%2F0%2F0/state",
        retained.topic,
    ]


def test_topic_segments_and_urls() -> None:
    assert segment("a/b+c#d e%") == "a%2Fb%2Bc%23d%20e%25"
    assert parse_mqtt_url("mqtt://127.0.0.1") == (False, "127.0.0.1", 1883)
    assert parse_mqtt_url("mqtts://127.0.0.1:9999") == (True, "127.0.0.1", 9999)
    for bad in ("http://x", "mqtt://", "mqtt://u:p@127.0.0.1"):
        with pytest.raises(ConfigError):
            parse_mqtt_url(bad)


def parse(*argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    p.add_argument("--allow-non-loopback", action="store_true")
    add_arguments(p)
    return p.parse_args(argv)


def test_event_options() -> None:
    assert options_from_args(parse()) is None
    o = options_from_args(
        parse("--trap-listen", "127.0.0.1:1162", "--mqtt-url", "mqtts://127.0.0.1:8883")
    )
    assert o is not None and o.trap_listen == ("127.0.0.1", 1162)
    assert o.mqtt is not None and o.mqtt.tls and o.mqtt.port == 8883
    with pytest.raises(ConfigError, match="not loopback"):
        options_from_args(parse("--trap-listen", "0.0.0.0:162"))
    assert options_from_args(parse("--trap-listen", "0.0.0.0:162", "--allow-non-loopback"))
    with pytest.raises(ConfigError, match="mqtts"):
        options_from_args(parse("--mqtt-url", "mqtt://127.0.0.1", "--mqtt-ca", "/x"))
    with pytest.raises(SystemExit):  # a secret itself, not a reference
        parse("--mqtt-password", "hunter2")


class Polls:
    def __init__(self) -> None:
        self.states: dict[str, object] = {}
        self.full: list[str] = []

    def request_probe(self, name: str) -> bool:
        return True

    def request_full(self, name: str) -> bool:
        self.full.append(name)
        return True


def trap(kind: str, device: str, if_name: str | None = None) -> Trap:
    return Trap(device, kind, 129, if_name, None, None, 5.0, "127.0.0.1", "2c", False, None)


def test_trap_feed_changes_state_at_once_and_asks_for_a_confirming_poll() -> None:
    now = [100.0]
    engine = StateEngine(clock=lambda: now[0])
    engine.set_inventory(small_inventory(31))
    for dev in ("bkk-core-01", "cmi-dist-01", "cmi-dist-02", "cmi-5001-edge-01"):
        engine.observe(dev, True, Cause.POLL)
    engine.observe_interfaces("cmi-dist-01", {"GigabitEthernet0/0/1": (1, 1)}, Cause.POLL)
    engine.observe_interfaces("bkk-core-01", {"xe-0/0/0": (1, 1)}, Cause.POLL)
    events: list[Event] = []
    engine.bus.listen(events.append)
    polls = Polls()
    feed = TrapFeed(engine, polls)  # type: ignore[arg-type]
    feed(trap("link_down", "cmi-dist-01", "GigabitEthernet0/0/1"))
    (ev,) = [e for e in events if e.kind == "link"]
    assert (ev.current, ev.cause) == ("down", Cause.TRAP)
    assert polls.full == ["cmi-dist-01"]
    feed(trap("cold_start", "bkk-core-01"))
    assert [e.kind for e in events][-1] == "reboot" and events[-1].cause is Cause.TRAP
    feed(trap("link_down", "cmi-dist-01", None))  # no name, no cached ifIndex: counted
    assert feed.unmatched_interfaces == 1


def test_a_device_removed_from_the_inventory_has_its_retained_state_cleared(
    tmp_path: Path,
) -> None:
    board = Board()
    pub = MqttPublisher(MqttSettings(), EventQueue(tmp_path / "q.db"), None, board)
    board.devices["d1"] = DeviceView("d1", Status.UP, 1.0)
    board.devices["d2"] = DeviceView("d2", Status.UP, 1.0)
    pub.sync_board()
    for u in pub.queue.pending_retained():
        pub.queue.retained_done(u)
    del board.devices["d1"]
    pub.sync_board()
    (gone,) = pub.queue.pending_retained()
    assert (gone.topic, gone.payload) == ("netmon/50/5001/d1/state", b"")
    board.devices.clear()  # an empty board (no inventory yet) clears nothing
    pub.queue.retained_done(gone)
    pub.sync_board()
    assert pub.queue.pending_retained() == []
