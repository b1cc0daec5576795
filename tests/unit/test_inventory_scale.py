"""`netmon inventory generate --scale N`: N-1 office routers behind every district router."""

from __future__ import annotations

from pathlib import Path

import pytest

from netmon.cli import main
from netmon.inventory.generate import generate
from netmon.inventory.loader import load_inventory
from netmon.inventory.topology import Topology


def test_scale_adds_offices_behind_each_district_router(tmp_path: Path) -> None:
    one, three = tmp_path / "x1", tmp_path / "x3"
    generate(one, only={"58"})
    generate(three, only={"58"}, scale=3)
    inv1, inv3 = load_inventory(one), load_inventory(three)
    districts = [ps for ps in inv3.sites if ps.site.kind.value == "district"]
    assert len(inv3.sites) == len(inv1.sites)  # sites stay the official ones
    assert len(inv3.devices()) == len(inv1.devices()) + 2 * len(districts)
    addresses = [d.address for _, d in inv3.devices()]
    assert len(set(addresses)) == len(addresses)
    assert all(a.startswith("127.") for a in addresses)
    topo = Topology.build(inv3)
    for ps in districts:
        router = f"d{ps.site.code}-edge1"
        for k in (2, 3):
            assert topo.parents(f"d{ps.site.code}-edge{k}") == (router,)


def test_generate_refuses_a_silly_scale(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inventory", "generate", "--scale", "0", "--out", str(tmp_path)]) == 2
    assert "--scale: want 1..20" in capsys.readouterr().err
    with pytest.raises(ValueError):
        generate(tmp_path, scale=21)
