"""Wiring of the event path for `netmon run` (part of ``netmon/service.py``'s wiring): the trap
receiver feeds the state engine and asks the scheduler for a confirming poll; the MQTT
publisher takes the engine's event stream and board.

A trap changes state at once (a link's oper status, a reboot), and the confirming full poll
that follows puts right whatever a forged, stale or reordered trap said.
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from collector.model import DeviceState
from collector.traps import DEFAULT_ENGINE_ID, Trap, TrapReceiver, trap_config
from exporters.event_families import ha_families, mqtt_families, trap_families
from exporters.event_queue import DEFAULT_MAX_EVENTS, EventQueue
from exporters.families import Family
from exporters.ha_pair import DEFAULT_WINDOW
from exporters.mqtt import MqttPublisher, MqttSettings
from exporters.mqtt_ha import HaPublisher
from netmon.inventory.model import Inventory
from netmon.inventory.secrets import resolve_secret
from netmon.state.engine import StateEngine
from netmon.state.model import Cause

log = logging.getLogger(__name__)

IF_UP, IF_DOWN = 1, 2


def default_queue_path() -> Path:
    """systemd's StateDirectory when set, else /var/lib/netmon as root, else ~/.local/state."""
    state = os.environ.get("STATE_DIRECTORY")
    if state:
        return Path(state.split(":")[0]) / "mqtt-outbox.db"
    if os.geteuid() == 0:
        return Path("/var/lib/netmon/mqtt-outbox.db")
    return Path.home() / ".local" / "state" / "netmon" / "mqtt-outbox.db"


@dataclass(frozen=True, slots=True)
class EventOptions:
    trap_listen: tuple[str, int] | None = None
    trap_communities: tuple[str, ...] = ()  # env:/file: references accepted from any device
    trap_engine_id: bytes | None = None
    mqtt: MqttSettings | None = None
    mqtt_queue: Path | None = None
    mqtt_queue_max: int = DEFAULT_MAX_EVENTS
    replica: str | None = None  # an HA pair's replica: one publisher per pair (mqtt_ha.py)
    ha_window: float = DEFAULT_WINDOW


class Polls(Protocol):
    states: dict[str, DeviceState]

    def request_probe(self, name: str) -> bool: ...
    def request_full(self, name: str) -> bool: ...


class TrapFeed:
    """A trap becomes observations of the state engine and a confirming poll."""

    def __init__(self, engine: StateEngine, polls: Polls) -> None:
        self.engine = engine
        self.polls = polls
        self.unmatched_interfaces = 0

    def __call__(self, trap: Trap) -> None:
        eng = self.engine
        if trap.kind in ("link_down", "link_up"):
            name = self._interface(trap)
            if name is not None:
                oper = trap.if_oper or (IF_DOWN if trap.kind == "link_down" else IF_UP)
                eng.observe_interfaces(trap.device, {name: (trap.if_admin, oper)}, Cause.TRAP)
            else:
                self.unmatched_interfaces += 1
        elif trap.kind in ("cold_start", "warm_start"):
            eng.observe(trap.device, True, Cause.TRAP, trap.evidence)
            eng.observe_reboot(trap.device, trap.evidence, Cause.TRAP)
        else:  # authenticationFailure: someone failed to log in to the device; counted only
            return
        if not self.polls.request_full(trap.device):
            self.polls.request_probe(trap.device)

    def _interface(self, trap: Trap) -> str | None:
        """The trap's interface by the name the inventory uses: as carried, else its ifIndex
        looked up in the collector's cached ifName labels."""
        state = self.polls.states.get(trap.device)
        links = set(state.target.uplinks) if state is not None else set()
        if trap.if_name and trap.if_name in links:
            return trap.if_name
        if trap.if_index is None or state is None or state.last is None:
            return trap.if_name
        table = state.last.interfaces
        labels = table.labels.get(str(trap.if_index)) if table is not None else None
        return (labels or {}).get("ifName") or trap.if_name


@dataclass
class EventWiring:
    options: EventOptions
    engine: StateEngine
    polls: Polls
    receiver: TrapReceiver | None = None
    publisher: MqttPublisher | None = None
    trap_port: int = 0
    _queue: EventQueue | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        o = self.options
        if o.mqtt is not None:
            # Subscribe now, before the first inventory: its events must reach the broker too.
            self._queue = EventQueue(o.mqtt_queue or default_queue_path(), o.mqtt_queue_max)
            sub = self.engine.bus.subscribe()
            if o.replica is None:
                self.publisher = MqttPublisher(o.mqtt, self._queue, sub, self.engine)
            else:
                self.publisher = HaPublisher(
                    o.mqtt,
                    self._queue,
                    sub,
                    self.engine,
                    replica=o.replica,
                    shard=self.engine.shard,
                    window=o.ha_window,
                )

    def apply(self, inventory: Inventory) -> None:
        """A (re)loaded inventory: the receiver's sources, communities and USM users."""
        o = self.options
        if o.trap_listen is None:
            return
        config = trap_config(inventory, resolve_secret, o.trap_communities)
        if self.receiver is None:
            self.receiver = TrapReceiver(
                config,
                TrapFeed(self.engine, self.polls),
                engine_id=o.trap_engine_id or DEFAULT_ENGINE_ID,
            )
        else:
            self.receiver.apply(config)

    async def start(self) -> None:
        """Bind the trap socket (raises OSError: port taken, 162 without privileges)."""
        listen = self.options.trap_listen
        if self.receiver is not None and listen is not None:
            self.trap_port = await self.receiver.start(*listen)

    async def run(self, stop: asyncio.Event) -> None:
        try:
            if self.publisher is not None:
                await self.publisher.run(stop)
            else:
                await stop.wait()
        finally:
            if self.receiver is not None:
                self.receiver.close()
            if self._queue is not None:
                self._queue.close()

    def families(self) -> list[Family]:
        out: list[Family] = []
        if self.receiver is not None:
            out += trap_families(self.receiver.stats)
        if self.publisher is not None:
            out += mqtt_families(self.publisher)
            if isinstance(self.publisher, HaPublisher):
                out += ha_families(self.publisher.pair)
        return out
