"""Times as the pages show them: relative to the request time, and in UTC.

The request time is read once by the handler and passed in, so every time on
one page is relative to the same instant (and tests pass a fixed one).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

_UNITS = ((86400.0, "day"), (3600.0, "h"), (60.0, "min"), (1.0, "s"))


def format_absolute(ts: float) -> str:
    """``2024-05-01 12:34:56 UTC`` (second precision)."""
    if not math.isfinite(ts):
        return "unknown"
    return datetime.fromtimestamp(int(ts), UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def format_iso(ts: float) -> str:
    """The machine-readable form for ``<time datetime>``."""
    if not math.isfinite(ts):
        return ""
    return datetime.fromtimestamp(int(ts), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_duration(seconds: float) -> str:
    """A short human duration: ``42 s``, ``5 min``, ``3 h``, ``2 days``."""
    seconds = abs(seconds)
    for size, unit in _UNITS:
        if seconds >= size:
            n = int(seconds // size)
            if unit == "day":
                return f"{n} day" if n == 1 else f"{n} days"
            return f"{n} {unit}"
    return "0 s"


def format_relative(ts: float, now: float) -> str:
    """``5 min ago``, ``in 3 h``, ``just now``; ``never`` for a zero time."""
    if ts <= 0 or not math.isfinite(ts):
        return "never"
    delta = now - ts
    if abs(delta) < 1:
        return "just now"
    if delta > 0:
        return f"{format_duration(delta)} ago"
    return f"in {format_duration(delta)}"
