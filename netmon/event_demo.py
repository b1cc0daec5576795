"""The demo's event path: a Mosquitto on loopback, netmon publishing to it, the simulator
sending traps and informs to netmon. Used by ``netmon demo`` (netmon/commands/demo.py)."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from netmon.ports import free_tcp_port, free_udp_port
from netmon.procs import stop

MOSQUITTO = "/usr/sbin/mosquitto"


@dataclass
class EventDemo:
    """Extra arguments for `netmon run` and `netmon simulate`, and what to tell the user."""

    run_args: list[str] = field(default_factory=list)
    simulate_args: list[str] = field(default_factory=list)
    hint: str = ""


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@contextlib.contextmanager
def event_demo(mqtt_port: int = 0) -> Iterator[EventDemo]:
    """Start Mosquitto (when installed) and yield the arguments that wire traps and MQTT."""
    trap_port = free_udp_port()
    demo = EventDemo(
        run_args=["--trap-listen", f"127.0.0.1:{trap_port}"],
        simulate_args=["--trap-target", f"127.0.0.1:{trap_port}"],
    )
    binary = MOSQUITTO if os.path.exists(MOSQUITTO) else shutil.which("mosquitto")
    if binary is None:
        demo.hint = "(no mosquitto installed: events are not published over MQTT)"
        yield demo
        return
    port = mqtt_port if mqtt_port and _free(mqtt_port) else free_tcp_port()
    root = Path(tempfile.mkdtemp(prefix="netmon-demo-mqtt-"))
    conf = root / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    proc = subprocess.Popen(
        [binary, "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 10
        while not _listening(port) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        demo.run_args += ["--mqtt-url", f"mqtt://127.0.0.1:{port}"]
        demo.run_args += ["--mqtt-queue", str(root / "outbox.db")]
        demo.hint = f"watch events: mosquitto_sub -h 127.0.0.1 -p {port} -t 'netmon/events' -v"
        yield demo
    finally:
        stop(proc, grace=10)
        shutil.rmtree(root, ignore_errors=True)
