"""Benchmarks: printed tables of medians, with peers measured in the same run.

Run all: ``.venv/bin/python -m bench``; one: ``.venv/bin/python -m bench.<module>``.
"""
