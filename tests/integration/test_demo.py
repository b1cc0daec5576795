"""The README's main job: `netmon demo` starts the simulator and the collector and shows them."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from support.procs import free_tcp_port

from netmon.simulator.testbed import SECRETS, write_inventory

pytestmark = pytest.mark.integration


def test_demo_shows_every_device_up_then_a_province_outage(tmp_path: Path) -> None:
    inv = write_inventory(tmp_path / "inventory", net=41)
    listen = f"127.0.0.1:{free_tcp_port()}"
    netmon = [sys.executable, "-m", "netmon.cli"]
    argv = [*netmon, "demo", "--inventory", str(tmp_path / "inventory"), "--listen", listen]
    demo = subprocess.Popen(
        [*argv, "--duration", "40", "--refresh", "0.5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**SECRETS, "PATH": "/usr/bin:/bin"},
        text=True,
    )
    assert demo.stdout is not None
    screens: list[str] = []
    control_port = None
    all_up = re.compile(rf"^total\s+{len(inv.devices())}(\s+0){{3}}$", re.M)
    outage_seen = False
    try:
        screen: list[str] = []
        for line in demo.stdout:
            if line.startswith("netmon demo:") and screen:
                screens.append("".join(screen))
                screen = []
            screen.append(line)
            m = re.search(r"--control-port (\d+)", line)
            if m:
                control_port = int(m.group(1))
            if control_port and any(all_up.search(s) for s in screens) and not outage_seen:
                # Province 10's devices die; the demo must show them down within seconds.
                control = [*netmon, "control", "--control-port", str(control_port)]
                subprocess.run(
                    [*control, "province-outage", "10"],
                    check=True,
                    capture_output=True,
                )
                outage_seen = True
            if outage_seen and screens and re.search(r"^down: ", screens[-1], re.M):
                break
    finally:
        demo.terminate()
        demo.wait(15)
    # SIGTERM stopped the demo's simulator and collector too: none of them is left behind.
    left = subprocess.run(
        ["pgrep", "-f", str(tmp_path / "inventory")], capture_output=True, text=True
    ).stdout.split()
    for pid in left:  # do not leave them running when the assertion fails
        subprocess.run(["kill", pid], check=False)
    assert left == [], f"orphaned processes: {left}"
    assert any(all_up.search(s) for s in screens), screens[-1:] or "no screen"
    assert re.search(r"^down: .*bkk-core-01", screens[-1], re.M), screens[-1]
    assert f"NOC wall page (live map): http://{listen}/noc" in screens[-1]
