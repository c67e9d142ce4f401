"""The body-shape cache must change nothing but speed.

Every property parses a body through a :class:`ShapeCache` that has learnt
the shape of an earlier body, and compares with the full parser: the same
families, or the same error.
"""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pushgate.core.errors import ParseError
from pushgate.core.model import MetricFamily
from pushgate.core.textformat import parse_text, parse_text_in_full, render_text
from pushgate.core.textshape import _LAST_TOKEN, _VALUE, ShapeCache
from tests.unit.core.test_textformat_properties import family_lists, with_inf_bucket

_TOKENS = [
    b"0",
    b"1",
    b"-2.5",
    b"1e3",
    b"1.",
    b".5",
    b"+7",
    b"1e999",
    b"-1e999",
    b"NaN",
    b"nan",
    b"+NaN",
    b"Inf",
    b"-inf",
    b"+Infinity",
    b"0x10",
    b"1_0",
    b"abc",
    b"1\r",
    b"1e",
    b"--1",
    b"9223372036854775808",
    b"-1",
    b"1.5e-400",
]


def _outcome(body: bytes) -> object:
    try:
        return ("ok", repr(parse_text_in_full(body)))
    except ParseError as e:
        return ("error", str(e))


def _cached_outcome(cache: ShapeCache, body: bytes) -> object:
    try:
        return ("ok", repr(cache.parse(body, parse_text_in_full)))
    except ParseError as e:
        return ("error", str(e))


def _with_tokens(body: bytes, replace: dict[int, bytes]) -> bytes:
    parts = _LAST_TOKEN.split(body)
    for index, token in replace.items():
        k = 2 * (index % max(1, len(parts) // 2)) + 1
        if k < len(parts):
            parts[k] = token
    out = [parts[0]]
    for k in range(1, len(parts), 2):
        out.append(b" " + parts[k] + parts[k + 1])
    return b"".join(out)


def _learnt(body: bytes) -> ShapeCache:
    cache = ShapeCache()
    for _ in range(2):  # a shape is built on its second sighting
        cache.parse(body, parse_text_in_full)
    return cache


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    family_lists(),
    st.dictionaries(st.integers(min_value=0, max_value=40), st.sampled_from(_TOKENS)),
)
def test_a_learnt_shape_parses_like_the_full_parser(
    families: list[MetricFamily], replace: dict[int, bytes]
) -> None:
    body = render_text(with_inf_bucket(families))
    cache = _learnt(body)
    other = _with_tokens(body, replace)
    assert _cached_outcome(cache, other) == _outcome(other)
    # and the learnt body itself still parses exactly
    assert _cached_outcome(cache, body) == _outcome(body)


def test_shapes_are_used_for_repeated_bodies() -> None:
    body = (
        b"# HELP jobs_total Jobs.\n# TYPE jobs_total counter\n"
        b'jobs_total{worker="0"} 1\njobs_total{worker="1"} 2\n'
        b"# TYPE latency histogram\n"
        b'latency_bucket{le="0.5"} 3\nlatency_bucket{le="+Inf"} 4\n'
        b"latency_sum 1.5\nlatency_count 4\n"
        b"# TYPE size summary\n"
        b'size{quantile="0.5"} 10\nsize_sum 30\nsize_count 3\n'
    )
    cache = _learnt(body)
    assert cache.hits == 0
    again = body.replace(b"} 2\n", b"} 7.25\n").replace(b"latency_count 4", b"latency_count 9")
    result = cache.parse(again, parse_text_in_full)
    assert cache.hits == 1
    assert repr(result) == repr(parse_text_in_full(again))
    assert result[0].metrics[1].value == 7.25
    assert result[1].metrics[0].sample_count == 9


def test_a_changed_comment_is_not_taken_from_the_shape() -> None:
    body = b"# TYPE x counter\nx 1\n"
    cache = _learnt(body)
    other = b"# TYPE x gauge\nx 1\n"
    assert cache.parse(other, parse_text_in_full)[0].type == "gauge"
    assert cache.hits == 0


def test_errors_in_values_keep_the_full_parsers_message() -> None:
    cache = _learnt(b"x 1\ny 2\n")
    for token, message in [
        (b"1e999", 'expected float as value, got "1e999"'),
        (b"+NaN", 'expected float as value, got "+NaN"'),
        (b"0x10", 'expected float as value, got "0x10"'),
    ]:
        try:
            cache.parse(b"x 1\ny " + token + b"\n", parse_text_in_full)
        except ParseError as e:
            assert str(e) == f"text format parsing error in line 2: {message}"
        else:
            raise AssertionError(f"{token!r} was accepted")


def test_timestamped_bodies_get_no_shape() -> None:
    cache = _learnt(b"x 1 1000\n")
    assert cache.parse(b"x 1 2000\n", parse_text_in_full)[0].metrics[0].timestamp_ms == 2000
    assert cache.hits == 0


def test_the_cache_is_bounded() -> None:
    cache = ShapeCache(max_shapes=4)
    for n in range(20):
        body = f"m{n} 1\n".encode()
        cache.parse(body, parse_text_in_full)
        cache.parse(body, parse_text_in_full)
    assert len(cache._shapes) <= 4
    assert len(cache._seen) <= 4


def test_parse_text_uses_the_cache() -> None:
    body = b"# TYPE shape_probe_total counter\nshape_probe_total 1\n"
    for value in (b"1", b"2", b"3"):
        families = parse_text(body.replace(b" 1\n", b" " + value + b"\n"))
        assert families[0].metrics[0].value == float(value)


# The shape cache checks numeric tokens with a plain character class and lets
# float() reject the malformed ones; that is exact only if, over that
# alphabet, float() accepts precisely the parser's value syntax.
@settings(max_examples=2000)
@given(st.text("0123456789.eE+-", min_size=1, max_size=8))
def test_float_accepts_exactly_the_value_syntax_over_numeric_characters(token: str) -> None:
    try:
        float(token)
        accepted = True
    except ValueError:
        accepted = False
    assert accepted == (re.fullmatch(_VALUE, token.encode()) is not None)
