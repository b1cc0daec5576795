"""Run every ``bench/*.py`` module that has a ``main()``, in name order."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def run_all() -> int:
    here = Path(__file__).parent
    for info in sorted(pkgutil.iter_modules([str(here)]), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"bench.{info.name}")
        if callable(getattr(module, "main", None)):
            print(f"\n=== bench.{info.name} ===", flush=True)
            module.main()
    return 0


if __name__ == "__main__":
    sys.exit(run_all())
