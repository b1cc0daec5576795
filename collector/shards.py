"""Which provinces a shard polls: rendezvous (highest-random-weight) hashing on the province code.

Each province goes to the shard whose hash of ``"<province>/<shard>"`` is highest. Every process
computes the same answer from the code alone (no coordination, no shared state), and changing
the shard count moves only the provinces the new shard wins (~1/N of them); adding a province
moves nothing else. A shard also needs the devices its provinces uplink through, up to the
centre, to tell "down" from "unreachable": those are polled for reachability only
(``Target.probe_only``) and exported by the shard that owns them.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass

_SPEC = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


@dataclass(frozen=True, slots=True)
class Shard:
    index: int  # 1-based
    count: int

    def __post_init__(self) -> None:
        if not 1 <= self.index <= self.count:
            raise ValueError(f"shard {self.index}/{self.count}: want 1 <= K <= N")

    @classmethod
    def parse(cls, spec: str) -> Shard:
        """``"K/N"``: shard K of N, 1-based."""
        m = _SPEC.match(spec)
        if not m:
            raise ValueError(f"{spec!r}: want K/N, e.g. 1/2")
        return cls(int(m.group(1)), int(m.group(2)))

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def owns(self, province_code: str) -> bool:
        return shard_of(province_code, self.count) == self.index


def _weight(province_code: str, shard: int) -> int:
    # blake2b, not hash(): Python's str hash is salted per process, replicas must agree.
    digest = hashlib.blake2b(f"{province_code}/{shard}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def shard_of(province_code: str, count: int) -> int:
    """The 1-based shard that polls ``province_code`` among ``count`` shards."""
    if count < 1:
        raise ValueError(f"shard count {count}: want >= 1")
    return max(range(1, count + 1), key=lambda k: _weight(province_code, k))


def assignment(province_codes: Iterable[str], count: int) -> dict[int, list[str]]:
    """shard -> its province codes (sorted), every shard present even when empty."""
    out: dict[int, list[str]] = {k: [] for k in range(1, count + 1)}
    for code in sorted(set(province_codes)):
        out[shard_of(code, count)].append(code)
    return out
