"""The collector's SNMP transport alone: pysnmp (``collector.snmp_transport``) vs netmon's codec
(``collector.fast_transport``) polling the same simulated devices in the same run.

Run: ``.venv/bin/python -m bench.transport [--devices 200] [--runs 3]``. A slice of the shipped
inventory (the centre plus whole provinces, in file order, until ``--devices``) is served by
``netmon simulate`` in its own process; each measurement is a fresh child process that builds
the transports exactly as the collector does (``targets_from_inventory`` + the factory), warms
up (one GET per device: target creation, SNMPv3 discovery), then polls every device
``--rounds`` times the way the collector's full poll does (GET of the system scalars + one
walk of every IF-MIB column of the profile), ``--concurrency`` devices at a time. Reported:
CPU-seconds of the polling child (getrusage) per 10k varbinds, wall time, varbinds, errors;
medians of ``--runs``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

from netmon.ports import free_port

ROOT = Path(__file__).resolve().parent.parent
TRANSPORTS = ("pysnmp", "fast")


# --- the polling child ------------------------------------------------------------------------


def _cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def child(
    transport: str, group: str, inventory: Path, port: int, concurrency: int, rounds: int
) -> None:
    from collector.fast_transport import fast_factory
    from collector.profiles import load_profiles
    from collector.snmp_transport import PysnmpEngine
    from collector.targets import targets_from_inventory
    from collector.transport import SnmpTransport, SnmpTransportError
    from collector.udp_endpoint import SnmpEndpoint
    from netmon.inventory.loader import load_inventory
    from netmon.service import pysnmp_factory

    profiles = load_profiles()
    system = profiles.system.oids()
    ifp = profiles.interfaces
    columns = [m.oid for m in (*ifp.metrics, *ifp.cached_metrics)] + [lc.oid for lc in ifp.labels]
    inv = load_inventory(inventory)
    want = "3" if group == "v3" else "2c"
    targets = [
        t
        for t in targets_from_inventory(inv, port_override=port).values()
        if t.profile is not None and t.profile.snmp is not None and t.profile.snmp.version == want
    ]

    async def main() -> dict[str, Any]:
        engine: PysnmpEngine | None = None
        endpoint: SnmpEndpoint | None = None
        if transport == "pysnmp":
            engine = PysnmpEngine()
            make = pysnmp_factory(engine)
        else:
            endpoint = SnmpEndpoint()
            make = fast_factory(endpoint)
        transports = {t.name: make(t) for t in targets}
        sem = asyncio.Semaphore(concurrency)
        errors: Counter[str] = Counter()

        async def warm(tr: SnmpTransport) -> None:
            async with sem:
                try:
                    await tr.get(system[:1])
                except SnmpTransportError as exc:
                    errors[f"warm-up {exc.kind}"] += 1

        async def poll(tr: SnmpTransport) -> int:
            async with sem:
                try:
                    answers = await tr.get(system)
                    table = await tr.walk(columns)
                except SnmpTransportError as exc:
                    errors[exc.kind] += 1
                    return 0
                return len(answers) + sum(len(rows) for rows in table.values())

        try:
            await asyncio.gather(*(warm(tr) for tr in transports.values()))
            cpu0, wall0 = _cpu(), time.perf_counter()
            counts: list[int] = []
            for _ in range(rounds):
                counts += await asyncio.gather(*(poll(tr) for tr in transports.values()))
            cpu, wall = _cpu() - cpu0, time.perf_counter() - wall0
        finally:
            if engine is not None:
                engine.close()
            if endpoint is not None:
                endpoint.close()
        return {
            "devices": len(transports),
            "varbinds": sum(counts) // rounds,
            "cpu": cpu / rounds,
            "wall": wall / rounds,
            "errors": dict(errors),
            "drops": endpoint.stats.timeouts if endpoint is not None else None,
        }

    print(json.dumps(asyncio.run(main())))


# --- the parent ---------------------------------------------------------------------------------


def slice_inventory(src: Path, dst: Path, devices: int) -> int:
    """Copy the centre and whole provinces (file order) until ``devices`` SNMP devices."""
    from netmon.inventory.loader import load_inventory

    dst.mkdir(parents=True)
    (dst / "provinces").mkdir()
    for name in ("defaults.yaml", "credentials.yaml", "centre.yaml"):
        shutil.copy(src / name, dst / name)
    count = 0
    for f in sorted((src / "provinces").glob("*.yaml")):
        shutil.copy(f, dst / "provinces" / f.name)
        count = len(load_inventory(dst).devices())
        if count >= devices:
            break
    return count


def _wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the simulator exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"{url} not ready after {timeout:.0f}s")


def run_child(
    transport: str, group: str, inventory: Path, port: int, args: argparse.Namespace
) -> dict[str, Any]:
    argv = [sys.executable, "-m", "bench.transport", "--child", transport, "--group", group]
    argv += ["--inventory", str(inventory), "--port", str(port)]
    argv += ["--concurrency", str(args.concurrency), "--rounds", str(args.rounds)]
    out = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, timeout=1800)
    if out.returncode != 0:
        raise RuntimeError(f"{transport}/{group} child failed:\n{out.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="bench.transport", description=__doc__)
    p.add_argument("--devices", type=int, default=200)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--concurrency", type=int, default=64, help="devices polled at once")
    p.add_argument("--rounds", type=int, default=3, help="polls of every device per child")
    p.add_argument("--inventory", type=Path, default=ROOT / "inventory")
    p.add_argument("--child", choices=TRANSPORTS, help=argparse.SUPPRESS)
    p.add_argument("--group", choices=("v2c", "v3"), default="v2c", help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        child(args.child, args.group, args.inventory, args.port, args.concurrency, args.rounds)
        return

    from netmon.simulator.secrets import SIMULATION_SECRETS

    env = {**os.environ}
    for k, v in SIMULATION_SECRETS.items():
        env.setdefault(k, v)
    os.environ.update({k: env[k] for k in SIMULATION_SECRETS})
    with tempfile.TemporaryDirectory(prefix="bench-transport-") as tmp:
        inv = Path(tmp) / "inventory"
        n = slice_inventory(args.inventory, inv, args.devices)
        port, control = free_port(2), free_port(1)  # SOCK_DGRAM, SOCK_STREAM
        sim_argv = [sys.executable, "-m", "netmon.cli", "--log-level", "WARNING", "simulate"]
        sim_argv += ["--inventory", str(inv), "--port", str(port), "--control-port", str(control)]
        sim = subprocess.Popen(sim_argv, env=env, cwd=ROOT, start_new_session=True)
        results: dict[tuple[str, str], list[dict[str, Any]]] = {}
        try:
            _wait_http(f"http://127.0.0.1:{control}/status", sim)
            for run in range(args.runs):
                for group in ("v2c", "v3"):
                    for transport in TRANSPORTS:
                        r = run_child(transport, group, inv, port, args)
                        results.setdefault((transport, group), []).append(r)
                        print(
                            f"run {run + 1}/{args.runs} {transport:<6} {group:<3}: "
                            f"{r['varbinds']:>7,} vb  cpu {r['cpu']:6.2f} s  "
                            f"wall {r['wall']:6.2f} s  errors {r['errors'] or '-'}",
                            flush=True,
                        )
        finally:
            sim.terminate()
            try:
                sim.wait(10)
            except subprocess.TimeoutExpired:
                sim.kill()
                sim.wait()
    report(results, n, args)


def report(
    results: dict[tuple[str, str], list[dict[str, Any]]], devices: int, args: argparse.Namespace
) -> None:
    print(
        f"\nSNMP transports: full polls of {devices} simulated devices (GET system + walk of 16 "
        f"IF-MIB columns), {args.concurrency} devices at a time; per poll of all devices "
        f"(mean of {args.rounds} rounds per child process), medians of {args.runs} runs"
    )
    head = (
        f"{'group':<5} {'transport':<9} {'devices':>7} {'varbinds':>9} {'CPU-s':>7} "
        f"{'CPU-s/10k vb':>12} {'wall s':>7} {'vb/s wall':>9} {'errors':>6}"
    )
    print(head)
    print("-" * len(head))
    per10k: dict[tuple[str, str], float] = {}
    walls: dict[tuple[str, str], float] = {}
    for group in ("v2c", "v3"):
        for transport in TRANSPORTS:
            rs = results.get((transport, group), [])
            if not rs or not rs[0]["devices"]:
                continue
            vb = statistics.median(r["varbinds"] for r in rs)
            cpu = statistics.median(r["cpu"] for r in rs)
            wall = statistics.median(r["wall"] for r in rs)
            k = statistics.median(r["cpu"] / max(r["varbinds"], 1) * 10_000 for r in rs)
            errs = sum(sum(r["errors"].values()) for r in rs)
            per10k[(transport, group)], walls[(transport, group)] = k, wall
            print(
                f"{group:<5} {transport:<9} {rs[0]['devices']:>7} {vb:>9,.0f} {cpu:>7.2f} "
                f"{k:>12.3f} {wall:>7.2f} {vb / wall:>9,.0f} {errs:>6}"
            )
    for group in ("v2c", "v3"):
        if ("pysnmp", group) in per10k and ("fast", group) in per10k:
            cpu_ratio = per10k[("pysnmp", group)] / per10k[("fast", group)]
            wall_ratio = walls[("pysnmp", group)] / walls[("fast", group)]
            print(
                f"{group}: pysnmp / fast = {cpu_ratio:.1f}x CPU per varbind, "
                f"{wall_ratio:.1f}x wall time"
            )


if __name__ == "__main__":
    main()
