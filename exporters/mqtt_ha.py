"""One MQTT publisher per HA pair (`netmon run --replica NAME`): the active replica publishes the
events and the retained board; the standby publishes nothing to consumer topics, follows the
active's events and takes over when the active goes away, publishing the events it decided
that the active never published (the logic: ``exporters/ha_pair.py``).

Topics, ``<shard>`` being K of ``--shard K/N`` (``all`` without shards)::

    netmon/ha/<shard>/<replica>    retained JSON {"replica","shard","role","through"};
                                   role active | standby, offline on a clean stop and as the
                                   will (a crash); the active's is republished every heartbeat

Each replica's status is its own topic, so no will clobbers another replica's status;
``netmon/status`` is not written by a replica (it is the single publisher's).

The standby subscribes to ``netmon/ha/<shard>/+`` and to ``netmon/events`` (keeping the events
of its own shard). Its own events stay in its durable outbox, not published: each one the
active publishes within the window is deleted (matched); what is left when it takes over is
published in order as usual. Taking over also republishes the whole retained board (the
broker holds the other replica's). Each replica's session (client id
``netmon-<shard>-<replica>``) is not clean: the broker keeps the active's events for a standby
that is away, so they are matched when it is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from dataclasses import replace
from typing import Any
from urllib.parse import unquote

import aiomqtt

from exporters.event_queue import EventQueue
from exporters.ha_pair import (
    ACTIVE,
    DEFAULT_HEARTBEAT,
    DEFAULT_STALE,
    DEFAULT_WINDOW,
    OFFLINE,
    Pair,
    status_payload,
)
from exporters.mqtt import Board, MqttPublisher, MqttSettings
from exporters.mqtt_topics import segment
from netmon.state.events import Subscription
from netmon.state.model import Event

log = logging.getLogger(__name__)

SETTLE = 1.0  # seconds after subscribing before the first election: the retained statuses


class HaPublisher(MqttPublisher):
    # The broker keeps the subscription to the active's events while this replica is away (a
    # dropped connection, a restart): they are matched when it is back, not missed.
    clean_session = False

    def __init__(
        self,
        settings: MqttSettings,
        queue: EventQueue,
        subscription: Subscription | None,
        board: Board | None = None,
        *,
        replica: str,
        shard: str | None,
        window: float = DEFAULT_WINDOW,
        heartbeat: float = DEFAULT_HEARTBEAT,
        stale: float = DEFAULT_STALE,
        settle: float = SETTLE,
        **kwargs: Any,
    ) -> None:
        if settings.client_id is None:  # a session of its own that outlives a connection
            settings = replace(settings, client_id=f"netmon-{shard or 'all'}-{replica}")
        super().__init__(settings, queue, subscription, board, **kwargs)
        self.shard = shard
        self.pair = Pair(replica, window=window, stale=stale)
        self.heartbeat = heartbeat
        self.settle = settle
        self._ready = False  # the retained statuses are in: the election may run
        self._changed = asyncio.Event()
        self._index_outbox()  # an earlier run's unpublished events: held until elected

    @property
    def pair_prefix(self) -> str:
        return f"{self.settings.prefix}/ha/{segment(self.shard or 'all')}"

    @property
    def status_topic(self) -> str:
        return f"{self.pair_prefix}/{segment(self.pair.replica)}"

    @property
    def active(self) -> bool:
        return self.pair.role == ACTIVE

    def _offline(self) -> bytes:
        return status_payload(self.pair.replica, self.shard, OFFLINE, 0.0)

    def _status(self) -> bytes:
        through = 0.0
        if self.active:  # every event decided before this is acknowledged by the broker
            oldest = self.queue.peek(1)
            through = oldest[0].queued if oldest else time.time()
        return status_payload(self.pair.replica, self.shard, self.pair.role, through)

    # --- the hooks of MqttPublisher ---------------------------------------------------------

    def _queued(self, seq: int, event: Event) -> None:
        if self.pair.own(seq, event.to_json()):
            self.queue.discard([seq])  # the active (or the old one) published it already

    async def _connected(self, client: aiomqtt.Client) -> None:
        self._ready = False
        if self.active:  # back after a dropped connection: has the other one taken over?
            self.pair.suspend()
            self._index_outbox()
        await client.subscribe(f"{self.pair_prefix}/+", qos=1)
        await client.subscribe(self.events_topic, qos=1)
        await client.publish(self.status_topic, self._status(), qos=1, retain=True)

    def _message(self, message: aiomqtt.Message) -> None:
        payload = message.payload if isinstance(message.payload, bytes) else b""
        topic = message.topic.value
        if topic == self.events_topic:
            self._echo(payload)
        elif topic.startswith(self.pair_prefix + "/"):
            self.pair.heard(unquote(topic[len(self.pair_prefix) + 1 :]), payload)
            self._elect()
            if not self.active:
                self.queue.discard(self.pair.expire())

    async def _flush(self, client: aiomqtt.Client) -> int:
        return await super()._flush(client) if self.active else 0

    async def _until_disconnected(self, client: aiomqtt.Client) -> None:
        beat = asyncio.create_task(self._beat(client))
        messages = asyncio.create_task(super()._until_disconnected(client))
        try:
            done, _ = await asyncio.wait((beat, messages), return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()
            raise aiomqtt.MqttError("disconnected")
        finally:
            for task in (beat, messages):
                task.cancel()
            await asyncio.gather(beat, messages, return_exceptions=True)

    # --- the pair ---------------------------------------------------------------------------

    async def _beat(self, client: aiomqtt.Client) -> None:
        """Elect once the retained statuses are in, then say who we are every heartbeat
        (at once after a change of role)."""
        await asyncio.sleep(self.settle)
        self._ready = True
        while True:
            self._changed.clear()
            self._elect()
            await client.publish(self.status_topic, self._status(), qos=1, retain=True)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.heartbeat):
                    await self._changed.wait()

    def _elect(self) -> None:
        if not self._ready:
            return
        role = self.pair.elect()
        held = len(self.queue) if role == ACTIVE and not self.active else 0
        if not self.pair.become(role, held):
            return
        if role == ACTIVE:
            self.queue.forget_published()  # the broker's board is the other replica's
            log.warning(
                "mqtt: replica %s publishes shard %s's events (%d held)",
                self.pair.replica,
                self.shard or "all",
                held,
            )
        else:
            self._index_outbox()
            log.warning("mqtt: replica %s is standby: another publishes", self.pair.replica)
        self._changed.set()
        self._wake.set()

    def _index_outbox(self) -> None:
        rows = []
        for item in self.queue.peek(self.queue.max_events):
            with contextlib.suppress(ValueError, KeyError, TypeError):
                rows.append((item.seq, json.loads(item.payload)))
        self.pair.index(rows)

    def _echo(self, payload: bytes) -> None:
        """An event on ``netmon/events``: the active's (or ours, while active: ignored)."""
        if self.active or not payload:
            return
        try:
            doc = json.loads(payload)
            if doc.get("shard") != self.shard:
                return  # another shard's
            seq = self.pair.echo(doc)
        except (ValueError, KeyError, TypeError, AttributeError):
            return
        if seq is not None:
            self.queue.discard([seq])
