"""How long a poll may take, and what its failure means: deadlines and the mapping of any
exception a collector raises to a result (one failing device is a failed result, never a
failed run). Shared by every kind of poll the scheduler runs."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
from collections.abc import Awaitable
from types import TracebackType

from collector.fifo_timers import Timeout, loop_timers
from collector.model import PollResult, ProbeResult, StatusResult, Target
from collector.transport import SnmpTransportError
from netmon.errors import ConfigError, NetmonError

log = logging.getLogger(__name__)

REQUESTS_BOUND = 10  # the most requests a full poll of one device is expected to need


@functools.lru_cache(maxsize=1 << 16)  # asked at every slot of every device (~2,000/s at 10x)
def jitter_fraction(name: str) -> float:
    """A stable number in [0, 1) from the device name (the same on every start)."""
    digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


class Deadline:
    """``asyncio.timeout(seconds)``, except that on expiry the wake-ups already due run first.

    After the loop stalled (a whole 10x /metrics render), the answers that came meanwhile are
    read first in the next iteration, but their tasks resume only in the one after, while a
    plain timeout that expired during the stall cancels them in between: false "no answer
    within 5s" verdicts for devices that had answered (bench.scale). Here the expiry only
    queues the cancellation behind those wake-ups, so a task whose answer is in resumes and
    finishes first; one whose answer is not in is cancelled one iteration later."""

    __slots__ = ("_handle", "_seconds", "_timeout")

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds
        self._timeout = asyncio.timeout(None)
        self._handle: Timeout | None = None

    async def __aenter__(self) -> None:
        await self._timeout.__aenter__()
        # reschedule(0.0): "expire now", which asyncio queues with call_soon, behind the rest.
        # The loop's shared FIFO timers: nearly every deadline is cancelled unfired.
        self._handle = loop_timers().call_later(self._seconds, self._timeout.reschedule, 0.0)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._handle is not None:
            self._handle.cancel()
        await self._timeout.__aexit__(exc_type, exc, tb)


def poll_deadline(target: Target, requests_bound: int = REQUESTS_BOUND) -> float:
    timing = target.profile.snmp_timing if target.profile is not None else None
    if timing is None:
        return 0.9 * target.interval
    # 0.9: a poll cut at its deadline ends before the next one is due, so a dead or slow
    # device is still tried every interval instead of every other one (an overrun skip).
    return min(0.9 * target.interval, timing.timeout * (timing.retries + 1) * requests_bound)


def status_deadline(target: Target) -> float:
    timing = target.profile.snmp_timing if target.profile is not None else None
    if timing is None:
        return target.status_interval
    return min(target.status_interval, timing.timeout * (timing.retries + 1))


async def guard_poll(coro: Awaitable[PollResult], deadline: float) -> PollResult:
    try:
        async with Deadline(deadline):
            return await coro
    except TimeoutError:
        return PollResult.failed("timeout", f"no complete answer within {deadline:.1f}s")
    except SnmpTransportError as exc:
        return PollResult.failed(exc.kind, str(exc))
    except ConfigError as exc:
        return PollResult.failed("config", str(exc))
    except NetmonError as exc:
        return PollResult.failed("other", str(exc))
    except Exception as exc:  # a collector bug must not take the run down
        log.exception("poll crashed")
        return PollResult.failed("internal", f"{type(exc).__name__}: {exc}")


async def guard_status(
    coro: Awaitable[StatusResult | None], deadline: float
) -> StatusResult | None:
    try:
        async with Deadline(deadline):
            return await coro
    except TimeoutError:
        return StatusResult(ok=False, error_kind="timeout", error="no answer")
    except Exception as exc:
        return status_failure(exc)


def status_failure(exc: Exception) -> StatusResult:
    """The failed status poll an exception stands for (task and callback paths alike)."""
    if isinstance(exc, NetmonError):
        kind = getattr(exc, "kind", "config" if isinstance(exc, ConfigError) else "other")
        return StatusResult(ok=False, error_kind=kind, error=str(exc))
    log.exception("status poll crashed", exc_info=exc)
    return StatusResult(ok=False, error_kind="internal", error=repr(exc))


async def guard_probe(coro: Awaitable[ProbeResult], deadline: float) -> ProbeResult | None:
    """None: netmon's own trouble (a bug, a secret that cannot be resolved), no verdict."""
    try:
        async with Deadline(deadline):
            return await coro
    except TimeoutError:
        return ProbeResult(False, "timeout", f"no answer within {deadline:.0f}s")
    except ConfigError as exc:
        log.warning("probe: %s", exc)
        return None
    except Exception:
        log.exception("probe crashed")
        return None
