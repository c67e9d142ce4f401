"""Durations as Prometheus writes them: ``30d``, ``1h30m``, ``90s``, ``500ms``.

The units and their order are those of Prometheus' ``model.ParseDuration``
(``y`` is 365 days, ``w`` 7 days); each unit appears at most once, largest
first. A plain number is a number of seconds, which is what a pusher most
easily writes in a header (``X-Pushgate-TTL: 3600``).
"""

from __future__ import annotations

import math
import re

from pushgate.core.errors import ConfigError

_UNITS: tuple[tuple[str, float], ...] = (
    ("y", 365 * 86400.0),
    ("w", 7 * 86400.0),
    ("d", 86400.0),
    ("h", 3600.0),
    ("m", 60.0),
    ("s", 1.0),
    ("ms", 0.001),
)
_PATTERN = re.compile("".join(rf"(?:(\d+){unit})?" for unit, _ in _UNITS))
_SECONDS = re.compile(r"\d+(?:\.\d+)?")


def parse_duration(text: str) -> float:
    """Seconds in ``text`` (``30d``, ``1h30m``, ``3600``); raises :class:`ConfigError`.

    Zero is refused: a duration here is always a time to wait or keep.
    """
    value = text.strip()
    seconds: float
    if _SECONDS.fullmatch(value):
        seconds = float(value)
    else:
        match = _PATTERN.fullmatch(value)
        if not value or match is None:
            raise ConfigError(
                f"{text!r} is not a duration; write e.g. 30d, 12h, 1h30m, 90s or a number of"
                " seconds"
            )
        seconds = sum(
            int(count) * factor
            for count, (_, factor) in zip(match.groups(), _UNITS, strict=True)
            if count is not None
        )
    if not math.isfinite(seconds) or seconds <= 0:
        raise ConfigError(f"{text!r}: a duration must be more than zero")
    return seconds


def render_duration(seconds: float) -> str:
    """A Prometheus form of ``seconds`` that people read easily (``2592000`` -> ``30d``).

    Years and weeks are used only when they divide the whole duration, so 30
    days stay ``30d`` rather than Prometheus' own ``4w2d``.
    """
    if seconds <= 0:
        return "0s"
    ms = round(seconds * 1000)
    parts: list[str] = []
    for unit, factor in _UNITS:
        unit_ms = round(factor * 1000)
        if unit in ("y", "w") and ms % unit_ms:
            continue
        count, ms = divmod(ms, unit_ms)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)
