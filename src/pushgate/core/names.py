"""Metric and label name rules (the legacy Prometheus validation scheme).

The 1.5.1 gateway only knows the legacy scheme: ASCII names, checked with
Go's ``model.MetricNameRE`` and ``model.LabelNameRE``. Names starting with
``__`` are reserved for Prometheus' own use and are refused in grouping keys
and in pushed label sets.

The patterns spell out their ASCII classes instead of using ``\\w``, which in
Python also matches non-ASCII letters and digits.
"""

from __future__ import annotations

import re

_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")

#: Prefix of label names reserved for Prometheus' internal use.
RESERVED_LABEL_PREFIX = "__"


def is_valid_metric_name(name: str) -> bool:
    """Whether ``name`` is a legacy metric name: ``[a-zA-Z_:][a-zA-Z0-9_:]*``."""
    return _METRIC_NAME.fullmatch(name) is not None


def is_valid_label_name(name: str) -> bool:
    """Whether ``name`` is a legacy label name: ``[a-zA-Z_][a-zA-Z0-9_]*``.

    Reserved names (``__name__``, ``__foo``) are valid here; callers that
    refuse them also call :func:`is_reserved_label_name`.
    """
    return _LABEL_NAME.fullmatch(name) is not None


def is_reserved_label_name(name: str) -> bool:
    """Whether ``name`` starts with ``__`` (reserved for Prometheus)."""
    return name.startswith(RESERVED_LABEL_PREFIX)
