"""Loading the shipped inventory (80 files, ~21k lines, 1,005 sites, 1,031 devices).

Run: ``.venv/bin/python -m bench.inventory_load``. Each variant runs in its own fresh Python
process (so peak RSS is its own), 7 times (the slow peer 3); the table shows median and min
wall and CPU seconds per load, and the process's peak RSS. Peer in the same run:
ruamel.yaml's round-trip loader (the position-keeping parser one would reach for first)
parsing the same files, without any validation.
"""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

RUNS = 7
PEER_RUNS = 3  # the peer takes ~5 s per load
ROOT = Path(__file__).resolve().parent.parent / "inventory"


def _one(variant: str) -> dict[str, float]:
    """Measure one variant RUNS times in this process; print JSON."""
    from netmon.inventory.loader import iter_files, load_inventory

    files = iter_files(ROOT)
    if variant == "netmon":

        def work() -> None:
            load_inventory(ROOT)

    elif variant == "netmon-parse":
        from netmon.inventory.yamlpos import parse

        def work() -> None:
            for f in files:
                parse(str(f), f.read_text(encoding="utf-8"))

    else:
        from ruamel.yaml import YAML

        def work() -> None:
            y = YAML()  # round-trip: every node keeps its line/column
            for f in files:
                y.load(f.read_text(encoding="utf-8"))

    walls, cpus = [], []
    runs = RUNS if variant.startswith("netmon") else PEER_RUNS
    for _ in range(runs):
        w, c = time.perf_counter(), time.process_time()
        work()
        cpus.append(time.process_time() - c)
        walls.append(time.perf_counter() - w)
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "wall_med": statistics.median(walls),
        "wall_min": min(walls),
        "cpu_med": statistics.median(cpus),
        "cpu_min": min(cpus),
        "rss": rss_mib,
        "runs": runs,
    }


VARIANTS = (
    ("netmon", "netmon load_inventory (parse + validate + cross-check)"),
    ("netmon-parse", "netmon parse only (libyaml composer + position index)"),
    ("ruamel-rt", "peer: ruamel.yaml round-trip load only"),
)


def main() -> None:
    results = {}
    for variant, _ in VARIANTS:
        out = subprocess.run(
            [sys.executable, "-m", "bench.inventory_load", "--one", variant],
            check=True,
            capture_output=True,
            text=True,
            cwd=ROOT.parent,
        )
        results[variant] = json.loads(out.stdout)
    from netmon.inventory.loader import iter_files

    print(f"inventory: {ROOT} ({len(iter_files(ROOT))} files read)")
    head = (
        f"{'variant':<58} {'runs':>4} {'wall med':>9} {'wall min':>9} {'CPU med':>8} "
        f"{'CPU min':>8} {'peak RSS':>9}"
    )
    print(head)
    print("-" * len(head))
    for variant, label in VARIANTS:
        r = results[variant]
        print(
            f"{label:<58} {r['runs']:>4.0f} {r['wall_med']:>8.3f}s {r['wall_min']:>8.3f}s "
            f"{r['cpu_med']:>7.3f}s {r['cpu_min']:>7.3f}s {r['rss']:>6.0f} MiB"
        )
    ratio = results["ruamel-rt"]["cpu_med"] / results["netmon"]["cpu_med"]
    print(f"\nruamel round-trip parse alone / netmon full load (CPU medians): {ratio:.1f}x")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--one":
        print(json.dumps(_one(sys.argv[2])))
    else:
        main()
