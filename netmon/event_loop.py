"""Which asyncio event loop runs the service: uvloop (libuv) or the standard library's.

The collector's cost per request is partly the event loop's (a timer, a future, a datagram
callback per request). uvloop was measured against asyncio in the same runs of
``bench.collector`` and ``bench.scale`` and made no consistent difference (README, "SNMP
collector" and "The collector at 10x"), so the standard loop is the default and uvloop is
not a dependency of the service: ``--event-loop uvloop`` runs it where it is installed (the
dev environment has it, for the benchmarks).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

LOOPS = ("asyncio", "uvloop")
DEFAULT_LOOP = "asyncio"


class EventLoopError(ValueError):
    """The event loop asked for cannot run here."""


def loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The factory for ``asyncio.Runner`` (None: the standard loop)."""
    if name == "asyncio":
        return None
    if name != "uvloop":
        raise EventLoopError(f"unknown event loop {name!r} (one of {', '.join(LOOPS)})")
    try:
        import uvloop
    except ImportError as exc:
        raise EventLoopError("--event-loop uvloop: uvloop is not installed") from exc
    return uvloop.new_event_loop


def run(main: Coroutine[Any, Any, T], loop: str = DEFAULT_LOOP) -> T:
    with asyncio.Runner(loop_factory=loop_factory(loop)) as runner:
        return runner.run(main)
