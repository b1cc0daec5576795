"""The cabling check: LLDP neighbours compared with the inventory's links.

The inventory is the source of truth admins edit; a mismatch is how they learn the cabling
drifted. Interface names are compared in a canonical form, so ``Gi0/1`` (what IOS prints in
LLDP) equals ``GigabitEthernet0/1`` (what the inventory and ifName say), and a neighbour's
system name is compared without its domain (``p50-dist1.moi.go.th`` is ``p50-dist1``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from collector.ssh_model import LldpNeighbor, Mismatch

# Abbreviation -> full prefix, as the platforms abbreviate in CLI tables.
_PREFIXES = (
    ("hundredgigabitethernet", "hundredgige"),
    ("fortygigabitethernet", "fortygige"),
    ("tengigabitethernet", "tengige"),
    ("xgigabitethernet", "xge"),
    ("gigabitethernet", "ge"),
    ("fastethernet", "fa"),
    ("ethernet", "eth"),
    ("loopback", "lo"),
)
_SHORT = {
    "hu": "hundredgige",
    "fo": "fortygige",
    "te": "tengige",
    "tengige": "tengige",
    "xge": "xge",
    "gi": "ge",
    "gig": "ge",
    "ge": "ge",
    "fa": "fa",
    "eth": "eth",
    "et": "eth",
    "lo": "lo",
}
_SPLIT = re.compile(r"^([a-z\-]+?)(\d.*)$")


def port_key(name: str) -> str:
    """A canonical key for an interface name: case, spaces and abbreviations do not matter."""
    s = name.strip().lower().replace(" ", "")
    for full, short in _PREFIXES:
        if s.startswith(full):
            return short + s[len(full) :]
    m = _SPLIT.match(s)
    if m and m.group(1) in _SHORT:
        return _SHORT[m.group(1)] + m.group(2)
    return s


def system_key(name: str) -> str:
    """A neighbour's system name without domain and case."""
    return name.strip().lower().split(".", 1)[0]


def spelled(name: str, known: Iterable[str]) -> str:
    """``name`` in the inventory's spelling when one of ``known`` is the same port."""
    key = port_key(name)
    return next((k for k in known if port_key(k) == key), name)


def check(
    neighbours: Iterable[LldpNeighbor],
    expected: Mapping[str, tuple[str, str, str]],  # local interface -> (device, port, link name)
    known_devices: Mapping[str, str],  # system_key -> inventory device name
) -> tuple[list[Mismatch], int]:
    """Every mismatch, and how many link interfaces had an LLDP neighbour to compare.

    A link interface without any LLDP neighbour is not a mismatch (the link may be down, or
    LLDP off at the far end: the link's own status tells); a neighbour that is an inventory
    device seen on an interface with no inventory link is one (``unlisted_link``); any other
    neighbour on a non-link port (phones, servers) is not.
    """
    by_key = {port_key(i): (i, e) for i, e in expected.items()}
    out: list[Mismatch] = []
    checked: set[str] = set()
    for n in neighbours:
        hit = by_key.get(port_key(n.interface))
        seen = known_devices.get(system_key(n.system_name))
        if hit is None:
            if seen is not None:
                out.append(Mismatch(n.interface, "unlisted_link", "", "", seen, n.port, ""))
            continue
        interface, (want_dev, want_port, link) = hit
        checked.add(interface)
        if seen is None:
            kind = "unknown_neighbor"
        elif seen != want_dev:
            kind = "wrong_device"
        elif port_key(n.port) != port_key(want_port):
            kind = "wrong_port"
        else:
            continue
        out.append(
            Mismatch(interface, kind, want_dev, want_port, seen or n.system_name, n.port, link)
        )
    return out, len(checked)
