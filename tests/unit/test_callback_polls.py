"""The callback path's verdicts are the coroutine path's for the same outcome."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

import pytest

from collector.callback_polls import probe_result, status_result
from collector.model import ProbeResult, StatusResult
from collector.poll_limits import guard_status
from collector.transport import SnmpGarbage, SnmpTimeout, Value
from netmon.errors import ConfigError


def read_raising(
    exc: BaseException,
) -> Callable[[Sequence[str], list[tuple[str, Value]]], dict[str, int]]:
    def read(indexes: Sequence[str], answers: list[tuple[str, Value]]) -> dict[str, int]:
        raise exc

    return read


@pytest.mark.parametrize(
    "exc",
    [SnmpGarbage("bad value"), ConfigError("no such secret"), ValueError("a bug")],
    ids=["garbage", "config", "bug"],
)
def test_a_failed_read_is_the_failure_guard_status_reports(exc: Exception) -> None:
    async def coro() -> StatusResult | None:
        raise exc

    want = asyncio.run(guard_status(coro(), 5.0))
    assert status_result(["1"], [("x", 1)], read_raising(exc)) == want
    assert want is not None and not want.ok


def test_transport_errors_and_answers() -> None:
    timeout = SnmpTimeout("127.0.0.1: no answer")
    assert status_result(["1"], timeout, read_raising(AssertionError())) == StatusResult(
        ok=False, error_kind="timeout", error="127.0.0.1: no answer"
    )
    assert status_result(["1"], [("x", 2)], lambda i, a: {"1": 2}) == StatusResult(
        ok=True, oper_status={"1": 2}
    )
    assert probe_result(timeout) == ProbeResult(False, "timeout", "127.0.0.1: no answer")
    assert probe_result(SnmpGarbage("junk")).answered  # any answer means it is reachable
    assert probe_result([("x", 1)]) == ProbeResult(True)
