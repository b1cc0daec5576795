"""The lock files cover pyproject.toml, pin every package with hashes, and are what .venv has.

`make lock` regenerates them; bootstrap.sh and `make deb` install with `--require-hashes`.
"""

from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from support.locks import pins

REPO = Path(__file__).resolve().parents[2]


def project() -> dict[str, list[str]]:
    data = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return {"": data["dependencies"], **data["optional-dependencies"]}


def test_runtime_lock_satisfies_pyproject() -> None:
    locked = pins(REPO / "requirements.lock")
    for spec in project()[""]:
        req = Requirement(spec)
        name = canonicalize_name(req.name)
        assert name in locked, f"{req.name} is not in requirements.lock: run `make lock`"
        assert req.specifier.contains(locked[name], prereleases=True), (
            f"requirements.lock has {req.name}=={locked[name]}, pyproject wants {req.specifier}: "
            "run `make lock`"
        )


def test_dev_lock_extends_the_runtime_lock() -> None:
    runtime, dev = pins(REPO / "requirements.lock"), pins(REPO / "requirements-dev.lock")
    for name, version in runtime.items():
        assert dev.get(name) == version, f"{name}: {dev.get(name)} != {version}"
    for spec in project()["dev"]:
        req = Requirement(spec)
        name = canonicalize_name(req.name)
        assert name in dev and req.specifier.contains(dev[name], prereleases=True), spec


def test_venv_runs_the_locked_versions() -> None:
    """bootstrap.sh installed .venv from the lock: every locked package at its locked version."""
    installed = {canonicalize_name(d.metadata["Name"]): d.version for d in metadata.distributions()}
    wrong = {
        name: (version, installed.get(name))
        for name, version in pins(REPO / "requirements-dev.lock").items()
        if installed.get(name) != version
    }
    assert not wrong, f"locked vs installed: {wrong}; run ./deploy/bootstrap.sh"
