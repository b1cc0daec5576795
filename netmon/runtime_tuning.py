"""The process's allocator settings for ``netmon run`` (and the benches, which measure it as it
runs).

**glibc malloc thresholds** (``tune_malloc``), for the exposition's big buffers.

A /metrics render of the whole backbone joins ~22 MB of lines into one str and encodes it into
one bytes. glibc serves an allocation above its mmap threshold with a fresh mmap and unmaps it
when freed, so every render page-faulted both buffers in again: ~10,700 faults, ~12 ms of a
~14 ms join and encode (measured). glibc's dynamic threshold does rise to the size of a freed
mapping, but a request of that same size is mapped again (its test is ``>=``), and a render's
size barely changes. With the threshold fixed at glibc's maximum (32 MiB on 64-bit) and up to
64 MiB kept free at the heap's top, the next render reuses the memory: bench.collector's render
76-79 -> 59-61 ms a cycle, CPU per 10k varbinds -6 % (README, "SNMP collector").

Bodies over 32 MiB (the 10x backbone in one process) are still mapped and unmapped per render,
as before (RSS at 10x did not change: README). The heap may keep up to 64 MiB free for the
next render; replies cut off by stalled clients would leave it holding their bodies' memory
too (the stalled-clients test: RSS growth 147-174 MiB against a bound of 131), so
``trim_soon`` gives free memory back (``malloc_trim``) a second after such a reply.

Measured and not kept: raising the cyclic GC's first threshold (700 -> 20,000) saved 2-5 % of
bench.collector's CPU in one process, but under the stalled-clients abuse test
(tests/integration/test_http_abuse.py) the collector's RSS grew past its bound (135-162 MiB
against 131; without it the test passes). The cause was not found.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import os
from collections.abc import Mapping

log = logging.getLogger(__name__)

# mallopt parameters (glibc's malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 * 1024 * 1024  # glibc's ceiling for it on 64-bit (HEAP_MAX_SIZE / 2)
TRIM_THRESHOLD = 2 * MMAP_THRESHOLD  # what glibc's own dynamic adjustment would set

_tuned: bool | None = None
_libc: ctypes.CDLL | None = None  # set once tuned: malloc_trim from it
_trim_pending = False


def tune_malloc() -> bool:
    """Set the thresholds once per process; False where the C library is not glibc or the
    operator set either threshold in the environment (theirs win)."""
    global _tuned, _libc
    if _tuned is not None:
        return _tuned
    _tuned = False
    if _operator_tuned(os.environ):
        log.info("malloc thresholds left as the environment sets them")
        return False
    try:
        libc = ctypes.CDLL(None)  # the process's own C library: no ldconfig lookup
        version = libc.gnu_get_libc_version
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl, macOS: their own allocators, left alone
        return False
    version.restype = ctypes.c_char_p
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    if (
        mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) != 1
        or mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) != 1
    ):
        log.warning("glibc %s refused the malloc thresholds", version().decode())
        return False
    _tuned, _libc = True, libc
    return True


def trim_soon(loop: asyncio.AbstractEventLoop, delay: float = 1.0) -> None:
    """Give the heap's free memory back to the system ``delay`` seconds from now (one pending
    at a time): after replies to stalled clients were dropped, their bodies' memory."""
    global _trim_pending
    if _libc is None or _trim_pending:
        return
    _trim_pending = True
    loop.call_later(delay, _trim)


def _trim() -> None:
    global _trim_pending
    _trim_pending = False
    if _libc is not None:
        _libc.malloc_trim(0)


def _operator_tuned(env: Mapping[str, str]) -> bool:
    """Did the operator set either threshold (glibc's environment variables or tunables)?"""
    tunables = env.get("GLIBC_TUNABLES", "")
    return (
        "MALLOC_MMAP_THRESHOLD_" in env
        or "MALLOC_TRIM_THRESHOLD_" in env
        or "glibc.malloc.mmap_threshold" in tunables
        or "glibc.malloc.trim_threshold" in tunables
    )
