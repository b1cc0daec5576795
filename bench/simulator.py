"""The simulator against net-snmp's snmpd, measured in the same run.

Both agents run as their own processes on loopback; a load generator in ANOTHER process
(multiprocessing) walks their tables with GETBULK x25 and x50, keeping a window of outstanding
requests, and counts the varbinds it receives. The agents' CPU comes from /proc/<pid>/stat, so
the figure is varbinds per CPU-second of the agent (per core), independent of the noisy wall
clock of this shared machine. Medians of 5 runs. Then the whole default backbone in one
process: startup time and resident memory.

Run: ``.venv/bin/python -m bench.simulator`` (or ``make bench``).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from netmon.ports import free_port
from netmon.simulator.testbed import SECRETS, write_inventory
from netmon.snmp import ber
from netmon.snmp import message as msg

REPO = Path(__file__).resolve().parent.parent
RUNS = 5
RUN_SECONDS = 2.0
WINDOW = 16
SWEEP_WINDOW = 64
COMMUNITY = b"bench"
V3_USER = "netmon"  # the test bed's SNMPv3 user, also created in snmpd
V3_AUTH, V3_PRIV = SECRETS["NETMON_SIM_V3_AUTH"], SECRETS["NETMON_SIM_V3_PRIV"]
V3_WALKS = 30  # snmpbulkwalk runs per subtree and measurement
SNMPD_EXTRA_ROWS = 40  # x 10 columns = 400 extra OIDs
CLK_TCK = os.sysconf("SC_CLK_TCK")
SIM_SECRETS = {
    **SECRETS,
    "NETMON_SIM_COMMUNITY": COMMUNITY.decode(),
    "NETMON_SIM_SSH_PASSWORD": "x",
}

OID = tuple[int, ...]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


# --- the load generator (runs in its own process) ------------------------------------------


def _load(
    address: tuple[str, int],
    subtrees: list[OID],
    reps: int,
    seconds: float,
    out: mp.Queue[tuple[int, int, int]],
) -> None:
    """Walk ``subtrees`` over and over with GETBULK, WINDOW walks in flight."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.connect(address)
    sock.settimeout(1.0)
    next_id = 1
    walks: dict[int, tuple[int, OID]] = {}  # request id -> (subtree index, OID asked)

    def send(tree: int, oid: OID) -> None:
        nonlocal next_id
        next_id += 1
        walks[next_id] = (tree, oid)
        sock.send(msg.encode_getbulk(COMMUNITY, next_id, [oid], reps))

    for k in range(WINDOW):
        send(k % len(subtrees), subtrees[k % len(subtrees)])
    varbinds = requests = timeouts = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            data = sock.recv(65535)
        except TimeoutError:
            timeouts += 1
            walks.clear()
            for k in range(WINDOW):
                send(k % len(subtrees), subtrees[k % len(subtrees)])
            continue
        r = msg.decode_response(data)
        got = walks.pop(r.request_id, None)
        if got is None:
            continue
        tree, _ = got
        requests += 1
        varbinds += len(r.varbinds)
        root = subtrees[tree]
        last, tag, _ = r.varbinds[-1]
        if tag == ber.END_OF_MIB_VIEW or last[: len(root)] != root:
            tree = (tree + 1) % len(subtrees)
            send(tree, subtrees[tree])
        else:
            send(tree, last)
    out.put((varbinds, requests, timeouts))


def measure(
    pid: int, address: tuple[str, int], subtrees: list[OID], reps: int
) -> tuple[float, int]:
    """Varbinds per CPU-second of the agent ``pid`` under one load run, and timeouts seen."""
    q: mp.Queue[tuple[int, int, int]] = mp.Queue()
    proc = mp.Process(target=_load, args=(address, subtrees, reps, RUN_SECONDS, q))
    c0 = cpu_seconds(pid)
    proc.start()
    varbinds, _requests, timeouts = q.get(timeout=RUN_SECONDS + 30)
    proc.join()
    used = cpu_seconds(pid) - c0
    return (varbinds / used if used > 0 else 0.0), timeouts


def measure_v3(pid: int, address: tuple[str, int], subtrees: list[OID]) -> float:
    """Varbinds per agent CPU-second for SNMPv3 authPriv walks by net-snmp's snmpbulkwalk
    (each run discovers the engine, then walks with -Cr25): the load comes from other
    processes, the crypto is the agent's."""
    argv = ["snmpbulkwalk", "-v3", "-l", "authPriv", "-u", V3_USER, "-a", "SHA-256", "-A"]
    argv += [V3_AUTH, "-x", "AES", "-X", V3_PRIV, "-On", "-Cr25", "-t", "2", "-r", "2"]
    target = f"{address[0]}:{address[1]}"
    varbinds = 0
    c0 = cpu_seconds(pid)
    for _ in range(V3_WALKS):
        for tree in subtrees:
            dotted = ".".join(map(str, tree))
            out = subprocess.run([*argv, target, dotted], capture_output=True, text=True)
            if out.returncode != 0:
                raise RuntimeError(f"snmpbulkwalk -v3 {target}: {out.stderr.strip()}")
            varbinds += sum(1 for line in out.stdout.splitlines() if " = " in line)
    used = cpu_seconds(pid) - c0
    return varbinds / used if used > 0 else 0.0


# --- the agents ------------------------------------------------------------------------------


def _snmpd_config(port: int, work: Path) -> Path:
    lines = [
        f"agentAddress udp:127.0.0.1:{port}",
        f"rocommunity {COMMUNITY.decode()} 127.0.0.1",
        f'createUser {V3_USER} SHA-256 "{V3_AUTH}" AES "{V3_PRIV}"',
        f"rouser {V3_USER} priv",
        "sysName bench-snmpd",
    ]
    # An extra table: 10 columns x SNMPD_EXTRA_ROWS rows of counters, gauges and strings.
    for col in range(1, 11):
        for row in range(1, SNMPD_EXTRA_ROWS + 1):
            oid = f".1.3.6.1.4.1.99999.1.1.{col}.{row}"
            if col in (1, 2):
                lines.append(f'override {oid} octet_str "GigabitEthernet0/0/{row}"')
            elif col < 8:
                lines.append(f"override {oid} counter {row * 1000003 + col}")
            else:
                lines.append(f"override {oid} integer {row}")
    path = work / "snmpd.conf"
    path.write_text("\n".join(lines) + "\n")
    return path


def _wait_answer(address: tuple[str, int], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.2)
        while time.monotonic() < deadline:
            s.sendto(msg.encode_get(COMMUNITY, 1, [(1, 3, 6, 1, 2, 1, 1, 5, 0)]), address)
            try:
                s.recv(65535)
                return
            except TimeoutError:
                continue
    raise TimeoutError(f"no SNMP answer from {address}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def bench_agents() -> list[tuple[str, str, float, int]]:
    rows: list[tuple[str, str, float, int]] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        snmpd_port = free_port(socket.SOCK_DGRAM)
        conf = _snmpd_config(snmpd_port, work)
        snmpd = subprocess.Popen(
            [
                "snmpd",
                "-f",
                "-Lf",
                str(work / "snmpd.log"),
                "-C",
                "-c",
                str(conf),
                "-M",
                "/dev/null",
            ],
            env={**os.environ, "SNMP_PERSISTENT_DIR": str(work), "MIBS": ""},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        write_inventory(work / "inventory", net=77)
        sim_port = free_port(socket.SOCK_DGRAM)
        sim = subprocess.Popen(
            [
                *(sys.executable, "-m", "netmon.cli", "--log-level", "WARNING", "simulate"),
                *("--inventory", str(work / "inventory"), "--port", str(sim_port)),
                *("--control-port", str(free_port(socket.SOCK_STREAM)), "--latency-scale", "0"),
            ],
            env={**os.environ, **SIM_SECRETS},
            cwd=REPO,
        )
        try:
            snmpd_addr = ("127.0.0.1", snmpd_port)
            sim_addr = ("127.77.50.1", sim_port)  # the Huawei hub: 9 interfaces, ~350 OIDs
            _wait_answer(snmpd_addr)
            _wait_answer(sim_addr)
            interfaces = (1, 3, 6, 1, 2, 1, 2, 2)
            ifx = (1, 3, 6, 1, 2, 1, 31, 1, 1)
            extra = (1, 3, 6, 1, 4, 1, 99999, 1)
            agents = (
                ("netmon simulate", sim.pid, sim_addr, [interfaces, ifx]),
                ("net-snmp snmpd", snmpd.pid, snmpd_addr, [interfaces, ifx, extra]),
            )
            for reps in (25, 50):
                runs: dict[str, list[tuple[float, int]]] = {a[0]: [] for a in agents}
                for _ in range(RUNS):  # interleaved, so background load hits both alike
                    for name, pid, addr, trees in agents:
                        runs[name].append(measure(pid, addr, trees, reps))
                for name, got in runs.items():
                    median = statistics.median(r[0] for r in got)
                    rows.append((name, f"GETBULK x{reps}", median, sum(r[1] for r in got)))
            v3_agents = (
                ("netmon simulate", sim.pid, ("127.77.50.11", sim_port), [interfaces, ifx]),
                ("net-snmp snmpd", snmpd.pid, snmpd_addr, [interfaces, ifx, extra]),
            )
            v3_runs: dict[str, list[float]] = {a[0]: [] for a in v3_agents}
            for _ in range(RUNS):
                for name, pid, addr, trees in v3_agents:
                    v3_runs[name].append(measure_v3(pid, addr, trees))
            for name, got_v3 in v3_runs.items():
                rows.append((name, "v3 authPriv x25", statistics.median(got_v3), 0))
        finally:
            _stop(sim)
            _stop(snmpd)
    return rows


def _sweep(
    targets: list[tuple[str, int]], reps: int, out: mp.Queue[tuple[int, int, int, float]]
) -> None:
    """Walk ifTable and ifXTable of every target once, SWEEP_WINDOW walks in flight."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.settimeout(2.0)
    trees = [(1, 3, 6, 1, 2, 1, 2, 2), (1, 3, 6, 1, 2, 1, 31, 1, 1)]
    jobs = [(t, k) for t in range(len(targets)) for k in range(len(trees))]
    pending: dict[int, tuple[int, int]] = {}
    next_id = 0
    varbinds = requests = timeouts = 0

    def send(target: int, tree: int, oid: OID) -> None:
        nonlocal next_id
        next_id += 1
        pending[next_id] = (target, tree)
        sock.sendto(msg.encode_getbulk(COMMUNITY, next_id, [oid], reps), targets[target])

    def start_next() -> None:
        if jobs:
            target, tree = jobs.pop()
            send(target, tree, trees[tree])

    t0 = time.monotonic()
    for _ in range(SWEEP_WINDOW):
        start_next()
    while pending:
        try:
            data = sock.recv(65535)
        except TimeoutError:
            timeouts += len(pending)
            pending.clear()
            for _ in range(SWEEP_WINDOW):
                start_next()
            continue
        r = msg.decode_response(data)
        got = pending.pop(r.request_id, None)
        if got is None:
            continue
        requests += 1
        varbinds += len(r.varbinds)
        target, tree = got
        last, tag, _ = r.varbinds[-1]
        if tag == ber.END_OF_MIB_VIEW or last[: len(trees[tree])] != trees[tree]:
            start_next()
        else:
            send(target, tree, last)
    out.put((varbinds, requests, timeouts, time.monotonic() - t0))


def bench_backbone() -> dict[str, float]:
    """The whole default inventory in one process: startup, RSS, and one poll of every
    SNMPv2c device's ifTable + ifXTable (GETBULK x25, distance latencies on)."""
    from netmon.inventory.loader import default_inventory_path, load_inventory
    from netmon.inventory.model import SnmpV2c

    inv = load_inventory(default_inventory_path())
    port = free_port(socket.SOCK_DGRAM)
    targets = []
    for _, dev in inv.devices():
        profile = inv.profile(dev.credentials or inv.defaults.credentials or "")
        if profile is not None and isinstance(profile.snmp, SnmpV2c):
            targets.append((dev.address, port))
    control = free_port(socket.SOCK_STREAM)
    t0 = time.monotonic()
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "netmon.cli", "--log-level", "WARNING", "simulate"),
            *("--port", str(port), "--control-port", str(control)),
        ],
        env={**os.environ, **SIM_SECRETS},
        cwd=REPO,
    )
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError("the simulator exited")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{control}/status", timeout=2):
                    break
            except OSError:
                time.sleep(0.05)
        startup = time.monotonic() - t0
        rss = rss_mib(proc.pid)
        q: mp.Queue[tuple[int, int, int, float]] = mp.Queue()
        worker = mp.Process(target=_sweep, args=(targets, 25, q))
        c0 = cpu_seconds(proc.pid)
        worker.start()
        varbinds, requests, timeouts, wall = q.get(timeout=300)
        worker.join()
        cpu = cpu_seconds(proc.pid) - c0
        return {
            "devices": float(len(list(inv.devices()))),
            "startup": startup,
            "rss": rss,
            "swept": float(len(targets)),
            "varbinds": float(varbinds),
            "requests": float(requests),
            "timeouts": float(timeouts),
            "cpu": cpu,
            "wall": wall,
        }
    finally:
        _stop(proc)


def main() -> None:
    if shutil.which("snmpd") is None:
        print("snmpd is not installed (apt-get install snmpd)")
        return
    rows = bench_agents()
    peer = {load: vbs for name, load, vbs, _ in rows if name == "net-snmp snmpd"}
    print(f"\nAgent throughput: varbinds per CPU-second of the agent, median of {RUNS} runs")
    print(f"{'agent':<18} {'load':<16} {'vb/s per core':>14} {'vs snmpd':>9} {'timeouts':>9}")
    for name, load, vbs, timeouts in rows:
        ratio = vbs / peer[load]
        print(f"{name:<18} {load:<16} {vbs:>14,.0f} {ratio:>8.2f}x {timeouts:>9}")
    print(
        "(v3: sequential snmpbulkwalk processes, each discovering the engine then walking with "
        "one request in flight: per-message cost dominates)"
    )
    b = bench_backbone()
    print("\nThe whole default backbone in one process")
    print(
        f"devices served: {b['devices']:.0f}; startup {b['startup']:.1f} s (wall); "
        f"RSS {b['rss']:.0f} MiB"
    )
    print(
        f"one poll of ifTable+ifXTable on all {b['swept']:.0f} SNMPv2c devices (GETBULK x25, "
        f"{SWEEP_WINDOW} walks in flight, distance latency on): {b['varbinds']:,.0f} varbinds "
        f"in {b['requests']:,.0f} requests, agent CPU {b['cpu']:.2f} s, wall {b['wall']:.1f} s, "
        f"timeouts {b['timeouts']:.0f}"
    )


if __name__ == "__main__":
    main()
