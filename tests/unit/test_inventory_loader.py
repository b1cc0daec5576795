"""The shipped inventory (inventory/) loads clean and tells the truth about the backbone."""

from __future__ import annotations

import ipaddress
from collections import Counter
from pathlib import Path

import geothai
import pytest

from netmon.inventory.loader import default_inventory_path, iter_files, load_inventory
from netmon.inventory.model import Inventory, Method, Role, SiteKind
from netmon.inventory.topology import Topology
from netmon.inventory.yamlpos import parse

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def inv() -> Inventory:
    return load_inventory(REPO / "inventory")


def test_default_path_is_the_repository_inventory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NETMON_INVENTORY", raising=False)
    assert default_inventory_path() == REPO / "inventory"
    monkeypatch.setenv("NETMON_INVENTORY", "/srv/netmon/inventory")
    assert default_inventory_path() == Path("/srv/netmon/inventory")


def test_one_centre_76_hubs_and_every_district(inv: Inventory) -> None:
    kinds = Counter(ps.site.kind for ps in inv.sites)
    assert kinds[SiteKind.centre] == 1
    assert kinds[SiteKind.province] == 76
    assert kinds[SiteKind.district] == 928
    bangkok = [ps for ps in inv.sites if ps.province.code == "10"]
    assert Counter(ps.site.kind for ps in bangkok) == {SiteKind.centre: 1, SiteKind.district: 50}
    upcountry = [ps for ps in inv.sites if ps.site.kind is SiteKind.district]
    assert sum(ps.province.code != "10" for ps in upcountry) == 878


def test_77_province_files_match_the_official_list(inv: Inventory) -> None:
    files = list((REPO / "inventory" / "provinces").glob("*.yaml"))
    assert len(files) == 77
    official = {p.code: p for p in geothai.provinces()}
    assert {p.code for p in inv.provinces} == set(official)
    for p in inv.provinces:
        assert (p.name_th, p.name_en) == (official[p.code].name_th, official[p.code].name_en)
    assert len(iter_files(REPO / "inventory")) == 80


def test_every_official_district_is_a_site_with_names_and_coordinates(inv: Inventory) -> None:
    sites = {ps.site.code: ps for ps in inv.sites}
    for prov in geothai.provinces():
        for d in geothai.districts(prov.code):
            ps = sites[d.code]
            assert ps.province.code == prov.code
            assert (ps.site.name_th, ps.site.name_en) == (d.name_th, d.name_en)
    for ps in inv.sites:
        assert ps.site.name_th and ps.site.name_en
        assert 5.0 <= ps.site.lat <= 21.0 and 97.0 <= ps.site.lon <= 106.0


def test_every_address_is_a_unique_loopback_and_never_127_0_0_1(inv: Inventory) -> None:
    addresses = [ipaddress.ip_address(d.address) for _, d in inv.devices()]
    assert len(addresses) == len(set(addresses)) == 1031
    loopback = ipaddress.ip_network("127.0.0.0/8")
    assert all(a in loopback for a in addresses)
    assert ipaddress.ip_address("127.0.0.1") not in addresses


def test_devices_are_realistic(inv: Inventory) -> None:
    roles = Counter(d.role for _, d in inv.devices())
    assert roles[Role.edge] == 928
    assert roles[Role.core] == 78  # 2 at the centre, one per hub
    assert roles[Role.distribution] >= 10  # hubs serving many districts
    platforms = Counter(d.platform for _, d in inv.devices())
    assert len(platforms) == 5
    assert sum(Method.ssh in d.methods for _, d in inv.devices()) > 50
    for _, d in inv.devices():
        profile = inv.profile_of(d)
        assert profile.snmp is not None
        if Method.ssh in d.methods:
            assert profile.ssh is not None


def test_topology_is_valid_and_hierarchical(inv: Inventory) -> None:
    topo = Topology.build(inv)
    assert topo.parents("centre-core1") == ()
    for ps in inv.sites:
        if ps.site.kind is SiteKind.province:
            assert topo.upstream_sites(ps.site.code) == ("centre",)
        elif ps.site.kind is SiteKind.district:
            want = "centre" if ps.province.code == "10" else ps.province.code
            assert topo.upstream_sites(ps.site.code) == (want,)
    depths = Counter(topo.depth(d.name) for _, d in inv.devices())
    assert max(depths) == 3
    assert sum(topo.is_dual_homed(ps.site.code) for ps in inv.sites) > 20
    # A dead hub pages once, not once per district.
    down = {"p50-core1", *(d for d in topo.order if d.startswith("d50"))}
    assert topo.root_cause(down) == {"p50-core1"}


def test_effective_settings(inv: Inventory) -> None:
    core = inv.device("centre-core1")
    edge = inv.device("d5001-edge1")
    assert core is not None and edge is not None
    assert inv.port_of(edge) == 161
    assert inv.interval_of(edge) == inv.defaults.poll_interval
    assert inv.interval_of(core) == 30
    assert inv.profile_of(edge).name == inv.defaults.credentials
    assert inv.profile_of(core).name == "core-v3-sha512"
    assert inv.device("no-such-device") is None


def test_every_link_end_names_a_declared_interface(inv: Inventory) -> None:
    for _, link in inv.links():
        for end in (link.a, link.b):
            dev = inv.device(end.device)
            assert dev is not None and dev.interface(end.interface) is not None


def test_generator_reproduces_the_shipped_files_exactly(tmp_path: Path) -> None:
    """The shipped files are the generator's output (until an admin edits them: then this
    test is the reminder to regenerate deliberately or drop the comparison)."""
    from netmon.inventory.generate import generate

    # Bangkok (no hub), a big province (distribution switch), a small one: dumping all 77
    # takes seconds; `netmon inventory generate --out DIR` + diff -r compares everything.
    generate(tmp_path, only={"10", "30", "58"})
    shipped = REPO / "inventory"
    assert len(iter_files(tmp_path)) == 6
    for f in iter_files(tmp_path):
        rel = f.relative_to(tmp_path)
        assert f.read_bytes() == (shipped / rel).read_bytes(), rel


def test_scalars_follow_yaml_1_2_and_keep_their_positions() -> None:
    p = parse("x.yaml", 'a: 50\nb: "50"\nc: yes\nd: true\ne: 1.5\nf:\n  - {g: 10G, h: ~}\n')
    assert p.problems == []
    assert p.data == {
        "a": 50,
        "b": "50",
        "c": "yes",
        "d": True,
        "e": 1.5,
        "f": [{"g": "10G", "h": None}],
    }
    assert p.values[("f", 0, "g")] == (7, 9)
    assert p.keys[("f", 0, "h")] == (7, 14)


def test_a_tab_is_reported_at_its_column() -> None:
    p = parse("x.yaml", "a:\n  \tb: 1\n")
    assert [str(x) for x in p.problems] == [
        "x.yaml:2:3: tab character in indentation: indent with spaces"
    ]


def test_the_production_example_is_valid_but_never_loaded(inv: Inventory) -> None:
    from netmon.inventory.model import ProvinceFile

    example = REPO / "inventory" / "examples" / "production-example.yaml"
    parsed = parse(str(example), example.read_text(encoding="utf-8"))
    assert parsed.problems == []
    ProvinceFile.model_validate(parsed.data)
    assert all(not d.address.startswith("10.") for _, d in inv.devices())
    assert example not in iter_files(REPO / "inventory")
