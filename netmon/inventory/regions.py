"""Thailand's six-region system (National Geographical Committee, 1977): province code -> region.

Official province codes (ISO 3166-2:TH) are the keys; ``geothai`` supplies names, not regions.
"""

from __future__ import annotations

from netmon.inventory.model import Region

_TABLE: dict[Region, tuple[str, ...]] = {
    Region.north: ("50", "51", "52", "53", "54", "55", "56", "57", "58"),
    Region.northeast: tuple(str(c) for c in range(30, 50)),
    Region.west: ("63", "70", "71", "76", "77"),
    Region.east: ("20", "21", "22", "23", "24", "25", "27"),
    Region.south: (*(str(c) for c in range(80, 87)), *(str(c) for c in range(90, 97))),
    Region.central: (
        *(str(c) for c in range(10, 20)),
        *("26", "60", "61", "62", "64", "65", "66", "67", "72", "73", "74", "75"),
    ),
}

REGION_OF: dict[str, Region] = {code: r for r, codes in _TABLE.items() for code in codes}
