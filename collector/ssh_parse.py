"""CLI output -> typed records: TextFSM (ntc-templates or ours), then per-kind normalising.

A command's output is *unparseable* when TextFSM rejects it (a template's Error state) or when
it gives no record although the output is neither blank nor one of the command's "empty"
answers (``% Invalid input``, a truncated table, a vendor's new format). The caller counts it
and keeps the device's other data.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

import textfsm

from collector.ssh_model import NO_LIGHT_DBM, BgpPeer, IfRow, LldpNeighbor, Optic, OspfPeer
from collector.ssh_profiles import CommandSpec

Record = dict[str, str]
_NUM = re.compile(r"[-+]?\d+(?:\.\d+)?")
_ERROR_MARKERS = re.compile(
    r"(?im)^\s*(?:% ?Invalid input|% ?Unknown command|Error: Unrecognized command|"
    r"syntax error|bad command name|expected end of command)"
)
_DURATION_PART = re.compile(r"(\d+)([wdhms])")
_UNIT = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}


class Unparseable(Exception):
    """The output of one command could not be read; the message says why (no output)."""


def records(spec: CommandSpec, output: str) -> list[Record]:
    """The template's records, keyed by our field names. Raises Unparseable."""
    if _ERROR_MARKERS.search(output):
        raise Unparseable("the device rejected the command")
    try:
        fsm = spec.fsm()
        rows = fsm.ParseText(output)
    except textfsm.TextFSMError as exc:
        raise Unparseable(f"template {spec.template}: {str(exc)[:120]}") from exc
    header = fsm.header
    out: list[Record] = []
    for row in rows:
        raw = dict(zip(header, row, strict=True))
        rec = {ours: _text(raw.get(theirs, "")) for ours, theirs in spec.fields.items()}
        out.append(rec)
    if not out and output.strip() and not any(r.search(output) for r in spec.empty_res):
        raise Unparseable(f"template {spec.template}: no record in {len(output)} characters")
    return out


def _text(value: object) -> str:
    if isinstance(value, list):
        return " ".join(str(v) for v in value).strip()
    return str(value).strip()


def number(text: str) -> float | None:
    """``-7.32``, ``-7.32dBm``, ``35C``, ``15.2mA``; ``- Inf`` (no light) -> NO_LIGHT_DBM."""
    t = text.strip()
    if not t or t.upper() in ("N/A", "NA", "--"):
        return None
    if re.fullmatch(r"-\s?[Ii]nf(?:dBm)?", t):
        return NO_LIGHT_DBM
    m = _NUM.match(t)
    if m is None:
        return None
    value = float(m.group(0))
    return value if math.isfinite(value) else None


def duration(text: str) -> float | None:
    """Seconds from the platforms' up/down times: ``00:12:34``, ``1d02h``, ``2w3d``, ``1w2d
    3:04:05`` (Junos), ``0049h12m`` (VRP), ``1d2h3m4s`` (RouterOS). ``never`` -> None."""
    t = text.strip().lower()
    if not t or t in ("never", "-"):
        return None
    total = 0.0
    matched = False
    clock = re.search(r"(\d+):(\d{2})(?::(\d{2}))?$", t)
    if clock:
        h, m, s = int(clock.group(1)), int(clock.group(2)), int(clock.group(3) or 0)
        if clock.group(3) is None:  # mm:ss (Junos prints "5:32" for minutes:seconds)
            h, m, s = 0, h, m
        total += h * 3600 + m * 60 + s
        t = t[: clock.start()]
        matched = True
    for n, unit in _DURATION_PART.findall(t):
        total += int(n) * _UNIT[unit]
        matched = True
    return total if matched else None


# --- per kind ---------------------------------------------------------------------------------

_LONG_MEASURES = {
    "temperature": "temperature",
    "current": "bias",
    "transmit power": "tx",
    "receive power": "rx",
}
_LEVELS = ("low_alarm", "low_warning", "high_warning", "high_alarm")


def optics(recs: Iterable[Record], long: bool) -> list[Optic]:
    merged: dict[str, dict[str, float]] = {}
    for r in recs:
        name = r.get("interface", "")
        if not name:
            continue
        slot = merged.setdefault(name, {})
        if long:
            measure = _LONG_MEASURES.get(r.get("measure", "").lower())
            if measure is None:
                continue
            n = number(r.get("value", ""))
            if n is not None:
                slot[measure] = n
            if measure in ("rx", "tx"):
                for lv in _LEVELS:
                    t = number(r.get(lv, ""))
                    if t is not None:
                        slot[f"{measure}_{lv}"] = t
            continue
        for key, text in r.items():
            if key == "interface":
                continue
            n = number(text)
            if n is not None:
                slot[key] = n
    out = []
    for name, v in merged.items():
        bias = v.get("bias")
        thresholds = tuple(
            (f"{m}_{lv}", v[f"{m}_{lv}"])
            for m in ("rx", "tx")
            for lv in _LEVELS
            if f"{m}_{lv}" in v
        )
        out.append(
            Optic(
                interface=name,
                rx_dbm=v.get("rx"),
                tx_dbm=v.get("tx"),
                temperature_celsius=v.get("temperature"),
                bias_amperes=bias / 1000.0 if bias is not None else None,
                thresholds=thresholds,
            )
        )
    return out


def bgp(recs: Iterable[Record]) -> list[BgpPeer]:
    out = []
    for r in recs:
        state = r.get("state", "")
        prefixes_text = r.get("prefixes", "")
        # IOS prints the received-prefix count in the State column of an established peer;
        # Junos prints "Establ" or, for one table, "act/recv/acc/damp".
        if state.isdigit():
            prefixes_text, state = state, "Established"
        elif re.fullmatch(r"\d+/\d+/\d+/\d+", state):
            prefixes_text, state = state.split("/")[1], "Established"
        up = state.lower().startswith("establ")
        out.append(
            BgpPeer(
                neighbor=r["neighbor"],
                remote_as=r.get("remote_as", ""),
                state=state,
                up=up,
                uptime_seconds=duration(r.get("uptime", "")) if up else None,
                prefixes=int(prefixes_text) if prefixes_text.isdigit() else None,
            )
        )
    return out


def ospf_up(state: str) -> bool:
    s = state.lower().replace("-", "")
    return s.startswith("full") or s.startswith("2way")


def ospf(recs: Iterable[Record]) -> list[OspfPeer]:
    return [
        OspfPeer(r["neighbor_id"], r.get("interface", ""), r.get("state", ""), ospf_up(r["state"]))
        for r in recs
        if r.get("neighbor_id")
    ]


def lldp(recs: Iterable[Record]) -> list[LldpNeighbor]:
    return [
        LldpNeighbor(r["interface"], r["system_name"], r["port"])
        for r in recs
        if r.get("interface") and (r.get("system_name") or r.get("port"))
    ]


_COUNTERS = {
    "in_octets": "ifHCInOctets",
    "out_octets": "ifHCOutOctets",
    "in_packets": "ifHCInUcastPkts",
    "out_packets": "ifHCOutUcastPkts",
    "in_errors": "ifInErrors",
    "out_errors": "ifOutErrors",
}


def _speed(r: Record) -> int | None:
    if r.get("bandwidth_kbps", "").isdigit():
        return int(r["bandwidth_kbps"]) * 1000
    if r.get("speed_mbps", "").isdigit():
        return int(r["speed_mbps"]) * 1_000_000
    m = re.fullmatch(r"(\d+)([MG])bps", r.get("speed", ""), re.IGNORECASE)
    if m:
        return int(m.group(1)) * (10**9 if m.group(2).upper() == "G" else 10**6)
    return None


def interfaces(recs: Iterable[Record]) -> list[IfRow]:
    """Status and counters, whatever the platform's words: IOS "administratively down" /
    protocol up, VRP "Administratively DOWN" / UP, Junos Enabled / Up, RouterOS flags X / R."""
    out = []
    for r in recs:
        link, protocol = r.get("link", "").lower(), r.get("protocol", "").lower()
        flags = r.get("flags", "")
        if "flags" in r:
            admin, oper = "X" not in flags, "R" in flags
        elif "admin" in r:
            admin, oper = r["admin"].lower() == "enabled", link == "up"
        else:
            admin, oper = not link.startswith("administratively"), protocol == "up"
        counters = tuple(
            (name, int(r[f])) for f, name in _COUNTERS.items() if r.get(f, "").isdigit()
        )
        out.append(
            IfRow(r["name"], r.get("description", ""), admin, oper and admin, _speed(r), counters)
        )
    return out
