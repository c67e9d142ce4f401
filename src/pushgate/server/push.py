"""PUT/POST/DELETE ``/metrics/job/<job>{/<label>/<value>}``: translate and store.

The handler decodes the grouping key and the body, reads the clock, and
hands one :class:`~pushgate.store.contract.WriteRequest` to the store. Every
rule about what is stored lives in the store.
"""

from __future__ import annotations

import gzip
import time
import zlib

from aiohttp import web

from pushgate.core.errors import ConsistencyError, ParseError, PushgateError
from pushgate.core.grouping import parse_grouping_key
from pushgate.core.model import GroupingKey, MetricFamily
from pushgate.core.protobuf import is_protobuf_delimited, parse_delimited
from pushgate.core.textformat import parse_text
from pushgate.server.errors import error_response
from pushgate.server.gateway import Gateway
from pushgate.store.contract import WriteKind, WriteRequest


def decode_body(body: bytes, content_encoding: str | None) -> bytes:
    """Undo ``Content-Encoding: gzip`` (matched exactly, as 1.5.1 does).

    Other encodings are ignored and the bytes are parsed as they are. A
    corrupt gzip stream is a 400 here (1.5.1 silently stored an empty body).
    """
    if content_encoding != "gzip":
        return body
    if not body:
        raise ParseError("EOF")
    if len(body) < 10:
        raise ParseError("unexpected EOF")  # shorter than a gzip header, as Go reports
    if body[:3] != b"\x1f\x8b\x08":
        raise ParseError("gzip: invalid header")
    try:
        return gzip.decompress(body)
    except EOFError as e:
        raise ParseError("unexpected EOF") from e
    except (OSError, zlib.error) as e:
        raise ParseError(f"gzip: invalid data ({e})") from e


def parse_body(body: bytes, content_type: str | None) -> list[MetricFamily]:
    if is_protobuf_delimited(content_type):
        return parse_delimited(body)
    return parse_text(body)


def approximate_request_size(request: web.BaseRequest) -> int:
    """client_golang's approximate request size (what the push size summary records)."""
    size = len(request.method) + len(request.raw_path) + len("HTTP/1.1") + len(request.host)
    for name, value in request.raw_headers:
        size += len(name) + len(value)
    if request.content_length is not None:
        size += request.content_length
    return size


async def handle_write(
    gw: Gateway, request: web.Request, params: dict[str, str], job_base64: bool
) -> web.Response:
    started = time.perf_counter()
    method = request.method
    handler = "delete" if method == "DELETE" else "push"
    response = await _write(gw, request, params, job_base64)
    gw.metrics.count_request(response.status, handler, method)
    if method in ("PUT", "POST"):
        gw.metrics.observe_push(
            method, time.perf_counter() - started, approximate_request_size(request)
        )
    return response


async def _write(
    gw: Gateway, request: web.Request, params: dict[str, str], job_base64: bool
) -> web.Response:
    try:
        # Limiter.read_body: hardening.read_body within the configured max_body_bytes (413).
        raw = await gw.limits.read_body(request)
        body = decode_body(raw, request.headers.get("Content-Encoding"))
        key: GroupingKey = parse_grouping_key(params["job"], job_base64, params.get("labels", ""))
        if request.method == "DELETE":
            await gw.store.write(WriteRequest(key, "delete", (), gw.clock()))
            return web.Response(status=202)
        gw.limits.check_rate(key)  # per-job push rate: 429 with Retry-After
        try:
            families = parse_body(body, request.headers.get("Content-Type"))
        except ConsistencyError:
            # Found while decoding protobuf (a value that does not match the
            # family type): a store-level failure in the official gateway.
            await gw.store.record_failure(key, gw.clock())
            raise
        kind: WriteKind = "put" if request.method == "PUT" else "post"
        ttl = gw.limits.check_push(request, key, families)  # samples, labels; the pusher's TTL
        await gw.store.write(WriteRequest(key, kind, tuple(families), gw.clock(), ttl))
    except ConsistencyError as e:
        if gw.settings.disable_consistency_check:
            # The official gateway answers 202 before checking in this mode;
            # pushgate still refuses to store inconsistent data (see
            # docs/compatibility.md), and records the failure.
            return web.Response(status=202)
        return error_response(e)
    except PushgateError as e:
        return error_response(e)
    return web.Response(status=202 if gw.settings.disable_consistency_check else 200)
