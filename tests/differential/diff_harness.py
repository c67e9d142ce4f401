"""Machinery of the differential suite: sending requests, normalising answers.

A *case* is a short list of *steps*. Every step is one HTTP request sent with
:mod:`http.client` (so the raw path goes out exactly as written) and produces
one *observation*: a JSON-compatible dict holding only what must be identical
between the Go Pushgateway 1.5.1 and pushgate. What varies by nature (dates,
push times, Go's protobuf dumps inside error messages, the gateway's own
metrics, the random HELP choice of 1.5.1) is replaced by stable tokens here,
so that observations can be compared with ``==`` and stored as golden files.

Nothing in this module imports pushgate: the suite checks the product from
the outside, as a client would.
"""

from __future__ import annotations

import base64
import calendar
import gzip
import http.client
import json
import math
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError, Message

Observation = dict[str, Any]
#: Per family name, the HELP strings a merged family may show (see ``Case.help_any``).
HelpAny = Mapping[str, tuple[str | None, ...]]
StepKind = Literal["response", "exposition", "api", "status"]

#: Families that belong to the gateway itself, not to the pushed data. They
#: differ by nature (Go runtime against the Python runtime) and are dropped.
OWN_PREFIXES = ("go_", "process_", "pushgateway_", "python_")

#: The synthetic gauges whose values are clock readings.
PUSH_TIME_FAMILIES = ("push_time_seconds", "push_failure_time_seconds")

#: Response headers that are part of the compared answer.
COMPARED_HEADERS = (
    "content-type",
    "content-encoding",
    "allow",
    "location",
    "x-content-type-options",
    "www-authenticate",
    "access-control-allow-headers",
    "access-control-allow-methods",
    "access-control-allow-origin",
    "access-control-expose-headers",
    "cache-control",
)

PROTOBUF_DELIMITED = (
    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited"
)
PROTOBUF_ACCEPT = (
    "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited"
)

# --------------------------------------------------------------------------------------------
# The case model


@dataclass(frozen=True)
class Config:
    """How the gateway under test is started.

    ``prefix`` tells the harness where the wipe and health routes moved (it
    must agree with ``flags``); steps always carry their full path. ``fresh``
    asks for a gateway of its own, used by cases that stop the process.
    """

    flags: tuple[str, ...] = ("--web.enable-admin-api",)
    prefix: str = ""
    fresh: bool = False

    @property
    def admin(self) -> bool:
        return "--web.enable-admin-api" in self.flags

    @property
    def key(self) -> tuple[tuple[str, ...], bool]:
        return (self.flags, self.fresh)


DEFAULT = Config()


@dataclass(frozen=True)
class Step:
    """One request and how its answer is observed."""

    method: str
    path: str
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    kind: StepKind = "response"

    def describe(self) -> str:
        extra = "".join(f" [{k}: {v}]" for k, v in self.headers)
        size = f" ({len(self.body)} bytes)" if self.body else ""
        return f"{self.method} {self.path}{extra}{size}"


@dataclass(frozen=True)
class Contains:
    """Matcher for an expected-difference check: the text contains ``part``."""

    part: str

    def matches(self, value: object) -> bool:
        return isinstance(value, str) and self.part in value


@dataclass(frozen=True)
class Case:
    """A named sequence of steps run against a gateway with an empty store.

    ``help_any`` lists, per family name, the HELP strings that Go may show for
    a family merged from groups with different HELP (1.5.1 picks one at
    random per scrape); any of them is accepted and stored as ``<any>``.

    ``expected_difference`` marks a case where pushgate deliberately differs
    from 1.5.1. pushgate is then checked against ``sane`` (step index to a
    partial observation) instead of Go's answers. ``go_safe=False`` keeps the
    case away from the Go binary altogether (it would wedge it).
    """

    name: str
    steps: tuple[Step, ...]
    config: Config = DEFAULT
    help_any: HelpAny = field(default_factory=dict)
    expected_difference: str | None = None
    sane: Mapping[int, Observation] = field(default_factory=dict)
    go_safe: bool = True

    @property
    def section(self) -> str:
        return self.name.split(".", 1)[0]


# --------------------------------------------------------------------------------------------
# Protobuf: a private copy of io.prometheus.client.MetricFamily


def _build_metric_family_class() -> type[Message]:
    """Message class for ``io.prometheus.client.MetricFamily`` in a private pool.

    A private pool keeps this copy from clashing with any other module that
    registers the same proto file in the default pool.
    """
    fdp = descriptor_pb2.FileDescriptorProto(
        name="differential/metrics.proto", package="io.prometheus.client", syntax="proto2"
    )
    opt = descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL
    rep = descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED
    t = descriptor_pb2.FieldDescriptorProto
    messages: dict[str, list[tuple[str, int, int, int, str]]] = {
        "LabelPair": [("name", 1, opt, t.TYPE_STRING, ""), ("value", 2, opt, t.TYPE_STRING, "")],
        "Gauge": [("value", 1, opt, t.TYPE_DOUBLE, "")],
        "Counter": [("value", 1, opt, t.TYPE_DOUBLE, "")],
        "Quantile": [("quantile", 1, opt, t.TYPE_DOUBLE, ""), ("value", 2, opt, t.TYPE_DOUBLE, "")],
        "Summary": [
            ("sample_count", 1, opt, t.TYPE_UINT64, ""),
            ("sample_sum", 2, opt, t.TYPE_DOUBLE, ""),
            ("quantile", 3, rep, t.TYPE_MESSAGE, ".io.prometheus.client.Quantile"),
        ],
        "Untyped": [("value", 1, opt, t.TYPE_DOUBLE, "")],
        "Bucket": [
            ("cumulative_count", 1, opt, t.TYPE_UINT64, ""),
            ("upper_bound", 2, opt, t.TYPE_DOUBLE, ""),
        ],
        "Histogram": [
            ("sample_count", 1, opt, t.TYPE_UINT64, ""),
            ("sample_sum", 2, opt, t.TYPE_DOUBLE, ""),
            ("bucket", 3, rep, t.TYPE_MESSAGE, ".io.prometheus.client.Bucket"),
        ],
        "Metric": [
            ("label", 1, rep, t.TYPE_MESSAGE, ".io.prometheus.client.LabelPair"),
            ("gauge", 2, opt, t.TYPE_MESSAGE, ".io.prometheus.client.Gauge"),
            ("counter", 3, opt, t.TYPE_MESSAGE, ".io.prometheus.client.Counter"),
            ("summary", 4, opt, t.TYPE_MESSAGE, ".io.prometheus.client.Summary"),
            ("untyped", 5, opt, t.TYPE_MESSAGE, ".io.prometheus.client.Untyped"),
            ("timestamp_ms", 6, opt, t.TYPE_INT64, ""),
            ("histogram", 7, opt, t.TYPE_MESSAGE, ".io.prometheus.client.Histogram"),
        ],
        "MetricFamily": [
            ("name", 1, opt, t.TYPE_STRING, ""),
            ("help", 2, opt, t.TYPE_STRING, ""),
            ("type", 3, opt, t.TYPE_ENUM, ".io.prometheus.client.MetricType"),
            ("metric", 4, rep, t.TYPE_MESSAGE, ".io.prometheus.client.Metric"),
        ],
    }
    enum = fdp.enum_type.add(name="MetricType")
    for number, name in enumerate(METRIC_TYPE_NAMES):
        enum.value.add(name=name, number=number)
    for msg_name, fields in messages.items():
        msg = fdp.message_type.add(name=msg_name)
        for fname, number, label, ftype, type_name in fields:
            f = msg.field.add(name=fname, number=number, label=label, type=ftype)
            if type_name:
                f.type_name = type_name
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return message_factory.GetMessageClass(
        pool.FindMessageTypeByName("io.prometheus.client.MetricFamily")
    )


METRIC_TYPE_NAMES = ("COUNTER", "GAUGE", "SUMMARY", "UNTYPED", "HISTOGRAM", "GAUGE_HISTOGRAM")
MetricFamilyPB = _build_metric_family_class()


def encode_varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def decode_delimited(data: bytes) -> list[Message]:
    """Split a varint-length-delimited stream of MetricFamily messages."""
    families: list[Message] = []
    pos = 0
    while pos < len(data):
        length = shift = 0
        while True:
            if pos >= len(data):
                raise DecodeError("truncated varint")
            byte = data[pos]
            pos += 1
            length |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        if pos + length > len(data):
            raise DecodeError("truncated message")
        mf = MetricFamilyPB()
        mf.ParseFromString(data[pos : pos + length])
        families.append(mf)
        pos += length
    return families


def pb_family(
    name: str | None,
    mtype: str | None,
    metrics: Sequence[Mapping[str, Any]],
    help: str | None = None,
) -> bytes:
    """One length-delimited MetricFamily built from plain data.

    ``metrics`` items: ``labels`` (pairs), and one of ``gauge``/``counter``/
    ``untyped`` (value), ``summary`` (``count``, ``sum``, ``quantiles``),
    ``histogram`` (``count``, ``sum``, ``buckets``); ``timestamp_ms``.
    ``name``/``mtype`` of ``None`` leave the field unset.
    """
    mf = MetricFamilyPB()
    if name is not None:
        mf.name = name  # type: ignore[attr-defined]
    if help is not None:
        mf.help = help  # type: ignore[attr-defined]
    if mtype is not None:
        mf.type = METRIC_TYPE_NAMES.index(mtype)  # type: ignore[attr-defined]
    for spec in metrics:
        m = mf.metric.add()  # type: ignore[attr-defined]
        for k, v in spec.get("labels", ()):
            m.label.add(name=k, value=v)
        for simple in ("gauge", "counter", "untyped"):
            if simple in spec:
                getattr(m, simple).value = spec[simple]
        if "summary" in spec:
            s = spec["summary"]
            m.summary.sample_count = s.get("count", 0)
            m.summary.sample_sum = s.get("sum", 0.0)
            for q, v in s.get("quantiles", ()):
                m.summary.quantile.add(quantile=q, value=v)
        if "histogram" in spec:
            h = spec["histogram"]
            m.histogram.sample_count = h.get("count", 0)
            m.histogram.sample_sum = h.get("sum", 0.0)
            for ub, c in h.get("buckets", ()):
                m.histogram.bucket.add(upper_bound=ub, cumulative_count=c)
        if "timestamp_ms" in spec:
            m.timestamp_ms = spec["timestamp_ms"]
    payload = mf.SerializeToString()
    return encode_varint(len(payload)) + payload


# --------------------------------------------------------------------------------------------
# Normalisation


def go_float(v: float) -> str:
    """Go's shortest 'g' formatting (``fmt.Sprint``), used for protobuf values."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    if v == 0:
        return "-0" if math.copysign(1, v) < 0 else "0"
    sign = "-" if v < 0 else ""
    mantissa, _, exp = repr(abs(v)).partition("e")
    int_part, _, frac = mantissa.partition(".")
    raw = int_part + frac
    stripped = raw.lstrip("0")
    e = len(int_part) - 1 - (len(raw) - len(stripped)) + (int(exp) if exp else 0)
    digits = stripped.rstrip("0") or "0"
    if e < -4 or e >= 6:
        m = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{m}e{'+' if e >= 0 else '-'}{abs(e):02d}"
    if e >= 0:
        if len(digits) <= e + 1:
            return sign + digits + "0" * (e + 1 - len(digits))
        return sign + digits[: e + 1] + "." + digits[e + 1 :]
    return sign + "0." + "0" * (-e - 1) + digits


def clock_token(value: str) -> str:
    """A push-time reading becomes ``0`` or ``nonzero``."""
    try:
        return "0" if float(value) == 0 else "nonzero"
    except ValueError:
        return f"bad:{value}"


_DUMP = re.compile(r"\{ .* \}")
_NOT_A_TYPE = re.compile(r"is not a [A-Z_]+")
_COLLIDES_BASE_FIRST = re.compile(
    r'collected (?:histogram or summary|histogram|summary) named "([^"]*)" '
    r'collides with previously collected metric named "([^"]*)"'
)
_COLLIDES_SUFFIX_FIRST = re.compile(
    r'collected metric named "([^"]*)" '
    r'collides with previously collected (?:histogram|summary) named "([^"]*)"'
)


def normalise_message(text: str) -> str:
    """Error text without Go's protobuf dumps; multi-error lists sorted.

    ``collected metric "x" { label:<...> gauge:<value:1 > } is not a COUNTER``
    becomes ``collected metric "x" {…} is not a <type>``. The ``* `` lines of
    ``N error(s) occurred`` come from map iteration and are sorted.
    """
    text = _DUMP.sub("{…}", text)
    # Which of two conflicting families 1.5.1 meets first is random (Go map
    # order), so the conflict is reduced to what does not depend on it.
    text = _NOT_A_TYPE.sub("is not a <type>", text)
    text = _COLLIDES_BASE_FIRST.sub(r'<"\1" collides with "\2">', text)
    text = _COLLIDES_SUFFIX_FIRST.sub(r'<"\2" collides with "\1">', text)
    lines = text.split("\n")
    bullets = sorted(line for line in lines if line.startswith("* "))
    if bullets:
        it = iter(bullets)
        lines = [next(it) if line.startswith("* ") else line for line in lines]
    return "\n".join(lines)


_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\.)*)"')


def _parse_labels(text: str) -> list[list[str]] | None:
    """``a="1",b="x\\"y"`` to pairs, values kept in their escaped spelling."""
    pairs: list[list[str]] = []
    pos = 0
    while pos < len(text):
        m = _LABEL.match(text, pos)
        if m is None:
            return None
        pairs.append([m.group(1), m.group(2)])
        pos = m.end()
        if pos < len(text):
            if text[pos] != ",":
                return None
            pos += 1
            if pos == len(text):
                return None  # the writer never leaves a trailing comma
    return pairs


def parse_exposition(text: str, help_any: HelpAny | None = None) -> list[Observation]:
    """Text format 0.0.4 as written by a gateway, as a list of families in order.

    Strict on purpose: a line the writer should never produce is kept as
    ``{"unparsed": line}`` so that the difference shows. Help strings and
    label values stay in their escaped spelling; sample values stay as text
    (float formatting is part of compatibility), except push times.
    """
    families: list[Observation] = []
    current: Observation | None = None
    pending_help: dict[str, str] = {}
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    else:
        families.append({"unparsed": "<no final newline>"})
    for line in lines:
        if line.startswith("# HELP "):
            name, _, doc = line[7:].partition(" ")
            pending_help[name] = doc
            continue
        if line.startswith("# TYPE "):
            name, _, mtype = line[7:].partition(" ")
            current = {"name": name, "type": mtype, "help": pending_help.pop(name, None)}
            current["samples"] = []
            families.append(current)
            continue
        m = _SAMPLE.match(line)
        labels = _parse_labels(m.group(2) or "") if m else None
        if m is None or labels is None or current is None:
            families.append({"unparsed": line})
            continue
        value = m.group(3)
        if current["name"] in PUSH_TIME_FAMILIES:
            value = clock_token(value)
        current["samples"].append([m.group(1), labels, value])
    if pending_help:
        families.append({"unparsed": f"HELP without TYPE: {sorted(pending_help)}"})
    return [_apply_help_any(f, help_any) for f in families if not _is_own(f)]


def _is_own(family: Observation) -> bool:
    return "name" in family and str(family["name"]).startswith(OWN_PREFIXES)


def _apply_help_any(family: Observation, help_any: HelpAny | None) -> Observation:
    """The family with its HELP replaced by ``<any>`` if it is one of the candidates."""
    name = str(family.get("name"))
    if help_any and name in help_any and family.get("help") in help_any[name]:
        return {**family, "help": "<any>"}
    return family


def parse_protobuf(data: bytes, help_any: HelpAny | None = None) -> list[Observation]:
    """A delimited protobuf exposition as a list of families in order."""
    out: list[Observation] = []
    for mf in decode_delimited(data):
        name: str = mf.name  # type: ignore[attr-defined]
        if name.startswith(OWN_PREFIXES):
            continue
        fam: Observation = {
            "name": name,
            "type": METRIC_TYPE_NAMES[mf.type],  # type: ignore[attr-defined]
            "help": mf.help if mf.HasField("help") else None,  # type: ignore[attr-defined]
            "metrics": [_pb_metric(name, m) for m in mf.metric],  # type: ignore[attr-defined]
        }
        out.append(_apply_help_any(fam, help_any))
    return out


def _pb_metric(family: str, m: Any) -> Observation:
    obs: Observation = {"labels": [[lp.name, lp.value] for lp in m.label]}
    for simple in ("gauge", "counter", "untyped"):
        if m.HasField(simple):
            value = go_float(getattr(m, simple).value)
            obs[simple] = clock_token(value) if family in PUSH_TIME_FAMILIES else value
    if m.HasField("summary"):
        s = m.summary
        obs["summary"] = {
            "count": s.sample_count,
            "sum": go_float(s.sample_sum),
            "quantiles": [[go_float(q.quantile), go_float(q.value)] for q in s.quantile],
        }
    if m.HasField("histogram"):
        h = m.histogram
        obs["histogram"] = {
            "count": h.sample_count,
            "sum": go_float(h.sample_sum),
            "buckets": [[go_float(b.upper_bound), b.cumulative_count] for b in h.bucket],
        }
    if m.HasField("timestamp_ms"):
        obs["timestamp_ms"] = m.timestamp_ms
    return obs


_RFC3339 = re.compile(
    r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$"
)


def rfc3339_nanos(value: str) -> int | None:
    """Nanoseconds since the epoch of an RFC 3339 time, or None if malformed."""
    m = _RFC3339.match(value)
    if m is None:
        return None
    y, mo, d, h, mi, s = (int(g) for g in m.groups()[:6])
    frac = (m.group(7) or "").ljust(9, "0")
    offset = 0
    if m.group(8) != "Z":
        sign = 1 if m.group(8)[0] == "+" else -1
        offset = sign * (int(m.group(8)[1:3]) * 3600 + int(m.group(8)[4:6]) * 60)
    seconds = calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0)) - offset
    return seconds * 1_000_000_000 + int(frac)


def normalise_api_metrics(body: bytes) -> Observation:
    """``/api/v1/metrics``: groups sorted by labels, times as per-group ranks."""
    try:
        doc = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return {"invalid_json": str(exc)}
    out: Observation = {"status": doc.get("status"), "html_escaped": not re.search(rb"[<>&]", body)}
    data = doc.get("data")
    if not isinstance(data, list):
        out["data"] = data
        return out
    groups = []
    for group in data:
        times: dict[str, int | None] = {}
        families: dict[str, Any] = {}
        for key, value in group.items():
            if key in ("labels", "last_push_successful"):
                continue
            if not isinstance(value, dict):
                families[key] = {"not_an_object": value}
                continue
            fam = dict(value)
            stamp = fam.pop("time_stamp", None)
            times[key] = rfc3339_nanos(stamp) if isinstance(stamp, str) else None
            if key in PUSH_TIME_FAMILIES:
                fam["metrics"] = [
                    {**m, "value": clock_token(m.get("value", ""))} for m in fam.get("metrics", [])
                ]
            families[key] = fam
        ranks = sorted({t for t in times.values() if t is not None})
        for key, t in times.items():
            families[key]["time"] = f"t{ranks.index(t)}" if t is not None else "invalid"
        groups.append(
            {
                "labels": group.get("labels"),
                "last_push_successful": group.get("last_push_successful"),
                "families": families,
            }
        )
    groups.sort(key=lambda g: json.dumps(g["labels"], sort_keys=True))
    out["data"] = groups
    return out


#: Official flags whose value in ``/api/v1/status`` does not depend on the machine.
STATUS_FLAGS = (
    "push.disable-consistency-check",
    "web.enable-admin-api",
    "web.enable-lifecycle",
    "web.external-url",
    "web.route-prefix",
    "web.telemetry-path",
)
STATUS_FLAG_NAMES_PRESENT = (
    "log.format",
    "log.level",
    "persistence.file",
    "persistence.interval",
    "web.config.file",
    "web.listen-address",
    *STATUS_FLAGS,
)


def normalise_api_status(body: bytes) -> Observation:
    """``/api/v1/status`` reduced to its shape and the machine-independent flags."""
    try:
        doc = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return {"invalid_json": str(exc)}
    data = doc.get("data") or {}
    flags = data.get("flags") or {}
    start = data.get("start_time")
    return {
        "status": doc.get("status"),
        "data_keys": sorted(data),
        "build_information_keys": sorted(data.get("build_information") or {}),
        "flags_missing": [n for n in STATUS_FLAG_NAMES_PRESENT if n not in flags],
        "flags": {n: flags.get(n) for n in STATUS_FLAGS},
        "flag_values_are_strings": all(isinstance(v, str) for v in flags.values()),
        "start_time": "rfc3339" if isinstance(start, str) and rfc3339_nanos(start) else start,
    }


# --------------------------------------------------------------------------------------------
# Sending


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return None


def send(port: int, step: Step, prefix: str = "", timeout: float = 10.0) -> Response:
    """Send one request exactly as written (no path normalisation, no extra headers)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.putrequest(step.method, prefix + step.path, skip_accept_encoding=True)
        names = {k.lower() for k, _ in step.headers}
        for k, v in step.headers:
            conn.putheader(k, v)
        wants_length = step.body or step.method in ("PUT", "POST")
        if wants_length and not names & {"content-length", "transfer-encoding"}:
            conn.putheader("Content-Length", str(len(step.body)))
        conn.endheaders(step.body or None)
        resp = conn.getresponse()
        body = b"" if step.method == "HEAD" else resp.read()
        return Response(resp.status, resp.getheaders(), body)
    finally:
        conn.close()


def observe(resp: Response, kind: StepKind, help_any: HelpAny) -> Observation:
    """The normalised, comparable form of one answer."""
    headers = {n: resp.header(n) for n in COMPARED_HEADERS if resp.header(n) is not None}
    obs: Observation = {"status": resp.status, "headers": headers}
    ctype = (headers.get("content-type") or "").lower()
    body = resp.body
    if headers.get("content-encoding") == "gzip":
        try:
            body = gzip.decompress(body)
        except (OSError, EOFError) as exc:
            obs["body"] = f"<bad gzip: {exc}>"
            return obs
    if resp.status == 200 and kind == "exposition":
        if "encoding=delimited" in ctype:
            try:
                obs["families"] = parse_protobuf(body, help_any)
            except DecodeError as exc:
                obs["body"] = f"<bad protobuf: {exc}>"
        elif ctype.startswith("application/vnd.google.protobuf"):
            obs["body"] = "<protobuf text>" if body else "<empty>"
        else:
            obs["families"] = parse_exposition(body.decode("utf-8", "backslashreplace"), help_any)
        return obs
    if resp.status == 200 and kind == "api":
        obs["json"] = normalise_api_metrics(body)
        return obs
    if resp.status == 200 and kind == "status":
        obs["json"] = normalise_api_status(body)
        return obs
    if ctype.startswith("text/html"):
        obs["body"] = "<html>" if b"<html" in body.lower() else "<not html>"
        if resp.status == 200:
            # The web UI is pushgate's own (spec 7.3: same routes, not the same
            # page); its caching and security headers are not compared.
            obs["headers"] = {"content-type": headers.get("content-type", "")}
    elif resp.status == 200 and ctype and not ctype.startswith(("text/plain", "application/json")):
        obs["body"] = "<non-empty>" if body else "<empty>"
    else:
        obs["body"] = normalise_message(body.decode("utf-8", "backslashreplace"))
    return obs


# --------------------------------------------------------------------------------------------
# Running a case


def reset(port: int, config: Config, timeout: float = 5.0) -> None:
    """Empty the store: wipe (admin API) or delete every listed group, then wait."""
    api = Step("GET", "/api/v1/metrics")
    if config.admin:
        resp = send(port, Step("PUT", "/api/v1/admin/wipe"), config.prefix)
        if resp.status != 202:
            raise RuntimeError(f"wipe answered {resp.status}: {resp.body!r}")
    else:
        resp = send(port, api, config.prefix)
        for group in json.loads(resp.body).get("data", []):
            send(port, Step("DELETE", grouping_path(group["labels"])), config.prefix)
    deadline = time.monotonic() + timeout
    while True:
        resp = send(port, api, config.prefix)
        if resp.status == 200 and json.loads(resp.body).get("data") == []:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"store not empty after reset: {resp.body[:500]!r}")
        time.sleep(0.01)


def b64(value: str | bytes) -> str:
    raw = value.encode() if isinstance(value, str) else value
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def grouping_path(labels: Mapping[str, str]) -> str:
    """The push path of a grouping key, every value in base64 (empty values work)."""
    path = f"/metrics/job@base64/{b64(labels['job'])}"
    for name, value in sorted(labels.items()):
        if name != "job":
            path += f"/{name}@base64/{b64(value)}="
    return path


#: How long an observation is retried after an asynchronous write (202).
SETTLE_TIMEOUT = 2.0


def run_case(
    port: int,
    case: Case,
    expected: Sequence[Observation] | None = None,
    *,
    on_step: Callable[[int, Observation], None] | None = None,
) -> list[Observation]:
    """Run ``case`` against the gateway on ``port`` (whose store is empty).

    Writes answered with 202 are applied asynchronously by 1.5.1; after one,
    an observation is retried until it equals ``expected`` (or the timeout
    passes). Without ``expected`` (recording), the harness waits a moment
    after each 202 instead.
    """
    observations: list[Observation] = []
    pending_async = False
    for i, step in enumerate(case.steps):
        read_only = step.method in ("GET", "OPTIONS", "HEAD")
        want = expected[i] if expected is not None and i < len(expected) else None
        deadline = time.monotonic() + SETTLE_TIMEOUT
        while True:
            try:
                resp = send(port, step)
            except (OSError, http.client.HTTPException) as exc:
                raise ConnectionError(f"{case.name}: step {i} {step.describe()}: {exc!r}") from exc
            obs = observe(resp, step.kind, case.help_any)
            if not (read_only and pending_async and want is not None):
                break
            if obs == want or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        if obs["status"] == 202:
            pending_async = True
            if expected is None:
                time.sleep(0.15)
        observations.append(obs)
        if on_step is not None:
            on_step(i, obs)
    return observations


def match_partial(expected: Any, actual: Any, path: str = "") -> list[str]:
    """Differences between a partial expectation and an observation."""
    if isinstance(expected, Contains):
        return [] if expected.matches(actual) else [f"{path}: {actual!r} lacks {expected.part!r}"]
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{path}: expected an object, got {actual!r}"]
        problems: list[str] = []
        for k, v in expected.items():
            if k not in actual:
                problems.append(f"{path}.{k}: missing (expected {v!r})")
            else:
                problems.extend(match_partial(v, actual[k], f"{path}.{k}"))
        return problems
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return [f"{path}: expected {len(expected)} items, got {actual!r}"]
        return [
            p
            for i, (e, a) in enumerate(zip(expected, actual, strict=True))
            for p in match_partial(e, a, f"{path}[{i}]")
        ]
    return [] if expected == actual else [f"{path}: expected {expected!r}, got {actual!r}"]
