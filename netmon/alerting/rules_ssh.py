"""Alerting rules for what the SSH/CLI collection tells (``ssh_groups(ctx)`` returns the rule
group as data; ``deploy/prometheus/rules/netmon-ssh.yml`` is what ``netmon alerts rules`` and
``write_ssh_rules`` write):

- ``OpticRxLow`` (warning): received power below the transceiver's own low-warning threshold
  for 10 m (and not yet below its alarm threshold); ``OpticRxCritical`` (critical): below the
  low-alarm threshold for 2 m. "No light" (-40 dBm, the link is down) is left to the link's own
  alerts, and a device without thresholds (RouterOS) never fires.
- ``BgpNeighborDown`` / ``OspfNeighborDown`` (warning): a session or adjacency the device
  listed is not Established / Full for 5 m (an OSPF neighbour that vanished counts).
- ``CablingMismatch`` (warning): LLDP contradicts the inventory's links for 10 m (two SSH
  polls): a link patched to another port or device, or a neighbour the inventory lacks.
- ``SshCollectionFailing`` (warning): the device answers SNMP but its SSH polls fail for 15 m
  (a changed host key, a locked account); ``SshOutputUnparseable`` (info): a command's output
  no template reads (new firmware).

Every rule is only for devices the state engine calls ``up``: a down or unreachable device
pages as such, never through its optics or neighbours.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from netmon.alerting.promql import UP, RulesContext, site_annotations, with_names
from netmon.alerting.rules import DEFAULT_OUT, render

FILE = "netmon-ssh.yml"
OPTIC_WARNING_FOR, OPTIC_ALARM_FOR = 600.0, 120.0
NEIGHBOR_FOR, CABLING_FOR, SSH_FAILING_FOR = 300.0, 600.0, 900.0
NO_LIGHT_DBM = -40.0

_RX = f"netmon_optics_rx_power_dbm > {NO_LIGHT_DBM:g}"


def _alert(
    ctx: RulesContext, name: str, expr: str, for_s: float, severity: str, ann: dict[str, str]
) -> dict[str, Any]:
    rule: dict[str, Any] = {"alert": name, "expr": with_names(f"{expr}\nand {UP}")}
    if for_s:
        rule["for"] = ctx.d(for_s)
    rule["labels"] = {"severity": severity}
    rule["annotations"] = ann
    return rule


def ssh_groups(ctx: RulesContext) -> list[dict[str, Any]]:
    where = site_annotations(ctx)
    below = (
        "(\n  {rx}\n)\n"
        "< on(device, interface) group_left() netmon_optics_rx_power_{level}_threshold_dbm"
    )
    alarm = below.format(rx=_RX, level="low_alarm")
    warning = (
        below.format(rx=_RX, level="low_warning")
        + f"\nunless on(device, interface) (\n  {alarm.replace(chr(10), chr(10) + '  ')}\n)"
    )
    rules = [
        _alert(
            ctx,
            "OpticRxLow",
            warning,
            OPTIC_WARNING_FOR,
            "warning",
            {
                "summary": "{{ $labels.device }} {{ $labels.interface }}: received optical power "
                "{{ $value }} dBm, below the transceiver's low-warning threshold",
                "description": "A dirty or damaged connector, a bent fibre or a failing laser at "
                "the far end; the link still works but is close to its alarm level.",
                **where,
            },
        ),
        _alert(
            ctx,
            "OpticRxCritical",
            alarm,
            OPTIC_ALARM_FOR,
            "critical",
            {
                "summary": "{{ $labels.device }} {{ $labels.interface }}: received optical power "
                "{{ $value }} dBm, below the transceiver's low-alarm threshold",
                "description": "Errors and a link loss are imminent on this fibre.",
                **where,
            },
        ),
        _alert(
            ctx,
            "BgpNeighborDown",
            "netmon_bgp_neighbor_up == 0",
            NEIGHBOR_FOR,
            "warning",
            {
                "summary": "{{ $labels.device }}: BGP session to {{ $labels.neighbor }} "
                "(AS {{ $labels.remote_as }}) not established",
                **where,
            },
        ),
        _alert(
            ctx,
            "OspfNeighborDown",
            "netmon_ospf_neighbor_up == 0",
            NEIGHBOR_FOR,
            "warning",
            {
                "summary": "{{ $labels.device }} {{ $labels.interface }}: OSPF adjacency with "
                "{{ $labels.neighbor_id }} not Full",
                **where,
            },
        ),
        _alert(
            ctx,
            "CablingMismatch",
            "netmon_cabling_mismatch == 1",
            CABLING_FOR,
            "warning",
            {
                "summary": "{{ $labels.device }} {{ $labels.interface }} sees "
                "{{ $labels.seen_device }} {{ $labels.seen_port }} ({{ $labels.kind }}); the "
                "inventory says {{ $labels.expected_device }} {{ $labels.expected_port }}",
                "description": "The cabling differs from the inventory: fix the patch or the "
                "inventory file (the inventory is the source of truth).",
                **where,
            },
        ),
        _alert(
            ctx,
            "SshCollectionFailing",
            "netmon_ssh_up == 0",
            SSH_FAILING_FOR,
            "warning",
            {
                "summary": "{{ $labels.device }}: SSH polls fail while SNMP answers",
                "description": "See netmon_ssh_poll_errors_total{kind}: host_key (the key "
                "changed: verify, then update the known-hosts file), auth, timeout.",
                **where,
            },
        ),
        _alert(
            ctx,
            "SshOutputUnparseable",
            f"increase(netmon_ssh_unparseable_total[{ctx.d(1800)}]) > 0",
            0,
            "info",
            {
                "summary": "{{ $labels.device }}: the output of its {{ $labels.command }} "
                "command no longer parses",
                "description": "A firmware change, most likely; the logged sample shows it. "
                "The device's other data still publishes.",
                **where,
            },
        ),
    ]
    return [{"name": "netmon-ssh", "rules": rules}]


def write_ssh_rules(ctx: RulesContext, out: Path = DEFAULT_OUT) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / FILE
    text = render({"groups": ssh_groups(ctx)})
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="write deploy/prometheus/rules/netmon-ssh.yml")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    p.add_argument("--time-scale", type=float, default=1.0)
    args = p.parse_args(argv)
    print(write_ssh_rules(RulesContext(time_scale=args.time_scale), args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
