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
WINDOW = 4.0  # seconds; the replicas here decide the same change 1.5 s apart


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
        # The same changes decided by both, 1.5 s apart, in both orders.
        b.send("event 0", "event 1", "event 2")
        a.send("event 3", "event 4")
        time.sleep(1.5)
        a.send("event 0", "event 1", "event 2")
        b.send("event 3", "event 4")
        want = {f"dev-{n}": 1 for n in range(5)}
        wait_for(lambda: b.stats()["matched"] == 5, 20, "the standby matched all 5")
        assert changes(rec) == want  # once each, from the active

        # The active decides a change but has not published it yet; the standby decides it
        # too, and one change only the standby saw; then the active dies.
        a.send("hold", "event 5")
        b.send("event 5", "event 6")
        wait_for(lambda: b.stats()["held"] == 2, 10, "the standby holds 5 and 6")
        a.kill()
        b.send("event 7")  # decided meanwhile, by the standby alone
        b.wait_role("active")
        want |= {"dev-5": 1, "dev-6": 1, "dev-7": 1}
        wait_for(lambda: changes(rec) == want, 20, f"5, 6, 7 once: {changes(rec)}")
        assert b.stats()["promoted"] >= 2

        # The old active comes back with change 5 still in its outbox: it is standby now and
        # never publishes it (the active has moved past it by more than the window).
        a = Replica(mosq.port, tmp_path / "a.db", "a")
        a.wait_role("standby")
        b.send("event 8")
        time.sleep(1.5)
        a.send("event 8")
        wait_for(lambda: a.stats()["expired"] == 1, 20, "a's old change 5 dropped")
        st = a.stats()
        assert st == {"matched": 1, "expired": 1, "promoted": 0, "held": 0}, st
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
