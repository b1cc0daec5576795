"""Start real components (snmpd, prometheus, alertmanager, mosquitto, netmon itself) on
loopback with free ports, wait until they answer, and always stop them."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from netmon.ports import LOOPBACK, free_tcp_port, free_udp_port

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


class ProcessExited(RuntimeError):
    """The process being waited for is gone: waiting longer cannot help."""


def wait_for(check: Callable[[], bool], timeout: float = 15.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except ProcessExited:
            raise
        except Exception as exc:  # the thing is still starting
            last = exc
        time.sleep(0.05)
    raise TimeoutError(f"{what} not ready after {timeout:.0f}s (last error: {last})")


def http_ok(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=2) as resp:
        return 200 <= int(resp.status) < 300


@contextlib.contextmanager
def running(
    argv: Sequence[str],
    *,
    ready: Callable[[], bool] | None = None,
    log: Path,
    timeout: float = 20.0,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``argv`` in its own process group until the block ends; output goes to ``log``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            list(argv),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **(env or {})},
            cwd=cwd,
        )
        try:
            if ready is not None:

                def check() -> bool:
                    if proc.poll() is not None:
                        raise ProcessExited(
                            f"{argv[0]} exited with {proc.returncode}:\n{log.read_text()[-2000:]}"
                        )
                    return ready()

                wait_for(check, timeout, what=argv[0])
            yield proc
        finally:
            stop(proc)


def stop(proc: subprocess.Popen[bytes], grace: float = 5.0) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
