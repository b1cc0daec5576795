"""Each directory under inventory_cases/ is a small inventory with a known mistake; the loader
must report exactly the lines in its expected.txt (file:line:column: message), all at once."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from netmon.errors import InventoryError
from netmon.inventory.loader import load_inventory

CASES = Path(__file__).parent / "inventory_cases"
BROKEN = sorted(p.name for p in CASES.iterdir() if p.is_dir() and not p.name.startswith("_"))


def test_there_are_many_kinds_of_mistake() -> None:
    assert len(BROKEN) >= 15


def test_the_fixture_the_cases_start_from_is_valid() -> None:
    inv = load_inventory(CASES / "_valid")
    assert len(inv.sites) == 6
    assert len(inv.devices()) == 7


@pytest.mark.parametrize("case", BROKEN)
def test_loader_reports_exactly_the_expected_problems(case: str) -> None:
    root = CASES / case
    expected = (root / "expected.txt").read_text(encoding="utf-8").splitlines()
    with pytest.raises(InventoryError) as info:
        load_inventory(root)
    got = [
        f"{os.path.relpath(p.file, root)}:{p.line}:{p.column}: {p.message}"
        for p in info.value.problems
    ]
    assert got == expected
