"""Property tests for the text format and the float formatter (STYLE habit 8).

- parse(render(families)) == families for any valid families;
- the parser raises nothing but ParseError, whatever the bytes;
- format_float round-trips and agrees with an independent reference.
"""

from __future__ import annotations

import itertools
import math
import struct
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from pushgate.core.errors import ParseError
from pushgate.core.floats import format_float, format_float_json, parse_float
from pushgate.core.model import Metric, MetricFamily, MetricType
from pushgate.core.textformat import metric_sort_key, parse_text, render_text


def _metric(*args: Any, **kwargs: Any) -> Metric:
    # A plain callable: st.builds would otherwise also draw Metric's optional
    # fields from their type hints, producing fields the family type ignores.
    return Metric(*args, **kwargs)


# --------------------------------------------------------------------------------------
# Strategies
# --------------------------------------------------------------------------------------

_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_"
_DIGITS = "0123456789"


def _names(first: str, rest: str, max_size: int) -> st.SearchStrategy[str]:
    # cheaper than st.from_regex for the same language
    return st.builds(str.__add__, st.sampled_from(first), st.text(rest, max_size=max_size))


metric_names = _names(_LETTERS + ":", _LETTERS + _DIGITS + ":", 12)
label_names = _names(_LETTERS, _LETTERS + _DIGITS, 8).filter(lambda n: n != "__name__")
# Any text that is valid UTF-8 (no lone surrogates), newlines, quotes and
# backslashes included.
texts = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)
# HELP loses leading blanks and an all-blank HELP is no HELP (Go), so a help
# that survives the round trip starts with something else.
helps = st.none() | texts.filter(lambda h: h != "" and h[0] not in " \t")
values = st.floats(allow_nan=True, allow_infinity=True)
bounds = st.floats(allow_nan=False, allow_infinity=True)
# Counts are written through float64 (as 1.5.1 does), exact up to 2**53.
counts = st.integers(min_value=0, max_value=2**53)


@st.composite
def label_sets(draw: st.DrawFn, reserved: str | None) -> tuple[tuple[str, str], ...]:
    names = draw(st.lists(label_names.filter(lambda n: n != reserved), max_size=4, unique=True))
    return tuple((name, draw(texts)) for name in names)


@st.composite
def metrics_of(draw: st.DrawFn, mtype: MetricType) -> tuple[Metric, ...]:
    if mtype in ("counter", "gauge", "untyped"):
        return tuple(
            draw(st.lists(st.builds(_metric, label_sets(None), values), min_size=1, max_size=4))
        )
    reserved = "quantile" if mtype == "summary" else "le"
    # One metric per label set: lines of equal label sets are one metric.
    labels = draw(
        st.lists(label_sets(reserved), min_size=1, max_size=3, unique_by=lambda ls: frozenset(ls))
    )
    out = []
    for ls in labels:
        count = draw(counts)
        total = draw(values)
        if mtype == "summary":
            quantiles = tuple(draw(st.lists(st.tuples(bounds, values), max_size=3)))
            out.append(Metric(ls, sample_count=count, sample_sum=total, quantiles=quantiles))
        else:
            buckets = tuple(draw(st.lists(st.tuples(bounds, counts), max_size=3)))
            out.append(Metric(ls, sample_count=count, sample_sum=total, buckets=buckets))
    return tuple(out)


def _owns(base: MetricFamily, name: str) -> bool:
    """Whether a line named ``name`` would be read as part of family ``base``."""
    suffixes = ("_count", "_sum", "_bucket") if base.type == "histogram" else ("_count", "_sum")
    return base.type in ("summary", "histogram") and any(
        name == base.name + suffix for suffix in suffixes
    )


@st.composite
def family_lists(draw: st.DrawFn) -> list[MetricFamily]:
    names = draw(st.lists(metric_names, min_size=1, max_size=4, unique=True))
    families = []
    for name in names:
        mtype = draw(st.sampled_from(["counter", "gauge", "untyped", "summary", "histogram"]))
        families.append(MetricFamily(name, mtype, draw(helps), draw(metrics_of(mtype))))
    # A family named like another's _count/_sum/_bucket would be merged into it.
    assume(not any(_owns(a, b.name) for a in families for b in families))
    return families


def with_inf_bucket(families: list[MetricFamily]) -> list[MetricFamily]:
    """What the renderer promises: every histogram ends with a +Inf bucket."""
    out = []
    for family in families:
        if family.type == "histogram":
            metrics = tuple(
                m
                if any(b == math.inf for b, _ in m.buckets)
                else Metric(
                    m.labels,
                    sample_count=m.sample_count,
                    sample_sum=m.sample_sum,
                    buckets=(*m.buckets, (math.inf, m.sample_count)),
                )
                for m in family.metrics
            )
            family = MetricFamily(family.name, family.type, family.help, metrics)
        out.append(family)
    return out


def _float_key(v: float) -> object:
    # NaN != NaN; compare NaN as a marker and keep the sign of zero out of it
    # (the text format writes -0 as 0).
    return "NaN" if math.isnan(v) else v


def comparable(families: list[MetricFamily]) -> list[object]:
    out: list[object] = []
    for f in families:
        out.append(
            (
                f.name,
                f.type,
                f.help,
                [
                    (
                        m.labels,
                        _float_key(m.value),
                        m.sample_count,
                        _float_key(m.sample_sum),
                        [(_float_key(q), _float_key(v)) for q, v in m.quantiles],
                        [(_float_key(b), c) for b, c in m.buckets],
                        m.timestamp_ms,
                    )
                    for m in f.metrics
                ],
            )
        )
    return out


# --------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(family_lists())
def test_parse_inverts_render(families: list[MetricFamily]) -> None:
    rendered = render_text(families)
    assert comparable(parse_text(rendered)) == comparable(with_inf_bucket(families))


@settings(max_examples=100)
@given(family_lists())
def test_render_is_stable_under_reparse(families: list[MetricFamily]) -> None:
    rendered = render_text(families)
    assert render_text(parse_text(rendered)) == rendered


# Fragments that steer random bodies into the deeper states of the parser.
_FRAGMENTS = [
    b"m",
    b"m_count",
    b"m_sum",
    b"m_bucket",
    b"# TYPE m summary\n",
    b"# TYPE m histogram\n",
    b"# TYPE m gauge_histogram\n",
    b"# HELP m x\\n\n",
    b"#",
    b" ",
    b"\t",
    b"\n",
    b"{",
    b"}",
    b"=",
    b",",
    b'"',
    b"\\",
    b'le="1"',
    b'quantile="0.5"',
    b'a="b"',
    b"__name__",
    b"1",
    b"-1e309",
    b"NaN",
    b"+Inf",
    b" 123",
    b"\xff",
    b"\xc3\xa9",
    b"\r",
]


@settings(max_examples=500)
@given(st.binary(max_size=200) | st.lists(st.sampled_from(_FRAGMENTS), max_size=40).map(b"".join))
def test_parser_raises_only_parse_error(body: bytes) -> None:
    try:
        families = parse_text(body)
    except ParseError as error:
        assert str(error).startswith("text format parsing error in line ")
        return
    # and whatever it accepts renders and parses again
    for family in families:
        assert family.metrics
    parse_text(render_text(families))


finite = st.floats(allow_nan=False, allow_infinity=False)


@given(finite)
def test_format_float_round_trips(x: float) -> None:
    assert float(format_float(x)) == x
    assert parse_float(format_float(x)) == x
    assert parse_float(format_float_json(x)) == x
    assert math.copysign(1.0, parse_float(format_float_json(x))) == math.copysign(1.0, x)


def reference_format(x: float) -> str:
    """Shortest 'g' built from Decimal: an independent spelling of spec 5.4."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "+Inf" if x > 0 else "-Inf"
    if x == 0:
        return "0"
    sign, digit_tuple, exp = Decimal(repr(x)).normalize().as_tuple()
    assert isinstance(exp, int)
    digits = "".join(map(str, digit_tuple))
    e = len(digits) - 1 + exp  # exponent of the first digit
    prefix = "-" if sign else ""
    if e < -4 or e >= 6:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{prefix}{mantissa}e{'-' if e < 0 else '+'}{abs(e):02d}"
    plain = f"{Decimal(repr(abs(x))):f}"
    if "." in plain:
        plain = plain.rstrip("0").rstrip(".")
    return prefix + plain


@settings(max_examples=1000)
@given(st.floats() | st.integers(min_value=-(2**64), max_value=2**64).map(float))
def test_format_float_agrees_with_reference(x: float) -> None:
    assert format_float(x) == reference_format(x)


@given(st.integers(min_value=0, max_value=2**64 - 1))
def test_format_float_agrees_with_reference_on_raw_bits(bits: int) -> None:
    x = struct.unpack("<d", struct.pack("<Q", bits))[0]
    assert format_float(x) == reference_format(x)


@given(st.lists(st.builds(_metric, label_sets(None)), max_size=6))
def test_metric_sort_key_orders_by_size_then_values(metrics: list[Metric]) -> None:
    ordered = sorted(metrics, key=metric_sort_key)
    for a, b in itertools.pairwise(ordered):
        assert len(a.labels) <= len(b.labels)
        if len(a.labels) == len(b.labels):
            assert [v for _, v in a.labels] <= [v for _, v in b.labels]


# Values built from characters around the key's separator, so that prefixes,
# NULs and the separator's own characters meet.
_tricky_values = st.text(st.sampled_from("\x00\x01\x02ab"), max_size=4)


@settings(max_examples=500)
@given(
    st.lists(
        st.lists(st.tuples(label_names, _tricky_values), max_size=3, unique_by=lambda p: p[0]).map(
            lambda pairs: tuple(sorted(pairs))
        ),
        min_size=2,
        max_size=6,
    )
)
def test_metric_sort_key_orders_as_the_tuple_of_size_values_and_names(
    label_sets: list[tuple[tuple[str, str], ...]],
) -> None:
    def reference(labels: tuple[tuple[str, str], ...]) -> tuple[object, ...]:
        return (len(labels), tuple(v for _, v in labels), tuple(n for n, _ in labels))

    metrics = [Metric(labels) for labels in label_sets]
    for a, b in itertools.combinations(metrics, 2):
        ka, kb = metric_sort_key(a), metric_sort_key(b)
        ra, rb = reference(a.labels), reference(b.labels)
        assert (ka < kb) == (ra < rb)
        assert (ka == kb) == (ra == rb)


# Label values the fast path can take (no quote, backslash or newline), rich in
# the characters its pair splitting must not confuse.
plain_values = st.text(st.sampled_from("=,{} aé"), max_size=6)


@given(
    st.lists(st.tuples(label_names, plain_values), max_size=4, unique_by=lambda p: p[0]),
    st.booleans(),
)
def test_fast_and_slow_label_parsing_agree(
    pairs: list[tuple[str, str]], trailing_comma: bool
) -> None:
    block = ",".join(f'{name}="{value}"' for name, value in pairs)
    if trailing_comma and pairs:
        block += ","
    fast = parse_text(f"m{{{block}}} 1\n".encode())  # the fast path
    slow = parse_text(f"m {{{block}}}  1\n".encode())  # blanks force the slow path
    assert fast == slow == [MetricFamily("m", "untyped", None, (Metric(tuple(pairs), 1.0),))]
