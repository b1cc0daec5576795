"""The rate-window rule: several polls per window, whatever the scrape phase."""

from __future__ import annotations

import pytest

from netmon.rate_window import (
    RATE_OFFSET,
    RATE_RANGE,
    RATE_WINDOW,
    SAMPLES,
    rate_offset,
    rate_window,
    rate_window_seconds,
)


def test_default_window_is_five_minutes_one_minute_back() -> None:
    assert RATE_WINDOW == "5m" and RATE_OFFSET == "1m"
    assert RATE_RANGE == "[5m] offset 1m"
    assert rate_window_seconds() == 300
    assert rate_offset(2) == "4s" and rate_offset(45) == "90s"


@pytest.mark.parametrize(
    ("poll", "scrape", "want"),
    [
        (60, 30, "5m"),
        (60, 60, "5m"),
        (300, 30, "21m"),
        (30, 15, "3m"),
        (4, 2, "18s"),
        (10, 5, "45s"),
    ],
)
def test_window_spans_the_polls(poll: float, scrape: float, want: str) -> None:
    assert rate_window(poll, scrape) == want
    assert rate_window_seconds(poll, scrape) >= SAMPLES * poll + scrape


def test_intervals_must_be_positive() -> None:
    with pytest.raises(ValueError):
        rate_window(0, 30)
    with pytest.raises(ValueError):
        rate_offset(0)
