"""``netmon alerts rules|alertmanager``: generate the Prometheus rules and the Alertmanager
configuration from the inventory (more actions, e.g. ``explain``, join the same group)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "alerts",
        help="generate Prometheus rules and the Alertmanager config",
        description="Alerting: Prometheus rules and Alertmanager routing, from the inventory.",
    )
    # One group for every alerting action: `explain` (what was kept quiet) joins it.
    asub = p.add_subparsers(dest="alerts_command", metavar="ACTION", required=True)
    r = asub.add_parser(
        "rules",
        help="write deploy/prometheus/rules/*.yml",
        description="Generate the recording and alerting rules from the inventory and "
        "collector/profiles.yaml.",
    )
    r.add_argument("--inventory", type=Path, help="inventory directory (default: the shipped one)")
    r.add_argument(
        "--out", type=Path, help="directory to write into (default: deploy/prometheus/rules)"
    )
    r.add_argument(
        "--grafana-url", help="base URL of Grafana for the dashboard links in annotations"
    )
    r.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="multiply every for: and range window by F (tests and the demo; shipped: 1)",
    )
    r.set_defaults(func=rules)

    a = asub.add_parser(
        "alertmanager",
        help="write deploy/alertmanager/alertmanager.yml",
        description="Generate the Alertmanager configuration from the routing file and the "
        "inventory.",
    )
    a.add_argument("--inventory", type=Path, help="inventory directory (default: the shipped one)")
    a.add_argument(
        "--routing", type=Path, help="routing file (default: alerting.yaml in the inventory)"
    )
    a.add_argument(
        "--out",
        type=Path,
        help="file to write (default: deploy/alertmanager/alertmanager.yml); - for stdout",
    )
    a.add_argument("--group-wait", help="override the routing file's group_wait (e.g. 1s)")
    a.add_argument("--group-interval", help="override group_interval")
    a.add_argument("--repeat-interval", help="override every repeat interval")
    a.set_defaults(func=alertmanager)

    e = asub.add_parser(
        "explain",
        help="what is down, dark or in maintenance now, and what each quiet device hangs on",
        description="Read a running netmon's /api/state and list every root cause (these page) "
        "with the devices that are unreachable because of it (these are kept quiet).",
    )
    e.add_argument(
        "--url",
        default="http://127.0.0.1:9800",
        help="base URL of netmon run (default http://127.0.0.1:9800)",
    )
    e.set_defaults(func=explain)


def _inventory(path: Path | None) -> Any:
    from netmon.errors import InventoryError
    from netmon.inventory.loader import default_inventory_path, load_inventory

    root = path or default_inventory_path()
    try:
        return root, load_inventory(root)
    except InventoryError as exc:
        print(f"{exc}\nthe inventory has problems: run `netmon inventory check`", file=sys.stderr)
        return root, None


def rules(args: argparse.Namespace) -> int:
    from netmon import links
    from netmon.alerting.rules import DEFAULT_OUT, context, write_rules

    _, inv = _inventory(args.inventory)
    if inv is None:
        return 1
    if args.time_scale <= 0:
        print("--time-scale must be > 0", file=sys.stderr)
        return 2
    ctx = context(
        inv, grafana_url=args.grafana_url or links.DEFAULT_GRAFANA_URL, time_scale=args.time_scale
    )
    for path in write_rules(ctx, args.out or DEFAULT_OUT):
        print(f"wrote {path}")
    return 0


def alertmanager(args: argparse.Namespace) -> int:
    from netmon.alerting.alertmanager import DEFAULT_OUT, Timing, render_config, write_config
    from netmon.alerting.routing import load_routing
    from netmon.errors import InventoryError

    root, inv = _inventory(args.inventory)
    if inv is None:
        return 1
    routing_path = args.routing or root / "alerting.yaml"
    if not routing_path.exists():
        print(f"{routing_path}: no routing file", file=sys.stderr)
        return 1
    try:
        routing = load_routing(routing_path, inv)
    except InventoryError as exc:
        print(exc, file=sys.stderr)
        return 1
    timing = Timing.override(
        routing.timing,
        group_wait=args.group_wait,
        group_interval=args.group_interval,
        repeat_interval=args.repeat_interval,
    )
    if str(args.out) == "-":  # the config only: its template is what a file run writes
        sys.stdout.write(render_config(routing, inv, timing))
        return 0
    for path in write_config(routing, inv, args.out or DEFAULT_OUT, timing):
        print(f"wrote {path}")
    return 0


def explain(args: argparse.Namespace) -> int:
    from netmon.explain import explain_text, fetch_state

    url = args.url.rstrip("/") + "/api/state"
    try:
        doc = fetch_state(url)
    except (OSError, ValueError) as exc:
        print(f"netmon alerts explain: cannot read {url}: {exc}", file=sys.stderr)
        return 1
    sys.stdout.write(explain_text(doc))
    return 0
