"""The UI's HTTP handlers with a real in-memory store and mocked requests."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from pushgate.core.model import Metric, MetricFamily
from pushgate.core.selector import parse_selector
from pushgate.server.auth import PRINCIPAL, Principal
from pushgate.server.gateway import Gateway
from pushgate.server.grants import Grant
from pushgate.server.settings import Settings
from pushgate.server.ui import (
    handle_ci,
    handle_group,
    handle_group_base64,
    handle_index,
    handle_static,
)
from pushgate.server.ui.assets import load_asset
from pushgate.server.ui.handlers import ui_context
from pushgate.store import open_store
from pushgate.store.contract import WriteRequest


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(coro)


def request(path: str, host: str = "gw.example:9091") -> web.Request:
    return make_mocked_request("GET", path, headers={"Host": host})


async def _gateway(settings: Settings) -> Gateway:
    store = open_store(None)
    await store.start()
    family = MetricFamily("m", "gauge", "help", (Metric((), 1.0),))
    for key in ((("job", "a"),), (("branch", ""), ("job", "a/b"))):
        await store.write(WriteRequest(key, "put", (family,), 1_700_000_000.0))
    return Gateway(settings, store)


async def _call(
    settings: Settings, handler: Any, path: str, params: dict[str, str]
) -> web.Response:
    gw = await _gateway(settings)
    try:
        response: web.Response = await handler(gw, request(path), params)
        return response
    finally:
        await gw.store.close()


def body(response: web.Response) -> str:
    assert isinstance(response.body, bytes)
    return response.body.decode()


@pytest.mark.parametrize(
    ("settings", "path", "base", "public"),
    [
        (Settings(), "/", ".", "http://gw.example:9091"),
        (Settings(), "/ci?x=1", ".", "http://gw.example:9091"),
        (Settings(), "/group/job/a/instance/b", "../../../..", "http://gw.example:9091"),
        (Settings(route_prefix="/pg"), "/pg/", ".", "http://gw.example:9091/pg"),
        (Settings(route_prefix="/pg"), "/pg/group/job/a", "../..", "http://gw.example:9091/pg"),
        (
            Settings(external_url="https://proxy.example/pushgate/"),
            "/pushgate/group/job/a",
            "/pushgate",
            "https://proxy.example/pushgate",
        ),
    ],
)
def test_links_are_relative_unless_an_external_url_is_set(
    settings: Settings, path: str, base: str, public: str
) -> None:
    gw = Gateway.__new__(Gateway)
    gw.settings = settings
    gw.start_time = 0.0
    ctx = ui_context(gw, request(path))
    assert (ctx.base, ctx.public_url) == (base, public)


def test_index_is_html_with_a_strict_content_security_policy() -> None:
    response = run(_call(Settings(), handle_index, "/", {}))
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in response.headers["Content-Security-Policy"]
    assert "Showing 1\N{EN DASH}2 of 2 groups." in body(response)


def test_status_path_renders_the_status_page() -> None:
    response = run(
        _call(Settings(flags={"web.enable-admin-api": "false"}), handle_index, "/status", {})
    )
    assert "<h1>Status</h1>" in body(response)
    assert "web.enable-admin-api" in body(response)


def test_group_page_plain_and_base64() -> None:
    plain = run(_call(Settings(), handle_group, "/group/job/a", {"job": "a"}))
    assert plain.status == 200
    assert "<code>m</code>" in body(plain)
    b64 = run(
        _call(
            Settings(),
            handle_group_base64,
            "/group/job@base64/YS9i/branch@base64/=",
            {"job": "YS9i", "labels": "/branch@base64/="},
        )
    )
    assert b64.status == 200
    assert "job=&quot;a/b&quot;" in body(b64)


def test_group_page_404_and_400() -> None:
    missing = run(_call(Settings(), handle_group, "/group/job/zzz", {"job": "zzz"}))
    assert missing.status == 404
    assert "There is no group" in body(missing)
    bad = run(_call(Settings(), handle_group, "/group/job/a/odd", {"job": "a", "labels": "/odd"}))
    assert bad.status == 400
    assert "odd number of components" in body(bad)


def test_ci_page_answers_without_runs() -> None:
    response = run(_call(Settings(), handle_ci, "/ci", {}))
    assert response.status == 200
    assert "No CI runs" in body(response)


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("ui.js", "application/javascript"),
        ("ui.css", "text/css; charset=utf-8"),
        ("favicon.svg", "image/svg+xml"),
        ("vendor/uPlot.iife.min.js", "application/javascript"),
        ("vendor/uPlot.min.css", "text/css; charset=utf-8"),
    ],
)
def test_static_files_are_packaged(name: str, content_type: str) -> None:
    asset = load_asset(name)
    assert asset is not None
    response = run(
        _call(
            Settings(), handle_static, f"/static/{name}?v={asset.version}", {"filepath": "/" + name}
        )
    )
    assert response.status == 200
    assert response.headers["Content-Type"] == content_type
    assert "immutable" in response.headers["Cache-Control"]


def test_static_without_version_is_revalidated() -> None:
    response = run(_call(Settings(), handle_static, "/static/ui.js", {"filepath": "/ui.js"}))
    assert response.headers["Cache-Control"] == "no-cache"


@pytest.mark.parametrize(
    "name", ["", "/", "../ui.py", "vendor/../ui.js", "nope.js", "vendor", "./ui.js"]
)
def test_static_refuses_anything_else(name: str) -> None:
    response = run(_call(Settings(), handle_static, "/static/x", {"filepath": "/" + name}))
    assert response.status == 404


def test_vendored_chart_library_ships_its_license() -> None:
    license_file = load_asset("vendor/uPlot.LICENSE")
    script = load_asset("vendor/uPlot.iife.min.js")
    assert license_file is not None and b"MIT License" in license_file.body
    assert script is not None and script.body.startswith(
        b"/*! https://github.com/leeoniya/uPlot (v1.6.32)"
    )


#: May delete groups of job "a" only, never wipe.
JOB_A_DELETER = Principal(
    "a-ci", "token", (Grant(frozenset({"delete"}), parse_selector('{job="a"}')),)
)


def test_buttons_follow_the_principal_when_auth_provides_one() -> None:
    async def body_for(principal: Principal | None) -> str:
        gw = await _gateway(Settings(enable_admin_api=True))
        try:
            token = PRINCIPAL.set(principal)
            try:
                return body(await handle_index(gw, request("/"), {}))
            finally:
                PRINCIPAL.reset(token)
        finally:
            await gw.store.close()

    open_page = run(body_for(None))
    assert open_page.count("data-delete-url") == 2
    assert "data-wipe-url" in open_page
    limited = run(body_for(JOB_A_DELETER))
    assert limited.count("data-delete-url") == 1
    assert 'data-delete-url="./metrics/job/a"' in limited
    assert "data-wipe-url" not in limited
