"""The incremental computation decides exactly what a whole recomputation decides.

Two engines take the same random observations (answers, silences, stale news, interface
readings, traps, confirmations, maintenance windows opening and closing, holds expiring,
reloads) on the same clock: one computes only what is dirty (the shipped engine), the other
everything, every time. Their views, link views and events must agree after every step.
"""

from __future__ import annotations

import random
from collections.abc import Iterable

import pytest
from support.backbones import backbone

from netmon.inventory.loader import default_inventory_path, load_inventory
from netmon.inventory.model import Inventory
from netmon.state.engine import StateEngine
from netmon.state.model import Cause, Event


class _Full(StateEngine):
    """The reference: every computation is a whole one."""

    def _recompute(self, cause: Cause, full: bool = False) -> None:
        super()._recompute(cause, full=True)


class _Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def _event_key(e: Event) -> tuple[str, ...]:
    return (e.kind, e.subject, e.previous, e.current, e.cause.value, str(e.cause_device), e.id)


class _Pair:
    def __init__(self, inv: Inventory, seed: int) -> None:
        self.rng = random.Random(seed)
        self.clock = _Clock()
        self.maint: dict[str, str] = {}
        self.asked: list[str] = []
        self.engines: list[StateEngine] = []
        self.events: list[list[Event]] = []
        for cls in (StateEngine, _Full):
            engine = cls(
                clock=self.clock,
                confirm=self._confirm,
                confirm_timeout=5.0,
                maintenance=lambda now: dict(self.maint),
                flap_window=30.0,
                flap_start=3,
            )
            seen: list[Event] = []
            engine.bus.listen(seen.append)
            self.engines.append(engine)
            self.events.append(seen)
        self.inv = inv
        for engine in self.engines:
            engine.set_inventory(inv)
        assert self.engines[0].topology is not None
        self.devices = list(self.engines[0].topology.order)
        self.ends = [
            (end.device, end.interface) for _, link in inv.links() for end in (link.a, link.b)
        ]

    def _confirm(self, names: Iterable[str]) -> None:
        self.asked.extend(names)

    def both(self, method: str, *args: object) -> None:
        for engine in self.engines:
            getattr(engine, method)(*args)

    def step(self) -> None:
        rng, now = self.rng, self.clock.now
        r = rng.random()
        if r < 0.35:
            # mostly answers, a district failing more often than a core
            dev = rng.choice(self.devices)
            began = now - rng.choice((0.0, 0.0, 1.0, 8.0))
            cause = rng.choice((Cause.POLL, Cause.PROBE, Cause.STATUS))
            self.both("observe", dev, rng.random() < 0.55, cause, "ev", began)
        elif r < 0.5 and self.asked:
            # the wiring's confirmations come back (in any order, some never)
            dev = self.asked.pop(rng.randrange(len(self.asked)))
            self.both("observe", dev, rng.random() < 0.5, Cause.PROBE, "confirm", now)
        elif r < 0.65:
            dev, iface = rng.choice(self.ends)
            reading = (rng.choice((None, 1, 2)), rng.choice((None, 1, 2, 7)))
            self.both("observe_interfaces", dev, {iface: reading}, Cause.POLL, now)
        elif r < 0.7:
            dev, iface = rng.choice(self.ends)
            self.both("observe_trap", dev, rng.choice(("linkDown", "linkUp")), iface, "trap")
        elif r < 0.75:
            dev = rng.choice(self.devices)
            if dev in self.maint:
                del self.maint[dev]
            else:
                self.maint[dev] = rng.choice(("w1", "w2"))
            self.both("tick")
        elif r < 0.95:
            self.clock.now += rng.choice((0.5, 1.0, 3.0, 6.0, 20.0))
            self.both("tick")
        elif r < 0.97:
            self.both("set_inventory", self.inv)
        else:
            self.both("observe_reboot", rng.choice(self.devices), "coldStart")

    def check(self, step: int) -> None:
        inc, full = self.engines
        assert dict(inc.views()) == dict(full.views()), f"device views differ at step {step}"
        assert dict(inc.links()) == dict(full.links()), f"link views differ at step {step}"
        got, want = (sorted(map(_event_key, seen)) for seen in self.events)
        assert got == want, f"events differ at step {step}"
        for seen in self.events:
            seen.clear()


@pytest.mark.parametrize("seed", range(60))
def test_incremental_equals_whole_on_the_hand_built_backbone(seed: int) -> None:
    pair = _Pair(backbone(), seed)
    for step in range(150):
        pair.step()
        pair.check(step)


_SHIPPED: list[Inventory] = []


@pytest.mark.parametrize("seed", range(1))
def test_incremental_equals_whole_on_the_shipped_backbone(seed: int) -> None:
    if not _SHIPPED:
        _SHIPPED.append(load_inventory(default_inventory_path()))
    pair = _Pair(_SHIPPED[0], seed)
    for dev in pair.devices:  # start from a live backbone, then break it at random
        pair.both("observe", dev, True, Cause.POLL, "up", pair.clock.now)
    pair.check(-1)
    for step in range(120):
        pair.step()
        pair.check(step)
