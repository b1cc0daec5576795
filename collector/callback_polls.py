"""Status polls and probes without a task: one GET each, run by callbacks.

At 10x the collector sends ~1,800 of these a second, one varbind each, and a profile showed
most of their CPU in the layers around the request, not in it: a task, a slot's ``async
with``, a deadline (an ``asyncio.timeout`` behind a FIFO timer), six coroutine frames, a
future and the task's wake-up. Here the scheduler takes a slot with a plain call, the SNMP
transport sends the GET (``FastSnmpTransport.get_soon``) and the endpoint's reader hands the
answer straight to the completion, or its retransmission timer hands it the timeout. No
deadline is needed: the endpoint's timer ends the request after ``timeout x (retries + 1)``,
the same bound ``status_deadline`` sets, and the probe's 2 x 1 s is inside its 5 s guard.

Only where the request is one datagram each way (SNMPv2c through the fast transport); SNMPv3
(discovery, re-syncs), pysnmp and SSH keep the task path, which is what a collector without
``start_status`` / ``start_probe`` gets too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from collector.model import ProbeResult, StatusResult
from collector.poll_limits import status_failure
from collector.transport import SnmpTimeout, SnmpTransportError, Value

Outcome = list[tuple[str, Value]] | SnmpTransportError


class InFlight:
    """What a slot holds for a callback poll in place of its task (``done()``, ``cancel()``):
    a cancelled one still ends through its callback, which then records nothing."""

    __slots__ = ("cancelled", "finished")

    def __init__(self) -> None:
        self.finished = False
        self.cancelled = False

    def done(self) -> bool:
        return self.finished

    def cancel(self) -> bool:
        self.cancelled = True
        return not self.finished


def probe_result(outcome: Outcome) -> ProbeResult:
    """``SnmpCollector.probe``'s verdict: any answer, even an error, means it is reachable."""
    if isinstance(outcome, SnmpTimeout):
        return ProbeResult(False, outcome.kind, str(outcome))
    if isinstance(outcome, SnmpTransportError):
        return ProbeResult(True, outcome.kind, str(outcome))
    return ProbeResult(True)


def status_result(
    indexes: Sequence[str],
    outcome: Outcome,
    read: Callable[[Sequence[str], list[tuple[str, Value]]], dict[str, int]],
) -> StatusResult:
    """``guard_status(poll_status(...))``'s result for the same outcome."""
    if isinstance(outcome, SnmpTransportError):
        return status_failure(outcome)
    try:
        return StatusResult(ok=True, oper_status=read(indexes, outcome))
    except Exception as exc:
        return status_failure(exc)
