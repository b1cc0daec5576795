"""The fault matrix: `netmon simulate` serving the shipped backbone, a real `netmon run` polling
it, and the probes of issue 10 one after another, each with one row of figures.

| fault | what is measured |
|---|---|
| dead devices | time until every one shows down; until every one is up again after healing |
| slow, garbage, walk-loop, no-view, reboot | time until each is seen (poll time, error kind...) |
| link down | time until ifOperStatus says down (the fast status poll) |
| bad reload (alias bomb) | until the reload metric says failure, then success; RSS |
| HTTP abuse | slowloris + never-reading clients: scrapes answered 200, RSS growth |
| SNMP flood | garbage datagrams at the collector's socket: drops, healthy freshness |
| SIGKILL mid-cycle | time until a restarted `netmon run` has every healthy device up |

Every row also gives the healthy devices' freshness during it: the oldest "last success" age
among the devices not injected (a 60 s poll: fresh means < 61 s + one poll), and how many were
ever stale. The broker-outage row is left to the MQTT work (its outbox).

    python -m bench.fault_matrix [--provinces N] [--dead 20]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from netmon.commands.control import request as control_request
from netmon.inventory.loader import load_inventory
from netmon.ports import free_tcp_port, free_udp_port
from netmon.simulator.testbed import SECRETS

REPO = Path(__file__).resolve().parent.parent
NETMON = [sys.executable, "-m", "netmon.cli"]
_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
STALE_AFTER = 70.0  # s since the last success, for a 60 s poll (+ poll time + slack)


def get(url: str, timeout: float = 10.0) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return str(resp.read().decode())


def samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    out = []
    for line in text.splitlines():
        if not line.startswith(name):
            continue
        m = _SAMPLE.match(line)
        if m and m.group(1) == name:
            out.append((dict(_LABEL.findall(m.group(2) or "")), float(m.group(3))))
    return out


def by_device(text: str, name: str, **labels: str) -> dict[str, float]:
    return {
        lab["device"]: v
        for lab, v in samples(text, name)
        if "device" in lab and all(lab.get(k) == x for k, x in labels.items())
    }


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@dataclass
class Row:
    fault: str
    detection: str = ""
    recovery: str = ""
    fresh: str = ""
    rss: str = ""
    notes: str = ""


@dataclass
class Lab:
    inventory: Path
    snmp_port: int
    control: int
    metrics: int
    env: dict[str, str]
    log: Path
    devices: list[str] = field(default_factory=list)
    run: subprocess.Popen[bytes] | None = None
    injected: set[str] = field(default_factory=set)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.metrics}"

    def start_run(self) -> None:
        argv = [*NETMON, "run", "--inventory", str(self.inventory), "--listen"]
        argv += [f"127.0.0.1:{self.metrics}", "--port-override", str(self.snmp_port)]
        with open(self.log, "ab") as out:
            self.run = subprocess.Popen(
                argv, stdout=out, stderr=subprocess.STDOUT, env=self.env, start_new_session=True
            )

    def health(self) -> str:
        return get(f"{self.base}/health/metrics")

    def act(self, action: str, **params: Any) -> None:
        status, body = control_request("127.0.0.1", self.control, {"action": action, **params})
        if status != 200:
            raise RuntimeError(f"control {action}: {body}")

    def healthy(self) -> list[str]:
        return [d for d in self.devices if d not in self.injected]

    def freshness(self, text: str) -> tuple[float, set[str]]:
        now = time.time()
        last = by_device(text, "netmon_last_success_timestamp_seconds")
        ages = {d: now - last[d] if d in last else float("inf") for d in self.healthy()}
        stale = {d for d, a in ages.items() if a > STALE_AFTER}
        return (max(ages.values()) if ages else 0.0), stale


class Watch:
    """Samples /health/metrics every second in a thread: freshness of the healthy devices."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.max_age = 0.0
        self.stale: set[str] = set()
        self.errors = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> Watch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)

    def _loop(self) -> None:
        while not self._stop.wait(1.0):
            try:
                age, stale = self.lab.freshness(self.lab.health())
            except OSError:
                self.errors += 1
                continue
            self.max_age = max(self.max_age, age)
            self.stale |= stale

    def text(self) -> str:
        healthy = len(self.lab.healthy())
        fresh = healthy - len(self.stale)
        out = f"{fresh}/{healthy} fresh, oldest {self.max_age:.0f} s"
        return out + (f", {self.errors} failed samples" if self.errors else "")


def until(check: Callable[[], bool], timeout: float, step: float = 0.5) -> float | None:
    """Seconds until ``check`` holds, or None at the timeout."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        try:
            if check():
                return time.monotonic() - start
        except OSError:
            pass
        time.sleep(step)
    return None


def secs(value: float | None) -> str:
    return "not within the limit" if value is None else f"{value:.1f} s"


# --- the rows --------------------------------------------------------------------------------


def row_dead(lab: Lab, victims: list[str]) -> Row:
    with Watch(lab) as w:
        lab.injected |= set(victims)
        for d in victims:
            lab.act("dead", device=d)

        def all_down() -> bool:
            up = by_device(lab.health(), "netmon_device_up")
            return all(up.get(d) == 0 for d in victims)

        detected = until(all_down, 180)
        for d in victims:
            lab.act("clear", device=d)

        def all_up() -> bool:
            up = by_device(lab.health(), "netmon_device_up")
            return all(up.get(d) == 1 for d in victims)

        recovered = until(all_up, 180)
    return Row(f"{len(victims)} devices dead", secs(detected), secs(recovered), w.text())


def row_misbehaving(lab: Lab, picks: dict[str, str]) -> list[Row]:
    """slow, garbage, walk-loop, no-view, reboot at once, on one device each."""
    rows = []
    before = lab.health()
    reboots0 = by_device(before, "netmon_device_reboots_total")
    durations0 = by_device(before, "netmon_poll_duration_seconds")
    with Watch(lab) as w:
        for kind, dev in picks.items():
            lab.injected.add(dev)
            if kind == "slow":
                lab.act("slow", device=dev, ms=800.0)
            else:
                lab.act(kind.replace("-", "_"), device=dev)
        checks: dict[str, Callable[[str], bool]] = {
            "slow": lambda t: (
                by_device(t, "netmon_poll_duration_seconds").get(picks["slow"], 0)
                > durations0.get(picks["slow"], 0) + 0.7
            ),
            "garbage": lambda t: (
                by_device(t, "netmon_poll_errors_total", kind="garbage").get(picks["garbage"], 0)
                > 0
            ),
            "walk-loop": lambda t: (
                by_device(t, "netmon_poll_errors_total", kind="walk_loop").get(
                    picks["walk-loop"], 0
                )
                > 0
            ),
            "no-view": lambda t: (
                by_device(t, "netmon_poll_errors_total", kind="no_such_object").get(
                    picks["no-view"], 0
                )
                > 0
            ),
            "reboot": lambda t: (
                by_device(t, "netmon_device_reboots_total").get(picks["reboot"], 0)
                > reboots0.get(picks["reboot"], 0)
            ),
        }
        start = time.monotonic()
        seen: dict[str, float] = {}
        while time.monotonic() - start < 150 and len(seen) < len(checks):
            try:
                text = lab.health()
            except OSError:
                continue
            for kind, check in checks.items():
                if kind not in seen and check(text):
                    seen[kind] = time.monotonic() - start
            time.sleep(0.5)
        lab.act("clear")
    for kind in picks:
        rows.append(Row(f"{kind} ({picks[kind]})", secs(seen.get(kind)), "", w.text()))
    return rows


def row_link_down(lab: Lab, device: str, interface: str, province: str) -> Row:
    url = f"{lab.base}/province/{province}/metrics"

    def oper(value: float) -> Callable[[], bool]:
        def check() -> bool:
            for lab_, v in samples(get(url), "ifOperStatus"):
                if lab_.get("device") == device and lab_.get("ifName") == interface:
                    return v == value
            return False

        return check

    with Watch(lab) as w:
        lab.act("link_down", device=device, interface=interface)
        detected = until(oper(2), 60, 0.25)
        lab.act("link_up", device=device, interface=interface)
        recovered = until(oper(1), 60, 0.25)
    return Row(f"link down ({device} {interface})", secs(detected), secs(recovered), w.text())


def row_bad_reload(lab: Lab) -> Row:
    assert lab.run is not None
    pid = lab.run.pid
    target = sorted((lab.inventory / "provinces").glob("*.yaml"))[-1]
    good = target.read_text()
    bomb = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    bomb += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 9)]
    rss0 = rss_mib(pid)

    def success(value: float) -> Callable[[], bool]:
        return lambda: any(
            v == value for _, v in samples(lab.health(), "netmon_inventory_reload_success")
        )

    with Watch(lab) as w:
        target.write_text("\n".join(bomb) + "\n" + good)
        detected = until(success(0), 60)
        rss1 = rss_mib(pid)
        target.write_text(good)
        recovered = until(success(1), 60)
        rss2 = rss_mib(pid)
    return Row(
        "bad reload (9-level alias bomb)",
        secs(detected),
        secs(recovered),
        w.text(),
        f"{rss0:.0f} -> {rss1:.0f} -> {rss2:.0f} MiB",
        "refused with its file:line:column",
    )


def _slowloris(port: int, stop: threading.Event) -> None:
    while not stop.is_set():
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.66", 0))
                s.settimeout(5)
                s.connect(("127.0.0.1", port))
                s.sendall(b"GET /metrics HTTP/1.1\r\n")
                while not stop.wait(1.0):
                    s.sendall(b"X-Slow: 1\r\n")
            except OSError:
                pass


def _never_reader(port: int, stop: threading.Event) -> None:
    while not stop.is_set():
        with socket.socket() as s:
            try:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                s.settimeout(5)
                s.connect(("127.0.0.1", port))
                s.sendall(b"GET /metrics HTTP/1.1\r\n\r\n")
                while not stop.wait(0.5):
                    s.send(b"\r\n")
            except OSError:
                pass


def row_http_abuse(lab: Lab, seconds: float = 20.0) -> Row:
    assert lab.run is not None
    pid = lab.run.pid
    stop = threading.Event()
    workers = [_slowloris] * 48 + [_never_reader] * 16
    threads = [threading.Thread(target=f, args=(lab.metrics, stop), daemon=True) for f in workers]
    rss0 = rss_mib(pid)
    peak = rss0
    ok = total = 0
    with Watch(lab) as w:
        for t in threads:
            t.start()
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            total += 1
            try:
                get(f"{lab.base}/province/50/metrics")
                ok += 1
            except (OSError, urllib.error.HTTPError):
                pass
            peak = max(peak, rss_mib(pid))
            time.sleep(0.2)
        stop.set()
        for t in threads:
            t.join(10)
    time.sleep(5)
    return Row(
        "HTTP abuse (48 slowloris + 16 never-reading)",
        f"scrapes 200: {ok}/{total}",
        "",
        w.text(),
        f"{rss0:.0f} -> peak {peak:.0f} -> {rss_mib(pid):.0f} MiB",
    )


def _snmp_socket_port(pid: int) -> int | None:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            link = os.readlink(fd)
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    for line in Path("/proc/net/udp").read_text().splitlines()[1:]:
        cols = line.split()
        if cols[9] in inodes:
            return int(cols[1].split(":")[1], 16)
    return None


def row_snmp_flood(lab: Lab, seconds: float = 15.0) -> Row:
    assert lab.run is not None
    port = _snmp_socket_port(lab.run.pid)
    if port is None:
        return Row("SNMP flood", notes="socket not found")
    rng = random.Random(1)
    junk = [bytes(rng.randrange(256) for _ in range(rng.randint(1, 300))) for _ in range(64)]
    sent = 0
    with Watch(lab) as w, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.77", 0))
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            for data in junk:
                s.sendto(data, ("127.0.0.1", port))
            sent += len(junk)
            time.sleep(0.001)
    text = get(f"{lab.base}/collector/metrics")
    drops = [v for _, v in samples(text, "netmon_snmp_receive_buffer_drops_total")]
    undecodable = [
        v for lab_, v in samples(text, "netmon_snmp_datagrams_total") if lab_.get("event") in (
            "undecodable", "unmatched")
    ]  # fmt: skip
    return Row(
        f"SNMP flood ({sent / seconds:,.0f} junk datagrams/s)",
        f"counted {sum(undecodable):,.0f} unmatched/undecodable",
        "",
        w.text(),
        "",
        f"kernel drops {drops[0]:,.0f}" if drops else "",
    )


def row_sigkill(lab: Lab) -> Row:
    assert lab.run is not None
    time.sleep(random.Random(3).uniform(0, 10))  # somewhere in the cycle
    lab.run.send_signal(signal.SIGKILL)
    lab.run.wait()
    killed = time.monotonic()
    lab.start_run()

    def all_up() -> bool:
        up = by_device(lab.health(), "netmon_device_up")
        return all(up.get(d) == 1 for d in lab.healthy())

    took = until(all_up, 180)
    recovered = None if took is None else time.monotonic() - killed
    note = "every healthy device up again" if recovered is not None else "(limit 180 s)"
    return Row("SIGKILL mid-cycle + restart", "", secs(recovered), "", "", note)


# --- main ------------------------------------------------------------------------------------


def print_table(rows: list[Row]) -> None:
    print("| fault | detected | recovered | healthy devices during | RSS | notes |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r.fault} | {r.detection} | {r.recovery} | {r.fresh} | {r.rss} | {r.notes} |")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--provinces", type=int, default=0, help="only the N biggest (0: all 77)")
    ap.add_argument("--dead", type=int, default=20, help="devices made dead")
    args = ap.parse_args(argv if argv is not None else [])
    tmp = Path(tempfile.mkdtemp(prefix="netmon-fault-matrix-"))
    inv = tmp / "inventory"
    shutil.copytree(REPO / "inventory", inv, ignore=shutil.ignore_patterns("examples"))
    if args.provinces:
        files = sorted((inv / "provinces").glob("*.yaml"), key=lambda f: -f.stat().st_size)
        for f in files[args.provinces :]:
            f.unlink()
    inventory = load_inventory(inv)
    env = {**os.environ, **SECRETS}
    lab = Lab(inv, free_udp_port(), free_tcp_port(), free_tcp_port(), env, tmp / "netmon.log")
    lab.devices = [d.name for _, d in inventory.devices()]
    sim_argv = [*NETMON, "simulate", "--inventory", str(inv), "--port", str(lab.snmp_port)]
    sim_argv += ["--control-port", str(lab.control)]
    with open(tmp / "simulate.log", "wb") as out:
        sim = subprocess.Popen(sim_argv, stdout=out, stderr=subprocess.STDOUT, env=env)
    rows: list[Row] = []
    try:
        until(lambda: get(f"http://127.0.0.1:{lab.control}/status", 30) != "", 60)
        lab.start_run()
        assert lab.run is not None
        started = time.monotonic()

        def all_up() -> bool:
            up = by_device(lab.health(), "netmon_device_up")
            return all(up.get(d) == 1 for d in lab.devices)

        took = until(all_up, 180)
        print(
            f"{len(lab.devices)} devices, all up {secs(took)} after start, "
            f"RSS {rss_mib(lab.run.pid):.0f} MiB",
            flush=True,
        )
        rng = random.Random(10)
        districts = sorted(d.name for _, d in inventory.devices() if d.name.startswith("d"))
        picks = rng.sample(districts, args.dead + 5)
        rows.append(row_dead(lab, picks[: args.dead]))
        print_table(rows[-1:])
        kinds = ["slow", "garbage", "walk-loop", "no-view", "reboot"]
        rows += row_misbehaving(lab, dict(zip(kinds, picks[args.dead :], strict=True)))
        # the injected stay out of the healthy set: healed, they still wait for a poll
        link = next(
            (lk.a.device, lk.a.interface, ps.province.code)
            for ps in inventory.sites
            for lk in ps.site.links
            if lk.a.device not in picks
        )
        rows.append(row_link_down(lab, *link))
        rows.append(row_bad_reload(lab))
        rows.append(row_http_abuse(lab))
        rows.append(row_snmp_flood(lab))
        rows.append(row_sigkill(lab))
        rows.append(Row("MQTT broker outage", notes="not measured here: the MQTT work's row"))
        print(f"\nelapsed {time.monotonic() - started:.0f} s; log in {tmp}\n")
        print_table(rows)
    finally:
        if lab.run is not None:
            lab.run.terminate()
            lab.run.wait(20)
        sim.terminate()
        sim.wait(20)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
