"""Read a `make lock` file: every package pinned with ``==`` and at least one sha256 hash."""

from __future__ import annotations

import re
from pathlib import Path

from packaging.utils import canonicalize_name

PIN = re.compile(r"^([A-Za-z0-9_.\-\[\],]+)==([^\s\\;]+)")


def pins(lock: Path) -> dict[str, str]:
    """name -> version, checking that each pin carries at least one sha256 hash."""
    out: dict[str, str] = {}
    blocks = re.split(r"\n(?=\S)", lock.read_text())
    for block in blocks:
        m = PIN.match(block)
        if not m:
            assert block.startswith("#") or not block.strip(), f"{lock}: unpinned entry {block!r}"
            continue
        assert "--hash=sha256:" in block, f"{lock}: {m.group(1)} has no hash"
        out[canonicalize_name(m.group(1).split("[")[0])] = m.group(2)
    return out
