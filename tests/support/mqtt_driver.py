"""A process running the real MQTT publisher over a small driver, for the loss tests.

    python tests/support/mqtt_driver.py --port P --queue DB --start 0 --count 100 [--rate 200]

Publishes events ``start..start+count-1`` on an EventBus (device ``dev-<n % 4>``, evidence
``n=<n>``, deterministic ids), prints ``queued <n>`` once each is in the durable outbox, and
keeps publishing until SIGTERM (SIGKILL is what the tests use). ``--count 0`` only delivers
what the outbox holds.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Mapping

from exporters.event_queue import EventQueue
from exporters.mqtt import MqttPublisher, MqttSettings
from netmon.state.events import EventBus
from netmon.state.model import Cause, DeviceView, Event, LinkView, Place, Status

BASE_TIME = 1_800_000_000.0


def place(device: str) -> Place:
    return Place(device, "5001", "district", "50", "Chiang Mai", "north", "เมือง", "Mueang")


def event(n: int) -> Event:
    up = n % 2 == 1
    return Event(
        kind="device",
        subject=f"dev-{n % 4}",
        time=BASE_TIME + n,
        previous="down" if up else "up",
        current="up" if up else "down",
        cause=Cause.PROBE,
        place=place(f"dev-{n % 4}"),
        evidence=f"n={n}",
    )


class Board:
    def __init__(self) -> None:
        self.devices: dict[str, DeviceView] = {}

    def views(self) -> Mapping[str, DeviceView]:
        return self.devices

    def links(self) -> Mapping[str, LinkView]:
        return {}

    def place(self, device: str) -> Place | None:
        return place(device)


class Reporting(MqttPublisher):
    def accept(self, event: Event) -> None:
        super().accept(event)
        print(f"queued {event.evidence[2:]}", flush=True)  # durable now


async def main(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    bus = EventBus()
    board = Board()
    settings = MqttSettings(
        host="127.0.0.1",
        port=args.port,
        tls=args.tls,
        ca_file=args.ca,
        cert_file=args.cert,
        key_file=args.key,
        username=args.username,
        password=args.password,
    )
    queue = EventQueue(args.queue)
    publisher = Reporting(settings, queue, bus.subscribe(), board)
    task = asyncio.create_task(publisher.run(stop))
    for n in range(args.start, args.start + args.count):
        ev = event(n)
        board.devices[ev.subject] = DeviceView(ev.subject, Status(ev.current), ev.time)
        bus.publish(ev)
        await asyncio.sleep(1 / args.rate)
    print("produced", flush=True)
    await task


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--queue", required=True)
    p.add_argument("--start", type=int, default=0)
    p.add_argument("--count", type=int, default=100)
    p.add_argument("--rate", type=float, default=200.0)
    p.add_argument("--tls", action="store_true")
    p.add_argument("--ca")
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--username")
    p.add_argument("--password")
    asyncio.run(main(p.parse_args()))
    sys.exit(0)
