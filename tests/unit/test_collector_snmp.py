"""The SNMP collector over the fake transport: polling, caching, counters, errors by kind."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from support.collector_lab import device_data, target

from collector.counters import counter_delta, rate
from collector.model import PollResult, Target
from collector.profiles import load_profiles
from collector.snmp_collector import SnmpCollector
from collector.transport import (
    FakeTransport,
    Missing,
    SnmpGarbage,
    SnmpNoSuchObject,
    SnmpTimeout,
)
from netmon.errors import ConfigError

PROFILES = load_profiles()
IFNAME = "1.3.6.1.2.1.31.1.1.1.1"
HCIN = "1.3.6.1.2.1.31.1.1.1.6"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def make(data: dict[str, object]) -> tuple[SnmpCollector, FakeTransport, Clock]:
    fake = FakeTransport(data)  # type: ignore[arg-type]
    clock = Clock()
    return SnmpCollector(PROFILES, lambda t: fake, clock=clock), fake, clock


def poll(col: SnmpCollector, t: Target | None = None) -> PollResult:
    return asyncio.run(col.collect(t or target()))


def test_full_poll_returns_interfaces_system_and_vendor_values() -> None:
    col, _, _ = make(device_data({1: "Gi0/1", 2: "Gi0/2", 10: "Gi0/10"}))  # type: ignore[arg-type]
    res = poll(col)
    assert res.ok and res.labels_refreshed and not res.rebooted
    table = res.interfaces
    assert table is not None
    assert table.indexes == ["1", "2", "10"]  # numeric order, not text order
    assert table.labels["2"] == {
        "ifName": "Gi0/2",
        "ifDescr": "Gi0/2 descr",
        "ifAlias": 'alias "Gi0/2"',
    }
    assert table.values["ifHCInOctets"] == {"1": 5, "2": 10, "10": 50}
    assert table.cached["ifHighSpeed"]["10"] == 1000
    assert res.system["sysName"] == "router"
    vendor = {(v.name, v.labels): v.value for v in res.vendor}
    assert vendor[("netmon_cpu_usage_ratio", (("cpu", "1"),))] == pytest.approx(0.07)
    assert vendor[("netmon_temperature_celsius", (("sensor", "1006"),))] == 41
    # 6 scalars + 3 interfaces x 16 columns + 2 vendor rows
    assert res.varbinds == 6 + 3 * 16 + 2


def test_label_columns_are_cached_until_ttl() -> None:
    col, fake, clock = make(device_data({1: "Gi0/1"}))  # type: ignore[arg-type]
    first = poll(col)
    fake.data[f"{IFNAME}.1"] = "renamed"
    second = poll(col)
    assert not second.labels_refreshed
    assert second.interfaces is not None and first.interfaces is not None
    assert second.interfaces.labels is first.interfaces.labels  # same cached object
    assert second.interfaces.labels["1"]["ifName"] == "Gi0/1"
    assert second.varbinds < first.varbinds  # the cached columns were not walked
    clock.now += 3600
    third = poll(col)
    assert third.labels_refreshed and third.interfaces is not None
    assert third.interfaces.labels["1"]["ifName"] == "renamed"


@pytest.mark.parametrize(
    "change",
    [
        ("1.3.6.1.2.1.1.3.0", 5),  # sysUpTime went backwards: a reboot
        ("1.3.6.1.2.1.2.1.0", 7),  # ifNumber changed
        ("1.3.6.1.2.1.31.1.5.0", 4242),  # ifTableLastChange changed
    ],
)
def test_cache_is_refreshed_on_reboot_or_interface_table_change(change: tuple[str, int]) -> None:
    col, fake, _ = make(device_data({1: "Gi0/1"}))  # type: ignore[arg-type]
    poll(col)
    fake.data[f"{IFNAME}.1"] = "renamed"
    fake.data[change[0]] = change[1]
    res = poll(col)
    assert res.labels_refreshed
    assert res.rebooted == (change[0] == "1.3.6.1.2.1.1.3.0")
    assert res.interfaces is not None and res.interfaces.labels["1"]["ifName"] == "renamed"


def test_link_rates_handle_progress_and_reboot() -> None:
    col, fake, clock = make(device_data({1: "Gi0/1", 2: "Gi0/2"}))  # type: ignore[arg-type]
    t = target(uplinks=("Gi0/2",))
    assert poll(col, t).rates == {}  # first poll: no previous reading
    clock.now += 10
    fake.data[f"{HCIN}.2"] = 10 + 1250  # +1250 octets in 10 s = 1000 bit/s
    fake.data["1.3.6.1.2.1.1.3.0"] = 2000
    assert poll(col, t).rates == {"2": (1000.0, 0.0)}
    clock.now += 10
    fake.data[f"{HCIN}.2"] = 3  # counters restarted...
    fake.data["1.3.6.1.2.1.1.3.0"] = 50  # ...because the device rebooted
    res = poll(col, t)
    assert res.rebooted and res.rates == {"2": (None, None)}


def test_counter_delta_wraps_32_bit_and_treats_decreases_as_resets() -> None:
    assert counter_delta(10, 25) == 15
    assert counter_delta(2**32 - 100, 50, bits=32) == 150  # a wrap
    assert counter_delta(2**31 + 5, 10, bits=32) is None  # too far: a reset, not a wrap
    assert counter_delta(2**64 - 100, 50, bits=64) is None  # 64-bit never wraps in practice
    assert rate(100, 50, 10.0) is None  # never negative
    assert rate(0, 10**12, 1.0, ceiling=1e9) is None  # never absurd
    assert rate(0, 100, 10.0) == 10.0
    assert rate(0, 100, 10.0, rebooted=True) is None


def test_garbage_counter_value_is_a_garbage_error() -> None:
    data = device_data({1: "Gi0/1"})
    data[f"{HCIN}.1"] = "not a number"
    col, _, _ = make(data)  # type: ignore[arg-type]
    with pytest.raises(SnmpGarbage):
        poll(col)


def test_an_agent_without_sysuptime_is_up_and_reboots_show_as_counter_resets() -> None:
    data = device_data({1: "Gi0/1"})
    del data["1.3.6.1.2.1.1.3.0"]
    col, fake, clock = make(data)  # type: ignore[arg-type]
    t = target(uplinks=("Gi0/1",))
    res = poll(col, t)
    assert res.ok and "sysUpTime" not in res.system and res.interfaces is not None
    clock.now += 10
    fake.data[f"{HCIN}.1"] = 5 + 1250
    assert poll(col, t).rates == {"1": (1000.0, 0.0)}
    clock.now += 10
    fake.data[f"{HCIN}.1"] = 3  # went backwards: no rate, not a negative one
    res = poll(col, t)
    assert not res.rebooted and res.rates["1"][0] is None


def test_an_agent_with_no_system_object_in_view_is_no_such_object() -> None:
    data = {
        k: v for k, v in device_data({1: "Gi0/1"}).items() if not k.startswith("1.3.6.1.2.1.1.")
    }
    for scalar in ("1.3.6.1.2.1.2.1.0", "1.3.6.1.2.1.31.1.5.0"):
        del data[scalar]
    col, _, _ = make(data)  # type: ignore[arg-type]
    with pytest.raises(SnmpNoSuchObject):
        poll(col)


def _without_ifxtable(data: dict[str, object]) -> dict[str, object]:
    """An older agent: no ifXTable (1.3.6.1.2.1.31.1.1), 32-bit ifInOctets/ifOutOctets."""
    out = {k: v for k, v in data.items() if not k.startswith("1.3.6.1.2.1.31.1.1.")}
    for key in [k for k in out if k.startswith("1.3.6.1.2.1.2.2.1.2.")]:
        index = key.rsplit(".", 1)[1]
        out[f"1.3.6.1.2.1.2.2.1.10.{index}"] = 100 * int(index)
        out[f"1.3.6.1.2.1.2.2.1.16.{index}"] = 200 * int(index)
    return out


def test_agents_without_ifxtable_get_32_bit_octet_counters_and_link_rates() -> None:
    data = _without_ifxtable(device_data({1: "Gi0/1", 2: "Gi0/2"}))  # type: ignore[arg-type]
    col, fake, clock = make(data)
    t = target(uplinks=("Gi0/2 descr",))  # no ifName without ifXTable: ifDescr is not a name
    res = poll(col, t)
    table = res.interfaces
    assert table is not None
    assert "ifHCInOctets" not in table.values or not table.values["ifHCInOctets"]
    assert table.values["ifInOctets"] == {"1": 100, "2": 200}
    assert table.values["ifOutOctets"] == {"1": 200, "2": 400}
    # the fallback keeps being polled on every poll, not only when the cache is refreshed
    clock.now += 10
    fake.data["1.3.6.1.2.1.2.2.1.10.1"] = 2**32 - 50  # ...and a 32-bit wrap next
    res = poll(col, t)
    assert res.interfaces is not None and res.interfaces.values["ifInOctets"]["1"] == 2**32 - 50
    assert not res.labels_refreshed


def test_32_bit_link_rates_wrap_at_2_32() -> None:
    data = _without_ifxtable(device_data({1: "Gi0/1"}))  # type: ignore[arg-type]
    data["1.3.6.1.2.1.31.1.1.1.1.1"] = "Gi0/1"  # ifName kept, counters 32-bit only
    col, fake, clock = make(data)
    t = target(uplinks=("Gi0/1",))
    fake.data["1.3.6.1.2.1.2.2.1.10.1"] = 2**32 - 250
    poll(col, t)
    clock.now += 10
    fake.data["1.3.6.1.2.1.2.2.1.10.1"] = 1000  # wrapped: +1250 octets in 10 s
    assert poll(col, t).rates["1"][0] == 1000.0


def test_devices_with_ifxtable_do_not_export_the_32_bit_counters() -> None:
    col, fake, _ = make(device_data({1: "Gi0/1"}))  # type: ignore[arg-type]
    fake.data["1.3.6.1.2.1.2.2.1.10.1"] = 7  # the agent has both, as most do
    walks: list[list[str]] = []
    walk = fake.walk

    async def recording(columns: list[str]) -> dict[str, dict[str, object]]:
        walks.append(list(columns))
        return await walk(columns)  # type: ignore[return-value]

    fake.walk = recording  # type: ignore[assignment,method-assign]
    res = poll(col)
    assert res.interfaces is not None and "ifInOctets" not in res.interfaces.values
    assert "1.3.6.1.2.1.2.2.1.10" in walks[0]  # asked once, when the cache is built...
    poll(col)
    assert all("1.3.6.1.2.1.2.2.1.10" not in w for w in walks[2:])  # ...not on every poll


def test_optional_scalars_may_be_missing() -> None:
    data = device_data({1: "Gi0/1"})
    del data["1.3.6.1.2.1.31.1.5.0"]
    col, _, _ = make(data)  # type: ignore[arg-type]
    assert poll(col).ok


def test_status_poll_asks_only_link_interfaces_after_the_first_poll() -> None:
    col, fake, _ = make(device_data({1: "Gi0/1", 2: "Gi0/2"}))  # type: ignore[arg-type]
    t = target(uplinks=("Gi0/2", "Gi9/9"))
    assert asyncio.run(col.poll_status(t)) is None  # ifIndex not known yet
    poll(col, t)
    fake.data["1.3.6.1.2.1.2.2.1.8.2"] = 2
    before = fake.requests
    res = asyncio.run(col.poll_status(t))
    assert res is not None and res.oper_status == {"2": 2}
    assert fake.requests == before + 1  # one GET
    fake.data["1.3.6.1.2.1.2.2.1.8.2"] = Missing.no_such_instance
    res = asyncio.run(col.poll_status(t))
    assert res is not None and res.oper_status == {}


def test_host_resources_storage_and_memory_apply_to_mikrotik() -> None:
    data = device_data({1: "eth0"})
    ram, disk = "1.3.6.1.2.1.25.2.1.2", "1.3.6.1.2.1.25.2.1.4"
    for index, kind, descr, size, used in (
        (65536, ram, "main memory", 100, 40),
        (131072, disk, "system disk", 200, 50),
    ):
        data.update(
            {
                f"1.3.6.1.2.1.25.2.3.1.2.{index}": kind,
                f"1.3.6.1.2.1.25.2.3.1.3.{index}": descr,
                f"1.3.6.1.2.1.25.2.3.1.4.{index}": 1024,
                f"1.3.6.1.2.1.25.2.3.1.5.{index}": size,
                f"1.3.6.1.2.1.25.2.3.1.6.{index}": used,
            }
        )
    data["1.3.6.1.2.1.25.3.3.1.2.1"] = 12
    data["1.3.6.1.4.1.14988.1.1.3.10.0"] = 415
    col, _, _ = make(data)  # type: ignore[arg-type]
    res = poll(col, target(platform="mikrotik_routeros"))
    by = {(v.name, v.labels[0][1]): v for v in res.vendor}
    assert by["netmon_storage_used_bytes", "65536"].value == 40 * 1024
    assert by["netmon_storage_used_bytes", "65536"].labels == (
        ("storage", "65536"),
        ("storage_descr", "main memory"),
    )
    assert by["netmon_storage_size_bytes", "131072"].value == 200 * 1024
    # memory: only the hrStorageRam row
    assert by["netmon_memory_used_bytes", "65536"].value == 40 * 1024
    assert by["netmon_memory_usage_ratio", "65536"].value == pytest.approx(0.4)
    assert ("netmon_memory_used_bytes", "131072") not in by
    assert by["netmon_cpu_usage_ratio", "1"].value == pytest.approx(0.12)
    assert by["netmon_temperature_celsius", "0"].value == pytest.approx(41.5)
    assert len([v for v in res.vendor if v.name == "netmon_cpu_usage_ratio"]) == 1


def test_every_inventory_platform_gets_cpu_memory_and_temperature() -> None:
    from netmon.inventory.model import Platform

    for platform in Platform:
        names = {m.name for m in PROFILES.vendor_metrics(platform.value)}
        assert "netmon_cpu_usage_ratio" in names, platform
        assert "netmon_temperature_celsius" in names, platform
        assert names & {"netmon_memory_usage_ratio", "netmon_memory_used_bytes"}, platform


def test_profiles_load_strictly_with_file_and_line(tmp_path: Path) -> None:
    text = Path("collector/profiles.yaml").read_text()
    bad = tmp_path / "profiles.yaml"
    bad.write_text(text.replace("index_label: pool,", "index_lable: pool,", 1))
    with pytest.raises(ConfigError) as err:
        load_profiles(bad)
    assert f"{bad}:" in str(err.value) and "index_lable" in str(err.value)
    line = int(str(err.value).split(":")[1])
    assert "index_lable" in bad.read_text().splitlines()[line - 1]

    bad.write_text(text.replace("1.3.6.1.2.1.31.1.1.1.6,", "1.3.6.1.2.1.31.1.1.1.x6,", 1))
    with pytest.raises(ConfigError, match="oid"):
        load_profiles(bad)
    bad.write_text(text.replace("cisco_ios: [cisco]", "cisco_ios: [cisko]"))
    with pytest.raises(ConfigError, match="cisko"):
        load_profiles(bad)
    bad.write_text(text.replace("index_label: pool,", "index_label: device,", 1))
    with pytest.raises(ConfigError, match="clash"):
        load_profiles(bad)
    bad.write_text("system: [\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_profiles(bad)


def test_adding_a_vendor_is_a_data_change(tmp_path: Path) -> None:
    text = Path("collector/profiles.yaml").read_text()
    extra = text.replace(
        "  mikrotik_routeros: [mikrotik, host_resources]",
        "  mikrotik_routeros: [mikrotik, host_resources, acme]",
    ).replace(
        "vendors:\n",
        "vendors:\n  acme:\n    - {name: netmon_fan_speed_rpm, oid: 1.3.6.1.4.1.99999.1, "
        'help: "Fan speed."}\n',
    )
    path = tmp_path / "profiles.yaml"
    path.write_text(extra)
    profiles = load_profiles(path)
    assert "1.3.6.1.4.1.99999.1" in profiles.vendor_columns("mikrotik_routeros")


# --- sysUpTime wrap, rotated secrets, removed devices ----------------------------------------

UPTIME = "1.3.6.1.2.1.1.3.0"


def test_sysuptime_wrapping_at_2_32_is_not_a_reboot() -> None:
    col, fake, clock = make(device_data({1: "Gi0/1"}, uptime=2**32 - 3000))  # type: ignore[arg-type]
    first = poll(col)
    clock.now += 60  # 6000 ticks later: 30 s past the wrap
    fake.data[UPTIME] = 3000
    second = poll(col)
    assert not second.rebooted and not second.labels_refreshed
    assert second.interfaces is not None and first.interfaces is not None
    assert second.interfaces.labels is first.interfaces.labels  # the cache was kept
    # The next decrease right after is no wrap: 60 s later the counter cannot be near 2**32.
    clock.now += 60
    fake.data[UPTIME] = 100
    assert poll(col).rebooted


def test_a_reboot_near_the_wrap_is_still_a_reboot() -> None:
    col, fake, clock = make(device_data({1: "Gi0/1"}, uptime=2**32 - 3000))  # type: ignore[arg-type]
    poll(col)
    clock.now += 3600  # an hour on, a wrap would read ~357000 ticks: 5 s of uptime is a reboot
    fake.data[UPTIME] = 500
    res = poll(col)
    assert res.rebooted and res.labels_refreshed
    # Far from the wrap a decrease is a reboot whatever the time since.
    col, fake, clock = make(device_data({1: "Gi0/1"}, uptime=10_000_000))  # type: ignore[arg-type]
    poll(col)
    clock.now += 60
    fake.data[UPTIME] = 3000
    assert poll(col).rebooted


class _V2cAgent(asyncio.DatagramProtocol):
    """A v2c agent on loopback serving ``data`` (netmon.simulator.agent) to one community."""

    def __init__(self, data: dict[str, object], community: str) -> None:
        from netmon.simulator.mib import Mib
        from netmon.snmp import ber

        self.community = community.encode()
        self.refused = 0
        self.mib = Mib()
        for oid, value in data.items():
            if isinstance(value, Missing):
                continue
            if isinstance(value, str):
                tlv, tag = ber.encode_octets(value.encode()), ber.OCTET_STRING
            else:
                assert isinstance(value, int)
                tlv, tag = ber.encode_unsigned(value, ber.COUNTER64), ber.COUNTER64
            self.mib.add(tuple(int(p) for p in oid.split(".")), tag, tlv)
        self.mib.freeze()
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        from netmon.simulator.agent import answer
        from netmon.snmp import ber
        from netmon.snmp.message import (
            V2C,
            decode_request,
            encode_pdu,
            message_prefix,
            wrap_message,
        )

        req = decode_request(data)
        if req.community != self.community:
            self.refused += 1
            return
        got = answer(self.mib, req.pdu, V2C, 60_000, 0.0)
        assert got is not None and self.transport is not None
        status, index, varbinds = got
        pdu = encode_pdu(ber.RESPONSE, req.pdu.request_id_tlv, status, index, varbinds)
        self.transport.sendto(wrap_message(message_prefix(req.version, req.community), pdu), addr)


def test_reset_transports_resolves_rotated_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    import dataclasses

    from collector.fast_transport import fast_factory
    from collector.udp_endpoint import SnmpEndpoint

    async def main() -> None:
        monkeypatch.setenv("NETMON_TEST_COMMUNITY", "old-community")
        loop = asyncio.get_running_loop()
        agent = _V2cAgent(device_data({1: "Gi0/1"}), "old-community")  # type: ignore[arg-type]
        await loop.create_datagram_endpoint(lambda: agent, local_addr=("127.0.0.1", 0))
        assert agent.transport is not None
        ep = SnmpEndpoint()
        try:
            port = int(agent.transport.get_extra_info("sockname")[1])
            t = dataclasses.replace(target(), port=port)
            col = SnmpCollector(PROFILES, fast_factory(ep))
            assert (await col.collect(t)).ok
            # The secret rotates on both sides (the device first, then the env after SIGHUP).
            agent.community = b"new-community"
            monkeypatch.setenv("NETMON_TEST_COMMUNITY", "new-community")
            with pytest.raises(SnmpTimeout):
                await col.collect(t)  # the transport still holds the old community
            col.reset_transports()
            res = await col.collect(t)
            assert res.ok and not res.labels_refreshed  # the label cache survived
            assert agent.refused == 1
        finally:
            ep.close()
            agent.transport.close()

    asyncio.run(asyncio.wait_for(main(), 20))


def test_forget_drops_the_endpoint_usm_state(monkeypatch: pytest.MonkeyPatch) -> None:
    import dataclasses

    from collector.fast_transport import fast_factory
    from collector.udp_endpoint import SnmpEndpoint
    from netmon.inventory.model import CredentialProfile

    monkeypatch.setenv("FAKE_AUTH", "fake-auth-pass")
    monkeypatch.setenv("FAKE_PRIV", "fake-priv-pass")
    v3 = CredentialProfile.model_validate(
        {
            "name": "v3",
            "snmp": {
                "version": "3",
                "username": "noc",
                "auth_protocol": "SHA-256",
                "auth_key": "env:FAKE_AUTH",
                "priv_protocol": "AES-128",
                "priv_key": "env:FAKE_PRIV",
            },
        }
    )
    ep = SnmpEndpoint()
    col = SnmpCollector(PROFILES, fast_factory(ep))
    a = dataclasses.replace(target("a"), profile=v3)
    b = dataclasses.replace(target("b"), address="127.0.0.2", profile=v3)
    renamed = dataclasses.replace(a, name="a-renamed")
    for t in (a, b, renamed):
        col.transport(t)  # builds the transport: the USM state lives in the endpoint
    assert len(ep._usm) == 2
    col.forget("a")  # a-renamed still speaks to that address: its state stays
    assert len(ep._usm) == 2
    col.forget("a-renamed")
    assert [k[0] for k in ep._usm] == [("127.0.0.2", 161)]
    col.forget("b")
    col.forget("never-polled")
    assert ep._usm == {}
