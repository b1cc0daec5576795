"""The state engine on a hand-built backbone: root causes, holds that settle races, dual
homing, maintenance, links, events.

Backbone (tests/support/backbones.py): c1, c2 at the centre; hub 50 (p1 dual-homed to c1 and
c2, distribution s1 behind p1); district 5001 (e1 behind s1, backup to p1); district 5002 (e2
behind s1); hub 51 (p2 behind c2) with district 5101 (e3 behind p2).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import pytest
from support.backbones import backbone

from netmon.state.engine import StateEngine
from netmon.state.model import Cause, Event, LinkStatus, Status

ALL = ("c1", "c2", "p1", "s1", "e1", "e2", "p2", "e3")


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


class Lab:
    def __init__(self, maintenance: dict[str, str] | None = None) -> None:
        self.clock = Clock()
        self.asked: list[str] = []
        self.maint = maintenance if maintenance is not None else {}
        self.engine = StateEngine(
            clock=self.clock,
            confirm=self._confirm,
            confirm_timeout=5.0,
            maintenance=lambda now: self.maint,
            flap_window=60.0,
            flap_start=3,
        )
        self.events: list[Event] = []
        self.engine.bus.listen(self.events.append)
        self.engine.set_inventory(backbone())

    def _confirm(self, names: Iterable[str]) -> None:
        self.asked.extend(names)

    def see(self, device: str, answered: bool, cause: Cause = Cause.PROBE) -> None:
        self.engine.observe(device, answered, cause, "test")

    def all_up(self) -> None:
        for n in ALL:
            self.see(n, True, Cause.POLL)
        self.events.clear()
        self.asked.clear()

    def status(self, device: str) -> Status:
        return self.engine.views()[device].status

    def changes(self) -> list[tuple[str, str, str]]:
        return [(e.subject, e.previous, e.current) for e in self.events if e.kind == "device"]


def test_everything_starts_unknown_and_comes_up() -> None:
    lab = Lab()
    assert {lab.status(n) for n in ALL} == {Status.UNKNOWN}
    lab.see("e3", True, Cause.POLL)
    assert lab.status("e3") is Status.UP
    assert lab.changes() == [("e3", "unknown", "up")]
    assert lab.events[0].place.province_code == "50"


def test_district_failing_before_its_dead_hub_never_pages() -> None:
    lab = Lab()
    lab.all_up()
    lab.see("e3", False)  # the district's poll fails first
    assert lab.asked == ["p2"]  # its hub is probed at once
    assert lab.status("e3") is Status.UP  # held until the hub is confirmed
    lab.see("p2", False)  # the hub does not answer either
    assert lab.asked == ["p2", "c2"]
    assert lab.status("p2") is Status.UP and lab.status("e3") is Status.UP  # still confirming
    lab.see("c2", True)
    assert lab.status("p2") is Status.DOWN
    view = lab.engine.views()["e3"]
    assert view.status is Status.UNREACHABLE
    assert view.causes == ("p2",) and view.cause_status is Status.DOWN
    assert lab.changes() == [("p2", "up", "down"), ("e3", "up", "unreachable")]
    unreachable = next(e for e in lab.events if e.current == "unreachable")
    assert unreachable.cause_device == "p2" and unreachable.cause is Cause.UPSTREAM


def test_later_districts_behind_a_known_dead_hub_are_decided_at_once() -> None:
    lab = Lab()
    lab.all_up()
    lab.see("p2", False)
    lab.see("c2", True)
    assert lab.status("p2") is Status.DOWN
    lab.asked.clear()
    lab.see("e3", False)
    assert lab.asked == []  # nothing to confirm: its only parent is known dead
    assert lab.status("e3") is Status.UNREACHABLE


def test_hold_ends_after_the_timeout_when_no_confirmation_comes() -> None:
    lab = Lab()
    lab.all_up()
    lab.see("e3", False)
    lab.engine.tick()
    assert lab.status("e3") is Status.UP
    lab.clock.now += 5.1
    lab.engine.tick()
    assert lab.status("e3") is Status.DOWN  # its hub was last seen answering


def test_district_with_a_live_hub_is_the_root_cause() -> None:
    lab = Lab()
    lab.all_up()
    lab.see("e3", False)
    lab.see("p2", True)  # the confirming probe: the hub answers
    assert lab.status("e3") is Status.DOWN
    assert lab.changes() == [("e3", "up", "down")]


def test_hub_recovery_does_not_page_its_districts() -> None:
    lab = Lab()
    lab.all_up()
    lab.see("p2", False)
    lab.see("c2", True)
    lab.see("e3", False)
    lab.events.clear()
    lab.asked.clear()
    lab.see("p2", True)  # the hub is back; e3's last word is old
    assert lab.asked == ["e3"]
    assert lab.status("e3") is Status.UNREACHABLE  # held, not down
    lab.see("e3", True)
    assert lab.changes() == [("p2", "down", "up"), ("e3", "unreachable", "up")]


def test_an_answer_from_behind_a_dead_hub_asks_after_the_hub() -> None:
    lab = Lab()
    lab.all_up()
    lab.see("p2", False)
    lab.see("c2", True)
    lab.see("e3", False)
    lab.asked.clear()
    lab.see("e3", True)  # the district's own probe answers first
    assert lab.asked == ["p2"]
    assert lab.status("e3") is Status.UP


def test_district_still_dead_after_hub_recovery_becomes_its_own_root_cause() -> None:
    lab = Lab()
    lab.all_up()
    lab.see("p2", False)
    lab.see("c2", True)
    lab.see("e3", False)
    lab.see("p2", True)
    lab.see("e3", False)  # the fresh probe: still dead
    assert lab.status("e3") is Status.DOWN


def test_dual_homed_district_with_one_parent_down_is_up_or_its_own_root_cause() -> None:
    lab = Lab()
    lab.all_up()
    lab.see("s1", False)
    lab.see("p1", True)
    assert lab.status("s1") is Status.DOWN
    assert lab.status("e1") is Status.UP  # its backup path through p1 answers
    lab.see("e2", False)  # single-homed behind s1
    assert lab.status("e2") is Status.UNREACHABLE
    lab.see("e1", False)
    lab.see("p1", True)  # backup parent confirmed alive
    assert lab.status("e1") is Status.DOWN  # reachable through p1, so it is a root cause


def test_dual_homed_hub_is_dark_only_when_both_parents_are() -> None:
    lab = Lab()
    lab.all_up()
    lab.see("c1", False)
    assert lab.status("c1") is Status.DOWN  # a root: no upstream to confirm
    lab.see("p1", False)
    lab.see("c2", True)
    assert lab.status("p1") is Status.DOWN  # c2 still gives it a path
    lab.see("c2", False)
    view = lab.engine.views()["p1"]
    assert view.status is Status.UNREACHABLE and set(view.causes) == {"c1", "c2"}


def test_maintenance_covers_the_device_and_what_is_dark_behind_it() -> None:
    lab = Lab(maintenance={"p2": "hub-51-upgrade"})
    lab.all_up()
    assert lab.status("p2") is Status.MAINTENANCE
    lab.see("p2", False)
    lab.see("e3", False)
    view = lab.engine.views()["e3"]
    assert view.status is Status.UNREACHABLE
    assert view.cause_status is Status.MAINTENANCE and view.window == "hub-51-upgrade"
    assert all(e.current != "down" for e in lab.events)
    lab.maint = {}  # the window ends with the hub still dead: now it is a root cause
    lab.see("c2", True)
    lab.engine.tick()
    assert lab.status("p2") is Status.DOWN
    assert lab.engine.views()["e3"].cause_status is Status.DOWN


def test_a_live_device_in_maintenance_hides_nothing() -> None:
    lab = Lab(maintenance={"p2": "w"})
    lab.all_up()
    lab.see("e3", False)
    lab.see("p2", True)  # the confirming probe of the hub under maintenance
    assert lab.status("e3") is Status.DOWN


def test_link_states() -> None:
    lab = Lab()
    lab.all_up()
    name = "e3:to-p2--p2:to-e3"
    eng = lab.engine
    assert eng.links()[name].status is LinkStatus.UNKNOWN
    eng.observe_interfaces("e3", {"to-p2": (1, 1)}, Cause.POLL)
    eng.observe_interfaces("p2", {"to-e3": (1, 1)}, Cause.POLL)
    assert eng.links()[name].status is LinkStatus.UP
    eng.observe_interfaces("p2", {"to-e3": (None, 2)}, Cause.STATUS)
    assert eng.links()[name].status is LinkStatus.DOWN
    link_events = [e for e in lab.events if e.kind == "link"]
    assert [(e.previous, e.current) for e in link_events][-1] == ("up", "down")
    assert link_events[-1].place.device == "e3"  # a link belongs to its downstream end
    # the district router dies: the link is dark because of it, not a second root cause
    lab.see("e3", False)
    lab.see("p2", True)
    view = eng.links()[name]
    assert view.status is LinkStatus.DARK and view.causes == ("e3",)
    lab.see("e3", True)
    eng.observe_interfaces("e3", {"to-p2": (2, 2)}, Cause.POLL)
    assert eng.links()[name].status is LinkStatus.ADMIN_DOWN


def test_link_dark_behind_a_dead_hub_names_the_hub() -> None:
    lab = Lab()
    lab.all_up()
    lab.engine.observe_interfaces("e3", {"to-p2": (1, 1)}, Cause.POLL)
    lab.see("p2", False)
    lab.see("c2", True)
    lab.see("e3", False)
    assert lab.engine.links()["e3:to-p2--p2:to-e3"].causes == ("p2",)


def test_flapping_starts_and_stops() -> None:
    lab = Lab()
    lab.all_up()
    eng = lab.engine
    for oper in (1, 2, 1, 2):
        eng.observe_interfaces("e3", {"to-p2": (1, oper)}, Cause.STATUS)
        lab.clock.now += 1
    view = eng.links()["e3:to-p2--p2:to-e3"]
    assert view.flaps == 3 and view.flapping
    lab.clock.now += 61
    eng.tick()
    assert not eng.links()["e3:to-p2--p2:to-e3"].flapping
    flapping = [(e.previous, e.current) for e in lab.events if e.kind == "flapping"]
    assert flapping == [("stable", "flapping"), ("flapping", "stable")]


def test_reload_keeps_observations_and_drops_removed_devices() -> None:
    lab = Lab()
    lab.all_up()
    inv = backbone()
    smaller = inv.model_copy(update={"sites": tuple(s for s in inv.sites if s.site.code != "5101")})
    lab.engine.set_inventory(smaller)
    assert "e3" not in lab.engine.views()
    assert lab.status("p2") is Status.UP
    lab.engine.set_inventory(inv)
    assert lab.status("e3") is Status.UNKNOWN  # back, but not yet heard from


def test_reboot_event_and_stable_ids() -> None:
    lab = Lab()
    lab.all_up()
    lab.engine.observe_reboot("p1", "sysUpTime went back")
    reboot = lab.events[-1]
    assert reboot.kind == "reboot" and reboot.current == "up"
    again = Event(
        reboot.kind,
        reboot.subject,
        reboot.time,
        reboot.previous,
        reboot.current,
        reboot.cause,
        reboot.place,
    )
    assert again.id == reboot.id  # the same decision has the same id (dedup across replicas)
    ids = [e.id for e in lab.events]
    assert len(set(ids)) == len(ids)
    with pytest.raises(ValueError):
        Event("nonsense", "p1", 0.0, "up", "up", Cause.POLL, reboot.place)


def test_unchanged_observations_publish_nothing() -> None:
    lab = Lab()
    lab.all_up()
    for _ in range(5):
        for n in ALL:
            lab.see(n, True)
    assert lab.events == []


def test_traps_move_link_ends_at_once_but_never_decide_reachability() -> None:
    lab = Lab()
    lab.all_up()
    eng = lab.engine
    eng.observe_interfaces("e3", {"to-p2": (1, 1)}, Cause.POLL)
    eng.observe_trap("e3", "linkDown", "to-p2", "ifIndex 3")
    link = eng.links()["e3:to-p2--p2:to-e3"]
    assert link.status is LinkStatus.DOWN
    assert lab.events[-1].cause is Cause.TRAP
    eng.observe_trap("e3", "linkUp", "to-p2", "")
    assert eng.links()["e3:to-p2--p2:to-e3"].status is LinkStatus.UP
    eng.observe_trap("p2", "coldStart", None, "")
    assert lab.events[-1].kind == "reboot" and lab.events[-1].cause is Cause.TRAP
    eng.observe_trap("p2", "authenticationFailure", None, "")
    assert lab.status("p2") is Status.UP


def test_older_news_never_wins() -> None:
    lab = Lab()
    lab.all_up()
    now = lab.clock.now
    # e3 stops answering and p2 is asked about; an answer of p2's to a request sent before
    # that (a poll in flight) does not confirm anything
    lab.see("e3", False)
    lab.engine.observe("p2", True, Cause.POLL, "old poll", began=now - 3)
    assert lab.status("e3") is Status.UP  # still held
    lab.engine.observe("p2", True, Cause.PROBE, "fresh", began=now + 0.1)
    assert lab.status("e3") is Status.DOWN
    # e3 answers again; a "no answer" to a probe sent before that answer is stale
    lab.clock.now += 5
    lab.engine.observe("e3", True, Cause.PROBE, "back", began=lab.clock.now - 0.5)
    assert lab.status("e3") is Status.UP
    lab.engine.observe("e3", False, Cause.PROBE, "stale", began=lab.clock.now - 2)
    assert lab.status("e3") is Status.UP and lab.asked == ["p2"]


def test_a_poll_older_than_a_trap_does_not_revert_the_link() -> None:
    lab = Lab()
    lab.all_up()
    eng = lab.engine
    name = "e3:to-p2--p2:to-e3"
    eng.observe_interfaces("e3", {"to-p2": (1, 1)}, Cause.POLL, began=lab.clock.now - 10)
    eng.observe_trap("e3", "linkDown", "to-p2", "")  # now
    eng.observe_interfaces("e3", {"to-p2": (1, 1)}, Cause.POLL, began=lab.clock.now - 1)
    assert eng.links()[name].status is LinkStatus.DOWN
    eng.observe_interfaces("e3", {"to-p2": (1, 1)}, Cause.STATUS, began=lab.clock.now + 1)
    assert eng.links()[name].status is LinkStatus.UP


def test_deferred_computation_batches_a_burst_and_readers_see_it() -> None:
    pending: list[Callable[[], None]] = []
    eng = StateEngine(clock=Clock(), defer=pending.append)
    events: list[Event] = []
    eng.bus.listen(events.append)
    eng.set_inventory(backbone())
    for n in ALL:
        eng.observe(n, True, Cause.POLL)
    assert len(pending) == 1 and events == []  # one computation for the burst, not yet run
    assert eng.views()["e3"].status is Status.UP  # a reader computes what is pending
    assert len([e for e in events if e.kind == "device"]) == len(ALL)
    eng.flush()  # the deferred call, later: nothing more to do
    assert len([e for e in events if e.kind == "device"]) == len(ALL)
