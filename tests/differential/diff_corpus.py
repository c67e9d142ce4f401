"""The corpus of differential cases, one section per part of the behaviour.

Each case starts from an empty store. Section names follow the behavioural
spec (grouping key, push semantics, text format, protobuf, gzip, consistency,
exposition, JSON API, HTTP surface, routing options, admin and lifecycle).
Cases that show a deliberate difference from 1.5.1 carry
``expected_difference`` and a ``sane`` expectation for pushgate; every such
difference is described in ``docs/compatibility.md``.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterable, Mapping
from typing import Any

from tests.differential.diff_harness import (
    PROTOBUF_ACCEPT,
    PROTOBUF_DELIMITED,
    Case,
    Config,
    Contains,
    Observation,
    Step,
    b64,
    pb_family,
)

Body = str | bytes


def _bytes(body: Body) -> bytes:
    return body.encode("utf-8") if isinstance(body, str) else body


def _headers(ctype: str | None, headers: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    return ((("Content-Type", ctype),) if ctype else ()) + tuple(headers)


def put(
    path: str, body: Body = b"", ctype: str | None = None, headers: Iterable[tuple[str, str]] = ()
) -> Step:
    return Step("PUT", path, _bytes(body), _headers(ctype, headers))


def post(
    path: str, body: Body = b"", ctype: str | None = None, headers: Iterable[tuple[str, str]] = ()
) -> Step:
    return Step("POST", path, _bytes(body), _headers(ctype, headers))


def delete(path: str, body: Body = b"", headers: Iterable[tuple[str, str]] = ()) -> Step:
    return Step("DELETE", path, _bytes(body), tuple(headers))


def req(method: str, path: str, headers: Iterable[tuple[str, str]] = (), body: Body = b"") -> Step:
    return Step(method, path, _bytes(body), tuple(headers))


def metrics(accept: str | None = None, encoding: str | None = None, path: str = "/metrics") -> Step:
    headers: list[tuple[str, str]] = []
    if accept is not None:
        headers.append(("Accept", accept))
    if encoding is not None:
        headers.append(("Accept-Encoding", encoding))
    return Step("GET", path, headers=tuple(headers), kind="exposition")


def api(prefix: str = "") -> Step:
    return Step("GET", prefix + "/api/v1/metrics", kind="api")


def status(prefix: str = "") -> Step:
    return Step("GET", prefix + "/api/v1/status", kind="status")


def pb_gzip(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


METRICS = metrics()
METRICS_PB = metrics(PROTOBUF_ACCEPT)
API = api()
#: The usual observation triple after writes.
ALL = (METRICS, METRICS_PB, API)

GZIP = (("Content-Encoding", "gzip"),)

CASES: list[Case] = []


def case(name: str, *steps: Step | Iterable[Step], **kwargs: Any) -> None:
    flat: list[Step] = []
    for s in steps:
        if isinstance(s, Step):
            flat.append(s)
        else:
            flat.extend(s)
    CASES.append(Case(name, tuple(flat), **kwargs))


def differs(
    name: str,
    reason: str,
    steps: Iterable[Step],
    sane: Mapping[int, Observation],
    *,
    go_safe: bool = True,
    config: Config | None = None,
) -> None:
    extra: dict[str, Any] = {} if config is None else {"config": config}
    CASES.append(
        Case(
            name,
            tuple(steps),
            expected_difference=reason,
            sane=sane,
            go_safe=go_safe,
            **extra,
        )
    )


# ============================================================================================
# grouping: the grouping key in the URL (spec 2)

case("grouping.plain_job", post("/metrics/job/j", "some_metric 3.14\n"), ALL)
case(
    "grouping.label_order_is_irrelevant",
    put("/metrics/job/a/x/1/y/2", "m 1\n"),
    put("/metrics/job/a/y/2/x/1", "m 2\n"),
    ALL,
)
case("grouping.base64_job_unpadded", put("/metrics/job@base64/dGVzdC9qb2I", "m 1\n"), ALL)
case("grouping.base64_job_padded", put("/metrics/job@base64/dGVzdC9qb2I=", "m 1\n"), API)
case("grouping.base64_job_double_padded", put("/metrics/job@base64/dGVzdC9qb2I==", "m 1\n"), API)
case("grouping.base64_job_many_padding", put("/metrics/job@base64/dGVzdC9qb2I====", "m 1\n"), API)
case("grouping.base64_label_slash", put("/metrics/job/j/path@base64/L3Zhci90bXA", "m 1\n"), ALL)
case("grouping.base64_empty_value", put("/metrics/job/j/first_label@base64/=", "m 1\n"), ALL)
case("grouping.base64_empty_job", put("/metrics/job@base64/=", "m 1\n"), API)
case("grouping.base64_dash_underscore", put("/metrics/job/j/v@base64/Pz8-Pw", "m 1\n"), API)
case("grouping.base64_plus_rejected", put("/metrics/job/j/l@base64/a+b", "m 1\n"), API)
case("grouping.base64_value_then_plain_pair", put("/metrics/job/j/l@base64/YS9i/x/y", "m 1\n"), API)
case("grouping.base64_inner_padding_rejected", put("/metrics/job/j/l@base64/YQ=Yg", "m 1\n"), API)
case("grouping.base64_length_one_mod_four", put("/metrics/job/j/l@base64/YWJjZ", "m 1\n"), API)
case("grouping.base64_loose_trailing_bits", put("/metrics/job/j/l@base64/YR", "m 1\n"), API)
case("grouping.base64_double_suffix", put("/metrics/job/j/a@base64@base64/YQ", "m 1\n"), API)
case(
    "grouping.plain_and_base64_same_group",
    put("/metrics/job/same/k/v", "a 1\n"),
    post("/metrics/job@base64/c2FtZQ/k@base64/dg", "b 2\n"),
    API,
)
case("grouping.odd_components", put("/metrics/job/j/l", "m 1\n"), API)
case("grouping.odd_components_three", put("/metrics/job/j/a/b/c", "m 1\n"))
case("grouping.trailing_slash_after_pair", put("/metrics/job/x/a/1/", "m 1\n"))
case("grouping.improper_digit_start", put("/metrics/job/j/1abc/x", "m 1\n"))
case("grouping.improper_dunder_name", put("/metrics/job/j/__name__/x", "m 1\n"))
case("grouping.improper_dunder_prefix", put("/metrics/job/j/__foo/x", "m 1\n"))
case("grouping.improper_dash", put("/metrics/job/j/a-b/x", "m 1\n"))
case("grouping.improper_base64_name", put("/metrics/job/j/1a@base64/eA", "m 1\n"))
case("grouping.duplicate_label_last_wins", put("/metrics/job/dup/a/1/a/2", "m 1\n"), ALL)
case("grouping.job_label_overridden", put("/metrics/job/jobA/job/jobB", "m 1\n"), ALL)
case("grouping.job_base64_label_overridden", put("/metrics/job/x/job@base64/YQ", "m 1\n"), API)
case("grouping.trailing_slash", put("/metrics/job/j/", "m 1\n"), ALL)
case("grouping.trailing_slash_base64_label", put("/metrics/job/j/l@base64/", "m 1\n"), ALL)
case("grouping.trailing_slash_plain_label", put("/metrics/job/j/l/", "m 1\n"), API)
case("grouping.percent_slash_in_value", put("/metrics/job/enc/p/a%2Fb", "m 1\n"))
case("grouping.percent_slash_in_job", put("/metrics/job/a%2Fb", "m 1\n"))
case("grouping.percent_slash_splits_pair", put("/metrics/job/j/a/x%2Fy/b", "m 1\n"), API)
case(
    "grouping.percent_utf8_value",
    put("/metrics/job/j/name/%CE%A0%CF%81%CE%BF%CE%BC%CE%B7%CE%B8%CE%B5%CF%8D%CF%82", "m 1\n"),
    ALL,
)
case("grouping.percent_space_job", put("/metrics/job/%20", "m 1\n"), ALL)
case("grouping.plus_is_literal", put("/metrics/job/a+b/c/d+e", "m 1\n"), ALL)
case("grouping.percent_in_label_name", put("/metrics/job/j/%61/1", "m 1\n"), API)
case("grouping.query_string_ignored", put("/metrics/job/q?x=1&y=2", "m 1\n"), API)
case("grouping.instance_in_key", put("/metrics/job/j/instance/i1", "m 1\n"), ALL)
case(
    "grouping.empty_label_next_to_absent",
    put("/metrics/job/x", "m 1\n"),
    put("/metrics/job/x/a@base64/=", "m 2\n"),
    ALL,
)
case("grouping.long_job_name", put("/metrics/job/" + "j" * 5000, "m 1\n"), API)
case(
    "grouping.many_labels",
    put("/metrics/job/j/" + "/".join(f"l{i}/v{i}" for i in range(20)), "m 1\n"),
    ALL,
)
case(
    "grouping.unicode_base64_job",
    put("/metrics/job@base64/" + b64("Προμηθεύς"), "m 1\n"),
    METRICS,
    API,
)
differs(
    "grouping.base64_job_undecodable",
    "1.5.1 answers 400 but then deadlocks every later request on the job@base64 route",
    [
        put("/metrics/job@base64/a*b", "m 1\n"),
        put("/metrics/job@base64/a*b", "m 1\n"),
        put("/metrics/job@base64/dGVzdA", "m 1\n"),
        API,
    ],
    {
        0: {"status": 400, "body": Contains("invalid base64 encoding in job name")},
        1: {"status": 400},
        2: {"status": 200},
        3: {"status": 200, "json": {"data": [{"labels": {"job": "test"}}]}},
    },
    go_safe=False,
)
differs(
    "grouping.base64_job_one_mod_four",
    "1.5.1 deadlocks the job@base64 route after any undecodable job",
    [put("/metrics/job@base64/YWJjZ", "m 1\n"), delete("/metrics/job@base64/YWJjZ"), API],
    {0: {"status": 400}, 1: {"status": 400}, 2: {"status": 200, "json": {"data": []}}},
    go_safe=False,
)
_INVALID_UTF8_SANE: dict[int, Observation] = {
    0: {"status": 400},
    1: {"status": 200, "json": {"data": []}},
    2: {"status": 200, "families": []},
}
differs(
    "grouping.invalid_utf8_base64_value",
    "1.5.1 creates a failed group with an invalid UTF-8 label, and /metrics fails until deleted",
    [put("/metrics/job/u/l@base64/_w", "m 1\n"), API, METRICS],
    _INVALID_UTF8_SANE,
)
differs(
    "grouping.invalid_utf8_percent_value",
    "1.5.1 creates a failed group with an invalid UTF-8 label, and /metrics fails until deleted",
    [put("/metrics/job/u/l/%FF", "m 1\n"), API, METRICS],
    _INVALID_UTF8_SANE,
)
differs(
    "grouping.invalid_utf8_job",
    "1.5.1 creates a failed group with an invalid UTF-8 job, and /metrics fails until deleted",
    [post("/metrics/job@base64/_w", "m 1\n"), API, METRICS],
    _INVALID_UTF8_SANE,
)

# ============================================================================================
# push: PUT / POST / DELETE semantics (spec 3.1-3.5)

_AB = "# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\n"
_BC = "# TYPE b gauge\nb 2\n# TYPE c gauge\nc 2\n"
case("push.put_then_post_merges", put("/metrics/job/s", _AB), post("/metrics/job/s", _BC), ALL)
case(
    "push.put_replaces_group",
    put("/metrics/job/s", _AB),
    post("/metrics/job/s", _BC),
    put("/metrics/job/s", "# TYPE c gauge\nc 3\n"),
    ALL,
)
case("push.put_empty_body_empties_group", put("/metrics/job/s", _AB), put("/metrics/job/s"), ALL)
case("push.post_empty_body_bumps_time", put("/metrics/job/s", _AB), post("/metrics/job/s"), API)
case("push.put_empty_creates_group", put("/metrics/job/new"), ALL)
case("push.post_empty_creates_group", post("/metrics/job/new"), API)
case(
    "push.comments_only_body_is_empty",
    put("/metrics/job/s", _AB),
    put("/metrics/job/s", "# HELP a some help\n# TYPE a gauge\n# just a comment\n\n"),
    ALL,
)
case(
    "push.post_replaces_whole_family",
    put("/metrics/job/s", 'f{a="1"} 1\nf{a="2"} 2\ng 1\n'),
    post("/metrics/job/s", 'f{a="3"} 3\n'),
    METRICS,
    API,
)
case(
    "push.delete_group",
    put("/metrics/job/d", "m 1\n"),
    put("/metrics/job/keep", "m 2\n"),
    delete("/metrics/job/d"),
    ALL,
)
case("push.delete_unknown_group", delete("/metrics/job/nothing"), API)
case(
    "push.delete_with_body", put("/metrics/job/d", "m 1\n"), delete("/metrics/job/d", "m 1\n"), API
)
case(
    "push.delete_exact_key_only",
    put("/metrics/job/x", "m 1\n"),
    put("/metrics/job/x/instance/y", "m 2\n"),
    delete("/metrics/job/x"),
    ALL,
)
case(
    "push.delete_base64_empty_value",
    put("/metrics/job/x/a@base64/=", "m 1\n"),
    delete("/metrics/job@base64/eA/a@base64/="),
    API,
)
case(
    "push.delete_then_put_in_order",
    put("/metrics/job/o", "m 1\n"),
    delete("/metrics/job/o"),
    put("/metrics/job/o", "m 2\n"),
    API,
)
case(
    "push.delete_bad_path",
    delete("/metrics/job/j/odd"),
    delete("/metrics/job/j/__x/1"),
    delete("/metrics/job/j/l@base64/a+b"),
)
case(
    "push.push_time_in_body_ignored",
    put("/metrics/job/p", "push_time_seconds 5\nm 1\n"),
    ALL,
)
case(
    "push.failure_time_in_body_on_new_group",
    put("/metrics/job/p", "push_failure_time_seconds 123\n"),
    METRICS,
    API,
)
case(
    "push.failure_time_in_body_on_existing_group",
    put("/metrics/job/p", "m 1\n"),
    post("/metrics/job/p", "push_failure_time_seconds 123\n"),
    METRICS,
    API,
)
case(
    "push.grouping_labels_override_body",
    put(
        "/metrics/job/conf/a/urlA",
        'm3{job="other",instance="inst1",a="bodyA",b="x"} 1\n',
    ),
    ALL,
)
case(
    "push.instance_in_key_overrides_body",
    put("/metrics/job/conf/instance/fromurl", 'm{instance="frombody"} 1\n'),
    METRICS,
    API,
)
case("push.body_job_overridden", put("/metrics/job/real", 'm{job="fake"} 1\n'), METRICS)
case("push.empty_body_label_kept", put("/metrics/job/c14", 'el{a=""} 1\n'), ALL)
case(
    "push.failed_push_creates_group",
    put("/metrics/job/some_job/instance/some_instance", "m 1 1000\n"),
    ALL,
)
case(
    "push.failed_push_keeps_existing_metrics",
    put("/metrics/job/f", "m 1\n"),
    post("/metrics/job/f", "n 2 1000\n"),
    API,
    post("/metrics/job/f", "n 3\n"),
    API,
)
case(
    "push.groups_merge_in_exposition",
    put("/metrics/job/b", "# TYPE shared gauge\nshared 2\n"),
    put("/metrics/job/a", "# TYPE shared gauge\nshared 1\n"),
    put("/metrics/job/a/x/1", "# TYPE shared gauge\nshared 3\n"),
    ALL,
)
case(
    "push.type_change_within_group",
    put("/metrics/job/t", "# TYPE m gauge\nm 1\n"),
    put("/metrics/job/t", "# TYPE m counter\nm 2\n"),
    METRICS,
)
case(
    "push.post_type_change_within_group",
    put("/metrics/job/t", "# TYPE m gauge\nm 1\nother 1\n"),
    post("/metrics/job/t", "# TYPE m counter\nm 2\n"),
    METRICS,
)
case(
    "push.large_body",
    put(
        "/metrics/job/big",
        "".join(f"# filler comment line {i:06d} {'x' * 40}\n" for i in range(20000))
        + "big_a 1\nbig_b 2\n",
    ),
    API,
)
case(
    "push.many_series",
    put("/metrics/job/many", "".join(f'many{{i="{i}"}} {i}\n' for i in range(300))),
    METRICS,
)
case(
    "push.chunked_body",
    Step(
        "PUT",
        "/metrics/job/chunked",
        b"5\r\nchunk\r\n5\r\ned 1\n\r\n0\r\n\r\n",
        (("Transfer-Encoding", "chunked"),),
    ),
    METRICS,
)
case(
    "push.readme_complex_example",
    put(
        "/metrics/job/some_job/instance/some_instance",
        "# TYPE some_metric counter\n"
        'some_metric{label="val1"} 42\n'
        "# TYPE another_metric gauge\n"
        "# HELP another_metric Just an example.\n"
        "another_metric 2398.283\n",
    ),
    ALL,
)

# ============================================================================================
# types: every metric type through the text format (spec 4.4, 5.4)

case("types.counter", put("/metrics/job/t", "# TYPE c counter\nc 3\n"), ALL)
case("types.negative_counter", put("/metrics/job/t", "# TYPE c counter\nc -3\n"), METRICS)
case("types.gauge", put("/metrics/job/t", "# HELP g A gauge.\n# TYPE g gauge\ng -1.5\n"), ALL)
case("types.untyped", put("/metrics/job/t", "u 7\n"), ALL)
case("types.type_upper_case", put("/metrics/job/t", "# TYPE g GAUGE\ng 1\n"), METRICS)
case("types.type_mixed_case", put("/metrics/job/t", "# TYPE g Counter\ng 1\n"), METRICS)
_SUMMARY = (
    "# HELP rpc_duration_seconds A summary.\n"
    "# TYPE rpc_duration_seconds summary\n"
    'rpc_duration_seconds{quantile="0.01"} 3102\n'
    'rpc_duration_seconds{quantile="0.5"} 4773\n'
    'rpc_duration_seconds{quantile="0.99"} 76656\n'
    "rpc_duration_seconds_sum 1.7560473e+07\n"
    "rpc_duration_seconds_count 2693\n"
)
case("types.summary", put("/metrics/job/t", _SUMMARY), ALL)
case(
    "types.summary_quantile_rerendered",
    put(
        "/metrics/job/t",
        '# TYPE s summary\ns{quantile="0.50"} 1\ns{quantile="1e-1"} 2\ns{quantile="+inf"} 3\n'
        "s_sum 6\ns_count 3\n",
    ),
    ALL,
)
case(
    "types.summary_plain_sample_dropped",
    put("/metrics/job/t", '# TYPE s summary\ns 5\ns{quantile="0.5"} 1\ns_count 2\n'),
    METRICS,
    API,
)
case(
    "types.summary_only_count",
    put("/metrics/job/t", "# TYPE s summary\ns_count 4\ns_sum 2.5\n"),
    ALL,
)
case(
    "types.summary_label_sets",
    put(
        "/metrics/job/t",
        '# TYPE s summary\ns{m="a",quantile="0.5"} 1\ns_count{m="a"} 1\ns_sum{m="a"} 1\n'
        's{m="b",quantile="0.5"} 2\ns_count{m="b"} 2\ns_sum{m="b"} 2\n',
    ),
    METRICS,
    API,
)
case(
    "types.summary_bad_quantile",
    put("/metrics/job/t", '# TYPE s summary\ns{quantile="x"} 1\n'),
    API,
)
case(
    "types.summary_missing_quantile_value",
    put("/metrics/job/t", '# TYPE s summary\ns{quantile=""} 1\n'),
)
_HISTOGRAM = (
    "# HELP req_seconds A histogram.\n"
    "# TYPE req_seconds histogram\n"
    'req_seconds_bucket{le="0.05"} 24054\n'
    'req_seconds_bucket{le="0.1"} 33444\n'
    'req_seconds_bucket{le="+Inf"} 144320\n'
    "req_seconds_sum 53423\n"
    "req_seconds_count 144320\n"
)
case("types.histogram", put("/metrics/job/t", _HISTOGRAM), ALL)
case(
    "types.histogram_missing_inf",
    put(
        "/metrics/job/t",
        '# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="2"} 3\nh_sum 4\nh_count 5\n',
    ),
    ALL,
)
case(
    "types.histogram_le_rerendered",
    put(
        "/metrics/job/t",
        '# TYPE h histogram\nh_bucket{le="1.0"} 1\nh_bucket{le="1e3"} 2\n'
        'h_bucket{le="1000000"} 3\nh_bucket{le="+inf"} 4\nh_sum 1\nh_count 4\n',
    ),
    ALL,
)
case(
    "types.histogram_extra_label_sets",
    put(
        "/metrics/job/hist",
        '# TYPE hl histogram\nhl_bucket{le="1"} 1\nhl_count 1\nhl_sum 1\n'
        'hl_bucket{le2="x",le="1"} 2\nhl_count{le2="x"} 2\nhl_sum{le2="x"} 2\n',
    ),
    ALL,
)
case(
    "types.histogram_plain_sample_only",
    put("/metrics/job/t", "# TYPE h histogram\nh 1\n"),
    ALL,
)
case(
    "types.histogram_bucket_without_le",
    put("/metrics/job/t", '# TYPE h histogram\nh_bucket 3\nh_bucket{le="1"} 1\nh_count 1\n'),
    METRICS,
    API,
)
case("types.histogram_bad_le", put("/metrics/job/t", '# TYPE h histogram\nh_bucket{le="x"} 1\n'))
case(
    "types.histogram_negative_bucket",
    put(
        "/metrics/job/t", '# TYPE h histogram\nh_bucket{le="-1"} 0\nh_bucket{le="0"} 1\nh_count 1\n'
    ),
    ALL,
)
case(
    "types.suffix_without_base_is_own_family",
    put("/metrics/job/t", "x_count 1\nx_sum 2\nx_bucket 3\n"),
    METRICS,
)
case(
    "types.type_line_of_suffix_after_summary",
    put("/metrics/job/t", "# TYPE bar summary\nbar_count 1\n# TYPE bar_count gauge\n"),
)
case(
    "types.quantile_and_le_on_untyped",
    put("/metrics/job/t", 'u{quantile="0.5"} 1\nv{le="1"} 2\n'),
    ALL,
)
case(
    "types.openmetrics_counter_naming",
    put("/metrics/job/t", "# TYPE foo counter\nfoo_total 1\nfoo_created 1.7e9\n"),
    METRICS,
)

# ============================================================================================
# values: float parsing and formatting (spec 4.4 values, 5.4 float formatting)

_FLOATS = [
    "123456",
    "1234567",
    "1000000",
    "100",
    "0.1",
    "0.0001",
    "0.00001",
    "0.00001234",
    "1e21",
    "17560473",
    "-1.5e-7",
    "1795980076.432929",
    "1e100",
    "53423",
    "2398.283",
    "0.000634217",
    "1.2345675e6",
    "5.",
    "+7",
    "1E-3",
    ".5",
    "-0",
    "0",
    "-0.0",
    "4.9e-324",
    "1.7976931348623157e308",
    "0.1e1",
    "123456789012345678",
    "99999.99",
    "999999.9",
]
case(
    "values.float_formatting",
    put("/metrics/job/v", "".join(f'fv{{i="{i:02d}"}} {v}\n' for i, v in enumerate(_FLOATS))),
    ALL,
)
_SPECIAL = ["NaN", "nan", "Inf", "+Inf", "-Inf", "inf", "+inf", "Infinity", "-infinity", "INF"]
case(
    "values.special_floats",
    put("/metrics/job/v", "".join(f'sv{{i="{i:02d}"}} {v}\n' for i, v in enumerate(_SPECIAL))),
    ALL,
)
for _i, _bad in enumerate(["0x1p3", "1_000", "+NaN", "0x10", "1e309", "abc", "1.2.3", "--1", "1e"]):
    case(f"values.rejected_{_i:02d}", put("/metrics/job/v", f"m {_bad}\n"), API)
case("values.negative_zero_json", put("/metrics/job/v", "# TYPE g gauge\ng -0\n"), ALL)

# ============================================================================================
# text: the text format parser (spec 4.4)

case("text.no_final_newline", put("/metrics/job/t", "m 1"), API)
case("text.no_final_newline_second_line", put("/metrics/job/t", "a 1\nm 1"))
case("text.crlf", put("/metrics/job/t", "mcrlf 1\r\n"), API)
case("text.type_after_samples", put("/metrics/job/t", "m 1\n# TYPE m gauge\n"), API)
case("text.type_twice", put("/metrics/job/t", "# TYPE m gauge\n# TYPE m gauge\nm 1\n"))
case("text.unknown_type", put("/metrics/job/t", "# TYPE m foo\nm 1\n"))
case("text.type_gaugehistogram", put("/metrics/job/t", "# TYPE m gaugehistogram\nm 1\n"))
case("text.type_info", put("/metrics/job/t", "# TYPE m info\nm 1\n"))
case("text.type_without_type_word", put("/metrics/job/t", "# TYPE m\nm 1\n"), METRICS)
case("text.help_twice", put("/metrics/job/t", "# HELP m one\n# HELP m two\nm 1\n"))
case("text.help_after_samples", put("/metrics/job/t", "m 1\n# HELP m late help\n"), METRICS)
case("text.help_without_space", put("/metrics/job/t", "#HELP x y\nx 1\n"), METRICS)
case("text.help_empty_docstring", put("/metrics/job/t", "# HELP eh \neh 1\n"), METRICS, API)
case("text.help_name_only", put("/metrics/job/t", "# HELP eh\neh 1\n"), METRICS)
case(
    "text.help_escapes",
    put("/metrics/job/t", "# HELP esc Help with \\\\ backslash and \\n newline\nesc 1\n"),
    ALL,
)
case("text.help_invalid_escape", put("/metrics/job/t", "# HELP m tab\\there\nm 1\n"))
case("text.help_raw_quote", put("/metrics/job/t", '# HELP m say "hi"\nm 1\n'), METRICS)
case("text.help_unicode", put("/metrics/job/t", "# HELP m Grüße ✓\nm 1\n"), METRICS, API)
case(
    "text.help_invalid_utf8", put("/metrics/job/t", b"# HELP m bad \xff byte\nm 1\n"), METRICS, API
)
case(
    "text.label_value_escapes",
    put("/metrics/job/t", 'esc{path="C:\\\\dir\\"q\\"\\nx"} 1\n'),
    ALL,
)
case("text.label_value_invalid_escape", put("/metrics/job/t", 'm{a="x\\ty"} 1\n'))
case("text.label_value_raw_newline", put("/metrics/job/t", 'm{a="x\ny"} 1\n'))
case("text.label_value_unquoted", put("/metrics/job/t", "m{a=b} 1\n"))
case("text.label_value_invalid_utf8", put("/metrics/job/t", b'm{a="\xff"} 1\n'), API)
case("text.label_value_unicode", put("/metrics/job/t", 'm{a="日本語"} 1\n'), METRICS)
case("text.duplicate_label", put("/metrics/job/t", 'mld{a="1",a="2"} 1\n'))
case("text.reserved_label_name", put("/metrics/job/t", 'm{__name__="x"} 1\n'))
case("text.dunder_label_name", put("/metrics/job/t", 'm{__x="1"} 1\n'), ALL)
case("text.label_name_digit", put("/metrics/job/t", 'm{1a="1"} 1\n'), API)
case("text.metric_name_dot", put("/metrics/job/t", "m.x 1\n"))
case("text.metric_name_non_ascii", put("/metrics/job/t", "mé 1\n"))
case("text.metric_name_colon", put("/metrics/job/t", "ns:sub:m 1\n"), METRICS)
case("text.metric_name_digit", put("/metrics/job/t", "1m 1\n"))
case("text.timestamp_rejected", put("/metrics/job/t", "m 1 1000\n"), ALL)
case("text.timestamp_zero_rejected", put("/metrics/job/t", "m 1 0\n"), API)
case("text.timestamp_negative_rejected", put("/metrics/job/t", "m 1 -5\n"), API)
case("text.timestamp_not_integer", put("/metrics/job/t", "m 1 1.5\n"), API)
case("text.timestamp_spurious", put("/metrics/job/t", "m 1 1000 x\n"))
case("text.exemplar", put("/metrics/job/t", '# TYPE c counter\nc_total 1 # {t="1"} 1\n'))
case("text.eof_comment", put("/metrics/job/t", "m 1\n# EOF\n"), METRICS)
case("text.other_comments", put("/metrics/job/t", "# hello\n# UNIT m seconds\nm 1\n#\n"), METRICS)
case(
    "text.whitespace_variants",
    put(
        "/metrics/job/t",
        '  lead 1\ntab\t2\nspaces    3\nbr{ a = "1" , b="2", } 4\nempty{} 5\n \t\n\n',
    ),
    METRICS,
)
case("text.empty_braces_label_only", put("/metrics/job/t", "m{,} 1\n"))
case(
    "text.non_contiguous_family",
    put("/metrics/job/t", 'nc{a="1"} 1\nother 1\nnc{a="2"} 2\n'),
    METRICS,
)
case("text.family_without_samples_dropped", put("/metrics/job/t", "# TYPE e gauge\nm 1\n"), ALL)
case("text.missing_value", put("/metrics/job/t", "m\n"))
case("text.missing_value_after_labels", put("/metrics/job/t", 'm{a="1"}\n'))
case("text.unclosed_braces", put("/metrics/job/t", 'm{a="1" 1\n'))
case("text.same_series_twice", put("/metrics/job/t", "m 1\nm 2\n"), API)
case("text.binary_garbage", put("/metrics/job/t", b"\x00\x01\x02\n"))
case("text.json_body", put("/metrics/job/t", '{"m": 1}\n', "application/json"))

# ============================================================================================
# gzip: request decompression (spec 4.1)

_GZ_BODY = pb_gzip(b"# TYPE gz gauge\ngz 1\n")
case("gzip.valid", put("/metrics/job/g", _GZ_BODY, headers=GZIP), ALL)
case("gzip.short_plain_body_labelled", put("/metrics/job/g", "m 1\n", headers=GZIP), API)
case("gzip.plain_body_labelled", put("/metrics/job/g", "plain_metric 1\n", headers=GZIP), API)
case("gzip.empty_body", put("/metrics/job/g", headers=GZIP), API)
case(
    "gzip.upper_case_plain_body",
    put("/metrics/job/g", "m 1\n", headers=(("Content-Encoding", "GZIP"),)),
)
case(
    "gzip.upper_case_gzip_body",
    put("/metrics/job/g", _GZ_BODY, headers=(("Content-Encoding", "GZIP"),)),
)
case(
    "gzip.deflate_ignored",
    put("/metrics/job/g", "m 1\n", headers=(("Content-Encoding", "deflate"),)),
    API,
)
case(
    "gzip.identity_ignored",
    put("/metrics/job/g", "m 1\n", headers=(("Content-Encoding", "identity"),)),
    API,
)
case(
    "gzip.protobuf_body",
    put(
        "/metrics/job/g",
        pb_gzip(pb_family("gzpb", "GAUGE", [{"gauge": 2}])),
        PROTOBUF_DELIMITED,
        GZIP,
    ),
    METRICS,
)
case("gzip.post", post("/metrics/job/g", _GZ_BODY, headers=GZIP), API)
case(
    "gzip.delete_without_body",
    put("/metrics/job/g", "m 1\n"),
    delete("/metrics/job/g", headers=GZIP),
    API,
)
case(
    "gzip.delete_with_gzip_body",
    put("/metrics/job/g", "m 1\n"),
    delete("/metrics/job/g", _GZ_BODY, headers=GZIP),
    API,
)
_GZ_REASON = (
    "1.5.1 accepts a damaged gzip stream (bad deflate data, bad checksum, missing trailer, "
    "trailing garbage) as if it were complete or empty; pushgate rejects it with 400"
)
_GZ_SANE: dict[int, Observation] = {0: {"status": 400}, 1: {"status": 200, "json": {"data": []}}}
differs(
    "gzip.corrupt_deflate_data",
    _GZ_REASON,
    [put("/metrics/job/g", _GZ_BODY[:10] + b"\x07\x00\x00\x00", headers=GZIP), API],
    _GZ_SANE,
)
differs(
    "gzip.garbage_after_header",
    _GZ_REASON,
    [put("/metrics/job/g", _GZ_BODY[:10] + b"\xff" * 6, headers=GZIP), API],
    _GZ_SANE,
)
_bad_crc = bytearray(_GZ_BODY)
_bad_crc[-7] ^= 0xFF
differs(
    "gzip.bad_checksum",
    _GZ_REASON,
    [put("/metrics/job/g", bytes(_bad_crc), headers=GZIP), API],
    _GZ_SANE,
)
differs(
    "gzip.missing_trailer",
    _GZ_REASON,
    [put("/metrics/job/g", _GZ_BODY[:-8], headers=GZIP), API],
    _GZ_SANE,
)
differs(
    "gzip.trailing_garbage",
    _GZ_REASON,
    [put("/metrics/job/g", _GZ_BODY + b"trailing garbage", headers=GZIP), API],
    _GZ_SANE,
)
differs(
    "gzip.truncated_stream",
    _GZ_REASON,
    [put("/metrics/job/g", _GZ_BODY[:-12], headers=GZIP), API],
    _GZ_SANE,
)

# ============================================================================================
# protobuf: delimited protobuf pushes (spec 4.2, 4.3)

_PB = PROTOBUF_DELIMITED
_L = [("path", "x")]
case(
    "protobuf.every_type",
    put(
        "/metrics/job/pb",
        pb_family("pc", "COUNTER", [{"counter": 1.5}], help="A counter.")
        + pb_family("pg", "GAUGE", [{"labels": _L, "gauge": -2}])
        + pb_family("pu", "UNTYPED", [{"untyped": 3}])
        + pb_family(
            "ps",
            "SUMMARY",
            [{"summary": {"count": 4, "sum": 5.5, "quantiles": [(0.5, 1), (0.9, 2)]}}],
        )
        + pb_family(
            "ph",
            "HISTOGRAM",
            [{"histogram": {"count": 6, "sum": 7, "buckets": [(1, 2), (5, 4)]}}],
        ),
        _PB,
    ),
    ALL,
)
case(
    "protobuf.histogram_with_inf",
    put(
        "/metrics/job/pb",
        pb_family(
            "ph",
            "HISTOGRAM",
            [{"histogram": {"count": 6, "sum": 7, "buckets": [(1, 2), (float("inf"), 6)]}}],
        ),
        _PB,
    ),
    ALL,
)
case(
    "protobuf.unset_type_is_counter",
    put("/metrics/job/pb", pb_family("nt", None, [{"counter": 1}]), _PB),
    METRICS,
)
case(
    "protobuf.value_field_mismatch",
    put("/metrics/job/pb", pb_family("mm", "GAUGE", [{"counter": 1}]), _PB),
    API,
)
case(
    "protobuf.no_value_field",
    put("/metrics/job/pb", pb_family("nv", "GAUGE", [{"labels": _L}]), _PB),
    API,
)
case(
    "protobuf.duplicate_family_last_wins",
    put(
        "/metrics/job/pb",
        pb_family("pbd", "GAUGE", [{"labels": [("a", "1")], "gauge": 1}])
        + pb_family("pbd", "GAUGE", [{"labels": [("a", "2")], "gauge": 2}]),
        _PB,
    ),
    ALL,
)
case(
    "protobuf.empty_family_stored_not_exposed",
    put(
        "/metrics/job/pb",
        pb_family("ef", "GAUGE", []) + pb_family("g", "GAUGE", [{"gauge": 1}]),
        _PB,
    ),
    ALL,
)
case("protobuf.empty_body", put("/metrics/job/pb", b"", _PB), API)
case(
    "protobuf.truncated",
    put("/metrics/job/pb", pb_family("t", "GAUGE", [{"gauge": 1}])[:-3], _PB),
    API,
)
case("protobuf.text_body", put("/metrics/job/pb", "m 1\n", _PB), API)
case("protobuf.garbage_length", put("/metrics/job/pb", b"\xe8\x07\x00", _PB))
case(
    "protobuf.media_type_case_insensitive",
    put(
        "/metrics/job/pb",
        pb_family("ci", "GAUGE", [{"gauge": 1}]),
        "Application/Vnd.Google.Protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited",
    ),
    METRICS,
)
case(
    "protobuf.parameter_order",
    put(
        "/metrics/job/pb",
        pb_family("po", "GAUGE", [{"gauge": 1}]),
        "application/vnd.google.protobuf;encoding=delimited;proto=io.prometheus.client.MetricFamily",
    ),
    METRICS,
)
case(
    "protobuf.without_encoding_is_text",
    put(
        "/metrics/job/pb",
        pb_family("we", "GAUGE", [{"gauge": 1}]),
        "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily",
    ),
)
case(
    "protobuf.wrong_proto_is_text",
    put(
        "/metrics/job/pb",
        "wp 1\n",
        "application/vnd.google.protobuf; proto=foo.Bar; encoding=delimited",
    ),
    METRICS,
)
case(
    "protobuf.unparseable_content_type_is_text",
    put("/metrics/job/pb", "uct 1\n", "this is not a media type;;"),
    METRICS,
)
case(
    "protobuf.timestamp_rejected",
    put("/metrics/job/pb", pb_family("ts", "GAUGE", [{"gauge": 1, "timestamp_ms": 1000}]), _PB),
    ALL,
)
case(
    "protobuf.dunder_label_rejected",
    put("/metrics/job/pb", pb_family("dl", "GAUGE", [{"labels": [("__x", "1")], "gauge": 1}]), _PB),
    API,
)
case(
    "protobuf.invalid_label_name_rejected",
    put("/metrics/job/pb", pb_family("il", "GAUGE", [{"labels": [("a-b", "1")], "gauge": 1}]), _PB),
)
case(
    "protobuf.duplicate_label_rejected",
    put(
        "/metrics/job/pb",
        pb_family("dl", "GAUGE", [{"labels": [("a", "1"), ("a", "2")], "gauge": 1}]),
        _PB,
    ),
)
case(
    "protobuf.summary_quantile_label_rejected",
    put(
        "/metrics/job/pb",
        pb_family(
            "sq", "SUMMARY", [{"labels": [("quantile", "0.5")], "summary": {"count": 1, "sum": 1}}]
        ),
        _PB,
    ),
)
case(
    "protobuf.histogram_le_label_accepted",
    put(
        "/metrics/job/pb",
        pb_family(
            "hle",
            "HISTOGRAM",
            [{"labels": [("le", "x")], "histogram": {"count": 1, "sum": 1, "buckets": [(1, 1)]}}],
        ),
        _PB,
    ),
    METRICS,
)
case(
    "protobuf.label_order_sorted",
    put(
        "/metrics/job/pb",
        pb_family("lo", "GAUGE", [{"labels": [("z", "1"), ("a", "2"), ("m", "3")], "gauge": 1}]),
        _PB,
    ),
    ALL,
)
case(
    "protobuf.grouping_labels_override",
    put(
        "/metrics/job/pb/a/url",
        pb_family("go", "GAUGE", [{"labels": [("a", "body"), ("job", "x")], "gauge": 1}]),
        _PB,
    ),
    METRICS,
)
case(
    "protobuf.help_escaping",
    put(
        "/metrics/job/pb",
        pb_family("he", "GAUGE", [{"labels": [("v", 'q"\\\n')], "gauge": 1}], help="a\\b\nc"),
        _PB,
    ),
    ALL,
)
case(
    "protobuf.empty_help",
    put("/metrics/job/pb", pb_family("eh", "GAUGE", [{"gauge": 1}], help=""), _PB),
    ALL,
)
case(
    "protobuf.nan_and_inf",
    put(
        "/metrics/job/pb",
        pb_family(
            "ni",
            "GAUGE",
            [
                {"labels": [("v", "nan")], "gauge": float("nan")},
                {"labels": [("v", "inf")], "gauge": float("inf")},
                {"labels": [("v", "minf")], "gauge": float("-inf")},
                {"labels": [("v", "mzero")], "gauge": -0.0},
            ],
        ),
        _PB,
    ),
    METRICS,
    API,
)
case(
    "protobuf.different_label_sets",
    put(
        "/metrics/job/pb",
        pb_family(
            "dls",
            "GAUGE",
            [{"labels": [("a", "1")], "gauge": 1}, {"labels": [("b", "1")], "gauge": 2}],
        ),
        _PB,
    ),
    METRICS,
)
case(
    "protobuf.post_merges",
    put("/metrics/job/pb", "a 1\nb 1\n"),
    post("/metrics/job/pb", pb_family("b", "GAUGE", [{"gauge": 2}]), _PB),
    ALL,
)
_PB_SANE: dict[int, Observation] = {0: {"status": 400}, 1: {"status": 200}}
differs(
    "protobuf.empty_metric_name",
    "1.5.1 stores a family without a name and then serves an empty /metrics",
    [put("/metrics/job/pb", pb_family("", "GAUGE", [{"gauge": 1}]), _PB), METRICS],
    _PB_SANE,
)
differs(
    "protobuf.unset_metric_name",
    "1.5.1 stores a family without a name and then serves an empty /metrics",
    [put("/metrics/job/pb", pb_family(None, "GAUGE", [{"gauge": 1}]), _PB), METRICS],
    _PB_SANE,
)
differs(
    "protobuf.invalid_metric_name",
    "1.5.1 stores and exposes an invalid metric name, producing an unparsable exposition",
    [put("/metrics/job/pb", pb_family("p-g", "GAUGE", [{"gauge": 1}]), _PB), METRICS],
    _PB_SANE,
)
differs(
    "protobuf.gauge_histogram",
    "1.5.1 accepts a GAUGE_HISTOGRAM family and then truncates /metrics at its TYPE line",
    [
        put(
            "/metrics/job/pb",
            pb_family(
                "gh",
                "GAUGE_HISTOGRAM",
                [{"histogram": {"count": 1, "sum": 1, "buckets": [(1, 1)]}}],
            ),
            _PB,
        ),
        METRICS,
    ],
    _PB_SANE,
)

# ============================================================================================
# consistency: the push-time consistency check (spec 3.6, 3.7)

case(
    "consistency.type_conflict",
    put("/metrics/job/a", "# TYPE tc gauge\ntc 1\n"),
    put("/metrics/job/b", "# TYPE tc counter\ntc 1\n"),
    ALL,
)
case(
    "consistency.readme_sequence",
    put("/metrics/job/some_job", "some_metric 3.14\n"),
    put(
        "/metrics/job/some_job/instance/some_instance",
        '# TYPE some_metric counter\nsome_metric{label="val1"} 42\n',
    ),
    ALL,
)
case(
    "consistency.type_conflict_keeps_target_metrics",
    put("/metrics/job/a", "# TYPE tc gauge\ntc 1\n"),
    put("/metrics/job/b", "keep 1\n"),
    post("/metrics/job/b", "# TYPE tc counter\ntc 1\n"),
    API,
)
case(
    "consistency.duplicate_in_body_after_sanitising",
    put("/metrics/job/conf3", 'm5{job="x"} 1\nm5{job="y"} 2\n'),
    API,
)
_DUPLICATE_GROUP_REASON = (
    "1.5.1 records the failed push by creating the group anyway; its push_time_seconds and "
    "push_failure_time_seconds then duplicate the other group's series, so /metrics answers 500 "
    "and every later push fails until the group is deleted. pushgate rejects the push without "
    "creating a group that would break the store"
)
_DUPLICATE_GROUP_SANE: dict[int, Observation] = {
    0: {"status": 200},
    1: {
        "status": 400,
        "body": Contains("was collected before with the same name and label values"),
    },
    2: {"status": 200, "json": {"data": [{"labels": {"job": "x"}, "last_push_successful": True}]}},
    3: {"status": 200},
    4: {"status": 200},
}
differs(
    "consistency.duplicate_across_groups",
    _DUPLICATE_GROUP_REASON,
    [
        put("/metrics/job/x", "dd 1\n"),
        put("/metrics/job/x/instance@base64/=", "dd 2\n"),
        API,
        METRICS,
        put("/metrics/job/y", "other 1\n"),
    ],
    _DUPLICATE_GROUP_SANE,
)
differs(
    "consistency.duplicate_explicit_empty_instance",
    _DUPLICATE_GROUP_REASON,
    [
        put("/metrics/job/x", "dd 1\n"),
        put("/metrics/job/x/instance/", "dd 2\n"),
        API,
        METRICS,
        put("/metrics/job/y", "other 1\n"),
    ],
    _DUPLICATE_GROUP_SANE,
)
case(
    "consistency.summary_vs_count_family",
    put("/metrics/job/a", "foo_count 1\n"),
    put("/metrics/job/b", "# TYPE foo summary\nfoo_sum 1\nfoo_count 1\n"),
    API,
)
case(
    "consistency.count_family_vs_summary",
    put("/metrics/job/a", "# TYPE foo summary\nfoo_sum 1\nfoo_count 1\n"),
    put("/metrics/job/b", "foo_count 1\n"),
    API,
)
case(
    "consistency.sum_family_vs_summary",
    put("/metrics/job/a", "# TYPE foo summary\nfoo_sum 1\nfoo_count 1\n"),
    put("/metrics/job/b", "foo_sum 1\n"),
)
case(
    "consistency.histogram_vs_bucket_family",
    put("/metrics/job/a", '# TYPE foo histogram\nfoo_bucket{le="1"} 1\nfoo_count 1\n'),
    put("/metrics/job/b", "foo_bucket 1\n"),
)
case(
    "consistency.summary_bucket_family_is_fine",
    put("/metrics/job/a", "# TYPE foo summary\nfoo_sum 1\nfoo_count 1\n"),
    put("/metrics/job/b", "foo_bucket 1\n"),
    METRICS,
)
case(
    "consistency.counter_total_vs_gauge_is_fine",
    put("/metrics/job/a", "# TYPE f gauge\nf 1\n"),
    put("/metrics/job/b", "# TYPE f_total counter\nf_total 1\n"),
    METRICS,
)
case(
    "consistency.collision_in_one_body",
    put("/metrics/job/a", "# TYPE foo summary\nfoo_count 1\n# TYPE foo_sum gauge\nfoo_sum 1\n"),
)
case(
    "consistency.help_conflict",
    put("/metrics/job/a", "# HELP hc help one\nhc 1\n"),
    put("/metrics/job/b", "# HELP hc help two\nhc 2\n"),
    ALL,
    help_any={"hc": ("help one", "help two")},
)
case(
    "consistency.help_missing_in_one_group",
    put("/metrics/job/a", "# HELP hm has help\nhm 1\n"),
    put("/metrics/job/b", "hm 2\n"),
    METRICS,
    METRICS_PB,
    API,
    help_any={"hm": ("has help", None, "")},
)
case(
    "consistency.dunder_label_creates_failed_group",
    put("/metrics/job/t", 'm{__x="1"} 1\n'),
    API,
)
case(
    "consistency.own_metric_type_conflict",
    put("/metrics/job/t", "# TYPE process_open_fds counter\nprocess_open_fds 1\n"),
    API,
)
differs(
    "consistency.go_runtime_metric_name",
    "1.5.1 checks pushes against its Go runtime metrics; pushgate has no go_* metrics, so the "
    "name is free",
    [put("/metrics/job/t", "# TYPE go_threads counter\ngo_threads 1\n"), API],
    {0: {"status": 200}, 1: {"status": 200, "json": {"data": [{"labels": {"job": "t"}}]}}},
)
case(
    "consistency.inconsistent_group_blocks_later_pushes_only_of_conflict",
    put("/metrics/job/a", "# TYPE tc gauge\ntc 1\n"),
    put("/metrics/job/b", "# TYPE tc counter\ntc 1\n"),
    put("/metrics/job/b", "fine 1\n"),
    API,
)
case(
    "consistency.multiple_errors",
    put("/metrics/job/t", 'm{__x="1"} 1\nn{__y="2"} 2\n'),
)
case(
    "consistency.failure_then_success",
    put("/metrics/job/f", "m 1 5\n"),
    API,
    put("/metrics/job/f", "m 1\n"),
    API,
)

_UNCHECKED = Config(flags=("--web.enable-admin-api", "--push.disable-consistency-check"))
case(
    "unchecked.consistent_push",
    put("/metrics/job/u", "# TYPE g gauge\ng 1\n"),
    post("/metrics/job/u", "h 2\n"),
    ALL,
    config=_UNCHECKED,
)
case(
    "unchecked.timestamp_dropped",
    put("/metrics/job/u", "m 1\n"),
    put("/metrics/job/u", "m 2 1000\n"),
    API,
    config=_UNCHECKED,
)
case(
    "unchecked.delete",
    put("/metrics/job/u", "m 1\n"),
    delete("/metrics/job/u"),
    API,
    config=_UNCHECKED,
)
case("unchecked.parse_error_still_400", put("/metrics/job/u", "m 1"), config=_UNCHECKED)
case("unchecked.status_flag", status(), config=_UNCHECKED)
differs(
    "unchecked.type_conflict_breaks_scrape",
    "with the consistency check disabled, 1.5.1 stores inconsistent data and every /metrics "
    "scrape then fails with 500; pushgate still answers 202 but drops the conflicting push "
    "and records it as a failed push, so /metrics keeps working",
    [
        put("/metrics/job/a", "# TYPE x gauge\nx 1\n"),
        put("/metrics/job/b", "# TYPE x counter\nx 1\n"),
        METRICS,
        API,
    ],
    {
        0: {"status": 202},
        1: {"status": 202},
        2: {"status": 200},
        3: {
            "status": 200,
            "json": {
                "data": [
                    {"labels": {"job": "a"}, "last_push_successful": True},
                    {"labels": {"job": "b"}, "last_push_successful": False},
                ]
            },
        },
    },
    config=_UNCHECKED,
)

# ============================================================================================
# exposition: ordering, formatting and content negotiation (spec 5)

case(
    "exposition.family_order",
    put("/metrics/job/o", "zz 1\naa 1\nmm 1\npu 1\npushy 1\nZ 1\n_u 1\n"),
    METRICS,
    METRICS_PB,
)
case(
    "exposition.sample_order",
    put("/metrics/job/o", 'so{b="2"} 1\nso 2\nso{a="1",b="1"} 3\nso{a="1"} 4\nso{a="0",b="9"} 5\n'),
    put("/metrics/job/o/x/1", 'so{a="a"} 6\n'),
    put("/metrics/job/n", "so 7\n"),
    METRICS,
    METRICS_PB,
)
case(
    "exposition.label_value_order_bytewise",
    put("/metrics/job/o", 'bw{v="b"} 1\nbw{v="B"} 2\nbw{v="ä"} 3\nbw{v="10"} 4\nbw{v="9"} 5\n'),
    METRICS,
)
case(
    "exposition.le_and_quantile_last",
    put(
        "/metrics/job/o",
        '# TYPE h histogram\nh_bucket{z="1",le="1"} 1\nh_count{z="1"} 1\nh_sum{z="1"} 1\n'
        '# TYPE s summary\ns{z="1",quantile="0.5"} 1\ns_count{z="1"} 1\ns_sum{z="1"} 1\n',
    ),
    METRICS,
)
for _name, _accept in [
    ("none", None),
    ("any", "*/*"),
    ("text_plain", "text/plain"),
    ("text_plain_version", "text/plain; version=0.0.4"),
    ("openmetrics", "application/openmetrics-text; version=1.0.0"),
    (
        "prometheus_scraper",
        "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
        "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
    ),
    ("protobuf_delimited", PROTOBUF_ACCEPT),
    ("protobuf_text", PROTOBUF_ACCEPT.replace("delimited", "text")),
    ("protobuf_compact_text", PROTOBUF_ACCEPT.replace("delimited", "compact-text")),
    ("protobuf_unknown_encoding", PROTOBUF_ACCEPT.replace("delimited", "bogus")),
    (
        "q_order_protobuf_first",
        "text/plain;q=0.5," + PROTOBUF_ACCEPT + ";q=0.9",
    ),
    ("q_order_text_first", "text/plain;q=0.9," + PROTOBUF_ACCEPT + ";q=0.5"),
    ("json", "application/json"),
    ("garbage", "not a media type"),
]:
    case(
        f"exposition.accept_{_name}",
        put("/metrics/job/n", "# TYPE neg gauge\nneg 1\n"),
        metrics(_accept),
    )
case(
    "exposition.accept_encoding_gzip",
    put("/metrics/job/n", "m 1\n"),
    metrics(encoding="gzip"),
    metrics(PROTOBUF_ACCEPT, "gzip"),
)
case(
    "exposition.accept_encoding_deflate",
    put("/metrics/job/n", "m 1\n"),
    metrics(encoding="deflate"),
)
case(
    "exposition.accept_encoding_list",
    put("/metrics/job/n", "m 1\n"),
    metrics(encoding="br;q=1.0, gzip;q=0.8, *;q=0.1"),
)
case("exposition.empty_store", METRICS, METRICS_PB)
case("exposition.head", req("HEAD", "/metrics"))
case("exposition.post", req("POST", "/metrics", body="m 1\n"))
case("exposition.trailing_slash", req("GET", "/metrics/"))
case("exposition.query_string", put("/metrics/job/n", "m 1\n"), metrics(path="/metrics?x=1"))
case(
    "exposition.histogram_inf_protobuf",
    put("/metrics/job/o", '# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 2\n'),
    METRICS_PB,
)

# ============================================================================================
# api: the JSON API (spec 6)

case("api.empty", API)
case(
    "api.all_types",
    put(
        "/metrics/job/sh/instance/i1",
        _SUMMARY
        + _HISTOGRAM
        + "# TYPE big gauge\nbig 1e6\n"
        + "# HELP esc Help with \\\\ backslash and \\n newline\n# TYPE esc gauge\n"
        + 'esc{path="C:\\\\dir\\"q\\"\\nx"} 1\n'
        + "# TYPE c counter\nc 1\nu -0\n",
    ),
    API,
)
case(
    "api.html_characters",
    put("/metrics/job/h/l/%3Cb%3E", '# HELP m a < b & c > d\nm{v="<&>"} 1\n'),
    API,
)
case(
    "api.family_times",
    put("/metrics/job/ft", "a 1\nb 1\n"),
    post("/metrics/job/ft", "b 2\n"),
    post("/metrics/job/ft", "c 3\n"),
    API,
)
case(
    "api.many_groups_sorted",
    [put(f"/metrics/job/g{i}/k/{i % 3}", f"m{i} {i}\n") for i in range(8)],
    API,
)
case("api.options", req("OPTIONS", "/api/v1/metrics"))
case("api.options_status", req("OPTIONS", "/api/v1/status"))
case("api.options_unknown", req("OPTIONS", "/api/v1/whatever"))
case("api.status", status())
case("api.post_metrics", req("POST", "/api/v1/metrics"))
case("api.unknown", req("GET", "/api/v1/foo"))
case("api.head", req("HEAD", "/api/v1/metrics"))

# ============================================================================================
# http: routing, errors and health (spec 1, 7)

case("http.not_found", req("GET", "/foo"))
case("http.not_found_put", req("PUT", "/foo/bar", body="m 1\n"))
case("http.legacy_jobs_api", req("PUT", "/metrics/jobs/x", body="m 1\n"))
case("http.push_route_get", req("GET", "/metrics/job/x"))
case("http.push_route_get_labels", req("GET", "/metrics/job/x/a/b"))
case("http.push_route_options", req("OPTIONS", "/metrics/job/x"))
case("http.push_route_options_base64", req("OPTIONS", "/metrics/job@base64/eA/a/b"))
case("http.push_route_patch", req("PATCH", "/metrics/job/x", body="m 1\n"))
case("http.metrics_options", req("OPTIONS", "/metrics"))
case("http.metrics_job_no_name", req("PUT", "/metrics/job", body="m 1\n"))
case("http.metrics_job_trailing_slash_put", req("PUT", "/metrics/job/", body="m 1\n"))
case("http.metrics_job_trailing_slash_delete", req("DELETE", "/metrics/job/"))
case("http.clean_double_slash", req("POST", "/metrics/job/j/a//b/c", body="m 1\n"))
case("http.clean_dot", req("PUT", "/metrics/job/j/./a/b", body="m 1\n"))
case("http.clean_dot_dot", req("PUT", "/metrics/job/j/x/../a/b", body="m 1\n"))
case("http.clean_get", req("GET", "//metrics"))
case("http.wrong_case_metrics", req("GET", "/Metrics"))
case("http.wrong_case_job", req("PUT", "/metrics/JOB/x", body="m 1\n"))
case("http.wrong_case_healthy", req("GET", "/-/Healthy"))
case("http.invalid_percent_escape", req("GET", "/metrics/job/x/a/%zz"))
case("http.healthy", req("GET", "/-/healthy"))
case("http.ready", req("GET", "/-/ready"))
case("http.healthy_head", req("HEAD", "/-/healthy"))
case("http.healthy_post", req("POST", "/-/healthy"))
case("http.reload_missing", req("POST", "/-/reload"))
case("http.quit_put_disabled", req("PUT", "/-/quit"))
case("http.quit_post_disabled", req("POST", "/-/quit"))
case("http.quit_get", req("GET", "/-/quit"))
case("http.quit_delete", req("DELETE", "/-/quit"))
case("http.ui_root", req("GET", "/"))
case("http.ui_status", req("GET", "/status"))
case("http.ui_root_with_groups", put("/metrics/job/ui/l@base64/=", "m 1\n"), req("GET", "/"))
case("http.static_missing", req("GET", "/static/does-not-exist.js"))
case("http.static_post", req("POST", "/static/functions.js"))
differs(
    "http.pprof",
    "1.5.1 serves the Go profiler under /debug/pprof; pushgate has no such endpoint",
    [req("GET", "/debug/pprof/"), req("GET", "/debug/pprof/goroutine")],
    {0: {"status": 404}, 1: {"status": 404}},
)
case(
    "http.options_root",
    req("OPTIONS", "/"),
)

# ============================================================================================
# admin and lifecycle (spec 6.3, 7.2)

case(
    "admin.wipe",
    put("/metrics/job/a", "m 1\n"),
    put("/metrics/job/b/x/y", "n 1\n"),
    req("PUT", "/api/v1/admin/wipe"),
    API,
    METRICS,
)
case("admin.wipe_empty", req("PUT", "/api/v1/admin/wipe"), API)
case("admin.wipe_get", req("GET", "/api/v1/admin/wipe"))
case("admin.wipe_post", req("POST", "/api/v1/admin/wipe"))
case("admin.wipe_options", req("OPTIONS", "/api/v1/admin/wipe"))
_NO_ADMIN = Config(flags=())
case(
    "admin.wipe_disabled",
    put("/metrics/job/a", "m 1\n"),
    req("PUT", "/api/v1/admin/wipe"),
    API,
    config=_NO_ADMIN,
)
case("admin.status_flags_default", status(), config=_NO_ADMIN)
_LIFECYCLE = Config(flags=("--web.enable-admin-api", "--web.enable-lifecycle"), fresh=True)
case("admin.quit_get_with_lifecycle", req("GET", "/-/quit"), config=_LIFECYCLE)
case("admin.status_flags_lifecycle", status(), config=_LIFECYCLE)
case("admin.quit_put", req("PUT", "/-/quit"), config=_LIFECYCLE)
case("admin.quit_post", req("POST", "/-/quit"), config=_LIFECYCLE)

# ============================================================================================
# routing: route prefix, external URL, telemetry path (spec 8)

_PREFIX = Config(flags=("--web.enable-admin-api", "--web.route-prefix=/pg"), prefix="/pg")
case(
    "routing.prefix_push_and_scrape",
    put("/pg/metrics/job/a", "m 1\n"),
    metrics(path="/pg/metrics"),
    api("/pg"),
    config=_PREFIX,
)
case("routing.prefix_unprefixed_push", put("/metrics/job/a", "m 1\n"), config=_PREFIX)
case("routing.prefix_unprefixed_scrape", req("GET", "/metrics"), config=_PREFIX)
case(
    "routing.prefix_healthy", req("GET", "/pg/-/healthy"), req("GET", "/-/healthy"), config=_PREFIX
)
case("routing.prefix_ready", req("GET", "/pg/-/ready"), config=_PREFIX)
case("routing.prefix_without_slash", req("GET", "/pg"), config=_PREFIX)
case("routing.prefix_ui", req("GET", "/pg/"), req("GET", "/pg/status"), config=_PREFIX)
case("routing.prefix_status", status("/pg"), req("GET", "/api/v1/status"), config=_PREFIX)
case(
    "routing.prefix_quit_get_root", req("GET", "/-/quit"), req("GET", "/pg/-/quit"), config=_PREFIX
)
case("routing.prefix_quit_put", req("PUT", "/pg/-/quit"), config=_PREFIX)
case(
    "routing.prefix_wipe",
    put("/pg/metrics/job/a", "m 1\n"),
    req("PUT", "/pg/api/v1/admin/wipe"),
    req("PUT", "/api/v1/admin/wipe"),
    api("/pg"),
    config=_PREFIX,
)
case(
    "routing.prefix_delete",
    put("/pg/metrics/job/a", "m 1\n"),
    delete("/pg/metrics/job/a"),
    api("/pg"),
    config=_PREFIX,
)
case("routing.prefix_push_405", req("GET", "/pg/metrics/job/a"), config=_PREFIX)
_EXTERNAL = Config(
    flags=("--web.enable-admin-api", "--web.external-url=http://example.com/ext/"), prefix="/ext"
)
case(
    "routing.external_url_prefix",
    put("/ext/metrics/job/a", "m 1\n"),
    metrics(path="/ext/metrics"),
    req("GET", "/-/healthy"),
    req("GET", "/ext/-/healthy"),
    req("GET", "/ext"),
    config=_EXTERNAL,
)
case("routing.external_url_status", status("/ext"), config=_EXTERNAL)
_TELEMETRY = Config(flags=("--web.enable-admin-api", "--web.telemetry-path=/prom-metrics"))
case(
    "routing.telemetry_path",
    put("/metrics/job/a", "m 1\n"),
    metrics(path="/prom-metrics"),
    req("GET", "/metrics"),
    config=_TELEMETRY,
)
case("routing.telemetry_path_status", status(), config=_TELEMETRY)
case("routing.telemetry_path_head", req("HEAD", "/prom-metrics"), config=_TELEMETRY)
_BOTH = Config(
    flags=(
        "--web.enable-admin-api",
        "--web.route-prefix=/pg",
        "--web.telemetry-path=/scrape",
    ),
    prefix="/pg",
)
case(
    "routing.prefix_and_telemetry_path",
    put("/pg/metrics/job/a", "m 1\n"),
    metrics(path="/pg/scrape"),
    req("GET", "/scrape"),
    req("GET", "/pg/metrics"),
    config=_BOTH,
)
