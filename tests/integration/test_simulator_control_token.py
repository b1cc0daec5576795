"""The simulator's control endpoint with a token (for a training room): a real `netmon
simulate` refuses `netmon control` without it (401), obeys with it, and will not listen off
loopback without one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from support.procs import free_tcp_port, free_udp_port, running, wait_for

from netmon.simulator.testbed import SECRETS, write_inventory

pytestmark = pytest.mark.integration

NETMON = [sys.executable, "-m", "netmon.cli"]
TOKEN = {"NETMON_TRAINING_TOKEN": "room-42-token"}


def control(port: int, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*NETMON, "control", "--control-port", str(port), *args],
        capture_output=True,
        text=True,
        timeout=30,
        env={**SECRETS, **TOKEN, "PATH": "/usr/bin:/bin"},
    )


def test_control_needs_the_token_when_one_is_set(tmp_path: Path) -> None:
    inv = tmp_path / "inventory"
    write_inventory(inv)
    port = free_tcp_port()
    sim = [*NETMON, "simulate", "--inventory", str(inv), "--port", str(free_udp_port())]
    sim += ["--control-port", str(port), "--control-token", "env:NETMON_TRAINING_TOKEN"]
    with running(sim, log=tmp_path / "sim.log", env={**SECRETS, **TOKEN}):
        wait_for(lambda: "needs its token" in control(port, "status").stderr, 30, "simulator")
        refused = control(port, "dead", "bkk-core-01")
        assert refused.returncode == 1 and "needs its token" in refused.stderr
        wrong = control(port, "--token", "env:PATH", "status")
        assert wrong.returncode == 1
        ok = control(port, "--token", "env:NETMON_TRAINING_TOKEN", "status")
        assert ok.returncode == 0, ok.stderr
        assert "room-42-token" not in ok.stdout


def test_control_off_loopback_needs_a_token(tmp_path: Path) -> None:
    inv = tmp_path / "inventory"
    write_inventory(inv)
    out = subprocess.run(
        [*NETMON, "simulate", "--inventory", str(inv), "--port", str(free_udp_port()),
         "--control-host", "0.0.0.0", "--control-port", str(free_tcp_port())],
        capture_output=True, text=True, timeout=60, env={**SECRETS, "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert out.returncode == 2 and "needs --control-token" in out.stderr
