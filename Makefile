# The two commands a new user needs: `make demo` (the main job on the simulated backbone) and
# `make test` (lint, types, unit and integration tests). Both set up what they need first.
.PHONY: demo test lint unit integration bench fuzz setup

VENV := .venv/bin

setup:
	@./deploy/bootstrap.sh

demo: setup
	$(VENV)/netmon demo

lint: setup
	$(VENV)/ruff check .
	$(VENV)/ruff format --check .
	$(VENV)/mypy

test: lint
	$(VENV)/pytest -q

unit: setup
	$(VENV)/pytest -q -m "not integration"

integration: setup
	$(VENV)/pytest -q -m integration

bench: setup
	$(VENV)/python -m bench

fuzz: setup
	$(VENV)/python -m bench.fuzz --inputs 1000000
