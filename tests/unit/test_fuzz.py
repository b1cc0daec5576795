"""The fuzz targets of ``bench/fuzz.py`` under hypothesis, with a small budget per `make test`
(``make fuzz`` runs >= 1M inputs): SNMP decoders, USM agent and manager, the HTTP request head
parser and router, the inventory YAML parser. Only each target's own error may escape."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # bench/ is not installed


from bench.fuzz import Target, targets

TARGETS = {t.name: t for t in targets()}
BUDGET = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)


@st.composite
def mutated(draw: st.DrawFn, target: Target) -> bytes:
    """A seed with hypothesis-chosen edits (so a failure shrinks to a small edit)."""
    data = bytearray(draw(st.sampled_from(target.seeds)))
    for _ in range(draw(st.integers(0, 4))):
        if not data:
            break
        pos = draw(st.integers(0, len(data) - 1))
        op = draw(st.sampled_from(["set", "cut", "insert", "delete"]))
        if op == "set":
            data[pos] = draw(st.integers(0, 255))
        elif op == "cut":
            del data[pos:]
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        else:
            del data[pos : pos + draw(st.integers(1, 16))]
    return bytes(data)


def run_clean(target: Target, data: bytes) -> None:
    with contextlib.suppress(target.clean):
        target.run(data)


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_mutated_seeds_raise_only_the_targets_own_error(name: str) -> None:
    target = TARGETS[name]

    @BUDGET
    @given(mutated(target))
    def check(data: bytes) -> None:
        run_clean(target, data)

    check()


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_arbitrary_bytes_raise_only_the_targets_own_error(name: str) -> None:
    target = TARGETS[name]

    @BUDGET
    @given(st.binary(max_size=512))
    def check(data: bytes) -> None:
        run_clean(target, data)

    check()
