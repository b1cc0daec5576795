"""One replica of an HA pair: the real ``HaPublisher`` in a process of its own (to SIGKILL it),
driven by lines on stdin, for ``tests/integration/test_mqtt_ha.py``.

    python tests/support/mqtt_ha_driver.py --port P --queue DB --replica a [--window 8]

stdin: ``event N`` (decide device ``dev-N`` going down, now), ``events A B`` (A..B-1),
``hold`` / ``release`` (stop or resume sending the outbox: an active that decided but has not
published yet), ``stats``.
stdout: ``role active|standby`` whenever the role changes (after the first election), ``stats
{json}`` when asked.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time

import aiomqtt

from exporters.event_queue import EventQueue
from exporters.mqtt import MqttSettings
from exporters.mqtt_ha import HaPublisher
from netmon.state.events import EventBus
from netmon.state.model import Cause, Event
from tests.support.mqtt_driver import place


class Driven(HaPublisher):
    held = False

    async def _flush(self, client: aiomqtt.Client) -> int:
        return 0 if self.held else await super()._flush(client)


def event(n: int, shard: str) -> Event:
    dev = f"dev-{n}"
    return Event("device", dev, time.time(), "up", "down", Cause.PROBE, place(dev), shard=shard)


async def main(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    bus = EventBus()
    pub = Driven(
        MqttSettings(port=args.port, keepalive=5),
        EventQueue(args.queue),
        bus.subscribe(),
        replica=args.replica,
        shard="1",
        window=args.window,
        heartbeat=0.3,
        stale=5.0,
        settle=0.3,
    )
    task = asyncio.create_task(pub.run(stop))

    async def roles() -> None:
        said = ""
        while True:
            if pub._ready and pub.pair.role != said:
                said = pub.pair.role
                print(f"role {said}", flush=True)
            await asyncio.sleep(0.02)

    watcher = asyncio.create_task(roles())
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := (await reader.readline()).decode().split():
        if line[0] == "event":
            bus.publish(event(int(line[1]), "1"))
        elif line[0] == "events":  # events A B: A..B-1 at once (a province going dark)
            for n in range(int(line[1]), int(line[2])):
                bus.publish(event(n, "1"))
        elif line[0] in ("hold", "release"):
            pub.held = line[0] == "hold"
            pub._wake.set()
        elif line[0] == "stats":
            st = pub.pair.stats
            doc = {"matched": st.matched, "expired": st.expired, "promoted": st.promoted}
            print("stats", json.dumps({**doc, "held": pub.pair.pending()}), flush=True)
    stop.set()
    await task
    watcher.cancel()


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--queue", required=True)
    p.add_argument("--replica", required=True)
    p.add_argument("--window", type=float, default=8.0)
    asyncio.run(main(p.parse_args()))
