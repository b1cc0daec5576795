"""`netmon run`'s service: the SNMP socket's source address, and surviving surprises while
watching and applying the inventory (the last good inventory keeps running)."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest
from support.collector_lab import target

import netmon.service as service_module
from netmon.service import UNREADABLE, Service, inventory_signature, source_address
from netmon.simulator.testbed import small_inventory

# A documentation address (RFC 5737): the tests never poll, so nothing is ever sent to it.
OFF_LOOPBACK = "192.0.2.10"


def test_source_address_follows_the_inventory() -> None:
    loop_only = {"a": target("a"), "b": target("b")}
    assert source_address(loop_only) == "127.0.0.1"
    remote = dataclasses.replace(target("c"), address=OFF_LOOPBACK)
    assert source_address({**loop_only, "c": remote}) == "0.0.0.0"


def test_first_inventory_chooses_the_socket_source(tmp_path: Path) -> None:
    svc = Service(tmp_path, load=lambda _: small_inventory())
    assert asyncio.run(svc.reload())
    assert svc.endpoint is not None and svc.endpoint.host == "127.0.0.1"

    inv = small_inventory()
    ps = inv.sites[0]
    dev = ps.site.devices[0].model_copy(update={"address": OFF_LOOPBACK})
    site = ps.site.model_copy(update={"devices": (dev, *ps.site.devices[1:])})
    remote = inv.model_copy(update={"sites": (ps.model_copy(update={"site": site}),)})
    svc = Service(tmp_path, load=lambda _: remote)
    assert asyncio.run(svc.reload())
    assert svc.endpoint is not None and svc.endpoint.host == "0.0.0.0"

    pinned = Service(tmp_path, load=lambda _: remote, snmp_source="127.0.0.1")
    assert asyncio.run(pinned.reload())
    assert pinned.endpoint is not None and pinned.endpoint.host == "127.0.0.1"


def test_a_directory_vanishing_mid_scan_is_not_an_exception(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a.yaml").write_text("x: 1\n")
    assert inventory_signature(tmp_path) != UNREADABLE

    def gone(self: Path, pattern: str) -> object:
        raise FileNotFoundError(2, "No such file or directory", str(self / "..2024_01"))

    monkeypatch.setattr(Path, "rglob", gone)
    assert inventory_signature(tmp_path) == UNREADABLE


def test_an_inventory_that_cannot_be_applied_keeps_the_last_good_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    svc = Service(tmp_path, load=lambda _: small_inventory())
    assert asyncio.run(svc.reload())
    before = set(svc.scheduler.states)

    monkeypatch.setattr(service_module, "targets_from_inventory", _broken)
    assert not asyncio.run(svc.reload())
    assert svc.reload_status is not None and not svc.reload_status.success
    assert "surprise" in svc.reload_status.message
    assert set(svc.scheduler.states) == before


def test_a_reload_rebuilds_transports_so_rotated_secrets_apply(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    svc = Service(tmp_path, load=lambda _: small_inventory())
    resets: list[bool] = []
    monkeypatch.setattr(svc.collector, "reset_transports", lambda: resets.append(True))
    assert asyncio.run(svc.reload())
    assert resets == [True]
    monkeypatch.setattr(service_module, "targets_from_inventory", _broken)
    assert not asyncio.run(svc.reload())  # a failed reload changes nothing
    assert resets == [True]


def _broken(*args: object, **kwargs: object) -> object:
    raise RuntimeError("surprise")


def test_the_watcher_outlives_an_exception(tmp_path: Path) -> None:
    svc = Service(tmp_path, load=lambda _: small_inventory(), watch_interval=0.01)
    calls = 0

    async def main() -> None:
        stop = asyncio.Event()

        async def flaky() -> None:
            nonlocal calls
            calls += 1
            if calls == 1:
                raise RuntimeError("first turn fails")
            if calls >= 3:
                stop.set()

        svc._watch_once = flaky  # type: ignore[method-assign]
        await asyncio.wait_for(svc._watch(stop), 5)

    asyncio.run(main())
    assert calls >= 3


def test_socket_errors_are_exported_not_only_timeouts(tmp_path: Path) -> None:
    from support.collector_lab import value_of

    from exporters.http import HEALTH, SELF

    svc = Service(tmp_path, load=lambda _: small_inventory())
    assert asyncio.run(svc.reload())
    assert svc.endpoint is not None
    text = svc.render(SELF).decode()
    assert value_of(text, "netmon_snmp_socket_errors_total") == 0
    assert value_of(text, "netmon_snmp_datagrams_total", event="sent") == 0
    # What the kernel says when a loopback-bound socket sends to another network.
    svc.endpoint.error_received(OSError(22, "Invalid argument"))
    for view in (SELF, HEALTH, None):
        text = svc.render(view).decode()
        assert value_of(text, "netmon_snmp_socket_errors_total") == 1, view
