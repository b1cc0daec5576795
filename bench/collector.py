"""The SNMP collector and exporter against Debian's prometheus-snmp-exporter, same devices.

Run: ``.venv/bin/python -m bench.collector [--devices N] [--rounds R]``.

One ``netmon simulate`` serves the shipped backbone (1,031 devices, simulated latency) on
loopback. In the same run:

- CPU-seconds per 10,000 varbinds over the SNMPv2c devices: netmon's collector with its own
  codec (collector.fast_transport) and with pysnmp (this process's CPU: polls + one full
  /metrics render per cycle) and snmp_exporter 0.21 (its process's CPU from /proc: SNMP +
  HTTP + exposition), each polling the same columns by
  numeric OID (sysUpTime, sysName, sysDescr, sysObjectID, ifNumber, ifTableLastChange; 11
  IF-MIB counter/status columns, ifHighSpeed, ifType, ifName, ifDescr, ifAlias), retries on.
  netmon walks the label columns only when its cache is stale (hourly); snmp_exporter walks
  them every scrape: the per-varbind cost is the comparable unit, the per-cycle CPU shows
  the cache's effect. Medians over the rounds (after a warm-up round, after which netmon's
  poller does ``gc.freeze()`` as ``netmon run`` does once started; it sets glibc's malloc
  thresholds as ``netmon run`` does, ``netmon.runtime_tuning``).
- Wall time of one full-backbone cycle as ``netmon run`` polls it (all 1,031 devices, v2c
  and v3 on the codec transport, vendor tables; 64 at a time).
- /metrics render time for the whole backbone: the direct text exposition vs client_python's
  generate_latest over the same families.
- One more full-backbone cycle with 10 % of the devices dead and 5 % slow (+500 ms per
  answer, injected through the simulator's control endpoint): healthy devices' poll times.
- RSS of this process after the runs (the collector, its pysnmp engine and the snapshot)
  and of snmp_exporter.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from collector.fast_transport import fast_factory
from collector.model import Target
from collector.profiles import Profiles, load_profiles
from collector.scheduler import Scheduler
from collector.snmp_collector import SnmpCollector
from collector.snmp_transport import PysnmpEngine
from collector.targets import targets_from_inventory
from collector.udp_endpoint import SnmpEndpoint
from exporters.exposition import FamiliesCollector, render_text
from exporters.families import FamilyBuilder, ReloadStatus
from netmon.event_loop import run as run_loop
from netmon.inventory.loader import default_inventory_path, load_inventory
from netmon.inventory.model import SnmpV2c
from netmon.inventory.topology import Topology
from netmon.ports import free_port
from netmon.runtime_tuning import tune_malloc
from netmon.service import pysnmp_factory
from netmon.simulator.testbed import SECRETS

REPO = Path(__file__).resolve().parent.parent
SECRET_ENV = {**SECRETS, "NETMON_SIM_SSH_PASSWORD": "netmon-sim-ssh"}
CONCURRENCY = 64
EXPORTER = "/usr/bin/prometheus-snmp-exporter"


def _proc_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mib(pid: int | str = "self") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _wait_http(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(url)


def bench_profiles() -> Profiles:
    """The shipped profiles without vendor tables (snmp_exporter's module has none either)."""
    base = load_profiles()
    return base.model_copy(update={"platforms": {"default": ()}})


# --- snmp_exporter -------------------------------------------------------------------------------


def exporter_module(profiles: Profiles, community: str) -> str:
    ifp = profiles.interfaces
    columns = [m.oid for m in (*ifp.metrics, *ifp.cached_metrics)] + [lc.oid for lc in ifp.labels]
    lookups = "".join(
        f"        - {{labels: [ifIndex], labelname: {lc.name}, oid: {lc.oid}, "
        "type: DisplayString}\n"
        for lc in ifp.labels
    )
    metrics = "".join(
        f"    - name: {m.name}\n      oid: {m.oid}\n      type: {m.type}\n"
        "      indexes: [{labelname: ifIndex, type: gauge}]\n      lookups:\n" + lookups
        for m in (*ifp.metrics, *ifp.cached_metrics)
    )
    sys_oids = profiles.system.oids()
    return (
        "netmon_if:\n  version: 2\n"
        f"  auth: {{community: {community}}}\n"
        "  retries: 3\n  timeout: 5s\n  max_repetitions: 25\n"
        f"  get: [{', '.join(sys_oids)}]\n"
        f"  walk: [{', '.join(columns)}]\n"
        "  metrics:\n"
        "    - {name: sysUpTime, oid: 1.3.6.1.2.1.1.3, type: gauge}\n"
        "    - {name: ifNumber, oid: 1.3.6.1.2.1.2.1, type: gauge}\n"
        "    - {name: ifTableLastChange, oid: 1.3.6.1.2.1.31.1.5, type: gauge}\n"
        "    - {name: sysName, oid: 1.3.6.1.2.1.1.5, type: DisplayString}\n"
        "    - {name: sysDescr, oid: 1.3.6.1.2.1.1.1, type: DisplayString}\n" + metrics
    )


_PDUS = re.compile(r"^snmp_scrape_pdus_returned (\S+)$", re.M)


def exporter_round(port: int, targets: list[Target]) -> tuple[int, int, float]:
    """Scrape every target once (CONCURRENCY at a time): (varbinds, failed, wall seconds)."""

    def one(t: Target) -> tuple[int, bool]:
        url = f"http://127.0.0.1:{port}/snmp?module=netmon_if&target={t.address}:{t.port}"
        try:
            with urllib.request.urlopen(url, timeout=60) as resp:
                text = resp.read().decode()
        except OSError:
            return 0, True
        m = _PDUS.search(text)
        return (int(float(m.group(1))) if m else 0), m is None

    start = time.monotonic()
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        results = list(pool.map(one, targets))
    return sum(r[0] for r in results), sum(r[1] for r in results), time.monotonic() - start


# --- netmon ----------------------------------------------------------------------------------


async def netmon_rounds(
    transport: str, profiles: Profiles, targets: dict[str, Target], rounds: int
) -> tuple[list[float], list[float], list[int], Scheduler, FamilyBuilder]:
    """Warm-up + ``rounds`` cycles; per cycle: CPU-s per 10k vb (poll + render), wall, vb."""
    tune_malloc()  # as `netmon run` does once started (netmon/service.py)
    endpoint = SnmpEndpoint() if transport == "fast" else None
    engine = PysnmpEngine() if endpoint is None else None
    if endpoint is not None:
        factory = fast_factory(endpoint)
    else:
        assert engine is not None
        factory = pysnmp_factory(engine)
    collector = SnmpCollector(profiles, factory)
    sched = Scheduler(collector, concurrency=CONCURRENCY)
    sched.set_targets(targets)
    fb = FamilyBuilder(collector.profiles)
    per10k: list[float] = []
    walls: list[float] = []
    vbs: list[int] = []
    for r in range(rounds + 1):
        vb0 = sum(s.varbinds for s in sched.states.values())
        cpu0 = time.process_time()
        wall = await sched.poll_all_once()
        render_text(fb.families(list(sched.states.values()), sched.stats()))
        cpu = time.process_time() - cpu0
        vb = sum(s.varbinds for s in sched.states.values()) - vb0
        if r == 0:
            # As `netmon run` does once started (netmon/service.py): what lives as long as the
            # process (inventory, targets, label caches) is kept out of the cyclic GC's walks.
            gc.collect()
            gc.freeze()
            continue  # warm-up: cold label cache, engine start
        per10k.append(cpu / vb * 10_000 if vb else float("nan"))
        walls.append(wall)
        vbs.append(vb)
    gc.unfreeze()  # the next poller starts from the same GC state
    if endpoint is not None:
        endpoint.close()
    if engine is not None:
        engine.close()
    return per10k, walls, vbs, sched, fb


def netmon_run_rss(
    sim_port: int, devices: int, env: dict[str, str], tmp: Path
) -> tuple[float, int, float]:
    """Start `netmon run` on the simulated backbone; RSS once every device is up (or 60 s)."""
    port = free_port(1)
    url = f"http://127.0.0.1:{port}/collector/metrics"
    with open(tmp / "run.log", "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "netmon.cli", "--log-level", "WARNING", "run",
             "--port-override", str(sim_port), "--listen", f"127.0.0.1:{port}"],
            env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        start = time.monotonic()
        up = 0
        try:
            while time.monotonic() - start < 60:
                time.sleep(0.5)
                try:
                    with urllib.request.urlopen(url, timeout=5) as resp:
                        text = resp.read().decode()
                except OSError:
                    continue
                m = re.search(r'^netmon_collector_devices\{state="up"\} (\d+)', text, re.M)
                up = int(m.group(1)) if m else 0
                if up >= devices:
                    break
            return _rss_mib(proc.pid), up, time.monotonic() - start
        finally:
            proc.terminate()
            proc.wait(10)


def _control(port: int, body: dict[str, object]) -> None:
    import json

    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/action",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        resp.read()


async def fault_cycle(
    control: int, targets: dict[str, Target], leaves: set[str]
) -> dict[str, float]:
    """One full-backbone cycle with 10 % dead and 5 % slow devices (chosen by name order).
    The dead are leaves (nothing behind them): the simulator cuts off what lies behind a dead
    device, which would make "healthy" devices unreachable."""
    names = sorted(targets)
    dead = set([n for n in names if n in leaves][:: max(1, len(leaves) * 10 // len(names))])
    dead = set(sorted(dead)[: len(names) // 10])
    slow = set(names[5::20]) - dead
    for n in dead:
        _control(control, {"action": "dead", "device": n})
    for n in slow:
        _control(control, {"action": "slow", "device": n, "ms": 500})
    endpoint = SnmpEndpoint()
    try:
        sched = Scheduler(SnmpCollector(load_profiles(), fast_factory(endpoint)), concurrency=64)
        sched.set_targets(targets)
        wall = await sched.poll_all_once()
    finally:
        endpoint.close()
        _control(control, {"action": "clear"})
    healthy = [s for n, s in sched.states.items() if n not in dead and n not in slow]
    return {
        "dead": len(dead),
        "slow": len(slow),
        "wall": wall,
        "healthy_up": sum(1 for s in healthy if s.up),
        "healthy": len(healthy),
        "healthy_max": max(s.last_duration for s in healthy),
        "healthy_median": statistics.median(s.last_duration for s in healthy),
        "slow_up": sum(1 for n in slow if sched.states[n].up),
        "slow_median": statistics.median(sched.states[n].last_duration for n in slow),
        "dead_timeouts": sum(1 for n in dead if sched.states[n].errors.get("timeout")),
        "dead_median": statistics.median(sched.states[n].last_duration for n in dead),
    }


def median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="bench.collector", description=__doc__.split("\n")[0])
    ap.add_argument("--devices", type=int, default=0, help="only the first N v2c devices")
    ap.add_argument("--rounds", type=int, default=3, help="measured rounds (after a warm-up)")
    args = ap.parse_args(argv)
    os.environ.update(SECRET_ENV)

    inventory = load_inventory(default_inventory_path())
    sim_port = free_port(2)
    control = free_port(1)
    exporter_port = free_port(1)
    targets = targets_from_inventory(inventory, port_override=sim_port)
    v2c = {n: t for n, t in targets.items() if t.profile and isinstance(t.profile.snmp, SnmpV2c)}
    if args.devices:
        v2c = dict(list(v2c.items())[: args.devices])
    community = SECRET_ENV["NETMON_SIM_COMMUNITY"]
    profiles = bench_profiles()

    tmp = Path(tempfile.mkdtemp(prefix="bench-collector-"))
    (tmp / "snmp.yml").write_text(exporter_module(profiles, community))
    env = {**os.environ, **SECRET_ENV}
    sim_log = open(tmp / "sim.log", "wb")  # noqa: SIM115 (lives as long as the process)
    exporter_log = open(tmp / "exporter.log", "wb")  # noqa: SIM115
    sim = subprocess.Popen(
        [sys.executable, "-m", "netmon.cli", "--log-level", "WARNING", "simulate", "--port",
         str(sim_port), "--control-port", str(control)],
        env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=sim_log,
    )  # fmt: skip
    exporter = subprocess.Popen(
        [EXPORTER, f"--config.file={tmp / 'snmp.yml'}",
         f"--web.listen-address=127.0.0.1:{exporter_port}", "--log.level=warn"],
        stdout=subprocess.DEVNULL, stderr=exporter_log,
    )  # fmt: skip
    try:
        _wait_http(f"http://127.0.0.1:{control}/status", 60)
        _wait_http(f"http://127.0.0.1:{exporter_port}/metrics", 30)
        print(
            f"{len(targets)} devices simulated, {len(v2c)} SNMPv2c compared, "
            f"{args.rounds} rounds + warm-up, concurrency {CONCURRENCY}",
            flush=True,
        )

        # snmp_exporter
        ex_per10k, ex_walls, ex_vbs = [], [], []
        for r in range(args.rounds + 1):
            cpu0 = _proc_cpu(exporter.pid)
            vb, failed, wall = exporter_round(exporter_port, list(v2c.values()))
            cpu = _proc_cpu(exporter.pid) - cpu0
            if failed:
                print(f"  snmp_exporter round {r}: {failed} failed scrapes", flush=True)
            if r:
                ex_per10k.append(cpu / vb * 10_000)
                ex_walls.append(wall)
                ex_vbs.append(vb)
        ex_rss = _rss_mib(exporter.pid)

        # netmon on the same devices: its own codec, then pysnmp
        fa_per10k, fa_walls, fa_vbs, _, _ = asyncio.run(
            netmon_rounds("fast", profiles, v2c, args.rounds)
        )
        fu_per10k, fu_walls, fu_vbs, _, _ = run_loop(
            netmon_rounds("fast", profiles, v2c, args.rounds), "uvloop"
        )
        nm_per10k, nm_walls, nm_vbs, _, _ = asyncio.run(
            netmon_rounds("pysnmp", profiles, v2c, args.rounds)
        )

        # the full backbone as `netmon run` polls it (codec for v2c and v3, vendor tables)
        _, full_walls, full_vbs, sched, fb = asyncio.run(
            netmon_rounds("fast", load_profiles(), targets, 1)
        )
        states = list(sched.states.values())
        up = sum(1 for s in states if s.up)

        # faults: 10 % of the devices dead, 5 % slow (+500 ms per answer), one more cycle
        topology = Topology.build(inventory)
        leaves = {n for n in topology.order if not topology.children(n)}
        faults = asyncio.run(fault_cycle(control, targets, leaves))
        reload = ReloadStatus(True, time.time(), len(states))

        text_times, client_times = [], []
        body = b""
        for _ in range(5):
            t0 = time.perf_counter()
            body = render_text(fb.families(states, sched.stats(), reload))
            text_times.append(time.perf_counter() - t0)
        from prometheus_client.core import CollectorRegistry
        from prometheus_client.exposition import generate_latest

        registry = CollectorRegistry()
        registry.register(FamiliesCollector(lambda: fb.families(states, sched.stats(), reload)))
        for _ in range(5):
            t0 = time.perf_counter()
            generate_latest(registry)
            client_times.append(time.perf_counter() - t0)
        series = sum(1 for line in body.splitlines() if line and not line.startswith(b"#"))
        nm_rss = _rss_mib()
        run_rss, run_up, run_wall = netmon_run_rss(sim_port, len(targets), env, tmp)
    finally:
        for p in (sim, exporter):
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        sim_log.close()
        exporter_log.close()

    ex = median(ex_per10k)
    fu, fa, nm = median(fu_per10k), median(fa_per10k), median(nm_per10k)
    print()
    print("| what (medians [range]) | netmon, own codec, uvloop | netmon, own codec, asyncio "
          "| netmon, pysnmp | snmp_exporter 0.21 |")  # fmt: skip
    print("|---|---|---|---|---|")
    rng = [f"[{min(x):.3f}-{max(x):.3f}]" for x in (fu_per10k, fa_per10k, nm_per10k, ex_per10k)]
    print(f"| CPU-s per 10k varbinds | {fu:.3f} {rng[0]} | {fa:.3f} {rng[1]} | {nm:.3f} {rng[2]} "
          f"| {ex:.3f} {rng[3]} |")  # fmt: skip
    print(f"| ratio to snmp_exporter | {fu / ex:.2f}x | {fa / ex:.2f}x | {nm / ex:.1f}x | 1x |")
    vbs = [median([float(v) for v in x]) for x in (fu_vbs, fa_vbs, nm_vbs, ex_vbs)]
    print(f"| varbinds per cycle ({len(v2c)} v2c devices) | {vbs[0]:.0f} | {vbs[1]:.0f} | "
          f"{vbs[2]:.0f} | {vbs[3]:.0f} |")  # fmt: skip
    cycle_cpu = [
        median(a) * b / 10_000
        for a, b in zip((fu_per10k, fa_per10k, nm_per10k, ex_per10k), vbs, strict=True)
    ]
    print(f"| CPU-s per cycle | {cycle_cpu[0]:.2f} | {cycle_cpu[1]:.2f} | {cycle_cpu[2]:.2f} | "
          f"{cycle_cpu[3]:.2f} |")  # fmt: skip
    ratios = [c / cycle_cpu[3] for c in cycle_cpu]
    print(f"| per cycle, ratio to snmp_exporter | {ratios[0]:.2f}x | {ratios[1]:.2f}x | "
          f"{ratios[2]:.1f}x | 1x |")  # fmt: skip
    walls = [median(w) for w in (fu_walls, fa_walls, nm_walls, ex_walls)]
    print(f"| cycle wall, {len(v2c)} v2c devices | {walls[0]:.1f} s | {walls[1]:.1f} s | "
          f"{walls[2]:.1f} s | {walls[3]:.1f} s |")  # fmt: skip
    print(f"| RSS | {nm_rss:.0f} MiB (whole bench process) | | | {ex_rss:.0f} MiB |")
    print(f"\n`netmon run` on the whole backbone: {run_up} of {len(targets)} devices up "
          f"{run_wall:.1f} s after start, RSS {run_rss:.0f} MiB")  # fmt: skip
    print()
    full_vb = median([float(v) for v in full_vbs])
    print(f"full backbone: {len(states)} devices (v2c + v3, vendor tables), {up} up after "
          f"the cycle; cycle wall {median(full_walls):.1f} s, {full_vb:.0f} varbinds")  # fmt: skip
    f = faults
    print(
        f"with {f['dead']:.0f} devices dead and {f['slow']:.0f} slow (+500 ms): cycle wall "
        f"{f['wall']:.1f} s; {f['healthy_up']:.0f}/{f['healthy']:.0f} healthy devices up, "
        f"their poll median {f['healthy_median'] * 1000:.0f} ms, "
        f"max {f['healthy_max'] * 1000:.0f} ms; slow ones {f['slow_up']:.0f} up, median "
        f"{f['slow_median']:.2f} s; dead ones {f['dead_timeouts']:.0f} timeouts after "
        f"{f['dead_median']:.1f} s (timeout x tries)"
    )
    print(f"/metrics render, whole backbone ({series} series, {len(body) / 1e6:.1f} MB): "
          f"direct text {median(text_times) * 1000:.0f} ms, client_python generate_latest "
          f"{median(client_times) * 1000:.0f} ms")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
