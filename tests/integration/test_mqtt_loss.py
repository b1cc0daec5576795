"""The MQTT publisher loses nothing: real Mosquitto on loopback, the real publisher (in this
process, or as a subprocess over ``tests/support/mqtt_driver.py`` to SIGKILL it)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from exporters.event_queue import EventQueue
from exporters.mqtt import MqttPublisher, MqttSettings
from netmon.state.events import EventBus
from tests.support.mosquitto import Broker, Recorder, broker, make_certificates
from tests.support.mqtt_driver import event
from tests.support.procs import wait_for

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
DRIVER = ROOT / "tests" / "support" / "mqtt_driver.py"
N = 100


def ordered_unique(rec: Recorder) -> tuple[list[int], int]:
    """Event numbers as received on netmon/events (first copy of each id) and the duplicates."""
    seen: set[str] = set()
    out: list[int] = []
    dups = 0
    for ev in rec.events():
        if ev["id"] in seen:
            dups += 1
            continue
        seen.add(ev["id"])
        out.append(int(ev["evidence"][2:]))
    return out, dups


def wait_events(rec: Recorder, n: int, timeout: float = 60) -> None:
    wait_for(lambda: len(ordered_unique(rec)[0]) >= n, timeout, f"{n} events over MQTT")


@pytest.fixture
def mosq(tmp_path: Path) -> Iterator[Broker]:
    with broker(tmp_path / "broker") as b:
        yield b


def test_broker_outage_loses_nothing(mosq: Broker, tmp_path: Path) -> None:
    """Stop Mosquitto, publish 100 events, start it again: all 100, in order, once each."""
    rec = Recorder(mosq)
    bus = EventBus()
    queue = EventQueue(tmp_path / "outbox.db")
    pub = MqttPublisher(MqttSettings(port=mosq.port), queue, bus.subscribe())
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    runner = threading.Thread(target=lambda: loop.run_until_complete(pub.run(stop)))
    runner.start()
    try:
        wait_for(lambda: pub.stats.connected, 20, "publisher connected")
        mosq.stop()
        wait_for(lambda: not pub.stats.connected, 20, "publisher sees the broker gone")
        for n in range(N):
            loop.call_soon_threadsafe(bus.publish, event(n))
        wait_for(lambda: len(queue) == N, 20, "100 events in the outbox")
        assert not rec.events()
        mosq.start()
        wait_events(rec, N)
        got, dups = ordered_unique(rec)
        assert got == list(range(N))
        assert dups == 0
        wait_for(lambda: len(queue) == 0, 10, "outbox drained")
        assert queue.delivered == N and queue.dropped == 0
        assert pub.stats.disconnects >= 1 and pub.stats.connects >= 2
        # The per-device streams carry the same events.
        want = [f"n={n}" for n in range(1, N, 4)]
        wait_for(
            lambda: [e["evidence"] for e in rec.events("netmon/50/5001/dev-1/events")] == want,
            10,
            "dev-1's events on its own topic",
        )
    finally:
        loop.call_soon_threadsafe(stop.set)
        runner.join(20)
        rec.close()
        queue.close()


def start_driver(
    port: int, queue: Path, start: int, count: int, *extra: str, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    argv = [sys.executable, str(DRIVER), "--port", str(port), "--queue", str(queue)]
    argv += ["--start", str(start), "--count", str(count), *extra]
    return subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        start_new_session=True,
    )


def read_until_queued(proc: subprocess.Popen[str], want: int) -> int:
    """Read the driver's output until it has queued event ``want``; returns the last queued."""
    assert proc.stdout is not None
    last = -1
    for line in proc.stdout:
        if line.startswith("queued "):
            last = int(line.split()[1])
            if last >= want:
                return last
    raise AssertionError(f"driver ended before queuing {want} (rc {proc.wait()})")


def kill(proc: subprocess.Popen[str]) -> int:
    """SIGKILL; returns the last event the driver said it had queued (it may say more)."""
    os.killpg(proc.pid, signal.SIGKILL)
    out, _ = proc.communicate()
    queued = [int(x.split()[1]) for x in out.splitlines() if x.startswith("queued ")]
    return max(queued, default=-1)


def test_sigkill_mid_stream_then_restart_delivers_the_rest(mosq: Broker, tmp_path: Path) -> None:
    rec = Recorder(mosq)
    db = tmp_path / "outbox.db"
    try:
        first = start_driver(mosq.port, db, 0, N, "--rate", "150")
        last = max(read_until_queued(first, 40), kill(first))
        seen_at_kill = len(ordered_unique(rec)[0])
        assert seen_at_kill < N, "the kill must land mid-stream"
        second = start_driver(mosq.port, db, last + 1, N - 1 - last)
        try:
            wait_events(rec, N)
        finally:
            second.terminate()
            second.wait(20)
        got, dups = ordered_unique(rec)
        assert got == list(range(N))
        # At least once: only what was in flight at the kill can come twice (same id); at this
        # rate that is 0 or 1 event (measured), a few on a loaded machine.
        assert dups <= 5
    finally:
        rec.close()


def test_killed_while_broker_down_restart_delivers_and_reannounces_nothing(
    mosq: Broker, tmp_path: Path
) -> None:
    rec = Recorder(mosq)
    db = tmp_path / "outbox.db"
    try:
        mosq.stop()
        first = start_driver(mosq.port, db, 0, N, "--rate", "500")
        read_until_queued(first, N - 1)
        kill(first)
        assert len(EventQueue(db)) == N
        mosq.start()
        second = start_driver(mosq.port, db, 0, 0)
        wait_events(rec, N)
        got, dups = ordered_unique(rec)
        assert got == list(range(N)) and dups == 0
        wait_for(lambda: len(EventQueue(db)) == 0, 20, "outbox drained")
        wait_for(lambda: EventQueue(db).retained_pending_count() == 0, 20, "board published")

        def states() -> list[str]:
            return [t for t, _p, _r in rec.messages if t.endswith("/state")]

        # Each of the 4 devices keeps one state throughout: one retained message each.
        wait_for(lambda: len(set(states())) == 4, 30, "4 retained states")
        seen = len(states())
        second.terminate()
        second.wait(20)
        # A restart with nothing new: "online" again, and no retained state re-announced.
        onlines = len(rec.on("netmon/status"))
        third = start_driver(mosq.port, db, 0, 0)
        wait_for(lambda: len(rec.on("netmon/status")) > onlines, 20, "third publisher online")
        third.terminate()
        third.wait(20)
        assert len(set(states())) == 4 and len(states()) == seen
        assert len(ordered_unique(rec)[0]) == N and ordered_unique(rec)[1] == 0
    finally:
        rec.close()


def test_tls_with_password_file_and_client_certificate(tmp_path: Path) -> None:
    certs = make_certificates(tmp_path / "pki")
    secret = tmp_path / "mqtt-password"
    secret.write_text("s3cret-pass\n")
    secret.chmod(0o600)  # file: secrets are refused when group/others may read them
    with broker(tmp_path / "broker", tls=certs, passwords={"netmon": "s3cret-pass"}) as b:
        rec = Recorder(b, username="netmon", password="s3cret-pass")
        db = tmp_path / "outbox.db"
        tls = ["--tls", "--ca", str(certs.ca), "--cert", str(certs.client_cert)]
        tls += ["--key", str(certs.client_key), "--username", "env:TEST_MQTT_USER"]
        env = {"TEST_MQTT_USER": "netmon"}
        try:
            # A wrong password: nothing delivered, everything kept.
            bad = tmp_path / "wrong"
            bad.write_text("nope")
            bad.chmod(0o600)
            wrong = start_driver(b.port, db, 0, N, *tls, "--password", f"file:{bad}", env=env)
            read_until_queued(wrong, N - 1)
            kill(wrong)
            assert not rec.events() and len(EventQueue(db)) == N
            b.stop()
            right = start_driver(b.port, db, 0, 0, *tls, "--password", f"file:{secret}", env=env)
            b.start()
            wait_events(rec, N)
            right.terminate()
            right.wait(20)
            got, dups = ordered_unique(rec)
            assert got == list(range(N)) and dups == 0
        finally:
            rec.close()
