"""`make deb` builds a package that installs with `dpkg -i` and runs from /opt/netmon.

Slow (builds a venv from the lock) and it installs a system package, so it runs only from
`make deb-test` (NETMON_DEB_TEST=1), never as part of `make test`. It purges the package after.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import REPO
from support.locks import pins

from netmon.simulator.secrets import SIMULATION_SECRETS

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        os.environ.get("NETMON_DEB_TEST") != "1",
        reason="builds and dpkg-installs the package: run `make deb-test`",
    ),
]


def sh(*argv: str, timeout: float = 600, **kw: object) -> subprocess.CompletedProcess[str]:
    out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)  # type: ignore[call-overload]
    assert out.returncode == 0, f"{argv}: {out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    return out  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.fail("dpkg -i needs root")
    if (
        shutil.which("dpkg-query")
        and subprocess.run(["dpkg-query", "-W", "netmon"], capture_output=True).returncode == 0
    ):
        pytest.fail("a netmon package is already installed on this machine: not touching it")
    out = tmp_path_factory.mktemp("deb")
    sh(str(REPO / "deploy/deb/build.sh"), env={**os.environ, "OUT": str(out)}, cwd=REPO)
    (deb,) = out.glob("netmon_*_amd64.deb")
    sh("dpkg", "-i", str(deb))
    yield deb
    sh("dpkg", "--purge", "netmon")
    assert not Path("/opt/netmon").exists()


def test_the_installed_netmon_checks_the_shipped_inventory(installed: Path) -> None:
    # `check` resolves every secret reference: the shipped inventory's are the simulator's.
    argv = ("/opt/netmon/bin/netmon", "inventory", "check", "/etc/netmon/inventory")
    out = sh(*argv, cwd="/", env={**os.environ, **SIMULATION_SECRETS})
    assert out.stdout.startswith("inventory OK: ")
    assert "1031 devices" in out.stdout
    bare = {k: v for k, v in os.environ.items() if k not in SIMULATION_SECRETS}
    refused = subprocess.run(argv, capture_output=True, text=True, cwd="/", env=bare)
    assert refused.returncode == 1 and "NETMON_SIM_COMMUNITY is not set" in refused.stdout


def test_the_package_lays_out_user_units_and_config(installed: Path) -> None:
    user = sh("getent", "passwd", "netmon").stdout.split(":")
    assert user[6].strip() in ("/usr/sbin/nologin", "/bin/false")  # a system account
    assert int(user[2]) < 1000
    secrets = Path("/etc/netmon/secrets")
    assert secrets.is_dir() and secrets.stat().st_mode & 0o777 == 0o700
    assert secrets.stat().st_uid == 0
    for unit in ("netmon@.service", "netmon-simulate.service", "netmon-vmagent.service"):
        assert (Path("/lib/systemd/system") / unit).is_file()
    conffiles = sh("dpkg-query", "--showformat=${Conffiles}", "-W", "netmon").stdout
    assert "/etc/netmon/netmon.env" in conffiles
    # the venv carries no trace of the build's staging directory and uses Debian's python
    cfg = Path("/opt/netmon/pyvenv.cfg").read_text()
    assert "home = /usr/bin" in cfg
    assert Path("/opt/netmon/bin/netmon").read_text().startswith("#!/opt/netmon/bin/python")


def test_the_venv_holds_exactly_the_lock(installed: Path) -> None:
    code = (
        "import importlib.metadata as m, json, re;"
        "print(json.dumps({re.sub(r'[-_.]+', '-', d.metadata['Name']).lower(): d.version "
        "for d in m.distributions()}))"
    )
    have = json.loads(sh("/opt/netmon/bin/python", "-c", code).stdout)
    want = pins(REPO / "requirements.lock")
    assert {k: have.get(k) for k in want} == want
    assert have.get("netmon") is not None
