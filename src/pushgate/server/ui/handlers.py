"""The UI's HTTP handlers: read the request, call a page renderer, answer.

Every page is rendered on the server from the store's snapshot and works
without JavaScript; ``ui.js`` only adds the delete/wipe buttons, copy
buttons and the charts.
"""

from __future__ import annotations

import time

from aiohttp import web

from pushgate import __version__
from pushgate.core.errors import GroupingKeyError
from pushgate.core.grouping import parse_grouping_key
from pushgate.core.model import GroupingKey
from pushgate.server.auth import PRINCIPAL
from pushgate.server.errors import text_error
from pushgate.server.gateway import Gateway
from pushgate.server.ui.assets import load_asset
from pushgate.server.ui.ci import render_ci
from pushgate.server.ui.detail import render_detail, render_missing
from pushgate.server.ui.layout import Permission, UiAction, UiContext, allow_all
from pushgate.server.ui.listing import render_listing
from pushgate.server.ui.status import render_status

#: No inline scripts or styles anywhere: label values are user input, and
#: this makes an escaping mistake harmless rather than exploitable.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
    " connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
_PAGE_HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Cache-Control": "no-store",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def permission() -> Permission:
    """What the current request's credential may do, as far as the UI can tell."""
    principal = PRINCIPAL.get()
    if principal is None:
        return allow_all  # no access control configured

    def may(action: UiAction, key: GroupingKey | None) -> bool:
        return principal.allows(action, key)

    return may


def ui_context(gw: Gateway, request: web.Request) -> UiContext:
    """Where links point and what the page may offer, for this request."""
    settings = gw.settings
    prefix = settings.effective_prefix
    if settings.external_url:
        base = settings.ui_path_prefix
        public = settings.external_url.rstrip("/")
    else:
        # Relative links, as the official UI: from P/group/job/a/x/y back to P/.
        raw_path = request.raw_path.partition("?")[0]
        rest = raw_path[len(prefix) :] if raw_path.startswith(prefix) else "/"
        ups = rest.count("/") - 1
        base = "/".join([".."] * ups) if ups > 0 else "."
        public = f"{request.scheme}://{request.host}{prefix}"
    return UiContext(
        base=base,
        public_url=public,
        admin_api=settings.enable_admin_api,
        now=time.time(),
        version=__version__,
        started=gw.start_time,
        may=permission(),
    )


def _html(gw: Gateway, page: str, status: int = 200) -> web.Response:
    gw.metrics.count_request(status, "status", "get")
    return web.Response(status=status, body=page.encode("utf-8", "replace"), headers=_PAGE_HEADERS)


async def handle_index(gw: Gateway, request: web.Request, params: dict[str, str]) -> web.Response:
    """``GET P/`` (the groups) and ``GET P/status`` (start time, build, flags)."""
    ctx = ui_context(gw, request)
    if request.raw_path.partition("?")[0].endswith("/status"):
        page = render_status(
            ctx,
            store_name=getattr(gw.store, "name", type(gw.store).__name__),
            groups=len(gw.store.groups()),
            flags=gw.settings.flags,
        )
        return _html(gw, page)
    return _html(gw, render_listing(ctx, gw.store.groups(), request.query))


async def handle_ci(gw: Gateway, request: web.Request, params: dict[str, str]) -> web.Response:
    """``GET P/ci``: the latest CI run per job and branch, with trends."""
    ctx = ui_context(gw, request)
    return _html(gw, render_ci(ctx, gw.store.groups(), request.query))


async def _group(
    gw: Gateway, request: web.Request, params: dict[str, str], job_base64: bool
) -> web.Response:
    ctx = ui_context(gw, request)
    try:
        key = parse_grouping_key(params["job"], job_base64, params.get("labels", ""))
    except GroupingKeyError as e:
        return _html(gw, render_missing(ctx, None, f"This is not a group address: {e}"), 400)
    group = gw.store.group(key)
    if group is None:
        return _html(gw, render_missing(ctx, key), 404)
    return _html(gw, render_detail(ctx, group, request.query))


async def handle_group(gw: Gateway, request: web.Request, params: dict[str, str]) -> web.Response:
    """``GET P/group/job/<job>/<labels>``: one group, addressed like its push URL."""
    return await _group(gw, request, params, job_base64=False)


async def handle_group_base64(
    gw: Gateway, request: web.Request, params: dict[str, str]
) -> web.Response:
    """``GET P/group/job@base64/<job>/<labels>``."""
    return await _group(gw, request, params, job_base64=True)


async def handle_static(gw: Gateway, request: web.Request, params: dict[str, str]) -> web.Response:
    """``GET P/static/<path>``: the packaged files, from memory."""
    asset = load_asset(params.get("filepath", "").lstrip("/"))
    if asset is None:
        gw.metrics.count_request(404, "static", "get")
        return text_error(404, "404 page not found")
    versioned = request.query.get("v") == asset.version
    gw.metrics.count_request(200, "static", "get")
    return web.Response(
        body=asset.body,
        headers={
            "Content-Type": asset.content_type,
            "Cache-Control": "public, max-age=31536000, immutable" if versioned else "no-cache",
            "ETag": f'"{asset.version}"',
            "X-Content-Type-Options": "nosniff",
        },
    )
