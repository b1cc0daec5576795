"""Rates on the whole simulated backbone: PromQL over the dashboards' window against netmon's
own rate gauge, with the shipped intervals (60 s poll, 30 s scrape).

Run: ``.venv/bin/python -m bench.rates [--evaluations N]`` (about 8 minutes: the window must
fill). ``netmon simulate`` serves the shipped backbone (1,031 devices), ``netmon run`` polls
it, a real Prometheus scrapes it with the generated scrape config (77 province slices). Then,
at N instants a few seconds apart (so the scrape phase varies), for every link interface and
direction: the ratio of

- the dashboards' query, ``rate(x[5m] offset 1m) * 8`` (netmon/rate_window.py),
- the same without the offset, ``rate(x[5m]) * 8``,
- the old mistake, ``rate(x[1m]) * 8``,

to ``avg_over_time(netmon_interface_*_bits_per_second)`` over the same range (the gauge
instant for ``[1m]``). Printed: the share with no value at all, and of the rest the share
within 5 %, the median and the worst error. The simulator's traffic steps on the hour (its
office-hours profile): a window across a full hour compares slightly different spans (the
gauge lags by up to a poll), so run it clear of one.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from exporters.scrape_config import scrape_config
from netmon.inventory.loader import default_inventory_path, load_inventory
from netmon.ports import free_tcp_port, free_udp_port
from netmon.procs import running, wait_for
from netmon.rate_window import RATE_OFFSET, RATE_WINDOW, rate_offset_seconds, rate_window_seconds
from netmon.simulator.secrets import SIMULATION_SECRETS

NETMON = [sys.executable, "-m", "netmon.cli", "--log-level", "WARNING"]


def query(base: str, expr: str) -> list[dict[str, Any]]:
    url = f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=60) as resp:
        body = json.loads(resp.read())
    return list(body["data"]["result"])


def by_key(results: list[dict[str, Any]]) -> dict[tuple[str, str], float]:
    return {(r["metric"]["device"], r["metric"]["ifIndex"]): float(r["value"][1]) for r in results}


VARIANTS = {
    f"[{RATE_WINDOW}] offset {RATE_OFFSET} (dashboards)": (
        f"[{RATE_WINDOW}] offset {RATE_OFFSET}",
        f"avg_over_time({{gauge}}[{RATE_WINDOW}] offset {RATE_OFFSET})",
    ),
    f"[{RATE_WINDOW}], no offset": (f"[{RATE_WINDOW}]", f"avg_over_time({{gauge}}[{RATE_WINDOW}])"),
    "[1m] (the old mistake)": ("[1m]", "{gauge}"),
}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--evaluations", type=int, default=10)
    args = ap.parse_args(argv)
    inv = load_inventory(default_inventory_path())
    snmp, control, metrics, prom_port = (
        free_udp_port(),
        free_tcp_port(),
        free_tcp_port(),
        free_tcp_port(),
    )
    address = f"127.0.0.1:{metrics}"
    base = f"http://127.0.0.1:{prom_port}"
    with tempfile.TemporaryDirectory(prefix="netmon-bench-rates-") as tmp_:
        tmp = Path(tmp_)
        config = tmp / "prometheus.yml"
        config.write_text(scrape_config(address, [p.code for p in inv.provinces]))
        sim = [*NETMON, "simulate", "--port", str(snmp), "--control-port", str(control)]
        run = [*NETMON, "run", "--listen", address, "--port-override", str(snmp)]
        prom = ["prometheus", f"--config.file={config}", f"--storage.tsdb.path={tmp / 'tsdb'}"]
        prom += [f"--web.listen-address=127.0.0.1:{prom_port}", "--log.level=warn"]
        env = dict(SIMULATION_SECRETS)

        def ok(url: str) -> bool:
            with urllib.request.urlopen(url, timeout=5) as resp:
                return bool(resp.status == 200)

        with (
            running(sim, log=tmp / "sim.log", env=env, timeout=60,
                    ready=lambda: ok(f"http://127.0.0.1:{control}/status")),
            running(run, log=tmp / "run.log", env=env, timeout=60,
                    ready=lambda: ok(f"http://{address}/healthz")),
            running(prom, log=tmp / "prom.log", timeout=30, ready=lambda: ok(f"{base}/-/ready")),
        ):  # fmt: skip
            started = time.time()
            fill = rate_window_seconds() + rate_offset_seconds() + 2 * 60 + 30
            print(f"waiting {fill} s for the window to fill ...", flush=True)
            wait_for(lambda: time.time() - started > fill, fill + 60, "the window")
            ratios: dict[str, list[float]] = {name: [] for name in VARIANTS}
            missing: dict[str, int] = {name: 0 for name in VARIANTS}
            interfaces = 0
            for _ in range(args.evaluations):
                for direction, counter in (
                    ("receive", "ifHCInOctets"),
                    ("transmit", "ifHCOutOctets"),
                ):
                    gauge = f"netmon_interface_{direction}_bits_per_second"
                    for name, (rng, own) in VARIANTS.items():
                        promql = by_key(query(base, f'rate({counter}{{link!=""}}{rng}) * 8'))
                        truth = by_key(query(base, own.format(gauge=gauge)))
                        keys = [k for k in truth if k in promql and truth[k] > 0]
                        ratios[name] += [promql[k] / truth[k] for k in keys]
                        missing[name] += sum(k not in promql for k in truth if truth[k] > 0)
                        if name.endswith("(dashboards)"):
                            interfaces = max(interfaces, len(keys))
                time.sleep(7)
    print(f"\n{interfaces} link-interface directions, {args.evaluations} evaluations each")
    print(f"{'query':38} {'no value':>9} {'within 5 %':>11} {'median |err|':>13} {'worst':>9}")
    for name, values in ratios.items():
        errs = [abs(r - 1) for r in values]
        within = sum(e <= 0.05 for e in errs) / len(errs) if errs else 0.0
        worst = max(errs) if errs else 0.0
        median = statistics.median(errs) if errs else 0.0
        gone = missing[name] / (missing[name] + len(values)) if values or missing[name] else 0.0
        print(f"{name:38} {gone:>8.1%} {within:>10.1%} {median:>12.2%} {worst:>8.1%}")


if __name__ == "__main__":
    main()
