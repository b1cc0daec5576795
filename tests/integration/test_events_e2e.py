"""End to end: `netmon simulate` sends informs to `netmon run`, which publishes to a real
Mosquitto; a simulator link-down reaches an MQTT subscriber as a link event caused by the
trap, on the right topics, with the retained board updated."""

from __future__ import annotations

import json
import os
import random
import sys
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from netmon.simulator.testbed import SECRETS, write_inventory
from tests.support.mosquitto import Recorder, broker
from tests.support.procs import free_tcp_port, free_udp_port, http_ok, running, wait_for

pytestmark = pytest.mark.integration

NETMON = [sys.executable, "-m", "netmon.cli", "--log-level", "INFO"]
LINK = "cmi-5001-edge-01:GigabitEthernet0/0/0--cmi-dist-01:GigabitEthernet0/0/2"
DEVICES = {
    "bkk-core-01": "10/centre",
    "cmi-dist-01": "50/50",
    "cmi-dist-02": "50/50",
    "cmi-5001-edge-01": "50/5001",
}


def control(port: int, **body: Any) -> dict[str, Any]:
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/action",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        out: dict[str, Any] = json.loads(resp.read())
        return out


def metrics(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
        return str(resp.read().decode())


def test_simulator_link_down_reaches_mqtt_as_a_trap_event(tmp_path: Path) -> None:
    net = random.Random(os.getpid() + 8).randrange(100, 250)
    write_inventory(tmp_path / "inventory", net=net)
    snmp, ctl, traps, http = free_udp_port(), free_tcp_port(), free_udp_port(), free_tcp_port()
    env = {**SECRETS, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    with broker(tmp_path / "broker") as b:
        rec = Recorder(b)
        run = [*NETMON, "run", "--inventory", str(tmp_path / "inventory")]
        run += ["--listen", f"127.0.0.1:{http}", "--port-override", str(snmp)]
        run += ["--trap-listen", f"127.0.0.1:{traps}", "--mqtt-url", f"mqtt://127.0.0.1:{b.port}"]
        run += ["--mqtt-queue", str(tmp_path / "outbox.db")]
        sim = [*NETMON, "simulate", "--inventory", str(tmp_path / "inventory")]
        sim += ["--port", str(snmp), "--control-port", str(ctl)]
        sim += ["--inform-target", f"127.0.0.1:{traps}"]
        try:
            with (
                running(
                    sim,
                    ready=lambda: http_ok(f"http://127.0.0.1:{ctl}/status"),
                    log=tmp_path / "simulate.log",
                    env=env,
                ),
                running(
                    run,
                    ready=lambda: http_ok(f"http://127.0.0.1:{http}/metrics"),
                    log=tmp_path / "run.log",
                    env=env,
                    timeout=60,
                ),
            ):

                def board(topic: str) -> dict[str, Any] | None:
                    got = rec.on(topic)
                    return json.loads(got[-1]) if got and got[-1] else None

                def all_up() -> bool:
                    return all(
                        (board(f"netmon/{where}/{dev}/state") or {}).get("status") == "up"
                        for dev, where in DEVICES.items()
                    )

                wait_for(all_up, 60, "every device up on the retained board")
                link_topic = f"netmon/50/5001/cmi-5001-edge-01/link/{quote(LINK, safe=':')}/state"
                wait_for(lambda: (board(link_topic) or {}).get("status") == "up", 60, "link up")
                assert rec.on("netmon/status")[-1] == b"online"

                control(
                    ctl,
                    action="link_down",
                    device="cmi-5001-edge-01",
                    interface="GigabitEthernet0/0/0",
                )

                def link_event() -> dict[str, Any] | None:
                    for ev in rec.events():
                        if ev["kind"] == "link" and ev["subject"] == LINK and ev["current"] != "up":
                            return ev
                    return None

                wait_for(lambda: link_event() is not None, 30, "link event over MQTT")
                ev = link_event()
                assert ev is not None
                assert (ev["previous"], ev["current"], ev["cause"]) == ("up", "down", "trap")
                assert (ev["device"], ev["site"], ev["province_code"]) == (
                    "cmi-5001-edge-01",
                    "5001",
                    "50",
                )
                assert ev["name_en"] == "Mueang Chiang Mai" and ev["name_th"] == "เมืองเชียงใหม่"
                per_device = "netmon/50/5001/cmi-5001-edge-01/events"
                wait_for(
                    lambda: ev["id"] in {e["id"] for e in rec.events(per_device)},
                    10,
                    "the same event on the device's topic",
                )
                wait_for(lambda: (board(link_topic) or {}).get("status") == "down", 30, "board")
                text = metrics(http)
                assert 'netmon_traps_accepted_total{kind="link_down"}' in text
                assert "netmon_mqtt_connected 1" in text
                acked = [
                    line
                    for line in text.splitlines()
                    if line.startswith("netmon_traps_informs_ack")
                ]
                assert acked and float(acked[0].split()[-1]) >= 2  # both link ends informed
                status = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{ctl}/status").read())
                assert status["counters"]["informs"] >= 2
        finally:
            rec.close()
