"""An SSH lab in one background event loop: the simulated test bed (SNMP agents + SSH
devices of every platform) and `netmon run`'s Service with SSH collection, /metrics on a free
port. Tests talk to it over HTTP (/metrics) and change the simulator's state directly."""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from collector.ssh_targets import SshOptions
from netmon.inventory.loader import load_inventory
from netmon.inventory.model import Inventory
from netmon.ports import free_tcp_port, free_udp_port
from netmon.service import Service
from netmon.simulator.backbone import Backbone, build
from netmon.simulator.cli_state import CliFaultBook
from netmon.simulator.secrets import SIMULATION_SECRETS
from netmon.simulator.server import Simulator
from netmon.simulator.ssh_server import SshSimulator
from netmon.simulator.ssh_setup import logins
from netmon.simulator.testbed import write_inventory
from netmon.simulator.v3 import make_v3_agent
from support.collector_lab import fetch, parse_metrics

T = TypeVar("T")
SSH_TIMEOUT = 6.0  # each device's SSH deadline (profile ssh.timeout)
POLL_INTERVAL = 8.0


CLI_ONLY = "cmi-dist-02"  # the RouterOS router: SSH only, no SNMP


def write_ssh_inventory(root: Path, net: int) -> Inventory:
    """The four-device test bed (Junos, VRP, RouterOS, IOS-XE) with every device on
    ``[snmp, ssh]`` (CLI_ONLY on ``[ssh]``) and an ssh part in each credential profile."""
    write_inventory(root, net=net)
    creds = json.loads((root / "credentials.yaml").read_text())
    for p in creds["profiles"]:
        p["ssh"] = {
            "username": "netmon",
            "password": "env:NETMON_SIM_SSH_PASSWORD",
            "timeout": SSH_TIMEOUT,
        }
    (root / "credentials.yaml").write_text(json.dumps(creds, indent=1) + "\n")
    defaults = json.loads((root / "defaults.yaml").read_text())
    defaults["defaults"]["poll_interval"] = POLL_INTERVAL
    (root / "defaults.yaml").write_text(json.dumps(defaults) + "\n")
    for f in [root / "centre.yaml", *sorted((root / "provinces").glob("*.yaml"))]:
        doc = json.loads(f.read_text())
        sites = [doc["site"]] if "site" in doc else doc["sites"]
        for site in sites:
            for dev in site.get("devices", []):
                dev["methods"] = ["ssh"] if dev["name"] == CLI_ONLY else ["snmp", "ssh"]
        f.write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n")
    return load_inventory(root)


class SshLab:
    def __init__(self, root: Path, net: int, *, ssh_interval: float = 1.0) -> None:
        os.environ.update({k: v for k, v in SIMULATION_SECRETS.items() if k not in os.environ})
        self.root = root
        self.inventory = write_ssh_inventory(root / "inventory", net)
        self.snmp_port = free_udp_port()
        self.ssh_port = free_tcp_port()
        self.http_port = 0
        self.known_hosts = root / "known_hosts"
        self.ssh_interval = ssh_interval
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._stop: asyncio.Event | None = None
        self._run: asyncio.Future[int] | None = None

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def do(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Run ``fn`` on the lab's loop (the simulator's state belongs to it)."""

        async def go() -> Any:
            return fn(*args, **kwargs)

        return self.call(go())

    def start(self) -> SshLab:
        self._thread.start()
        self.call(self._start())
        return self

    async def _start(self) -> None:
        nodes, links = build(
            self.inventory, now=time.time(), port=self.snmp_port, v3_factory=make_v3_agent
        )
        self.backbone = Backbone(nodes, links, latency_scale=0.0)
        self.sim = Simulator(self.backbone, control_port=free_tcp_port())
        await self.sim.start()
        self.book = CliFaultBook(self.backbone)
        self.backbone.extensions.append(self.book.control)
        self.ssh = SshSimulator(
            self.backbone, logins(self.inventory), port=self.ssh_port, book=self.book
        )
        await self.ssh.start()
        self.known_hosts.write_text(self.ssh.known_hosts())
        options = SshOptions(
            known_hosts=self.known_hosts, port=self.ssh_port, interval=self.ssh_interval
        )
        self.service = Service(self.root / "inventory", port_override=self.snmp_port, ssh=options)
        assert self.service.ssh.ssh is not None
        self.service.ssh.ssh.backoff_first = 1.0  # tests heal faults: retry soon
        self._stop = asyncio.Event()
        ready: asyncio.Future[int] = self.loop.create_future()
        self._run = asyncio.ensure_future(
            self.service.run("127.0.0.1", 0, self._stop, ready=ready.set_result)
        )
        self.http_port = await ready

    def stop(self) -> None:
        async def go() -> None:
            assert self._stop is not None and self._run is not None
            self._stop.set()
            await self._run
            await self.ssh.stop()
            await self.sim.stop()

        try:
            self.call(go())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)

    def metrics(self) -> list[tuple[str, dict[str, str], float]]:
        return parse_metrics(fetch(f"http://127.0.0.1:{self.http_port}/metrics"))

    def series(self, name: str, **labels: str) -> list[tuple[dict[str, str], float]]:
        return [
            (lab, v)
            for n, lab, v in self.metrics()
            if n == name and all(lab.get(k) == want for k, want in labels.items())
        ]

    def wait(self, what: str, check: Any, timeout: float = 90.0) -> Any:
        """Poll ``check()`` until it returns something truthy (generous: a shared machine)."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            last = check()
            if last:
                return last
            time.sleep(0.5)
        raise AssertionError(f"timed out waiting for {what}; last: {last!r}")
