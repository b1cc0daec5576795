"""One simulated device: its interfaces with their state, and the MIB that reads them.

Served OIDs (numeric; every value below is in the device's sorted table):

- SNMPv2-MIB system 1.3.6.1.2.1.1: sysDescr .1.0, sysObjectID .2.0 (the platform's real
  enterprise OID: Cisco 9.1.x, Huawei 2011, Juniper 2636, MikroTik 14988), sysUpTime .3.0,
  sysContact .4.0, sysName .5.0 (device name), sysLocation .6.0 (site Thai / English name),
  sysServices .7.0, sysORLastChange .8.0.
- IF-MIB ifNumber 1.3.6.1.2.1.2.1.0; ifTable 1.3.6.1.2.1.2.2.1.{1-11,13-17,19,20}.ifIndex
  (ifIndex, ifDescr, ifType, ifMtu, ifSpeed, ifPhysAddress, ifAdminStatus, ifOperStatus,
  ifLastChange, ifInOctets, ifInUcastPkts, ifInDiscards, ifInErrors, ifInUnknownProtos,
  ifOutOctets, ifOutUcastPkts, ifOutDiscards, ifOutErrors); ifXTable
  1.3.6.1.2.1.31.1.1.1.{1-19}.ifIndex (ifName, multicast/broadcast counters, ifHCIn/OutOctets,
  ifHCIn/OutUcastPkts, ifHC multicast/broadcast, ifLinkUpDownTrapEnable, ifHighSpeed,
  ifPromiscuousMode, ifConnectorPresent, ifAlias, ifCounterDiscontinuityTime);
  ifTableLastChange 1.3.6.1.2.1.31.1.5.0.
- Vendor health (see ``platforms.py``): CISCO-PROCESS-MIB cpmCPUTotal1minRev/5minRev,
  CISCO-MEMORY-POOL-MIB ciscoMemoryPoolName/Used/Free, CISCO-ENVMON-MIB temperature;
  HUAWEI-ENTITY-EXTENT-MIB hwEntityCpuUsage/MemUsage/Temperature; JUNIPER-MIB
  jnxOperatingDescr/Temp/CPU/Buffer; MikroTik mtxrHlTemperature + HOST-RESOURCES-MIB
  hrProcessorLoad and hrStorage (RAM).

Interfaces: the inventory's declared ones (uplinks keep their inventory names; ifAlias says
"uplink to <device> <iface>" / "downlink to ..."), LAN ports, a management port, three unused
admin-down ports and a loopback. Counters are ``rate x profile integral`` over the time an
interface was up since the last (re)boot: nothing ticks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from netmon.simulator import traffic
from netmon.simulator.mib import (
    Mib,
    enc_counter32,
    enc_counter64,
    enc_int,
    enc_unsigned,
)
from netmon.simulator.platforms import FALLBACK_HEALTH, PLATFORMS, PlatformProfile, port_name
from netmon.snmp import ber

OID = tuple[int, ...]

SYSTEM = (1, 3, 6, 1, 2, 1, 1)
IF_NUMBER = (1, 3, 6, 1, 2, 1, 2, 1, 0)
IF_ENTRY = (1, 3, 6, 1, 2, 1, 2, 2, 1)
IFX_ENTRY = (1, 3, 6, 1, 2, 1, 31, 1, 1, 1)
IF_TABLE_LAST_CHANGE = (1, 3, 6, 1, 2, 1, 31, 1, 5, 0)
SYS_UPTIME = (*SYSTEM, 3, 0)

ETHERNET = 6
SOFTWARE_LOOPBACK = 24
_MAX32 = 0xFFFFFFFF


@dataclass
class IfSpec:
    """What an interface is, before any state."""

    name: str
    index: int
    speed: int
    alias: str
    role: str  # uplink, backup, downlink, lan, mgmt, unused, loopback
    admin_up: bool = True
    if_type: int = ETHERNET
    peer: tuple[str, str] | None = None  # (device, interface) at the far end
    link_seed: str = ""  # both ends of a link share it, so their rates mirror
    a_end: bool = True
    circuit: int = 0  # bits/s of the link's circuit when slower than the port (0: none)


@dataclass
class SimInterface:
    spec: IfSpec
    mac: bytes
    k_in: float  # octets per full-rate second (the profile integral's unit)
    k_out: float
    pkt_in: float  # mean packet size
    pkt_out: float
    oper_up: bool = True
    down_reasons: set[str] = field(default_factory=set)
    last_change: float = 0.0  # unix time of the last oper status change
    acc: float = 0.0  # full-rate seconds accumulated before ``since``
    since_cum: float = 0.0  # profile integral at the last state change

    @property
    def index(self) -> int:
        return self.spec.index

    def exposure(self, cum: float) -> float:
        """Full-rate seconds of traffic since the last boot (frozen while down)."""
        if self.oper_up:
            return self.acc + (cum - self.since_cum)
        return self.acc


class SimDevice:
    """A device's identity, interface state and MIB. Time comes from the caller (``now``)."""

    def __init__(
        self,
        name: str,
        platform: str,
        address: str,
        port: int,
        site_code: str,
        site_name: str,
        province_code: str,
        lat: float,
        lon: float,
        specs: list[IfSpec],
        now: float,
    ) -> None:
        self.name = name
        self.platform = platform
        self.address = address
        self.port = port
        self.site_code = site_code
        self.province_code = province_code
        self.profile: PlatformProfile | None = PLATFORMS.get(platform)  # type: ignore[call-overload]
        self.seed = int(traffic.seeded(name, "seed") * 2**31)
        self.base_latency = traffic.base_latency(lat, lon)
        uptime = 86400 * (3 + 120 * traffic.seeded(name, "uptime"))
        self.boot = now - uptime
        self.interfaces: list[SimInterface] = []
        for spec in specs:
            self.interfaces.append(self._make_interface(spec))
        self.by_name = {i.spec.name: i for i in self.interfaces}
        self.by_index = {i.index: i for i in self.interfaces}
        self.reset_counters(self.boot)
        self.mib = Mib()
        self._build_mib(site_name)

    # --- state -----------------------------------------------------------------------------

    def _make_interface(self, spec: IfSpec) -> SimInterface:
        oui = self.profile.oui if self.profile else bytes.fromhex("0050c2")
        mac = oui + int(traffic.seeded(self.name, spec.name, "mac") * 2**24).to_bytes(3, "big")
        # A 100M circuit on a 1G port carries at most 100M: traffic follows the slower one.
        bps = (min(spec.speed, spec.circuit) if spec.circuit else spec.speed) / 8.0
        seed = spec.link_seed or f"{self.name}/{spec.name}"
        peak = {"uplink": 0.25 + 0.45 * traffic.seeded(seed, "peak"), "backup": 0.02}
        peak |= {"downlink": peak["uplink"], "lan": 0.1 + 0.3 * traffic.seeded(seed, "peak")}
        peak |= {"mgmt": 0.0005}
        util = peak.get(spec.role, 0.0) if spec.admin_up else 0.0
        down_share = 0.55 + 0.35 * traffic.seeded(seed, "asym")  # towards the site
        k_down, k_up = bps * util, bps * util * (1.0 - down_share) / down_share
        # a-end (downstream device) receives the download; the upstream end sends it.
        k_in, k_out = (k_down, k_up) if spec.a_end else (k_up, k_down)
        size_a = 350 + 900 * traffic.seeded(seed, "pkt-a")
        size_b = 120 + 500 * traffic.seeded(seed, "pkt-b")
        pkt_in, pkt_out = (size_a, size_b) if spec.a_end else (size_b, size_a)
        oper_up = spec.admin_up and spec.role != "unused"
        return SimInterface(spec, mac, k_in, k_out, pkt_in, pkt_out, oper_up=oper_up)

    def reset_counters(self, now: float) -> None:
        cum = traffic.cumulative(now)
        for itf in self.interfaces:
            itf.acc = 0.0
            itf.since_cum = cum
            itf.last_change = now

    def reboot(self, now: float) -> None:
        """Everything restarts: sysUpTime and every counter from zero."""
        self.boot = now
        self.reset_counters(now)

    def set_oper(self, itf: SimInterface, up: bool, now: float) -> bool:
        """Change an interface's operational status; False when it already was so."""
        up = up and itf.spec.admin_up and itf.spec.role != "unused"
        if itf.oper_up == up:
            return False
        cum = traffic.cumulative(now)
        itf.acc = itf.exposure(cum)
        itf.since_cum = cum
        itf.oper_up = up
        itf.last_change = now
        return True

    def uptime_ticks(self, now: float) -> int:
        return int((now - self.boot) * 100) & _MAX32

    def ticks_at(self, t: float) -> int:
        """TimeTicks of sysUpTime at unix time ``t`` (0 if before the last boot)."""
        return int(max(0.0, t - self.boot) * 100) & _MAX32

    # --- the MIB ---------------------------------------------------------------------------

    def _build_mib(self, site_name: str) -> None:
        m = self.mib
        prof = self.profile
        s = ber.encode_octets
        descr = prof.descr if prof else f"netmon simulated {self.platform}"
        m.add((*SYSTEM, 1, 0), ber.OCTET_STRING, s(descr.encode()))
        object_id = prof.object_id if prof else (1, 3, 6, 1, 4, 1, 8072, 3, 2, 10)
        m.add((*SYSTEM, 2, 0), ber.OBJECT_IDENTIFIER, ber.encode_oid(object_id))
        m.add(SYS_UPTIME, ber.TIMETICKS, lambda now, cum: self._uptime_value(now))
        contact = "MOI ICT Centre NOC, noc@moi.go.th, +66 2 222 4151"
        m.add((*SYSTEM, 4, 0), ber.OCTET_STRING, s(contact.encode()))
        m.add((*SYSTEM, 5, 0), ber.OCTET_STRING, s(self.name.encode()))
        m.add((*SYSTEM, 6, 0), ber.OCTET_STRING, s(site_name.encode()))
        m.add((*SYSTEM, 7, 0), ber.INTEGER, enc_int(6))
        m.add((*SYSTEM, 8, 0), ber.TIMETICKS, enc_unsigned(ber.TIMETICKS, 0))
        m.add(IF_NUMBER, ber.INTEGER, enc_int(len(self.interfaces)))
        m.add(IF_TABLE_LAST_CHANGE, ber.TIMETICKS, self._table_last_change)
        for itf in self.interfaces:
            self._add_interface(itf)
        health = prof.health if prof else FALLBACK_HEALTH
        for oid, kind, tag, arg in health:
            m.add(oid, tag, self._health_value(kind, tag, arg))
        m.freeze()

    def _uptime_value(self, now: float) -> bytes:
        return enc_unsigned(ber.TIMETICKS, int((now - self.boot) * 100))

    def _table_last_change(self, now: float, cum: float) -> bytes:
        latest = max(i.last_change for i in self.interfaces)
        return enc_unsigned(ber.TIMETICKS, self.ticks_at(latest))

    def _add_interface(self, itf: SimInterface) -> None:
        m, spec, idx = self.mib, itf.spec, itf.index
        s = ber.encode_octets
        phys = spec.if_type == ETHERNET

        def col(c: int, tag: int, value: bytes | Callable[[float, float], bytes]) -> None:
            m.add((*IF_ENTRY, c, idx), tag, value)

        def xcol(c: int, tag: int, value: bytes | Callable[[float, float], bytes]) -> None:
            m.add((*IFX_ENTRY, c, idx), tag, value)

        col(1, ber.INTEGER, enc_int(idx))
        col(2, ber.OCTET_STRING, s(spec.name.encode()))
        col(3, ber.INTEGER, enc_int(spec.if_type))
        col(4, ber.INTEGER, enc_int(1500 if phys else 1514))
        col(5, ber.GAUGE32, enc_unsigned(ber.GAUGE32, min(spec.speed, _MAX32)))
        col(6, ber.OCTET_STRING, s(itf.mac if phys else b""))
        col(7, ber.INTEGER, enc_int(1 if spec.admin_up else 2))
        col(8, ber.INTEGER, lambda now, cum: b"\x02\x01\x01" if itf.oper_up else b"\x02\x01\x02")
        col(9, ber.TIMETICKS, lambda now, cum: enc_unsigned(0x43, self.ticks_at(itf.last_change)))

        def c32(k: float) -> Callable[[float, float], bytes]:
            return lambda now, cum: enc_counter32(int(itf.exposure(cum) * k))

        def c64(k: float) -> Callable[[float, float], bytes]:
            return lambda now, cum: enc_counter64(int(itf.exposure(cum) * k))

        ucast_in, ucast_out = itf.k_in / itf.pkt_in * 0.97, itf.k_out / itf.pkt_out * 0.97
        mcast_in, mcast_out = itf.k_in / itf.pkt_in * 0.02, itf.k_out / itf.pkt_out * 0.005
        bcast_in, bcast_out = itf.k_in / itf.pkt_in * 0.01, itf.k_out / itf.pkt_out * 0.001
        col(10, ber.COUNTER32, c32(itf.k_in))
        col(11, ber.COUNTER32, c32(ucast_in))
        col(13, ber.COUNTER32, c32(ucast_in * 2e-6))  # discards: a low background rate
        col(14, ber.COUNTER32, c32(ucast_in * 3e-7))  # errors
        col(15, ber.COUNTER32, c32(ucast_in * 1e-5))
        col(16, ber.COUNTER32, c32(itf.k_out))
        col(17, ber.COUNTER32, c32(ucast_out))
        col(19, ber.COUNTER32, c32(ucast_out * 5e-6))
        col(20, ber.COUNTER32, c32(ucast_out * 1e-7))
        xcol(1, ber.OCTET_STRING, s(spec.name.encode()))
        xcol(2, ber.COUNTER32, c32(mcast_in))
        xcol(3, ber.COUNTER32, c32(bcast_in))
        xcol(4, ber.COUNTER32, c32(mcast_out))
        xcol(5, ber.COUNTER32, c32(bcast_out))
        xcol(6, ber.COUNTER64, c64(itf.k_in))
        xcol(7, ber.COUNTER64, c64(ucast_in))
        xcol(8, ber.COUNTER64, c64(mcast_in))
        xcol(9, ber.COUNTER64, c64(bcast_in))
        xcol(10, ber.COUNTER64, c64(itf.k_out))
        xcol(11, ber.COUNTER64, c64(ucast_out))
        xcol(12, ber.COUNTER64, c64(mcast_out))
        xcol(13, ber.COUNTER64, c64(bcast_out))
        xcol(14, ber.INTEGER, enc_int(1 if spec.role in ("uplink", "backup", "downlink") else 2))
        xcol(15, ber.GAUGE32, enc_unsigned(ber.GAUGE32, spec.speed // 1_000_000))
        xcol(16, ber.INTEGER, enc_int(2))
        xcol(17, ber.INTEGER, enc_int(1 if phys else 2))
        xcol(18, ber.OCTET_STRING, s(spec.alias.encode()))
        xcol(19, ber.TIMETICKS, lambda now, cum: enc_unsigned(0x43, self.ticks_at(self.boot)))

    def _health_value(self, kind: str, tag: int, arg: object) -> bytes | Callable[..., bytes]:
        seed = int(traffic.seeded(self.name, kind) * 2**31)
        base = 5 + 20 * traffic.seeded(self.name, "cpu")

        def load(now: float) -> float:
            return base + 35 * traffic.profile_at(now) + 6 * traffic.jitter(seed, now)

        def num(v: float) -> bytes:
            v = max(0, int(v))
            return enc_int(v) if tag == ber.INTEGER else enc_unsigned(tag, v)

        if kind == "text":
            return ber.encode_octets(str(arg).encode())
        if kind == "oid":
            return ber.encode_oid(tuple(int(x) for x in str(arg).split(".")))
        if kind == "int":
            return num(int(arg))  # type: ignore[call-overload]
        if kind == "cpu":
            return lambda now, cum: num(min(load(now), 100))
        total = int(arg) if isinstance(arg, int) else 0
        mem_share = 0.3 + 0.2 * traffic.seeded(self.name, "mem")

        def used_share(now: float) -> float:
            return mem_share + 0.1 * traffic.profile_at(now) + 0.02 * traffic.jitter(seed, now)

        if kind == "mem_used" or kind == "mem_used_units":
            return lambda now, cum: num(total * used_share(now))
        if kind == "mem_free":
            return lambda now, cum: num(total * (1 - used_share(now)))
        if kind == "mem_total_units":
            return num(total)
        if kind == "mem_pct":
            return lambda now, cum: num(100 * used_share(now))
        temp_base = 36 + 8 * traffic.seeded(self.name, "temp")

        def temp(now: float) -> float:
            return temp_base + 6 * traffic.profile_at(now) + traffic.jitter(seed, now, 300)

        if kind == "temp":
            return lambda now, cum: num(temp(now))
        if kind == "temp_deci":
            return lambda now, cum: num(10 * temp(now))
        raise ValueError(f"unknown health kind {kind!r}")


def platform_ports(platform: str, used: set[str], count: int, start: int = 0) -> list[str]:
    """``count`` physical port names of the platform not in ``used``."""
    prof = PLATFORMS.get(platform)  # type: ignore[call-overload]
    out: list[str] = []
    i = start
    while len(out) < count:
        name = port_name(prof, i) if prof else f"eth{i}"
        if name not in used:
            out.append(name)
            used.add(name)
        i += 1
    return out
