"""Free loopback ports, for the demo, the benchmarks and the tests (loopback only, always)."""

from __future__ import annotations

import socket

LOOPBACK = "127.0.0.1"


def free_port(kind: int = socket.SOCK_STREAM, host: str = LOOPBACK) -> int:
    """A port the kernel says is free now on ``host`` (SOCK_STREAM: TCP, SOCK_DGRAM: UDP)."""
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def free_tcp_port(host: str = LOOPBACK) -> int:
    return free_port(socket.SOCK_STREAM, host)


def free_udp_port(host: str = LOOPBACK) -> int:
    return free_port(socket.SOCK_DGRAM, host)
