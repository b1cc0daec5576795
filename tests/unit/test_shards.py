"""Shards: rendezvous hashing on the province code, upstream devices as probe-only targets."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest
from conftest import REPO

from collector.shards import Shard, assignment, shard_of
from collector.targets import targets_from_inventory
from netmon.cli import main
from netmon.inventory.loader import load_inventory
from netmon.service import Service
from netmon.simulator.testbed import small_inventory

CODES = [p.code for p in load_inventory(REPO / "inventory").provinces]


def test_parse() -> None:
    assert Shard.parse("2/3") == Shard(2, 3) and str(Shard.parse(" 1 / 2 ")) == "1/2"
    for bad in ("0/2", "3/2", "1", "a/b", "1/0", "-1/2"):
        with pytest.raises(ValueError):
            Shard.parse(bad)


def test_assignment_is_fixed_and_balanced() -> None:
    # Pinned: a change here moves provinces between running shards (replicas must agree).
    assert [shard_of(c, 2) for c in ("10", "50", "90", "96")] == [2, 2, 1, 2]
    for n in (2, 3, 4, 8):
        plan = assignment(CODES, n)
        assert sorted(c for codes in plan.values() for c in codes) == sorted(CODES)
        sizes = [len(v) for v in plan.values()]
        assert min(sizes) >= len(CODES) / n / 2, (n, sizes)  # no shard starves


def test_adding_a_shard_moves_only_what_the_new_shard_takes() -> None:
    for n in range(1, 8):
        moved = [c for c in CODES if shard_of(c, n) != shard_of(c, n + 1)]
        assert all(shard_of(c, n + 1) == n + 1 for c in moved)
        assert len(moved) <= 2 * len(CODES) / (n + 1)  # ~1/(n+1) of them


def test_a_shard_probes_the_upstream_devices_it_does_not_own() -> None:
    inv = small_inventory(31)  # bkk-core-01 in province 10; Chiang Mai (50) uplinks to it
    count = next(n for n in range(2, 20) if shard_of("10", n) != shard_of("50", n))
    cmi = targets_from_inventory(inv, shard=Shard(shard_of("50", count), count))
    assert set(cmi) == {"bkk-core-01", "cmi-dist-01", "cmi-dist-02", "cmi-5001-edge-01"}
    assert [n for n, t in cmi.items() if t.probe_only] == ["bkk-core-01"]
    bkk = targets_from_inventory(inv, shard=Shard(shard_of("10", count), count))
    assert set(bkk) == {"bkk-core-01"} and not bkk["bkk-core-01"].probe_only
    others = [
        k for k in range(1, count + 1) if k not in (shard_of("10", count), shard_of("50", count))
    ]
    assert all(targets_from_inventory(inv, shard=Shard(k, count)) == {} for k in others)


def test_every_device_is_owned_by_exactly_one_shard() -> None:
    inv = load_inventory(REPO / "inventory")
    everything = targets_from_inventory(inv)
    owners: Counter[str] = Counter()
    for k in (1, 2, 3):
        for name, t in targets_from_inventory(inv, shard=Shard(k, 3)).items():
            if not t.probe_only:
                owners[name] += 1
            assert t.label("province_code") == everything[name].label("province_code")
    assert set(owners) == set(everything) and set(owners.values()) == {1}


def test_show_prints_the_shards(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inventory", "show", "--shards", "2", str(REPO / "inventory")]) == 0
    out = capsys.readouterr().out
    plan = assignment(CODES, 2)
    assert "shards: 2 (rendezvous hashing on the province code)" in out
    for k, codes in plan.items():
        line = next(line for line in out.splitlines() if line.startswith(f"{k}/2: "))
        assert [part.split()[0] for part in line[5:].split(", ")] == codes
        row = next(line for line in out.splitlines() if line.startswith(f"{k}/2 "))
        assert row.split()[1] == str(len(codes))


def test_the_service_polls_its_shard(tmp_path: Path) -> None:
    inv = small_inventory(31)
    count = next(n for n in range(2, 20) if shard_of("10", n) != shard_of("50", n))
    svc = Service(tmp_path, load=lambda _: inv, shard=Shard(shard_of("10", count), count))
    assert asyncio.run(svc.reload())
    assert set(svc.scheduler.states) == {"bkk-core-01"}
    svc.close()


def test_run_refuses_a_bad_shard(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["run", "--shard", "3/2"])
    assert "want 1 <= K <= N" in capsys.readouterr().err
