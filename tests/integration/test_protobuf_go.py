"""The protobuf formats against the real Pushgateway 1.5.1.

Bodies rendered by ``pushgate.core.protobuf`` are pushed to the Go binary and
read back in every protobuf exposition; malformed bodies, Content-Types and
Accept headers are sent to it and its answers compared with ours.
"""

from __future__ import annotations

import math
import struct
import urllib.error
import urllib.request
from itertools import count

import pytest

from pushgate.core.errors import ConsistencyError, ParseError
from pushgate.core.model import Metric, MetricFamily
from pushgate.core.protobuf import (
    PROTOBUF_DELIMITED_CONTENT_TYPE,
    PROTOBUF_MEDIA_TYPE,
    RESPONSE_CONTENT_TYPES,
    ExpositionFormat,
    is_protobuf_delimited,
    negotiate_exposition,
    parse_delimited,
    render_compact_text,
    render_delimited,
    render_text_debug,
)
from tests.conftest import GatewayProcess

pytestmark = pytest.mark.integration

CONSISTENCY_PREFIX = "pushed metrics are invalid or inconsistent with existing metrics: "
_jobs = count()


def request(
    gw: GatewayProcess,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, bytes, str]:
    req = urllib.request.Request(gw.url + path, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read(), resp.headers.get("Content-Type", "")
    except urllib.error.HTTPError as e:
        with e:
            return e.code, e.read(), e.headers.get("Content-Type", "")


def push(
    gw: GatewayProcess, body: bytes, content_type: str = PROTOBUF_DELIMITED_CONTENT_TYPE
) -> tuple[int, str, str]:
    """PUT to a fresh group; (status, body text, job)."""
    job = f"pb{next(_jobs)}"
    status, text, _ = request(
        gw, "PUT", f"/metrics/job/{job}", body, {"Content-Type": content_type}
    )
    return status, text.decode("utf-8", "replace").removesuffix("\n"), job


def scrape(gw: GatewayProcess, fmt: ExpositionFormat) -> bytes:
    status, body, content_type = request(
        gw, "GET", "/metrics", headers={"Accept": RESPONSE_CONTENT_TYPES[fmt]}
    )
    assert status == 200
    assert content_type == RESPONSE_CONTENT_TYPES[fmt]
    return body


PUSHED = [
    MetricFamily("pg_gauge", "gauge", "a gauge", (Metric((("a", "1"),), -2.5),)),
    MetricFamily(
        "pg_counter",
        "counter",
        "",
        (Metric((), 3.0), Metric((("x", 'y\n"\\é'),), 1e6)),
    ),
    MetricFamily("pg_untyped", "untyped", None, (Metric((("z", "1"),), math.inf),)),
    MetricFamily(
        "pg_summary",
        "summary",
        "quantiles",
        (
            Metric(
                (("q", "1"),),
                sample_count=7,
                sample_sum=1.5,
                quantiles=((0.5, 1.0), (0.99, 2.0)),
            ),
        ),
    ),
    MetricFamily(
        "pg_histogram",
        "histogram",
        None,
        (
            Metric((), sample_count=5, sample_sum=9.5, buckets=((0.1, 1), (1e6, 4))),
            Metric((("l", "2"),), sample_count=3, sample_sum=-1.0, buckets=((math.inf, 3),)),
        ),
    ),
    MetricFamily("pg_empty", "gauge", "not exposed", ()),
]


def sanitised(families: list[MetricFamily], job: str) -> dict[str, MetricFamily]:
    """What Go exposes for ``families`` pushed to ``job``: grouping labels
    added, labels sorted, empty families dropped (metric order ignored)."""
    out = {}
    for f in families:
        if not f.metrics:
            continue
        metrics = tuple(
            sorted(
                (
                    Metric(
                        tuple(sorted((*m.labels, ("instance", ""), ("job", job)))),
                        m.value,
                        m.sample_count,
                        m.sample_sum,
                        m.quantiles,
                        m.buckets,
                    )
                    for m in f.metrics
                ),
                key=repr,
            )
        )
        out[f.name] = MetricFamily(f.name, f.type, f.help, metrics)
    return out


def test_pushed_families_come_back_in_every_protobuf_exposition(
    go_gateway: GatewayProcess,
) -> None:
    status, text, job = push(go_gateway, render_delimited(PUSHED))
    assert (status, text) == (200, "")

    # Delimited: Go's whole output parses, its own families included.
    exposed = {f.name: f for f in parse_delimited(scrape(go_gateway, "protobuf-delimited"))}
    assert "go_gc_duration_seconds" in exposed
    ours = {
        name: MetricFamily(f.name, f.type, f.help, tuple(sorted(f.metrics, key=repr)))
        for name, f in exposed.items()
        if name.startswith("pg_")
    }
    assert ours == sanitised(PUSHED, job)

    # The debug renderings of what Go exposed are byte-identical to Go's.
    names = sorted(ours)
    families = [exposed[name] for name in names]
    text_blocks = [
        block + "\n\n"
        for block in scrape(go_gateway, "protobuf-text").decode().split("\n\n")
        if block.split("\n", 1)[0] in {f'name: "{n}"' for n in names}
    ]
    assert "".join(text_blocks) == render_text_debug(families).decode()
    compact_lines = [
        line + "\n"
        for line in scrape(go_gateway, "protobuf-compact-text").decode().split("\n")
        if line.split(" ", 1)[0] in {f'name:"{n}"' for n in names}
    ]
    assert "".join(compact_lines) == render_compact_text(families).decode()


def test_own_families_render_like_go(go_gateway: GatewayProcess) -> None:
    # Families whose values do not move between two scrapes.
    stable = {"go_info", "pushgateway_build_info", "process_max_fds"}
    exposed = [
        f for f in parse_delimited(scrape(go_gateway, "protobuf-delimited")) if f.name in stable
    ]
    assert len(exposed) == len(stable)
    go_lines = [
        line + "\n"
        for line in scrape(go_gateway, "protobuf-compact-text").decode().split("\n")
        if line.split(" ", 1)[0].removeprefix('name:"').removesuffix('"') in stable
    ]
    assert "".join(go_lines) == render_compact_text(exposed).decode()


def frame(message: bytes) -> bytes:
    return bytes([len(message)]) + message


@pytest.mark.parametrize(
    "body",
    [
        b"some_metric 3.14\n",
        b"\x05",
        b"\x80",
        b"\x02\x0a",
        b"\x80\x80\x80\x80\x80\x01",
        b"\x80\x80\x80\x80\x01",
        frame(b"\x00\x00"),
        frame(b"\x02\x01x"),
        frame(b"\x0f\x00"),
        frame(b"\x0c"),
        frame(b"\x0b"),
        frame(b"\x2b\x2c"),
        frame(b"\x08\x01"),
        frame(b"\xff\xff"),
        frame(b"\x0a\x01g\x22\x02\x00\x00"),
        frame(b"\x0a\x01g\x22\x04\x0a\x02\x00\x00"),
        frame(b"\x0a\x01g\x18\x01\x22\x05\x0a\x01"),
        frame(b"\x0a\x01h\x18\x04\x22\x05\x3a\x03\x52\x01\xff"),
        frame(b"\x0a\x01h\x18\x04\x22\x06\x3a\x04\x62\x02\xff\xff"),
        frame(b"\x0a\x01h\x18\x04\x22\x06\x3a\x04\x7a\x02\xff\xff"),
    ],
)
def test_decoding_errors_match_go(go_gateway: GatewayProcess, body: bytes) -> None:
    status, go_text, _ = push(go_gateway, body)
    try:
        parse_delimited(body)
    except ParseError as e:
        assert (status, go_text) == (400, str(e))
    else:
        assert status == 200, go_text


def field(number: int, payload: bytes) -> bytes:
    """A length-delimited field (short payloads only)."""
    return bytes([number << 3 | 2, len(payload)]) + payload


def test_value_field_mismatches_match_go(go_gateway: GatewayProcess) -> None:
    # The body's labels already are what the store makes of them, so Go's dump
    # (taken after sanitising) equals ours.
    job = "mismatch"
    labels = b"".join(
        field(1, field(1, name) + field(2, value))
        for name, value in ((b"instance", b""), (b"job", job.encode()), (b"z", b"1"))
    )
    counter = field(3, b"\x09" + struct.pack("<d", 1.0))
    body = frame(field(1, b"mm") + b"\x18\x01" + field(4, labels + counter))
    with pytest.raises(ConsistencyError) as info:
        parse_delimited(body)
    assert str(info.value).endswith("counter:<value:1 > } is not a GAUGE")
    status, go_text, _ = request(
        go_gateway,
        "PUT",
        f"/metrics/job/{job}",
        body,
        {"Content-Type": PROTOBUF_DELIMITED_CONTENT_TYPE},
    )
    assert status == 400
    assert go_text.decode().removesuffix("\n") == CONSISTENCY_PREFIX + str(info.value)


def test_invalid_utf8_label_value_is_parsed_and_left_to_the_store(
    go_gateway: GatewayProcess,
) -> None:
    family = MetricFamily("pg_utf8", "gauge", None, (Metric((("a", "\udcff"),), 1.0),))
    body = render_delimited([family])
    assert parse_delimited(body) == [family]
    status, go_text, _ = push(go_gateway, body)
    assert status == 400
    assert go_text.startswith(CONSISTENCY_PREFIX)  # a store failure, not a parse error
    assert 'whose value is not utf8: "\\xff"' in go_text


PARAMS = "proto=io.prometheus.client.MetricFamily; encoding=delimited"


@pytest.mark.parametrize(
    "content_type",
    [
        PROTOBUF_DELIMITED_CONTENT_TYPE,
        f"Application/Vnd.Google.Protobuf; {PARAMS}",
        f"{PROTOBUF_MEDIA_TYPE};encoding=delimited;proto=io.prometheus.client.MetricFamily",
        f"{PROTOBUF_MEDIA_TYPE}; PROTO=io.prometheus.client.MetricFamily; Encoding=delimited",
        f'{PROTOBUF_MEDIA_TYPE}; proto="io.prometheus.client.MetricFamily"; encoding=delimited',
        f"{PROTOBUF_MEDIA_TYPE}; {PARAMS};",
        f"{PROTOBUF_MEDIA_TYPE} ; proto = io.prometheus.client.MetricFamily ;\tencoding=delimited",
        f"{PROTOBUF_MEDIA_TYPE}; {PARAMS}; charset=utf-8",
        f"{PROTOBUF_MEDIA_TYPE}; proto=io.prometheus.client.MetricFamily; encoding*=utf-8''delimited",
        f"{PROTOBUF_MEDIA_TYPE}; proto=io.prometheus.client.MetricFamily; encoding*0=deli; "
        "encoding*1=mited",
        "text/plain; version=0.0.4",
        PROTOBUF_MEDIA_TYPE,
        f"{PROTOBUF_MEDIA_TYPE}; proto=io.prometheus.client.MetricFamily",
        f"{PROTOBUF_MEDIA_TYPE}; proto=io.prometheus.client.MetricFamily; encoding=text",
        f"{PROTOBUF_MEDIA_TYPE}; proto=io.prometheus.client.MetricFamily; encoding=Delimited",
        f"{PROTOBUF_MEDIA_TYPE}; proto=foo.Bar; encoding=delimited",
        f"{PROTOBUF_MEDIA_TYPE}; {PARAMS}; encoding=delimited",
        f"{PROTOBUF_MEDIA_TYPE}; {PARAMS} x",
        f"{PROTOBUF_MEDIA_TYPE}; {PARAMS}; ;",
        f"{PROTOBUF_MEDIA_TYPE}/x; {PARAMS}",
    ],
)
def test_format_selection_matches_go(go_gateway: GatewayProcess, content_type: str) -> None:
    # A protobuf body is never valid text: Go answers 200 only if it chose protobuf.
    body = render_delimited([MetricFamily("pg_ct", "gauge", None, (Metric((), 1.0),))])
    status, go_text, _ = push(go_gateway, body, content_type)
    assert (status == 200) is is_protobuf_delimited(content_type), go_text


PD = f"{PROTOBUF_MEDIA_TYPE};proto=io.prometheus.client.MetricFamily;encoding=delimited"


@pytest.mark.parametrize(
    "accept",
    [
        "",
        "*/*",
        "text/plain",
        "application/openmetrics-text; version=1.0.0",
        "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
        "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
        PD,
        PD.replace("delimited", "text"),
        PD.replace("delimited", "compact-text"),
        f"{PD},application/openmetrics-text;version=1.0.0;q=0.8,text/plain;version=0.0.4;q=0.5",
        f"text/plain;q=0.5,{PD}",
        f"text/plain;q=0.9,{PD};q=0.5",
        f"{PD};q=0",
        f"text/plain;q=0,{PD};q=0",
        f"text/plain;version=1.0.0,{PD}",
        f"text/plain; version=0.0.4,{PD}",
        f"text/html,text/plain;version=0.0.4;q=0.1,{PD};q=0.05",
        f"text/*,{PD}",
        f"*/*;q=0.9,{PD};q=0.9",
        f"a/b;q=1e3,{PD}",
        f"{PD};q=nan,text/plain;q=0.1",
        f"text/plain;q=NaN,{PD};q=0.1",
        f"text/plain;q= 0.9,{PD};q=0.5",
        PD.replace(";proto", "; proto "),
        PD.replace("application", "Application"),
        PD.replace("=io.prometheus.client.MetricFamily", '="io.prometheus.client.MetricFamily"'),
        f"a/a;q=0.1,b/b;q=0.2,c/c;q=0.3,*/*;q=0.4,d/d;q=0.5,{PD};q=0.5,text/plain;q=0.5,e/e",
    ],
)
def test_accept_negotiation_matches_go(go_gateway: GatewayProcess, accept: str) -> None:
    status, _, content_type = request(go_gateway, "GET", "/metrics", headers={"Accept": accept})
    assert status == 200
    assert content_type == RESPONSE_CONTENT_TYPES[negotiate_exposition(accept)]
