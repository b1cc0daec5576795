"""The tests' process helpers live in ``netmon.procs`` (the demo and benchmarks use them too)."""

from __future__ import annotations

from netmon.procs import (
    LOOPBACK,
    ProcessExited,
    free_tcp_port,
    free_udp_port,
    http_ok,
    running,
    stop,
    wait_for,
)

__all__ = [
    "LOOPBACK",
    "ProcessExited",
    "free_tcp_port",
    "free_udp_port",
    "http_ok",
    "running",
    "stop",
    "wait_for",
]
