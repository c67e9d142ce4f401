"""Prometheus durations: parse_duration and render_duration."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pushgate.core.duration import parse_duration, render_duration
from pushgate.core.errors import ConfigError


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30d", 30 * 86400.0),
        ("1h30m", 5400.0),
        ("90s", 90.0),
        ("500ms", 0.5),
        ("1y2w", 365 * 86400.0 + 14 * 86400.0),
        ("3600", 3600.0),
        ("1.5", 1.5),
        (" 12h ", 43200.0),
    ],
)
def test_parse(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "0", "0s", "1x", "30 d", "1m1h", "-5", "d", "inf", "nan"])
def test_refused_with_an_example(text: str) -> None:
    with pytest.raises(ConfigError, match=r"not a duration|more than zero"):
        parse_duration(text)


@given(st.integers(min_value=1, max_value=10**12))
def test_render_inverts_parse(ms: int) -> None:
    seconds = ms / 1000
    assert parse_duration(render_duration(seconds)) == pytest.approx(seconds)


def test_render_is_short() -> None:
    assert render_duration(30 * 86400) == "30d"
    assert render_duration(5400) == "1h30m"
    assert render_duration(0) == "0s"
