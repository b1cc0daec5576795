"""``netmon demo``: the simulated backbone, the collector and a live terminal summary."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from netmon.procs import stop

if TYPE_CHECKING:
    from netmon.alert_lab import AlertLab


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "demo",
        help="run the simulated backbone + collector with a live summary",
        description=(
            "Start `netmon simulate` and `netmon run` on loopback against the inventory "
            "(default: the shipped backbone) and show devices up/down per region, polls/s, "
            "cycle time and the slowest devices until Ctrl-C."
        ),
    )
    p.add_argument("--inventory", type=Path, default=None, help="inventory directory")
    p.add_argument(
        "--snmp-port", type=int, default=0, help="UDP port of the simulated agents (0: a free one)"
    )
    p.add_argument("--listen", default="127.0.0.1:9800", help="exporter address (loopback)")
    p.add_argument(
        "--mqtt-port",
        type=int,
        default=1883,
        help="loopback port of the demo's Mosquitto (default 1883; a free one if taken)",
    )
    p.add_argument("--duration", type=float, default=0, help="stop after N seconds (0: Ctrl-C)")
    p.add_argument("--refresh", type=float, default=2.0, help="seconds between screen updates")
    p.add_argument(
        "--no-alerts",
        action="store_true",
        help="do not start Prometheus and Alertmanager (started when the inventory has an "
        "alerting.yaml and both are installed)",
    )
    p.add_argument(
        "--alert-time-scale",
        type=float,
        default=0.5,
        help="shrink the rules' for: windows for the demo (default 0.5: a 1 m for: is 30 s)",
    )
    p.set_defaults(func=_demo)


@contextlib.contextmanager
def _child(argv: list[str], env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(argv, env=env, start_new_session=True)
    try:
        yield proc
    finally:
        stop(proc, grace=10)


@contextlib.contextmanager
def _alerting(args: argparse.Namespace, inventory: Path) -> Iterator[AlertLab | None]:
    """A real Prometheus with the shipped rules and an Alertmanager with the inventory's
    routing, delivering to local sinks, in a temporary directory (None: not started)."""
    import shutil
    import tempfile

    routing = inventory / "alerting.yaml"
    missing = [b for b in ("prometheus", "prometheus-alertmanager") if shutil.which(b) is None]
    if args.no_alerts or not routing.exists() or missing:
        yield None
        return
    from netmon.alert_lab import alert_lab
    from netmon.alerting.routing import Timing
    from netmon.inventory.loader import load_inventory

    inv = load_inventory(inventory)
    timing = Timing(group_wait="10s", group_interval="1m", repeat_interval="1h")
    with (
        tempfile.TemporaryDirectory(prefix="netmon-demo-") as tmp,
        alert_lab(
            Path(tmp),
            inv,
            routing,
            metrics_address=args.listen,
            time_scale=args.alert_time_scale,
            timing=timing,
            scrape_interval="10s",  # 77 province slices, ~143k series: light on 2 cores
            evaluation_interval="10s",
        ) as lab,
    ):
        yield lab


def _fetch(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            text: str = resp.read().decode("utf-8")
            return text
    except OSError:
        return None


def _demo(args: argparse.Namespace) -> int:
    from netmon.inventory.loader import default_inventory_path
    from netmon.live_view import outages, render, summarise
    from netmon.ports import free_tcp_port, free_udp_port
    from netmon.simulator.secrets import SIMULATION_SECRETS

    host, _, _port = args.listen.rpartition(":")
    if not host.startswith("127.") and host not in ("localhost", "::1"):
        print(f"netmon demo: --listen {args.listen}: only loopback is allowed", file=sys.stderr)
        return 2
    inventory = str(args.inventory or default_inventory_path())
    snmp_port = args.snmp_port or free_udp_port()
    env = {**os.environ}
    for name, value in SIMULATION_SECRETS.items():
        env.setdefault(name, value)
    netmon = [sys.executable, "-m", "netmon.cli", "--log-level", "WARNING"]
    simulate = [*netmon, "simulate", "--inventory", inventory, "--port", str(snmp_port)]
    control_port = free_tcp_port()
    simulate += ["--control-port", str(control_port)]
    run = [*netmon, "run", "--inventory", inventory, "--listen", args.listen]
    run += ["--port-override", str(snmp_port)]
    # The health view: per-device up/duration/varbinds without the 34 MB of interface tables.
    url = f"http://{args.listen}/health/metrics"
    state_url = f"http://{args.listen}/api/state"
    tty = sys.stdout.isatty()
    started = time.monotonic()

    def stop(signum: int, frame: object) -> None:
        # A terminal closing (SIGHUP) or a service manager (SIGTERM) must not orphan the
        # simulator and the collector: leave through the same cleanup as Ctrl-C.
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGHUP, stop)
    from netmon.event_demo import event_demo

    # Traps from the simulator to netmon, events from netmon to a Mosquitto on loopback.
    with (
        event_demo(args.mqtt_port) as events,
        _child([*simulate, *events.simulate_args], env) as sim,
        _child([*run, *events.run_args], env) as col,
        _alerting(args, Path(inventory)) as lab,
    ):
        before = None
        before_at = 0.0
        try:
            while not args.duration or time.monotonic() - started < args.duration:
                for name, proc in (("simulator", sim), ("collector", col)):
                    if proc.poll() is not None:
                        print(f"netmon demo: the {name} exited with {proc.returncode}")
                        return 1
                text = _fetch(url)
                if text is not None:
                    now = summarise(text)
                    at = time.monotonic()
                    title = (
                        f"netmon demo: {inventory}  simulator udp/{snmp_port}  "
                        f"metrics {url}  up {at - started:.0f} s  (Ctrl-C stops)"
                    )
                    doc = _fetch(state_url)
                    causes = outages(json.loads(doc)) if doc else None
                    pages = lab.pages() if lab is not None else None
                    screen = render(now, before, at - before_at, title, causes=causes, pages=pages)
                    if lab is not None:
                        screen += (
                            f"\nPrometheus {lab.stack.prometheus}  "
                            f"Alertmanager {lab.stack.alertmanager}  (rules: for: x "
                            f"{args.alert_time_scale:g}; mail and webhooks to local sinks)"
                        )
                    screen += (
                        "\n\ninject a failure from another terminal, e.g. a hub outage:\n"
                        f"  netmon control --control-port {control_port} site-outage 50\n"
                        f"  netmon control --control-port {control_port} clear"
                        f"\n\nNOC wall page (live map): http://{args.listen}/noc"
                        f"\n{events.hint}"
                    )
                    print(("\x1b[H\x1b[2J" if tty else "\n") + screen, flush=True)
                    before, before_at = now, at
                time.sleep(args.refresh)
        except KeyboardInterrupt:
            pass
    return 0
