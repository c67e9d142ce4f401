"""The data model shared by every parser, renderer, store and client.

One model serves both directions: the text and protobuf parsers produce it and
the renderers consume it, so ``parse(render(x)) == x`` is testable directly.

All classes are frozen: a stored family can be shared between the store, the
render caches and concurrent readers without copying.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NamedTuple

MetricType = Literal["counter", "gauge", "summary", "histogram", "untyped"]
METRIC_TYPES: tuple[MetricType, ...] = ("counter", "gauge", "summary", "histogram", "untyped")
#: The types whose metrics are one sample each (a value, no quantiles/buckets).
PLAIN_TYPES: frozenset[MetricType] = frozenset(("counter", "gauge", "untyped"))

#: Label pairs of one series. Parsers keep the order of the input; the store
#: sanitises them (grouping labels applied, ``instance`` added) and sorts them
#: by name.
Labels = tuple[tuple[str, str], ...]

#: A grouping key: the labels of a push URL, ``job`` included, sorted by name.
#: ``{job="a"}`` and ``{job="a",instance=""}`` are different keys.
GroupingKey = tuple[tuple[str, str], ...]


class Metric(NamedTuple):
    """One series (counter/gauge/untyped) or one summary/histogram.

    A NamedTuple rather than a frozen dataclass: it is just as immutable and
    typed, and three times cheaper to build, which matters because a push
    builds one per sample (measured in docs/performance.md).

    ``value`` is used by counter, gauge and untyped. Summaries use
    ``quantiles`` (quantile, value), ``sample_count`` and ``sample_sum``;
    histograms use ``buckets`` (upper bound, cumulative count) and the same
    count and sum. ``timestamp_ms`` is kept only so that the store can reject
    timestamped pushes as the official gateway does.
    """

    labels: Labels
    value: float = 0.0
    sample_count: int = 0
    sample_sum: float = 0.0
    quantiles: tuple[tuple[float, float], ...] = ()
    buckets: tuple[tuple[float, int], ...] = ()
    timestamp_ms: int | None = None


@dataclass(frozen=True, slots=True)
class MetricFamily:
    """A named family of metrics of one type.

    ``help`` is ``None`` when the family has no HELP (no HELP line is
    rendered); an explicitly empty help from protobuf is ``""``.
    """

    name: str
    type: MetricType
    help: str | None
    metrics: tuple[Metric, ...]


def grouping_key_from_mapping(labels: dict[str, str]) -> GroupingKey:
    """The canonical (sorted) grouping key of a label mapping."""
    return tuple(sorted(labels.items()))
