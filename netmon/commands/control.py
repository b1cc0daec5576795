"""``netmon control``: inject failures into a running ``netmon simulate`` (and heal them)."""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import sys
from typing import Any

# name -> (help, [(argument, type, help)])
_ACTIONS: dict[str, tuple[str, list[tuple[str, type, str]]]] = {
    "status": ("what is injected, and request/drop counters per device", []),
    "link-down": (
        "take a link down (both ends' ifOperStatus, counters stop)",
        [("device", str, "device name"), ("interface", str, "interface name (ifName)")],
    ),
    "link-up": (
        "bring a link back up",
        [("device", str, "device name"), ("interface", str, "interface name (ifName)")],
    ),
    "flap": (
        "take a link down and up again TIMES times",
        [("device", str, "device name"), ("interface", str, "interface name (ifName)")],
    ),
    "dead": (
        "the device stops answering (its neighbours see the links drop)",
        [("device", str, "")],
    ),
    "slow": ("add latency to a device's answers", [("device", str, ""), ("ms", float, "ms")]),
    "loss": ("drop a share of a device's requests", [("device", str, ""), ("pct", float, "%")]),
    "site-outage": ("every device of a site goes dead", [("site", str, "site code")]),
    "province-outage": (
        "every device of a province goes dead",
        [("province", str, "province code, e.g. 50")],
    ),
    "reboot": (
        "reboot a device (sysUpTime and counters restart, coldStart)",
        [("device", str, "")],
    ),
    "garbage": ("the device answers with malformed bytes", [("device", str, "")]),
    "walk-loop": ("GETNEXT/GETBULK answers repeat OIDs", [("device", str, "")]),
    "no-view": (
        "the device's SNMP view excludes everything: noSuchObject, walks end at once",
        [("device", str, "")],
    ),
    "clear": ("heal everything injected (or on one device)", []),
    # SSH devices (netmon simulate --ssh-port): what their CLI reports
    "optic-degrade": (
        "lower an optic's received power by DB dBm (a dirty connector, a bent fibre)",
        [("device", str, ""), ("interface", str, "interface name")],
    ),
    "miscable": (
        "LLDP on the interface sees another device/port (a link patched wrong)",
        [
            ("device", str, ""),
            ("interface", str, "interface name"),
            ("peer_device", str, "what LLDP shows"),
            ("peer_interface", str, "what LLDP shows"),
        ],
    ),
    "ssh-hang": ("the CLI stops half-way through its next answer", [("device", str, "")]),
    "ssh-garbage": (
        "one kind of CLI command answers unreadable text",
        [("device", str, ""), ("kind", str, "optics, bgp, ospf or lldp")],
    ),
}


_HEALABLE = {"dead", "site-outage", "province-outage", "garbage", "walk-loop", "no-view"}
_HEALABLE |= {"optic-degrade", "miscable", "ssh-hang", "ssh-garbage"}
_OPTIONAL = {("miscable", "peer_device"), ("miscable", "peer_interface")}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "control",
        help="inject failures into a running `netmon simulate`",
        description="Talk to the simulator's control endpoint (loopback only).",
    )
    p.add_argument("--host", default="127.0.0.1", help="control endpoint address (loopback)")
    p.add_argument("--control-port", type=int, default=9161, help="control endpoint port")
    p.add_argument(
        "--token",
        default=os.environ.get("NETMON_CONTROL_TOKEN_REF"),
        metavar="env:NAME|file:/path",
        help="the simulator's control token, as a secret reference "
        "(default $NETMON_CONTROL_TOKEN_REF)",
    )
    acts = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    for name, (help_, params) in _ACTIONS.items():
        a = acts.add_parser(name, help=help_, description=help_)
        for arg, typ, arg_help in params:
            if (name, arg) in _OPTIONAL:  # miscable --heal needs no peer
                a.add_argument(arg, type=typ, help=arg_help or None, nargs="?", default="")
            else:
                a.add_argument(arg, type=typ, help=arg_help or None)
        if name == "flap":
            a.add_argument("--times", type=int, default=3)
            a.add_argument("--interval", type=float, default=2.0, help="seconds down, then up")
        if name == "optic-degrade":
            a.add_argument("--db", type=float, default=8.0, help="dB of Rx loss (8)")
        if name in _HEALABLE:
            a.add_argument("--heal", action="store_true", help="undo this injection")
        if name == "clear":
            a.add_argument("device", nargs="?", default=None, help="only this device")
    p.set_defaults(func=run)


def request(
    host: str, port: int, body: dict[str, Any] | None, token: str | None = None
) -> tuple[int, dict[str, Any]]:
    """POST /action (or GET /status when ``body`` is None); returns (HTTP status, JSON)."""
    import urllib.error
    import urllib.request

    url = f"http://{'[' + host + ']' if ':' in host else host}:{port}"
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if body is None:
        req = urllib.request.Request(f"{url}/status", headers=headers)
    else:
        data = json.dumps(body).encode()
        req = urllib.request.Request(
            f"{url}/action", data=data, headers={"Content-Type": "application/json", **headers}
        )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def run(args: argparse.Namespace) -> int:
    try:
        loopback = ipaddress.ip_address(args.host).is_loopback
    except ValueError:
        loopback = False
    token = None
    if args.token is not None:
        from netmon.errors import ConfigError
        from netmon.inventory.secrets import resolve_secret

        try:
            token = resolve_secret(args.token)
        except ConfigError as exc:
            print(f"netmon control: {exc}", file=sys.stderr)
            return 2
    if not loopback and token is None:
        print(
            f"netmon control: {args.host} is not a loopback address (a training room's "
            "simulator needs --token)",
            file=sys.stderr,
        )
        return 2
    action = args.action
    body: dict[str, Any] | None = None
    if action != "status":
        body = {"action": action.replace("-", "_")}
        for arg, _, _ in _ACTIONS[action][1]:
            body[arg] = getattr(args, arg)
        for extra in ("times", "interval", "heal", "db"):
            if hasattr(args, extra):
                body[extra] = getattr(args, extra)
        if action == "clear" and args.device:
            body["device"] = args.device
    try:
        status, result = request(args.host, args.control_port, body, token)
    except OSError as exc:
        print(
            f"netmon control: no simulator control endpoint at {args.host}:{args.control_port}"
            f" ({exc})",
            file=sys.stderr,
        )
        return 1
    if status != 200:
        print(f"netmon control: {result.get('error', result)}", file=sys.stderr)
        return 1
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return 0
