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


def test_mangled_inventories_only_ever_give_problems(tmp_path: Path) -> None:
    """300 seeded random edits (deleted/duplicated lines, stray YAML punctuation, tabs): the
    loader either accepts the result or raises InventoryError with positioned problems."""
    import random
    import shutil

    base = CASES / "_valid"
    files = sorted(base.rglob("*.yaml"))
    rng = random.Random(2026)
    for n in range(300):
        root = tmp_path / str(n)
        shutil.copytree(base, root)
        target = root / rng.choice(files).relative_to(base)
        lines = target.read_text(encoding="utf-8").splitlines(keepends=True)
        for _ in range(rng.randint(1, 3)):
            i = rng.randrange(len(lines))
            op = rng.random()
            if op < 0.3:
                del lines[i]
            elif op < 0.5:
                lines.insert(rng.randrange(len(lines)), lines[i])
            elif len(lines[i]) > 1:
                k = rng.randrange(len(lines[i]) - 1)
                lines[i] = lines[i][:k] + rng.choice(" :-{}[]'\"x0\t#&*!|>") + lines[i][k + 1 :]
        target.write_text("".join(lines), encoding="utf-8")
        try:
            load_inventory(root)
        except InventoryError as exc:
            assert exc.problems
            for p in exc.problems:
                assert p.line >= 1 and p.column >= 1 and p.message
                assert Path(p.file).is_relative_to(root)
