"""Which asyncio event loop runs the service: uvloop (libuv) or the standard library's.

The collector's cost per request is mostly the event loop's once decoding is cheap (a timer,
a future, a datagram callback per request): uvloop halves it, measured in ``bench.collector``
and ``bench.scale`` (README, "The collector at 10x"). ``asyncio`` stays for comparison and for
a platform without a uvloop wheel.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

LOOPS = ("uvloop", "asyncio")
DEFAULT_LOOP = "uvloop"


def loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The factory for ``asyncio.Runner`` (None: the standard loop)."""
    if name == "asyncio":
        return None
    if name != "uvloop":
        raise ValueError(f"unknown event loop {name!r} (one of {', '.join(LOOPS)})")
    import uvloop

    return uvloop.new_event_loop


def run(main: Coroutine[Any, Any, T], loop: str = DEFAULT_LOOP) -> T:
    with asyncio.Runner(loop_factory=loop_factory(loop)) as runner:
        return runner.run(main)
