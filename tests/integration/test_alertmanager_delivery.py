"""A real Alertmanager (0.25, loopback, free ports) running the config `netmon alerts
alertmanager` generates, fed alerts over its HTTP API, delivering to a local SMTP sink
(aiosmtpd) and a local webhook receiver: routing by province and region, one notification per
outage for the SiteUnreachable summaries, inhibition, and office hours vs nights."""

from __future__ import annotations

import email
import email.policy
import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from support.procs import free_tcp_port, http_ok, running, wait_for

from netmon.alerting.alertmanager import write_config
from netmon.alerting.routing import Timing, load_routing
from netmon.inventory.loader import load_inventory

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
ALERTMANAGER = "/usr/bin/prometheus-alertmanager"
CASES = REPO / "tests" / "unit" / "inventory_cases" / "_valid"  # provinces 50 and 51 (north)

ROUTING = """\
smtp: {{smarthost: "127.0.0.1:{smtp}", from: netmon@noc.netmon.invalid, require_tls: false}}
office_hours:
  intervals:
    {office}
receivers:
  - {{name: noc-desk, webhook: ["http://127.0.0.1:{hook}/noc-desk"]}}
  - {{name: noc-night, webhook: ["http://127.0.0.1:{hook}/noc-night"]}}
  - {{name: cm-mail, email: [cm@noc.netmon.invalid]}}
  - {{name: north-desk, webhook: ["http://127.0.0.1:{hook}/north-desk"]}}
  - {{name: north-night, webhook: ["http://127.0.0.1:{hook}/north-night"]}}
teams:
  - {{name: noc, receiver: noc-desk, after_hours: noc-night}}
  - {{name: chiang-mai, provinces: ["50"], receiver: cm-mail}}
  - {{name: north, regions: [north], receiver: north-desk, after_hours: north-night}}
default_team: noc
"""
NEVER = '- {years: ["1999"]}  # office hours never: every team is on its night receiver'
ALWAYS = '- {weekdays: ["sunday:saturday"]}  # office hours always'
FAST = Timing(
    group_wait="2s", group_interval="1s", repeat_interval="1h", summary_repeat_interval="1h"
)


@dataclass
class Inbox:
    """What the SMTP sink and the webhook receiver got."""

    mails: list[email.message.EmailMessage] = field(default_factory=list)
    hooks: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def hooks_to(self, path: str) -> list[dict[str, Any]]:
        with self.lock:
            return [body for p, body in self.hooks if p == path]

    def mails_to(self, rcpt: str) -> list[email.message.EmailMessage]:
        with self.lock:
            return [m for m in self.mails if rcpt in str(m["To"])]


class _Sink:
    def __init__(self, inbox: Inbox) -> None:
        self.inbox = inbox

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.inbox.lock:
            self.inbox.mails.append(msg)  # type: ignore[arg-type]
        return "250 OK"


@dataclass
class Lab:
    inbox: Inbox
    api: str
    config: Path
    smtp: int
    hook: int


def _write_config(path: Path, smtp: int, hook: int, office: str) -> None:
    inv = load_inventory(CASES)
    routing_file = path.with_name("alerting.yaml")
    routing_file.write_text(ROUTING.format(smtp=smtp, hook=hook, office=office))
    write_config(load_routing(routing_file, inv), inv, path, FAST)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    tmp = tmp_path_factory.mktemp("alertmanager")
    inbox = Inbox()
    smtp_port = free_tcp_port()
    controller = Controller(_Sink(inbox), hostname="127.0.0.1", port=smtp_port)
    controller.start()

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with inbox.lock:
                inbox.hooks.append((self.path, body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    hook_port = server.server_address[1]
    config = tmp / "alertmanager.yml"
    _write_config(config, smtp_port, int(hook_port), NEVER)
    port = free_tcp_port()
    api = f"http://127.0.0.1:{port}"
    argv = [
        ALERTMANAGER,
        f"--config.file={config}",
        f"--storage.path={tmp / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
    ]
    try:
        with running(argv, ready=lambda: http_ok(f"{api}/-/ready"), log=tmp / "am.log"):
            yield Lab(inbox, api, config, smtp_port, int(hook_port))
    finally:
        server.shutdown()
        controller.stop()


def post(lab: Lab, alerts: list[dict[str, Any]]) -> None:
    """POST alerts as Prometheus does; an alert's "annotations" key holds its annotations."""
    ends = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    body = [
        {
            "labels": {k: v for k, v in a.items() if k != "annotations"},
            "annotations": a.get("annotations", {}),
            "endsAt": ends,
        }
        for a in alerts
    ]
    req = urllib.request.Request(
        f"{lab.api}/api/v2/alerts",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 200


def where(device: str, site: str, pc: str) -> dict[str, str]:
    province = {"50": "Chiang Mai", "51": "Lamphun"}[pc]
    return {
        "device": device,
        "site": site,
        "province_code": pc,
        "province": province,
        "region": "north",
    }


def test_a_province_alert_reaches_that_province_team(lab: Lab) -> None:
    post(
        lab,
        [
            {
                "alertname": "DeviceDown",
                "severity": "critical",
                "state": "down",
                **where("d5002-edge1", "5002", "50"),
                "annotations": {"summary": "d5002-edge1 is down: Chom Thong (จอมทอง), Chiang Mai"},
            }
        ],
    )
    wait_for(
        lambda: len(lab.inbox.mails_to("cm@noc.netmon.invalid")) >= 1, 30, "mail to Chiang Mai"
    )
    (mail,) = lab.inbox.mails_to("cm@noc.netmon.invalid")
    assert mail["Subject"] == "[FIRING:1] DeviceDown (critical) Chiang Mai site 5002"
    assert "d5002-edge1 is down: Chom Thong (จอมทอง), Chiang Mai" in mail.get_body().get_content()
    # Province 50 has its own team: the north region's receivers get nothing of it.
    time.sleep(1)
    assert not any("d5002-edge1" in json.dumps(b) for p, b in lab.inbox.hooks)


def test_site_unreachable_of_one_outage_is_one_notification(lab: Lab) -> None:
    hub = {"cause_device": "p50-core1", "cause_site": "50", "cause_province_code": "50"}
    sites = [("5001", "50"), ("5002", "50"), ("5003", "50"), ("5101", "51"), ("5102", "51")]
    alerts = [
        {
            "alertname": "SiteUnreachable",
            "severity": "info",
            "site": s,
            "province_code": pc,
            **hub,
            "annotations": {"site_name_en": f"E{s}", "site_name_th": f"ท{s}", "province": pc},
        }
        for s, pc in sites
    ]
    post(lab, alerts)

    def summaries() -> list[email.message.EmailMessage]:
        return [
            m for m in lab.inbox.mails_to("cm@noc.netmon.invalid") if "dark sites" in m["Subject"]
        ]

    wait_for(lambda: len(summaries()) >= 1, 30, "the summary")
    time.sleep(4)  # group_interval is 1s: a second notification would be here by now
    (mail,) = summaries()
    assert mail["Subject"] == "[FIRING] 5 dark sites because p50-core1 is down"
    body = mail.get_body(("plain",)).get_content()
    assert "p50-core1 is down (it is paged as DeviceDown); dark because of it:" in body
    lines = body.splitlines()
    assert all(f"  - site {s} E{s} / ท{s}, {pc}" in lines for s, pc in sites), body
    # The cause's team got it, even for the sites of province 51 (the north team's).
    assert not any("SiteUnreachable" in json.dumps(b) for _, b in lab.inbox.hooks)


def test_a_down_device_inhibits_its_interface_alerts(lab: Lab) -> None:
    dev = where("d5106-edge1", "5106", "51")  # not a dark site: only DeviceDown inhibits
    post(
        lab,
        [
            {"alertname": "DeviceDown", "severity": "critical", "state": "down", **dev},
            {"alertname": "HighCPU", "severity": "warning", "cpu": "1", **dev},
            {
                "alertname": "HighCPU",
                "severity": "warning",
                "cpu": "1",
                **where("d5104-edge1", "5104", "51"),
            },
        ],
    )
    wait_for(
        lambda: any("d5106-edge1" in json.dumps(b) for b in lab.inbox.hooks_to("/north-night")),
        30,
        "the page",
    )
    with urllib.request.urlopen(
        f"{lab.api}/api/v2/alerts?filter=alertname%3D%22HighCPU%22", timeout=10
    ) as resp:
        status = {a["labels"]["device"]: a["status"] for a in json.loads(resp.read())}
    assert status["d5106-edge1"]["state"] == "suppressed" and status["d5106-edge1"]["inhibitedBy"]
    assert status["d5104-edge1"]["state"] == "active"
    wait_for(
        lambda: any("d5104-edge1" in json.dumps(b) for b in lab.inbox.hooks_to("/north-night")),
        30,
        "d5104 HighCPU",
    )
    time.sleep(2)
    sent = [a["labels"] for b in lab.inbox.hooks_to("/north-night") for a in b["alerts"]]
    assert not any(a["alertname"] == "HighCPU" and a["device"] == "d5106-edge1" for a in sent)


def test_office_hours_decide_desk_or_night(lab: Lab) -> None:
    # Office hours never: the north team's night receiver gets province 51's page.
    post(
        lab,
        [
            {
                "alertname": "UplinkDown",
                "severity": "critical",
                "link": "l1",
                **where("d5104-edge1", "5104", "51"),
            }
        ],
    )
    wait_for(
        lambda: any("UplinkDown" in json.dumps(b) for b in lab.inbox.hooks_to("/north-night")),
        30,
        "night page",
    )
    assert not lab.inbox.hooks_to("/north-desk")
    # Office hours always (config reloaded): the desk gets the next one, the night nothing.
    _write_config(lab.config, lab.smtp, lab.hook, ALWAYS)
    req = urllib.request.Request(f"{lab.api}/-/reload", method="POST")
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 200
    night_before = len(lab.inbox.hooks_to("/north-night"))
    post(
        lab,
        [
            {
                "alertname": "UplinkDown",
                "severity": "critical",
                "link": "l2",
                **where("d5105-edge1", "5105", "51"),
            }
        ],
    )
    wait_for(
        lambda: any("l2" in json.dumps(b) for b in lab.inbox.hooks_to("/north-desk")),
        30,
        "desk page",
    )
    assert not any(
        '"l2"' in json.dumps(b) for b in lab.inbox.hooks_to("/north-night")[night_before:]
    )
