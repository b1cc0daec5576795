"""The daily traffic profile and deterministic per-device randomness.

Counters are not ticked by a loop: an interface's octets are ``rate x integral of the profile``
over the time it was up, and the integral has a closed form (piecewise constant per hour of
Bangkok local time), so any read at any time costs a few float operations.
"""

from __future__ import annotations

import hashlib
import math

BANGKOK_UTC_OFFSET = 7 * 3600
BANGKOK_LAT, BANGKOK_LON = 13.7563, 100.5018

# Fraction of an interface's peak rate per local hour: government offices, busy 08:30-16:30.
HOURLY = (
    0.06, 0.05, 0.04, 0.04, 0.04, 0.05, 0.08, 0.20,
    0.55, 0.90, 1.00, 0.95, 0.70, 0.92, 1.00, 0.95,
    0.75, 0.40, 0.22, 0.15, 0.12, 0.10, 0.08, 0.07,
)  # fmt: skip
_CUM = [0.0]
for _h in HOURLY:
    _CUM.append(_CUM[-1] + _h * 3600.0)
DAY_TOTAL = _CUM[24]


def profile_at(t: float) -> float:
    """The profile's value (0..1) at unix time ``t``."""
    return HOURLY[int(((t + BANGKOK_UTC_OFFSET) % 86400.0) // 3600.0)]


def cumulative(t: float) -> float:
    """Integral of the profile from the epoch to unix time ``t`` ("full-rate seconds")."""
    lt = t + BANGKOK_UTC_OFFSET
    days = lt // 86400.0
    rem = lt - days * 86400.0
    h = int(rem // 3600.0)
    return days * DAY_TOTAL + _CUM[h] + (rem - h * 3600.0) * HOURLY[h]


def seeded(*parts: object) -> float:
    """A stable pseudo-random number in [0, 1) from its parts (same every run)."""
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def jitter(seed: int, t: float, period: float = 60.0) -> float:
    """Noise in [0, 1) that changes every ``period`` seconds, cheap enough per request."""
    x = (seed ^ int(t // period)) * 2654435761 & 0xFFFFFFFF
    x ^= x >> 13
    return ((x * 1274126177) & 0xFFFF) / 65536.0


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(a))


def base_latency(lat: float, lon: float) -> float:
    """Seconds of one-way answer delay: 2 ms at the centre to ~40 ms at the far south."""
    return min(0.002 + distance_km(BANGKOK_LAT, BANGKOK_LON, lat, lon) * 0.00005, 0.045)
