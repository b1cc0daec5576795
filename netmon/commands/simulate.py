"""``netmon simulate``: every inventory device as an SNMP agent on its own loopback address."""

from __future__ import annotations

import argparse
import ipaddress
import logging
from pathlib import Path

from netmon.simulator import ssh_setup

log = logging.getLogger("netmon.simulate")


def loopback_hostport(value: str) -> tuple[str, int]:
    """``HOST:PORT`` on loopback only (the simulator never sends anywhere else)."""
    host, sep, port = value.rpartition(":")
    host = host.strip("[]")
    try:
        if not sep or not ipaddress.ip_address(host).is_loopback:
            raise ValueError
        number = int(port)
        if not 1 <= number <= 65535:
            raise ValueError
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r}: give a loopback HOST:PORT such as 127.0.0.1:9162"
        ) from None
    return host, number


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "simulate",
        help="serve every inventory device as a simulated SNMP agent on loopback",
        description=(
            "Serve each device of the inventory as an SNMP v1/v2c/v3 agent on its own loopback "
            "address (one process, one UDP socket per device), with a control endpoint for "
            "failure injection (see `netmon control`)."
        ),
    )
    p.add_argument("--inventory", type=Path, default=None, help="inventory directory")
    p.add_argument("--port", type=int, default=None, help="UDP port for every device")
    p.add_argument("--control-port", type=int, default=9161, help="control HTTP port (loopback)")
    p.add_argument(
        "--control-host",
        default="127.0.0.1",
        help="control endpoint address (default loopback; another address needs --control-token, "
        "e.g. for a training room)",
    )
    p.add_argument(
        "--control-token",
        default=None,
        metavar="env:NAME|file:/path",
        help="require this token (a secret reference) on every control request",
    )
    p.add_argument(
        "--trap-target",
        type=loopback_hostport,
        default=None,
        metavar="HOST:PORT",
        help="send traps (linkDown/linkUp/coldStart; v2c, or v3 from SNMPv3 devices) to this "
        "loopback receiver",
    )
    p.add_argument(
        "--inform-target",
        type=loopback_hostport,
        default=None,
        metavar="HOST:PORT",
        help="send the same notifications as InformRequests (v2c, or v3 from SNMPv3 devices) "
        "to this loopback receiver, resent until acknowledged",
    )
    p.add_argument(
        "--inform-retries",
        type=int,
        default=3,
        help="resends of an unacknowledged inform before giving up (default 3)",
    )
    p.add_argument(
        "--inform-timeout",
        type=float,
        default=1.0,
        help="seconds to wait for an inform's acknowledgement (default 1)",
    )
    p.add_argument(
        "--latency-scale",
        type=float,
        default=1.0,
        help="multiply each device's distance latency (0 answers at once)",
    )
    ssh_setup.add_arguments(p)
    p.set_defaults(func=run)


def _is_loopback(host: str) -> bool:
    import ipaddress

    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def run(args: argparse.Namespace) -> int:
    import asyncio
    import signal
    import time

    from netmon.errors import NetmonError
    from netmon.inventory.loader import default_inventory_path, load_inventory
    from netmon.simulator.backbone import Backbone, build
    from netmon.simulator.server import Simulator
    from netmon.simulator.v3 import make_v3_agent

    path = args.inventory or default_inventory_path()
    started = time.monotonic()
    try:
        inventory = load_inventory(path)
        nodes, links = build(inventory, now=time.time(), port=args.port, v3_factory=make_v3_agent)
    except NetmonError as exc:
        log.error("cannot start the simulator: %s", exc)
        return 2
    token = None
    if args.control_token is not None:
        from netmon.inventory.secrets import resolve_secret

        try:
            token = resolve_secret(args.control_token)
        except NetmonError as exc:
            log.error("cannot start the simulator: %s", exc)
            return 2
    if not _is_loopback(args.control_host) and token is None:
        log.error(
            "cannot start the simulator: control on %s (not loopback) needs --control-token",
            args.control_host,
        )
        return 2
    backbone = Backbone(
        nodes,
        links,
        latency_scale=args.latency_scale,
        trap_target=args.trap_target,
        inform_target=args.inform_target,
        inform_timeout=args.inform_timeout,
        inform_retries=args.inform_retries,
    )
    sim = Simulator(
        backbone,
        control_host=args.control_host,
        control_port=args.control_port,
        control_token=token,
    )

    async def main() -> int:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await sim.start()
            ssh = await ssh_setup.start(args, inventory, backbone)
        except NetmonError as exc:
            log.error("cannot start the simulator: %s", exc)
            await sim.stop()
            return 2
        v3 = sum(1 for n in nodes if n.v3 is not None)
        ports = sorted({n.dev.port for n in nodes})
        log.info(
            "serving %d devices (v2c %d, v3 %d) on loopback UDP port %s; control on "
            "http://%s:%d%s; started in %.2fs",
            len(nodes),
            len(nodes) - v3,
            v3,
            ",".join(map(str, ports)),
            args.control_host,
            args.control_port,
            " (token required)" if token else "",
            time.monotonic() - started,
        )
        await stop.wait()
        log.info("stopping")
        if ssh is not None:
            await ssh.stop()
        await sim.stop()
        return 0

    return asyncio.run(main())
