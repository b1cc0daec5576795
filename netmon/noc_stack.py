"""A real Prometheus (with netmon's rules) and a real Alertmanager on loopback, in a work
directory, for the demo, the end-to-end alert tests and the outage benchmark.

Prometheus scrapes `netmon run`'s province slices (the generated scrape config), evaluates the
shipped rules and sends to the Alertmanager, which delivers to whatever its configuration
says (the demo and the tests point it at ``netmon.alert_sinks``).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from exporters.scrape_config import scrape_config
from netmon.ports import LOOPBACK, free_tcp_port
from netmon.procs import http_ok, running

PROMETHEUS = "prometheus"
ALERTMANAGER = "prometheus-alertmanager"  # Debian's name for the alertmanager binary


@dataclass(frozen=True, slots=True)
class Stack:
    prometheus: str  # base URL
    alertmanager: str

    def query(self, promql: str) -> list[dict[str, Any]]:
        url = f"{self.prometheus}/api/v1/query?query={urllib.parse.quote(promql)}"
        with urllib.request.urlopen(url, timeout=10) as resp:
            body = json.loads(resp.read())
        if body.get("status") != "success":
            raise RuntimeError(f"query {promql!r}: {body}")
        return list(body["data"]["result"])

    def alerts(self) -> list[dict[str, Any]]:
        """Alertmanager's active alerts (API v2)."""
        with urllib.request.urlopen(f"{self.alertmanager}/api/v2/alerts", timeout=10) as resp:
            return list(json.loads(resp.read()))


def prometheus_config(
    metrics_address: str,
    provinces: Sequence[str],
    rule_files: Sequence[Path],
    alertmanager: str,
    *,
    scrape_interval: str = "5s",
    evaluation_interval: str = "5s",
) -> str:
    head = (
        "global:\n"
        f"  scrape_interval: {scrape_interval}\n"
        f"  scrape_timeout: {scrape_interval}\n"
        f"  evaluation_interval: {evaluation_interval}\n"
        "rule_files:\n"
        + "".join(f"  - {json.dumps(str(p))}\n" for p in rule_files)
        + "alerting:\n  alertmanagers:\n    - static_configs:\n"
        f"        - targets: [{json.dumps(alertmanager)}]\n"
    )
    return head + scrape_config(
        metrics_address, list(provinces), interval=scrape_interval, timeout=scrape_interval
    )


@contextlib.contextmanager
def noc_stack(
    workdir: Path,
    *,
    metrics_address: str,
    provinces: Sequence[str],
    rule_files: Sequence[Path],
    alertmanager_config: Path,
    scrape_interval: str = "5s",
    evaluation_interval: str = "5s",
) -> Iterator[Stack]:
    """Start Alertmanager then Prometheus (both on free loopback ports) until the block ends."""
    for binary in (PROMETHEUS, ALERTMANAGER):
        if shutil.which(binary) is None:
            raise FileNotFoundError(f"{binary} is not installed (deploy/bootstrap.sh installs it)")
    workdir.mkdir(parents=True, exist_ok=True)
    am_port, prom_port = free_tcp_port(), free_tcp_port()
    am = f"http://{LOOPBACK}:{am_port}"
    prom = f"http://{LOOPBACK}:{prom_port}"
    am_argv = [
        ALERTMANAGER,
        f"--config.file={alertmanager_config}",
        f"--storage.path={workdir / 'alertmanager'}",
        f"--web.listen-address={LOOPBACK}:{am_port}",
        "--cluster.listen-address=",  # no gossip on 0.0.0.0:9094
    ]
    config = workdir / "prometheus.yml"
    config.write_text(
        prometheus_config(
            metrics_address,
            provinces,
            rule_files,
            f"{LOOPBACK}:{am_port}",
            scrape_interval=scrape_interval,
            evaluation_interval=evaluation_interval,
        )
    )
    prom_argv = [
        PROMETHEUS,
        f"--config.file={config}",
        f"--storage.tsdb.path={workdir / 'tsdb'}",
        f"--web.listen-address={LOOPBACK}:{prom_port}",
    ]
    with (
        running(am_argv, log=workdir / "alertmanager.log", ready=lambda: http_ok(f"{am}/-/ready")),
        running(
            prom_argv, log=workdir / "prometheus.log", ready=lambda: http_ok(f"{prom}/-/ready")
        ),
    ):
        yield Stack(prom, am)
