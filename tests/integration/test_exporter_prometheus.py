"""A real Prometheus scrapes `netmon run` through the generated scrape config (province slices)
and PromQL returns the IF-MIB series with their topology labels."""

from __future__ import annotations

import json
import shutil
import sys
import urllib.parse
from pathlib import Path

import pytest
from support.collector_lab import (
    LAB_ENV,
    fetch,
    lab_device,
    snmpd_argv,
    value_of,
    write_lab_inventory,
)
from support.procs import free_tcp_port, free_udp_port, http_ok, running, wait_for

from exporters.scrape_config import scrape_config

pytestmark = pytest.mark.integration

if shutil.which("prometheus") is None or shutil.which("snmpd") is None:  # pragma: no cover
    pytest.skip("prometheus or snmpd not installed", allow_module_level=True)


def query(base: str, promql: str) -> list[dict[str, object]]:
    text = fetch(f"{base}/api/v1/query?query={urllib.parse.quote(promql)}")
    body = json.loads(text)
    assert body["status"] == "success", body
    return list(body["data"]["result"])


def test_prometheus_scrapes_province_slices_with_topology_labels(tmp_path: Path) -> None:
    snmp_port, metrics_port, prom_port = free_udp_port(), free_tcp_port(), free_tcp_port()
    inventory = tmp_path / "inventory"
    write_lab_inventory(
        inventory,
        centre=[lab_device("centre-core1", "127.0.0.1")],
        province=[lab_device("p12-core1", "127.0.0.2")],
    )
    address = f"127.0.0.1:{metrics_port}"
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
        + scrape_config(address, ["10", "12"], interval="1s", timeout="1s")
    )
    run = [sys.executable, "-m", "netmon.cli", "run", "--inventory", str(inventory)]
    run += ["--listen", address, "--port-override", str(snmp_port)]
    prom = ["prometheus", f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}"]
    prom += [f"--web.listen-address=127.0.0.1:{prom_port}"]
    base = f"http://127.0.0.1:{prom_port}"

    def netmon_ready() -> bool:
        text = fetch(f"http://{address}/metrics")
        return value_of(text, "netmon_device_up", device="p12-core1") == 1

    with (
        running(
            snmpd_argv(tmp_path, snmp_port, ["127.0.0.1", "127.0.0.2"]),
            log=tmp_path / "snmpd.log",
        ),
        running(run, log=tmp_path / "netmon.log", ready=netmon_ready, timeout=30, env=LAB_ENV),
        running(prom, log=tmp_path / "prometheus.log", ready=lambda: http_ok(f"{base}/-/ready")),
    ):
        try:
            promql = 'ifHCInOctets{device="p12-core1", ifName="lo"}'
            wait_for(lambda: len(query(base, promql)) == 1, 30, "the series in Prometheus")
            series = query(base, promql)[0]["metric"]
            assert isinstance(series, dict)
            assert series["province"] == "Nonthaburi" and series["province_code"] == "12"
            assert series["region"] == "central" and series["role"] == "core"
            assert series["ifIndex"] == "1" and series["link"] == "p12-core1:lo--centre-core1:lo"
            assert series["instance"] == f"{address}/12" and series["job"] == "netmon"
            # each slice is its own target, and both are up
            wait_for(lambda: len(query(base, 'up{job="netmon"} == 1')) == 2, 30, "both slices up")
            wait_for(
                lambda: len(query(base, 'up{job="netmon_collector"} == 1')) == 1,
                30,
                "the collector's own target up",
            )
            # the counter is usable as a counter
            wait_for(
                lambda: len(query(base, 'rate(ifHCInOctets{ifName="lo"}[5s]) >= 0')) == 2,
                30,
                "rate() over both devices",
            )
        except (AssertionError, TimeoutError) as exc:
            targets = fetch(f"{base}/api/v1/targets")
            log = (tmp_path / "netmon.log").read_text()[-3000:]
            raise AssertionError(f"{exc}\ntargets: {targets}\nnetmon log: {log}") from exc
