"""SSH/CLI collection: polls per second and CPU per poll for the shipped backbone's SSH
devices (120 of them, every platform), and how many SSH devices one collector holds at a
5-minute interval. The peer, measured in the same run: a per-poll netmiko script (log in, send
the same commands, parse them with the same templates, log out), what per-vendor CLI scripts
do. CPU is the measuring process's (getrusage: every worker thread included); the simulator
runs in its own process.

Run: ``.venv/bin/python -m bench.ssh [--rounds N] [--workers N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from collector import ssh_parse
from collector.model import Target
from collector.ssh_collector import SshCollector
from collector.ssh_profiles import SshProfiles, load_ssh_profiles
from collector.ssh_session import HostKeys
from collector.ssh_targets import topology
from collector.targets import targets_from_inventory
from netmon.inventory.loader import default_inventory_path, load_inventory
from netmon.inventory.model import Method
from netmon.ports import free_tcp_port, free_udp_port
from netmon.simulator.secrets import SIMULATION_SECRETS

REPO = Path(__file__).resolve().parent.parent
INTERVAL = 300.0
CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_self() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def cpu_of(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def wait_port(host: str, port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"simulator SSH not up on {host}:{port}")


def commands(profiles: SshProfiles, t: Target) -> list[tuple[str, str]]:
    spec = profiles.platform(t.platform)
    assert spec is not None
    out: list[tuple[str, str]] = []
    for kind, cmd in spec.commands.items():
        if cmd.per_interface:
            out += [(kind, cmd.command.format(interface=i)) for i in t.uplinks]
        else:
            out.append((kind, cmd.command))
    return out


def peer_poll(profiles: SshProfiles, t: Target, port: int, known: Path, password: str) -> int:
    """A per-poll script: log in, run the commands, parse them, log out. Returns records."""
    from netmiko import ConnectHandler

    spec = profiles.platform(t.platform)
    assert spec is not None and t.profile is not None and t.profile.ssh is not None
    conn = ConnectHandler(
        device_type=spec.device_type,
        host=t.address,
        port=port,
        username=t.profile.ssh.username,
        password=password,
        ssh_strict=True,
        system_host_keys=False,
        alt_host_keys=True,
        alt_key_file=str(known),
        fast_cli=True,
    )
    n = 0
    try:
        for kind, command in commands(profiles, t):
            out = conn.send_command(command, read_timeout=20)
            with contextlib.suppress(ssh_parse.Unparseable):
                n += len(ssh_parse.records(spec.commands[kind], str(out)))  # type: ignore[index]
    finally:
        conn.disconnect()
    return n


async def ours_round(collector: SshCollector, targets: list[Target]) -> tuple[float, float, int]:
    c0, w0 = cpu_self(), time.monotonic()
    results = await asyncio.gather(*(collector.poll(t) for t in targets), return_exceptions=True)
    wall, cpu = time.monotonic() - w0, cpu_self() - c0
    failed = sum(1 for r in results if isinstance(r, BaseException))
    for t, r in zip(targets, results, strict=True):
        if isinstance(r, BaseException) and os.environ.get("BENCH_VERBOSE"):
            print(f"  {t.name} ({t.platform}): {type(r).__name__}: {r}")
    return wall, cpu, failed


def peer_round(
    profiles: SshProfiles, targets: list[Target], port: int, known: Path, workers: int
) -> tuple[float, float, int]:
    password = SIMULATION_SECRETS["NETMON_SIM_SSH_PASSWORD"]
    c0, w0 = cpu_self(), time.monotonic()
    failed = 0
    with ThreadPoolExecutor(workers) as pool:
        futures = [pool.submit(peer_poll, profiles, t, port, known, password) for t in targets]
        for f in futures:
            try:
                f.result()
            except Exception:
                failed += 1
    return time.monotonic() - w0, cpu_self() - c0, failed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="bench.ssh", description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3, help="measured warm rounds")
    ap.add_argument("--workers", type=int, default=8, help="SSH sessions at once (8)")
    args = ap.parse_args(argv)
    os.environ.update({k: v for k, v in SIMULATION_SECRETS.items() if k not in os.environ})
    inventory = load_inventory(default_inventory_path())
    targets = list(targets_from_inventory(inventory, method=Method.ssh).values())
    ssh_port, snmp_port, control = free_tcp_port(), free_udp_port(), free_tcp_port()
    tmp = Path(tempfile.mkdtemp(prefix="bench-ssh-"))
    known = tmp / "known_hosts"
    log = open(tmp / "sim.log", "wb")  # noqa: SIM115 (lives as long as the process)
    sim = subprocess.Popen(
        [sys.executable, "-m", "netmon.cli", "--log-level", "WARNING", "simulate",
         "--port", str(snmp_port), "--control-port", str(control), "--ssh-port", str(ssh_port),
         "--ssh-known-hosts", str(known), "--latency-scale", "0"],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=log,
    )  # fmt: skip
    try:
        for t in targets:
            wait_port(t.address, ssh_port)
        profiles = load_ssh_profiles()
        platforms: dict[str, int] = {}
        for t in targets:
            platforms[t.platform] = platforms.get(t.platform, 0) + 1
        mix = ", ".join(f"{p} {n}" for p, n in sorted(platforms.items()))
        print(f"{len(targets)} SSH devices ({mix}); {args.workers} sessions at once")

        async def ours() -> list[tuple[str, float, float, int, float]]:
            collector = SshCollector(
                profiles, HostKeys(known), workers=args.workers, port_override=ssh_port
            )
            collector.topology = topology(inventory)
            rows = []
            try:
                s0 = cpu_of(sim.pid)
                wall, cpu, failed = await ours_round(collector, targets)
                rows.append(
                    ("netmon, first poll (logins)", wall, cpu, failed, cpu_of(sim.pid) - s0)
                )
                for _ in range(args.rounds):
                    s0 = cpu_of(sim.pid)
                    wall, cpu, failed = await ours_round(collector, targets)
                    rows.append(
                        ("netmon, sessions reused", wall, cpu, failed, cpu_of(sim.pid) - s0)
                    )
            finally:
                collector.close()
            return rows

        rows = asyncio.run(ours())
        for _ in range(args.rounds):
            s0 = cpu_of(sim.pid)
            wall, cpu, failed = peer_round(profiles, targets, ssh_port, known, args.workers)
            rows.append(
                ("peer: netmiko script, login per poll", wall, cpu, failed, cpu_of(sim.pid) - s0)
            )
    finally:
        sim.terminate()
        sim.wait(10)
        log.close()

    n = len(targets)
    print(f"{'what':<40} {'polls/s':>8} {'CPU ms/poll':>12} {'sim CPU ms/poll':>16} {'failed':>7}")
    summary: dict[str, tuple[float, float]] = {}
    for name in dict.fromkeys(r[0] for r in rows):
        mine = [r for r in rows if r[0] == name]
        wall = statistics.median(r[1] for r in mine)
        cpu = statistics.median(r[2] for r in mine)
        sim_cpu = statistics.median(r[4] for r in mine)
        failed = max(r[3] for r in mine)
        summary[name] = (n / wall, cpu / n)
        cells = f"{n / wall:>8.1f} {1000 * cpu / n:>12.1f} {1000 * sim_cpu / n:>16.1f}"
        print(f"{name:<40} {cells} {failed:>7}")
    warm_rate, warm_cpu = summary["netmon, sessions reused"]
    peer_rate, peer_cpu = summary["peer: netmiko script, login per poll"]
    ratio = f"{warm_cpu / peer_cpu:.2f}x; polls/s: {warm_rate / peer_rate:.2f}x"
    print(f"CPU per poll, netmon / peer: {ratio}")
    by_cpu = INTERVAL / warm_cpu
    by_wall = INTERVAL * warm_rate
    print(
        f"at a {INTERVAL:.0f} s interval one collector holds ~{min(by_cpu, by_wall):,.0f} SSH "
        f"devices (CPU-bound: {by_cpu:,.0f} per core; {args.workers} sessions at once: "
        f"{by_wall:,.0f})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
