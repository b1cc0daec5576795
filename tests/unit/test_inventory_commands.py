"""`netmon inventory check|show` on small inventories (the real CLI entry point, in-process)."""

from __future__ import annotations

from pathlib import Path

import pytest

from netmon.cli import main

CASES = Path(__file__).parent / "inventory_cases"


@pytest.fixture(autouse=True)
def _secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    """`check` resolves every secret reference: give it the cases' (the simulator's)."""
    from netmon.simulator.secrets import SIMULATION_SECRETS

    for name, value in SIMULATION_SECRETS.items():
        monkeypatch.setenv(name, value)


def test_check_clean_prints_counts_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inventory", "check", str(CASES / "_valid")]) == 0
    out = capsys.readouterr().out
    assert out == "inventory OK: 6 sites, 7 devices, 6 links in 5 files\n"


def test_check_prints_every_problem_relative_to_cwd_and_exits_1(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    case = CASES / "many-at-once"
    monkeypatch.chdir(case)
    assert main(["inventory", "check", str(case)]) == 1
    captured = capsys.readouterr()
    expected = (case / "expected.txt").read_text(encoding="utf-8")
    assert captured.out == expected
    assert "4 problems in 4 files" in captured.err


def test_check_uses_netmon_inventory_env(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NETMON_INVENTORY", str(CASES / "cycle"))
    assert main(["inventory", "check"]) == 1
    assert "the uplinks form a loop: d5001-edge1 -> p50-core1 -> d5001-edge1" in (
        capsys.readouterr().out
    )


def test_show_summarises_regions_platforms_and_topology(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["inventory", "show", str(CASES / "_valid")]) == 0
    out = capsys.readouterr().out
    assert "50 Chiang Mai" in out and "51 Lamphun" in out
    assert "platforms: " in out and "mikrotik_routeros 1" in out
    assert "centre -> 2 provincial hubs -> 3 districts (deepest path 2 hops)" in out
    assert "dual-homed sites (1): 50" in out


def test_show_refuses_a_broken_inventory(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inventory", "show", str(CASES / "yaml-syntax")]) == 1
    assert "netmon inventory check" in capsys.readouterr().err
