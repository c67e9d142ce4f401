"""``/-/healthy`` and ``/-/ready``."""

from __future__ import annotations

from aiohttp import web

from pushgate.server.errors import text_error
from pushgate.server.gateway import Gateway


async def _check(gw: Gateway, handler: str) -> web.Response:
    if gw.store.queue_full:
        response = text_error(500, "write queue is full")
    else:
        response = web.Response(text="OK", headers={"Content-Type": "text/plain; charset=utf-8"})
    gw.metrics.count_request(response.status, handler, "get")
    return response


async def handle_healthy(gw: Gateway, request: web.Request, params: dict[str, str]) -> web.Response:
    return await _check(gw, "healthy")


async def handle_ready(gw: Gateway, request: web.Request, params: dict[str, str]) -> web.Response:
    return await _check(gw, "ready")
