"""GET of the telemetry path: every group merged with the gateway's own metrics."""

from __future__ import annotations

import gzip
from collections.abc import Callable, Iterable

from aiohttp import web

from pushgate.core.model import MetricFamily
from pushgate.core.protobuf import (
    RESPONSE_CONTENT_TYPES,
    ExpositionFormat,
    negotiate_exposition,
    render_compact_text,
    render_delimited,
    render_text_debug,
)
from pushgate.server.gateway import Gateway

_PROTOBUF_RENDERERS: dict[ExpositionFormat, Callable[[Iterable[MetricFamily]], bytes]] = {
    "protobuf-delimited": render_delimited,
    "protobuf-text": render_text_debug,
    "protobuf-compact-text": render_compact_text,
}


def _accepts_gzip(header: str | None) -> bool:
    if not header:
        return False
    for part in header.split(","):
        token, _, params = part.strip().partition(";")
        if token.strip().lower() == "gzip":
            q = params.strip()
            if not q.startswith("q="):
                return True
            try:
                return float(q[2:] or 0) != 0
            except ValueError:
                # An unreadable weight (gzip;q=abc) was a 500; 1.5.1 only
                # checks the "gzip;" prefix, so it counts as accepted.
                return True
    return False


async def handle_metrics(gw: Gateway, request: web.Request, params: dict[str, str]) -> web.Response:
    own = gw.own_families()
    fmt = negotiate_exposition(request.headers.get("Accept"))
    compress = _accepts_gzip(request.headers.get("Accept-Encoding"))
    if fmt == "text":
        # Already gzip-encoded when asked: the store caches compressed families.
        body = gw.store.render_text(own, compress=compress)
    elif fmt == "protobuf-delimited":
        body = gw.store.render_delimited(own)
        if compress:
            body = gzip.compress(body, compresslevel=1)
    else:
        body = _PROTOBUF_RENDERERS[fmt](gw.store.merged_families(own))
        if compress:
            body = gzip.compress(body, compresslevel=1)
    headers = {"Content-Type": RESPONSE_CONTENT_TYPES[fmt]}
    if compress:
        headers["Content-Encoding"] = "gzip"
    return web.Response(body=body, headers=headers)
