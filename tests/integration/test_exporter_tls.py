"""TLS and basic auth (exporter-toolkit web-config format) on a real `netmon run`, scraped by
a real Prometheus through the scrape config `netmon run --print-scrape-config` generates for
that web config. A wrong password gets 401; a plain-HTTP client gets no answer."""

from __future__ import annotations

import base64
import http.client
import json
import shutil
import ssl
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import bcrypt
import pytest
from support.procs import free_tcp_port, free_udp_port, http_ok, running, wait_for
from support.tls import self_signed

from netmon.simulator.testbed import SECRETS, write_inventory

pytestmark = pytest.mark.integration

if shutil.which("prometheus") is None:  # pragma: no cover
    pytest.skip("prometheus not installed", allow_module_level=True)

NETMON = [sys.executable, "-m", "netmon.cli"]
PASSWORD = "correct horse battery staple"


def get(url: str, ctx: ssl.SSLContext, user: str | None = None, password: str = "") -> int:
    req = urllib.request.Request(url)
    if user is not None:
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        req.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(req, timeout=10, context=ctx) as resp:
            resp.read()
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_prometheus_scrapes_over_tls_with_basic_auth(tmp_path: Path) -> None:
    inv = tmp_path / "inventory"
    write_inventory(inv)
    crt, _key = self_signed(tmp_path)
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(10)).decode()
    web = tmp_path / "web.yml"
    web.write_text(
        "tls_server_config:\n  cert_file: netmon.crt\n  key_file: netmon.key\n"
        f"basic_auth_users:\n  prometheus: {hashed.replace('$2b$', '$2y$')}\n"
    )  # relative paths, and htpasswd's $2y$ prefix, as exporter-toolkit users write them
    password_file = tmp_path / "password"
    password_file.write_text(PASSWORD + "\n")
    port, prom_port = free_tcp_port(), free_tcp_port()
    address = f"127.0.0.1:{port}"
    common = ["--inventory", str(inv), "--listen", address, "--web-config", str(web)]
    generated = subprocess.run(
        [*NETMON, "run", *common, "--print-scrape-config",
         "--scrape-password-file", str(password_file)],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout  # fmt: skip
    assert "scheme: https" in generated and f"ca_file: {crt.resolve()}" in generated
    assert "username: prometheus" in generated and PASSWORD not in generated
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
        + generated.replace("scrape_interval: 30s", "scrape_interval: 1s").replace(
            "scrape_timeout: 25s", "scrape_timeout: 1s"
        )
    )
    ctx = ssl.create_default_context(cafile=str(crt))
    base = f"https://{address}"
    run = [*NETMON, "run", *common, "--port-override", str(free_udp_port())]
    prom = ["prometheus", f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}"]
    prom += [f"--web.listen-address=127.0.0.1:{prom_port}"]
    prom_base = f"http://127.0.0.1:{prom_port}"

    def query(promql: str) -> list[dict[str, object]]:
        url = f"{prom_base}/api/v1/query?query={urllib.parse.quote(promql)}"
        with urllib.request.urlopen(url, timeout=5) as resp:
            return list(json.loads(resp.read())["data"]["result"])

    with (
        running(run, log=tmp_path / "netmon.log", env=SECRETS, timeout=30,
                ready=lambda: get(f"{base}/healthz", ctx) == 200),
        running(prom, log=tmp_path / "prometheus.log",
                ready=lambda: http_ok(f"{prom_base}/-/ready")),
    ):  # fmt: skip
        assert get(f"{base}/metrics", ctx, "prometheus", PASSWORD) == 200
        assert get(f"{base}/metrics", ctx, "prometheus", "wrong") == 401
        assert get(f"{base}/metrics", ctx, "nobody", PASSWORD) == 401
        assert get(f"{base}/metrics", ctx) == 401
        plain = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        with pytest.raises((http.client.HTTPException, OSError)):
            plain.request("GET", "/metrics")
            plain.getresponse()  # a TLS server never answers plain HTTP
        plain.close()
        try:
            slices = len(generated.split("__metrics_path__")) - 1
            wait_for(lambda: len(query('up{job="netmon"} == 1')) == slices, 30, "slices up")
            wait_for(lambda: len(query('up{job="netmon_collector"} == 1')) == 1, 30, "self")
            wait_for(
                lambda: len(query('netmon_device_info{province_code="50"}')) == 3, 30, "devices"
            )
        except TimeoutError as exc:
            targets = urllib.request.urlopen(f"{prom_base}/api/v1/targets", timeout=5).read()
            raise AssertionError(f"{exc}\n{targets.decode()[:3000]}") from exc
