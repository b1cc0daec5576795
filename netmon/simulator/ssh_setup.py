"""``netmon simulate``'s SSH side: options, and the SSH listeners of the devices that list
``ssh`` (each accepts its own credential profile's username and password)."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable
from pathlib import Path

from netmon.inventory.model import Inventory, Method
from netmon.simulator.backbone import Backbone, SimulatorError
from netmon.simulator.cli_state import CliFaultBook
from netmon.simulator.ssh_server import SshSimulator

log = logging.getLogger(__name__)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--ssh-port",
        type=int,
        default=None,
        help="serve SSH on this port of every device that lists ssh (default: no SSH)",
    )
    p.add_argument(
        "--ssh-known-hosts",
        type=Path,
        default=None,
        help="write the SSH devices' host keys here (a known-hosts file for `netmon run`)",
    )
    p.add_argument(
        "--ssh-key-seed",
        default="netmon-sim",
        help="host keys are derived from this and the device name (change it: new keys)",
    )


def logins(
    inventory: Inventory, resolve: Callable[[str], str] | None = None
) -> dict[str, tuple[str, str]]:
    if resolve is None:
        from netmon.inventory.secrets import resolve_secret

        resolve = resolve_secret
    out: dict[str, tuple[str, str]] = {}
    for _, device in inventory.devices():
        if Method.ssh not in device.methods:
            continue
        name = device.credentials or inventory.defaults.credentials
        profile = inventory.profile(name) if name else None
        if profile is None or profile.ssh is None or profile.ssh.password is None:
            continue
        try:
            out[device.name] = (profile.ssh.username, resolve(profile.ssh.password))
        except Exception as exc:
            raise SimulatorError(f"device {device.name}: {exc}") from exc
    return out


def known_hosts(inventory: Inventory, port: int, seed: str = "netmon-sim") -> str:
    """The known-hosts lines of the simulated SSH devices (what ``start`` writes), without
    starting them: the keys are derived from the seed and the device names."""
    from netmon.simulator.ssh_server import host_key

    lines = []
    for _, device in inventory.devices():
        if Method.ssh in device.methods:
            pub = host_key(device.name, seed).export_public_key("openssh").decode().split()
            host = device.address if port == 22 else f"[{device.address}]:{port}"
            lines.append(f"{host} {pub[0]} {pub[1]}")
    return "\n".join(lines) + "\n"


async def start(
    args: argparse.Namespace, inventory: Inventory, backbone: Backbone
) -> SshSimulator | None:
    if args.ssh_port is None:
        return None
    book = CliFaultBook(backbone)
    backbone.extensions.append(book.control)
    backbone.status_extras["cli_faults"] = book.status
    sim = SshSimulator(
        backbone, logins(inventory), port=args.ssh_port, key_seed=args.ssh_key_seed, book=book
    )
    await sim.start()
    if args.ssh_known_hosts is not None:
        args.ssh_known_hosts.write_text(sim.known_hosts())
    log.info(
        "SSH on port %d of %d devices%s",
        args.ssh_port,
        len(sim.devices),
        f"; host keys in {args.ssh_known_hosts}" if args.ssh_known_hosts else "",
    )
    return sim
