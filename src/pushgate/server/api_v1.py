"""The JSON API: ``/api/v1/status`` and ``/api/v1/metrics`` (spec 6).

The JSON is written as Go's encoder writes it: compact, keys sorted, ``<``,
``>`` and ``&`` escaped, every number a string in Go's float format.
"""

from __future__ import annotations

import json
import platform
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from pushgate import __version__
from pushgate.core.floats import format_float_json
from pushgate.core.model import GroupingKey, Metric, MetricFamily
from pushgate.server.gateway import Gateway
from pushgate.store.contract import Group

CORS_HEADERS = {
    "Access-Control-Allow-Headers": "Accept, Authorization, Content-Type, Origin",
    "Access-Control-Allow-Methods": "GET, POST, DELETE, OPTIONS",
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Expose-Headers": "Date",
    "Cache-Control": "no-cache, no-store, must-revalidate",
}
TYPE_NAMES = {
    "counter": "COUNTER",
    "gauge": "GAUGE",
    "summary": "SUMMARY",
    "histogram": "HISTOGRAM",
    "untyped": "UNTYPED",
}


def go_json(value: Any) -> bytes:
    """JSON as Go's encoding/json writes it (HTML characters escaped)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    # Invalid UTF-8 (kept as surrogate escapes) becomes U+FFFD, as in Go.
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace").encode("utf-8")


def rfc3339_nano(ts: float) -> str:
    """Go's time.Time JSON form in UTC, fraction trimmed of trailing zeros."""
    ns = round(ts * 1e9)
    seconds, frac = divmod(ns, 1_000_000_000)
    base = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    if frac:
        base += "." + f"{frac:09d}".rstrip("0")
    return base + "Z"


def _metric_json(family: MetricFamily, m: Metric) -> dict[str, Any]:
    out: dict[str, Any] = {"labels": dict(m.labels)}
    if family.type == "summary":
        out["quantiles"] = {format_float_json(q): format_float_json(v) for q, v in m.quantiles}
        out["count"] = str(m.sample_count)
        out["sum"] = format_float_json(m.sample_sum)
    elif family.type == "histogram":
        out["buckets"] = {format_float_json(b): str(c) for b, c in m.buckets}
        out["count"] = str(m.sample_count)
        out["sum"] = format_float_json(m.sample_sum)
    else:
        out["value"] = format_float_json(m.value)
    return out


def group_json(group: Group) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, stored in group.families.items():
        family = stored.family
        entry: dict[str, Any] = {
            "time_stamp": rfc3339_nano(stored.last_push),
            "type": TYPE_NAMES[family.type],
            "metrics": [_metric_json(family, m) for m in family.metrics],
        }
        if family.help:
            entry["help"] = family.help
        out[name] = entry
    # Set last, as 1.5.1 does: a family called "labels" is overwritten.
    out["labels"] = dict(group.key)
    out["last_push_successful"] = group.last_push_successful
    if group.expires_at is not None:  # pushgate's own key (docs/retention.md)
        out["expires_at"] = rfc3339_nano(group.expires_at)
    return out


def _json_response(body: bytes) -> web.Response:
    """A success envelope already encoded as ``body``, with the API's headers."""
    return web.Response(body=body, headers={**CORS_HEADERS, "Content-Type": "application/json"})


def _groups_body(gw: Gateway) -> bytes:
    cache = gw.api_cache
    fresh: dict[GroupingKey, tuple[Group, bytes]] = {}
    parts = []
    for group in gw.store.groups():
        cached = cache.get(group.key)
        if cached is None or cached[0] is not group:
            cached = (group, go_json(group_json(group)))
        fresh[group.key] = cached
        parts.append(cached[1])
    gw.api_cache = fresh  # drops the JSON of deleted groups
    return b'{"data":[' + b",".join(parts) + b'],"status":"success"}'


async def handle_metrics(gw: Gateway, request: web.Request, params: dict[str, str]) -> web.Response:
    response = _json_response(_groups_body(gw))
    gw.metrics.count_request(200, "api/v1/metrics", "get")
    return response


async def handle_status(gw: Gateway, request: web.Request, params: dict[str, str]) -> web.Response:
    data = {
        "build_information": {
            "branch": "",
            "buildDate": "",
            "buildUser": "",
            "goVersion": "python" + platform.python_version(),
            "revision": "",
            "version": __version__,
        },
        "flags": gw.settings.flags,
        "start_time": rfc3339_nano(gw.start_time),
    }
    gw.metrics.count_request(200, "api/v1/status", "get")
    return _json_response(go_json({"status": "success", "data": data}))


async def handle_options(gw: Gateway, request: web.Request, params: dict[str, str]) -> web.Response:
    gw.metrics.count_request(200, "api/v1/options", "options")
    return web.Response(status=200, headers=CORS_HEADERS)
