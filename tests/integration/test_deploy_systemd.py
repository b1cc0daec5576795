"""The shipped systemd units pass `systemd-analyze verify` and stay hardened (`security`).

Verification runs against a throw-away root holding the system's own units plus the paths the
units execute (/opt/netmon/bin/netmon, /usr/bin/vm*), so a missing binary on the test machine
does not hide a real mistake and a real mistake (unknown key, bad value) fails the test.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import REPO

pytestmark = pytest.mark.integration

UNITS = REPO / "deploy" / "systemd"
# instance names: a template is verified through one of its instances
CHECKED = [
    "netmon@1.service",
    "netmon-simulate.service",
    "netmon-vmagent.service",
    "netmon-vmalert.service",
]


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("systemd-analyze") is None:
        pytest.fail("systemd-analyze is missing (Debian package systemd)")
    r = tmp_path_factory.mktemp("root")
    shutil.copytree("/usr/lib/systemd/system", r / "usr/lib/systemd/system", symlinks=True)
    (r / "etc/systemd/system").mkdir(parents=True)
    for unit in UNITS.glob("*.service"):
        shutil.copy(unit, r / "etc/systemd/system" / unit.name)
    for exe in ("opt/netmon/bin/netmon", "usr/bin/vmagent", "usr/bin/vmalert", "bin/kill"):
        path = r / exe
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("#!/bin/sh\n")
        path.chmod(0o755)
    return r


def test_every_unit_is_checked() -> None:
    names = {u.name for u in UNITS.glob("*.service")}
    assert names == {c.replace("@1", "@") for c in CHECKED}


def test_units_verify_clean(root: Path) -> None:
    out = subprocess.run(
        ["systemd-analyze", "verify", f"--root={root}", "--man=no", *CHECKED],
        capture_output=True,
        text=True,
        timeout=60,
    )
    # verify exits 0 on an unknown key but prints it: any output is a failure.
    assert out.returncode == 0 and not out.stderr.strip() and not out.stdout.strip(), (
        out.stdout + out.stderr
    )


def test_a_typo_is_caught(root: Path, tmp_path: Path) -> None:
    """The check above can fail: a misspelt key in a copy of the unit is reported."""
    bad = root / "etc/systemd/system/netmon-typo.service"
    bad.write_text(
        (UNITS / "netmon-simulate.service").read_text().replace("ProtectHome", "ProtectHme")
    )
    try:
        out = subprocess.run(
            ["systemd-analyze", "verify", f"--root={root}", "--man=no", "netmon-typo.service"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        bad.unlink()
    assert "Unknown key 'ProtectHme'" in out.stderr


@pytest.mark.parametrize("unit", CHECKED)
def test_units_are_hardened(root: Path, unit: str) -> None:
    """`systemd-analyze security` scores exposure 0 (locked down) to 10: ours stay <= 2.5."""
    out = subprocess.run(
        [
            "systemd-analyze",
            "security",
            "--offline=yes",
            f"--root={root}",
            "--threshold=25",
            "--no-pager",
            unit,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stdout[-1500:] + out.stderr


def test_only_the_simulator_gets_a_capability() -> None:
    for unit in UNITS.glob("*.service"):
        text = unit.read_text()
        assert "NoNewPrivileges=yes" in text and "ProtectSystem=strict" in text, unit.name
        caps = [line for line in text.splitlines() if line.startswith("AmbientCapabilities=")]
        if unit.name == "netmon-simulate.service":
            assert caps == ["AmbientCapabilities=CAP_NET_BIND_SERVICE"]
        else:
            assert caps in ([], ["AmbientCapabilities="]), unit.name
        assert "User=netmon" in text, unit.name
