"""The protobuf formats: delimited push bodies, the debug renderings, format
selection and Accept negotiation (spec 3.6, 4.2, 4.3, 5.5, B.1 items 25 and 28).

Expected error texts and text renderings were recorded from the Debian
Pushgateway 1.5.1 binary (tests/integration/test_protobuf_go.py checks them
against it again when the binary is installed).
"""

from __future__ import annotations

import contextlib
import math
import os
import struct
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pushgate.core.errors import ConsistencyError, ParseError
from pushgate.core.model import Metric, MetricFamily, MetricType
from pushgate.core.protobuf import (
    PROTOBUF_COMPACT_TEXT_CONTENT_TYPE,
    PROTOBUF_DELIMITED_CONTENT_TYPE,
    PROTOBUF_MEDIA_TYPE,
    PROTOBUF_TEXT_CONTENT_TYPE,
    RESPONSE_CONTENT_TYPES,
    TEXT_CONTENT_TYPE,
    is_protobuf_delimited,
    negotiate_exposition,
    parse_delimited,
    render_compact_text,
    render_delimited,
    render_metric_debug,
    render_text_debug,
)


def _metric(*args: Any, **kwargs: Any) -> Metric:
    # A plain callable: st.builds would otherwise also draw Metric's optional
    # fields from their type hints, producing fields the family type ignores.
    return Metric(*args, **kwargs)


# --------------------------------------------------------------------------------------
# A minimal protobuf writer, independent of the code under test, to build the
# bodies the renderer never produces (mismatched value fields, unknown types,
# invalid UTF-8, native histograms).


def varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def field_varint(number: int, value: int) -> bytes:
    return varint(number << 3) + varint(value)


def field_bytes(number: int, payload: bytes | str) -> bytes:
    data = payload.encode() if isinstance(payload, str) else payload
    return varint(number << 3 | 2) + varint(len(data)) + data


def field_double(number: int, value: float) -> bytes:
    return varint(number << 3 | 1) + struct.pack("<d", value)


def label(name: bytes | str, value: bytes | str) -> bytes:
    return field_bytes(1, field_bytes(1, name) + field_bytes(2, value))


def gauge(value: float) -> bytes:
    return field_bytes(2, field_double(1, value))


def counter(value: float) -> bytes:
    return field_bytes(3, field_double(1, value))


def untyped(value: float) -> bytes:
    return field_bytes(5, field_double(1, value))


def family(name: bytes | str, mtype: int | None, *metrics: bytes, help: str | None = None) -> bytes:
    body = field_bytes(1, name)
    if help is not None:
        body += field_bytes(2, help)
    if mtype is not None:
        body += field_varint(3, mtype)
    for metric in metrics:
        body += field_bytes(4, metric)
    return body


def delimited(*messages: bytes) -> bytes:
    return b"".join(varint(len(m)) + m for m in messages)


COUNTER, GAUGE, SUMMARY, UNTYPED, HISTOGRAM, GAUGE_HISTOGRAM = range(6)


def fam(name: str, mtype: MetricType, *metrics: Metric, help: str | None = None) -> MetricFamily:
    return MetricFamily(name, mtype, help, metrics)


EVERY_TYPE = [
    fam("g", "gauge", Metric((("a", "1"), ("b", "")), -2.5), help="a gauge"),
    fam("c", "counter", Metric((), 3.0), Metric((("x", "y"),), 0.0), help=""),
    fam("u", "untyped", Metric((("z", 'é\n"\\'),), 1e100)),
    fam(
        "s",
        "summary",
        Metric((("q", "1"),), sample_count=7, sample_sum=1.5, quantiles=((0.5, 1.0), (0.99, 2.0))),
        Metric((), sample_count=0, sample_sum=0.0),
    ),
    fam(
        "h",
        "histogram",
        Metric((), sample_count=5, sample_sum=9.5, buckets=((0.1, 1), (1e6, 4))),
        Metric((("l", "2"),), sample_count=2**64 - 1, sample_sum=-1.0, buckets=((math.inf, 3),)),
    ),
    fam("empty", "gauge"),
]

# --------------------------------------------------------------------------------------
# Round trips and framing


def test_every_type_round_trips() -> None:
    assert parse_delimited(render_delimited(EVERY_TYPE)) == EVERY_TYPE


def test_timestamps_round_trip_for_the_store_to_reject() -> None:
    families = [fam("t", "gauge", Metric((), 1.0, timestamp_ms=-5), Metric((("a", "b"),), 2.0))]
    assert parse_delimited(render_delimited(families)) == families


def test_empty_body_is_no_families() -> None:
    assert parse_delimited(b"") == []


def test_long_messages_use_multi_byte_length_prefixes() -> None:
    many = [fam("big", "gauge", *(Metric((("i", str(i)),), float(i)) for i in range(500)))]
    body = render_delimited(many)
    assert body[0] >= 0x80  # the length prefix takes more than one byte
    assert parse_delimited(body) == many


def test_histogram_without_inf_bucket_gets_none_added() -> None:
    families = [fam("h", "histogram", Metric((), sample_count=3, buckets=((1.0, 2),)))]
    (parsed,) = parse_delimited(render_delimited(families))
    assert parsed.metrics[0].buckets == ((1.0, 2),)
    assert b"inf" not in render_text_debug(families)


def test_same_name_twice_last_wins_at_first_position() -> None:
    body = delimited(
        family("a", GAUGE, label("v", "1") + gauge(1)),
        family("b", GAUGE, gauge(2)),
        family("a", COUNTER, label("v", "2") + counter(3)),
    )
    assert parse_delimited(body) == [
        fam("a", "counter", Metric((("v", "2"),), 3.0)),
        fam("b", "gauge", Metric((), 2.0)),
    ]


def test_earlier_duplicate_is_dropped_before_the_type_check() -> None:
    # The first "a" is inconsistent, but it is replaced before Go checks anything.
    body = delimited(family("a", GAUGE, counter(1)), family("a", GAUGE, gauge(1)))
    assert parse_delimited(body) == [fam("a", "gauge", Metric((), 1.0))]


def test_families_without_metrics_are_kept() -> None:
    assert parse_delimited(delimited(family("e", GAUGE))) == [fam("e", "gauge")]


def test_unset_type_is_counter() -> None:
    assert parse_delimited(delimited(family("c", None, counter(4)))) == [
        fam("c", "counter", Metric((), 4.0))
    ]


def test_help_unset_empty_and_set() -> None:
    body = delimited(family("a", GAUGE), family("b", GAUGE, help=""), family("c", GAUGE, help="h"))
    assert [f.help for f in parse_delimited(body)] == [None, "", "h"]


def test_names_and_labels_are_not_validated_or_sorted() -> None:
    body = delimited(family("bad-name", GAUGE, label("z", "1") + label("__a", "") + gauge(1)))
    assert parse_delimited(body) == [fam("bad-name", "gauge", Metric((("z", "1"), ("__a", "")), 1))]


def test_empty_message_is_a_family_without_a_name() -> None:
    # A zero length prefix: Go stores a family named "" (spec B.2); the store decides.
    assert parse_delimited(b"\x00") == [fam("", "counter")]


def test_native_histogram_keeps_the_classic_parts() -> None:
    span = field_bytes(12, field_varint(1, 0) + field_varint(2, 2))  # positive_span
    native = (
        field_varint(1, 4)  # sample_count
        + field_double(4, 4.5)  # sample_count_float (ignored, as 1.5.1 does)
        + field_double(2, 10.0)  # sample_sum
        + field_varint(5, 6)  # schema (sint32 3)
        + field_double(6, 0.001)  # zero_threshold
        + field_varint(7, 1)  # zero_count
        + span
        + field_bytes(13, varint(2) + varint(1))  # positive_delta, packed
        + field_bytes(15, b"\x08\x01")  # created_timestamp: unknown to 1.5.1
    )
    body = delimited(family("n", HISTOGRAM, field_bytes(7, native)))
    assert parse_delimited(body) == [
        fam("n", "histogram", Metric((), sample_count=4, sample_sum=10))
    ]


def test_exemplars_and_unknown_fields_are_skipped() -> None:
    exemplar = field_bytes(2, label("trace", "abc") + field_double(2, 1.0))
    metric = field_bytes(3, field_double(1, 7.0) + exemplar) + field_bytes(99, b"junk")
    body = delimited(family("c", COUNTER, metric) + field_bytes(5, "unit"))
    assert parse_delimited(body) == [fam("c", "counter", Metric((), 7.0))]


# --------------------------------------------------------------------------------------
# Framing and decoding errors (messages as 1.5.1 answers them)


def test_text_body_sent_as_protobuf_is_unexpected_eof() -> None:
    with pytest.raises(ParseError, match=r"^unexpected EOF$"):
        parse_delimited(b"some_metric 3.14\n")


def prefix_size(body: bytes, pos: int) -> int:
    size = 1
    while body[pos + size - 1] >= 0x80:
        size += 1
    return size


def test_truncation_at_every_byte() -> None:
    first = render_delimited(EVERY_TYPE[:1])
    body = render_delimited(EVERY_TYPE[:2])
    ends_stream = {
        # inside or right after a length prefix, Go sees io.EOF: the stream ends
        **{cut: [] for cut in range(1, prefix_size(body, 0) + 1)},
        **{
            cut: EVERY_TYPE[:1]
            for cut in range(len(first), len(first) + prefix_size(body, len(first)) + 1)
        },
    }
    for cut in range(1, len(body)):
        if cut in ends_stream:
            assert parse_delimited(body[:cut]) == ends_stream[cut], cut
        else:
            with pytest.raises(ParseError, match=r"^unexpected EOF$"):
                parse_delimited(body[:cut])


def test_eof_inside_a_length_prefix_ends_the_stream() -> None:
    one = delimited(family("a", GAUGE, gauge(1)))
    assert parse_delimited(one + b"\x80") == [fam("a", "gauge", Metric((), 1.0))]
    assert parse_delimited(b"\x80\x80\x80\x80\x01") == []  # 5-byte prefix, then EOF


def test_length_prefix_longer_than_five_bytes() -> None:
    with pytest.raises(ParseError, match=r"^invalid varint32 encountered$"):
        parse_delimited(b"\x80\x80\x80\x80\x80\x01")
    with pytest.raises(ParseError, match=r"^invalid varint32 encountered$"):
        parse_delimited(b"\x80\x80\x80\x80\x80")


@pytest.mark.parametrize(
    ("message", "error"),
    [
        (b"\x00\x00", "proto: io_prometheus_client.MetricFamily: illegal tag 0 (wire type 0)"),
        (b"\x02\x01x", "proto: io_prometheus_client.MetricFamily: illegal tag 0 (wire type 2)"),
        (
            b"\x0a\x01g\x22\x02\x00\x00",
            "proto: io_prometheus_client.Metric: illegal tag 0 (wire type 0)",
        ),
        (
            b"\x0a\x01g\x22\x04\x0a\x02\x00\x00",
            "proto: io_prometheus_client.LabelPair: illegal tag 0 (wire type 0)",
        ),
        (
            b"\x0a\x01g\x22\x0a\x1a\x08\x12\x06\x1a\x04\x02\x01a\x00",
            "proto: timestamp.Timestamp: illegal tag 0 (wire type 2)",
        ),
        (b"\x0f\x00", "proto: can't skip unknown wire type 7"),
        (b"\x0e\x00", "proto: can't skip unknown wire type 6"),
        (b"\x0c", "proto: can't skip unknown wire type 4"),
        (b"\x0b", "unexpected EOF"),  # a group that never ends
        (b"\x0b\x0e\x0c", "unexpected EOF"),
        (b"\x08" + b"\xff" * 10 + b"\x01", "unexpected EOF"),  # varint overflow
        (b"\xff\xff", "unexpected EOF"),
        (b"\x0a", "unexpected EOF"),
        (b"\x0a\x01g\x18\x01\x22\x02\xff\xff", "unexpected EOF"),
        (b"\x0a\x01g\x18\x01\x22\x05\x0a\x01", "unexpected EOF"),
        # packed native-histogram fields are checked element by element
        (b"\x0a\x01h\x18\x04\x22\x05\x3a\x03\x52\x01\xff", "unexpected EOF"),
        (b"\x0a\x01h\x18\x04\x22\x07\x3a\x05\x5a\x03\x00\x00\x00", "unexpected EOF"),
        (b"\x0a\x01h\x18\x04\x22\x06\x3a\x04\x62\x02\xff\xff", "unexpected EOF"),
    ],
)
def test_malformed_message_errors_match_go(message: bytes, error: str) -> None:
    with pytest.raises(ParseError) as info:
        parse_delimited(delimited(message))
    assert str(info.value) == error


@pytest.mark.parametrize(
    "message",
    [
        b"\x2b\x2c",  # an unknown group, closed
        b"\x08\x01",  # name sent as a varint: skipped as unknown
        b"\x0a\x01a\x25\x00\x00\x00\x00",  # metric sent as fixed32: skipped
        b"\x0a\x01h\x18\x04\x22\x06\x3a\x04\x22\x02\xff\xff",  # sample_count_float as bytes
        b"\x0a\x01h\x18\x04\x22\x06\x3a\x04\x7a\x02\xff\xff",  # field 15: unknown in 1.5.1
    ],
)
def test_messages_go_accepts(message: bytes) -> None:
    assert len(parse_delimited(delimited(message))) == 1


# --------------------------------------------------------------------------------------
# Value fields that do not match the family type (a consistency failure in Go)


def test_value_field_of_another_type() -> None:
    body = delimited(family("mm", GAUGE, label("z", "1") + counter(1)))
    with pytest.raises(ConsistencyError) as info:
        parse_delimited(body)
    assert str(info.value) == (
        'collected metric "mm" { label:<name:"z" value:"1" > counter:<value:1 > } is not a GAUGE'
    )


def test_no_value_field_at_all() -> None:
    with pytest.raises(ConsistencyError) as info:
        parse_delimited(delimited(family("nv", None, label("a", "b"))))
    assert (
        str(info.value) == 'collected metric "nv" { label:<name:"a" value:"b" > } is not a COUNTER'
    )


def test_an_extra_value_field_is_ignored() -> None:
    # client_golang only checks that the field of the family type is there.
    body = delimited(family("x", GAUGE, gauge(1) + counter(2)))
    assert parse_delimited(body) == [fam("x", "gauge", Metric((), 1.0))]


def test_several_mismatches_use_the_multi_error_form() -> None:
    body = delimited(family("mm3", GAUGE, label("z", "1") + counter(1), gauge(2), untyped(3)))
    with pytest.raises(ConsistencyError) as info:
        parse_delimited(body)
    assert str(info.value) == (
        "2 error(s) occurred:\n"
        '* collected metric "mm3" { label:<name:"z" value:"1" > counter:<value:1 > } is not a GAUGE\n'
        '* collected metric "mm3" { untyped:<value:3 > } is not a GAUGE'
    )


def test_timestamps_are_reported_before_mismatches() -> None:
    timestamped = gauge(1) + field_varint(6, 5)
    body = delimited(family("mm", GAUGE, counter(1)), family("t", GAUGE, timestamped))
    with pytest.raises(ConsistencyError, match=r"^pushed metrics must not have timestamps$"):
        parse_delimited(body)


def test_mismatch_dump_quotes_the_name_and_escapes_strings_like_go() -> None:
    body = delimited(family(b'a"\n\xff', GAUGE, label("l", b'\xc3\xa9"\\\t') + untyped(1e6)))
    with pytest.raises(ConsistencyError) as info:
        parse_delimited(body)
    assert str(info.value) == (
        r'collected metric "a\"\n\xff" { label:<name:"l" value:"\303\251\"\\\t" >'
        r" untyped:<value:1e+06 > } is not a GAUGE"
    )


@pytest.mark.parametrize(
    ("mtype", "fragment"),
    [(GAUGE_HISTOGRAM, "has type GAUGE_HISTOGRAM"), (99, "has unknown type 99")],
)
def test_gauge_histograms_and_unknown_types_are_refused(mtype: int, fragment: str) -> None:
    # 1.5.1 stores both and then truncates or fails /metrics (spec B.2).
    body = delimited(family("gh", mtype, field_bytes(7, field_varint(1, 1))))
    with pytest.raises(ConsistencyError) as info:
        parse_delimited(body)
    assert str(info.value).startswith('metric family "gh" ' + fragment)


# --------------------------------------------------------------------------------------
# Invalid UTF-8: proto2 does not check it, neither does Go; the store rejects it.


def test_invalid_utf8_is_kept_with_surrogateescape() -> None:
    body = delimited(family(b"n\xff", GAUGE, label(b"k\xfe", b"v\xff") + gauge(1), help=None))
    (parsed,) = parse_delimited(body)
    assert parsed.name == "n\udcff"
    assert parsed.metrics[0].labels == (("k\udcfe", "v\udcff"),)


def test_invalid_utf8_in_help() -> None:
    body = delimited(family("h", GAUGE) + field_bytes(2, b"\xe2\x82"))
    assert parse_delimited(body)[0].help == "\udce2\udc82"


def test_invalid_utf8_renders_the_original_bytes() -> None:
    families = [fam("n\udcff", "gauge", Metric((("a", "\udcff"),), 1.0), help="\udcfe")]
    body = render_delimited(families)
    assert b"n\xff" in body and b"\x12\x01\xff" in body
    assert parse_delimited(body) == families
    assert b'value: "\\377"' in render_text_debug(families)
    assert b'name:"n\\377" help:"\\376"' in render_compact_text(families)


def test_invalid_utf8_with_the_pure_python_runtime(tmp_path: Path) -> None:
    # The pure-Python runtime refuses invalid UTF-8 in a string field while
    # parsing (upb hands it back as bytes); both must give the same model.
    script = textwrap.dedent(
        """
        from google.protobuf.internal import api_implementation
        assert api_implementation.Type() == "python", api_implementation.Type()
        from pushgate.core.model import Metric, MetricFamily
        from pushgate.core.protobuf import parse_delimited, render_delimited
        families = [MetricFamily("n\\udcff", "gauge", "\\udcfe", (Metric((("a", "\\udcff"),), 1.0),))]
        body = render_delimited(families)
        assert parse_delimited(body) == families, parse_delimited(body)
        print("ok")
        """
    )
    src = str(Path(__file__).resolve().parents[3] / "src")
    env = {
        **os.environ,
        "PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION": "python",
        "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")]),
    }
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", script],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


# --------------------------------------------------------------------------------------
# Debug renderings (shapes recorded from 1.5.1)

GO_SHAPED = [
    fam(
        "x",
        "gauge",
        Metric((("a", "b"), ("instance", ""), ("job", "t")), -0.0),
        help="help me",
    ),
    fam(
        "hh",
        "histogram",
        Metric(
            (("a", 'ÿ\n"'),),
            sample_count=3,
            sample_sum=1e6,
            buckets=((0.5, 1), (math.inf, 3)),
        ),
    ),
    fam(
        "ss",
        "summary",
        Metric((), sample_count=3, sample_sum=math.nan, quantiles=((0.5, 1.0),)),
        help="",
    ),
]


def test_render_text_debug_matches_go() -> None:
    assert render_text_debug(GO_SHAPED).decode() == textwrap.dedent(
        """\
        name: "x"
        help: "help me"
        type: GAUGE
        metric: <
          label: <
            name: "a"
            value: "b"
          >
          label: <
            name: "instance"
            value: ""
          >
          label: <
            name: "job"
            value: "t"
          >
          gauge: <
            value: -0
          >
        >

        name: "hh"
        type: HISTOGRAM
        metric: <
          label: <
            name: "a"
            value: "\\303\\277\\n\\""
          >
          histogram: <
            sample_count: 3
            sample_sum: 1e+06
            bucket: <
              cumulative_count: 1
              upper_bound: 0.5
            >
            bucket: <
              cumulative_count: 3
              upper_bound: inf
            >
          >
        >

        name: "ss"
        help: ""
        type: SUMMARY
        metric: <
          summary: <
            sample_count: 3
            sample_sum: nan
            quantile: <
              quantile: 0.5
              value: 1
            >
          >
        >

        """
    )


def test_render_compact_text_matches_go() -> None:
    assert render_compact_text(GO_SHAPED).decode().splitlines() == [
        'name:"x" help:"help me" type:GAUGE metric:<label:<name:"a" value:"b" >'
        ' label:<name:"instance" value:"" > label:<name:"job" value:"t" > gauge:<value:-0 > > ',
        'name:"hh" type:HISTOGRAM metric:<label:<name:"a" value:"\\303\\277\\n\\"" >'
        " histogram:<sample_count:3 sample_sum:1e+06 bucket:<cumulative_count:1 upper_bound:0.5 >"
        " bucket:<cumulative_count:3 upper_bound:inf > > > ",
        'name:"ss" help:"" type:SUMMARY metric:<summary:<sample_count:3 sample_sum:nan'
        " quantile:<quantile:0.5 value:1 > > > ",
    ]


def test_render_of_a_family_without_metrics() -> None:
    assert render_text_debug([fam("e", "counter")]) == b'name: "e"\ntype: COUNTER\n\n'
    assert render_compact_text([fam("e", "counter")]) == b'name:"e" type:COUNTER \n'


@pytest.mark.parametrize(
    ("mtype", "metric", "dump"),
    [
        (
            "gauge",
            Metric((("instance", ""), ("job", "x")), 1.0),
            'label:<name:"instance" value:"" > label:<name:"job" value:"x" > gauge:<value:1 > ',
        ),
        ("counter", Metric((), 1234567.0), "counter:<value:1.234567e+06 > "),
        ("untyped", Metric((), -math.inf), "untyped:<value:-inf > "),
        (
            "summary",
            Metric((), sample_count=1, sample_sum=0.5, quantiles=((0.9, 0.1),)),
            "summary:<sample_count:1 sample_sum:0.5 quantile:<quantile:0.9 value:0.1 > > ",
        ),
        (
            "histogram",
            Metric((), sample_count=2, sample_sum=3.0, buckets=((1e-05, 1),), timestamp_ms=7),
            "histogram:<sample_count:2 sample_sum:3 bucket:<cumulative_count:1 upper_bound:1e-05 > >"
            " timestamp_ms:7 ",
        ),
    ],
)
def test_render_metric_debug(mtype: MetricType, metric: Metric, dump: str) -> None:
    assert render_metric_debug(mtype, metric) == dump


# --------------------------------------------------------------------------------------
# Format selection for push bodies (spec 4.2, B.1 item 28)

PARAMS = "proto=io.prometheus.client.MetricFamily; encoding=delimited"


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        (PROTOBUF_DELIMITED_CONTENT_TYPE, True),
        (f"{PROTOBUF_MEDIA_TYPE};proto=io.prometheus.client.MetricFamily;encoding=delimited", True),
        (f"Application/Vnd.Google.Protobuf; {PARAMS}", True),
        (
            f"{PROTOBUF_MEDIA_TYPE}; encoding=delimited; proto=io.prometheus.client.MetricFamily",
            True,
        ),
        (
            f"{PROTOBUF_MEDIA_TYPE}; PROTO=io.prometheus.client.MetricFamily; Encoding=delimited",
            True,
        ),
        (
            f'{PROTOBUF_MEDIA_TYPE}; proto="io.prometheus.client.MetricFamily"; encoding="delimited"',
            True,
        ),
        (f"{PROTOBUF_MEDIA_TYPE}; {PARAMS};", True),
        (
            f"{PROTOBUF_MEDIA_TYPE} ; proto = io.prometheus.client.MetricFamily ;\tencoding=delimited",
            True,
        ),
        (f"{PROTOBUF_MEDIA_TYPE}; {PARAMS}; charset=utf-8", True),
        (
            f"{PROTOBUF_MEDIA_TYPE}; proto=io.prometheus.client.MetricFamily; encoding*=utf-8''delimited",
            True,
        ),
        (
            f"{PROTOBUF_MEDIA_TYPE}; proto=io.prometheus.client.MetricFamily; encoding*0=deli; encoding*1=mited",
            True,
        ),
        (None, False),
        ("", False),
        ("text/plain; version=0.0.4", False),
        ("application/openmetrics-text; version=1.0.0", False),
        ("application/json", False),
        (PROTOBUF_MEDIA_TYPE, False),
        (f"{PROTOBUF_MEDIA_TYPE}; proto=io.prometheus.client.MetricFamily", False),
        (f"{PROTOBUF_MEDIA_TYPE}; proto=io.prometheus.client.MetricFamily; encoding=text", False),
        (
            f"{PROTOBUF_MEDIA_TYPE}; proto=io.prometheus.client.MetricFamily; encoding=Delimited",
            False,
        ),
        (f"{PROTOBUF_MEDIA_TYPE}; proto=foo.Bar; encoding=delimited", False),
        # unparseable: Go's mime.ParseMediaType fails, so the body is text
        (f"{PROTOBUF_MEDIA_TYPE}; {PARAMS}; encoding=delimited", False),  # repeated parameter
        (f"{PROTOBUF_MEDIA_TYPE}; {PARAMS} x", False),
        (f"{PROTOBUF_MEDIA_TYPE}; {PARAMS}; ;", False),
        (f"{PROTOBUF_MEDIA_TYPE}/x; {PARAMS}", False),
        (f"; {PARAMS}", False),
        (f'{PROTOBUF_MEDIA_TYPE}; proto="io.prometheus.client.MetricFamily; {PARAMS}', False),
    ],
)
def test_is_protobuf_delimited(content_type: str | None, expected: bool) -> None:
    assert is_protobuf_delimited(content_type) is expected


# --------------------------------------------------------------------------------------
# Accept negotiation (spec 5.5, B.1 item 25); every row was checked against 1.5.1

PD = f"{PROTOBUF_MEDIA_TYPE};proto=io.prometheus.client.MetricFamily;encoding=delimited"
PROMETHEUS_DEFAULT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
    "text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, "text"),
        ("", "text"),
        ("*/*", "text"),
        ("text/plain", "text"),
        ("application/openmetrics-text; version=1.0.0", "text"),
        (PROMETHEUS_DEFAULT, "text"),
        (PD, "protobuf-delimited"),
        (PROTOBUF_DELIMITED_CONTENT_TYPE, "protobuf-delimited"),
        (PD.replace("delimited", "text"), "protobuf-text"),
        (PD.replace("delimited", "compact-text"), "protobuf-compact-text"),
        (f"{PD},{PROMETHEUS_DEFAULT}", "protobuf-delimited"),
        (f"text/plain;q=0.5,{PD}", "protobuf-delimited"),
        (f"text/plain;q=0.9,{PD};q=0.5", "text"),
        (f"{PD};q=0", "protobuf-delimited"),  # q only orders; q=0 is no refusal
        (f"text/plain;q=0,{PD};q=0", "text"),
        (f"text/plain;version=1.0.0,{PD}", "protobuf-delimited"),
        (f"text/plain; version=0.0.4,{PD}", "text"),
        (f"text/html,text/plain;version=0.0.4;q=0.1,{PD};q=0.05", "text"),
        (f"text/*,{PD}", "protobuf-delimited"),
        (f"*/*;q=0.9,{PD};q=0.9", "protobuf-delimited"),
        (f"a/b;q=1e3,{PD}", "protobuf-delimited"),
        (f"{PD};q=nan,text/plain;q=0.1", "protobuf-delimited"),
        (f"text/plain;q=NaN,{PD};q=0.1", "text"),
        (f"text/plain;q= 0.9,{PD};q=0.5", "protobuf-delimited"),  # unparseable q is 0
        (PD.replace(";proto", "; proto "), "protobuf-delimited"),
        (
            "Application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited",
            "text",
        ),
        (
            PD.replace(
                "proto=io.prometheus.client.MetricFamily",
                'proto="io.prometheus.client.MetricFamily"',
            ),
            "text",
        ),
    ],
)
def test_negotiate_exposition(accept: str | None, expected: str) -> None:
    assert negotiate_exposition(accept) == expected


def test_response_content_types() -> None:
    assert RESPONSE_CONTENT_TYPES == {
        "text": TEXT_CONTENT_TYPE,
        "protobuf-delimited": PROTOBUF_DELIMITED_CONTENT_TYPE,
        "protobuf-text": PROTOBUF_TEXT_CONTENT_TYPE,
        "protobuf-compact-text": PROTOBUF_COMPACT_TEXT_CONTENT_TYPE,
    }
    assert TEXT_CONTENT_TYPE == "text/plain; version=0.0.4; charset=utf-8"
    assert PROTOBUF_COMPACT_TEXT_CONTENT_TYPE == (
        "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=compact-text"
    )


# --------------------------------------------------------------------------------------
# Properties

strings = st.one_of(
    st.text(max_size=20), st.binary(max_size=20).map(lambda b: b.decode("utf-8", "surrogateescape"))
)
label_lists = st.lists(st.tuples(strings, strings), max_size=4).map(tuple)
counts = st.integers(min_value=0, max_value=2**64 - 1)
timestamps = st.none() | st.integers(min_value=-(2**63), max_value=2**63 - 1)


def floats(allow_nan: bool) -> st.SearchStrategy[float]:
    return st.floats(allow_nan=allow_nan)


def metrics(mtype: MetricType, allow_nan: bool) -> st.SearchStrategy[Metric]:
    f = floats(allow_nan)
    if mtype in ("counter", "gauge", "untyped"):
        return st.builds(_metric, label_lists, f, timestamp_ms=timestamps)
    if mtype == "summary":
        return st.builds(
            _metric,
            label_lists,
            sample_count=counts,
            sample_sum=f,
            quantiles=st.lists(st.tuples(f, f), max_size=3).map(tuple),
            timestamp_ms=timestamps,
        )
    return st.builds(
        _metric,
        label_lists,
        sample_count=counts,
        sample_sum=f,
        buckets=st.lists(st.tuples(f, counts), max_size=3).map(tuple),
        timestamp_ms=timestamps,
    )


@st.composite
def family_lists(draw: st.DrawFn, allow_nan: bool = False) -> list[MetricFamily]:
    names = draw(st.lists(strings, max_size=4, unique=True))
    result = []
    for name in names:
        mtype: MetricType = draw(
            st.sampled_from(["counter", "gauge", "untyped", "summary", "histogram"])
        )
        help_ = draw(st.none() | strings)
        ms = draw(st.lists(metrics(mtype, allow_nan), max_size=3))
        result.append(MetricFamily(name, mtype, help_, tuple(ms)))
    return result


@given(family_lists())
def test_parse_inverts_render(families: list[MetricFamily]) -> None:
    assert parse_delimited(render_delimited(families)) == families


@given(family_lists(allow_nan=True))
def test_render_is_stable_with_nan(families: list[MetricFamily]) -> None:
    body = render_delimited(families)
    assert render_delimited(parse_delimited(body)) == body
    # The text renderings accept everything the model can hold.
    render_text_debug(families).decode("ascii")
    render_compact_text(families).decode("ascii")


@given(st.binary(max_size=200))
def test_arbitrary_bytes_raise_only_our_errors(body: bytes) -> None:
    with contextlib.suppress(ParseError, ConsistencyError):
        parse_delimited(body)


@given(family_lists(), st.data())
def test_mutated_bodies_raise_only_our_errors(
    families: list[MetricFamily], data: st.DataObject
) -> None:
    body = bytearray(render_delimited(families))
    if not body:
        return
    for _ in range(data.draw(st.integers(1, 4))):
        body[data.draw(st.integers(0, len(body) - 1))] = data.draw(st.integers(0, 255))
    with contextlib.suppress(ParseError, ConsistencyError):
        parse_delimited(bytes(body))


@given(st.text(max_size=60))
def test_negotiation_and_detection_are_total(header: str) -> None:
    assert negotiate_exposition(header) in RESPONSE_CONTENT_TYPES
    assert is_protobuf_delimited(header) in (True, False)
