"""The protobuf formats: delimited push bodies and the protobuf expositions.

Wire format: the proto2 schema ``io.prometheus.client`` of
``prometheus/client_model`` (``metrics.proto``), built here at import time from
a ``FileDescriptorProto`` in a private descriptor pool. There is no generated
``_pb2`` module, so no protoc runtime-version check and no clash with another
library that registers the same names in the default pool.

What this module reproduces, and from where (Pushgateway 1.5.1):

* format selection (spec 4.2): Go ``mime.ParseMediaType`` on ``Content-Type``;
* push bodies (spec 4.3): ``pbutil.ReadDelimited`` in a loop until EOF, a map
  by family name (the last family of a name wins), and the part of
  client_golang's ``checkMetricConsistency`` that compares the value field
  with the family type (it is a consistency failure in Go, not a parse error);
* scrape negotiation (spec 5.5): ``expfmt.Negotiate`` of prometheus/common
  0.37 with its ``goautoneg`` Accept parser;
* decoding errors: the messages of golang/protobuf 1.3 (the Debian build's),
  e.g. ``unexpected EOF``, ``proto: can't skip unknown wire type 7``;
* the debug renderings: ``proto.MarshalTextString`` (``encoding=text``) and
  ``proto.CompactTextString`` (``encoding=compact-text`` and the metric dumps
  inside client_golang error messages) of golang/protobuf 1.3.

Everything marked as Go's behaviour here was checked against the 1.5.1 binary
(``tests/integration/test_protobuf_go.py``).

Strings that are not valid UTF-8 (proto2 does not validate them, neither does
Go) are carried through the model decoded with ``surrogateescape``, so the
store can reject label values and names and the renderers can write the
original bytes back.
"""

from __future__ import annotations

import functools
import re
import struct
from collections.abc import Callable, Iterable
from operator import attrgetter
from typing import Any, Final, Literal

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, timestamp_pb2
from google.protobuf import unknown_fields as _unknown_fields
from google.protobuf.message import DecodeError

from pushgate.core.errors import ConsistencyError, ParseError
from pushgate.core.floats import format_float_json
from pushgate.core.goquote import go_quote
from pushgate.core.model import Labels, Metric, MetricFamily, MetricType

__all__ = [
    "PROTOBUF_COMPACT_TEXT_CONTENT_TYPE",
    "PROTOBUF_DELIMITED_CONTENT_TYPE",
    "PROTOBUF_MEDIA_TYPE",
    "PROTOBUF_TEXT_CONTENT_TYPE",
    "RESPONSE_CONTENT_TYPES",
    "TEXT_CONTENT_TYPE",
    "ExpositionFormat",
    "is_protobuf_delimited",
    "negotiate_exposition",
    "parse_delimited",
    "render_compact_text",
    "render_delimited",
    "render_metric_debug",
    "render_text_debug",
]

PROTOBUF_MEDIA_TYPE: Final = "application/vnd.google.protobuf"
_PROTO_PARAMS: Final = "; proto=io.prometheus.client.MetricFamily; encoding="
PROTOBUF_DELIMITED_CONTENT_TYPE: Final = PROTOBUF_MEDIA_TYPE + _PROTO_PARAMS + "delimited"
PROTOBUF_TEXT_CONTENT_TYPE: Final = PROTOBUF_MEDIA_TYPE + _PROTO_PARAMS + "text"
PROTOBUF_COMPACT_TEXT_CONTENT_TYPE: Final = PROTOBUF_MEDIA_TYPE + _PROTO_PARAMS + "compact-text"
TEXT_CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"

ExpositionFormat = Literal["text", "protobuf-delimited", "protobuf-text", "protobuf-compact-text"]

#: The response ``Content-Type`` of each exposition format (prometheus/common 0.37).
RESPONSE_CONTENT_TYPES: Final[dict[ExpositionFormat, str]] = {
    "text": TEXT_CONTENT_TYPE,
    "protobuf-delimited": PROTOBUF_DELIMITED_CONTENT_TYPE,
    "protobuf-text": PROTOBUF_TEXT_CONTENT_TYPE,
    "protobuf-compact-text": PROTOBUF_COMPACT_TEXT_CONTENT_TYPE,
}

_PROTO_MESSAGE: Final = "io.prometheus.client.MetricFamily"

# --------------------------------------------------------------------------------------
# Schema

_FDP = descriptor_pb2.FieldDescriptorProto
_STRING: Final = -1  # placeholder: TYPE_STRING, or TYPE_BYTES in the fallback schema
_MSG: Final = _FDP.TYPE_MESSAGE
_ENUM: Final = _FDP.TYPE_ENUM
_DOUBLE: Final = _FDP.TYPE_DOUBLE
_UINT64: Final = _FDP.TYPE_UINT64
_INT64: Final = _FDP.TYPE_INT64
_INT32: Final = _FDP.TYPE_INT32
_UINT32: Final = _FDP.TYPE_UINT32
_SINT32: Final = _FDP.TYPE_SINT32
_SINT64: Final = _FDP.TYPE_SINT64

_TIMESTAMP: Final = ".google.protobuf.Timestamp"

#: metrics.proto as Pushgateway 1.5.1 knows it (client_model 0.3: classic and
#: native histograms, exemplars), fields in *declaration* order, because the Go
#: text formats write fields in that order (``histogram`` = 7 before
#: ``timestamp_ms`` = 6). Entries: (name, number, repeated, type, type name).
#: Later fields (created timestamps, native-histogram exemplars, ``unit``) are
#: left undeclared on purpose: they are then skipped as unknown fields, checked
#: only for framing, exactly as 1.5.1 skips them (verified on the binary).
_SCHEMA: Final[tuple[tuple[str, tuple[tuple[str, int, bool, int, str], ...]], ...]] = (
    ("LabelPair", (("name", 1, False, _STRING, ""), ("value", 2, False, _STRING, ""))),
    ("Gauge", (("value", 1, False, _DOUBLE, ""),)),
    ("Counter", (("value", 1, False, _DOUBLE, ""), ("exemplar", 2, False, _MSG, "Exemplar"))),
    ("Quantile", (("quantile", 1, False, _DOUBLE, ""), ("value", 2, False, _DOUBLE, ""))),
    (
        "Summary",
        (
            ("sample_count", 1, False, _UINT64, ""),
            ("sample_sum", 2, False, _DOUBLE, ""),
            ("quantile", 3, True, _MSG, "Quantile"),
        ),
    ),
    ("Untyped", (("value", 1, False, _DOUBLE, ""),)),
    (
        "Histogram",
        (
            ("sample_count", 1, False, _UINT64, ""),
            ("sample_count_float", 4, False, _DOUBLE, ""),
            ("sample_sum", 2, False, _DOUBLE, ""),
            ("bucket", 3, True, _MSG, "Bucket"),
            ("schema", 5, False, _SINT32, ""),
            ("zero_threshold", 6, False, _DOUBLE, ""),
            ("zero_count", 7, False, _UINT64, ""),
            ("zero_count_float", 8, False, _DOUBLE, ""),
            ("negative_span", 9, True, _MSG, "BucketSpan"),
            ("negative_delta", 10, True, _SINT64, ""),
            ("negative_count", 11, True, _DOUBLE, ""),
            ("positive_span", 12, True, _MSG, "BucketSpan"),
            ("positive_delta", 13, True, _SINT64, ""),
            ("positive_count", 14, True, _DOUBLE, ""),
        ),
    ),
    (
        "Bucket",
        (
            ("cumulative_count", 1, False, _UINT64, ""),
            ("cumulative_count_float", 4, False, _DOUBLE, ""),
            ("upper_bound", 2, False, _DOUBLE, ""),
            ("exemplar", 3, False, _MSG, "Exemplar"),
        ),
    ),
    ("BucketSpan", (("offset", 1, False, _SINT32, ""), ("length", 2, False, _UINT32, ""))),
    (
        "Exemplar",
        (
            ("label", 1, True, _MSG, "LabelPair"),
            ("value", 2, False, _DOUBLE, ""),
            ("timestamp", 3, False, _MSG, _TIMESTAMP),
        ),
    ),
    (
        "Metric",
        (
            ("label", 1, True, _MSG, "LabelPair"),
            ("gauge", 2, False, _MSG, "Gauge"),
            ("counter", 3, False, _MSG, "Counter"),
            ("summary", 4, False, _MSG, "Summary"),
            ("untyped", 5, False, _MSG, "Untyped"),
            ("histogram", 7, False, _MSG, "Histogram"),
            ("timestamp_ms", 6, False, _INT64, ""),
        ),
    ),
    (
        "MetricFamily",
        (
            ("name", 1, False, _STRING, ""),
            ("help", 2, False, _STRING, ""),
            ("type", 3, False, _ENUM, "MetricType"),
            ("metric", 4, True, _MSG, "Metric"),
        ),
    ),
)

#: MetricType enum values and their Go names.
_TYPE_NAMES: Final[dict[int, str]] = {
    0: "COUNTER",
    1: "GAUGE",
    2: "SUMMARY",
    3: "UNTYPED",
    4: "HISTOGRAM",
    5: "GAUGE_HISTOGRAM",
}
_TYPE_CODES: Final[dict[MetricType, int]] = {
    "counter": 0,
    "gauge": 1,
    "summary": 2,
    "untyped": 3,
    "histogram": 4,
}
_MODEL_TYPES: Final[dict[int, MetricType]] = {code: t for t, code in _TYPE_CODES.items()}
_GAUGE_HISTOGRAM: Final = 5

# Text writers walk this table instead of the descriptors: it is already in
# declaration order and does not depend on descriptor API details that changed
# between protobuf releases. (name, repeated, type, message or enum name)
_TextSpec = tuple[tuple[str, bool, int, str], ...]
_TEXT_SPECS: Final[dict[str, _TextSpec]] = {
    **{
        message: tuple((f[0], f[2], f[3], f[4].rpartition(".")[2]) for f in fields)
        for message, fields in _SCHEMA
    },
    "Timestamp": (("seconds", False, _INT64, ""), ("nanos", False, _INT32, "")),
}


def _file_descriptor(string_type: int) -> descriptor_pb2.FileDescriptorProto:
    """metrics.proto with its string fields declared as ``string_type``."""
    fdp = descriptor_pb2.FileDescriptorProto(
        name="io/prometheus/client/metrics.proto",
        package="io.prometheus.client",
        syntax="proto2",
        dependency=["google/protobuf/timestamp.proto"],
    )
    enum = fdp.enum_type.add(name="MetricType")
    for number, name in _TYPE_NAMES.items():
        enum.value.add(name=name, number=number)
    for message, fields in _SCHEMA:
        msg = fdp.message_type.add(name=message)
        for name, number, repeated, ftype, type_name in fields:
            field = msg.field.add(
                name=name,
                number=number,
                label=_FDP.LABEL_REPEATED if repeated else _FDP.LABEL_OPTIONAL,
                type=string_type if ftype == _STRING else ftype,
            )
            if type_name:
                field.type_name = (
                    type_name if type_name.startswith(".") else f".io.prometheus.client.{type_name}"
                )
    return fdp


def _message_classes(string_type: int) -> dict[str, Any]:
    """The message classes of metrics.proto, built in a private pool."""
    pool = descriptor_pool.DescriptorPool()
    pool.Add(descriptor_pb2.FileDescriptorProto.FromString(timestamp_pb2.DESCRIPTOR.serialized_pb))
    pool.Add(_file_descriptor(string_type))
    return {
        message: message_factory.GetMessageClass(
            pool.FindMessageTypeByName(f"io.prometheus.client.{message}")
        )
        for message, _ in _SCHEMA
    }


# Dynamic message classes are untyped; ``Any`` stays inside this module.
_CLASSES: Final = _message_classes(_FDP.TYPE_STRING)
# The same wire schema with ``bytes`` instead of ``string``: used only when a
# string is not valid UTF-8 (the pure-Python runtime refuses to parse it into a
# ``string`` field, and no runtime lets us set a surrogate-escaped str).
_BYTES_CLASSES: Final = _message_classes(_FDP.TYPE_BYTES)
_MetricFamilyPB: Final = _CLASSES["MetricFamily"]
_BytesMetricFamilyPB: Final = _BYTES_CLASSES["MetricFamily"]

# --------------------------------------------------------------------------------------
# Content-Type detection (Go mime.ParseMediaType)

#: Go ``unicode.IsSpace``.
_GO_SPACE: Final = (
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_TSPECIALS: Final = frozenset('()<>@,;:\\"/[]?=')


def _go_lower(s: str) -> str:
    # Go's strings.ToLower maps U+0130 to a plain "i"; Python adds a combining dot.
    return s.replace("\u0130", "i").lower()


def _is_token_char(c: str) -> bool:
    return " " < c < "\x7f" and c not in _TSPECIALS


def _consume_token(v: str) -> tuple[str, str]:
    for i, c in enumerate(v):
        if not _is_token_char(c):
            return v[:i], v[i:]
    return v, ""


def _consume_value(v: str) -> tuple[str, str]:
    if not v:
        return "", v
    if v[0] != '"':
        return _consume_token(v)
    buf: list[str] = []
    i = 1
    while i < len(v):
        c = v[i]
        if c == '"':
            return "".join(buf), v[i + 1 :]
        # Go keeps a backslash literally unless it escapes a tspecial (MSIE paths).
        if c == "\\" and i + 1 < len(v) and v[i + 1] in _TSPECIALS:
            buf.append(v[i + 1])
            i += 2
            continue
        if c in "\r\n":
            return "", v
        buf.append(c)
        i += 1
    return "", v


def _consume_media_param(v: str) -> tuple[str, str, str]:
    rest = v.lstrip(_GO_SPACE)
    if not rest.startswith(";"):
        return "", "", v
    rest = rest[1:].lstrip(_GO_SPACE)
    param, rest = _consume_token(rest)
    param = _go_lower(param)
    if not param:
        return "", "", v
    rest = rest.lstrip(_GO_SPACE)
    if not rest.startswith("="):
        return "", "", v
    rest = rest[1:].lstrip(_GO_SPACE)
    value, rest2 = _consume_value(rest)
    if not value and rest2 == rest:
        return "", "", v
    return param, value, rest2


def _check_media_type(mediatype: str) -> bool:
    typ, rest = _consume_token(mediatype)
    if not typ:
        return False
    if not rest:
        return True
    if not rest.startswith("/"):
        return False
    subtype, rest = _consume_token(rest[1:])
    return bool(subtype) and not rest


_HEX: Final = frozenset("0123456789abcdefABCDEF")


def _percent_hex_unescape(s: str) -> str | None:
    i = 0
    while i < len(s):
        if s[i] == "%":
            if i + 2 >= len(s) or s[i + 1] not in _HEX or s[i + 2] not in _HEX:
                return None
            i += 3
        else:
            i += 1
    # Go unescapes into bytes; decoding them as Latin-1 keeps one char per byte,
    # which is all a comparison against ASCII parameter values needs.
    return re.sub(r"%([0-9a-fA-F]{2})", lambda m: chr(int(m.group(1), 16)), s)


def _decode_2231(v: str) -> str | None:
    parts = v.split("'", 2)
    if len(parts) != 3:
        return None
    charset = _go_lower(parts[0])
    if charset not in ("us-ascii", "utf-8"):
        return None
    return _percent_hex_unescape(parts[2])


def _parse_media_type(v: str) -> tuple[str, dict[str, str]] | None:
    """Go ``mime.ParseMediaType`` (Go 1.19); ``None`` where Go returns an error."""
    base = v.partition(";")[0]
    mediatype = _go_lower(base).strip(_GO_SPACE)
    if not _check_media_type(mediatype):
        return None
    params: dict[str, str] = {}
    continuation: dict[str, dict[str, str]] = {}
    rest = v[len(base) :]
    while rest:
        rest = rest.lstrip(_GO_SPACE)
        if not rest:
            break
        key, value, rest2 = _consume_media_param(rest)
        if not key:
            if rest.strip(_GO_SPACE) == ";":
                break  # a trailing semicolon is tolerated
            return None
        pmap = params
        base_name, star, _ = key.partition("*")
        if star:
            pmap = continuation.setdefault(base_name, {})
        if key in pmap:
            # Go 1.19 refuses any repeated parameter, even with an equal value
            # (verified: "encoding=delimited; encoding=delimited" is parsed as text).
            return None
        pmap[key] = value
        rest = rest2
    # RFC 2231 continuations and charset-encoded values.
    for key, pieces in continuation.items():
        single = pieces.get(key + "*")
        if single is not None:
            decoded = _decode_2231(single)
            if decoded is not None:
                params[key] = decoded
            continue
        buf: list[str] = []
        valid = False
        n = 0
        while True:
            simple = f"{key}*{n}"
            if simple in pieces:
                valid = True
                buf.append(pieces[simple])
            elif simple + "*" in pieces:
                valid = True
                encoded = pieces[simple + "*"]
                if n == 0:
                    decoded = _decode_2231(encoded)
                    if decoded is not None:
                        buf.append(decoded)
                else:
                    buf.append(_percent_hex_unescape(encoded) or "")
            else:
                break
            n += 1
        if valid:
            params[key] = "".join(buf)
    return mediatype, params


@functools.lru_cache(maxsize=256)
def is_protobuf_delimited(content_type: str | None) -> bool:
    """Whether a push body with this ``Content-Type`` is protobuf (spec 4.2).

    True iff Go's ``mime.ParseMediaType`` succeeds, the media type is
    ``application/vnd.google.protobuf`` (case-insensitive) and the parameters
    include ``proto=io.prometheus.client.MetricFamily`` and
    ``encoding=delimited`` (values case-sensitive, any order, quoted or not).
    Everything else, a missing or unparseable header included, means text.
    Remembered per header value: pushers send the same one every time.
    """
    if not content_type:
        return False
    parsed = _parse_media_type(content_type)
    if parsed is None:
        return False
    mediatype, params = parsed
    return (
        mediatype == PROTOBUF_MEDIA_TYPE
        and params.get("proto") == _PROTO_MESSAGE
        and params.get("encoding") == "delimited"
    )


# --------------------------------------------------------------------------------------
# Accept negotiation (prometheus/common 0.37 expfmt.Negotiate)

_GO_FLOAT: Final = re.compile(
    r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
    r"|0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)[pP][+-]?[0-9]+)"
)
_GO_INF: Final = re.compile(r"[+-]?(?:inf|infinity)", re.IGNORECASE)


def _go_parse_float32(s: str) -> float:
    """``strconv.ParseFloat(s, 32)`` as goautoneg uses it: the error is ignored,
    so a syntax error gives 0 and an overflow gives ±Inf."""
    if _GO_FLOAT.fullmatch(s):
        value = float.fromhex(s) if "x" in s or "X" in s else float(s)
    elif _GO_INF.fullmatch(s):
        return float("-inf") if s[0] == "-" else float("inf")
    elif s.lower() == "nan":
        return float("nan")
    else:
        return 0.0
    try:
        return float(struct.unpack("f", struct.pack("f", value))[0])
    except OverflowError:
        return float("-inf") if value < 0 else float("inf")


def _accept_less(a: tuple[float, str, str], b: tuple[float, str, str]) -> bool:
    # goautoneg's accept_slice.Less, quirks included (it is not a strict order).
    if a[0] > b[0]:
        return True
    if a[1] != "*" and b[1] == "*":
        return True
    return a[2] != "*" and b[2] == "*"


def negotiate_exposition(accept: str | None) -> ExpositionFormat:
    """The scrape format for an ``Accept`` header (spec 5.5, B.1 item 25).

    Entries are sorted by q (``goautoneg``), and the first that is a protobuf
    ``io.prometheus.client.MetricFamily`` with encoding ``delimited``, ``text``
    or ``compact-text``, or ``text/plain`` with version ``0.0.4`` or none,
    wins; anything else falls back to text 0.0.4. As in Go, ``q`` only orders
    the entries (``q=0`` is not a refusal); type, parameter names and values
    are case-sensitive; OpenMetrics is never chosen. Pass the first ``Accept``
    header only (Go's ``Header.Get``).

    Go sorts with ``sort.Sort`` and an inconsistent comparison; this repeats
    its insertion sort, which is what Go 1.19 runs for up to 12 entries.
    """
    if not accept:
        return "text"
    entries: list[tuple[float, str, str, dict[str, str]]] = []
    for raw_part in accept.split(","):
        part = raw_part.strip(" ")
        mrp = part.split(";")
        sp = mrp[0].split("/")
        typ = sp[0].strip(" ")
        if len(sp) == 1 and typ == "*":
            subtype = "*"
        elif len(sp) == 2:
            subtype = sp[1].strip(" ")
        else:
            continue
        q = 1.0
        params: dict[str, str] = {}
        for param in mrp[1:]:
            kv = param.split("=", 1)
            if len(kv) != 2:
                continue
            token = kv[0].strip(" ")
            if token == "q":
                q = _go_parse_float32(kv[1])
            else:
                params[token] = kv[1].strip(" ")
        entries.append((q, typ, subtype, params))
    for i in range(1, len(entries)):
        j = i
        while j > 0 and _accept_less(entries[j][:3], entries[j - 1][:3]):
            entries[j], entries[j - 1] = entries[j - 1], entries[j]
            j -= 1
    for _, typ, subtype, params in entries:
        if f"{typ}/{subtype}" == PROTOBUF_MEDIA_TYPE and params.get("proto") == _PROTO_MESSAGE:
            encoding = params.get("encoding")
            if encoding == "delimited":
                return "protobuf-delimited"
            if encoding == "text":
                return "protobuf-text"
            if encoding == "compact-text":
                return "protobuf-compact-text"
        if typ == "text" and subtype == "plain" and params.get("version", "") in ("0.0.4", ""):
            return "text"
    return "text"


# --------------------------------------------------------------------------------------
# Parsing


def _text(value: Any) -> str:
    """A string field's value as str; invalid UTF-8 arrives as bytes (upb, or
    the fallback schema) and is surrogate-escaped."""
    if value.__class__ is str:
        return value
    return bytes(value).decode("utf-8", "surrogateescape")


#: (name, value) of a LabelPair, looped in C by ``map`` (the hot path of a push).
_NAME_VALUE: Final = attrgetter("name", "value")
_QUANTILE_VALUE: Final = attrgetter("quantile", "value")
_BOUND_COUNT: Final = attrgetter("upper_bound", "cumulative_count")


def _labels(pairs: Any) -> Labels:
    out: Labels = tuple(map(_NAME_VALUE, pairs))
    for name, value in out:
        if name.__class__ is not str or value.__class__ is not str:
            return tuple([(_text(n), _text(v)) for n, v in out])
    return out


def _metric_counter(m: Any, ts: int | None) -> Metric:
    return Metric(_labels(m.label), m.counter.value, timestamp_ms=ts)


def _metric_gauge(m: Any, ts: int | None) -> Metric:
    return Metric(_labels(m.label), m.gauge.value, timestamp_ms=ts)


def _metric_untyped(m: Any, ts: int | None) -> Metric:
    return Metric(_labels(m.label), m.untyped.value, timestamp_ms=ts)


def _metric_summary(m: Any, ts: int | None) -> Metric:
    s = m.summary
    return Metric(
        _labels(m.label),
        sample_count=s.sample_count,
        sample_sum=s.sample_sum,
        quantiles=tuple(map(_QUANTILE_VALUE, s.quantile)),
        timestamp_ms=ts,
    )


def _metric_histogram(m: Any, ts: int | None) -> Metric:
    # Only the classic parts: the integer count, the sum and the classic buckets
    # (1.5.1 exposes nothing else either; float counts are ignored as there).
    h = m.histogram
    return Metric(
        _labels(m.label),
        sample_count=h.sample_count,
        sample_sum=h.sample_sum,
        buckets=tuple(map(_BOUND_COUNT, h.bucket)),
        timestamp_ms=ts,
    )


_CONVERTERS: Final[dict[MetricType, Callable[[Any, int | None], Metric]]] = {
    "counter": _metric_counter,
    "gauge": _metric_gauge,
    "untyped": _metric_untyped,
    "summary": _metric_summary,
    "histogram": _metric_histogram,
}


def _parse_message(data: memoryview) -> Any:
    mf = _MetricFamilyPB()
    try:
        mf.ParseFromString(data)
    except DecodeError:
        raise ParseError(_go_unmarshal_error(bytes(data))) from None
    except ValueError:
        # Invalid UTF-8 in a string field, refused by the pure-Python runtime
        # (upb returns such fields as bytes instead). Go accepts it.
        mf = _BytesMetricFamilyPB()
        try:
            mf.ParseFromString(data)
        except DecodeError:
            raise ParseError(_go_unmarshal_error(bytes(data))) from None
    return mf


# The runtime's DecodeError does not say what is wrong. 1.5.1 uses golang/protobuf
# 1.3, whose messages are reproduced by walking the bytes again (error path only).

_UNEXPECTED_EOF: Final = "unexpected EOF"
#: Message fields per message (number -> message name): the only fields Go
#: descends into; every other field is skipped by its wire type.
_SUBMESSAGES: Final[dict[str, dict[int, str]]] = {
    **{
        message: {f[1]: f[4].rpartition(".")[2] for f in fields if f[3] == _MSG}
        for message, fields in _SCHEMA
    },
    "Timestamp": {},
}
#: Repeated scalar fields per message (number -> wire type of one element):
#: Go also accepts them packed, and then checks the packed elements.
_PACKABLE: Final[dict[str, dict[int, int]]] = {
    **{
        message: {f[1]: 1 if f[3] == _DOUBLE else 0 for f in fields if f[2] and f[3] != _MSG}
        for message, fields in _SCHEMA
    },
    "Timestamp": {},
}


def _go_varint(data: bytes, pos: int) -> tuple[int, int] | None:
    """golang/protobuf 1.3 ``decodeVarint``: at most 10 bytes, the 10th < 2."""
    value = 0
    for i in range(10):
        if pos + i >= len(data):
            return None
        b = data[pos + i]
        if i == 9 and b >= 2:
            return None
        value |= (b & 0x7F) << (7 * i)
        if b < 0x80:
            return value, pos + i + 1
    return None


def _go_skip(data: bytes, pos: int, wire: int) -> int | str:
    """golang/protobuf 1.3 ``skipField``: the position after the field, or the error."""
    if wire == 0:
        decoded = _go_varint(data, pos)
        return _UNEXPECTED_EOF if decoded is None else decoded[1]
    if wire in (1, 5):
        size = 8 if wire == 1 else 4
        return _UNEXPECTED_EOF if len(data) - pos < size else pos + size
    if wire == 2:
        decoded = _go_varint(data, pos)
        if decoded is None or len(data) - decoded[1] < decoded[0]:
            return _UNEXPECTED_EOF
        return decoded[1] + decoded[0]
    if wire == 3:
        # findEndGroup: nested groups counted, end tags' numbers not matched.
        depth = 1
        while True:
            decoded = _go_varint(data, pos)
            if decoded is None:
                return _UNEXPECTED_EOF
            key, pos = decoded
            inner = key & 7
            if inner == 3:
                depth += 1
                continue
            if inner == 4:
                depth -= 1
                if depth == 0:
                    return pos
                continue
            if inner in (6, 7):
                return _UNEXPECTED_EOF
            skipped = _go_skip(data, pos, inner)
            if isinstance(skipped, str):
                return skipped
            pos = skipped
    return f"proto: can't skip unknown wire type {wire}"


def _go_unmarshal_error(data: bytes, message: str = "MetricFamily") -> str:
    """The error golang/protobuf 1.3 gives for ``data`` as ``message``.

    Falls back to a generic message where the runtime is stricter than Go
    (field numbers above 2^29-1, very deep group nesting).
    """
    error = _go_walk(data, message)
    return error if error is not None else "proto: cannot parse invalid wire-format data"


def _go_walk(data: bytes, message: str) -> str | None:
    submessages = _SUBMESSAGES[message]
    pos = 0
    while pos < len(data):
        decoded = _go_varint(data, pos)
        if decoded is None:
            return _UNEXPECTED_EOF
        key, pos = decoded
        tag, wire = key >> 3, key & 7
        if tag == 0:
            go_type = (
                "timestamp.Timestamp"
                if message == "Timestamp"
                else f"io_prometheus_client.{message}"
            )
            return f"proto: {go_type}: illegal tag 0 (wire type {wire})"
        sub = submessages.get(tag)
        if sub is not None and wire == 2:
            length = _go_varint(data, pos)
            if length is None or length[0] > len(data) - length[1]:
                return _UNEXPECTED_EOF
            start, pos = length[1], length[1] + length[0]
            error = _go_walk(data[start:pos], sub)
            if error is not None:
                return error
            continue
        element_wire = _PACKABLE[message].get(tag)
        if element_wire is not None and wire == 2:
            length = _go_varint(data, pos)
            if length is None or length[0] > len(data) - length[1]:
                return _UNEXPECTED_EOF
            start, pos = length[1], length[1] + length[0]
            packed, offset = data[start:pos], 0
            while offset < len(packed):
                skipped = _go_skip(packed, offset, element_wire)
                if isinstance(skipped, str):
                    return skipped
                offset = skipped
            continue
        # Scalars, unknown fields and fields with a wrong wire type are all
        # skipped by wire type; the checks are the same in each case.
        skipped = _go_skip(data, pos, wire)
        if isinstance(skipped, str):
            return skipped
        pos = skipped
    return None


def _type_code(mf: Any) -> int:
    """The family's type number; unset means COUNTER (0)."""
    if mf.HasField("type"):
        return mf.type  # type: ignore[no-any-return]
    # proto2 enums are closed: a number outside MetricType is not an error but
    # lands in the unknown fields, and the field reads as unset.
    unknown = _unknown_fields.UnknownFieldSet(mf)
    for i in range(len(unknown)):
        field = unknown[i]
        if field.field_number == 3 and field.wire_type == 0:
            # Go converts the varint to an int32 enum by truncation.
            code: int = field.data & 0xFFFFFFFF
            return code - (1 << 32) if code >= 1 << 31 else code
    return 0


def _multi_error(errors: list[str]) -> str:
    """client_golang's ``MultiError`` text (a single error is unwrapped)."""
    if len(errors) == 1:
        return errors[0]
    return f"{len(errors)} error(s) occurred:" + "".join(f"\n* {e}" for e in errors)


def parse_delimited(body: bytes) -> list[MetricFamily]:
    """Parse a push body of varint-length-delimited ``MetricFamily`` messages.

    Framing follows Go's ``pbutil.ReadDelimited`` loop in the 1.5.1 push
    handler, quirks included:

    * an empty body, or EOF exactly at a message boundary, ends the stream;
    * EOF inside a length prefix, or right after a complete prefix (no byte of
      the message), is also read as the end of the stream (Go gets
      ``io.EOF`` there and treats it as success);
    * a message cut short raises ``ParseError("unexpected EOF")`` (this is
      what a text body sent as protobuf gives: its first byte is read as a
      length larger than the rest);
    * a length prefix longer than 5 bytes raises
      ``ParseError("invalid varint32 encountered")``;
    * a malformed message raises ``ParseError`` with golang/protobuf 1.3's
      message: ``unexpected EOF`` for anything cut short (the usual case),
      ``proto: can't skip unknown wire type N``, or
      ``proto: io_prometheus_client.<Message>: illegal tag 0 (wire type N)``.

    Several families with the same name: the last one wins, earlier ones are
    dropped whole. The result has unique names, each at the position where the
    name first occurred. Families with no metrics are kept.

    Mapping: an unset ``type`` is COUNTER. Names, help and labels are passed
    through unvalidated and in push order (the store validates and sorts);
    strings that are not valid UTF-8 are decoded with ``surrogateescape``.
    ``help`` is ``None`` when unset. Histograms keep their classic parts
    (``sample_count``, ``sample_sum``, ``bucket``); native-histogram fields and
    exemplars are dropped; no ``+Inf`` bucket is added. ``timestamp_ms`` is
    kept when set, for the store to reject.

    Raises :class:`ConsistencyError` (a store-level failure in Go, see
    ``pushgate.core.errors``) when

    * a metric lacks the value field of its family type (extra value fields
      are ignored, as in client_golang):
      ``collected metric "<name>" { <compact text of the metric> } is not a
      <TYPE>``. Go checks this after the store has added the grouping labels,
      so its dump shows ``job``/``instance``; here the labels are the pushed
      ones. Several such errors use client_golang's ``N error(s) occurred:``
      form;
    * a family has type GAUGE_HISTOGRAM or a number outside MetricType:
      ``metric family "<name>" has type GAUGE_HISTOGRAM, which is not
      supported; push it as a HISTOGRAM`` (1.5.1 stores such a family and
      then truncates or fails every ``/metrics``, spec B.2, so pushgate
      refuses it as an invalid push);

    except that if any metric of the push carries a timestamp, the message is
    ``pushed metrics must not have timestamps``, because Go checks timestamps
    before consistency.
    """
    n = len(body)
    if n == 0:
        return []
    view = memoryview(body)
    winners: dict[str, Any] = {}
    pos = 0
    while pos < n:
        length = body[pos]
        pos += 1
        if length >= 0x80:
            length &= 0x7F
            shift = 7
            while True:
                if shift == 35:
                    raise ParseError("invalid varint32 encountered")
                if pos == n:
                    return _families(winners)  # EOF inside the prefix: io.EOF in Go
                byte = body[pos]
                pos += 1
                length |= (byte & 0x7F) << shift
                if byte < 0x80:
                    break
                shift += 7
        end = pos + length
        if end > n:
            if pos == n:
                return _families(winners)  # io.ReadFull read nothing: io.EOF in Go
            raise ParseError("unexpected EOF")
        mf = _parse_message(view[pos:end])
        pos = end
        winners[_text(mf.name)] = mf
    return _families(winners)


def _families(winners: dict[str, Any]) -> list[MetricFamily]:
    families: list[MetricFamily] = []
    errors: list[str] = []
    has_timestamps = False
    for name, mf in winners.items():
        code = _type_code(mf)
        mtype = _MODEL_TYPES.get(code)
        if mtype is None:
            type_name = _TYPE_NAMES.get(code, str(code))
            errors.append(
                f"metric family {go_quote(name)} has type {type_name}, which is not supported;"
                " push it as a HISTOGRAM"
                if code == _GAUGE_HISTOGRAM
                else f"metric family {go_quote(name)} has unknown type {type_name};"
                " use COUNTER, GAUGE, SUMMARY, UNTYPED or HISTOGRAM"
            )
            has_timestamps = has_timestamps or any(m.HasField("timestamp_ms") for m in mf.metric)
            continue
        field = mtype  # the Metric field of each type is named like the model type
        convert = _CONVERTERS[mtype]
        metrics: list[Metric] = []
        for m in mf.metric:
            ts: int | None = None
            if m.HasField("timestamp_ms"):
                ts = m.timestamp_ms
                has_timestamps = True
            if not m.HasField(field):
                errors.append(
                    f"collected metric {go_quote(name)} {{ {_compact_text(m, 'Metric')}}}"
                    f" is not a {_TYPE_NAMES[code]}"
                )
                continue
            metrics.append(convert(m, ts))
        families.append(
            MetricFamily(
                name,
                mtype,
                _text(mf.help) if mf.HasField("help") else None,
                tuple(metrics),
            )
        )
    if errors:
        if has_timestamps:
            raise ConsistencyError("pushed metrics must not have timestamps")
        raise ConsistencyError(_multi_error(errors))
    return families


# --------------------------------------------------------------------------------------
# Rendering

_U64: Final = (1 << 64) - 1


def _encode_str(s: str) -> bytes:
    try:
        return s.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return s.encode("utf-8", "surrogatepass")


def _family_to_pb(family: MetricFamily, classes: dict[str, Any]) -> Any:
    """The protobuf message of a family; strings are encoded to bytes when the
    classes are the fallback (bytes) schema."""
    enc: Callable[[str], Any] | None = _encode_str if classes is _BYTES_CLASSES else None
    mf = classes["MetricFamily"]()
    mf.name = enc(family.name) if enc else family.name
    if family.help is not None:
        mf.help = enc(family.help) if enc else family.help
    mtype = family.type
    mf.type = _TYPE_CODES[mtype]
    add_metric = mf.metric.add
    for metric in family.metrics:
        m = add_metric()
        add_label = m.label.add
        if enc is None:
            for name, value in metric.labels:
                add_label(name=name, value=value)
        else:
            for name, value in metric.labels:
                add_label(name=enc(name), value=enc(value))
        if mtype == "counter":
            m.counter.value = metric.value
        elif mtype == "gauge":
            m.gauge.value = metric.value
        elif mtype == "untyped":
            m.untyped.value = metric.value
        elif mtype == "summary":
            s = m.summary
            # Model counts are ints; wrap into uint64 as Go's conversion does
            # rather than fail a whole scrape.
            s.sample_count = metric.sample_count & _U64
            s.sample_sum = metric.sample_sum
            add_quantile = s.quantile.add
            for q, v in metric.quantiles:
                add_quantile(quantile=q, value=v)
        else:
            h = m.histogram
            h.sample_count = metric.sample_count & _U64
            h.sample_sum = metric.sample_sum
            add_bucket = h.bucket.add
            for upper_bound, count in metric.buckets:
                add_bucket(cumulative_count=count & _U64, upper_bound=upper_bound)
        if metric.timestamp_ms is not None:
            m.timestamp_ms = metric.timestamp_ms
    return mf


def _to_pb(family: MetricFamily) -> Any:
    try:
        return _family_to_pb(family, _CLASSES)
    except ValueError:
        # A string with surrogates (invalid UTF-8 kept by surrogateescape) cannot
        # be set on a string field; the bytes schema writes the original bytes.
        return _family_to_pb(family, _BYTES_CLASSES)


def _varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def family_header_pb(family: MetricFamily) -> bytes:
    """The serialized ``MetricFamily`` fields before its metrics (name, help, type)."""
    return bytes(
        _to_pb(MetricFamily(family.name, family.type, family.help, ())).SerializeToString()
    )


def metric_records_pb(family: MetricFamily) -> bytes:
    """The serialized ``metric`` fields of ``family``, in its order.

    A message's repeated field is a run of records, and the schema's fields
    are written in number order (name, help, type, then the metrics), so a
    family's message is :func:`family_header_pb` followed by the records of
    its metrics, which can therefore be made for parts of a family and
    joined.
    """
    data = bytes(_to_pb(family).SerializeToString())
    header = family_header_pb(family)
    if not data.startswith(header):  # not expected: the layout above is the schema's
        raise ValueError(f"unexpected protobuf layout for family {family.name!r}")
    return data[len(header) :]


def delimited(message: bytes) -> bytes:
    """``message`` with its varint length in front (``encoding=delimited``)."""
    return _varint(len(message)) + message


def render_delimited(families: Iterable[MetricFamily]) -> bytes:
    """Varint-length-delimited ``MetricFamily`` messages (``encoding=delimited``).

    Every family given is written, empty ones included (the exposition drops
    empty families before rendering, as Go's gather does). No ``+Inf`` bucket
    is added. ``help`` is set only when not ``None``; ``type`` is always set.
    """
    out = bytearray()
    for family in families:
        data = _to_pb(family).SerializeToString()
        length = len(data)
        if length < 0x80:
            out.append(length)
        else:
            out += _varint(length)
        out += data
    return bytes(out)


# Text format (golang/protobuf 1.3 text marshaler, "<...>" message brackets).

_OCTAL: Final = {
    b: (
        chr(b)
        if 0x20 <= b < 0x7F and b not in (0x22, 0x5C)
        else {0x0A: "\\n", 0x0D: "\\r", 0x09: "\\t", 0x22: '\\"', 0x5C: "\\\\"}.get(b, f"\\{b:03o}")
    )
    for b in range(256)
}


def _quote_text(value: Any) -> str:
    """A string field as golang/protobuf writes it: byte-wise, non-printable and
    non-ASCII bytes as three-digit octal escapes."""
    raw = value if isinstance(value, bytes) else _encode_str(value)
    return '"' + raw.decode("latin-1").translate(_OCTAL) + '"'


def _format_double(v: float) -> str:
    if v != v:
        return "nan"
    if v == float("inf"):
        return "inf"
    if v == float("-inf"):
        return "-inf"
    # fmt.Fprint(float64): shortest 'g', "-0" kept.
    return format_float_json(v)


def _scalar_text(value: Any, ftype: int) -> str:
    if ftype == _STRING:
        return _quote_text(value)
    if ftype == _DOUBLE:
        return _format_double(value)
    if ftype == _ENUM:
        return _TYPE_NAMES.get(value, str(value))
    return str(value)


def _write_text(msg: Any, spec_name: str, compact: bool, pad: str, out: list[str]) -> None:
    for name, repeated, ftype, type_name in _TEXT_SPECS[spec_name]:
        if repeated:
            values = getattr(msg, name)
            if not values:
                continue
        elif msg.HasField(name):
            values = (getattr(msg, name),)
        else:
            continue
        for value in values:
            if ftype == _MSG:
                if compact:
                    out.append(f"{name}:<")
                    _write_text(value, type_name, True, pad, out)
                    out.append("> ")
                else:
                    out.append(f"{pad}{name}: <\n")
                    _write_text(value, type_name, False, pad + "  ", out)
                    out.append(f"{pad}>\n")
            elif compact:
                out.append(f"{name}:{_scalar_text(value, ftype)} ")
            else:
                out.append(f"{pad}{name}: {_scalar_text(value, ftype)}\n")


def _compact_text(msg: Any, spec_name: str) -> str:
    out: list[str] = []
    _write_text(msg, spec_name, True, "", out)
    return "".join(out)


def render_text_debug(families: Iterable[MetricFamily]) -> bytes:
    """The ``encoding=text`` exposition: ``proto.MarshalTextString`` of each
    family followed by an empty line (Go writes it with ``fmt.Fprintln``)."""
    out: list[str] = []
    for family in families:
        _write_text(_to_pb(family), "MetricFamily", False, "", out)
        out.append("\n")
    return "".join(out).encode("ascii")


def render_compact_text(families: Iterable[MetricFamily]) -> bytes:
    """The ``encoding=compact-text`` exposition: one line per family, the
    compact text (``proto.CompactTextString``, trailing space included)."""
    out: list[str] = []
    for family in families:
        _write_text(_to_pb(family), "MetricFamily", True, "", out)
        out.append("\n")
    return "".join(out).encode("ascii")


def render_metric_debug(type: MetricType, metric: Metric) -> str:
    """One metric as client_golang error messages show it (compact text).

    E.g. ``label:<name:"instance" value:"" > label:<name:"job" value:"x" >
    gauge:<value:1 > `` (one line; note the trailing space). Callers embed it
    as ``{ <dump>}``. Labels are written in the order given.
    """
    family = MetricFamily("", type, None, (metric,))
    return _compact_text(_to_pb(family).metric[0], "Metric")
