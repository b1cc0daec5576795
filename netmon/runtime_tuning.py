"""The process's allocator and garbage-collector settings for ``netmon run`` (and the benches,
which measure it as it runs).

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
as before; the heap may hold up to 64 MiB more than it did (measured at 10x: README).

**The cyclic GC's first threshold** (``tune_gc``). A poll cycle of the backbone allocates ~12k
GC-tracked objects (poll results, label sets, families) that mostly live until the next cycle;
at CPython's default of 700 the collector ran ~17 young and 1-2 middle collections a cycle over
them (~6 ms). At 20,000 it runs about once a cycle: bench.collector's poller, both settings
alternating in one process, CPU per 10k varbinds B/A 0.945-0.981. Cyclic garbage (exception
tracebacks) waits for at most 20,000 allocations; the older generations keep their thresholds.
``gc.freeze()`` after the start (netmon/service.py) keeps the inventory out of every walk.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging

log = logging.getLogger(__name__)

# mallopt parameters (glibc's malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 * 1024 * 1024  # glibc's ceiling for it on 64-bit (HEAP_MAX_SIZE / 2)
TRIM_THRESHOLD = 2 * MMAP_THRESHOLD  # what glibc's own dynamic adjustment would set

GC_THRESHOLD0 = 20_000

_tuned: bool | None = None


def tune_gc() -> None:
    """Raise the GC's first threshold (the others as they are)."""
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GC_THRESHOLD0, older, oldest)


def tune_malloc() -> bool:
    """Set the thresholds once per process; False where the C library is not glibc."""
    global _tuned
    if _tuned is not None:
        return _tuned
    _tuned = False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
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
    _tuned = True
    return True
