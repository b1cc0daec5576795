"""Simulated devices send informs (v2c, and v3 with discovery of the receiver's engine) and
resend them until acknowledged; the receiver here is netmon's own (collector.traps), so both
ends of the exchange are real code, wired without sockets under a fake clock."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from collector.traps import Trap, TrapReceiver, trap_config
from netmon.simulator.backbone import Backbone, build
from netmon.simulator.testbed import SECRETS, small_inventory
from netmon.simulator.v3 import make_v3_agent


def resolve(ref: str) -> str:
    return SECRETS[ref.removeprefix("env:")]


class Timer:
    def __init__(self, fn: Callable[[], object]) -> None:
        self.fn = fn
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class Lab:
    """The backbone sending informs to a TrapReceiver; ``lose`` drops the next answers."""

    def __init__(self, retries: int = 3) -> None:
        inv = small_inventory(31)
        nodes, links = build(inv, now=0.0, port=16100, resolve=resolve, v3_factory=make_v3_agent)
        self.bb = Backbone(nodes, links, inform_target=("127.0.0.1", 9162), inform_retries=retries)
        self.got: list[Trap] = []
        self.rx = TrapReceiver(trap_config(inv, resolve), self.got.append, engine_boots=3)
        self.timers: list[Timer] = []
        self.lose = 0
        self.sent_informs = 0

        def schedule(delay: float, fn: Callable[[], object]) -> Any:
            t = Timer(fn)
            self.timers.append(t)
            return t

        self.bb.scheduler = schedule
        for node in nodes:
            node.sender = lambda data, addr, node=node: self._deliver(node, data)

    def _deliver(self, node: Any, data: bytes) -> None:
        self.sent_informs += 1
        reply = self.rx.handle(data, node.dev.address)
        if reply is None:
            return
        if self.lose:
            self.lose -= 1
            return
        assert self.bb.handle(node, reply) is None  # consumed as an acknowledgement

    def fire_timers(self) -> None:
        timers, self.timers = self.timers, []
        for t in timers:
            if not t.cancelled:
                t.fn()


def test_v2c_and_v3_informs_are_acknowledged() -> None:
    lab = Lab()
    lab.bb.control("link_down", {"device": "cmi-5001-edge-01", "interface": "GigabitEthernet0/0/0"})
    kinds = sorted((t.device, t.kind, t.version, t.inform) for t in lab.got)
    assert kinds == [
        ("cmi-5001-edge-01", "link_down", "3", True),
        ("cmi-dist-01", "link_down", "2c", True),
    ]
    assert all(t.if_name for t in lab.got)  # the simulator's traps carry ifName
    c = lab.bb.informs.counters if lab.bb.informs else None
    assert c is not None and (c.sent, c.acked, c.resent, c.failed) == (2, 2, 0, 0)
    assert lab.rx.stats.informs_acked == 2
    lab.fire_timers()  # nothing left to resend
    assert c.resent == 0


def test_lost_acknowledgements_are_resent_and_acted_on_once() -> None:
    lab = Lab()
    lab.lose = 2
    lab.bb.control("reboot", {"device": "cmi-dist-01"})
    lab.fire_timers()
    lab.fire_timers()
    c = lab.bb.informs.counters if lab.bb.informs else None
    assert c is not None and (c.sent, c.acked, c.resent) == (1, 1, 2)
    assert [t.kind for t in lab.got] == ["cold_start"]  # three copies, acted on once
    assert lab.rx.stats.inform_duplicates == 2


def test_unanswered_informs_are_given_up_after_the_retries() -> None:
    lab = Lab(retries=2)
    lab.lose = 1000
    lab.bb.control("reboot", {"device": "cmi-dist-01"})
    lab.bb.control("reboot", {"device": "cmi-5001-edge-01"})
    for _ in range(6):
        lab.fire_timers()
    c = lab.bb.informs.counters if lab.bb.informs else None
    assert c is not None and (c.sent, c.acked, c.failed) == (2, 0, 2)
    assert not lab.timers and not lab.bb.informs.busy("cmi-dist-01")  # type: ignore[union-attr]
