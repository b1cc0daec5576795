"""The wiring of `netmon run`: inventory (with hot reload) + scheduler + SNMP collector + /metrics.

The one place that knows both collectors and exporters: collectors produce state, exporters
read it.

Reloads come from SIGHUP or from a change of any inventory file (mtimes polled every few
seconds). A broken edit keeps the last good inventory running, logs every file:line problem
and sets ``netmon_inventory_reload_success`` to 0; devices that did not change keep their
state and schedule.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import ipaddress
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path

from collector.fast_transport import fast_factory
from collector.model import DeviceState, Target
from collector.profiles import Profiles, load_profiles
from collector.scheduler import DEFAULT_CONCURRENCY, Scheduler
from collector.shards import Shard
from collector.snmp_collector import SnmpCollector
from collector.snmp_transport import PysnmpEngine, PysnmpTransport, auth_data
from collector.ssh_targets import SshOptions
from collector.targets import targets_from_inventory
from collector.transport import SnmpTransport
from collector.udp_endpoint import SnmpEndpoint
from exporters.exposition import render_text
from exporters.families import Family, FamilyBuilder, LabelSet, ReloadStatus
from exporters.http import HEALTH, SELF, MetricsServer
from exporters.noc_page import NocPage
from exporters.state_api import state_json
from exporters.state_families import maintenance_families, state_families
from exporters.web_config import WebConfig
from netmon.errors import ConfigError, InventoryError
from netmon.event_wiring import EventOptions, EventWiring
from netmon.inventory.model import Inventory
from netmon.runtime_tuning import trim_soon, tune_malloc
from netmon.ssh_wiring import SshHook
from netmon.state.engine import StateEngine
from netmon.state.maintenance import MaintenancePlan, devices_in_maintenance, load_maintenance
from netmon.state_feed import StateFeed

log = logging.getLogger(__name__)

WATCH_INTERVAL = 2.0
FULL_CHECK_INTERVAL = 300.0  # a full reload even when no file seems changed
MAINTENANCE_FILE = "maintenance.yaml"
TICK_INTERVAL = 1.0  # maintenance windows and hold timeouts are re-evaluated this often
STATE_DEFER = 0.2  # seconds: how long observations may wait to be computed together


def pysnmp_factory(engine: PysnmpEngine) -> Callable[[Target], SnmpTransport]:
    """pysnmp transports (v2c and v3): the reference implementation, ~40x the CPU of the
    codec-based ``collector.fast_transport`` (bench/collector.py)."""

    def make(target: Target) -> SnmpTransport:
        profile = target.profile
        if profile is None or profile.snmp is None:
            raise ConfigError(f"{target.name}: no SNMP credential profile")
        return PysnmpTransport(
            engine, target.address, target.port, auth_data(profile), profile.snmp_timing
        )

    return make


Signature = tuple[tuple[str | int, ...], ...]
UNREADABLE: Signature = (("<unreadable>", 0, 0),)


def inventory_signature(path: Path) -> Signature:
    """What changes when an admin edits, adds, removes or breaks an inventory file.

    Everything ``check`` would notice: contents (mtime, size), permissions (mode, ctime:
    ``chmod 000`` changes neither mtime nor size), a replaced file (inode), and an entry that
    cannot be stat'ed (a dangling or self-pointing symlink), which counts as a change too.
    A directory that vanishes mid-scan (a ConfigMap's symlink swap, an `rm -rf && cp -r`
    deploy) gives UNREADABLE rather than an exception: the next scan reads it again.
    """
    out: list[tuple[str | int, ...]] = []
    try:
        files = sorted(path.rglob("*.yaml"))
    except OSError:
        return UNREADABLE
    for f in files:
        try:
            st = f.stat()
        except OSError as exc:
            out.append((str(f), "unreadable", exc.errno or 0))
            continue
        out.append((str(f), st.st_mtime_ns, st.st_size, st.st_mode, st.st_ctime_ns, st.st_ino))
    return tuple(out)


def inventory_digest(path: Path) -> bytes | None:
    """A hash of every inventory file's name and bytes; None when one cannot be read."""
    h = hashlib.blake2b(digest_size=16)
    try:
        for f in sorted(path.rglob("*.yaml")):
            name, data = str(f).encode(), f.read_bytes()
            h.update(len(name).to_bytes(8, "big") + name + len(data).to_bytes(8, "big"))
            h.update(data)
    except OSError:
        return None
    return h.digest()


def _stat_and_read(path: Path) -> tuple[Signature, bytes | None]:
    return inventory_signature(path), inventory_digest(path)


def source_address(targets: dict[str, Target]) -> str:
    """Where the shared SNMP socket binds: loopback while every device is on loopback (the
    simulated backbone), else the wildcard so the kernel picks the route's source (Linux
    refuses to send from 127.0.0.1 to any other network)."""
    for target in targets.values():
        if not ipaddress.ip_address(target.address).is_loopback:
            return "0.0.0.0"
    return "127.0.0.1"


class Service:
    def __init__(
        self,
        inventory_path: Path,
        *,
        port_override: int | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        profiles: Profiles | None = None,
        load: Callable[[Path], Inventory] | None = None,
        watch_interval: float = WATCH_INTERVAL,
        full_check_interval: float = FULL_CHECK_INTERVAL,
        transport: str = "fast",
        snmp_source: str | None = None,
        web: WebConfig | None = None,
        probe_interval: float | None = None,
        shard: Shard | None = None,
        events: EventOptions | None = None,
        ssh: SshOptions | None = None,
    ) -> None:
        self.inventory_path = inventory_path
        self.shard = shard  # None: every province; events and series carry it (deploy/README)
        self.port_override = port_override
        self.probe_interval = probe_interval  # None: the inventory's; 0: no scheduled probes
        self.profiles = profiles or load_profiles()
        # "fast": netmon's codec on one shared socket (v2c and v3); "pysnmp": the reference.
        self.endpoint: SnmpEndpoint | None = None
        self.engine: PysnmpEngine | None = None
        self.snmp_source = snmp_source  # None: chosen from the first inventory's addresses
        self._source_chosen = False
        if transport == "fast":
            self.endpoint = SnmpEndpoint(snmp_source or "127.0.0.1")
            factory = fast_factory(self.endpoint)
        else:
            self.engine = PysnmpEngine()
            factory = pysnmp_factory(self.engine)
        self.collector = SnmpCollector(self.profiles, factory)
        # The one place device states and root causes are decided; everyone reads it.
        self.state = StateEngine(
            confirm=self._confirm,
            maintenance=self._in_maintenance,
            # a burst of observations (a start, an outage) is one computation per 0.2 s
            defer=lambda fn: asyncio.get_running_loop().call_later(STATE_DEFER, fn),
            shard=str(shard.index) if shard is not None else None,  # on every event
        )
        self.maintenance = MaintenancePlan()
        self._maint_cache: tuple[object, dict[str, str]] | None = None
        self.ssh = SshHook(ssh)  # SNMP + SSH merged per device (netmon/ssh_wiring.py)
        self.scheduler = Scheduler(
            self.ssh.wrap(self.collector), concurrency=concurrency, observer=StateFeed(self.state)
        )
        # Traps in, MQTT out (netmon/event_wiring.py); None when neither is configured.
        self.events = EventWiring(events, self.state, self.scheduler) if events else None
        self.families = FamilyBuilder(self.profiles)
        self.reload_status: ReloadStatus | None = None
        self.inventory: Inventory | None = None
        self._load = load or _default_loader()
        self._watch_interval = watch_interval
        self._full_check_interval = full_check_interval
        self._last_full = time.monotonic()
        self._signature = inventory_signature(inventory_path)
        self._digest: bytes | None = None  # of the files the last reload read
        self._reload_requested = asyncio.Event()
        self.server: MetricsServer | None = None
        self.web = web  # TLS / basic auth (exporters/web_config.py)
        self.noc: NocPage | None = None  # /noc, /noc/data, /noc/events

    # --- inventory ----------------------------------------------------------------------

    async def reload(self) -> bool:
        """Load the inventory and apply it; on error keep the last good one."""
        self._last_full = time.monotonic()
        self._signature, self._digest = await asyncio.to_thread(_stat_and_read, self.inventory_path)
        try:
            inv = await asyncio.to_thread(self._load, self.inventory_path)
        except InventoryError as exc:
            for problem in exc.problems:
                log.error("inventory: %s", problem)
            self._set_status(False, f"{len(exc.problems)} problem(s)")
            return False
        except Exception as exc:  # unreadable directory and the like
            what = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            log.error("inventory: cannot load %s: %s", self.inventory_path, what)
            self._set_status(False, what)
            return False
        try:
            targets = targets_from_inventory(
                inv, port_override=self.port_override, shard=self.shard
            )
            # + CLI-only devices (those of this shard's provinces), cabling topology
            extended = self.ssh.extend(inv, targets)
            targets = {
                n: t
                for n, t in extended.items()
                if n in targets or self.shard is None or self.shard.owns(t.label("province_code"))
            }
            if self.probe_interval is not None:
                every = self.probe_interval
                targets = {n: replace(t, probe_interval=every) for n, t in targets.items()}
            self._choose_source(targets)
            added, removed, changed = self.scheduler.set_targets(targets)
            self.inventory = inv
            maintenance_ok = await asyncio.to_thread(self._load_maintenance, inv)
            self.state.set_inventory(inv)
        except Exception as exc:  # a surprise here must not stop the service either
            log.exception("inventory: cannot apply it; keeping the last good one")
            self._set_status(False, f"cannot apply: {exc}")
            return False
        self.families.forget_missing(targets)
        # Rotated secrets (the same env:/file: reference, a new value) take effect on SIGHUP:
        # transports are rebuilt with freshly resolved secrets; caches and counters stay.
        self.collector.reset_transports()
        if self.events is not None:
            self.events.apply(inv)
        log.info(
            "inventory: %d devices (%d added, %d removed, %d changed)",
            len(targets),
            added,
            removed,
            changed,
        )
        self._set_status(maintenance_ok, "" if maintenance_ok else "maintenance.yaml: problems")
        return maintenance_ok

    def _choose_source(self, targets: dict[str, Target]) -> None:
        if self.endpoint is None or self.snmp_source is not None:
            return
        want = source_address(targets)
        if not self._source_chosen:
            # The socket opens on the first poll, after this first reload.
            self.endpoint.host = want
            self._source_chosen = True
        elif want != self.endpoint.host:
            log.warning(
                "inventory: devices off loopback now; the SNMP socket is bound to %s: "
                "restart netmon run (or pass --snmp-source 0.0.0.0) to reach them",
                self.endpoint.host,
            )

    def _load_maintenance(self, inv: Inventory) -> bool:
        """Re-read ``maintenance.yaml`` with the inventory; a broken one keeps the last good
        plan (planned work must not silently start paging) and fails the reload status."""
        try:
            self.maintenance = load_maintenance(self.inventory_path / MAINTENANCE_FILE, inv)
        except InventoryError as exc:
            for problem in exc.problems:
                log.error("maintenance: %s", problem)
            return False
        return True

    def _in_maintenance(self, now: float) -> dict[str, str]:
        if self.inventory is None or not self.maintenance.windows:
            return {}
        # Asked every tick; the answer changes only when a window opens or closes (or the
        # inventory or plan is replaced): a walk of ~9,400 devices per second at 10x otherwise.
        key = (id(self.inventory), id(self.maintenance), tuple(self.maintenance.active(now)))
        if self._maint_cache is None or self._maint_cache[0] != key:
            self._maint_cache = (key, devices_in_maintenance(self.maintenance, self.inventory, now))
        return self._maint_cache[1]

    def _confirm(self, names: Iterable[str]) -> None:
        """The engine asks: do these devices answer? (A neighbour of theirs just stopped.)"""
        for name in names:
            self.scheduler.request_probe(name)

    async def _tick(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                async with asyncio.timeout(TICK_INTERVAL):
                    await stop.wait()
            except TimeoutError:
                pass
            try:
                self.state.tick()
            except Exception:  # the engine's bug must not stop polling
                log.exception("state: tick failed")

    def _set_status(self, ok: bool, message: str) -> None:
        self.reload_status = ReloadStatus(ok, time.time(), len(self.scheduler.states), message)

    def request_reload(self) -> None:
        self._reload_requested.set()

    async def _watch(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                async with asyncio.timeout(self._watch_interval):
                    await self._reload_requested.wait()
            except TimeoutError:
                pass
            if stop.is_set():
                return
            try:
                await self._watch_once()
            except Exception:  # the watcher must outlive any surprise: polling goes on
                log.exception("inventory: watching failed; trying again")

    async def _watch_once(self) -> None:
        if self._reload_requested.is_set():
            self._reload_requested.clear()
            await self.reload()
            return
        sig = await asyncio.to_thread(inventory_signature, self.inventory_path)
        if sig != self._signature:
            log.info("inventory: files changed, reloading")
            await self.reload()
        elif time.monotonic() - self._last_full >= self._full_check_interval:
            # What no stat shows (a file readable only as root losing its permissions on
            # a network mount, say): the reload metric must not say success while the
            # files on disk fail. Every file is read again; only different bytes or a
            # file that cannot be read reload: at 10x a reload is ~9 CPU-s (the parse in
            # its child, ~1.5 s of applying it here) every 5 minutes for nothing.
            digest = await asyncio.to_thread(inventory_digest, self.inventory_path)
            if digest is None or digest != self._digest:
                await self.reload()
            else:
                self._last_full = time.monotonic()

    # --- exposition ---------------------------------------------------------------------

    def states(self, province: str | None = None) -> list[DeviceState]:
        states = list(self.scheduler.states.values())
        if province is not None:
            states = [s for s in states if s.target.label("province_code") == province]
        return states

    def render(self, province: str | None = None) -> bytes:
        if province == SELF:
            fams = self.families.families(
                self.states(), self.scheduler.stats(), self.reload_status, per_device=False
            )
            # maintenance windows belong to no province slice: the generated scrape config
            # reads them here (the dashboards' "Suppressed now" needs them)
            maint = maintenance_families(self.maintenance, time.time())
            return render_text([*fams, *maint, *self.plumbing_families()])
        states = self.states(None if province == HEALTH else province)
        labels = self.families.base_labels(states)
        state = state_families(self.state, labels)
        if province is None or province == HEALTH:
            fams = self.families.families(
                states, self.scheduler.stats(), self.reload_status, tables=province is None
            )
            maint = maintenance_families(self.maintenance, time.time())
            ssh = self.ssh.families(states) if province is None else []
            return render_text([*fams, *ssh, *state, *maint, *self.plumbing_families()])
        tables = [*self.families.families(states), *self.ssh.families(states)]
        return render_text([*tables, *state])

    def render_state(self) -> bytes:
        """``/api/state``: every device's and link's state as JSON (explain, the NOC page)."""
        return state_json(self.state)

    def plumbing_families(self) -> list[Family]:
        """The SNMP socket's and the HTTP server's own counters: a socket that cannot send
        shows here as errors, not only as devices timing out."""
        out: list[Family] = self.events.families() if self.events is not None else []
        if self.endpoint is not None:
            st = self.endpoint.stats
            datagrams = Family(
                "netmon_snmp_datagrams_total", "counter", "Datagrams on the shared SNMP socket."
            )
            for event in ("sent", "retransmits", "received", "matched", "unmatched"):
                datagrams.samples.append((LabelSet((("event", event),)), getattr(st, event)))
            datagrams.samples.append((LabelSet((("event", "undecodable"),)), st.undecodable))
            out.append(datagrams)
            out.append(
                Family(
                    "netmon_snmp_socket_errors_total",
                    "counter",
                    "Send/receive errors the SNMP socket reported (e.g. no route, refused).",
                    [(LabelSet(()), st.socket_errors)],
                )
            )
            drops = self.endpoint.receive_drops
            if drops is not None:
                out.append(
                    Family(
                        "netmon_snmp_receive_buffer_drops_total",
                        "counter",
                        "Datagrams the kernel dropped: the SNMP socket's receive buffer was full.",
                        [(LabelSet(()), drops)],
                    )
                )
        if self.server is not None:
            out.extend(self.server.families())
        return out

    # --- running ------------------------------------------------------------------------

    def close(self) -> None:
        self.ssh.close()
        if self.engine is not None:
            self.engine.close()
        if self.endpoint is not None:
            self.endpoint.close()

    async def run(
        self, host: str, port: int, stop: asyncio.Event, ready: Callable[[int], None] | None = None
    ) -> int:
        """Load the inventory, serve /metrics and poll until ``stop``; returns an exit code."""
        if not await self.reload():
            log.error("inventory: cannot start without a valid inventory")
            return 2
        noc = self.noc = NocPage(self.state, lambda: self.inventory, lambda: self.scheduler.states)
        server = self.server = MetricsServer(
            self.render,
            routes={"/api/state": (self.render_state, "application/json"), **noc.routes()},
            streams=noc.streams(),
            web=self.web,
            on_dropped_reply=lambda: trim_soon(asyncio.get_running_loop()),
        )
        try:
            bound = await server.start(host, port)
        except OSError as exc:
            log.error("cannot listen on %s:%d: %s", host, port, exc.strerror)
            self.close()
            return 2
        log.info("serving /metrics on http://%s:%d/metrics", host, bound)
        log.info("NOC wall page on http://%s:%d/noc", host, bound)
        if self.events is not None:
            try:
                await self.events.start()
            except OSError as exc:
                log.error("cannot listen for traps: %s", exc)
                noc.hub.close()
                await server.close()
                self.close()
                return 2
        # The inventory, topology and targets live as long as the process: keep the cyclic
        # GC from walking them in every full collection (measured at 10x: README).
        gc.collect()
        gc.freeze()
        tune_malloc()  # the exposition's big buffers reused, not page-faulted in per render
        tasks = [self.scheduler.run(stop), self._watch(stop), self._tick(stop)]
        if self.events is not None:
            tasks.append(self.events.run(stop))
        if ready is not None:
            ready(bound)
        try:
            await asyncio.gather(*tasks)
        finally:
            noc.hub.close()
            await server.close()
            self.close()
        return 0


def _default_loader() -> Callable[[Path], Inventory]:
    # In a child process with time and memory bounds: a huge or hostile edit neither holds
    # the collector's GIL nor leaves its memory behind (netmon/inventory/isolated.py).
    from netmon.inventory.isolated import load_isolated

    return load_isolated
