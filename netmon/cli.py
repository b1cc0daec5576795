"""The one ``netmon`` command. Each subcommand lives in ``netmon.commands.<name>`` and exposes
``register(subparsers)``; they import their heavy modules lazily so ``--help`` stays fast."""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys
from collections.abc import Sequence

import netmon.commands
from netmon import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="netmon",
        description="Network monitoring for the Ministry of Interior ICT backbone.",
    )
    parser.add_argument("--version", action="version", version=f"netmon {__version__}")
    parser.add_argument(
        "--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"]
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    # Every module in netmon.commands is a subcommand: adding one needs no edit here.
    for info in sorted(pkgutil.iter_modules(netmon.commands.__path__), key=lambda m: m.name):
        name = info.name
        module = importlib.import_module(f"netmon.commands.{name}")
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        rc: int = args.func(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `netmon inventory show | head`: the reader left; say nothing more.
        sys.stderr.close()
        return 141
    return rc


if __name__ == "__main__":
    sys.exit(main())
