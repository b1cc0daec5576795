"""Per-platform CLI output of a simulated device (what IOS, VRP, Junos and RouterOS print),
rendered from a ``CliView``. Formats follow the real devices' (column layouts, abbreviations,
"- Inf" for no light) so the collector's templates are exercised as on a real backbone."""

from __future__ import annotations

import time
from collections.abc import Callable

from netmon.simulator import traffic
from netmon.simulator.cli_state import (
    RX_THRESHOLDS,
    TX_THRESHOLDS,
    CliView,
    OpticState,
    asn,
    link_address,
    router_id,
)
from netmon.simulator.device import SimInterface

Renderer = Callable[[CliView, float], str]
NO_LIGHT = -40.0


def _mw(dbm: float | None) -> str:
    return "0.0000" if dbm is None else f"{10 ** (dbm / 10):.4f}"


def _cisco_time(seconds: float) -> str:
    s = int(max(0, seconds))
    if s < 86400:
        return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"
    if s < 7 * 86400:
        return f"{s // 86400}d{s % 86400 // 3600:02d}h"
    return f"{s // 604800}w{s % 604800 // 86400}d"


def _huawei_time(seconds: float) -> str:
    s = int(max(0, seconds))
    if s < 86400:
        return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"
    return f"{s // 3600:04d}h{s % 3600 // 60:02d}m"


def _junos_time(seconds: float) -> str:
    s = int(max(0, seconds))
    if s < 3600:
        return f"{s // 60}:{s % 60:02d}"
    clock = f"{s % 86400 // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"
    if s < 86400:
        return clock
    w, d = s // 604800, s % 604800 // 86400
    return (f"{w}w" if w else "") + f"{d}d {clock}"


def _ros_time(seconds: float) -> str:
    s = int(max(0, seconds))
    out = ""
    for unit, n in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if s >= n:
            out += f"{s // n}{unit}"
            s %= n
    return out + f"{s}s"


def _cisco_short(name: str) -> str:
    for full, short in (("GigabitEthernet", "Gi"), ("TenGigabitEthernet", "Te")):
        if name.startswith(full):
            return short + name[len(full) :]
    return name


def _mac(name: str) -> str:
    import hashlib

    h = hashlib.blake2b(name.encode(), digest_size=6).hexdigest()
    return h


# --- Cisco IOS / IOS-XE --------------------------------------------------------------------------


def _cisco_flag(value: float, t: dict[str, float]) -> str:
    if value >= t["high_alarm"]:
        return "++"
    if value >= t["high_warning"]:
        return "+"
    if value <= t["low_alarm"]:
        return "--"
    if value <= t["low_warning"]:
        return "-"
    return ""


def cisco_optics(v: CliView, now: float) -> str:
    optics = [(i.spec.name, v.optic(i, now)) for i in v.link_interfaces()]
    head = (
        "ITU Channel not available (Wavelength not available),\n"
        "Transceiver is internally calibrated.\n"
        "mA: milliamperes, dBm: decibels (milliwatts), NA or N/A: not applicable.\n"
        "++ : high alarm, +  : high warning, -  : low warning, -- : low alarm.\n"
        "A2D readouts (if they differ), are reported in parentheses.\n"
        "The threshold values are calibrated.\n"
    )
    if not optics:
        return "No transceiver present.\n"
    tables: list[tuple[str, str, str, Callable[[OpticState], float], dict[str, float]]] = [
        ("", "Temperature", "(Celsius)", lambda o: o.temperature, _TEMP),
        ("", "Current", "(milliamperes)", lambda o: o.bias_ma, _BIAS),
        ("Optical", "Transmit Power", "(dBm)", lambda o: o.tx, TX_THRESHOLDS),
        ("Optical", "Receive Power", "(dBm)", lambda o: o.rx if o.rx is not None else NO_LIGHT,
         RX_THRESHOLDS),
    ]  # fmt: skip
    out = [head]
    for top, measure, unit, get, t in tables:
        short = unit if unit != "(milliamperes)" else "(mA)"
        out.append("")
        out.append(f"           {top:<19}High Alarm  High Warn  Low Warn   Low Alarm")
        out.append(f"           {measure:<19}Threshold   Threshold  Threshold  Threshold")
        out.append(f"Port       {unit:<19}{short:<12}{short:<11}{short:<11}{short}")
        out.append("---------  -----------------  ----------  ---------  ---------  ---------")
        for name, o in optics:
            value = get(o)
            flag = _cisco_flag(value, t)
            out.append(
                f"{_cisco_short(name):<11}{value:>7.1f} {flag:<2}{'':9}{t['high_alarm']:>7.1f}"
                f"{t['high_warning']:>11.1f}{t['low_warning']:>11.1f}{t['low_alarm']:>11.1f}"
            )
    return "\n".join(out) + "\n"


_TEMP = {"high_alarm": 85.0, "high_warning": 80.0, "low_warning": -5.0, "low_alarm": -10.0}
_BIAS = {"high_alarm": 90.0, "high_warning": 80.0, "low_warning": 2.0, "low_alarm": 1.0}


def cisco_bgp(v: CliView, now: float) -> str:
    peers = v.peers()
    me = v.dev.name
    lines = [
        f"BGP router identifier {router_id(me)}, local AS number {asn(me)}",
        "BGP table version is 42, main routing table version 42",
        f"{12 * len(peers)} network entries using {1728 * len(peers)} bytes of memory",
        "",
        "Neighbor        V           AS MsgRcvd MsgSent   TblVer  InQ OutQ Up/Down  State/PfxRcd",
    ]
    for p in peers:
        addr = link_address(p.device, me, p.device)
        state = "12" if p.up else "Active"
        lines.append(
            f"{addr:<15} 4 {asn(p.device):>12} {1234 if p.up else 0:>7} {1240 if p.up else 0:>7}"
            f" {42 if p.up else 1:>8} {0:>4} {0:>4} {_cisco_time(now - p.since):<8} {state:>12}"
        )
    return "\n".join(lines) + "\n"


def cisco_ospf(v: CliView, now: float) -> str:
    lines = ["", "Neighbor ID     Pri   State           Dead Time   Address         Interface"]
    me = v.dev.name
    for p in v.peers():
        if p.up:
            lines.append(
                f"{router_id(p.device):<15} {0:>3}   {'FULL/  -':<15} 00:00:3{int(now) % 10}"
                f"    {link_address(p.device, me, p.device):<15} {p.interface}"
            )
    return "\n".join(lines) + "\n"


def cisco_lldp(v: CliView, now: float) -> str:
    out = []
    seen = v.lldp()
    for p in seen:
        out += [
            "------------------------------------------------",
            f"Local Intf: {_cisco_short(p.interface)}",
            f"Chassis id: {_mac(p.device)[:4]}.{_mac(p.device)[4:8]}.{_mac(p.device)[8:]}",
            f"Port id: {p.port}",
            f"Port Description: to {v.dev.name}",
            f"System Name: {p.device}",
            "",
            "System Description: ",
            "Huawei Versatile Routing Platform Software",
            "VRP (R) software, Version 8.180 (NE40E V800R011C10SPC100)",
            "",
            "Time remaining: 101 seconds",
            "System Capabilities: B,R",
            "Enabled Capabilities: R",
            "Management Addresses:",
            f"    IP: {router_id(p.device)}",
            "Auto Negotiation - not supported",
            "Physical media capabilities - not advertised",
            "Media Attachment Unit type - not advertised",
            "Vlan ID: - not advertised",
            "",
        ]
    out.append(f"Total entries displayed: {len(seen)}")
    return "\n".join(out) + "\n"


# --- Huawei VRP --------------------------------------------------------------------------------


def huawei_optics(v: CliView, now: float) -> str:
    out = []
    sep = "-" * 61
    for itf in v.link_interfaces():
        o = v.optic(itf, now)
        rx = o.rx if o.rx is not None else NO_LIGHT
        out += [
            "",
            f" {itf.spec.name} transceiver information:",
            sep,
            " Common information:",
            "   Transceiver Type                      :1000_BASE_LX_SFP",
            "   Connector Type                        :LC",
            "   Wavelength(nm)                        :1310",
            "   Transfer Distance(m)                  :10000(9um)",
            "   Digital Diagnostic Monitoring         :YES",
            "   Vendor Name                           :HUAWEI",
            "   Vendor Part Number                    :34060290",
            "   Ordering Name                         :",
            sep,
            " Alarm information:",
            "   No alarm" if o.rx is not None else "   RX loss of signal",
            sep,
            " Diagnostic information:",
            f"   Temperature(\u00b0C)                       :{o.temperature:.0f}",
            "   Voltage(V)                            :3.30",
            f"   Bias Current(mA)                      :{o.bias_ma:.2f}",
            "   Bias High Threshold(mA)               :80.00",
            "   Bias Low Threshold(mA)                :2.00",
            f"   Current Rx Power(dBm)                 :{rx:.2f}",
            f"   Default Rx Power High Warning(dBm)    :{RX_THRESHOLDS['high_warning']:.2f}",
            f"   Default Rx Power Low Warning(dBm)     :{RX_THRESHOLDS['low_warning']:.2f}",
            f"   Default Rx Power High Alarm(dBm)      :{RX_THRESHOLDS['high_alarm']:.2f}",
            f"   Default Rx Power Low Alarm(dBm)       :{RX_THRESHOLDS['low_alarm']:.2f}",
            f"   Current Tx Power(dBm)                 :{o.tx:.2f}",
            f"   Default Tx Power High Warning(dBm)    :{TX_THRESHOLDS['high_warning']:.2f}",
            f"   Default Tx Power Low Warning(dBm)     :{TX_THRESHOLDS['low_warning']:.2f}",
            f"   Default Tx Power High Alarm(dBm)      :{TX_THRESHOLDS['high_alarm']:.2f}",
            f"   Default Tx Power Low Alarm(dBm)       :{TX_THRESHOLDS['low_alarm']:.2f}",
            sep,
        ]
    return "\n".join(out) + "\n"


def huawei_bgp(v: CliView, now: float) -> str:
    peers = v.peers()
    me = v.dev.name
    up = sum(1 for p in peers if p.up)
    lines = [
        "",
        f" BGP local router ID : {router_id(me)}",
        f" Local AS number : {asn(me)}",
        f" Total number of peers : {len(peers)}\t\t  Peers in established state : {up}",
        "",
        "  Peer            V          AS  MsgRcvd  MsgSent  OutQ  Up/Down       State  PrefRcv",
        "",
    ]
    for p in peers:
        lines.append(
            f"  {link_address(p.device, me, p.device):<15} 4 {asn(p.device):>11}"
            f" {1234 if p.up else 0:>8} {1240 if p.up else 0:>8} {0:>5}"
            f" {_huawei_time(now - p.since):<8} {'Established' if p.up else 'Active':>11}"
            f" {12 if p.up else 0:>8}"
        )
    return "\n".join(lines) + "\n"


def huawei_ospf(v: CliView, now: float) -> str:
    sep = " " + "-" * 76
    lines = [
        "",
        f"\t OSPF Process 1 with Router ID {router_id(v.dev.name)}",
        "\t\t  Peer Statistic Information",
        sep,
        " Area Id          Interface                        Neighbor id      State    ",
    ]
    up = [p for p in v.peers() if p.up]
    for p in up:
        lines.append(f" 0.0.0.0          {p.interface:<32} {router_id(p.device):<16} Full        ")
    lines += [sep, f" Total Peer(s):     {len(up)}"]
    return "\n".join(lines) + "\n"


def huawei_lldp(v: CliView, now: float) -> str:
    out = []
    for p in v.lldp():
        m = _mac(p.device)
        out += [
            f"{p.interface} has 1 neighbor(s):",
            "",
            "Neighbor index :1",
            "Chassis type   :MAC address",
            f"Chassis ID     :{m[:4]}-{m[4:8]}-{m[8:]}",
            "Port ID type   :Interface name",
            f"Port ID        :{p.port}",
            f"Port description    :to {v.dev.name}",
            f"System name         :{p.device}",
            "System description  :Huawei Versatile Routing Platform Software",
            "VRP (R) software, Version 8.180 (NE40E V800R011C10SPC100)",
            "Copyright (C) 2012-2019 Huawei Technologies Co., Ltd.",
            "System capabilities supported   :bridge router",
            "System capabilities enabled     :bridge router",
            "Management address type  :ipv4",
            f"Management address value :{router_id(p.device)}",
            "Expired time   :104s",
            "",
        ]
    return "\n".join(out) + "\n"


# --- Juniper Junos ----------------------------------------------------------------------------


def juniper_optics(v: CliView, now: float) -> str:
    out = []

    def dbm(x: float | None) -> str:
        return f"{_mw(x)} mW / " + ("- Inf" if x is None else f"{x:.2f}") + " dBm"

    for itf in v.link_interfaces():
        o = v.optic(itf, now)
        t, r = TX_THRESHOLDS, RX_THRESHOLDS
        out += [
            f"Physical interface: {itf.spec.name}",
            f"    Laser bias current                        :  {o.bias_ma:.3f} mA",
            f"    Laser output power                        :  {dbm(o.tx)}",
            f"    Module temperature                        :  {o.temperature:.0f} degrees C / "
            f"{o.temperature * 9 / 5 + 32:.0f} degrees F",
            "    Module voltage                            :  3.2900 V",
            f"    Receiver signal average optical power     :  {dbm(o.rx)}",
            "    Laser bias current high alarm             :  Off",
            "    Laser bias current low alarm              :  Off",
            f"    Laser rx power low alarm                  :  {'On' if o.rx is None else 'Off'}",
            f"    Laser output power high alarm threshold   :  {dbm(t['high_alarm'])}",
            f"    Laser output power low alarm threshold    :  {dbm(t['low_alarm'])}",
            f"    Laser output power high warning threshold :  {dbm(t['high_warning'])}",
            f"    Laser output power low warning threshold  :  {dbm(t['low_warning'])}",
            "    Module temperature high alarm threshold   :  90 degrees C / 194 degrees F",
            f"    Laser rx power high alarm threshold       :  {dbm(r['high_alarm'])}",
            f"    Laser rx power low alarm threshold        :  {dbm(r['low_alarm'])}",
            f"    Laser rx power high warning threshold     :  {dbm(r['high_warning'])}",
            f"    Laser rx power low warning threshold      :  {dbm(r['low_warning'])}",
            "",
        ]
    return "\n".join(out) + "\n"


def juniper_bgp(v: CliView, now: float) -> str:
    peers = v.peers()
    me = v.dev.name
    down = sum(1 for p in peers if not p.up)
    lines = [
        "Threading mode: BGP I/O",
        "Default eBGP mode: advertise - accept, receive - accept",
        f"Groups: 1 Peers: {len(peers)} Down peers: {down}",
        "Table          Tot Paths  Act Paths Suppressed    History Damp State    Pending",
        "inet.0",
        f"{12 * len(peers):>24} {10 * len(peers):>10}          0          0          0          0",
        "Peer                     AS      InPkt     OutPkt    OutQ   Flaps Last Up/Dwn "
        "State|#Active/Received/Accepted/Damped...",
    ]
    for p in peers:
        lines.append(
            f"{link_address(p.device, me, p.device):<20} {asn(p.device):>7}"
            f" {1234 if p.up else 0:>10}"
            f" {1240 if p.up else 0:>10} {0:>7} {1:>7} {_junos_time(now - p.since):>12}"
            f" {'Establ' if p.up else 'Active'}"
        )
        if p.up:
            lines.append("  inet.0: 10/12/12/0")
    return "\n".join(lines) + "\n"


def juniper_ospf(v: CliView, now: float) -> str:
    lines = ["Address          Interface              State           ID               Pri  Dead"]
    me = v.dev.name
    for p in v.peers():
        if p.up:
            lines.append(
                f"{link_address(p.device, me, p.device):<16} {p.interface + '.0':<22} {'Full':<15}"
                f" {router_id(p.device):<16} {128:>3}    3{int(now) % 10}"
            )
    return "\n".join(lines) + "\n"


def juniper_lldp(v: CliView, now: float) -> str:
    lines = [
        "Local Interface    Parent Interface    Chassis Id          Port info          System Name"
    ]
    for p in v.lldp():
        m = _mac(p.device)
        chassis = ":".join(m[i : i + 2] for i in range(0, 12, 2))
        lines.append(f"{p.interface:<18} {'-':<19} {chassis:<19} {p.port:<18} {p.device}")
    return "\n".join(lines) + "\n"


# --- MikroTik RouterOS ------------------------------------------------------------------------


def mikrotik_monitor(v: CliView, now: float, interface: str) -> str:
    itf = v.dev.by_name.get(interface)
    if itf is None:
        return "no such item\n"
    o = v.optic(itf, now)
    rx = o.rx if o.rx is not None else NO_LIGHT
    rows = [
        ("name", interface),
        ("status", "link-ok" if itf.oper_up else "no-link"),
        ("auto-negotiation", "done"),
        ("rate", "1Gbps"),
        ("full-duplex", "yes"),
        ("tx-flow-control", "no"),
        ("rx-flow-control", "no"),
        ("sfp-module-present", "yes"),
        ("sfp-rx-loss", "no" if itf.oper_up else "yes"),
        ("sfp-tx-fault", "no"),
        ("sfp-type", "SFP-or-SFP+"),
        ("sfp-connector-type", "LC"),
        ("sfp-link-length-9um", "10000m"),
        ("sfp-vendor-name", "MikroTik"),
        ("sfp-vendor-part-number", "S-31DLC20D"),
        ("sfp-wavelength", "1310nm"),
        ("sfp-temperature", f"{o.temperature:.0f}C"),
        ("sfp-supply-voltage", "3.291V"),
        ("sfp-tx-bias-current", f"{o.bias_ma:.0f}mA"),
        ("sfp-tx-power", f"{o.tx:.3f}dBm"),
        ("sfp-rx-power", f"{rx:.3f}dBm"),
    ]
    return "\n".join(f"{k:>26}: {val}" for k, val in rows) + "\n"


def mikrotik_bgp(v: CliView, now: float) -> str:
    me = v.dev.name
    lines = ["Flags: X - disabled, E - established "]
    for n, p in enumerate(v.peers()):
        addr = link_address(p.device, me, p.device)
        lines.append(
            f' {n:>2} {"E" if p.up else " "} name="peer-{p.device}" instance=default '
            f'remote-address={addr} remote-as={asn(p.device)} tcp-md5-key="" '
            f"nexthop-choice=default multihop=no route-reflect=no hold-time=3m ttl=default "
            f"remote-id={router_id(p.device)} local-address={link_address(p.device, me, me)} "
            f"uptime={_ros_time(now - p.since) if p.up else ''} prefix-count={12 if p.up else 0}"
        )
        lines.append(
            "      updates-sent=20 updates-received=30 withdrawn-sent=0 withdrawn-received=0 "
            f"refresh-capability=yes as4-capability=yes state={'established' if p.up else 'active'}"
        )
    return "\n".join(lines) + "\n"


def mikrotik_ospf(v: CliView, now: float) -> str:
    me = v.dev.name
    lines = []
    for n, p in enumerate(x for x in v.peers() if x.up):
        lines.append(
            f" {n:>2} instance=default router-id={router_id(p.device)} "
            f"address={link_address(p.device, me, p.device)} interface={p.interface} priority=1 "
            f'dr-address=0.0.0.0 backup-dr-address=0.0.0.0 state="Full" state-changes=5 '
            f"ls-retransmits=0 ls-requests=0 db-summaries=0 adjacency={_ros_time(now - p.since)}"
        )
    return "\n".join(lines) + "\n"


def mikrotik_lldp(v: CliView, now: float) -> str:
    lines = []
    for n, p in enumerate(v.lldp()):
        m = _mac(p.device).upper()
        mac = ":".join(m[i : i + 2] for i in range(0, 12, 2))
        lines.append(
            f" {n:>2} interface={p.interface} address={router_id(p.device)} mac-address={mac} "
            f'identity="{p.device}" platform="MikroTik" version="6.49.10 (long-term)" '
            f"unpack=none age=42s uptime={_ros_time(now - p.since)} "
            f'interface-name="{p.port}" system-caps=bridge,router system-caps-enabled=router'
        )
        lines.append("")
    return "\n".join(lines) + "\n"


# --- interfaces (asked of CLI-only devices) ------------------------------------------------------


def _counters(itf: SimInterface, now: float) -> dict[str, int]:
    """The same counters the device's SNMP agent serves (ifHC*, ifIn/OutErrors)."""
    exposure = itf.exposure(traffic.cumulative(now))
    ucast_in = itf.k_in / itf.pkt_in * 0.97
    ucast_out = itf.k_out / itf.pkt_out * 0.97
    return {
        "in_octets": int(exposure * itf.k_in),
        "out_octets": int(exposure * itf.k_out),
        "in_packets": int(exposure * ucast_in),
        "out_packets": int(exposure * ucast_out),
        "in_errors": int(exposure * ucast_in * 3e-7),
        "out_errors": int(exposure * ucast_out * 1e-7),
    }


def cisco_interfaces(v: CliView, now: float) -> str:
    out = []
    for itf in v.dev.interfaces:
        c, spec = _counters(itf, now), itf.spec
        link = "up" if itf.oper_up else "down"
        if not spec.admin_up:
            link = "administratively down"
        proto = "up" if itf.oper_up else "down"
        out += [
            f"{spec.name} is {link}, line protocol is {proto} ",
            f"  Hardware is iGbE, address is {_mac(spec.name)[:4]}.{_mac(spec.name)[4:8]}.0001",
            *([f"  Description: {spec.alias}"] if spec.alias else []),
            f"  MTU 1500 bytes, BW {max(spec.speed // 1000, 1)} Kbit/sec, DLY 10 usec, ",
            "     reliability 255/255, txload 1/255, rxload 1/255",
            "  Encapsulation ARPA, loopback not set",
            "     5 minute input rate 2000 bits/sec, 3 packets/sec",
            f"     {c['in_packets']} packets input, {c['in_octets']} bytes, 0 no buffer",
            "     Received 1234 broadcasts (0 IP multicasts)",
            "     0 runts, 0 giants, 0 throttles ",
            f"     {c['in_errors']} input errors, 0 CRC, 0 frame, 0 overrun, 0 ignored",
            f"     {c['out_packets']} packets output, {c['out_octets']} bytes, 0 underruns",
            f"     {c['out_errors']} output errors, 0 collisions, 1 interface resets",
        ]
    return "\n".join(out) + "\n"


def huawei_interfaces(v: CliView, now: float) -> str:
    out = []
    for itf in v.dev.interfaces:
        c, spec = _counters(itf, now), itf.spec
        state = "UP" if itf.oper_up else "DOWN"
        if not spec.admin_up:
            state = "Administratively DOWN"
        out += [
            f"{spec.name} current state : {state} (ifindex: {itf.index})",
            f"Line protocol current state : {'UP' if itf.oper_up else 'DOWN'}",
            f"Description:{spec.alias}",
            "Route Port,The Maximum Transmit Unit is 1500",
            "Internet protocol processing : disabled",
            f"Speed : {spec.speed // 1_000_000},  Loopback: NONE",
            "Duplex: FULL,  Negotiation: ENABLE",
            "Statistics last cleared:never",
            f"    Input:  {c['in_packets']} packets, {c['in_octets']} bytes",
            f"      Unicast:            {c['in_packets']},  Multicast:           0",
            f"      Total Error:        {c['in_errors']}",
            f"    Output:  {c['out_packets']} packets, {c['out_octets']} bytes",
            f"      Unicast:            {c['out_packets']},  Multicast:           0",
            f"      Total Error:        {c['out_errors']}",
            "",
        ]
    return "\n".join(out) + "\n"


def juniper_interfaces(v: CliView, now: float) -> str:
    out = []
    for itf in v.dev.interfaces:
        c, spec = _counters(itf, now), itf.spec
        admin = "Enabled" if spec.admin_up else "Administratively down"
        speed = (
            f"{spec.speed // 10**9}Gbps" if spec.speed >= 10**9 else f"{spec.speed // 10**6}mbps"
        )
        out += [
            f"Physical interface: {spec.name}, {admin}, Physical link is "
            f"{'Up' if itf.oper_up else 'Down'}",
            f"  Interface index: {itf.index}, SNMP ifIndex: {itf.index}, Generation: 151",
            *([f"  Description: {spec.alias}"] if spec.alias else []),
            f"  Link-level type: Ethernet, MTU: 1514, LAN-PHY mode, Speed: {speed}, "
            "BPDU Error: None",
            "  Traffic statistics:",
            f"   Input  bytes  :   {c['in_octets']:>18}                 2000 bps",
            f"   Output bytes  :   {c['out_octets']:>18}                 1000 bps",
            f"   Input  packets:   {c['in_packets']:>18}                    3 pps",
            f"   Output packets:   {c['out_packets']:>18}                    2 pps",
            "  Input errors:",
            f"    Errors: {c['in_errors']}, Drops: 0, Framing errors: 0, Runts: 0",
            "  Output errors:",
            f"    Carrier transitions: 1, Errors: {c['out_errors']}, Drops: 0, Collisions: 0",
            "",
        ]
    return "\n".join(out) + "\n"


def mikrotik_interfaces(v: CliView, now: float) -> str:
    lines = ["Flags: D - dynamic, X - disabled, R - running, S - slave "]
    for n, itf in enumerate(v.dev.interfaces):
        c, spec = _counters(itf, now), itf.spec
        flags = ("X" if not spec.admin_up else "") + ("R" if itf.oper_up else "")
        lines.append(
            f' {n:>2} {flags:<2} name="{spec.name}" default-name="{spec.name}" type="ether" '
            f"mtu=1500 actual-mtu=1500 rx-byte={c['in_octets']} tx-byte={c['out_octets']} "
            f"rx-packet={c['in_packets']} tx-packet={c['out_packets']} "
            f"rx-error={c['in_errors']} tx-error={c['out_errors']} rx-drop=0 tx-drop=0"
        )
    return "\n".join(lines) + "\n"


COMMANDS: dict[str, dict[str, Renderer]] = {
    "cisco": {
        "show interfaces transceiver detail": cisco_optics,
        "show ip bgp summary": cisco_bgp,
        "show ip ospf neighbor": cisco_ospf,
        "show lldp neighbors detail": cisco_lldp,
        "show interfaces": cisco_interfaces,
    },
    "huawei": {
        "display transceiver verbose": huawei_optics,
        "display bgp peer": huawei_bgp,
        "display ospf peer brief": huawei_ospf,
        "display lldp neighbor": huawei_lldp,
        "display interface": huawei_interfaces,
    },
    "juniper": {
        "show interfaces diagnostics optics": juniper_optics,
        "show bgp summary": juniper_bgp,
        "show ospf neighbor": juniper_ospf,
        "show lldp neighbors": juniper_lldp,
        "show interfaces extensive": juniper_interfaces,
    },
    "mikrotik": {
        "/routing bgp peer print status": mikrotik_bgp,
        "/routing ospf neighbor print": mikrotik_ospf,
        "/ip neighbor print detail": mikrotik_lldp,
        "/interface print stats-detail without-paging": mikrotik_interfaces,
    },
}
KIND_OF = {
    "show interfaces transceiver detail": "optics",
    "display transceiver verbose": "optics",
    "show interfaces diagnostics optics": "optics",
    "/interface ethernet monitor": "optics",
}


def family(platform: str) -> str:
    return platform.split("_", 1)[0]


def render(view: CliView, command: str, now: float | None = None) -> tuple[str, str] | None:
    """(kind of command, output) for a known show command, else None."""
    now = time.time() if now is None else now
    fam = family(view.dev.platform)
    cmd = " ".join(command.split())
    if (
        fam == "mikrotik"
        and cmd.startswith("/interface ethernet monitor ")
        and cmd.endswith(" once")
    ):
        iface = cmd[len("/interface ethernet monitor ") : -len(" once")]
        return "optics", mikrotik_monitor(view, now, iface)
    fn = COMMANDS.get(fam, {}).get(cmd)
    if fn is None:
        return None
    kind = KIND_OF.get(cmd)
    if fn in (cisco_interfaces, huawei_interfaces, juniper_interfaces, mikrotik_interfaces):
        kind = "interfaces"
    elif kind is None:
        kind = "bgp" if "bgp" in cmd else "ospf" if "ospf" in cmd else "lldp"
    return kind, fn(view, now)
