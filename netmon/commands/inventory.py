"""``netmon inventory check|show|generate``: validate, summarise or (re)generate the inventory."""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from pathlib import Path
from typing import Any


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "inventory",
        help="check, summarise or generate the inventory",
        description="Work with the YAML inventory (one file per province).",
    )
    isub = p.add_subparsers(dest="inventory_command", metavar="ACTION", required=True)
    c = isub.add_parser(
        "check",
        help="report every mistake as file:line:column",
        description="Load and cross-check the inventory; exit 1 if anything is wrong.",
    )
    c.add_argument(
        "path",
        nargs="?",
        help="inventory directory (default: $NETMON_INVENTORY or the repository's inventory/)",
    )
    c.add_argument(
        "--no-secrets",
        action="store_true",
        help="do not resolve env:/file: secret references (on a machine without the "
        "service's environment and secret files, e.g. a review CI)",
    )
    c.set_defaults(func=check)
    s = isub.add_parser(
        "show",
        help="counts per region and province, platform mix, topology",
        description="Summarise a valid inventory.",
    )
    s.add_argument("path", nargs="?", help="inventory directory")
    s.add_argument(
        "--shards",
        type=int,
        default=None,
        metavar="N",
        help="also print which provinces each of N shards polls (`netmon run --shard K/N`)",
    )
    s.set_defaults(func=show)
    g = isub.add_parser(
        "generate",
        help="write a first version from geothai + coordinates.csv",
        description="Generate the inventory (77 province files) into DIR.",
    )
    g.add_argument("--out", required=True, type=Path, help="directory to write into")
    g.add_argument(
        "--scale",
        type=int,
        default=1,
        help="N times the devices: every district gets N-1 office routers behind its router "
        "(10 makes ~10,000 devices, for benchmarks; default 1, the real backbone)",
    )
    g.set_defaults(func=generate)


def _root(arg: str | None) -> Path:
    from netmon.inventory.loader import default_inventory_path

    return Path(arg) if arg else default_inventory_path()


def _display(file: str) -> str:
    """The path relative to the working directory when it lies below it.

    abspath, not resolve(): a self-pointing symlink made resolve() raise (RuntimeError in
    3.11) while printing the very problem that reports it."""
    try:
        absolute = Path(os.path.abspath(file))
        return os.path.relpath(absolute) if absolute.is_relative_to(Path.cwd()) else file
    except ValueError:
        return file


def check(args: argparse.Namespace) -> int:
    from netmon.errors import InventoryError
    from netmon.inventory.loader import iter_files, load_inventory

    root = _root(args.path)
    try:
        inv = load_inventory(root, check_secrets=not args.no_secrets)
        extra = _check_alerting_files(root, inv)
    except InventoryError as exc:
        for p in exc.problems:
            print(f"{_display(p.file)}:{p.line}:{p.column}: {p.message}")
        files = len({p.file for p in exc.problems})
        n = len(exc.problems)
        print(
            f"inventory has {n} problem{'s' if n != 1 else ''} in {files} "
            f"file{'s' if files != 1 else ''}: nothing was changed",
            file=sys.stderr,
        )
        return 1
    print(
        f"inventory OK: {len(inv.sites)} sites, {len(inv.devices())} devices, "
        f"{len(inv.links())} links in {len(iter_files(root))} files"
    )
    for line in extra:
        print(line)
    return 0


def _check_alerting_files(root: Path, inv: Any) -> list[str]:
    """Also check maintenance.yaml and alerting.yaml when present; raise InventoryError with
    the problems of both (the inventory itself is fine by now)."""
    from netmon.alerting.routing import ROUTING_FILE, check_routing_text
    from netmon.errors import InventoryError, Problem
    from netmon.state.maintenance import MAINTENANCE_FILE, check_maintenance_text

    problems: list[Problem] = []
    lines = []

    def read(name: str) -> str | None:
        path = root / name
        try:
            return path.read_text(encoding="utf-8") if path.exists() else None
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(Problem(str(path), 1, 1, f"cannot read the file: {exc}"))
            return None

    text = read(MAINTENANCE_FILE)
    if text is not None:
        plan, found = check_maintenance_text(str(root / MAINTENANCE_FILE), text, inv)
        problems += found
        lines.append(f"{MAINTENANCE_FILE} OK: {len(plan.windows)} maintenance windows")
    text = read(ROUTING_FILE)
    if text is not None:
        routing, found = check_routing_text(str(root / ROUTING_FILE), text, inv)
        problems += found
        if routing is not None:
            lines.append(
                f"{ROUTING_FILE} OK: {len(routing.teams)} teams, {len(routing.receivers)} receivers"
            )
    if problems:
        raise InventoryError(problems)
    return lines


def show(args: argparse.Namespace) -> int:
    from netmon.errors import InventoryError
    from netmon.inventory.loader import load_inventory
    from netmon.inventory.model import SiteKind
    from netmon.inventory.topology import Topology

    root = _root(args.path)
    try:
        inv = load_inventory(root)
    except InventoryError as exc:
        print(f"{exc}\nthe inventory has problems: run `netmon inventory check`", file=sys.stderr)
        return 1
    topo = Topology.build(inv)
    region_of = {ps.province.code: ps.province.region.value for ps in inv.sites}
    rows: dict[str, Counter[str]] = {}
    names = {ps.province.code: ps.province.name_en for ps in inv.sites}
    for ps in inv.sites:
        code = ps.province.code
        c = rows.setdefault(code, Counter())
        c["sites"] += 1
        c["devices"] += len(ps.site.devices)
        c["links"] += len(ps.site.links)
        c["dual"] += ps.site.kind is not SiteKind.centre and topo.is_dual_homed(ps.site.code)
    head = f"{'province':<32} {'region':<10} {'sites':>5} {'devices':>7} {'links':>5} {'dual':>4}"
    print(head)
    print("-" * len(head))
    by_region: dict[str, Counter[str]] = {}
    for code in sorted(rows, key=lambda c: (region_of.get(c, "central"), c)):
        c = rows[code]
        region = region_of.get(code, "central")
        by_region.setdefault(region, Counter()).update(c)
        label = f"{code} {names.get(code, '?')}"
        print(
            f"{label:<32} {region:<10} {c['sites']:>5} {c['devices']:>7} {c['links']:>5} "
            f"{c['dual']:>4}"
        )
    print()
    print(f"{'region':<43} {'sites':>5} {'devices':>7} {'links':>5} {'dual':>4}")
    total: Counter[str] = Counter()
    for region, c in sorted(by_region.items()):
        total.update(c)
        print(f"{region:<43} {c['sites']:>5} {c['devices']:>7} {c['links']:>5} {c['dual']:>4}")
    print(
        f"{'total':<43} {total['sites']:>5} {total['devices']:>7} {total['links']:>5} "
        f"{total['dual']:>4}"
    )
    devices = [d for _, d in inv.devices()]
    default = inv.defaults.credentials
    for title, counter in (
        ("platforms", Counter(d.platform.value for d in devices)),
        ("roles", Counter(d.role.value for d in devices)),
        ("methods", Counter("+".join(m.value for m in d.methods) for d in devices)),
        ("credentials", Counter(d.credentials or f"{default} (default)" for d in devices)),
        ("site kinds", Counter(ps.site.kind.value for ps in inv.sites)),
    ):
        mix = ", ".join(f"{k} {v}" for k, v in counter.most_common())
        print(f"\n{title}: {mix}")
    depth = Counter(topo.depth(d.name) for d in devices)
    print(
        "\ntopology depth (hops from a centre core): "
        + ", ".join(f"{k}: {v} devices" for k, v in sorted(depth.items()))
    )
    kinds = Counter(ps.site.kind.value for ps in inv.sites)
    print(
        f"centre -> {kinds['province']} provincial hubs -> {kinds['district']} districts "
        f"(deepest path {max(depth)} hops)"
    )
    dual = [
        ps.site.code
        for ps in inv.sites
        if ps.site.kind is not SiteKind.centre and topo.is_dual_homed(ps.site.code)
    ]
    print(f"dual-homed sites ({len(dual)}): {', '.join(dual)}")
    if args.shards is not None:
        if args.shards < 1:
            print("--shards: want N >= 1", file=sys.stderr)
            return 2
        print()
        print_shards(inv, args.shards)
    return 0


def print_shards(inv: Any, count: int) -> None:
    """Each shard's provinces, devices it owns and upstream devices it probes only."""
    from collector.shards import Shard, assignment
    from collector.targets import targets_from_inventory

    names = {ps.province.code: ps.province.name_en for ps in inv.sites}
    plan = assignment(names, count)
    head = f"{'shard':<7} {'provinces':>9} {'devices':>7} {'probe-only':>10}"
    print(f"shards: {count} (rendezvous hashing on the province code)")
    print(head)
    print("-" * len(head))
    lines = []
    for k, codes in plan.items():
        targets = targets_from_inventory(inv, shard=Shard(k, count)).values()
        probe = sum(t.probe_only for t in targets)
        print(f"{f'{k}/{count}':<7} {len(codes):>9} {len(targets) - probe:>7} {probe:>10}")
        lines.append(f"{k}/{count}: " + ", ".join(f"{c} {names[c]}" for c in codes))
    print()
    print("\n".join(lines))


def generate(args: argparse.Namespace) -> int:
    from netmon.inventory.generate import MAX_SCALE
    from netmon.inventory.generate import generate as write

    if not 1 <= args.scale <= MAX_SCALE:
        print(f"--scale: want 1..{MAX_SCALE}", file=sys.stderr)
        return 2
    files, sites = write(args.out, scale=args.scale)
    print(f"wrote {files} files ({sites} sites) into {args.out}")
    print(f"check it with: netmon inventory check {args.out}")
    return 0
