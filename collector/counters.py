"""Counter arithmetic that never yields a negative or absurd rate.

Raw counters are exported as they are (Prometheus' ``rate()`` handles resets); netmon's own
rate gauges for link interfaces come from here. A counter that went backwards is a wrap only
if the wrapped distance is plausible for the counter's width; otherwise (a reboot, a line
card reset, a counter cleared by an operator) there is no rate for that interval.
"""

from __future__ import annotations

# A 32-bit octet counter wraps in ~34 s at 1 Gb/s: a wrap is plausible if the wrapped
# distance is under half the counter's range. A 64-bit counter never wraps in practice,
# so a decrease there is always a reset.
_WRAP_FRACTION = 0.5


def counter_delta(previous: int, current: int, bits: int = 64) -> int | None:
    """How much the counter advanced, or None if it was reset (no trustworthy delta)."""
    if current >= previous:
        return current - previous
    modulus = 1 << bits
    wrapped = current + modulus - previous
    if bits <= 32 and 0 <= wrapped < modulus * _WRAP_FRACTION:
        return wrapped
    return None


def rate(
    previous: int,
    current: int,
    seconds: float,
    *,
    bits: int = 64,
    rebooted: bool = False,
    ceiling: float | None = None,
) -> float | None:
    """Per-second rate between two readings; None on reboot, reset, no elapsed time, or a
    value above ``ceiling`` (e.g. the interface speed: a glitch, not traffic)."""
    if rebooted or seconds <= 0:
        return None
    delta = counter_delta(previous, current, bits)
    if delta is None:
        return None
    value = delta / seconds
    if ceiling is not None and value > ceiling:
        return None
    return value
