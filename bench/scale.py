"""One collector on the backbone and on 10x the backbone, same run, same box.

Run: ``.venv/bin/python -m bench.scale [--scale 10] [--window 120]``.

For each size (the shipped inventory, then ``netmon inventory generate --scale N`` in a
temporary directory): inventory load (CPU-s in this process), one ``netmon simulate`` serving
every device (simulated latency), one sweep of every device back to back in this process (the
cycle wall time), then ``netmon run`` at the inventory's 60 s interval: once every device is
up, its CPU (cores: CPU-seconds / wall seconds over ``--window`` s, /proc/<pid>/stat), its RSS
at the end, and the wall time of a full ``GET /metrics``. Targets for the collector at 10x:
<= 0.5 core, <= 1 GB RSS.

A collector that cannot keep up does not use more than one core: it skips status polls and
probes whose previous one still waits (``netmon_fast_polls_skipped_total{reason="busy"}`` and
``"probe_busy"``) and full polls that overran (``netmon_poll_skipped_total``). Those are
printed next to the CPU, so a low figure from a saturated run is not read as headroom. The
speed of this shared machine varies between sessions by up to ~2x (the same code measured
0.62 and 0.95 core at 10x): ``box`` is the CPU time of a fixed piece of the collector's own
work (decoding one 50-varbind Response, microseconds), to compare runs of different days.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from bench.collector import REPO, SECRET_ENV, _proc_cpu, _rss_mib, _wait_http
from collector.answer_decode import decode_answer
from collector.fast_transport import fast_factory
from collector.model import Target
from collector.profiles import load_profiles
from collector.scheduler import Scheduler
from collector.snmp_collector import SnmpCollector
from collector.targets import targets_from_inventory
from collector.udp_endpoint import SnmpEndpoint
from netmon.inventory.generate import generate
from netmon.inventory.loader import default_inventory_path, load_inventory
from netmon.ports import free_port
from netmon.snmp import ber, message

NETMON = [sys.executable, "-m", "netmon.cli", "--log-level", "WARNING"]


@dataclass
class Row:
    label: str
    devices: int
    load_cpu: float
    sweep_wall: float
    up: int
    cores: float
    rss_mib: float
    render_s: float
    series: int
    sim_cores: float
    varbinds_per_s: float
    probes_per_s: float
    busy_per_s: float  # status polls and probes not sent: the previous one still waited
    overruns_per_s: float  # full polls not started: the previous one still ran


def _up(url: str) -> int:
    with urllib.request.urlopen(url, timeout=30) as resp:
        text = resp.read().decode()
    m = re.search(r'^netmon_collector_devices\{state="up"\} (\d+)', text, re.M)
    return int(m.group(1)) if m else 0


_TOTALS = (
    r"netmon_poll_varbinds_total\{.*\}",
    r"netmon_probes_total\{.*\}",
    r'netmon_fast_polls_skipped_total\{.*reason="(?:busy|probe_busy)".*\}',
    r"netmon_poll_skipped_total\{.*\}",
)


def _totals(url: str) -> tuple[float, ...]:
    """(varbinds, probes, busy skips, full-poll overruns) so far, summed over the devices."""
    with urllib.request.urlopen(url, timeout=30) as resp:
        text = resp.read().decode()
    return tuple(
        sum(float(m.group(1)) for m in re.finditer(rf"^{pattern} (\S+)", text, re.M))
        for pattern in _TOTALS
    )


def box_speed(rounds: int = 5, n: int = 2000) -> float:
    """Microseconds of CPU to decode one 50-varbind GETBULK Response (median of rounds)."""
    varbinds = b"".join(
        message.varbind(ber.encode_oid((1, 3, 6, 1, 2, 1, 2, 2, 1, 10, i)),
                        ber.encode_unsigned(i * 1_000_003, ber.COUNTER32))
        for i in range(1, 51)
    )  # fmt: skip
    msg = message.encode_message(message.V2C, b"public", ber.RESPONSE, 12345, 0, 0, varbinds)
    times = []
    for _ in range(rounds):
        t0 = time.process_time()
        for _ in range(n):
            decode_answer(msg)
        times.append((time.process_time() - t0) / n * 1e6)
    return statistics.median(times)


def measure(
    label: str, inv_dir: Path, window: float, tmp: Path, run_args: tuple[str, ...] = ()
) -> Row:
    t0 = time.process_time()
    inv = load_inventory(inv_dir)
    load_cpu = time.process_time() - t0
    devices = len(inv.devices())
    sim_port, control, port = free_port(2), free_port(1), free_port(1)
    env = {**os.environ, **SECRET_ENV}
    with (
        open(tmp / f"sim-{label.replace(' ', '-')}.log", "wb") as sim_log,
        open(tmp / f"run-{label.replace(' ', '-')}.log", "wb") as log,
    ):
        sim = subprocess.Popen(
            [*NETMON, "simulate", "--inventory", str(inv_dir), "--port", str(sim_port),
             "--control-port", str(control)],
            env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=sim_log,
        )  # fmt: skip
        run: subprocess.Popen[bytes] | None = None
        try:
            _wait_http(f"http://127.0.0.1:{control}/status", timeout=600)
            targets = targets_from_inventory(inv, port_override=sim_port)
            sweep = asyncio.run(_sweep(targets))
            run = subprocess.Popen(
                [*NETMON, "run", "--inventory", str(inv_dir), "--port-override", str(sim_port),
                 "--listen", f"127.0.0.1:{port}", *run_args],
                env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
            health = f"http://127.0.0.1:{port}/health/metrics"
            _wait_http(health, timeout=120)
            deadline = time.monotonic() + 240
            up = 0
            while time.monotonic() < deadline:
                up = _up(health)
                if up >= devices:
                    break
                time.sleep(2)
            time.sleep(60)  # past the start-up burst: one whole 60 s cycle in the steady state
            (vb0, pr0, bz0, ov0), c0, s0, w0 = (
                _totals(health),
                _proc_cpu(run.pid),
                _proc_cpu(sim.pid),
                time.monotonic(),
            )
            time.sleep(window)
            (vb1, pr1, bz1, ov1), c1, s1, w1 = (
                _totals(health),
                _proc_cpu(run.pid),
                _proc_cpu(sim.pid),
                time.monotonic(),
            )
            renders = []
            size = 0
            for _ in range(3):
                r0 = time.monotonic()
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/metrics", timeout=120
                ) as resp:
                    body = resp.read()
                renders.append(time.monotonic() - r0)
                size = sum(1 for line in body.splitlines() if line and not line.startswith(b"#"))
            rss = _rss_mib(run.pid)
            up = _up(health)
        finally:
            for p in (run, sim):
                if p is not None:
                    p.terminate()
            for p in (run, sim):
                if p is not None:
                    try:
                        p.wait(30)
                    except subprocess.TimeoutExpired:  # a loop too busy to stop: no orphans
                        p.kill()
                        p.wait(10)
    wall = w1 - w0
    return Row(
        label, devices, load_cpu, sweep, up, (c1 - c0) / wall, rss, statistics.median(renders),
        size, (s1 - s0) / wall, (vb1 - vb0) / wall, (pr1 - pr0) / wall, (bz1 - bz0) / wall,
        (ov1 - ov0) / wall,
    )  # fmt: skip


async def _sweep(targets: dict[str, Target]) -> float:
    endpoint = SnmpEndpoint()
    try:
        sched = Scheduler(SnmpCollector(load_profiles(), fast_factory(endpoint)), concurrency=64)
        sched.set_targets(targets)
        await sched.poll_all_once()  # warm: v3 discovery, label caches
        return await sched.poll_all_once()
    finally:
        endpoint.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="bench.scale", description=__doc__.split("\n")[0])
    ap.add_argument("--scale", type=int, default=10)
    ap.add_argument("--window", type=float, default=120.0, help="CPU measuring window (s)")
    ap.add_argument("--only-scaled", action="store_true", help="skip the 1x run")
    ap.add_argument(
        "--event-loops",
        default="asyncio,uvloop",
        help="netmon run's event loops to measure at the large size, in this order",
    )
    ap.add_argument(
        "--probe-interval", type=float, default=None, help="passed to netmon run (0: no probes)"
    )
    args = ap.parse_args(argv)
    run_args = (
        () if args.probe_interval is None else ("--probe-interval", f"{args.probe_interval:g}")
    )
    os.environ.update(SECRET_ENV)  # the in-process sweep resolves the same env: secrets
    # SIGTERM unwinds like Ctrl-C, so the simulator and collector are stopped too
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    tmp = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    big = tmp / f"inventory-x{args.scale}"
    generate(big, scale=args.scale)
    loops = [x for x in args.event_loops.split(",") if x]
    rows = (
        []
        if args.only_scaled
        else [
            measure(f"1x {loops[0]}", default_inventory_path(), args.window, tmp,
                    (*run_args, "--event-loop", loops[0]))
        ]
    )  # fmt: skip
    for loop in loops:
        rows.append(
            measure(f"{args.scale}x {loop}", big, args.window, tmp,
                    (*run_args, "--event-loop", loop))
        )  # fmt: skip
    load = os.getloadavg()
    print(
        f"\ncollector at a 60 s poll interval, window {args.window:.0f} s, "
        f"run args {list(run_args)}, machine load {load[0]:.1f}/{load[1]:.1f} (logs in {tmp}); "
        f"box: {box_speed():.1f} us to decode a 50-varbind Response"
    )
    head = (
        f"{'size, loop':<12} {'devices':>7} {'up':>6} {'load CPU-s':>10} {'sweep s':>8} "
        f"{'cores':>6} {'RSS MiB':>8} {'/metrics s':>10} {'series':>8} {'vb/s':>7} "
        f"{'probes/s':>8} {'busy/s':>7} {'overrun/s':>9} {'sim cores':>9}"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        print(
            f"{r.label:<12} {r.devices:>7} {r.up:>6} {r.load_cpu:>10.2f} {r.sweep_wall:>8.1f} "
            f"{r.cores:>6.3f} {r.rss_mib:>8.0f} {r.render_s:>10.2f} {r.series:>8} "
            f"{r.varbinds_per_s:>7.0f} {r.probes_per_s:>8.0f} {r.busy_per_s:>7.0f} "
            f"{r.overruns_per_s:>9.1f} {r.sim_cores:>9.2f}"
        )
    for big_row in rows[-len(loops) :]:
        print(
            f"targets at {big_row.label}: collector <= 0.5 core: {big_row.cores:.3f} "
            f"({'met' if big_row.cores <= 0.5 else 'MISSED'}); <= 1 GB RSS: "
            f"{big_row.rss_mib:.0f} MiB ({'met' if big_row.rss_mib <= 1024 else 'MISSED'})"
        )
        # Saturated runs (README, runs F-K) left 359-650 a second unsent, ~4-7 % of the 10x
        # devices; a handful a second is a device whose previous request was still retrying.
        saturated = big_row.busy_per_s >= 0.01 * big_row.devices or big_row.overruns_per_s >= 0.1
        if saturated:
            print(
                f"  ... but {big_row.label} did not keep up: {big_row.busy_per_s:.0f} status "
                f"polls/probes a second and {big_row.overruns_per_s:.1f} full polls a second "
                "not sent (the CPU figure is of a saturated collector)"
            )
        elif big_row.busy_per_s >= 1:
            print(
                f"  ({big_row.busy_per_s:.0f} status polls/probes a second not sent because "
                "the previous one of the same device still waited: fewer than 1 % of the "
                "devices a second, not saturation)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
