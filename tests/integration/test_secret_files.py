"""A `file:` secret pointing at a FIFO or /dev/zero, against a real `netmon run` (issue 10,
reproduction 3). The old service froze its event loop on the first poll of a device using it
(/healthz dead, SIGINT ignored, only SIGKILL ended it; /dev/zero also grew memory without
end). Now the poll fails as a `config` error and the service keeps serving and stops."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.collector_lab import fetch, value_of
from support.procs import free_tcp_port, free_udp_port, http_ok, stop, wait_for

from netmon.simulator.testbed import SECRETS, small_inventory, write_inventory

pytestmark = pytest.mark.integration


def _limit_memory() -> None:  # the old code read /dev/zero until memory ran out
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))


@pytest.mark.parametrize("kind", ["fifo", "dev-zero"])
def test_a_fifo_or_dev_zero_secret_does_not_freeze_the_service(tmp_path: Path, kind: str) -> None:
    inv = tmp_path / "inventory"
    write_inventory(inv)
    secret = tmp_path / "community"
    if kind == "fifo":
        os.mkfifo(secret, 0o600)
    creds = inv / "credentials.yaml"
    data = json.loads(creds.read_text())
    v2c = next(p for p in data["profiles"] if p["snmp"]["version"] == "2c")
    v2c["snmp"]["community"] = f"file:{secret}" if kind == "fifo" else "file:/dev/zero"
    creds.write_text(json.dumps(data))
    v2c_devices = [
        d.name for _, d in small_inventory().devices() if d.credentials in (None, v2c["name"])
    ]
    port = free_tcp_port()
    base = f"http://127.0.0.1:{port}"
    argv = [sys.executable, "-m", "netmon.cli", "run", "--inventory", str(inv)]
    argv += ["--listen", f"127.0.0.1:{port}", "--port-override", str(free_udp_port())]
    with open(tmp_path / "netmon.log", "wb") as log:
        proc = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, **SECRETS}, preexec_fn=_limit_memory,
        )  # fmt: skip
    try:
        wait_for(lambda: http_ok(f"{base}/healthz"), 30, "netmon run")

        def config_error_seen() -> bool:
            text = fetch(f"{base}/health/metrics")
            return any(
                (value_of(text, "netmon_poll_errors_total", device=d, kind="config") or 0) > 0
                for d in v2c_devices
            )

        # The first polls are spread over 10 s: by then a v2c device has tried its secret.
        wait_for(config_error_seen, 30, "a config error for the v2c devices")
        for _ in range(10):  # and the loop is still serving
            assert http_ok(f"{base}/healthz")
            time.sleep(0.2)
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        proc.wait(15)
        assert time.monotonic() - started < 15
        log_text = (tmp_path / "netmon.log").read_text()
        assert "not a regular file" in log_text
    finally:
        stop(proc)
