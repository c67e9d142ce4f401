"""Text format 0.0.4: parser rules and messages (spec 4.4, B.1 18-24, checklist
24-29) and the renderer (spec 5.4).

Every error message and every accepted body below was replayed against the
Pushgateway 1.5.1 binary (PUT to a group, then ``/api/v1/metrics`` and
``/metrics``); the expectations are its answers.
"""

from __future__ import annotations

import math
import time

import pytest

from pushgate.core.errors import ParseError
from pushgate.core.model import Metric, MetricFamily
from pushgate.core.textformat import (
    metric_sort_key,
    parse_text,
    render_family_header,
    render_metric,
    render_text,
)

INF = math.inf

# (body, message after "text format parsing error in line N: " with N first)
ERRORS: list[tuple[bytes, int, str]] = [
    # every line must end with a newline (checklist 24)
    (b"m 1", 1, "unexpected end of input stream"),
    (b"m 1\nm 2", 2, "unexpected end of input stream"),
    (b"# EOF", 1, "unexpected end of input stream"),
    (b"#", 1, "unexpected end of input stream"),
    (b"# TYPE", 1, "unexpected end of input stream"),
    (b"# HELP m x", 1, "unexpected end of input stream"),
    (b'm{a="1', 1, "unexpected end of input stream"),
    (b"m 1 2", 1, "unexpected end of input stream"),
    (b"m 1 x", 1, "unexpected end of input stream"),
    (b"m", 1, "unexpected end of input stream"),
    # ... but an error found before the end wins
    (b"m x y", 1, 'expected float as value, got "x"'),
    (b"1", 1, "invalid metric name"),
    (b"m{a=b", 1, "expected '\"' at start of label value, found 'b'"),
    # CR is not whitespace (checklist 25)
    (b"mcrlf 1\r\n", 1, 'expected float as value, got "1\\r"'),
    (b"m 1\n\r\n", 2, "invalid metric name"),
    # metric names
    (b"m.x 1\n", 1, 'expected float as value, got ".x"'),
    (b"1m 1\n", 1, "invalid metric name"),
    (b'{a="b"} 1\n', 1, "invalid metric name"),
    (b"\xc3\xa9 1\n", 1, "invalid metric name"),
    # values (checklist 28, B.1 21)
    (b"m 0x1p3\n", 1, 'expected float as value, got "0x1p3"'),
    (b"m 1_000\n", 1, 'expected float as value, got "1_000"'),
    (b"m 0x10\n", 1, 'expected float as value, got "0x10"'),
    (b"m +NaN\n", 1, 'expected float as value, got "+NaN"'),
    (b"m -nan\n", 1, 'expected float as value, got "-nan"'),
    (b"m infin\n", 1, 'expected float as value, got "infin"'),
    (b"m 1e309\n", 1, 'expected float as value, got "1e309"'),
    (b'm{a="1"} 1e309\n', 1, 'expected float as value, got "1e309"'),
    (b"m 1e\n", 1, 'expected float as value, got "1e"'),
    (b"m .\n", 1, 'expected float as value, got "."'),
    (b"m +-1\n", 1, 'expected float as value, got "+-1"'),
    (b"m\n", 1, 'expected float as value, got ""'),
    (b"m \n", 1, 'expected float as value, got ""'),
    (b'm{a="1"}\n', 1, 'expected float as value, got ""'),
    (b'm{a="x"}} 1\n', 1, 'expected float as value, got "}"'),
    (b"m 1\xff\n", 1, 'expected float as value, got "1\\xff"'),
    (b"m \xf0\x9f\x98\x80\n", 1, 'expected float as value, got "\U0001f600"'),
    # timestamps
    (b"m 1 \n", 1, 'expected integer as timestamp, got ""'),
    (b"m 1 1.5\n", 1, 'expected integer as timestamp, got "1.5"'),
    (b"m 1 x\n", 1, 'expected integer as timestamp, got "x"'),
    (b"m 1 9223372036854775808\n", 1, 'expected integer as timestamp, got "9223372036854775808"'),
    (b"m 1 1_0\n", 1, 'expected integer as timestamp, got "1_0"'),
    (b"m 1 2\\\n", 1, 'expected integer as timestamp, got "2\\\\"'),
    # OpenMetrics exemplars (spec 4.5)
    (b'm 1 # {a="b"} 1\n', 1, 'expected integer as timestamp, got "#"'),
    (b"m 1 2 3\n", 1, 'spurious string after timestamp: " 3"'),
    (b"m 1 2 \n", 1, 'spurious string after timestamp: " "'),
    (b"m 1 1\t\n", 1, 'spurious string after timestamp: "\\t"'),
    # backslashes vanish from the rest of the line (Go's readTokenUntilNewline)
    (b"m 1 2 \\x\n", 1, 'spurious string after timestamp: " x"'),
    # labels (checklist 27)
    (b"m{a=b} 1\n", 1, "expected '\"' at start of label value, found 'b'"),
    (b'mld{a="1",a="2"} 1\n', 1, 'duplicate label names for metric "mld"'),
    (b'm{a="\xff"} 1\n', 1, 'invalid label value "\\xff"'),
    (b'm{a="x\xffy\xc3"} 1\n', 1, 'invalid label value "x\\xffy\\xc3"'),
    (b'm{__name__="x"} 1\n', 1, 'label name "__name__" is reserved'),
    (b'm{a="1",__name__="x"} 1\n', 1, 'label name "__name__" is reserved'),
    (b"m{__name__ x} 1\n", 1, 'label name "__name__" is reserved'),
    (b'm{a="1",a x} 1\n', 1, "expected '=' after label name, found 'x'"),
    (b'm{a-b="1"} 1\n', 1, "expected '=' after label name, found '-'"),
    (b"m{a\n", 1, "expected '=' after label name, found '\\n'"),
    (b'm{1a="x"} 1\n', 1, 'invalid label name for metric "m"'),
    (b"m{,} 1\n", 1, 'invalid label name for metric "m"'),
    (b'm{a="1",,} 1\n', 1, 'invalid label name for metric "m"'),
    (b'm{a="1" b="2"} 1\n', 1, 'unexpected end of label value "1"'),
    (b'm{a="x"x} 1\n', 1, 'unexpected end of label value "x"'),
    (b'm{a="\\t"} 1\n', 1, "invalid escape sequence '\\t'"),
    (b'm{a="x\\\ny"} 1\n', 1, "invalid escape sequence '\\\n'"),
    (b'm{a="x\ny"} 1\n', 1, 'label value "x" contains unescaped new-line'),
    # the byte after '=' is quoted as a rune: 0xff prints as 'ÿ', 0xc3 as 'Ã'
    (b"m{a=\xff} 1\n", 1, "expected '\"' at start of label value, found '\u00ff'"),
    (b"m{a=\xc3\xa9} 1\n", 1, "expected '\"' at start of label value, found '\u00c3'"),
    (b"m{a=\x01} 1\n", 1, "expected '\"' at start of label value, found '\\x01'"),
    (b"m{a=\xa0} 1\n", 1, "expected '\"' at start of label value, found '\\u00a0'"),
    (b"m{a=\xc2\xa0} 1\n", 1, "expected '\"' at start of label value, found '\u00c2'"),
    (b"m{a='} 1\n", 1, "expected '\"' at start of label value, found '\\''"),
    (b"m{a=\\} 1\n", 1, "expected '\"' at start of label value, found '\\\\'"),
    (b'm{a="\\\xc3\xa9"} 1\n', 1, "invalid escape sequence '\\\u00c3'"),
    # HELP (checklist 29, B.1 20)
    (b"# HELP m \\t\nm 1\n", 1, "invalid escape sequence '\\t'"),
    (b'# HELP m a\\"b\nm 1\n', 1, "invalid escape sequence '\\\"'"),
    (b"# HELP m a\\\nm 1\n", 1, "invalid escape sequence '\\\n'"),
    (b"# HELP m x\n# HELP m y\n", 2, 'second HELP line for metric name "m"'),
    (b"# HELP m x\n# HELP m y\\q\n", 2, 'second HELP line for metric name "m"'),
    (b"# HELP m{ x\n", 1, "invalid metric name in comment"),
    (b"# TYPE m{ gauge\n", 1, "invalid metric name in comment"),
    (b"# HELP 1m x\n", 1, "invalid metric name in comment"),
    (b"# TYPE 1 gauge\n", 1, "invalid metric name in comment"),
    # TYPE (checklist 26, B.1 19)
    (b"# TYPE m foo\n", 1, 'unknown metric type "foo"'),
    (b"# TYPE m gaugehistogram\n", 1, 'unknown metric type "gaugehistogram"'),
    (b"# TYPE m info\n", 1, 'unknown metric type "info"'),
    (b"# TYPE m gauge \nm 1\n", 1, 'unknown metric type "gauge "'),
    (b"# TYPE m gauge extra\n", 1, 'unknown metric type "gauge extra"'),
    (b"# TYPE m histogram\t\n", 1, 'unknown metric type "histogram\\t"'),
    (b"# TYPE m \\\\\nm 1\n", 1, 'unknown metric type ""'),
    (b"# TYPE m gauge\xff\n", 1, 'unknown metric type "gauge\\xff"'),
    (
        b"m 1\n# TYPE m gauge\n",
        2,
        'second TYPE line for metric name "m", or TYPE reported after samples',
    ),
    (
        b"# TYPE m gauge\n# TYPE m gauge\nm 1\n",
        2,
        'second TYPE line for metric name "m", or TYPE reported after samples',
    ),
    (
        b"# TYPE m gauge\n# TYPE m Counter\n",
        2,
        'second TYPE line for metric name "m", or TYPE reported after samples',
    ),
    # the suffix lookup applies to TYPE lines: bar_count is the summary bar
    (
        b"# TYPE bar summary\nbar_count 1\n# TYPE bar_count gauge\n",
        3,
        'second TYPE line for metric name "bar", or TYPE reported after samples',
    ),
    (
        b"# TYPE bar summary\n# TYPE bar_sum gauge\n",
        2,
        'second TYPE line for metric name "bar", or TYPE reported after samples',
    ),
    (
        b"# TYPE h histogram\n# TYPE h_bucket gauge\n",
        2,
        'second TYPE line for metric name "h", or TYPE reported after samples',
    ),
    (
        b"# TYPE s summary\n# HELP s x\n# HELP s_count y\n",
        3,
        'second HELP line for metric name "s"',
    ),
    # summary/histogram label values must be floats (B.1 23)
    (
        b'# TYPE s summary\ns{quantile="x"} 1\n',
        2,
        "expected float as value for 'quantile' label, got \"x\"",
    ),
    (
        b'# TYPE s summary\ns{quantile="0x1p-3"} 1\n',
        2,
        "expected float as value for 'quantile' label, got \"0x1p-3\"",
    ),
    (
        b'# TYPE h histogram\nh_bucket{le="x"} 1\n',
        2,
        "expected float as value for 'le' label, got \"x\"",
    ),
    (
        b'# TYPE h histogram\nh_bucket{le=" 1"} 1\n',
        2,
        "expected float as value for 'le' label, got \" 1\"",
    ),
    # the first error of a line wins, in the order Go reads it
    (b'm{a="\xff",a="1"} 1\n', 1, 'invalid label value "\\xff"'),
    (b'm{a="1",a="\xff"} 1\n', 1, 'duplicate label names for metric "m"'),
    (
        b'# TYPE s summary\ns{quantile="x"} 1e309\n',
        2,
        "expected float as value for 'quantile' label, got \"x\"",
    ),
    (b'# TYPE s summary\ns{quantile="0.5"} 1e309\n', 2, 'expected float as value, got "1e309"'),
    # the error names the family, which for a suffix is the summary
    (b"# TYPE s summary\ns_count{,} 1\n", 2, 'invalid label name for metric "s"'),
    # line numbers count blank lines and comments
    (b"\n\n# c\n  \nm x\n", 5, 'expected float as value, got "x"'),
    (b"m 1\nm 2\nm{a=b} 3\n", 3, "expected '\"' at start of label value, found 'b'"),
]


@pytest.mark.parametrize(("body", "line", "message"), ERRORS)
def test_parse_errors(body: bytes, line: int, message: str) -> None:
    with pytest.raises(ParseError) as info:
        parse_text(body)
    assert str(info.value) == f"text format parsing error in line {line}: {message}"


def test_parse_error_is_the_one_error_class() -> None:
    with pytest.raises(ParseError):
        parse_text(b"m x\n")


def parsed(body: bytes) -> dict[str, MetricFamily]:
    return {f.name: f for f in parse_text(body)}


def test_checklist_1_untyped_without_help() -> None:
    assert parse_text(b"some_metric 3.14\n") == [
        MetricFamily("some_metric", "untyped", None, (Metric((), 3.14),))
    ]


def test_empty_bodies() -> None:
    assert parse_text(b"") == []
    assert parse_text(b"\n\n  \n\t\n") == []
    # trailing blanks without a newline are the end of input, not an error
    assert parse_text(b"m 1\n  ") == [MetricFamily("m", "untyped", None, (Metric((), 1.0),))]


def test_blanks_and_braces_are_tolerated() -> None:
    # B.1 18: tabs, several spaces, leading blanks, blanks inside braces, a
    # trailing comma and {} are accepted
    bodies = [
        b'm{a="1"} 1\n',
        b'm{a="1",} 1\n',
        b'  m{a="1"} 1\n',
        b'm {a="1"} 1\n',
        b'm{ a = "1" , } 1\n',
        b'm{a="1"}\t\t1\n',
        b'\tm\t{a="1"}  1\n',
        b'm{a="1"}1\n',
    ]
    for body in bodies:
        assert parse_text(body) == [
            MetricFamily("m", "untyped", None, (Metric((("a", "1"),), 1.0),))
        ], body
    assert parse_text(b"m{} 1\n") == parse_text(b"m 1\n")
    assert parse_text(b"m\t1\n") == parse_text(b"m 1\n")


def test_label_pairs_keep_input_order_and_escapes() -> None:
    family = parsed(b'm{z="1",a="x\\\\y\\"q\\"\\nz",m=""} 2\n')["m"]
    assert family.metrics[0].labels == (("z", "1"), ("a", 'x\\y"q"\nz'), ("m", ""))


def test_non_ascii_label_values() -> None:
    family = parsed('m{a="é 😀 \u2028"} 1\n'.encode())["m"]
    assert family.metrics[0].labels == (("a", "é 😀 \u2028"),)


def test_dunder_label_names_other_than_name_pass_the_parser() -> None:
    # B.1 22: the store check rejects them, not the parser
    assert parsed(b'm{__x="1"} 1\n')["m"].metrics[0].labels == (("__x", "1"),)


def test_values_keep_nan_and_infinities() -> None:
    family = parsed(b'm{a="1"} NaN\nm{a="2"} +Inf\nm{a="3"} -inf\nm{a="4"} -0\n')["m"]
    values = [m.value for m in family.metrics]
    assert math.isnan(values[0])
    assert values[1:3] == [INF, -INF]
    assert values[3] == 0.0 and math.copysign(1.0, values[3]) < 0


def test_values_follow_go_parse_float() -> None:
    body = b"a 5.\nb .5\nc +7\nd 1E-3\ne Infinity\nf -infinity\ng nan\nh 1e-400\n"
    values = {f.name: f.metrics[0].value for f in parse_text(body)}
    assert values["a"] == 5.0 and values["b"] == 0.5 and values["c"] == 7.0
    assert values["d"] == 0.001 and values["e"] == INF and values["f"] == -INF
    assert math.isnan(values["g"]) and values["h"] == 0.0


def test_timestamps_are_parsed_for_the_store_to_reject() -> None:
    family = parsed(b'm 1 +5\nm{a="1"} 2 -1234\nm{a="2"} 3 0\n')["m"]
    assert [m.timestamp_ms for m in family.metrics] == [5, -1234, 0]
    assert parsed(b"m 1 9223372036854775807\n")["m"].metrics[0].timestamp_ms == 2**63 - 1
    assert parsed(b"m 1\n")["m"].metrics[0].timestamp_ms is None


def test_comments_are_ignored() -> None:
    # checklist 29: # EOF and other comments are ignored, also "# TYPE m"
    body = b"# EOF\n# UNIT m seconds\n#\n# just text\n# TYPE m\n# HELP m\n# help m x\nm 1\n"
    assert parse_text(body) == [MetricFamily("m", "untyped", None, (Metric((), 1.0),))]


def test_help_forms() -> None:
    # "#HELP" without a space is HELP; escapes \\ and \n; trailing blanks kept;
    # leading blanks skipped
    families = parsed(
        b"#HELP a x y\n# HELP b a\\\\b\\nc\n#  HELP c   two  sp \n# HELP d \\n\n"
        b"a 1\nb 1\nc 1\nd 1\n"
    )
    assert families["a"].help == "x y"
    assert families["b"].help == "a\\b\nc"
    assert families["c"].help == "two  sp "
    assert families["d"].help == "\n"


def test_empty_help_is_no_help() -> None:
    # checklist 29 / B.1 24: "# HELP eh " gives no help, so a later HELP is fine
    assert parsed(b"# HELP eh \neh 1\n")["eh"].help is None
    assert parsed(b"# HELP eh\t\neh 1\n")["eh"].help is None
    assert parsed(b"# HELP eh \n# HELP eh real\neh 1\n")["eh"].help == "real"


def test_help_after_samples_is_fine() -> None:
    assert parsed(b"m 1\n# HELP m x\n")["m"].help == "x"


def test_invalid_utf8_in_help_is_kept_and_rendered_raw() -> None:
    # B.1 22: accepted, and /metrics echoes the bytes
    family = parsed(b"# HELP m a\xffb\nm 1\n")["m"]
    assert render_family_header("m", "untyped", family.help) == (
        b"# HELP m a\xffb\n# TYPE m untyped\n"
    )


def test_type_is_case_insensitive_like_go_toupper() -> None:
    assert parsed(b"# TYPE m GAUGE\nm 1\n")["m"].type == "gauge"
    assert parsed(b"# TYPE m Counter\nm 1\n")["m"].type == "counter"
    # Go's ToUpper maps the long s and the dotless i to ASCII
    long_s, dotless_i, ff_ligature = "\u017f", "\u0131", "\ufb00"
    assert parsed(f"# TYPE s {long_s}ummary\ns_count 1\n".encode())["s"].type == "summary"
    assert parsed(f"# TYPE h h{dotless_i}stogram\nh_count 1\n".encode())["h"].type == "histogram"
    # ... but not a ligature that Python's str.upper() expands to two letters
    with pytest.raises(ParseError, match=f'unknown metric type "{ff_ligature}"'):
        parse_text(f"# TYPE m {ff_ligature}\nm 1\n".encode())


def test_type_token_loses_backslashes_like_go() -> None:
    # Go drops backslashes when reading the TYPE token (observed on 1.5.1)
    assert parsed(b"# TYPE m gau\\ge\nm 1\n")["m"].type == "gauge"
    assert parsed(b"# TYPE m gauge\\\nm 1\n")["m"].type == "gauge"


def test_gauge_histogram_without_samples_is_dropped() -> None:
    # 1.5.1 knows GAUGE_HISTOGRAM; a family without samples is dropped there too
    assert parse_text(b"# TYPE m gauge_histogram\n# TYPE n gauge\nn 1\n") == [
        MetricFamily("n", "gauge", None, (Metric((), 1.0),))
    ]


def test_gauge_histogram_errors_come_in_go_order() -> None:
    with pytest.raises(ParseError, match="line 2: invalid label name"):
        parse_text(b"# TYPE m gauge_histogram\nm{,} 1\n")
    with pytest.raises(ParseError, match='line 2: second TYPE line for metric name "m"'):
        parse_text(b"# TYPE m gauge_histogram\n# TYPE m gauge\n")


def test_gauge_histogram_with_samples_is_rejected() -> None:
    # Deliberate deviation: 1.5.1 stores it and then truncates /metrics (B.2).
    with pytest.raises(ParseError) as info:
        parse_text(b"m 1\n# TYPE g GAUGE_HISTOGRAM\ng 1\n")
    assert str(info.value) == (
        "text format parsing error in line 2: "
        'unsupported metric type "gauge_histogram" for metric name "g"'
    )


def test_samples_need_not_be_contiguous() -> None:
    family = parsed(b'nc{a="1"} 1\nother 2\nnc{a="2"} 3\n')["nc"]
    assert [m.labels for m in family.metrics] == [(("a", "1"),), (("a", "2"),)]


def test_duplicate_series_are_kept_for_the_store_to_reject() -> None:
    family = parsed(b'd{a="1"} 1\nd{a="1"} 2\n')["d"]
    assert [m.value for m in family.metrics] == [1.0, 2.0]


def test_families_keep_order_of_first_appearance_and_empty_ones_are_dropped() -> None:
    body = b"# HELP b x\n# TYPE z gauge\na 1\nb 2\n# TYPE c counter\n"
    assert [f.name for f in parse_text(body)] == ["b", "a"]


def test_summary_grouping() -> None:
    body = (
        b"# HELP s A summary.\n# TYPE s summary\n"
        b's{quantile="0.5"} 4773\n'
        b's{quantile="0.99",x="y"} 1\n'
        b's{quantile="0.99"} 76656\n'
        b"s_sum 1.7560473e+07\n"
        b"s_count 2693\n"
        b's_count{x="y"} 1\n'
        b's_sum{x="y"} 2\n'
    )
    assert parse_text(body) == [
        MetricFamily(
            "s",
            "summary",
            "A summary.",
            (
                Metric(
                    (),
                    sample_count=2693,
                    sample_sum=17560473.0,
                    quantiles=((0.5, 4773.0), (0.99, 76656.0)),
                ),
                Metric((("x", "y"),), sample_count=1, sample_sum=2.0, quantiles=((0.99, 1.0),)),
            ),
        )
    ]


def test_summary_groups_by_label_set_not_order() -> None:
    body = (
        b"# TYPE s summary\n"
        b's{a="1",b="2",quantile="0.5"} 1\n'
        b's_count{b="2",a="1"} 3\n'
        b's{quantile="0.9",b="2",a="1"} 2\n'
    )
    (metric,) = parsed(body)["s"].metrics
    assert metric.labels == (("a", "1"), ("b", "2"))
    assert metric.quantiles == ((0.5, 1.0), (0.9, 2.0))
    assert metric.sample_count == 3


def test_summary_quirks() -> None:
    # B.1 23: plain samples in a summary are dropped (the metric exists);
    # a repeated quantile label is not a duplicate (the last one counts);
    # quantile="NaN" counts as "no quantile"; labels on _sum pick the metric
    body = (
        b"# TYPE s summary\n"
        b"s 1\n"
        b's{x="1",quantile="0.5",quantile="0.9"} 7\n'
        b's{x="2",quantile="NaN"} 8\n'
        b's_sum{x="3",quantile="0.5"} 3\n'
    )
    metrics = parsed(body)["s"].metrics
    assert [m.labels for m in metrics] == [(), (("x", "1"),), (("x", "2"),), (("x", "3"),)]
    assert metrics[0] == Metric(())
    assert metrics[1].quantiles == ((0.9, 7.0),)
    assert metrics[2].quantiles == ()
    assert metrics[3].sample_sum == 3.0 and metrics[3].quantiles == ()


def test_histogram_grouping_and_quirks() -> None:
    body = (
        b"# TYPE h histogram\n"
        b'h_bucket{le="0.05"} 24054\n'
        b'h_bucket{le="1000000"} 33444\n'
        b'h{le="2"} 5\n'  # the plain name with le is a bucket too
        b"h_bucket 9\n"  # no le: dropped
        b'h_bucket{le="1",le="3"} 6\n'  # repeated le: the last one counts
        b"h_sum 53423\n"
        b"h_count 144320\n"
        b'h_bucket{le2="x",le="1"} 1\n'  # another label set: another metric
    )
    assert parsed(body)["h"].metrics == (
        Metric(
            (),
            sample_count=144320,
            sample_sum=53423.0,
            buckets=((0.05, 24054), (1e6, 33444), (2.0, 5), (3.0, 6)),
        ),
        Metric((("le2", "x"),), buckets=((1.0, 1),)),
    )


def test_histogram_without_samples_of_its_own() -> None:
    # B.1 23: "h 1" alone gives an empty histogram
    assert parsed(b"# TYPE h histogram\nh 1\n")["h"].metrics == (Metric(()),)


def test_suffixes_of_non_aggregates_are_families_of_their_own() -> None:
    body = b"# TYPE x gauge\nx 1\nx_count 2\nx_sum 3\nx_bucket 4\n# TYPE s summary\ns_bucket 5\n"
    families = parsed(body)
    assert [f.name for f in parse_text(body)] == ["x", "x_count", "x_sum", "x_bucket", "s_bucket"]
    assert families["x_count"].type == "untyped"
    assert families["s_bucket"].metrics == (Metric((), 5.0),)


def test_suffix_lookup_only_for_longer_names() -> None:
    # "_count" itself is not a count (Go requires a non-empty base)
    body = b"# TYPE _ summary\n_count 1\n"
    assert [f.name for f in parse_text(body)] == ["_count"]


def test_help_through_suffix_lookup() -> None:
    families = parsed(b"# TYPE s summary\n# HELP s_count foo\ns_count 1\n")
    assert families["s"].help == "foo"
    assert families["s"].metrics == (Metric((), sample_count=1),)


def test_family_created_by_help_before_type_keeps_its_suffix_names() -> None:
    # "s_count" existed (via HELP) before s became a summary, so it stays its own
    body = b"# HELP s_count x\n# TYPE s summary\ns_count 1\ns 2\n"
    families = parsed(body)
    assert families["s_count"].type == "untyped"
    assert families["s_count"].help == "x"
    assert families["s"].metrics == (Metric(()),)


def test_quantile_and_le_are_plain_labels_elsewhere() -> None:
    family = parsed(b'u{quantile="0.5",le="x"} 3\n')["u"]
    assert family.metrics == (Metric((("quantile", "0.5"), ("le", "x")), 3.0),)


@pytest.mark.parametrize(
    ("literal", "count"),
    [
        ("7", 7),
        ("2.9", 2),
        ("1234567", 1234567),
        ("1e19", 10**19),
        # Go's uint64(float64) on amd64, observed on 1.5.1
        ("-1", 2**64 - 1),
        ("-1.5", 2**64 - 1),
        ("NaN", 2**63),
        ("+Inf", 2**63),
        ("-Inf", 2**63),
        ("1e20", 2**63),
        ("1.9e19", 2**63),
        ("-1e300", 2**63),
    ],
)
def test_counts_convert_like_go_uint64(literal: str, count: int) -> None:
    body = (
        f'# TYPE s summary\ns_count {literal}\n# TYPE h histogram\nh_bucket{{le="1"}} {literal}\n'
    )
    families = parsed(body.encode())
    assert families["s"].metrics[0].sample_count == count
    assert families["h"].metrics[0].buckets == ((1.0, count),)


def test_summary_timestamp_is_set_on_the_grouped_metric() -> None:
    body = b'# TYPE s summary\ns{quantile="0.5"} 1\ns_count 2 1234\n'
    assert parsed(body)["s"].metrics[0].timestamp_ms == 1234


def test_long_timestamps_follow_go_parse_int() -> None:
    # any number of leading zeros is fine; beyond int64 is an error (and
    # Python's int() digit limit must not leak out as a ValueError)
    assert parsed(b"m 1 -" + b"0" * 5000 + b"7\n")["m"].metrics[0].timestamp_ms == -7
    with pytest.raises(ParseError, match="expected integer as timestamp"):
        parse_text(b"m 1 " + b"1" * 5000 + b"\n")


@pytest.mark.parametrize(
    "body",
    [
        b"m " + b"1" * 300_000 + b"x\n",
        b"m 1e" + b"1" * 300_000 + b"x\n",
        b"m 1." + b"1" * 300_000 + b"x\n",
        b'm{a="' + b"x" * 300_000 + b"} 1\n",
        b"m{" + b'a="b",' * 50_000 + b"x} 1\n",
        b"# HELP m " + b"x" * 300_000 + b"\\\n",
        b"m" * 300_000 + b"\n",
    ],
)
def test_hostile_lines_take_linear_time(body: bytes) -> None:
    # A regular expression with competing quantifiers took minutes here; linear
    # parsing takes well under a second even on a loaded machine.
    started = time.process_time()
    with pytest.raises(ParseError):
        parse_text(body)
    assert time.process_time() - started < 3.0


def test_fast_and_slow_paths_agree() -> None:
    # the same content written so that every line takes the slow path
    fast = (
        b"# HELP m Help.\n# TYPE m counter\n"
        b'm{a="1",b="2"} 1.5\nm 7\n'
        b"# TYPE s summary\n"
        b's{a="x",quantile="0.5"} 1\ns_sum{a="x"} 2\ns_count{a="x"} 3\n'
    )
    slow = (
        b"#  HELP  m  Help.\n#\tTYPE m Counter\n"
        b'm { a = "1" , b = "2" , }  1.5\n m\t7\n'
        b"# TYPE s SUMMARY\n"
        b's{a="x",quantile="0.5"}\t1\ns_sum{a="x"}  2\n s_count{a="x"} 3\n'
    )
    assert parse_text(fast) == parse_text(slow)


# --------------------------------------------------------------------------------------
# Rendering (spec 5.4), golden strings observed on 1.5.1's /metrics
# --------------------------------------------------------------------------------------


def test_render_family_header() -> None:
    assert render_family_header("m", "gauge", None) == b"# TYPE m gauge\n"
    assert render_family_header("esc", "gauge", "Help with \\ backslash and \n newline") == (
        b"# HELP esc Help with \\\\ backslash and \\n newline\n# TYPE esc gauge\n"
    )
    # an explicitly empty help (protobuf) still gets a HELP line, as in Go
    assert render_family_header("m", "untyped", "") == b"# HELP m \n# TYPE m untyped\n"
    assert (
        render_family_header("m", "counter", 'q"é') == '# HELP m q"é\n# TYPE m counter\n'.encode()
    )


def test_render_plain_metrics() -> None:
    labels = (("instance", ""), ("job", "j"))
    assert render_metric("some_metric", "untyped", Metric(labels, 3.14)) == (
        b'some_metric{instance="",job="j"} 3.14\n'
    )
    assert render_metric("m", "counter", Metric((), 1e6)) == b"m 1e+06\n"
    assert render_metric("m", "gauge", Metric((), -0.0)) == b"m 0\n"
    assert render_metric("m", "gauge", Metric((), math.nan)) == b"m NaN\n"
    assert render_metric("m", "gauge", Metric((), -INF)) == b"m -Inf\n"
    assert render_metric("m", "gauge", Metric((), 1795980076.432929)) == (
        b"m 1.795980076432929e+09\n"
    )


def test_render_escapes_label_values_in_given_order() -> None:
    metric = Metric((("z", "1"), ("path", 'C:\\dir"q"\nx'), ("e", "é")), 1.0)
    assert render_metric("esc", "gauge", metric) == (
        'esc{z="1",path="C:\\\\dir\\"q\\"\\nx",e="é"} 1\n'.encode()
    )


def test_render_never_writes_timestamps() -> None:
    assert render_metric("m", "gauge", Metric((), 1.0, timestamp_ms=5)) == b"m 1\n"


def test_render_summary() -> None:
    metric = Metric(
        (("instance", "i1"), ("job", "sh")),
        sample_count=2693,
        sample_sum=17560473.0,
        quantiles=((0.5, 4773.0), (0.99, 76656.0), (1e-3, math.nan)),
    )
    assert render_metric("rpc_duration_seconds", "summary", metric) == (
        b'rpc_duration_seconds{instance="i1",job="sh",quantile="0.5"} 4773\n'
        b'rpc_duration_seconds{instance="i1",job="sh",quantile="0.99"} 76656\n'
        b'rpc_duration_seconds{instance="i1",job="sh",quantile="0.001"} NaN\n'
        b'rpc_duration_seconds_sum{instance="i1",job="sh"} 1.7560473e+07\n'
        b'rpc_duration_seconds_count{instance="i1",job="sh"} 2693\n'
    )


def test_render_summary_without_labels_or_quantiles() -> None:
    assert render_metric("s", "summary", Metric((), sample_count=0)) == b"s_sum 0\ns_count 0\n"
    metric = Metric((), quantiles=((0.5, 1.0),), sample_count=1, sample_sum=-0.0)
    assert render_metric("s", "summary", metric) == (b's{quantile="0.5"} 1\ns_sum 0\ns_count 1\n')


def test_render_histogram_synthesises_inf_bucket() -> None:
    metric = Metric(
        (("instance", ""), ("job", "hist"), ("le2", "x")),
        sample_count=144320,
        sample_sum=53423.0,
        buckets=((0.05, 24054), (1.0, 33444), (1e6, 100000)),
    )
    assert render_metric("hl", "histogram", metric) == (
        b'hl_bucket{instance="",job="hist",le2="x",le="0.05"} 24054\n'
        b'hl_bucket{instance="",job="hist",le2="x",le="1"} 33444\n'
        b'hl_bucket{instance="",job="hist",le2="x",le="1e+06"} 100000\n'
        b'hl_bucket{instance="",job="hist",le2="x",le="+Inf"} 144320\n'
        b'hl_sum{instance="",job="hist",le2="x"} 53423\n'
        b'hl_count{instance="",job="hist",le2="x"} 144320\n'
    )


def test_render_histogram_keeps_pushed_inf_bucket() -> None:
    metric = Metric((), sample_count=5, sample_sum=0.1, buckets=((0.5, 1), (INF, 4)))
    assert render_metric("h", "histogram", metric) == (
        b'h_bucket{le="0.5"} 1\nh_bucket{le="+Inf"} 4\nh_sum 0.1\nh_count 5\n'
    )
    assert render_metric("h", "histogram", Metric(())) == (
        b'h_bucket{le="+Inf"} 0\nh_sum 0\nh_count 0\n'
    )


def test_render_counts_like_1_5_1() -> None:
    # 1.5.1 writes uint64 counts through the float formatter (observed:
    # h_count{...} 1.2345678e+07); the spec's "plain integers" is not what the
    # binary does
    metric = Metric((), sample_count=12345678, sample_sum=1e6, buckets=((1e6, 1234567),))
    assert render_metric("h", "histogram", metric) == (
        b'h_bucket{le="1e+06"} 1.234567e+06\n'
        b'h_bucket{le="+Inf"} 1.2345678e+07\n'
        b"h_sum 1e+06\n"
        b"h_count 1.2345678e+07\n"
    )
    summary = Metric((), sample_count=2**64 - 1)
    assert render_metric("s", "summary", summary) == (b"s_sum 0\ns_count 1.8446744073709552e+19\n")


def test_le_and_quantile_are_rerendered() -> None:
    body = (
        b"# TYPE h histogram\n"
        b'h_bucket{le="1000000"} 1\nh_bucket{le="1.0"} 1\nh_bucket{le="1e3"} 1\n'
        b'h_bucket{le="+inf"} 1\nh_count 1\n'
        b"# TYPE s summary\n"
        b's{quantile="0.50"} 1\ns{quantile="1e-1"} 2\n'
    )
    assert render_text(parse_text(body)) == (
        b"# TYPE h histogram\n"
        b'h_bucket{le="1e+06"} 1\nh_bucket{le="1"} 1\nh_bucket{le="1000"} 1\n'
        b'h_bucket{le="+Inf"} 1\nh_sum 0\nh_count 1\n'
        b"# TYPE s summary\n"
        b's{quantile="0.5"} 1\ns{quantile="0.1"} 2\ns_sum 0\ns_count 0\n'
    )


def test_render_text_keeps_order_and_skips_empty_families() -> None:
    families = [
        MetricFamily("z", "gauge", "Z.", (Metric((("a", "2"),), 2.0), Metric((("a", "1"),), 1.0))),
        MetricFamily("empty", "counter", "E.", ()),
        MetricFamily("a", "untyped", None, (Metric((), 1.0),)),
    ]
    assert render_text(families) == (
        b'# HELP z Z.\n# TYPE z gauge\nz{a="2"} 2\nz{a="1"} 1\n# TYPE a untyped\na 1\n'
    )
    assert render_text([]) == b""


def test_render_text_equals_header_plus_metrics() -> None:
    family = MetricFamily(
        "s", "summary", "h", (Metric((("a", "1"),), quantiles=((0.5, 1.0),), sample_count=3),)
    )
    assert render_text([family]) == render_family_header("s", "summary", "h") + render_metric(
        "s", "summary", family.metrics[0]
    )


# --------------------------------------------------------------------------------------
# Metric order (spec 5.3)
# --------------------------------------------------------------------------------------


def test_metric_sort_key_matches_metric_sorter() -> None:
    job = ("job", "hist")
    inst = ("instance", "")
    metrics = [
        Metric((inst, job, ("le2", "x"))),
        Metric((inst, job)),
        Metric((("a", "2"), inst, job)),
        Metric((("a", "10"), inst, job)),
        Metric(()),
        Metric((("b", "1"),)),
        Metric((("a", "1"),)),
    ]
    ordered = sorted(metrics, key=metric_sort_key)
    assert [m.labels for m in ordered] == [
        (),
        (("a", "1"),),  # same values: label names break the tie
        (("b", "1"),),
        (inst, job),
        (inst, job, ("le2", "x")),  # values ("", "hist", "x") sort first
        (("a", "10"), inst, job),  # values compare as strings, position by position
        (("a", "2"), inst, job),
    ]


def test_metric_sort_key_is_bytewise_for_utf8() -> None:
    # Go compares bytes; for valid UTF-8 that is code point order
    low = Metric((("a", "\uffff"),))
    high = Metric((("a", "\U00010000"),))
    assert metric_sort_key(low) < metric_sort_key(high)
    assert "\uffff".encode() < "\U00010000".encode()
