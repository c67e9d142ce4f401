"""Admin and lifecycle: ``PUT /api/v1/admin/wipe`` and ``PUT|POST /-/quit``."""

from __future__ import annotations

from aiohttp import web

from pushgate.core.errors import PushgateError
from pushgate.server.errors import error_response
from pushgate.server.gateway import Gateway


async def handle_wipe(gw: Gateway, request: web.Request, params: dict[str, str]) -> web.Response:
    # Unlike 1.5.1 (one queued DELETE per group, answered before any is
    # applied), the wipe is one atomic, durable step, done when answered.
    try:
        await gw.store.wipe()
    except PushgateError as e:
        return error_response(e)
    gw.metrics.count_request(202, "wipe", "put")
    return web.Response(status=202)


async def handle_quit(gw: Gateway, request: web.Request, params: dict[str, str]) -> web.Response:
    if not gw.settings.enable_lifecycle:
        return _plain(403, "Lifecycle API is not enabled.")
    gw.quit_requested.set()
    return web.Response(
        text="Requesting termination... Goodbye!",
        headers={"Content-Type": "text/plain; charset=utf-8"},
    )


async def handle_quit_get(
    gw: Gateway, request: web.Request, params: dict[str, str]
) -> web.Response:
    return _plain(405, "Only POST or PUT requests allowed.")


def _plain(status: int, text: str) -> web.Response:
    # The official lifecycle handler writes these texts itself: no newline,
    # no nosniff header (unlike http.Error).
    return web.Response(
        status=status, body=text.encode(), headers={"Content-Type": "text/plain; charset=utf-8"}
    )
