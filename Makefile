# The two commands a new user needs: `make demo` (the main job on the simulated backbone) and
# `make test` (lint, types, unit and integration tests). Both set up what they need first.
.PHONY: demo test lint unit integration bench fuzz setup lock deb deb-test

VENV := .venv/bin

setup:
	@./deploy/bootstrap.sh

demo: setup
	$(VENV)/netmon demo

lint: setup
	$(VENV)/ruff check .
	$(VENV)/ruff format --check .
	$(VENV)/mypy

# Two workers, one test module each at a time (module fixtures stay shared): the integration
# tests mostly wait on real components (load ~0.2 alone), so two halve the wall time.
PYTEST_WORKERS := -n 2 --dist loadfile

test: lint
	$(VENV)/pytest -q $(PYTEST_WORKERS)

unit: setup
	$(VENV)/pytest -q -m "not integration"

integration: setup
	$(VENV)/pytest -q -m integration $(PYTEST_WORKERS)

bench: setup
	$(VENV)/python -m bench

# The locked dependency set (exact versions + hashes) that bootstrap.sh, servers and `make deb`
# install. Regenerate after changing pyproject.toml's dependencies (needs PyPI).
lock:
	$(VENV)/uv pip compile pyproject.toml --generate-hashes --python-version 3.11 -q \
	  --custom-compile-command "make lock" -o requirements.lock
	$(VENV)/uv pip compile pyproject.toml --extra dev -c requirements.lock --generate-hashes \
	  --python-version 3.11 -q --custom-compile-command "make lock" -o requirements-dev.lock

# The Debian package (dist/netmon_<version>_amd64.deb): venv under /opt/netmon from
# requirements.lock, systemd units, /etc/netmon, a netmon system user.
deb:
	./deploy/deb/build.sh

# Builds the package, dpkg -i's it, runs /opt/netmon/bin/netmon, purges it. Kept out of
# `make test`: it takes minutes (5 on a loaded 2-core box) and installs a system package.
deb-test: setup
	NETMON_DEB_TEST=1 $(VENV)/pytest -q tests/integration/test_deb.py

fuzz: setup
	$(VENV)/python -m bench.fuzz --inputs 1000000
