"""``netmon deploy generate``: the HA installation's configuration from the inventory."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def _machine(value: str) -> tuple[str, str]:
    name, sep, host = value.partition("=")
    if not sep or not name.isalnum() or not host:
        raise argparse.ArgumentTypeError(f"{value!r}: want NAME=HOST, e.g. a=netmon-a")
    return name, host


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "deploy",
        help="generate the configuration of an HA installation (VictoriaMetrics, Alertmanager)",
        description="Configuration for every machine of an installation: shard listen "
        "addresses, vmagent scrape configs, VictoriaMetrics deduplication, vmalert and "
        "Alertmanager cluster flags (README: Deploying).",
    )
    dsub = p.add_subparsers(dest="deploy_command", metavar="ACTION", required=True)
    g = dsub.add_parser("generate", help="write OUT/<machine>/etc/... for every machine")
    g.add_argument("--inventory", type=Path, default=None, help="inventory directory")
    g.add_argument("--shards", type=int, required=True, help="number of shards")
    g.add_argument(
        "--machine",
        type=_machine,
        action="append",
        default=None,
        metavar="NAME=HOST",
        help="a machine of the pair, its replica name and host (default: a=netmon-a b=netmon-b)",
    )
    g.add_argument(
        "--mqtt-url",
        default=None,
        metavar="URL",
        help="the broker every replica publishes events to (mqtt:// or mqtts://); each "
        "machine gets it with its --replica name: one publisher per pair, automatic failover",
    )
    g.add_argument("--scrape-interval", default="30s", help="also the deduplication interval")
    g.add_argument("--out", type=Path, required=True, help="directory to write into")
    g.set_defaults(func=generate)


def generate(args: argparse.Namespace) -> int:
    from netmon.deployment import Machine, Plan, machine_files
    from netmon.errors import InventoryError
    from netmon.inventory.loader import default_inventory_path, load_inventory

    if args.shards < 1:
        print("--shards: want N >= 1", file=sys.stderr)
        return 2
    try:
        inv = load_inventory(args.inventory or default_inventory_path())
    except InventoryError as exc:
        print(f"{exc}\nrun `netmon inventory check`", file=sys.stderr)
        return 1
    kwargs: dict[str, Any] = {"scrape_interval": args.scrape_interval, "mqtt_url": args.mqtt_url}
    if args.mqtt_url is not None:
        from exporters.mqtt_topics import parse_mqtt_url
        from netmon.errors import ConfigError

        try:
            parse_mqtt_url(args.mqtt_url)
        except ConfigError as exc:
            print(f"--mqtt-url: {exc}", file=sys.stderr)
            return 2
    if args.machine:
        kwargs["machines"] = tuple(Machine(n, h) for n, h in args.machine)
    plan = Plan(args.shards, **kwargs)
    # every province a device is placed in (the centre is Bangkok's, file or not)
    provinces = sorted({ps.province.code for ps in inv.sites})
    written = 0
    for machine in plan.machines:
        for rel, text in machine_files(plan, machine.name, provinces).items():
            path = args.out / machine.name / "etc" / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            written += 1
    print(f"wrote {written} files for {len(plan.machines)} machines into {args.out}")
    return 0
