"""The SSH part of ``netmon run``'s wiring, kept here so ``netmon/service.py`` needs only a
few one-line hooks: the command-line options, the composite collector the scheduler sees,
the targets (CLI-only devices included), the cabling topology and the SSH metric families."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from collector.model import DeviceState, Target
from collector.multi_collector import MultiCollector
from collector.ssh_collector import SshCollector
from collector.ssh_profiles import load_ssh_profiles
from collector.ssh_session import HostKeys
from collector.ssh_targets import SshOptions, cli_only_targets, topology
from exporters import ssh_families
from exporters.families import Family
from netmon.inventory.model import Inventory

log = logging.getLogger(__name__)


def add_ssh_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("SSH collection (devices that list ssh)")
    g.add_argument(
        "--ssh-known-hosts",
        type=Path,
        default=None,
        help="known-hosts file the devices' SSH host keys are checked against; without it "
        "(and without --ssh-trust-on-first-use) SSH collection is off",
    )
    g.add_argument(
        "--ssh-trust-on-first-use",
        action="store_true",
        help="add an unknown device's host key to the known-hosts file at its first login "
        "(a changed key is still refused)",
    )
    g.add_argument("--ssh-port", type=int, default=None, help="SSH port of every device")
    g.add_argument(
        "--ssh-interval", type=float, default=300.0, help="seconds between SSH polls (300)"
    )
    g.add_argument("--ssh-workers", type=int, default=8, help="SSH sessions at once (8)")


def ssh_options(args: argparse.Namespace) -> SshOptions | None:
    known = args.ssh_known_hosts
    if known is None and not args.ssh_trust_on_first_use:
        return None
    if known is None:
        known = Path("ssh_known_hosts")
    return SshOptions(
        known_hosts=known,
        trust_on_first_use=args.ssh_trust_on_first_use,
        port=args.ssh_port,
        interval=args.ssh_interval,
        workers=args.ssh_workers,
    )


class SshHook:
    """SSH collection when ``options`` is given; otherwise SNMP only, unchanged."""

    def __init__(self, options: SshOptions | None) -> None:
        self.options = options
        self.ssh: SshCollector | None = None
        self.collector: MultiCollector | None = None

    def wrap(self, snmp: Any) -> Any:
        if self.options is None:
            return snmp
        o = self.options
        self.ssh = SshCollector(
            load_ssh_profiles(),
            HostKeys(o.known_hosts, o.trust_on_first_use),
            workers=o.workers,
            port_override=o.port,
        )
        self.collector = MultiCollector(snmp, self.ssh, ssh_interval=o.interval)
        return self.collector

    def extend(self, inv: Inventory, targets: dict[str, Target]) -> dict[str, Target]:
        """``targets`` (the SNMP ones) plus the CLI-only devices; refreshes the topology the
        cabling check compares LLDP with."""
        if self.ssh is None:
            return targets
        self.ssh.topology = topology(inv)
        return {**cli_only_targets(inv), **targets}

    def families(self, states: list[DeviceState]) -> list[Family]:
        if self.ssh is None:
            return []
        return ssh_families.families(states, self.ssh.health)

    def close(self) -> None:
        if self.collector is not None:
            self.collector.close()
        if self.ssh is not None:
            self.ssh.close()
