"""``netmon dashboards generate|push``: the Grafana dashboards, generated as code."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("dashboards", help="generate the Grafana dashboards or push them")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True)
    gen = verbs.add_parser("generate", help="write dashboards/*.json (stable UIDs)")
    gen.add_argument("--out", type=Path, default=None, help="directory (default: dashboards/)")
    gen.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 if the files differ from what would be generated",
    )
    gen.set_defaults(func=_generate)
    push = verbs.add_parser("push", help="upload every dashboard to a Grafana (idempotent)")
    push.add_argument("--url", required=True, help="Grafana base URL, e.g. http://127.0.0.1:3000")
    push.add_argument(
        "--token",
        required=True,
        help="API token reference: env:VAR or file:/path (a service account token)",
    )
    push.add_argument("--folder", default="netmon", help="folder uid and title (default netmon)")
    push.set_defaults(func=_push)


def _generate(args: argparse.Namespace) -> int:
    from netmon.dashboards.generate import DEFAULT_DIR, all_dashboards, render, write

    out: Path = args.out or DEFAULT_DIR
    if args.check:
        stale = [
            uid
            for uid, data in all_dashboards().items()
            if not (out / f"{uid}.json").exists()
            or (out / f"{uid}.json").read_text(encoding="utf-8") != render(data)
        ]
        for uid in stale:
            print(f"{out / uid}.json: differs from the generator", file=sys.stderr)
        return 1 if stale else 0
    for path, action in write(out):
        print(f"{action:9} {path}")
    return 0


def _push(args: argparse.Namespace) -> int:
    from netmon.dashboards.generate import all_dashboards
    from netmon.dashboards.push import PushError, push

    try:
        changes = push(
            args.url, args.token, all_dashboards(), folder_uid=args.folder, folder_title=args.folder
        )
    except PushError as exc:
        print(f"push failed: {exc}", file=sys.stderr)
        return 1
    for c in changes:
        print(f"{c.action:9} {c.kind:9} {c.uid}  {c.title}")
    changed = sum(c.action != "unchanged" for c in changes)
    print(f"{changed} changed, {len(changes) - changed} unchanged")
    return 0
