"""The simulated SSH devices as a plain SSH client sees them (asyncssh, host key checked):
the platform's prompt, paging until the platform's own command turns it off, an unknown
command rejected in the platform's words, and a wrong password refused."""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from pathlib import Path

import asyncssh
import pytest
from support.ssh_lab import write_ssh_inventory

from netmon.ports import free_tcp_port
from netmon.simulator.backbone import Backbone, build
from netmon.simulator.secrets import SIMULATION_SECRETS
from netmon.simulator.ssh_server import SshSimulator
from netmon.simulator.ssh_setup import logins
from netmon.simulator.v3 import make_v3_agent

pytestmark = pytest.mark.integration


async def _read_until(proc: asyncssh.SSHClientProcess[str], *markers: str) -> str:
    """Read until one of ``markers`` arrives."""
    out = ""
    async with asyncio.timeout(30):
        while not any(m in out for m in markers):
            chunk = await proc.stdout.read(4096)
            if not chunk:
                raise AssertionError(f"session ended before {markers!r}: {out[-300:]!r}")
            out += chunk
    return out


def test_prompt_paging_and_errors_as_on_the_device() -> None:
    os.environ.update({k: v for k, v in SIMULATION_SECRETS.items() if k not in os.environ})
    inv = write_ssh_inventory(Path(tempfile.mkdtemp()), net=64)
    device = "cmi-5001-edge-01"  # IOS-XE

    async def go() -> None:
        nodes, links = build(inv, now=time.time(), v3_factory=make_v3_agent)
        backbone = Backbone(nodes, links)
        accounts = logins(inv)
        sim = SshSimulator(backbone, {device: accounts[device]}, port=free_tcp_port())
        await sim.start()
        try:
            address = backbone.node(device).dev.address
            known = asyncssh.import_known_hosts(sim.known_hosts())
            user, password = accounts[device]
            with pytest.raises(asyncssh.PermissionDenied):
                await asyncssh.connect(
                    address, sim.port, username=user, password="wrong", known_hosts=known
                )
            async with asyncssh.connect(
                address, sim.port, username=user, password=password, known_hosts=known
            ) as conn:
                proc = await conn.create_process(term_type="vt100")
                await _read_until(proc, f"{device}#")
                proc.stdin.write("show interfaces\r\n")  # CR LF: one Enter
                first = await _read_until(proc, "--More--")
                assert "is up, line protocol is up" in first
                assert f"{device}#" not in first.split("show interfaces", 1)[1]
                pages, text = 1, ""
                while f"{device}#" not in text:  # a key per page, as at a terminal
                    proc.stdin.write(" ")
                    text = await _read_until(proc, "--More--", f"{device}#")
                    pages += 1
                assert pages >= 3 and "packets input" in first
                proc.stdin.write("terminal length 0\r")
                await _read_until(proc, f"{device}#")
                proc.stdin.write("show interfaces\r")
                whole = await _read_until(proc, "Loopback0 is up")
                whole += await _read_until(proc, f"{device}#")
                assert "--More--" not in whole
                proc.stdin.write("show running-config\r")
                bad = await _read_until(proc, f"{device}#")
                assert "% Invalid input detected" in bad
                proc.stdin.write("exit\r")
        finally:
            await sim.stop()

    asyncio.run(go())
