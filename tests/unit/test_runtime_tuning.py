"""netmon.runtime_tuning: a render-sized buffer is reused, not page-faulted in again; the
GC's first threshold raised, the others kept.

Each case runs in a fresh interpreter: the thresholds are process-wide."""

from __future__ import annotations

import platform
import subprocess
import sys
from pathlib import Path

import pytest

glibc_only = pytest.mark.skipif(
    platform.libc_ver()[0] != "glibc", reason="the thresholds are glibc's"
)

# Two rounds of a render-shaped join + encode (~20 MB each); the second round's page faults.
PROBE = """
import resource, sys
from netmon.runtime_tuning import tune_malloc
tuned = tune_malloc() if sys.argv[1] == "tune" else None
lines = ["x" * 200 + "\\n"] * 100_000
faults = []
for _ in range(3):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    body = "".join(lines).encode()
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    del body
print(tuned, faults[-1])
"""


def _second_round(mode: str) -> tuple[str, int]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, mode],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    ).stdout.split()
    return out[0], int(out[1])


@glibc_only
def test_tuned_process_reuses_the_render_buffers() -> None:
    tuned, faults = _second_round("tune")
    assert tuned == "True"
    # 2 x 20 MB is ~10,000 pages: reused memory faults (almost) none of them in
    assert faults < 500


@glibc_only
def test_untuned_process_faults_them_in_every_time() -> None:
    # The case the tuning is for: without it the same rounds fault every page again.
    tuned, faults = _second_round("plain")
    assert tuned == "None"
    assert faults > 5_000


@glibc_only
def test_tune_malloc_is_idempotent() -> None:
    from netmon.runtime_tuning import tune_malloc

    assert tune_malloc() is tune_malloc()


def test_tune_gc_raises_only_the_first_threshold() -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import gc; from netmon.runtime_tuning import tune_gc; "
            "gc.set_threshold(700, 7, 9); tune_gc(); print(*gc.get_threshold())",
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    ).stdout.split()
    assert out == ["20000", "7", "9"]
