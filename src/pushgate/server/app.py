"""Wiring: the route table, the aiohttp application and the listeners.

One catch-all aiohttp route hands every request to :func:`dispatch`, which
asks the Go-compatible :class:`~pushgate.server.router.Router` what the
official gateway would do with the raw path (serve, redirect, 404, 405) and
calls the resource module that serves it.
"""

from __future__ import annotations

import asyncio
import gc
import html
import logging
import posixpath
import signal
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from pushgate.server import admin, api_v1, exposition, health, push, reload, ui
from pushgate.server.auth import AccessControl
from pushgate.server.config import ConfigStatus, GatewayConfig, load_config
from pushgate.server.errors import text_error
from pushgate.server.gateway import Gateway
from pushgate.server.hardening import HardenedAppRunner
from pushgate.server.limits import Limiter
from pushgate.server.router import (
    BadRequest,
    Match,
    MethodNotAllowed,
    NotFound,
    Options,
    Redirect,
    Resolution,
    Route,
    Router,
)
from pushgate.server.selfmetrics import OWN_TYPES
from pushgate.server.settings import Settings
from pushgate.store import open_store

log = logging.getLogger("pushgate.server")

Handler = Callable[[Gateway, web.Request, dict[str, str]], Awaitable[web.StreamResponse]]


async def _push_plain(
    gw: Gateway, request: web.Request, params: dict[str, str]
) -> web.StreamResponse:
    return await push.handle_write(gw, request, params, job_base64=False)


async def _push_base64(
    gw: Gateway, request: web.Request, params: dict[str, str]
) -> web.StreamResponse:
    return await push.handle_write(gw, request, params, job_base64=True)


HANDLERS: dict[str, Handler] = {
    "metrics": exposition.handle_metrics,
    "push": _push_plain,
    "push_base64": _push_base64,
    "healthy": health.handle_healthy,
    "ready": health.handle_ready,
    "quit": admin.handle_quit,
    "quit_get": admin.handle_quit_get,
    "api_status": api_v1.handle_status,
    "api_metrics": api_v1.handle_metrics,
    "api_options": api_v1.handle_options,
    "wipe": admin.handle_wipe,
    "ui": ui.handle_index,
    "static": ui.handle_static,
    "ui_ci": ui.handle_ci,
    "ui_group": ui.handle_group,
    "ui_group_base64": ui.handle_group_base64,
    "reload": reload.handle_reload,
}


def build_routes(settings: Settings) -> list[Route]:
    # Go joins the telemetry path with the prefix (path.Join), so it is
    # registered already joined and outside the prefix.
    joined = posixpath.normpath(settings.effective_prefix + "/" + settings.telemetry_path)
    telemetry = "/" + joined.lstrip("/")  # normpath keeps a leading "//"
    routes = [Route("GET", telemetry, "metrics", prefixed=False)]
    for method in ("PUT", "POST", "DELETE"):
        routes += [
            Route(method, "/metrics/job/:job", "push"),
            Route(method, "/metrics/job/:job/*labels", "push"),
            Route(method, "/metrics/job@base64/:job", "push_base64"),
            Route(method, "/metrics/job@base64/:job/*labels", "push_base64"),
        ]
    routes += [
        Route("GET", "/-/healthy", "healthy"),
        Route("GET", "/-/ready", "ready"),
        Route("PUT", "/-/quit", "quit"),
        Route("POST", "/-/quit", "quit"),
        Route("GET", "/api/v1/status", "api_status"),
        Route("GET", "/api/v1/metrics", "api_metrics"),
        Route("OPTIONS", "/api/v1/*path", "api_options"),
        Route("GET", "/", "ui"),
        Route("GET", "/status", "ui"),
        Route("GET", "/static/*filepath", "static"),
        # pushgate's own UI pages (docs/ui.md); not in 1.5.1.
        Route("GET", "/ci", "ui_ci"),
        Route("GET", "/group/job/:job", "ui_group"),
        Route("GET", "/group/job/:job/*labels", "ui_group"),
        Route("GET", "/group/job@base64/:job", "ui_group_base64"),
        Route("GET", "/group/job@base64/:job/*labels", "ui_group_base64"),
    ]
    if settings.enable_admin_api:
        routes.append(Route("PUT", "/api/v1/admin/wipe", "wipe"))
    if settings.config_file:
        # Only with --config.file: without one, /-/reload is a 404 as in 1.5.1.
        routes += [Route("PUT", "/-/reload", "reload"), Route("POST", "/-/reload", "reload")]
    # 1.5.1 registers GET /-/quit outside the route prefix (spec 7.2).
    routes.append(Route("GET", "/-/quit", "quit_get", prefixed=False))
    return routes


_STATUS_TEXT = {301: "Moved Permanently", 307: "Temporary Redirect", 308: "Permanent Redirect"}


def redirect(method: str, status: int, location: str) -> web.Response:
    """A redirect as Go's http.Redirect writes it: a small HTML body for GET only."""
    if method in ("GET", "HEAD"):
        text = f'<a href="{html.escape(location)}">{_STATUS_TEXT.get(status, "")}</a>.\n\n'
        return web.Response(
            status=status,
            body=text.encode(),
            headers={"Location": location, "Content-Type": "text/html; charset=utf-8"},
        )
    return web.Response(status=status, headers={"Location": location})


def build_app(gw: Gateway) -> web.Application:
    router = Router(build_routes(gw.settings), gw.settings.effective_prefix)

    async def dispatch(request: web.Request) -> web.StreamResponse:
        raw_path, _, raw_query = request.raw_path.partition("?")
        resolution = router.resolve(request.method, raw_path, raw_query)
        # Authentication, authorization and the audit log (server/auth.py).
        return await gw.access.guard(request, resolution, answer)

    async def answer(request: web.Request, resolution: Resolution) -> web.StreamResponse:
        raw_path = request.raw_path.partition("?")[0]
        if isinstance(resolution, Match):
            return await HANDLERS[resolution.name](gw, request, resolution.params)
        if isinstance(resolution, Redirect):
            return redirect(request.method, resolution.status, resolution.location)
        if isinstance(resolution, MethodNotAllowed):
            return text_error(405, "Method Not Allowed", {"Allow": resolution.allow})
        if isinstance(resolution, Options):
            return web.Response(status=200, headers={"Allow": resolution.allow})
        if isinstance(resolution, BadRequest):
            # Go's HTTP server refuses a bad escape before any handler runs,
            # with its own bare answer (and says why only in its log).
            log.debug("bad request %r: %s", raw_path, resolution.message)
            return web.Response(
                status=400,
                body=b"400 Bad Request",
                headers={"Content-Type": "text/plain; charset=utf-8", "Connection": "close"},
            )
        assert isinstance(resolution, NotFound)
        return text_error(404, "404 page not found")

    app = web.Application(client_max_size=gw.settings.max_body_bytes)
    app.router.add_route("*", "/{tail:.*}", dispatch)
    return app


#: Container allocations between two young-generation collections (CPython's
#: default is 700). A push allocates a few hundred short-lived tuples, so the
#: default collects every few pushes; measured with gwbench, 20,000 cuts the
#: CPU per push by about 9 % (docs/performance.md).
GC_YOUNG_THRESHOLD = 20_000


def tune_gc() -> None:
    """Collect cycles less often, and never scan what the store loaded at start.

    The stored groups are tuples and dicts without reference cycles: they are
    freed by reference counting, so the cycle collector only wastes time on
    them. ``gc.freeze()`` moves everything alive now out of its sight. Also
    turns the collector back on after the load.
    """
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, old)
    gc.enable()


def _parse_listen(address: str) -> tuple[str | None, int]:
    host, _, port = address.rpartition(":")
    host = host.strip("[]")
    return (host or None), int(port)


async def serve(settings: Settings) -> int:
    """Run the gateway until SIGTERM/SIGINT or ``/-/quit``; return the exit code."""
    # The web config is checked before anything is opened: a bad file stops here.
    access = (
        AccessControl.from_file(settings.web_config_file)
        if settings.web_config_file
        else AccessControl()
    )
    tls = access.tls_context()
    # So is the config file (expiry, retention, limits: docs/retention.md).
    config = load_config(settings.config_file) if settings.config_file else GatewayConfig()
    # No cycle collection while the store loads: every object loaded lives
    # on, so each collection would only re-scan them (tune_gc() re-enables it).
    gc.disable()
    try:
        store = open_store(
            settings.persistence_file,
            durability=settings.durability,
            own_types=OWN_TYPES,
            url=settings.store_url,
            policy=config.store,
        )
        await store.start()
    finally:
        tune_gc()
    gw = Gateway(
        settings,
        store,
        access=access,
        limits=Limiter(config.requests),
        config=ConfigStatus(settings.config_file, last_success_time=time.time()),
    )
    app = build_app(gw)
    # auto_decompress=False: request bodies are decoded by push.decode_body,
    # exactly as the official gateway does (only "gzip", case-sensitive).
    # HardenedAppRunner: header limits, slow-client timeouts, no echo (hardening.py).
    runner = HardenedAppRunner(
        app, access_log=None, handle_signals=False, shutdown_timeout=10, auto_decompress=False
    )
    await runner.setup()
    try:
        for address in settings.listen_addresses:
            host, port = _parse_listen(address)
            await web.TCPSite(
                runner,
                host,
                port,
                reuse_address=True,
                ssl_context=tls.context if tls is not None else None,
            ).start()
    except OSError as e:
        await runner.cleanup()
        await store.close()
        log.error("cannot listen on %s: %s", settings.listen_addresses, e)
        return 1
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, gw.quit_requested.set)
    if settings.config_file:
        reload.watch_sighup(gw)
    if access.enabled:
        log.info(
            "web config %s: TLS %s", settings.web_config_file, "on" if tls is not None else "off"
        )
    log.info(
        "pushgate listening on %s, store %s (%d groups)",
        ", ".join(settings.listen_addresses),
        store.name,
        len(store),
    )
    await gw.quit_requested.wait()
    log.info("shutting down: finishing accepted writes")
    await runner.cleanup()
    await store.close()
    return 0
