"""The backbone as a graph of devices: who is upstream of whom, and what an outage explains.

Built once from a loaded ``Inventory`` (pure: no I/O). Edges run from a device to its upstream
device along ``uplink`` and ``backup`` links; the centre's cores are the roots. Alerting pages
only root causes: a district behind a dead hub is down *because of* the hub.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from netmon.errors import NetmonError
from netmon.inventory.model import Inventory, LinkKind, PlacedSite


class TopologyError(NetmonError):
    """The links do not form a tree-like backbone (a loop, or a link to an unknown device)."""


@dataclass(frozen=True)
class Topology:
    _parents: dict[str, tuple[str, ...]]
    _children: dict[str, tuple[str, ...]]
    _site: dict[str, PlacedSite]
    _site_devices: dict[str, tuple[str, ...]]
    order: tuple[str, ...]  # every device, each after all of its upstream devices

    @classmethod
    def build(cls, inv: Inventory) -> Topology:
        site: dict[str, PlacedSite] = {}
        site_devices: dict[str, tuple[str, ...]] = {}
        for ps in inv.sites:
            site_devices[ps.site.code] = tuple(d.name for d in ps.site.devices)
            for d in ps.site.devices:
                site[d.name] = ps
        primary: dict[str, list[str]] = {name: [] for name in site}
        backup: dict[str, list[str]] = {name: [] for name in site}
        for _, link in inv.links():
            a, b = link.a.device, link.b.device
            if a not in site or b not in site:
                raise TopologyError(f"link {link.name}: unknown device")
            (primary if link.kind is LinkKind.uplink else backup)[a].append(b)
        parents = {
            n: tuple(dict.fromkeys(primary[n] + backup[n])) for n in site
        }  # primary first, no repeats
        children: dict[str, list[str]] = {n: [] for n in site}
        for n, ups in parents.items():
            for up in ups:
                children[up].append(n)
        order = _topological(parents, children)
        return cls(
            parents,
            {n: tuple(c) for n, c in children.items()},
            site,
            site_devices,
            order,
        )

    # --- look-ups ---

    def parents(self, device: str) -> tuple[str, ...]:
        """Upstream devices (via uplink then backup links), primary first."""
        return self._parents[device]

    def children(self, device: str) -> tuple[str, ...]:
        return self._children[device]

    def site_of(self, device: str) -> PlacedSite:
        return self._site[device]

    def devices_of(self, site_code: str) -> tuple[str, ...]:
        return self._site_devices[site_code]

    def upstream_devices(self, site_code: str) -> tuple[str, ...]:
        """Devices outside the site that its devices uplink to, primary first."""
        mine = set(self._site_devices[site_code])
        ups = (p for d in self._site_devices[site_code] for p in self._parents[d])
        return tuple(dict.fromkeys(p for p in ups if p not in mine))

    def upstream_sites(self, site_code: str) -> tuple[str, ...]:
        """Codes of the sites this site uplinks to, primary first."""
        return tuple(
            dict.fromkeys(self._site[d].site.code for d in self.upstream_devices(site_code))
        )

    def is_dual_homed(self, site_code: str) -> bool:
        """The site reaches out through two or more upstream devices."""
        return len(self.upstream_devices(site_code)) >= 2

    def depth(self, device: str) -> int:
        """Hops to the nearest root (a centre core is 0, a hub core 1, a district edge 2 or 3)."""
        return self._depths()[device]

    def _depths(self) -> dict[str, int]:
        cached: dict[str, int] | None = self.__dict__.get("_depth_cache")
        if cached is None:
            cached = {}
            for n in self.order:
                ups = self._parents[n]
                cached[n] = 1 + min(cached[u] for u in ups) if ups else 0
            object.__setattr__(self, "_depth_cache", cached)
        return cached

    # --- outages ---

    def unreachable(self, down: set[str]) -> set[str]:
        """Devices cut off from every root: the down ones, and those whose every path upstream
        crosses a down device."""
        cut: set[str] = set()
        for n in self.order:
            ups = self._parents[n]
            if n in down or (ups and all(u in cut for u in ups)):
                cut.add(n)
        return cut

    def root_cause(self, down: set[str]) -> set[str]:
        """The down devices that would be paged: those still reachable through some upstream
        device that is itself reachable (or roots). A district behind a dead hub is not one; a
        dual-homed district down while its backup path is up is one."""
        cut = self.unreachable(down)
        return {
            n
            for n in down
            if n in self._parents
            and (not self._parents[n] or any(u not in cut for u in self._parents[n]))
        }


def _topological(
    parents: dict[str, tuple[str, ...]], children: dict[str, list[str]]
) -> tuple[str, ...]:
    pending = {n: len(ups) for n, ups in parents.items()}
    queue = deque(n for n, k in pending.items() if k == 0)
    order: list[str] = []
    while queue:
        n = queue.popleft()
        order.append(n)
        for c in children[n]:
            pending[c] -= 1
            if pending[c] == 0:
                queue.append(c)
    if len(order) != len(parents):
        stuck = sorted(n for n, k in pending.items() if k > 0)
        raise TopologyError(f"the uplinks form a loop through: {', '.join(stuck[:10])}")
    return tuple(order)
