"""The whole alert path on loopback: netmon's rules in a real Prometheus, the routing in a real
Alertmanager, and every notification delivered to local sinks instead of mail relays and
pagers. The demo shows what arrives; the end-to-end tests and the outage benchmark count it.

The routing is the shipped ``inventory/alerting.yaml`` (the same teams, provinces and
regions), with each receiver's mail sent to a local SMTP sink and its webhooks replaced by one
local webhook per receiver (``/<receiver name>``), so every delivery says who got it.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from netmon.alert_sinks import MailSink, Notification, WebhookSink
from netmon.alerting.alertmanager import render_config
from netmon.alerting.routing import Interval, OfficeHours, Routing, Smtp, Timing, Webhook
from netmon.alerting.routing import load_routing as _load_routing
from netmon.alerting.rules import context, write_rules
from netmon.inventory.loader import default_inventory_path, load_inventory
from netmon.inventory.model import Inventory
from netmon.live_view import Page
from netmon.noc_stack import Stack, noc_stack
from netmon.ports import free_tcp_port, free_udp_port
from netmon.procs import running, wait_for
from netmon.simulator.secrets import SIMULATION_SECRETS

ALL_WEEK = Interval(weekdays=("sunday:saturday",), times=("00:00-24:00",))
PAGING = ("critical",)
QUIET = ("DeviceRebooted", "CollectorUnhealthy")  # not pages, and expected after heals


def _json(url: str, body: dict[str, Any] | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=20) as resp:
        return json.loads(resp.read())


@dataclass(frozen=True)
class Backbone:
    """A running ``netmon simulate`` (its control API) and ``netmon run`` (its /api/state)."""

    control: str
    metrics: str

    def act(self, **body: Any) -> None:
        _json(f"{self.control}/action", body)

    def state(self) -> dict[str, Any]:
        doc: dict[str, Any] = _json(f"{self.metrics}/api/state")
        return doc

    def status(self, device: str) -> str:
        return str(next(d["status"] for d in self.state()["devices"] if d["device"] == device))


def local_routing(
    routing: Routing, mail: MailSink, hooks: WebhookSink, *, office_hours: bool | None = None
) -> Routing:
    """``routing`` delivering locally. ``office_hours`` True/False pins the office-hours
    interval to always/never (deterministic tests); None keeps the real one."""
    receivers = tuple(
        r.model_copy(update={"webhook": (Webhook(url=hooks.url(f"/{r.name}")),)})
        for r in routing.receivers
    )
    smtp = Smtp.model_validate(
        {"smarthost": f"127.0.0.1:{mail.port}", "from": "netmon@demo.invalid", "require_tls": False}
    )
    update: dict[str, object] = {"receivers": receivers, "smtp": smtp}
    if office_hours is not None:
        tz = routing.office_hours.timezone if routing.office_hours else "Asia/Bangkok"
        # never: an interval on 29 February 2000 only (Alertmanager needs a non-empty one)
        never = Interval(months=("february",), days_of_month=("29",), years=("2000",))
        update["office_hours"] = OfficeHours(
            timezone=tz, intervals=(ALL_WEEK,) if office_hours else (never,)
        )
    return routing.model_copy(update=update)


@dataclass
class AlertLab:
    stack: Stack
    mail: MailSink
    hooks: WebhookSink
    rules: Path

    def notifications(self) -> list[Notification]:
        return self.hooks.snapshot()

    def firing(self) -> set[tuple[str, str]]:
        """(alertname, subject) of the alerts Prometheus has firing, pages or not."""
        out = set()
        for r in self.stack.query('ALERTS{alertstate="firing"}'):
            m = r["metric"]
            out.add((m["alertname"], m.get("device") or m.get("link") or m.get("site", "")))
        return out

    def pages_since(self, t0: float) -> list[tuple[str, str, str]]:
        """(alertname, subject, receiver) of every critical alert in a firing notification
        delivered after ``t0``, one entry per delivery (a repeat would show twice)."""
        out = []
        for n in self.notifications():
            if n.time < t0 or n.status != "firing":
                continue
            for a in n.firing():
                labels = a["labels"]
                if labels.get("severity") in PAGING:
                    subject = labels.get("device", "")
                    if labels.get("alertname") == "UplinkDown":
                        subject = labels.get("link", "")
                    out.append((labels["alertname"], subject, n.path.strip("/")))
        return out

    def notes_since(self, t0: float, alertname: str) -> list[Notification]:
        return [
            n
            for n in self.notifications()
            if n.time >= t0
            and n.status == "firing"
            and n.group_labels.get("alertname") == alertname
        ]

    def heal(self, backbone: Backbone, timeout: float = 60.0) -> None:
        """Clear every fault; wait until every device is up and no page-worthy alert fires."""
        backbone.act(action="clear")
        wait_for(
            lambda: all(d["status"] == "up" for d in backbone.state()["devices"]),
            timeout,
            "every device up",
        )
        wait_for(
            lambda: not {a for a in self.firing() if a[0] not in QUIET},
            timeout,
            "every alert resolved",
        )
        time.sleep(0.5)

    def pages(self) -> list[Page]:
        """One line per notification delivered, as the demo lists them (newest last)."""
        out: list[Page] = []
        for n in self.notifications():
            alerts = n.firing() if n.status == "firing" else list(n.alerts)
            if not alerts:
                continue
            labels = alerts[0].get("labels", {})
            subject = labels.get("device") or labels.get("link") or labels.get("site", "")
            if len(alerts) > 1:
                cause = n.group_labels.get("cause_device")
                subject = f"{len(alerts)} alerts" + (f", cause {cause}" if cause else "")
            out.append(
                Page(
                    n.time,
                    labels.get("severity", ""),
                    labels.get("alertname", ""),
                    subject,
                    n.status,
                    n.path.strip("/"),
                )
            )
        return out


@contextlib.contextmanager
def alert_lab(
    workdir: Path,
    inventory: Inventory,
    routing_path: Path,
    *,
    metrics_address: str,
    time_scale: float = 1.0,
    office_hours: bool | None = None,
    timing: Timing | None = None,
    scrape_interval: str = "5s",
    evaluation_interval: str = "5s",
) -> Iterator[AlertLab]:
    """Sinks, rules (``time_scale`` shrinks every ``for:`` and window), an Alertmanager with
    the local routing, and a Prometheus scraping ``metrics_address``, until the block ends."""
    workdir.mkdir(parents=True, exist_ok=True)
    mail, hooks = MailSink().start(), WebhookSink().start()
    try:
        rules_dir = workdir / "rules"
        files = write_rules(context(inventory, time_scale=time_scale), rules_dir)
        routing = local_routing(
            _load_routing(routing_path, inventory), mail, hooks, office_hours=office_hours
        )
        am_config = workdir / "alertmanager.yml"
        am_config.write_text(render_config(routing, inventory, timing), encoding="utf-8")
        provinces = sorted({ps.province.code for ps in inventory.sites})
        with noc_stack(
            workdir,
            metrics_address=metrics_address,
            provinces=provinces,
            rule_files=files,
            alertmanager_config=am_config,
            scrape_interval=scrape_interval,
            evaluation_interval=evaluation_interval,
        ) as stack:
            yield AlertLab(stack, mail, hooks, rules_dir)
    finally:
        mail.stop()
        hooks.stop()


def write_shipped_subset(root: Path, provinces: tuple[str, ...], **defaults: float) -> Path:
    """The shipped centre, credentials, routing and the given provinces' files in ``root``,
    with ``defaults`` (e.g. ``probe_interval=1``) overriding defaults.yaml: a small real
    backbone for the end-to-end tests and the outage benchmark."""
    import yaml

    shipped = default_inventory_path()
    (root / "provinces").mkdir(parents=True)
    for name in ("centre.yaml", "credentials.yaml", "alerting.yaml"):
        shutil.copy(shipped / name, root / name)
    for code in provinces:
        for path in shipped.glob(f"provinces/{code}-*.yaml"):
            shutil.copy(path, root / "provinces" / path.name)
    doc = yaml.safe_load((shipped / "defaults.yaml").read_text())
    doc["defaults"].update(defaults)
    (root / "defaults.yaml").write_text(yaml.safe_dump(doc))
    return root


@contextlib.contextmanager
def simulated_alert_path(
    tmp: Path,
    inventory: Path,
    *,
    timing: Timing,
    time_scale: float = 0.05,
    office_hours: bool | None = True,
) -> Iterator[tuple[AlertLab, Backbone]]:
    """``netmon simulate`` + ``netmon run`` on ``inventory`` (every device up before this
    yields) and the alert lab on them: scrape and evaluation every second."""
    netmon = [sys.executable, "-m", "netmon.cli", "--log-level", "WARNING"]
    inv = load_inventory(inventory)
    snmp, control, metrics = free_udp_port(), free_tcp_port(), free_tcp_port()
    listen = f"127.0.0.1:{metrics}"
    sim = [*netmon, "simulate", "--inventory", str(inventory), "--port", str(snmp)]
    sim += ["--control-port", str(control), "--latency-scale", "0"]
    run = [*netmon, "run", "--inventory", str(inventory), "--listen", listen]
    run += ["--port-override", str(snmp)]
    backbone = Backbone(f"http://127.0.0.1:{control}", f"http://{listen}")

    def all_up() -> bool:
        doc = backbone.state()
        return bool(doc["devices"]) and all(d["status"] == "up" for d in doc["devices"])

    env = SIMULATION_SECRETS
    with (
        running(sim, log=tmp / "sim.log", env=env, timeout=30),
        running(run, log=tmp / "run.log", env=env, ready=all_up, timeout=90),
        alert_lab(
            tmp / "stack",
            inv,
            inventory / "alerting.yaml",
            metrics_address=listen,
            time_scale=time_scale,
            office_hours=office_hours,
            timing=timing,
            scrape_interval="1s",
            evaluation_interval="1s",
        ) as lab,
    ):
        yield lab, backbone
