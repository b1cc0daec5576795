"""netmon.runtime_tuning: a render-sized buffer is reused, not page-faulted in again.

Each case runs in a fresh interpreter: the thresholds are process-wide."""

from __future__ import annotations

import os
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
tuned = (tune_malloc(), tune_malloc()) if sys.argv[1] == "tune" else None
lines = ["x" * 200 + "\\n"] * 100_000
faults = []
for _ in range(3):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    body = "".join(lines).encode()
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    del body
print(str(tuned).replace(" ", ""), faults[-1])
"""


def _second_round(mode: str, **env: str) -> tuple[str, int]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "GLIBC_"))}
    out = subprocess.run(
        [sys.executable, "-c", PROBE, mode],
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    ).stdout.split()
    return out[0], int(out[1])


@glibc_only
def test_tuned_process_reuses_the_render_buffers() -> None:
    tuned, faults = _second_round("tune")
    assert tuned == "(True,True)"  # and once set, set
    # 2 x 20 MB is ~10,000 pages: reused memory faults (almost) none of them in
    assert faults < 500


@glibc_only
def test_untuned_process_faults_them_in_every_time() -> None:
    # The case the tuning is for: without it the same rounds fault every page again.
    tuned, faults = _second_round("plain")
    assert tuned == "None"
    assert faults > 5_000


@glibc_only
def test_an_operators_malloc_tunables_win() -> None:
    tuned, _ = _second_round("tune", MALLOC_TRIM_THRESHOLD_="131072")
    assert tuned == "(False,False)"
    tuned, _ = _second_round("tune", GLIBC_TUNABLES="glibc.malloc.mmap_threshold=131072")
    assert tuned == "(False,False)"
    tuned, _ = _second_round("tune", MALLOC_ARENA_MAX="2")  # not one of ours: tuned
    assert tuned == "(True,True)"


def test_trim_soon_trims_once_for_a_burst_and_only_when_tuned(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import asyncio

    from netmon import runtime_tuning as rt

    trims: list[int] = []
    monkeypatch.setattr(rt, "_trim_pending", False)
    monkeypatch.setattr(rt, "_trim", lambda: (trims.append(1), setattr(rt, "_trim_pending", False)))

    async def burst() -> None:
        loop = asyncio.get_running_loop()
        for _ in range(5):
            rt.trim_soon(loop, 0.01)
        await asyncio.sleep(0.05)

    monkeypatch.setattr(rt, "_libc", None)
    asyncio.run(burst())
    assert trims == []  # an untuned process (not glibc, or the operator's settings)
    monkeypatch.setattr(rt, "_libc", object())
    asyncio.run(burst())
    assert trims == [1]
    asyncio.run(burst())
    assert trims == [1, 1]
