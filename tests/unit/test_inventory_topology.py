"""Topology on hand-built inventories: parents, dual homing, root cause, loops."""

from __future__ import annotations

import pytest
from support.backbones import backbone, dev, site, up

from netmon.inventory.model import SiteKind
from netmon.inventory.topology import Topology, TopologyError


@pytest.fixture(scope="module")
def topo() -> Topology:
    return Topology.build(backbone())


def test_parents_primary_first_and_children(topo: Topology) -> None:
    assert topo.parents("c1") == ()
    assert topo.parents("p1") == ("c1", "c2")
    assert topo.parents("e1") == ("s1", "p1")
    assert set(topo.children("s1")) == {"e1", "e2"}
    assert set(topo.children("c2")) == {"p1", "p2"}
    assert topo.site_of("e1").site.code == "5001"


def test_upstream_sites_and_dual_homing(topo: Topology) -> None:
    assert topo.upstream_sites("50") == ("centre",)
    assert topo.upstream_sites("5001") == ("50",)
    assert topo.is_dual_homed("50")
    assert topo.is_dual_homed("5001")  # the distribution switch and the core
    assert not topo.is_dual_homed("5002")
    assert not topo.is_dual_homed("51")
    assert topo.depth("c1") == 0 and topo.depth("p1") == 1 and topo.depth("e2") == 3


def test_a_dead_hub_is_the_only_root_cause(topo: Topology) -> None:
    assert topo.root_cause({"p2", "e3"}) == {"p2"}
    assert topo.root_cause({"s1", "e2"}) == {"s1"}


def test_a_dual_homed_device_down_with_its_backup_up_is_its_own_root_cause(
    topo: Topology,
) -> None:
    # e1 still has a path through p1, so its outage is its own.
    assert topo.root_cause({"s1", "e1", "e2"}) == {"s1", "e1"}


def test_a_dual_homed_hub_survives_one_centre_core(topo: Topology) -> None:
    assert topo.unreachable({"c1"}) == {"c1"}
    assert topo.unreachable({"c2"}) == {"c2", "p2", "e3"}
    assert topo.root_cause({"c2", "p2", "e3"}) == {"c2"}
    assert topo.root_cause({"c1", "c2", "p1", "s1", "e1", "e2", "p2", "e3"}) == {"c1", "c2"}


def test_nothing_down_nothing_to_page(topo: Topology) -> None:
    assert topo.root_cause(set()) == set()
    assert topo.root_cause({"not-a-device"}) == set()


def test_a_loop_is_refused() -> None:
    loop = site("5003", SiteKind.district, [dev("e4"), dev("e5")], [up("e4", "e5"), up("e5", "e4")])
    with pytest.raises(TopologyError, match="loop"):
        Topology.build(backbone([loop]))
