"""The MQTT publisher: every state-change event and the retained board, over aiomqtt 2.x.

Topic tree (``<prefix>`` is ``netmon``; segments are percent-encoded where MQTT reserves a
character: ``/`` ``+`` ``#`` ``%`` and spaces)::

    netmon/status                                           online | offline (retained, will)
    netmon/ha/<shard>/<replica>       instead, for an HA pair's replica (exporters/mqtt_ha.py)
    netmon/events                                           every event, QoS 1, not retained
    netmon/<province_code>/<site>/<device>/events           the device's events (QoS 1)
    netmon/<province_code>/<site>/<device>/state            device state JSON (retained)
    netmon/<province_code>/<site>/<device>/link/<link>/state
                          link state JSON (retained), under the link's downstream ("from") end

Delivery: each event is written to the durable outbox (``exporters.event_queue``) the moment it
comes off the event bus, then published in order with QoS 1 and deleted only after the broker's
PUBACK, so a broker outage or a SIGKILL loses nothing; a message in flight at a crash may come
twice (same event ``id``). The retained board is published only where it differs from what
the broker last acknowledged (state fields, not timestamps), so a restart re-announces nothing.

The publisher knows no engine: it takes an ``EventBus`` subscription and a ``Board`` (anything
with ``views()``, ``links()`` and ``place(device)``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiomqtt

from exporters.event_queue import EventQueue
from exporters.mqtt_topics import (
    device_base,
    device_state,
    encode,
    link_device,
    link_state,
    segment,
)
from netmon.errors import ConfigError
from netmon.state.events import Subscription
from netmon.state.model import DeviceView, Event, LinkView, Place, Status

log = logging.getLogger(__name__)

PREFIX = "netmon"
SYNC_INTERVAL = 30.0  # seconds between board comparisons (catches added/removed devices)
BATCH = 100  # events (or retained topics) per pipelined batch
INFLIGHT = 50  # QoS 1 messages sent and not yet acknowledged (paho's default: 20)
_BACKOFF_MAX = 10.0


class Board(Protocol):
    def views(self) -> Mapping[str, DeviceView]: ...
    def links(self) -> Mapping[str, LinkView]: ...
    def place(self, device: str) -> Place | None: ...


@dataclass(frozen=True, slots=True)
class MqttSettings:
    host: str = "127.0.0.1"
    port: int = 1883
    tls: bool = False
    ca_file: str | None = None  # None with TLS: the system's CAs
    cert_file: str | None = None  # client certificate (optional)
    key_file: str | None = None
    username: str | None = None  # env:/file: references, resolved at each connect
    password: str | None = None
    client_id: str | None = None
    keepalive: int = 30
    prefix: str = PREFIX


DELIVERY_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 30.0, 300.0)


@dataclass
class MqttStats:
    connected: bool = False
    connects: int = 0
    connect_failures: int = 0
    disconnects: int = 0
    published: int = 0  # messages acknowledged (events on each topic, retained, status)
    bus_dropped: int = 0  # events the bus subscription lost before reaching the outbox
    # Outbox -> broker PUBACK on every topic, per event (a histogram: cumulative counts).
    delivery_buckets: list[int] = field(default_factory=lambda: [0] * len(DELIVERY_BUCKETS))
    delivery_count: int = 0
    delivery_sum: float = 0.0
    delivery_max: float = 0.0

    def delivered(self, seconds: float) -> None:
        seconds = max(seconds, 0.0)
        for i, bound in enumerate(DELIVERY_BUCKETS):
            if seconds <= bound:
                self.delivery_buckets[i] += 1
        self.delivery_count += 1
        self.delivery_sum += seconds
        self.delivery_max = max(self.delivery_max, seconds)


class MqttPublisher:
    clean_session: bool | None = None  # None: paho's default for MQTT 3.1.1 (a clean one)

    def __init__(
        self,
        settings: MqttSettings,
        queue: EventQueue,
        subscription: Subscription | None,
        board: Board | None = None,
        *,
        resolve: Callable[[str], str] | None = None,
        sync_interval: float = SYNC_INTERVAL,
    ) -> None:
        self.settings = settings
        self.queue = queue
        self.subscription = subscription
        self.board = board
        self.stats = MqttStats()
        self.sync_interval = sync_interval
        if resolve is None:
            from netmon.inventory.secrets import resolve_secret

            resolve = resolve_secret
        self._resolve = resolve
        self._wake = asyncio.Event()
        self._last_error = ""

    # --- topics -----------------------------------------------------------------------------

    @property
    def status_topic(self) -> str:
        return f"{self.settings.prefix}/status"

    @property
    def events_topic(self) -> str:
        return f"{self.settings.prefix}/events"

    def event_topics(self, event: Event) -> tuple[str, ...]:
        return (self.events_topic, device_base(self.settings.prefix, event.place) + "/events")

    # --- taking events in -------------------------------------------------------------------

    def accept(self, event: Event) -> None:
        """Put ``event`` in the outbox (durable on return) and update the retained board."""
        seq = self.queue.put(event.id, self.event_topics(event), encode(event.to_json()))
        self._queued(seq, event)
        if event.kind in ("device", "reboot"):
            self._want_device(event.subject)
        elif event.kind in ("link", "flapping"):
            self._want_link(event.subject)
        self._wake.set()

    # --- hooks of an HA replica (exporters/mqtt_ha.py): one publisher per pair ---------------

    def _queued(self, seq: int, event: Event) -> None:
        """``event`` is in the outbox as ``seq``."""

    def _offline(self) -> bytes:
        """The status payload of a clean stop and of the will."""
        return b"offline"

    async def _connected(self, client: aiomqtt.Client) -> None:
        await client.publish(self.status_topic, b"online", qos=1, retain=True)

    def _message(self, message: aiomqtt.Message) -> None:
        """A message of a topic subscribed in ``_connected`` (none here)."""

    def _want_device(self, name: str) -> str | None:
        """Update the device's retained state; returns its topic (None: not on the board)."""
        if self.board is None:
            return None
        view = self.board.views().get(name)
        place = self._place(name)
        if view is None or place is None:
            return None
        topic = device_base(self.settings.prefix, place) + "/state"
        if view.status is not Status.UNKNOWN:  # undecided: the broker keeps the last known
            payload, key = device_state(view, place)
            self.queue.want(topic, encode(payload), key)
        return topic

    def _want_link(self, name: str) -> str | None:
        if self.board is None:
            return None
        view = self.board.links().get(name)
        place = self._place(link_device(name))
        if view is None or place is None:
            return None
        topic = f"{device_base(self.settings.prefix, place)}/link/{segment(name)}/state"
        if view.status.value != "unknown":
            payload, key = link_state(view, place)
            self.queue.want(topic, encode(payload), key)
        return topic

    def _place(self, device: str) -> Place | None:
        assert self.board is not None
        try:
            return self.board.place(device)
        except KeyError:  # the engine's place() of a device it no longer has
            return None

    def sync_board(self) -> None:
        """Compare the whole board with what the broker holds (start, reconnect, periodic);
        a device or link gone from the inventory has its retained topic cleared."""
        if self.board is None:
            return
        views = list(self.board.views())
        live = {self._want_device(name) for name in views}
        live |= {self._want_link(name) for name in list(self.board.links())}
        if not views:
            return  # no inventory yet: clear nothing
        for topic in self.queue.retained_topics():
            if topic not in live:
                self.queue.want(topic, b"", "removed")

    async def _ingest(self) -> None:
        sub = self.subscription
        if sub is None:
            return
        while True:
            event = await sub.get()
            self.stats.bus_dropped = sub.dropped
            try:
                self.accept(event)
            except Exception:  # a full disk must not stop the service: the event is lost
                log.exception("mqtt: cannot queue event %s", event.id)

    # --- connecting and publishing ----------------------------------------------------------

    def _client(self) -> aiomqtt.Client:
        s = self.settings
        tls_context = None
        if s.tls:
            tls_context = ssl.create_default_context(cafile=s.ca_file)
            if s.cert_file:
                tls_context.load_cert_chain(s.cert_file, s.key_file)
        username = self._resolve(s.username) if s.username else None
        password = self._resolve(s.password) if s.password else None
        will = aiomqtt.Will(self.status_topic, self._offline(), qos=1, retain=True)
        client = aiomqtt.Client(
            s.host,
            s.port,
            username=username,
            password=password,
            identifier=s.client_id,
            clean_session=self.clean_session,
            will=will,
            keepalive=s.keepalive,
            tls_context=tls_context,
            timeout=10,
            max_inflight_messages=INFLIGHT,
        )
        # A pipelined batch is many publishes awaiting their PUBACK by design: aiomqtt warns
        # from 10 on, once per publish.
        client.pending_calls_threshold = 3 * BATCH
        return client

    async def run(self, stop: asyncio.Event) -> None:
        """Publish until ``stop``; reconnect with backoff whenever the broker goes away."""
        ingest = asyncio.create_task(self._ingest())
        backoff = 0.2
        try:
            self.sync_board()
            while not stop.is_set():
                try:
                    client = self._client()
                    async with client:
                        self.stats.connected = True
                        self.stats.connects += 1
                        backoff = 0.2
                        log.info("mqtt: connected to %s:%d", self.settings.host, self.settings.port)
                        await self._connected(client)
                        self.sync_board()
                        await self._flush_until(client, stop)
                        # A clean stop: say so (the will is for crashes), then disconnect.
                        with contextlib.suppress(aiomqtt.MqttError, TimeoutError):
                            await client.publish(
                                self.status_topic, self._offline(), qos=1, retain=True, timeout=2
                            )
                except (aiomqtt.MqttError, OSError, ssl.SSLError, ConfigError) as exc:
                    was = self.stats.connected
                    self.stats.disconnects += was
                    self.stats.connect_failures += not was
                    if str(exc) != self._last_error or was:
                        log.warning("mqtt: %s:%d: %s", self.settings.host, self.settings.port, exc)
                        self._last_error = str(exc)
                finally:
                    self.stats.connected = False
                if stop.is_set():
                    break
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(backoff):
                        await stop.wait()
                backoff = min(backoff * 2, _BACKOFF_MAX)
        finally:
            ingest.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ingest
            if self.subscription is not None:  # what the bus still holds goes to disk
                while (event := self.subscription.get_nowait()) is not None:
                    self.accept(event)

    async def _until_disconnected(self, client: aiomqtt.Client) -> None:
        """Ends (raising MqttError) when the connection drops: aiomqtt's message iterator is
        its public signal (and brings what ``_connected`` subscribed to)."""
        async for message in client.messages:
            self._message(message)

    async def _flush_until(self, client: aiomqtt.Client, stop: asyncio.Event) -> None:
        gone = asyncio.create_task(self._until_disconnected(client))
        try:
            await self._flush_loop(client, stop, gone)
        finally:
            gone.cancel()
            with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                await gone

    async def _flush_loop(
        self, client: aiomqtt.Client, stop: asyncio.Event, gone: asyncio.Task[None]
    ) -> None:
        last_sync = time.monotonic()
        while not stop.is_set():
            self._wake.clear()
            sent = await self._flush(client)
            if time.monotonic() - last_sync > self.sync_interval:
                self.sync_board()
                last_sync = time.monotonic()
            if sent:
                continue
            stopping = asyncio.create_task(stop.wait())
            waking = asyncio.create_task(self._wake.wait())
            try:
                await asyncio.wait(
                    (stopping, waking, gone),
                    timeout=self.sync_interval,
                    return_when=asyncio.FIRST_COMPLETED,
                )
            finally:
                stopping.cancel()
                waking.cancel()
            if gone.done():
                gone.result()  # raises the disconnection's MqttError
                raise aiomqtt.MqttError("disconnected")

    async def _flush(self, client: aiomqtt.Client) -> int:
        """Publish the outbox in order, then the changed retained topics; returns how many.

        A batch is pipelined (every publish sent, then the PUBACKs awaited together): one
        round trip per batch, not per message, so a burst of events (a province going dark)
        does not queue behind a round trip each. paho sends them in call order.
        """
        items = self.queue.peek(BATCH)
        if items:
            tasks = [
                [asyncio.ensure_future(client.publish(t, item.payload, qos=1)) for t in item.topics]
                for item in items
            ]
            try:
                for item, acks in zip(items, tasks, strict=True):
                    await asyncio.gather(*acks)
                    # Deleted as soon as its PUBACKs are in: a kill now resends as few as can be.
                    self.queue.ack(item.seq)
                    self.stats.published += len(acks)
                    self.stats.delivered(time.time() - item.queued)
            except BaseException:
                await _cancel([t for acks in tasks for t in acks])
                raise
        updates = self.queue.pending_retained(BATCH)
        if updates:
            await _all(
                [client.publish(u.topic, u.payload or None, qos=1, retain=True) for u in updates]
            )
            for update in updates:
                self.queue.retained_done(update)
            self.stats.published += len(updates)
        return len(items) + len(updates)


async def _all(coros: list[Coroutine[Any, Any, None]]) -> None:
    """Run the publishes as tasks in call order; on the first failure cancel the rest."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        await _cancel(tasks)
        raise


async def _cancel(tasks: Sequence[asyncio.Future[None]]) -> None:
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
