"""One publisher per HA pair, against a real Mosquitto: two replicas of shard 1 (the real
``HaPublisher``, each in its own process over ``tests/support/mqtt_ha_driver.py``) decide the
same changes seconds apart; a consumer of ``netmon/events`` gets each change once, also across
a SIGKILL of the active (its will hands over to the standby) and its restart."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.mosquitto import Broker, Recorder, broker
from tests.support.procs import wait_for

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
WINDOW = 8.0  # seconds; the replicas here decide the same change 1 s apart (a loaded box: more)


class Replica:
    def __init__(self, port: int, outbox: Path, name: str) -> None:
        argv = [sys.executable, "-m", "tests.support.mqtt_ha_driver", "--port", str(port)]
        argv += ["--queue", str(outbox), "--replica", name, "--window", str(WINDOW)]
        self.name = name
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=ROOT,
            env=dict(os.environ),
            start_new_session=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.role = ""
        self.output: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output.append(line)
            if line.startswith("role "):
                self.role = line.split()[1]
            elif line.startswith("stats "):
                self.lines.put(line[6:])

    def send(self, *commands: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("".join(f"{c}\n" for c in commands))
        self.proc.stdin.flush()

    def stats(self) -> dict[str, Any]:
        self.send("stats")
        doc: dict[str, Any] = json.loads(self.lines.get(timeout=10))
        return doc

    def wait_role(self, role: str) -> None:
        wait_for(lambda: self.role == role, 20, f"replica {self.name} {role}: {self.output}")

    def kill(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)  # no DISCONNECT: the broker sends the will
        self.proc.wait(10)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.kill()


@pytest.fixture
def mosq(tmp_path: Path) -> Iterator[Broker]:
    with broker(tmp_path / "broker") as b:
        yield b


def changes(rec: Recorder) -> Counter[str]:
    """How many times each device's change reached the consumer (whichever replica sent it)."""
    return Counter(ev["subject"] for ev in rec.events() if ev["shard"] == "1")


def test_each_change_once_across_a_failover(mosq: Broker, tmp_path: Path) -> None:
    rec = Recorder(mosq, topics=("netmon/events", "netmon/ha/#"))
    a = Replica(mosq.port, tmp_path / "a.db", "a")
    b: Replica | None = None
    try:
        a.wait_role("active")
        b = Replica(mosq.port, tmp_path / "b.db", "b")
        b.wait_role("standby")
        # The same changes decided by both, 1 s apart, in both orders.
        b.send("event 0", "event 1", "event 2")
        a.send("event 3", "event 4")
        time.sleep(1.0)
        a.send("event 0", "event 1", "event 2")
        b.send("event 3", "event 4")
        want = {f"dev-{n}": 1 for n in range(5)}
        wait_for(lambda: b.stats()["matched"] == 5, 20, "the standby matched all 5")
        assert changes(rec) == want  # once each, from the active

        # The active decides two changes but has not published them yet; the standby decides
        # one of them too, and one change only it saw; then the active dies.
        a.send("hold", "event 5", "event 9")
        b.send("event 5", "event 6")
        wait_for(lambda: b.stats()["held"] == 2, 10, "the standby holds 5 and 6")
        a.kill()
        b.send("event 7")  # decided meanwhile, by the standby alone
        b.wait_role("active")
        want |= {"dev-5": 1, "dev-6": 1, "dev-7": 1}
        wait_for(lambda: changes(rec) == want, 20, f"5, 6, 7 once: {changes(rec)}")
        assert b.stats()["promoted"] >= 2

        # The old active comes back with changes 5 and 9 still in its outbox: it is standby
        # now and publishes neither: 5 matches what b published meanwhile (its session kept
        # b's events for it), 9 (only a saw it) is dropped once b has moved a window past it.
        a = Replica(mosq.port, tmp_path / "a.db", "a")
        a.wait_role("standby")
        b.send("event 8")
        time.sleep(1.0)
        a.send("event 8")
        wait_for(lambda: a.stats()["expired"] == 1, 30, "a's old change 9 dropped")
        st = a.stats()
        assert st == {"matched": 2, "expired": 1, "promoted": 0, "held": 0}, st
        time.sleep(0.5)
        assert changes(rec) == want | {"dev-8": 1}
        assert json.loads(rec.on("netmon/ha/1/b")[-1])["role"] == "active"
        assert json.loads(rec.on("netmon/ha/1/a")[-1])["role"] == "standby"
        assert any(json.loads(p)["role"] == "offline" for p in rec.on("netmon/ha/1/a"))  # will
    finally:
        a.close()
        if b is not None:
            b.close()
        rec.close()


NETMON = [sys.executable, "-m", "netmon.cli", "--log-level", "INFO"]
EDGE = "cmi-5001-edge-01"


def scrape(http: int) -> str:
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{http}/metrics", timeout=5) as resp:
            return str(resp.read().decode())
    except OSError:
        return ""


def sample(http: int, series: str) -> float:
    for line in scrape(http).splitlines():
        if line.startswith(series + " "):
            return float(line.split()[-1])
    return -1.0


def role_of(http: int) -> str | None:
    """The replica's role from its /metrics (None: not answering)."""
    text = scrape(http)
    for role in ("active", "standby"):
        if f'netmon_mqtt_ha_role{{role="{role}"}} 1' in text:
            return role
    return None


def test_two_netmon_runs_publish_each_change_once(mosq: Broker, tmp_path: Path) -> None:
    """`netmon run --shard 1/1 --replica a|b` twice over the simulator: every change the two
    decide (every device and link coming up, a router dying, coming back after the active is
    SIGKILLed) reaches the consumer once, carrying the shard."""
    import random
    from contextlib import ExitStack

    from netmon.simulator.testbed import SECRETS, write_inventory
    from tests.integration.test_events_e2e import control
    from tests.support.procs import free_tcp_port, free_udp_port, http_ok, running

    write_inventory(tmp_path / "inventory", net=random.Random(os.getpid() + 9).randrange(100, 250))
    snmp, ctl = free_udp_port(), free_tcp_port()
    env = {**SECRETS, "PYTHONPATH": str(ROOT)}
    rec = Recorder(mosq, topics=("netmon/events",))
    sim = [*NETMON, "simulate", "--inventory", str(tmp_path / "inventory")]
    sim += ["--port", str(snmp), "--control-port", str(ctl)]
    https = {"a": free_tcp_port(), "b": free_tcp_port()}

    def run(name: str) -> list[str]:
        argv = [*NETMON, "run", "--inventory", str(tmp_path / "inventory"), "--shard", "1/1"]
        argv += ["--listen", f"127.0.0.1:{https[name]}", "--port-override", str(snmp)]
        argv += ["--probe-interval", "1", "--mqtt-url", f"mqtt://127.0.0.1:{mosq.port}"]
        return [*argv, "--replica", name, "--mqtt-queue", str(tmp_path / f"{name}.db")]

    def once() -> Counter[tuple[str, str, str, str]]:
        return Counter(
            (e["kind"], e["subject"], e["previous"], e["current"])
            for e in rec.events()
            if e["shard"] == "1"
        )

    try:
        with ExitStack() as stack:
            ctl_ok = lambda: http_ok(f"http://127.0.0.1:{ctl}/status")  # noqa: E731
            stack.enter_context(running(sim, ready=ctl_ok, log=tmp_path / "sim.log", env=env))
            procs = {  # both at once, as two machines would
                name: stack.enter_context(
                    running(run(name), log=tmp_path / f"run-{name}.log", env=env)
                )
                for name in ("a", "b")
            }

            def roles() -> list[str | None]:
                return [role_of(https["a"]), role_of(https["b"])]

            wait_for(lambda: sorted(map(str, roles())) == ["active", "standby"], 60, "elected")
            active = "a" if roles()[0] == "active" else "b"
            standby = "b" if active == "a" else "a"
            wait_for(lambda: ("device", EDGE, "unknown", "up") in once(), 60, "edge up")
            dropped = "netmon_mqtt_ha_events_dropped_total"

            def standby_dropped() -> float:
                first = sample(https[standby], f'{dropped}{{reason="first"}}')
                return first + sample(https[standby], f'{dropped}{{reason="matched"}}')

            # The standby's own start ("unknown -> ..." of every device and link): matched
            # with the active's, or dropped as first decisions the active announced.
            start = {key for key in once() if key[2] == "unknown"}
            wait_for(lambda: standby_dropped() >= len(start), 30, "the standby's start dropped")
            assert sample(https[standby], "netmon_mqtt_ha_events_held") == 0
            control(ctl, action="dead", device=EDGE)
            down = ("device", EDGE, "up", "down")
            wait_for(lambda: down in once(), 30, "the edge router's death over MQTT")
            wait_for(
                lambda: standby_dropped() >= len(start) + 1, 30, "the standby matched the death"
            )
            assert sorted(map(str, roles())) == ["active", "standby"]  # it stayed so
            os.killpg(procs[active].pid, signal.SIGKILL)
            wait_for(lambda: role_of(https[standby]) == "active", 30, "the standby takes over")
            control(ctl, action="dead", device=EDGE, heal=True)
            back = ("device", EDGE, "down", "up")
            wait_for(lambda: back in once(), 30, "the edge router back, from the standby")
            time.sleep(1.5)  # what a duplicate would need to arrive
            counts = once()
            assert counts[down] == 1 and counts[back] == 1, counts
            assert all(n == 1 for n in counts.values()), counts
            assert start and all(counts[key] == 1 for key in start)
    finally:
        rec.close()
