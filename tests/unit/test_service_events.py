"""`netmon run`'s event wiring in the Service: the trap receiver follows the inventory, the
event families are exported, a trap port that cannot be bound is a clean exit 2."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

from exporters.mqtt import MqttSettings
from netmon.event_wiring import EventOptions
from netmon.ports import free_tcp_port
from netmon.service import Service
from netmon.simulator.testbed import SECRETS, small_inventory


@pytest.fixture(autouse=True)
def secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in SECRETS.items():
        monkeypatch.setenv(k, v)


def test_reload_feeds_the_receiver_and_families_are_exported(tmp_path: Path) -> None:
    options = EventOptions(
        trap_listen=("127.0.0.1", 0),
        mqtt=MqttSettings(port=free_tcp_port()),  # nobody listens: stays disconnected
        mqtt_queue=tmp_path / "outbox.db",
    )
    svc = Service(tmp_path, load=lambda _: small_inventory(), events=options)
    assert asyncio.run(svc.reload())
    assert svc.events is not None and svc.events.receiver is not None
    assert svc.events.receiver.stats.sources == 4 and svc.events.receiver.stats.users == 1
    names = {f.name for f in svc.plumbing_families()}
    assert {"netmon_traps_dropped_total", "netmon_mqtt_connected"} <= names
    assert "netmon_mqtt_outbox_events" in names


def test_a_trap_port_in_use_is_a_clean_exit(tmp_path: Path) -> None:
    taken = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    taken.bind(("127.0.0.1", 0))
    try:
        options = EventOptions(trap_listen=("127.0.0.1", taken.getsockname()[1]))
        svc = Service(tmp_path, load=lambda _: small_inventory(), events=options)

        async def main() -> int:
            return await svc.run("127.0.0.1", 0, asyncio.Event())

        assert asyncio.run(asyncio.wait_for(main(), 30)) == 2
    finally:
        taken.close()
