"""``netmon run``: poll the inventory's devices and serve Prometheus metrics until stopped."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from netmon.event_loop import DEFAULT_LOOP, LOOPS
from netmon.event_options import add_arguments as add_event_arguments
from netmon.event_options import options_from_args as event_options

if TYPE_CHECKING:
    from exporters.web_config import WebConfig
    from netmon.event_wiring import EventOptions

from collector.shards import Shard
from collector.ssh_targets import SshOptions
from netmon.ssh_wiring import add_ssh_arguments, ssh_options

log = logging.getLogger("netmon.run")

DEFAULT_LISTEN = "127.0.0.1:9800"


def parse_listen(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError(f"not HOST:PORT: {value!r}")
    host = host.strip("[]") or "127.0.0.1"
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an IP address: {host!r}") from None
    return host, int(port)


def is_loopback(host: str) -> bool:
    return ipaddress.ip_address(host).is_loopback


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "run",
        help="poll the devices and serve /metrics",
        description="Run the SNMP collector and the Prometheus exporter until SIGINT/SIGTERM. "
        "SIGHUP (or editing any inventory file) reloads the inventory.",
    )
    p.add_argument("--inventory", type=Path, default=None, help="inventory directory")
    p.add_argument(
        "--listen",
        type=parse_listen,
        default=DEFAULT_LISTEN,
        help=f"HOST:PORT for /metrics (default {DEFAULT_LISTEN})",
    )
    p.add_argument(
        "--allow-non-loopback",
        action="store_true",
        help="allow --listen on an address other than loopback",
    )
    p.add_argument(
        "--port-override",
        type=int,
        default=None,
        help="poll every device on this UDP port (the simulator serves all on one port)",
    )
    p.add_argument("--concurrency", type=int, default=64, help="polls at once (default 64)")
    p.add_argument(
        "--snmp-source",
        default=None,
        help="local address of the SNMP socket (default: 127.0.0.1 while every device is on "
        "loopback, else 0.0.0.0 so the kernel picks the route's source)",
    )
    p.add_argument(
        "--transport",
        choices=["fast", "pysnmp"],
        default="fast",
        help="SNMP on netmon's own codec (fast, default) or on pysnmp (the reference)",
    )
    p.add_argument(
        "--web-config",
        type=Path,
        default=None,
        help="TLS and basic auth: a Prometheus exporter-toolkit web-config file "
        "(tls_server_config, basic_auth_users with bcrypt hashes)",
    )
    p.add_argument(
        "--scrape-password-file",
        default="/etc/prometheus/netmon.password",
        help="with --print-scrape-config and basic auth: where Prometheus reads the password",
    )
    p.add_argument(
        "--probe-interval",
        type=float,
        default=None,
        help="seconds between reachability probes of every device (default: the inventory's "
        "probe_interval, 5; 0: none, for measuring what they cost)",
    )
    p.add_argument(
        "--event-loop",
        choices=LOOPS,
        default=DEFAULT_LOOP,
        help=f"the asyncio event loop (default {DEFAULT_LOOP}; uvloop where installed: no "
        "consistent difference measured, see the README's collector benchmarks)",
    )
    p.add_argument(
        "--shard",
        type=_shard,
        default=None,
        metavar="K/N",
        help="poll only shard K of N: its provinces (rendezvous hashing on the province code, "
        "see `netmon inventory show --shards N`) plus their upstream devices for reachability",
    )
    p.add_argument(
        "--print-scrape-config",
        action="store_true",
        help="print the Prometheus scrape configuration for this exporter and exit",
    )
    add_event_arguments(p)
    add_ssh_arguments(p)
    p.set_defaults(func=handle)


def _shard(value: str) -> Shard:
    try:
        return Shard.parse(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def handle(args: argparse.Namespace) -> int:
    host, port = args.listen
    if not is_loopback(host) and not args.allow_non_loopback:
        print(
            f"netmon run: refusing to listen on {host} (not loopback); "
            "pass --allow-non-loopback to mean it",
            file=sys.stderr,
        )
        return 2
    from exporters.web_config import WebConfig, load_web_config
    from netmon.errors import ConfigError, InventoryError
    from netmon.inventory.loader import default_inventory_path, load_inventory

    path = args.inventory or default_inventory_path()
    web = WebConfig()
    if args.web_config is not None:
        try:
            web = load_web_config(args.web_config)
        except ConfigError as exc:
            print(f"netmon run: {exc}", file=sys.stderr)
            return 2
    if args.print_scrape_config:
        from exporters.scrape_config import ScrapeAuth, scrape_config

        try:
            inv = load_inventory(path)
        except InventoryError as exc:
            print(exc, file=sys.stderr)
            return 2
        address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        auth = ScrapeAuth.for_web(web, args.scrape_password_file)
        sys.stdout.write(scrape_config(address, [p.code for p in inv.provinces], auth=auth))
        return 0
    try:
        events = event_options(args)
    except ConfigError as exc:
        print(f"netmon run: {exc}", file=sys.stderr)
        return 2
    return _serve(
        path,
        host,
        port,
        args.port_override,
        args.concurrency,
        args.transport,
        args.snmp_source,
        web,
        args.probe_interval,
        args.shard,
        events,
        ssh=ssh_options(args),
        event_loop=args.event_loop,
    )


def _serve(
    path: Path,
    host: str,
    port: int,
    port_override: int | None,
    concurrency: int,
    transport: str,
    snmp_source: str | None,
    web: WebConfig,
    probe_interval: float | None = None,
    shard: Shard | None = None,
    events: EventOptions | None = None,
    ssh: SshOptions | None = None,
    event_loop: str = DEFAULT_LOOP,
) -> int:
    import asyncio
    import signal

    from netmon.event_loop import EventLoopError, run
    from netmon.service import Service

    async def main() -> int:
        stop = asyncio.Event()
        service = Service(
            path,
            port_override=port_override,
            concurrency=concurrency,
            transport=transport,
            snmp_source=snmp_source,
            web=web,
            probe_interval=probe_interval,
            shard=shard,
            events=events,
            ssh=ssh,
        )
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGINT, stop.set)
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        loop.add_signal_handler(signal.SIGHUP, service.request_reload)
        return await service.run(host, port, stop)

    try:
        return run(main(), event_loop)
    except EventLoopError as exc:  # raised before anything started
        print(f"netmon run: {exc}", file=sys.stderr)
        return 2
