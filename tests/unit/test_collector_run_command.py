"""`netmon run`'s command line: loopback only by default, and the committed scrape config is
what the generator makes of the shipped inventory."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from netmon.commands.run import parse_listen

REPO = Path(__file__).resolve().parents[2]


def test_listen_parsing() -> None:
    assert parse_listen("127.0.0.1:9800") == ("127.0.0.1", 9800)
    assert parse_listen("[::1]:9800") == ("::1", 9800)
    for bad in ("9800", "localhost:9800", "127.0.0.1:x", "127.0.0.1:70000"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_listen(bad)


def test_refuses_a_non_loopback_listen_address() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "netmon.cli", "run", "--listen", "0.0.0.0:9800"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert "not loopback" in out.stderr


def test_committed_scrape_config_is_the_generated_one() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "netmon.cli", "run", "--print-scrape-config"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert out.returncode == 0, out.stderr
    committed = (REPO / "deploy" / "prometheus" / "scrape-netmon.yml").read_text()
    assert out.stdout == committed, "regenerate: netmon run --print-scrape-config > ..."
    assert committed.count("__metrics_path__: /province/") == 77
