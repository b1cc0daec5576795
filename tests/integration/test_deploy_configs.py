"""The committed HA configuration (deploy/ha) is what `netmon deploy generate` writes for the
shipped inventory, and vmagent / victoria-metrics accept it (their own checks)."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import REPO

from collector.shards import assignment
from netmon.inventory.loader import load_inventory

pytestmark = pytest.mark.integration

HA = REPO / "deploy" / "ha"


def files(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}


def test_committed_ha_config_is_the_generated_one(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "netmon.cli", "deploy", "generate", "--shards", "2", "--out",
         str(tmp_path)],
        capture_output=True, text=True, timeout=120, cwd=REPO,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert files(tmp_path) == files(HA), (
        "regenerate: netmon deploy generate --shards 2 --out deploy/ha"
    )


@pytest.mark.parametrize("machine", ["a", "b"])
def test_vmagent_accepts_the_scrape_config(machine: str) -> None:
    config = HA / machine / "etc/netmon/vm/vmagent-scrape.yml"
    out = subprocess.run(
        ["vmagent", "-dryRun", f"-promscrape.config={config}", "-promscrape.config.strictParse"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    # every province is scraped once per machine, by the shard rendezvous hashing gives it
    inv = load_inventory(REPO / "inventory")
    codes = sorted({ps.province.code for ps in inv.sites})
    plan = {c: k for k, cs in assignment(codes, 2).items() for c in cs}
    slices = yaml.safe_load(config.read_text())["scrape_configs"][0]["static_configs"]
    got = {s["labels"]["__metrics_path__"].split("/")[2]: s["labels"]["shard"] for s in slices}
    assert got == {c: str(k) for c, k in plan.items()}
    assert {s["labels"]["replica"] for s in slices} == {machine}


def test_the_env_files_parse_as_systemd_reads_them() -> None:
    env = (HA / "a/etc/netmon/netmon.env").read_text()
    values = dict(
        line.split("=", 1) for line in env.splitlines() if line and not line.startswith("#")
    )
    assert shlex.split(values["NETMON_SHARDS"]) == ["2"]
    args = shlex.split(shlex.split(values["NETMON_VMAGENT_ARGS"])[0])
    assert args == [
        "-remoteWrite.url=http://netmon-a:8428/api/v1/write",
        "-remoteWrite.url=http://netmon-b:8428/api/v1/write",
    ]
    vm = (HA / "a/etc/default/victoria-metrics").read_text()
    assert "-dedup.minScrapeInterval=30s" in vm


def test_vmalert_accepts_the_shipped_rules() -> None:
    """What netmon-vmalert.service loads from /etc/netmon/rules (the package ships them)."""
    rules = sorted((REPO / "deploy/prometheus/rules").glob("*.yml"))
    assert rules
    out = subprocess.run(
        ["vmalert", "-dryRun", "-rule.validateTemplates", *(f"-rule={r}" for r in rules)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
