"""GET of the telemetry path: every group merged with the gateway's own metrics."""

from __future__ import annotations

import gzip

from aiohttp import web

from pushgate.core.protobuf import (
    negotiate_exposition,
    render_compact_text,
    render_delimited,
    render_text_debug,
)
from pushgate.server.gateway import Gateway

TEXT_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_PROTO = "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding="


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
        body = gw.store.render_text(own, compress=compress)
        content_type = TEXT_CONTENT_TYPE
        headers = {"Content-Type": content_type}
        if compress:
            headers["Content-Encoding"] = "gzip"
        return web.Response(body=body, headers=headers)
    else:
        families = gw.store.merged_families(own)
        if fmt == "protobuf-delimited":
            body, content_type = render_delimited(families), _PROTO + "delimited"
        elif fmt == "protobuf-text":
            body, content_type = render_text_debug(families), _PROTO + "text"
        else:
            body, content_type = render_compact_text(families), _PROTO + "compact-text"
    headers = {"Content-Type": content_type}
    if compress:
        body = gzip.compress(body, compresslevel=1)
        headers["Content-Encoding"] = "gzip"
    return web.Response(body=body, headers=headers)
