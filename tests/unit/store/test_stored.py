"""A stored family held as its lines is the family it was made from.

Whatever the family (any type, labels with any characters, NaN with any
payload, negative zero, counts beyond 2**53, histograms without a +Inf
bucket, metrics in any order), :class:`StoredFamily` gives back exactly that
family: compacted when its lines say the same thing, kept as objects
otherwise. Its lines are the exposition's lines of the family, sorted, and
its sort keys those of the first and last of them.
"""

from __future__ import annotations

import math
import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from pushgate.core.model import Metric, MetricFamily, MetricType
from pushgate.core.textformat import metric_sort_key, render_metric
from pushgate.store.stored import StoredFamily
from tests.unit.core.test_textformat_properties import metric_names, metrics_of

# Floats the text form cannot carry: NaN payloads, negative zero, and values
# that only look odd (a quiet NaN made by the parser, infinities).
_ODD = [
    struct.unpack("<d", struct.pack("<Q", 0x7FF8000000000001))[0],
    struct.unpack("<d", struct.pack("<Q", 0xFFF8000000000000))[0],
    -0.0,
    math.nan,
    math.inf,
    -math.inf,
    0.0,
]


def _bits(v: float | int) -> object:
    return struct.pack("<d", v) if isinstance(v, float) else v


def exact(family: MetricFamily) -> object:
    """The family with every float as its bits (NaN equals itself, -0 != 0)."""
    return (
        family.name,
        family.type,
        family.help,
        [
            (
                m.labels,
                _bits(m.value),
                m.sample_count,
                _bits(m.sample_sum),
                [(_bits(a), _bits(b)) for a, b in m.quantiles],
                [(_bits(a), _bits(b)) for a, b in m.buckets],
                m.timestamp_ms,
            )
            for m in family.metrics
        ],
    )


@st.composite
def stored_families(draw: st.DrawFn) -> MetricFamily:
    """A family as the store holds it: label pairs sorted by name, one metric
    per label set, in any order; sometimes with an odd value."""
    mtype: MetricType = draw(
        st.sampled_from(["counter", "gauge", "untyped", "summary", "histogram"])
    )
    metrics = []
    seen = set()
    for m in draw(metrics_of(mtype)):
        labels = tuple(sorted(m.labels))
        if labels in seen:
            continue
        seen.add(labels)
        if mtype in ("counter", "gauge", "untyped") and draw(st.booleans()):
            m = m._replace(value=draw(st.sampled_from(_ODD)))
        elif mtype == "summary" and m.quantiles and draw(st.booleans()):
            m = m._replace(quantiles=((0.5, draw(st.sampled_from(_ODD))),))
        elif mtype == "histogram" and draw(st.booleans()):
            m = m._replace(sample_count=draw(st.sampled_from([2**53, 2**64 - 1, 3])))
        metrics.append(m._replace(labels=labels))
    help_ = draw(st.none() | st.text(max_size=5))
    return MetricFamily(draw(metric_names), mtype, help_, tuple(draw(st.permutations(metrics))))


def expected_lines(family: MetricFamily) -> tuple[bytes, str, str]:
    ordered = sorted(family.metrics, key=metric_sort_key)
    text = b"".join(render_metric(family.name, family.type, m) for m in ordered)
    return text, metric_sort_key(ordered[0]), metric_sort_key(ordered[-1])


@settings(max_examples=400)
@given(stored_families())
def test_a_stored_family_gives_back_what_it_was_made_from(family: MetricFamily) -> None:
    stored = StoredFamily(family, 12.5)
    text, first, last = expected_lines(family)
    assert (stored.text, stored.first_key, stored.last_key) == (text, first, last)
    samples, count = stored.samples, stored.metric_count
    entries = stored.entries()
    assert b"".join(lines for _, lines in entries) == text
    assert [key for key, _ in entries] == sorted(metric_sort_key(m) for m in family.metrics)
    compacted = stored.compact()
    assert stored.entries() == entries
    assert stored.compacted == compacted
    assert exact(stored.family) == exact(family)
    assert (stored.samples, stored.metric_count, stored.text) == (samples, count, text)
    if family.type in ("counter", "gauge", "untyped"):
        assert _bits(stored.first_value()) == _bits(family.metrics[0].value)
    if compacted:
        # As the codec stores it: the lines and the order of the pushed metrics.
        again = StoredFamily.from_text(
            family.name, family.type, family.help, 12.5, stored.text, stored.order
        )
        assert exact(again.family) == exact(family)
        assert (again.first_key, again.last_key) == (first, last)
        assert (again.samples, again.metric_count) == (samples, count)
        assert again.entries() == entries


def test_what_the_lines_cannot_say_keeps_its_objects() -> None:
    labels = (("job", "j"),)
    payload_nan = struct.unpack("<d", struct.pack("<Q", 0x7FF8000000000001))[0]
    for family in [
        MetricFamily("g", "gauge", None, (Metric(labels, -0.0),)),
        MetricFamily("g", "gauge", None, (Metric(labels, payload_nan),)),
        MetricFamily(
            "h", "histogram", None, (Metric(labels, sample_count=1, buckets=((1.0, 1),)),)
        ),
        MetricFamily("s", "summary", None, (Metric(labels, sample_count=2**60),)),
        MetricFamily("g", "gauge", None, ()),
    ]:
        stored = StoredFamily(family, 1.0)
        assert not stored.compact(), family
        assert stored.family is family
    plain = MetricFamily("g", "gauge", None, (Metric(labels, 1.5), Metric((("job", "a"),), 2.0)))
    stored = StoredFamily(plain, 1.0)
    assert stored.compact() and stored.compacted
    assert stored.family == plain  # in the pushed order, not the exposition order
    assert stored.order == (1, 0)


@settings(max_examples=300)
@given(stored_families(), st.data())
def test_same_series_by_lines_agrees_with_labels(family: MetricFamily, data: st.DataObject) -> None:
    """A re-push compared with a compacted family: the lines say "same" only
    when the labels do, and always for new values of the very same series."""
    old = StoredFamily(family, 1.0)
    old.text  # noqa: B018
    old.compact()
    revalued = tuple(
        m._replace(value=m.value + 1) if family.type in ("counter", "gauge", "untyped") else m
        for m in family.metrics
    )
    other = data.draw(st.sampled_from(["same", "shuffled", "fewer"]))
    if other == "shuffled":
        revalued = tuple(data.draw(st.permutations(revalued)))
    elif other == "fewer":
        revalued = revalued[1:]
    new_family = MetricFamily(family.name, family.type, family.help, revalued)
    new = StoredFamily(new_family, 2.0)
    by_labels = [m.labels for m in family.metrics] == [m.labels for m in revalued] and bool(
        revalued
    )
    result = old.same_series(new)
    if other == "same" and revalued:
        assert result
    assert result <= by_labels
    # Whatever the answer, the new family's lines and keys are right.
    if revalued:
        assert (new.text, new.first_key, new.last_key) == expected_lines(new_family)


@settings(max_examples=200)
@given(stored_families(), st.booleans())
def test_families_read_back_as_lines_compare_by_their_lines(
    family: MetricFamily, same: bool
) -> None:
    old = StoredFamily(family, 1.0)
    old.compact()
    changed = family.metrics if same else family.metrics[1:]
    pushed = StoredFamily(MetricFamily(family.name, family.type, family.help, changed), 2.0)
    if not pushed.compact():
        return
    new = StoredFamily.from_text(
        family.name, family.type, family.help, 2.0, pushed.text, pushed.order
    )
    assert old.same_series(new) == (same and old.compacted)
    if same and old.compacted:
        assert (new.first_key, new.last_key) == (old.first_key, old.last_key)
