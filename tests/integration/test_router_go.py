"""The router table and the grouping-key errors, proven against the Go binary.

Every case of ``tests/unit/server/test_router.py`` is sent, byte for byte, to
the Debian Pushgateway 1.5.1 (without a prefix and with ``/pg``) and the
answer must be the one the table promises; the same table is checked against
:class:`pushgate.server.router.Router` there and here. ``http.client`` sends
the raw path untouched (``requests`` would normalise it).

Careful with 1.5.1: an undecodable ``job@base64`` deadlocks that handler for
good (spec B.2), so the routing table has none, and the job-error test sends
each one to a different (method, route shape) on its own gateway.
"""

from __future__ import annotations

import http.client
from dataclasses import dataclass, replace

import pytest

from pushgate.core.errors import GroupingKeyError
from pushgate.core.grouping import parse_grouping_key
from pushgate.server.router import (
    BadRequest,
    Match,
    MethodNotAllowed,
    NotFound,
    Options,
    Redirect,
    Resolution,
    Router,
)
from tests.conftest import GatewayFactory, GatewayProcess
from tests.unit.server.test_router import CASES, gateway_routes

pytestmark = pytest.mark.integration

FLAGS = ("--web.enable-admin-api", "--web.enable-lifecycle")


@dataclass(frozen=True)
class Answer:
    status: int
    location: str | None
    allow: str | None
    body: bytes


def send(gateway: GatewayProcess, method: str, target: str) -> Answer:
    conn = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=10)
    try:
        conn.putrequest(method, target, skip_host=False, skip_accept_encoding=True)
        body = b"" if method in ("PUT", "POST") else None
        if body is not None:
            conn.putheader("Content-Length", "0")
        conn.endheaders(body)
        response = conn.getresponse()
        return Answer(
            response.status,
            response.getheader("Location"),
            response.getheader("Allow"),
            response.read(),
        )
    finally:
        conn.close()


def mismatch(
    method: str, expected: Resolution, go_status: int | None, answer: Answer
) -> str | None:
    """Why ``answer`` is not what ``expected`` promises, or ``None``."""
    if method == "HEAD":
        # A HEAD answer never has a body; compare the rest.
        answer = replace(answer, body=mismatch_body(expected))
    match expected:
        case Match():
            ok = answer.status == go_status and answer.location is None and answer.allow is None
        case Redirect(status=status, location=location):
            ok = (answer.status, answer.location) == (status, location)
        case NotFound():
            ok = (answer.status, answer.body) == (404, b"404 page not found\n")
        case MethodNotAllowed(allow=allow):
            ok = (answer.status, answer.allow, answer.body) == (
                405,
                allow,
                b"Method Not Allowed\n",
            )
        case Options(allow=allow):
            ok = (answer.status, answer.allow, answer.body) == (200, allow or None, b"")
        case BadRequest():
            ok = answer.status == 400
    return None if ok else f"expected {expected} (handler status {go_status}), Go said {answer}"


def mismatch_body(expected: Resolution) -> bytes:
    if isinstance(expected, NotFound):
        return b"404 page not found\n"
    if isinstance(expected, MethodNotAllowed):
        return b"Method Not Allowed\n"
    return b""


def check_table(gateway: GatewayProcess, prefix: str) -> None:
    router = Router(gateway_routes(), prefix)
    failures: list[str] = []
    for case in CASES:
        if prefix not in case.prefixes:
            continue
        path, expected = case.for_prefix(prefix)
        target = f"{path}?{case.query}" if case.query else path
        ours = router.resolve(case.method, path, case.query)
        if type(ours) is not type(expected) or (
            not isinstance(expected, BadRequest) and ours != expected
        ):
            failures.append(f"{case.method} {target}: router gave {ours}, table says {expected}")
        why = mismatch(case.method, expected, case.go_status, send(gateway, case.method, target))
        if why is not None:
            failures.append(f"{case.method} {target}: {why}")
    assert not failures, "\n".join(failures)


def test_routing_table_matches_go(go_gateway: GatewayProcess) -> None:
    check_table(go_gateway, "")


def test_routing_table_matches_go_with_prefix(go_gateway_factory: GatewayFactory) -> None:
    check_table(go_gateway_factory(*FLAGS, "--web.route-prefix=/pg"), "/pg")


# --- grouping-key errors: our message == Go's 400 body ------------------------------

LABEL_ERROR_PATHS = [
    "/metrics/job/j/l",
    "/metrics/job/j/a/b/c",
    "/metrics/job/j/a/1/",
    "/metrics/job/a%2Fb",
    "/metrics/job/enc/p/a%2Fb",
    "/metrics/job/j/1abc/x",
    "/metrics/job/j/__name__/x",
    "/metrics/job/j/__foo/x",
    "/metrics/job/j/a@base64@base64/YQ",
    "/metrics/job/j/%C3%A9/x",
    "/metrics/job/j/a%0Ab/x",
    "/metrics/job/j/l@base64/a+b",
    "/metrics/job/j/l@base64/a",
    "/metrics/job/j/l@base64/abcde",
    "/metrics/job/j/l@base64/ab=c",
    "/metrics/job/j/l@base64/YQ=Yg",
    "/metrics/job/j/l@base64/abcd%0Ae",
    "/metrics/job/j/l@base64/%0Aa",
    "/metrics/job/j/l@base64/%C3%A9",
    "/metrics/job/j/l@base64/%FF%00",
    "/metrics/job/j/l@base64/a%22b%5C",
    "/metrics/job/j/l@base64/%ED%A0%80",
    "/metrics/job/j/%FF%0A%22%5C%01%7F%C2%A0%E2%80%A8%F0%9F%98%80x",
    "/metrics/job/j/l@base64/%FF%0A%22%5C%01%7F%C2%A0%E2%80%A8%F0%9F%98%80x",
    "/metrics/job@base64/=",
    "/metrics/job@base64/==/a/b",
    "/metrics/job@base64/=/l",
    "/metrics/job/x/job@base64/*",
]

# One undecodable job per (method, route shape): each deadlocks its handler.
JOB_ERROR_REQUESTS = [
    ("PUT", "/metrics/job@base64/a*b"),
    ("POST", "/metrics/job@base64/YWJjZGVm*"),
    ("DELETE", "/metrics/job@base64/YWJjZ"),
    ("PUT", "/metrics/job@base64/YWJj=x/a/b"),
    ("POST", "/metrics/job@base64/%FF%FE%FDx%0A%0Ay/l"),
    ("DELETE", "/metrics/job@base64/_w_w_w_w-w-w*/a"),
]


def our_message(method: str, path: str) -> str:
    resolved = Router(gateway_routes()).resolve(method, path)
    assert isinstance(resolved, Match), resolved
    job_base64 = path.startswith("/metrics/job@base64/")
    with pytest.raises(GroupingKeyError) as info:
        parse_grouping_key(resolved.params["job"], job_base64, resolved.params.get("labels", ""))
    return str(info.value)


def check_errors(gateway: GatewayProcess, requests: list[tuple[str, str]]) -> None:
    failures: list[str] = []
    for method, path in requests:
        answer = send(gateway, method, path)
        # Go's http.Error adds a newline; the body is raw bytes, not always UTF-8.
        ours = (our_message(method, path) + "\n").encode("utf-8", "surrogateescape")
        if (answer.status, answer.body) != (400, ours):
            failures.append(
                f"{method} {path}: Go said {answer.status} {answer.body!r}, ours {ours!r}"
            )
    assert not failures, "\n".join(failures)


def test_label_errors_match_go(go_gateway: GatewayProcess) -> None:
    check_errors(go_gateway, [("PUT", path) for path in LABEL_ERROR_PATHS])


def test_job_errors_match_go(go_gateway: GatewayProcess) -> None:
    check_errors(go_gateway, JOB_ERROR_REQUESTS)
