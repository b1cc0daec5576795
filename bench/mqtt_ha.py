"""An MQTT HA pair under load and across a crash (`exporters/mqtt_ha.py`):

    python -m bench.mqtt_ha [--burst 2000] [--failovers 5]

Two replicas of shard 1 (the real ``HaPublisher``, one process each over the tests' driver
``tests/support/mqtt_ha_driver.py``) and a real Mosquitto on loopback; a paho subscriber
counts what reaches ``netmon/events``.

- burst: both replicas decide the same ``--burst`` changes (the standby 1 s after the
  active): wall time until every change reached the consumer once and the standby matched
  them all, duplicates, and the standby's CPU-seconds for it (/proc/<pid>/stat);
- failover (``--failovers`` times): the active holds a change, the standby decides it, the
  active is SIGKILLed: wall time from the kill to the standby's take-over and to the change's
  arrival at the consumer.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from netmon.ports import free_tcp_port

ROOT = Path(__file__).resolve().parents[1]
TICKS = os.sysconf("SC_CLK_TCK")


def _wait(check: Any, timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if check():
            return
        time.sleep(0.01)
    raise TimeoutError(what)


class Replica:
    def __init__(self, port: int, outbox: Path, name: str) -> None:
        argv = [sys.executable, "-m", "tests.support.mqtt_ha_driver", "--port", str(port)]
        argv += ["--queue", str(outbox), "--replica", name, "--window", "60"]
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT
        )
        self.role = ""
        self.role_at = 0.0
        self.stats_lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("role "):
                self.role, self.role_at = line.split()[1], time.monotonic()
            elif line.startswith("stats "):
                self.stats_lines.put(line[6:])

    def send(self, *commands: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("".join(f"{c}\n" for c in commands))
        self.proc.stdin.flush()

    def stats(self) -> dict[str, Any]:
        self.send("stats")
        doc: dict[str, Any] = json.loads(self.stats_lines.get(timeout=30))
        return doc

    def cpu(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)


class Consumer:
    def __init__(self, port: int) -> None:
        self.arrivals: dict[str, list[float]] = {}
        self._lock = threading.Lock()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-{os.getpid()}")
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.subscribe("netmon/events", qos=1)
        self.client.loop_start()

    def _on_message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        subject = json.loads(msg.payload)["subject"]
        with self._lock:
            self.arrivals.setdefault(subject, []).append(time.monotonic())

    def counts(self) -> Counter[str]:
        with self._lock:
            return Counter({k: len(v) for k, v in self.arrivals.items()})


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--burst", type=int, default=2000)
    p.add_argument("--failovers", type=int, default=5)
    args = p.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="bench-mqtt-ha-"))
    port = free_tcp_port()
    conf = root / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    broker = subprocess.Popen(["/usr/sbin/mosquitto", "-c", str(conf)], stderr=subprocess.DEVNULL)
    try:
        _wait(lambda: _connectable(port), 20, "mosquitto")
        consumer = Consumer(port)
        names = iter(["a", "b"])
        active = Replica(port, root / "a.db", next(names))
        _wait(lambda: active.role == "active", 30, "a active")
        standby = Replica(port, root / "b.db", next(names))
        _wait(lambda: standby.role == "standby", 30, "b standby")

        n = args.burst
        cpu0, acpu0, t0 = standby.cpu(), active.cpu(), time.monotonic()
        active.send(f"events 0 {n}")
        time.sleep(1.0)
        standby.send(f"events 0 {n}")
        _wait(lambda: standby.stats()["matched"] >= n, 120, "the standby matched the burst")
        wall, cpu, acpu = time.monotonic() - t0, standby.cpu() - cpu0, active.cpu() - acpu0
        counts = consumer.counts()
        print(f"burst of {n} changes decided by both replicas, 1 s apart:")
        print(f"  reached the consumer: {len(counts)}, duplicates: {sum(counts.values()) - n}")
        print(f"  all matched by the standby {wall:.2f} s after the first was decided")
        print(f"  standby CPU: {cpu:.2f} CPU-s ({cpu / n * 1e6:.0f} us per change)")
        print(f"  active CPU (publishing them): {acpu:.2f} CPU-s ({acpu / n * 1e6:.0f} us)")

        takeover, arrival = [], []
        for i in range(args.failovers):
            back = "ab"[i % 2]  # the killed one comes back (as standby), next to be killed
            t, a, comeback = _failover(active, standby, n + i, consumer, port, root / f"{back}.db")
            takeover.append(t)
            arrival.append(a)
            active, standby = standby, comeback
        counts = consumer.counts()
        print(f"failover (SIGKILL of the active), {args.failovers} times:")
        print(
            f"  kill -> standby active: median {statistics.median(takeover) * 1e3:.0f} ms, "
            f"max {max(takeover) * 1e3:.0f} ms (the driver polls its role every 20 ms)"
        )
        print(
            f"  kill -> held change at the consumer: median "
            f"{statistics.median(arrival) * 1e3:.0f} ms, max {max(arrival) * 1e3:.0f} ms"
        )
        print(f"  duplicates over the whole run: {sum(v - 1 for v in counts.values())}")
        for r in (active, standby):
            r.kill()
        consumer.client.loop_stop()
    finally:
        broker.terminate()
        broker.wait(10)


def _failover(
    active: Replica, standby: Replica, change: int, consumer: Consumer, port: int, outbox: Path
) -> tuple[float, float, Replica]:
    """SIGKILL ``active`` holding ``change``; (kill -> take-over, kill -> arrival, restarted)."""
    _wait(lambda: standby.stats()["held"] == 0, 60, "the standby holds nothing")
    active.send("hold", f"event {change}")
    standby.send(f"event {change}")
    _wait(lambda: standby.stats()["held"] >= 1, 30, "the standby holds the change")
    killed = time.monotonic()
    active.kill()
    _wait(lambda: standby.role == "active", 60, "the standby takes over")
    subject = f"dev-{change}"
    _wait(lambda: subject in consumer.arrivals, 60, "the held change arrives")
    arrived = consumer.arrivals[subject][0]
    comeback = Replica(port, outbox, outbox.stem)
    _wait(lambda: comeback.role == "standby", 30, "back as standby")
    return standby.role_at - killed, arrived - killed, comeback


def _connectable(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


if __name__ == "__main__":
    main()
