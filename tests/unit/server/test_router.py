"""The router against the 1.5.1 route table (spec 1, 2.4, 8.1, B.1 items 2-5).

:data:`CASES` is also replayed against the real Go binary by
``tests/integration/test_router_go.py``, so every expectation here is proven,
not guessed. ``{P}`` in a path or ``Location`` stands for the route prefix;
each case runs without a prefix and with ``/pg`` unless it says otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pushgate.core.grouping import parse_grouping_key, render_grouping_path
from pushgate.core.model import GroupingKey, grouping_key_from_mapping
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

PREFIXES = ("", "/pg")


def gateway_routes(telemetry_path: str = "/metrics", admin_api: bool = True) -> list[Route]:
    """The 1.5.1 route table, in the order ``main.go`` registers it.

    The order matters: it fixes the shape of httprouter's radix trees and so
    which trailing-slash redirects happen. ``/debug/pprof/*pprof`` is left
    out (pushgate does not serve pprof).
    """
    routes = [
        Route("GET", "/-/healthy", "healthy"),
        Route("GET", "/-/ready", "ready"),
        Route("GET", telemetry_path, "scrape"),
    ]
    for job in ("job", "job@base64"):
        for shape in ("/:job/*labels", "/:job"):
            pattern = f"/metrics/{job}{shape}"
            routes += [
                Route("PUT", pattern, "push"),
                Route("POST", pattern, "pushadd"),
                Route("DELETE", pattern, "delete"),
            ]
    routes += [
        Route("GET", "/static/*filepath", "static"),
        Route("GET", "/status", "ui"),
        Route("GET", "/", "ui"),
        Route("PUT", "/-/quit", "quit"),
        Route("POST", "/-/quit", "quit"),
        # 1.5.1 registers this one outside the route prefix (spec 7.2).
        Route("GET", "/-/quit", "quit_get", prefixed=False),
        Route("OPTIONS", "/api/v1/*path", "api_options"),
        Route("GET", "/api/v1/status", "api_status"),
        Route("GET", "/api/v1/metrics", "api_metrics"),
    ]
    if admin_api:
        routes.append(Route("PUT", "/api/v1/admin/wipe", "wipe"))
    return routes


@pytest.fixture(scope="module")
def routes() -> list[Route]:
    return gateway_routes()


@dataclass(frozen=True)
class Case:
    """One request and the router's answer; ``go_status`` is what the Go
    handler answers when the router matches (checked by the integration test)."""

    method: str
    path: str
    expected: Resolution
    go_status: int | None = None
    query: str = ""
    prefixes: tuple[str, ...] = PREFIXES

    def for_prefix(self, prefix: str) -> tuple[str, Resolution]:
        expected = self.expected
        if isinstance(expected, Redirect):
            expected = replace(expected, location=expected.location.replace("{P}", prefix))
        return self.path.replace("{P}", prefix), expected


def redirect(status: int, location: str) -> Redirect:
    return Redirect(status, location)


PUSH_ALLOW = "DELETE, OPTIONS, POST, PUT"
GET_ALLOW = "GET, OPTIONS"

CASES: list[Case] = [
    # Matches (spec 1 route table; 2.1-2.4).
    Case("GET", "{P}/metrics", Match("scrape", {}), 200),
    Case("GET", "{P}/metrics", Match("scrape", {}), 200, query="x=1"),  # queries are ignored
    Case("PUT", "{P}/metrics/job/x", Match("push", {"job": "x"}), 200),
    Case("POST", "{P}/metrics/job/x", Match("pushadd", {"job": "x"}), 200),
    Case("DELETE", "{P}/metrics/job/x/a/b", Match("delete", {"job": "x", "labels": "/a/b"}), 202),
    Case("PUT", "{P}/metrics/job/x/", Match("push", {"job": "x", "labels": "/"}), 200),
    Case("PUT", "{P}/metrics/job/x/a/", Match("push", {"job": "x", "labels": "/a/"}), 200),
    Case("PUT", "{P}/metrics/job/j/l", Match("push", {"job": "j", "labels": "/l"}), 400),
    Case("PUT", "{P}/metrics/job/j/a/1/", Match("push", {"job": "j", "labels": "/a/1/"}), 400),
    Case(
        "POST",
        "{P}/metrics/job@base64/dGVzdC9qb2I",
        Match("pushadd", {"job": "dGVzdC9qb2I"}),
        200,
    ),
    Case("PUT", "{P}/metrics/job@base64/=", Match("push", {"job": "="}), 400),
    Case(
        "DELETE",
        "{P}/metrics/job@base64/YQ/l@base64/=",
        Match("delete", {"job": "YQ", "labels": "/l@base64/="}),
        202,
    ),
    # Percent-decoding happens before routing (spec 2.4, B.1 item 4).
    Case("PUT", "{P}/metrics/job/j/a%2Fb", Match("push", {"job": "j", "labels": "/a/b"}), 200),
    Case("PUT", "{P}/metrics/job/a%2Fb", Match("push", {"job": "a", "labels": "/b"}), 400),
    Case(
        "PUT", "{P}/metrics/job/j/x/a+b%20c", Match("push", {"job": "j", "labels": "/x/a+b c"}), 200
    ),
    Case("PUT", "{P}/metrics/job/%20", Match("push", {"job": " "}), 200),
    Case("PUT", "{P}/metrics/job/j/%61/1", Match("push", {"job": "j", "labels": "/a/1"}), 200),
    Case("PUT", "{P}/%6Detrics/job/x", Match("push", {"job": "x"}), 200),
    Case(
        "PUT",
        "{P}/metrics/job/%CE%A0",
        Match("push", {"job": "Π"}),
        200,
    ),
    Case(
        "DELETE",
        "{P}/metrics/job/j/a/%FF",
        Match("delete", {"job": "j", "labels": "/a/\udcff"}),
        202,
    ),
    Case("GET", "{P}/-/healthy", Match("healthy", {}), 200),
    Case("GET", "{P}/-/ready", Match("ready", {}), 200),
    Case("GET", "{P}/status", Match("ui", {}), 200),
    Case("GET", "{P}/", Match("ui", {}), 200),
    Case("GET", "{P}/static/", Match("static", {"filepath": "/"}), 200),
    Case("GET", "{P}/static/functions.js", Match("static", {"filepath": "/functions.js"}), 200),
    Case("GET", "/-/quit", Match("quit_get", {}), 405),  # root even with a prefix
    Case("GET", "{P}/api/v1/status", Match("api_status", {}), 200),
    Case("GET", "{P}/api/v1/metrics", Match("api_metrics", {}), 200),
    Case("GET", "{P}/api/v1/st%61tus", Match("api_status", {}), 200),
    Case("GET", "{P}/api/v1%2Fstatus", Match("api_status", {}), 200),
    Case("OPTIONS", "{P}/api/v1/status", Match("api_options", {"path": "/status"}), 200),
    Case("OPTIONS", "{P}/api/v1/", Match("api_options", {"path": "/"}), 200),
    Case("OPTIONS", "{P}/api/v1/nothing", Match("api_options", {"path": "/nothing"}), 200),
    Case("PUT", "{P}/api/v1/admin/wipe", Match("wipe", {}), 202),
    # Unknown paths (spec 1; 8.1: unprefixed paths are unknown under a prefix).
    Case("GET", "{P}/nothing", NotFound()),
    Case("GET", "{P}/metrics/job", NotFound()),
    Case("PUT", "{P}/metrics/job", NotFound()),
    Case("DELETE", "{P}/metrics/job", NotFound()),
    Case("GET", "{P}/metrics/job/", NotFound()),
    Case("PUT", "{P}/metrics/job@base64", NotFound()),
    Case("PUT", "{P}/metrics/job@base64/", NotFound()),  # no redirect: tree shape
    Case("GET", "{P}/-/reload", NotFound()),
    Case("GET", "{P}/-/healthy/x", NotFound()),
    Case("GET", "{P}/-", NotFound()),
    Case("GET", "{P}/-/", NotFound()),
    Case("GET", "{P}/s", NotFound()),
    Case("GET", "{P}/statu", NotFound()),
    Case("GET", "{P}/status/x", NotFound()),
    Case("GET", "{P}/index.html", NotFound()),
    Case("GET", "{P}/api", NotFound()),
    Case("GET", "{P}/api/v1/", NotFound()),
    Case("GET", "{P}/api/v1/nothing", NotFound()),
    Case("GET", "{P}/API/v1/status", NotFound()),
    # StripPrefix refuses a raw path that does not start with the mount.
    Case("GET", "{P}/%61pi/v1/status", NotFound()),
    Case("PATCH", "{P}/Metrics", NotFound()),  # no PATCH tree, so no case fix
    Case("HEAD", "{P}/metrics/", NotFound()),
    Case("OPTIONS", "{P}/nothing", NotFound()),
    Case("OPTIONS", "{P}/metrics/", NotFound()),
    Case("GET", "/", NotFound(), prefixes=("/pg",)),
    Case("GET", "/metrics", NotFound(), prefixes=("/pg",)),
    Case("PUT", "/metrics/job/x", NotFound(), prefixes=("/pg",)),
    Case("GET", "/-/healthy", NotFound(), prefixes=("/pg",)),
    Case("GET", "/api/v1/status", NotFound(), prefixes=("/pg",)),
    Case("PUT", "/pg", NotFound(), prefixes=("/pg",)),
    Case("GET", "/p", NotFound(), prefixes=("/pg",)),
    # Wrong method (spec 1, B.1 item 2): sorted methods plus OPTIONS.
    Case("GET", "{P}/metrics/job/x", MethodNotAllowed(PUSH_ALLOW)),
    Case("GET", "{P}/metrics/job/x/", MethodNotAllowed(PUSH_ALLOW)),
    Case("GET", "{P}/metrics/job/%C3%A9/", MethodNotAllowed(PUSH_ALLOW)),
    Case("GET", "{P}/metrics/job@base64/YQ/a/b", MethodNotAllowed(PUSH_ALLOW)),
    Case("HEAD", "{P}/metrics", MethodNotAllowed(GET_ALLOW)),  # no implicit HEAD
    Case("HEAD", "{P}/-/healthy", MethodNotAllowed(GET_ALLOW)),
    Case("POST", "{P}/metrics", MethodNotAllowed(GET_ALLOW)),
    Case("PATCH", "{P}/metrics", MethodNotAllowed(GET_ALLOW)),
    Case("PUT", "{P}/", MethodNotAllowed(GET_ALLOW)),
    Case("DELETE", "{P}/-/healthy", MethodNotAllowed(GET_ALLOW)),
    Case("POST", "{P}/api/v1/status", MethodNotAllowed(GET_ALLOW)),
    Case("POST", "{P}/api/v1/admin/wipe", MethodNotAllowed("OPTIONS, PUT")),
    Case("GET", "{P}/api/v1/admin/wipe", MethodNotAllowed("OPTIONS, PUT")),
    Case("DELETE", "/-/quit", MethodNotAllowed("GET, OPTIONS, POST, PUT"), prefixes=("",)),
    Case("DELETE", "/pg/-/quit", MethodNotAllowed("OPTIONS, POST, PUT"), prefixes=("/pg",)),
    Case("GET", "/pg/-/quit", MethodNotAllowed("OPTIONS, POST, PUT"), prefixes=("/pg",)),
    Case("PUT", "/-/quit", MethodNotAllowed(GET_ALLOW), prefixes=("/pg",)),
    # Automatic OPTIONS.
    Case("OPTIONS", "{P}/metrics/job/x", Options(PUSH_ALLOW)),
    Case("OPTIONS", "{P}/metrics", Options(GET_ALLOW)),
    Case("OPTIONS", "{P}/-/quit", Options("OPTIONS, POST, PUT"), prefixes=("/pg",)),
    Case("OPTIONS", "*", Options("")),
    # ServeMux path cleaning: 301 for every method, query kept (spec 1, B.1 item 3).
    Case("POST", "{P}/metrics/job/j/a//b/c", redirect(301, "{P}/metrics/job/j/a/b/c")),
    Case("PUT", "{P}/metrics/job//x", redirect(301, "{P}/metrics/job/x")),
    Case("PUT", "{P}/metrics/job/j/../k", redirect(301, "{P}/metrics/job/k")),
    Case("PUT", "{P}/metrics/job/%2E%2E/x", redirect(301, "{P}/metrics/x")),
    Case("GET", "{P}/metrics/./x", redirect(301, "{P}/metrics/x")),
    Case("GET", "{P}/metrics/.", redirect(301, "{P}/metrics")),
    Case("DELETE", "{P}/metrics/job/x/..", redirect(301, "{P}/metrics/job")),
    Case("GET", "{P}/metrics/job/x/../", redirect(301, "{P}/metrics/job/")),
    Case("GET", "{P}/static/x/../../y", redirect(301, "{P}/y")),
    Case("GET", "{P}/static/%2e%2e/metrics", redirect(301, "{P}/metrics")),
    Case("GET", "//metrics", redirect(301, "/metrics?x=1%20"), query="x=1%20"),
    Case("GET", "/a/..", redirect(301, "/")),
    Case("GET", "//a$&+,:;=@b~!'()*c", redirect(301, "/a$&+,:;=@b~%21%27%28%29%2Ac")),
    Case("GET", "//%C3%A9%FF%00x", redirect(301, "/%C3%A9%FF%00x")),
    Case("GET", "//a%3Fb%23c%25", redirect(301, "/a%3Fb%23c%25")),
    Case("GET", "{P}/metrics//", redirect(301, "{P}/metrics/?a=%zz"), query="a=%zz"),
    # The API mount without its slash (ServeMux), for every method.
    Case("GET", "{P}/api/v1", redirect(301, "{P}/api/v1/")),
    Case("PUT", "{P}/api/v1", redirect(301, "{P}/api/v1/")),
    Case("OPTIONS", "{P}/api/v1", redirect(301, "{P}/api/v1/")),
    Case("GET", "{P}/api//v1", redirect(301, "{P}/api/v1/")),
    # httprouter trailing-slash redirects: 301 for GET, 307 otherwise.
    Case("GET", "{P}/metrics/", redirect(301, "{P}/metrics")),
    Case("GET", "{P}/metrics/", redirect(301, "{P}/metrics?x=1"), query="x=1"),
    Case("PUT", "{P}/metrics/job/", redirect(307, "{P}/metrics/job")),
    Case("POST", "{P}/metrics/job/", redirect(307, "{P}/metrics/job")),
    Case("DELETE", "{P}/metrics/job/", redirect(307, "{P}/metrics/job")),
    Case("GET", "{P}/status/", redirect(301, "{P}/status")),
    Case("GET", "{P}/-/ready/", redirect(301, "{P}/-/ready")),
    Case("GET", "{P}/static", redirect(301, "{P}/static/")),
    Case("PUT", "{P}/-/quit/", redirect(307, "{P}/-/quit")),
    Case("GET", "/-/quit/", redirect(301, "/-/quit")),
    Case("GET", "/pg", redirect(301, "/pg/"), prefixes=("/pg",)),
    Case("GET", "/pg", redirect(301, "/pg/?a=b"), query="a=b", prefixes=("/pg",)),
    # httprouter case-insensitive fix (B.1 item 3).
    Case("GET", "{P}/Metrics", redirect(301, "{P}/metrics")),
    Case("GET", "{P}/METRICS/", redirect(301, "{P}/metrics")),
    Case("GET", "{P}/Status", redirect(301, "{P}/status")),
    Case("GET", "{P}/-/HEALTHY", redirect(301, "{P}/-/healthy")),
    Case("GET", "{P}/Static/functions.js", redirect(301, "{P}/static/functions.js")),
    Case("PUT", "{P}/metrics/JOB/x", redirect(307, "{P}/metrics/job/x")),
    Case("PUT", "{P}/METRICS/JOB/x/A/b", redirect(307, "{P}/metrics/job/x/A/b")),
    Case("PUT", "{P}/METRICS/JOB/%20x/", redirect(307, "{P}/metrics/job/%20x/")),
    Case("PUT", "{P}/metrics/JOB@BASE64/YQ", redirect(307, "{P}/metrics/job@base64/YQ")),
    Case("DELETE", "{P}/metrics/JOB/x/", redirect(307, "{P}/metrics/job/x/")),
    Case("PUT", "{P}/-/Quit", redirect(307, "{P}/-/quit")),
    Case("POST", "{P}/-/QUIT/", redirect(307, "{P}/-/quit")),
    Case("GET", "/PG/metrics", redirect(301, "/pg/metrics"), prefixes=("/pg",)),
    Case("GET", "/-/QUIT", redirect(301, "/-/quit"), prefixes=("/pg",)),
    # Quirk of 1.5.1 kept: redirects from the API router lose the mount.
    Case("GET", "{P}/api/v1/status/", redirect(301, "/status")),
    Case("GET", "{P}/api/v1/Status", redirect(301, "/status")),
    Case("PUT", "{P}/api/v1/admin/wipe/", redirect(307, "/admin/wipe")),
    Case("PUT", "{P}/api/v1/Admin/Wipe", redirect(307, "/admin/wipe")),
    # Malformed request targets: Go's HTTP server answers 400 itself.
    Case("GET", "{P}/metrics/%zz", BadRequest("")),
    Case("PUT", "{P}/metrics/job/%4", BadRequest("")),
    Case("GET", "*", BadRequest("")),
]


def case_params() -> list[object]:
    return [
        pytest.param(case, prefix, id=f"{prefix or '-'} {case.method} {case.path}?{case.query}")
        for case in CASES
        for prefix in case.prefixes
    ]


@pytest.mark.parametrize(("case", "prefix"), case_params())
def test_resolve(routes: list[Route], case: Case, prefix: str) -> None:
    path, expected = case.for_prefix(prefix)
    got = Router(routes, prefix).resolve(case.method, path, case.query)
    if isinstance(expected, BadRequest):
        # The message is for logs; Go's body is a fixed "400 Bad Request".
        assert isinstance(got, BadRequest)
    else:
        assert got == expected


def test_telemetry_path_moves_only_the_scrape() -> None:
    router = Router(gateway_routes(telemetry_path="/prom-metrics"))
    assert router.resolve("GET", "/prom-metrics") == Match("scrape", {})
    assert router.resolve("GET", "/metrics") == NotFound()
    assert router.resolve("PUT", "/metrics/job/a") == Match("push", {"job": "a"})


def test_wipe_route_exists_only_with_admin_api() -> None:
    router = Router(gateway_routes(admin_api=False))
    assert router.resolve("PUT", "/api/v1/admin/wipe") == NotFound()
    assert router.resolve("POST", "/api/v1/admin/wipe") == NotFound()
    assert router.resolve("OPTIONS", "/api/v1/admin/wipe") == Match(
        "api_options", {"path": "/admin/wipe"}
    )


def test_static_segments_win_over_parameters() -> None:
    router = Router(gateway_routes())
    # "job@base64" is a different static prefix than "job/:job".
    assert router.resolve("PUT", "/metrics/job@base64/x") == Match("push", {"job": "x"})
    assert router.resolve("PUT", "/metrics/job/job@base64") == Match("push", {"job": "job@base64"})


def test_control_characters_are_bad_requests() -> None:
    router = Router(gateway_routes())
    assert isinstance(router.resolve("GET", "/metrics\n"), BadRequest)
    assert isinstance(router.resolve("GET", "/metrics", "a=\x7f"), BadRequest)
    assert isinstance(router.resolve("GET", "metrics"), BadRequest)
    # Decoded control characters are fine: the check is on the raw target.
    assert router.resolve("PUT", "/metrics/job/%0A") == Match("push", {"job": "\n"})


@pytest.mark.parametrize(
    "routes",
    [
        [Route("GET", "/a", "a"), Route("GET", "/a", "b")],
        [Route("GET", "/static/*filepath", "a"), Route("GET", "/static/x", "b")],
        [Route("GET", "/static/x", "b"), Route("GET", "/static/*filepath", "a")],
        [Route("GET", "/x/:a", "a"), Route("GET", "/x/:b", "b")],
        [Route("GET", "/x/:a", "a"), Route("GET", "/x/b", "b")],
        [Route("GET", "/x/*a/b", "a")],
        [Route("GET", "/x/:", "a")],
        [Route("GET", "/x/:a:b", "a")],
        [Route("GET", "/x*a", "a")],
        [Route("GET", "/", "a"), Route("GET", "/", "b")],  # telemetry path "/"
        [Route("GET", "relative", "a")],
        [Route("GET", "/é", "a")],
    ],
)
def test_route_sets_go_refuses(routes: list[Route]) -> None:
    with pytest.raises(ValueError):
        Router(routes)


@pytest.mark.parametrize("prefix", ["pg", "/pg/", "/"])
def test_prefix_must_be_normalised(prefix: str) -> None:
    with pytest.raises(ValueError):
        Router(gateway_routes(), prefix)


def test_different_methods_share_paths() -> None:
    router = Router([Route("GET", "/a/:x", "get"), Route("PUT", "/a/b", "put")])
    assert router.resolve("GET", "/a/b") == Match("get", {"x": "b"})
    assert router.resolve("PUT", "/a/b") == Match("put", {})
    assert router.resolve("DELETE", "/a/b") == MethodNotAllowed("GET, OPTIONS, PUT")


# --- the router and the grouping-key codec together ------------------------------

_values = st.one_of(st.text(), st.binary().map(lambda b: b.decode("utf-8", "surrogateescape")))
_names = st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,8}", fullmatch=True).filter(
    lambda n: not n.startswith("__") and n != "job"
)
_keys = st.builds(
    lambda job, labels: grouping_key_from_mapping({**labels, "job": job}),
    _values.filter(bool),
    st.dictionaries(_names, _values, max_size=5),
)
_ROUTERS = {prefix: Router(gateway_routes(), prefix) for prefix in PREFIXES}


@given(_keys, st.sampled_from(PREFIXES), st.sampled_from(["PUT", "POST", "DELETE"]))
def test_rendered_paths_route_back_to_the_key(key: GroupingKey, prefix: str, method: str) -> None:
    path = f"{prefix}/metrics{render_grouping_path(key)}"
    got = _ROUTERS[prefix].resolve(method, path)
    assert isinstance(got, Match), got
    job_base64 = path.startswith(f"{prefix}/metrics/job@base64/")
    assert parse_grouping_key(got.params["job"], job_base64, got.params.get("labels", "")) == key


def test_answers_are_remembered_and_the_memo_is_bounded() -> None:
    from pushgate.server import router as router_module

    router = Router(gateway_routes())
    first = router.resolve("PUT", "/metrics/job/a/instance/b", "")
    assert isinstance(first, Match) and first.params["job"] == "a"
    assert router.resolve("PUT", "/metrics/job/a/instance/b", "") is first
    # Another method or query is another request.
    assert router.resolve("DELETE", "/metrics/job/a/instance/b", "") is not first
    for i in range(router_module._MEMO_ENTRIES + 10):
        router.resolve("PUT", f"/metrics/job/j{i}", "")
    assert len(router._memo.values) <= router_module._MEMO_ENTRIES
    # Long targets are answered but not kept.
    long_path = "/metrics/job/" + "x" * router_module._MEMO_LONGEST
    assert isinstance(router.resolve("PUT", long_path, ""), Match)
    assert ("PUT", long_path, "") not in router._memo.values
