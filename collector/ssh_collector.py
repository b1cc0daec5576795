"""The SSH/CLI collector: netmiko sessions in a bounded worker pool, parsed into ``SshData``.

- netmiko is synchronous: each poll runs in a worker thread (``workers`` at most at once,
  one per device at a time), so the event loop never blocks.
- A poll has a deadline (the profile's ``ssh.timeout``, login and all commands): when it
  passes, the session's socket is closed under the worker, which really ends a session on a
  device that stopped mid-output; other devices are not delayed (their own workers).
- Sessions are reused across polls while the device keeps them open; after a failure the
  next login waits (15 s doubling to 5 min), counted as ``backoff``.
- Output a template cannot read is counted per device and kind, one sample is logged (once
  until it parses again), and the device's other data is still published.
- Neighbours that disappear (an OSPF adjacency that went down is no longer listed) are
  remembered for a day and reported down.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

from collector import cabling, ssh_parse
from collector.model import InterfaceTable, PollResult, ProbeResult, StatusResult, Target
from collector.ssh_model import BgpPeer, IfRow, LldpNeighbor, Mismatch, OspfPeer, SshData
from collector.ssh_profiles import KINDS, CommandSpec, SshProfiles
from collector.ssh_session import HostKeys, Login, Session, SshError
from collector.ssh_targets import Topology
from netmon.errors import ConfigError
from netmon.inventory.secrets import resolve_secret

log = logging.getLogger(__name__)
# paramiko logs every login at INFO ("Connected", "Auth banner", "Authentication successful"):
# 120 devices every 5 minutes is noise; its warnings and errors still show.
logging.getLogger("paramiko").setLevel(logging.WARNING)
BACKOFF_FIRST, BACKOFF_MAX = 15.0, 300.0
REMEMBER = 86400.0  # how long a neighbour that vanished is reported down


def _retrieve(future: asyncio.Future[Any]) -> None:
    """An abandoned worker's outcome: read it, so asyncio does not log it as lost."""
    if not future.cancelled():
        future.exception()


@dataclass(slots=True)
class SshHealth:
    polls: int = 0
    logins: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    unparseable: Counter[str] = field(default_factory=Counter)
    skipped: int = 0  # polls not tried: backing off after a failure
    up: bool = False
    last_duration: float = 0.0
    last_success: float = 0.0  # unix time
    failures: int = 0  # consecutive
    retry_at: float = 0.0  # monotonic


@dataclass(slots=True)
class _Device:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    session: Session | None = None
    seen_bgp: dict[str, tuple[float, BgpPeer]] = field(default_factory=dict)
    seen_ospf: dict[tuple[str, str], tuple[float, OspfPeer]] = field(default_factory=dict)
    logged: set[str] = field(default_factory=set)  # kinds whose bad sample was logged
    # a CLI-only device's interface labels: the same dicts while unchanged (the exporter
    # memoises label sets on their identity)
    if_labels: dict[str, dict[str, str]] = field(default_factory=dict)
    if_cached: dict[str, dict[str, int]] = field(default_factory=dict)


def _interface_table(rows: tuple[IfRow, ...], dev: _Device) -> InterfaceTable:
    """IF-MIB-shaped data from CLI rows. The CLI shows no ifIndex: an interface's index is
    its position in the output (1-based), stable while the configuration is."""
    indexes = [str(i) for i in range(1, len(rows) + 1)]
    labels = {
        i: {"ifName": r.name, "ifDescr": r.name, "ifAlias": r.description}
        for i, r in zip(indexes, rows, strict=True)
    }
    cached = {
        "ifHighSpeed": {
            i: r.speed_bps // 1_000_000
            for i, r in zip(indexes, rows, strict=True)
            if r.speed_bps is not None
        }
    }
    if labels != dev.if_labels or cached != dev.if_cached:
        dev.if_labels, dev.if_cached = labels, cached
    values: dict[str, dict[str, int]] = {"ifOperStatus": {}, "ifAdminStatus": {}}
    for i, r in zip(indexes, rows, strict=True):
        values["ifOperStatus"][i] = 1 if r.oper_up else 2
        values["ifAdminStatus"][i] = 1 if r.admin_up else 2
        for name, v in r.counters:
            values.setdefault(name, {})[i] = v
    return InterfaceTable(indexes, dev.if_labels, values, dev.if_cached)


class SshCollector:
    def __init__(
        self,
        profiles: SshProfiles,
        keys: HostKeys,
        *,
        workers: int = 8,
        port_override: int | None = None,
        resolve: Callable[[str], str] = resolve_secret,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.profiles = profiles
        self.keys = keys
        self.port_override = port_override
        self.topology = Topology()
        self.health: dict[str, SshHealth] = {}
        self._devices: dict[str, _Device] = {}
        self._resolve = resolve
        self._clock = clock
        self._wall = wall
        self._sem = asyncio.Semaphore(workers)
        self.backoff_first = BACKOFF_FIRST
        # spare threads: a worker whose session was aborted may take a moment to unwind
        self._pool = ThreadPoolExecutor(max_workers=workers * 2, thread_name_prefix="ssh")

    # --- Collector protocol -------------------------------------------------------------

    async def collect(self, target: Target) -> PollResult:
        """A CLI-only device's poll: its SSH data (``PollResult.ssh``) and its interfaces
        under the IF-MIB names, so dashboards and rules read them as an SNMP device's."""
        try:
            data = await self.poll(target)
        except SshError as exc:
            return PollResult.failed(f"ssh_{exc.kind}", str(exc))
        dev = self._devices.setdefault(target.name, _Device())
        table = _interface_table(data.interfaces, dev) if data.interfaces else None
        at = data.collected_at if table is not None else 0.0
        return PollResult(ok=True, requests=1, ssh=data, interfaces=table, counters_at=at)

    async def poll_status(self, target: Target) -> StatusResult | None:
        return None

    async def probe(self, target: Target, timeout: float = 2.0) -> ProbeResult:
        """A CLI-only device's reachability: does its SSH port answer (a banner, or a refusal:
        either way the device is there)? No login, no thread."""
        ssh = target.profile.ssh if target.profile is not None else None
        port = self.port_override or (ssh.port if ssh is not None else 22)
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(target.address, port)
                try:
                    await reader.readline()
                finally:
                    writer.close()
        except TimeoutError:
            return ProbeResult(False, "timeout", f"no answer on port {port} within {timeout}s")
        except ConnectionRefusedError:
            return ProbeResult(True, "refused", f"port {port} refused")
        except OSError as exc:
            return ProbeResult(False, "connect", f"port {port}: {exc.strerror or exc}")
        return ProbeResult(True)

    def forget(self, name: str) -> None:
        dev = self._devices.pop(name, None)
        self.health.pop(name, None)
        if dev is not None and dev.session is not None:
            session = dev.session
            self._pool.submit(session.close)

    def close(self) -> None:
        for dev in self._devices.values():
            if dev.session is not None:
                dev.session.abort()  # closes the sockets; no waiting on a device
        self._devices.clear()
        self._pool.shutdown(wait=False, cancel_futures=True)

    # --- polling ------------------------------------------------------------------------

    def deadline(self, target: Target) -> float:
        ssh = target.profile.ssh if target.profile is not None else None
        return min(0.9 * target.interval, ssh.timeout if ssh is not None else 20.0)

    async def poll(self, target: Target) -> SshData:
        """One SSH poll of ``target``. Raises SshError (kind: timeout, connect, auth,
        host_key, unknown_host, config, backoff, unsupported, other)."""
        health = self.health.setdefault(target.name, SshHealth())
        dev = self._devices.setdefault(target.name, _Device())
        if self._clock() < health.retry_at:
            health.skipped += 1
            raise SshError("backoff", f"retrying after {health.failures} failure(s)")
        async with dev.lock, self._sem:
            start = self._clock()
            try:
                data = await self._poll(target, dev, health)
            except SshError as exc:
                if exc.kind != "backoff":
                    health.errors[exc.kind] += 1
                    health.failures += 1
                    wait = min(BACKOFF_MAX, self.backoff_first * 2 ** (health.failures - 1))
                    health.retry_at = self._clock() + wait
                health.up = False
                health.polls += 1
                health.last_duration = self._clock() - start
                raise
            health.polls += 1
            health.up = True
            health.failures = 0
            health.retry_at = 0.0
            health.last_duration = self._clock() - start
            health.last_success = self._wall()
            return data

    def _login(self, target: Target) -> Login:
        spec = self.profiles.platform(target.platform)
        if spec is None:
            raise SshError("unsupported", f"no SSH commands for platform {target.platform}")
        ssh = target.profile.ssh if target.profile is not None else None
        if ssh is None:
            raise SshError("config", "the device's credential profile has no ssh part")
        try:
            password = self._resolve(ssh.password) if ssh.password else None
            key_file = None
            if ssh.key_file:
                kind, _, where = ssh.key_file.partition(":")
                if kind != "file":
                    raise ConfigError("ssh key_file must be a file: reference")
                key_file = where
        except ConfigError as exc:
            raise SshError("config", str(exc)) from None
        return Login(
            spec.device_type,
            target.address,
            self.port_override or ssh.port,
            ssh.username,
            password,
            key_file,
            ssh.timeout,
            spec.find_prompt,
        )

    async def _poll(self, target: Target, dev: _Device, health: SshHealth) -> SshData:
        login = self._login(target)
        spec = self.profiles.platform(target.platform)
        assert spec is not None
        if dev.session is None or dev.session.login != login:
            if dev.session is not None:
                self._pool.submit(dev.session.close)
            dev.session = Session(login, self.keys)
        session = dev.session
        plan: list[tuple[str, CommandSpec, str]] = []
        for kind in KINDS:
            cmd = spec.commands.get(kind)
            if cmd is None or (kind == "interfaces" and "snmp" in target.methods):
                continue
            if cmd.per_interface:
                plan += [(kind, cmd, cmd.command.format(interface=i)) for i in target.uplinks]
            else:
                plan.append((kind, cmd, cmd.command))
        deadline = self.deadline(target)
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(
            self._pool, session.run, [c for _, _, c in plan], max(1.0, deadline)
        )
        try:
            async with asyncio.timeout(deadline):
                outputs, fresh = await asyncio.shield(future)
        except TimeoutError:
            session.abort()  # the worker's read fails now; its thread unwinds on its own
            future.add_done_callback(_retrieve)
            raise SshError("timeout", f"no complete answer within {deadline:.1f}s") from None
        except asyncio.CancelledError:
            session.abort()
            future.add_done_callback(_retrieve)
            raise
        if fresh:
            health.logins += 1
        return self._build(target, dev, health, plan, outputs)

    def _build(
        self,
        target: Target,
        dev: _Device,
        health: SshHealth,
        plan: list[tuple[str, CommandSpec, str]],
        outputs: list[str],
    ) -> SshData:
        per_kind: dict[str, list[ssh_parse.Record]] = {}
        bad: list[str] = []
        longs: dict[str, bool] = {}
        for (kind, cmd, text), out in zip(plan, outputs, strict=True):
            longs[kind] = cmd.long
            try:
                per_kind.setdefault(kind, []).extend(ssh_parse.records(cmd, out))
            except ssh_parse.Unparseable as exc:
                health.unparseable[kind] += 1
                if kind not in bad:
                    bad.append(kind)
                if kind not in dev.logged:
                    dev.logged.add(kind)
                    log.warning(
                        "%s: unparseable output of %r (%s); sample: %r",
                        target.name,
                        text,
                        exc,
                        out[:300],
                    )
        for kind in per_kind:
            if kind not in bad:
                dev.logged.discard(kind)
        known = target.uplinks
        optics = [
            replace(o, interface=cabling.spelled(o.interface, known))
            for o in ssh_parse.optics(per_kind.get("optics", []), longs.get("optics", False))
            if (o.rx_dbm, o.tx_dbm, o.temperature_celsius, o.bias_amperes) != (None,) * 4
        ]
        lldp = [
            LldpNeighbor(cabling.spelled(n.interface, known), n.system_name, n.port)
            for n in ssh_parse.lldp(per_kind.get("lldp", []))
        ]
        now = self._wall()
        bgp = self._remember_bgp(dev, ssh_parse.bgp(per_kind.get("bgp", [])), now, "bgp" in bad)
        ospf = [
            replace(p, interface=cabling.spelled(p.interface.split(".")[0], known) or p.interface)
            for p in ssh_parse.ospf(per_kind.get("ospf", []))
        ]
        ospf = self._remember_ospf(dev, ospf, now, "ospf" in bad)
        mismatches: list[Mismatch] = []
        checked = 0
        if "lldp" in per_kind and "lldp" not in bad:
            expected = self.topology.expected.get(target.name, {})
            mismatches, checked = cabling.check(lldp, expected, self.topology.devices)
        return SshData(
            interfaces=tuple(ssh_parse.interfaces(per_kind.get("interfaces", []))),
            collected_at=now,
            optics=tuple(optics),
            bgp=tuple(bgp),
            ospf=tuple(ospf),
            lldp=tuple(lldp),
            mismatches=tuple(mismatches),
            checked_links=checked,
            unparseable=tuple(bad),
        )

    @staticmethod
    def _remember_bgp(dev: _Device, peers: list[BgpPeer], now: float, bad: bool) -> list[BgpPeer]:
        if bad:  # no news is not "down": report nothing rather than guess
            return []
        for p in peers:
            dev.seen_bgp[p.neighbor] = (now, p)
        out = list(peers)
        listed = {p.neighbor for p in peers}
        for key, (when, p) in list(dev.seen_bgp.items()):
            if key in listed:
                continue
            if now - when > REMEMBER:
                del dev.seen_bgp[key]
            else:
                out.append(replace(p, state="Gone", up=False, uptime_seconds=None, prefixes=None))
        return out

    @staticmethod
    def _remember_ospf(
        dev: _Device, peers: list[OspfPeer], now: float, bad: bool
    ) -> list[OspfPeer]:
        if bad:
            return []
        for p in peers:
            dev.seen_ospf[(p.neighbor_id, p.interface)] = (now, p)
        out = list(peers)
        listed = {(p.neighbor_id, p.interface) for p in peers}
        for key, (when, p) in list(dev.seen_ospf.items()):
            if key in listed:
                continue
            if now - when > REMEMBER:
                del dev.seen_ospf[key]
            else:
                out.append(replace(p, state="Down", up=False))
        return out
