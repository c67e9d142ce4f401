"""AccessControl.guard without sockets: mocked requests through the real router.

The fake handler records whether it ran: a refused request must never reach
a handler (so it can change nothing, not even a failure timestamp).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from pushgate.server.app import build_routes
from pushgate.server.auth import AccessControl, requirement
from pushgate.server.grants import Grant, GrantTemplate, parse_match
from pushgate.server.router import Resolution, Router
from pushgate.server.settings import Settings
from tests.security_fixtures import basic, bcrypt_hash, bump_mtime, sha256_hex, web_config

ROUTER = Router(build_routes(Settings(enable_admin_api=True, enable_lifecycle=True)), "")

BEAST_TOKEN = "pgt_beast-token-value"
OPS_TOKEN = "pgt_ops-token-value"
READER_TOKEN = "pgt_reader-token-value"
PASSWORD = "correct horse battery staple"


def resolve(method: str, path: str) -> Resolution:
    raw_path, _, query = path.partition("?")
    return ROUTER.resolve(method, raw_path, query)


class Served:
    def __init__(self) -> None:
        self.calls: list[str] = []

    async def __call__(self, request: web.Request, resolution: Resolution) -> web.Response:
        self.calls.append(f"{request.method} {request.path}")
        return web.Response(status=200, text="served")


async def call(
    access: AccessControl, method: str, path: str, headers: Mapping[str, str] | None = None
) -> tuple[web.StreamResponse, bool]:
    served = Served()
    request = make_mocked_request(method, path, headers=dict(headers or {}))
    response = await access.guard(request, resolve(method, path), served)
    return response, bool(served.calls)


def body(response: web.StreamResponse) -> str:
    assert isinstance(response, web.Response)
    return response.text or ""


def config(tmp_path: Path, **sections: Any) -> Path:
    return web_config(tmp_path / "web.yml", sections)


def scoped(tmp_path: Path, *, read_requires_auth: bool | None = None, **extra: Any) -> Path:
    auth: dict[str, Any] = {
        "tokens": [
            {
                "name": "beast-ci",
                "sha256": sha256_hex(BEAST_TOKEN),
                "actions": ["push", "delete"],
                "match": ['job="beast-mailbox-core"', 'branch=~"feature/.*"'],
            },
            {"name": "ops", "sha256": sha256_hex(OPS_TOKEN), "actions": ["admin", "read"]},
            {"name": "grafana", "sha256": sha256_hex(READER_TOKEN), "actions": ["read"]},
        ]
    }
    if read_requires_auth is not None:
        auth["read_requires_auth"] = read_requires_auth
    return config(tmp_path, pushgate_authorization=auth, **extra)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


IN_SCOPE = "/metrics/job/beast-mailbox-core/branch@base64/ZmVhdHVyZS9sb2dpbg"  # feature/login
OUT_OF_SCOPE_JOB = "/metrics/job/other-project/branch@base64/ZmVhdHVyZS9sb2dpbg"
OUT_OF_SCOPE_BRANCH = "/metrics/job/beast-mailbox-core/branch/main"


# --- grants -----------------------------------------------------------------------


def test_a_grant_allows_its_actions_on_matching_groups_only() -> None:
    grant = Grant(frozenset({"push"}), parse_match('job="a", branch=~"f/.*"', "t"))
    assert grant.allows("push", (("branch", "f/x"), ("job", "a")))
    assert not grant.allows("push", (("branch", "main"), ("job", "a")))
    assert not grant.allows("push", (("job", "a"),))  # absent branch is "", no match
    assert not grant.allows("delete", (("branch", "f/x"), ("job", "a")))
    assert grant.allows("push")  # somewhere


def test_templates_fill_claims_literally_or_regex_escaped() -> None:
    exact = GrantTemplate.parse(
        frozenset({"push"}), parse_match('job="{repository_name}"', "t"), "t"
    )
    grant = exact.render({"repository_name": "a.b"})
    assert grant is not None
    assert grant.allows("push", (("job", "a.b"),))
    assert not grant.allows("push", (("job", "axb"),))
    regex = GrantTemplate.parse(
        frozenset({"push"}), parse_match('job=~"{repository_name}-.*"', "t"), "t"
    )
    grant = regex.render({"repository_name": "a.b"})
    assert grant is not None
    assert grant.allows("push", (("job", "a.b-docs"),))
    assert not grant.allows("push", (("job", "axb-docs"),))  # "." must not widen the pattern
    assert regex.render({}) is None  # a missing claim grants nothing


@pytest.mark.parametrize(
    ("method", "path", "need"),
    [
        ("PUT", "/metrics/job/a", "push"),
        ("POST", "/metrics/job@base64/YQ/x/y", "push"),
        ("DELETE", "/metrics/job/a", "delete"),
        ("PUT", "/api/v1/admin/wipe", "admin"),
        ("POST", "/-/quit", "admin"),
        ("GET", "/metrics", "read"),
        ("GET", "/api/v1/metrics", "read"),
        ("GET", "/api/v1/status", "read"),
        ("OPTIONS", "/api/v1/metrics", "read"),
        ("GET", "/", "read"),
        ("GET", "/-/healthy", "health"),
        ("GET", "/-/ready", "health"),
        ("GET", "/no/such/path", "none"),
        ("GET", "/-/quit", "none"),
    ],
)
def test_each_route_needs_one_action(method: str, path: str, need: str) -> None:
    assert requirement(resolve(method, path), method) == need


# --- no config: open, as the official gateway ------------------------------------------


def test_without_a_web_config_everything_is_served() -> None:
    async def go() -> None:
        access = AccessControl()
        for method, path in [("PUT", "/metrics/job/a"), ("PUT", "/api/v1/admin/wipe")]:
            _, served = await call(access, method, path, {"Authorization": "Bearer junk"})
            assert served

    asyncio.run(go())


def test_a_tls_only_config_authenticates_nobody_and_serves_everything(tmp_path: Path) -> None:
    path = config(tmp_path)

    async def go() -> None:
        access = AccessControl.from_file(str(path))
        _, served = await call(access, "DELETE", "/metrics/job/a", {"Authorization": "Basic x"})
        assert served

    asyncio.run(go())


# --- basic auth, the official way -------------------------------------------------------


@pytest.mark.parametrize("prefix", ["$2a$", "$2b$", "$2y$"])
def test_basic_auth_users_as_the_official_gateway(tmp_path: Path, prefix: str) -> None:
    path = config(tmp_path, basic_auth_users={"alice": bcrypt_hash(PASSWORD, prefix)})

    async def go() -> None:
        access = AccessControl.from_file(str(path))
        for method, path_ in [("GET", "/-/healthy"), ("GET", "/metrics"), ("GET", "/nope")]:
            response, served = await call(access, method, path_)
            assert (response.status, served) == (401, False)
            assert body(response) == "Unauthorized\n"
            assert response.headers["Www-Authenticate"] == "Basic"
            assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
            assert response.headers["X-Content-Type-Options"] == "nosniff"
        for creds in [basic("alice", "wrong"), basic("mallory", PASSWORD), basic("alice", "")]:
            response, served = await call(access, "PUT", "/metrics/job/a", {"Authorization": creds})
            assert (response.status, served) == (401, False)
        for method, path_ in [("PUT", "/metrics/job/a"), ("PUT", "/api/v1/admin/wipe")]:
            auth = {"Authorization": basic("alice", PASSWORD)}
            response, served = await call(access, method, path_, auth)
            assert served
            # the cached second check answers the same
            response, served = await call(access, method, path_, auth)
            assert served

    asyncio.run(go())


@pytest.mark.parametrize(
    "header",
    [
        "Basic",
        "Basic !!!not-base64",
        "Basic " + "YWxpY2U=",  # "alice" without a colon
        "Basic //79/w==",  # not UTF-8
        basic("alice", "x" * 100),  # longer than bcrypt's 72 bytes
        "Digest username=alice",
        "Bearer " + BEAST_TOKEN,  # bearer tokens are not configured here
        "",
    ],
)
def test_malformed_or_foreign_credentials_are_401(tmp_path: Path, header: str) -> None:
    path = config(tmp_path, basic_auth_users={"alice": bcrypt_hash(PASSWORD)})

    async def go() -> None:
        access = AccessControl.from_file(str(path))
        response, served = await call(access, "PUT", "/metrics/job/a", {"Authorization": header})
        assert (response.status, served) == (401, False)
        assert body(response) == "Unauthorized\n"

    asyncio.run(go())


def test_two_authorization_headers_are_refused(tmp_path: Path) -> None:
    path = scoped(tmp_path)

    async def go() -> None:
        access = AccessControl.from_file(str(path))
        request = make_mocked_request(
            "GET",
            "/metrics",
            headers=[("Authorization", f"Bearer {OPS_TOKEN}"), ("Authorization", "Bearer x")],
        )
        served = Served()
        response = await access.guard(request, resolve("GET", "/metrics"), served)
        assert response.status == 401 and not served.calls

    asyncio.run(go())


# --- scoped tokens --------------------------------------------------------------------


@pytest.mark.parametrize("method", ["PUT", "POST", "DELETE"])
def test_a_scoped_token_writes_in_scope_only(tmp_path: Path, method: str) -> None:
    path = scoped(tmp_path)

    async def go() -> None:
        access = AccessControl.from_file(str(path))
        response, served = await call(access, method, IN_SCOPE, bearer(BEAST_TOKEN))
        assert served and response.status == 200
        for target in (OUT_OF_SCOPE_JOB, OUT_OF_SCOPE_BRANCH):
            response, served = await call(access, method, target, bearer(BEAST_TOKEN))
            assert (response.status, served) == (403, False)
            assert body(response).startswith("token:beast-ci (token) may not ")
            assert BEAST_TOKEN not in body(response)

    asyncio.run(go())


def test_anonymous_and_wrong_tokens_get_401_on_writes(tmp_path: Path) -> None:
    path = scoped(tmp_path)

    async def go() -> None:
        access = AccessControl.from_file(str(path))
        for headers in [{}, bearer("pgt_wrong"), bearer(BEAST_TOKEN + "x"), bearer("")]:
            for method, target in [
                ("PUT", IN_SCOPE),
                ("DELETE", IN_SCOPE),
                ("PUT", "/api/v1/admin/wipe"),
            ]:
                response, served = await call(access, method, target, headers)
                assert (response.status, served) == (401, False)
                assert response.headers.getall("Www-Authenticate") == ['Bearer realm="pushgate"']

    asyncio.run(go())


def test_wipe_and_quit_need_admin(tmp_path: Path) -> None:
    path = scoped(tmp_path)

    async def go() -> None:
        access = AccessControl.from_file(str(path))
        for target, method in [("/api/v1/admin/wipe", "PUT"), ("/-/quit", "POST")]:
            for token in (BEAST_TOKEN, READER_TOKEN):
                response, served = await call(access, method, target, bearer(token))
                assert (response.status, served) == (403, False)
                assert "(needs admin)" in body(response)
            _, served = await call(access, method, target, bearer(OPS_TOKEN))
            assert served

    asyncio.run(go())


def test_reads_are_open_or_need_a_read_grant(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    open_reads = scoped(tmp_path / "a")
    closed = scoped(tmp_path / "b", read_requires_auth=True)

    async def go() -> None:
        access = AccessControl.from_file(str(open_reads))
        for target in ("/metrics", "/api/v1/metrics", "/-/healthy", "/nope"):
            _, served = await call(access, "GET", target)
            assert served, target
        # A token without read is refused even where anonymous reads are open.
        response, served = await call(access, "GET", "/metrics", bearer(BEAST_TOKEN))
        assert (response.status, served) == (403, False)

        access = AccessControl.from_file(str(closed))
        for target in ("/metrics", "/api/v1/status", "/-/healthy", "/nope"):
            response, served = await call(access, "GET", target)
            assert (response.status, served) == (401, False), target
        _, served = await call(access, "GET", "/metrics", bearer(READER_TOKEN))
        assert served
        # Health needs a valid credential, not the read grant.
        _, served = await call(access, "GET", "/-/healthy", bearer(BEAST_TOKEN))
        assert served
        response, served = await call(access, "GET", "/metrics", bearer(BEAST_TOKEN))
        assert (response.status, served) == (403, False)

    asyncio.run(go())


def test_an_invalid_grouping_key_reaches_the_handler_only_with_some_push_grant(
    tmp_path: Path,
) -> None:
    path = scoped(tmp_path)

    async def go() -> None:
        access = AccessControl.from_file(str(path))
        # job@base64 with invalid base64: the handler answers 400 for a pusher...
        _, served = await call(access, "PUT", "/metrics/job@base64/%21%21", bearer(BEAST_TOKEN))
        assert served
        # ...and a principal who may not push anywhere is refused first.
        response, served = await call(
            access, "PUT", "/metrics/job@base64/%21%21", bearer(READER_TOKEN)
        )
        assert (response.status, served) == (403, False)

    asyncio.run(go())


# --- headers, rate limit, reload, audit -------------------------------------------------


def test_configured_headers_are_on_every_answer_including_401(tmp_path: Path) -> None:
    path = scoped(
        tmp_path,
        http_server_config={
            "headers": {"X-Frame-Options": "deny", "Strict-Transport-Security": "max-age=60"}
        },
    )

    async def go() -> None:
        access = AccessControl.from_file(str(path))
        for headers in ({}, bearer(BEAST_TOKEN)):
            response, _ = await call(access, "PUT", IN_SCOPE, headers)
            assert response.headers["X-Frame-Options"] == "deny"
            assert response.headers["Strict-Transport-Security"] == "max-age=60"

    asyncio.run(go())


def test_rate_limit_answers_429(tmp_path: Path) -> None:
    path = scoped(tmp_path, rate_limit={"burst": 2, "interval": "1h"})

    async def go() -> None:
        access = AccessControl.from_file(str(path))
        statuses = [(await call(access, "GET", "/metrics"))[0].status for _ in range(4)]
        assert statuses == [200, 200, 429, 429]

    asyncio.run(go())


def test_a_config_change_applies_at_once_and_a_broken_one_fails_closed(tmp_path: Path) -> None:
    path = scoped(tmp_path)

    async def go() -> None:
        access = AccessControl.from_file(str(path))
        _, served = await call(access, "PUT", IN_SCOPE, bearer(BEAST_TOKEN))
        assert served
        # Revoke the token: the next request is refused without a restart.
        web_config(
            path,
            {
                "pushgate_authorization": {
                    "tokens": [
                        {"name": "ops", "sha256": sha256_hex(OPS_TOKEN), "actions": ["admin"]}
                    ]
                }
            },
        )
        bump_mtime(path)
        response, served = await call(access, "PUT", IN_SCOPE, bearer(BEAST_TOKEN))
        assert (response.status, served) == (401, False)
        path.write_text("pushgate_authorization: [broken")
        bump_mtime(path)
        for headers in ({}, bearer(OPS_TOKEN)):
            response, served = await call(access, "GET", "/-/healthy", headers)
            assert (response.status, served) == (500, False)
            assert body(response) == "Internal Server Error\n"

    asyncio.run(go())


def test_a_bad_jwks_file_fails_at_start(tmp_path: Path) -> None:
    (tmp_path / "jwks.json").write_text("not json")
    path = config(
        tmp_path,
        pushgate_authorization={
            "oidc": {
                "issuer": "https://issuer",
                "audience": "pushgate",
                "jwks_file": "jwks.json",
                "rules": [{"claims": 'repository_owner="acme"', "actions": ["push"]}],
            }
        },
    )
    from pushgate.core.errors import ConfigError

    with pytest.raises(ConfigError, match="not a JWKS document"):
        AccessControl.from_file(str(path))


def test_one_audit_line_per_write_without_secrets(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = scoped(tmp_path, basic_auth_users={"alice": bcrypt_hash(PASSWORD)})

    async def go() -> None:
        access = AccessControl.from_file(str(path))
        await call(access, "PUT", IN_SCOPE, bearer(BEAST_TOKEN))
        await call(access, "DELETE", OUT_OF_SCOPE_JOB, bearer(BEAST_TOKEN))
        await call(access, "PUT", IN_SCOPE, bearer("pgt_wrong-secret"))
        await call(access, "PUT", "/api/v1/admin/wipe", {"Authorization": basic("alice", PASSWORD)})
        await call(access, "GET", "/metrics", bearer(READER_TOKEN))  # a read: no audit line

    with caplog.at_level(logging.DEBUG):
        asyncio.run(go())
    audit = [r.getMessage() for r in caplog.records if r.name == "pushgate.audit"]
    assert len(audit) == 4
    assert audit[0].startswith('principal="token:beast-ci" auth=token action=push method=PUT')
    assert 'group={job="beast-mailbox-core", branch="feature/login"} status=200' in audit[0]
    assert (
        'action=delete method=DELETE group={job="other-project", branch="feature/login"} status=403'
        in audit[1]
    )
    assert audit[2].startswith("principal=- auth=- action=push") and "status=401" in audit[2]
    assert (
        'principal="basic:alice" auth=basic action=wipe method=PUT group=* status=200' in audit[3]
    )
    everything = "\n".join(r.getMessage() for r in caplog.records)
    for secret in (BEAST_TOKEN, READER_TOKEN, "pgt_wrong-secret", PASSWORD):
        assert secret not in everything


def test_basic_auth_is_cached_and_unknown_users_cost_a_bcrypt_check_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pushgate.server import auth

    stored = bcrypt_hash(PASSWORD)
    path = config(tmp_path, basic_auth_users={"alice": stored})
    checked: list[bytes] = []
    real = auth._bcrypt_matches

    def counting(password: bytes, hashed: bytes) -> bool:
        checked.append(hashed)
        return real(password, hashed)

    monkeypatch.setattr(auth, "_bcrypt_matches", counting)

    async def go() -> None:
        access = AccessControl.from_file(str(path))
        for _ in range(3):
            _, served = await call(
                access, "GET", "/metrics", {"Authorization": basic("alice", PASSWORD)}
            )
            assert served
        assert checked == [stored.encode()]  # once, then from the cache
        response, _ = await call(
            access, "GET", "/metrics", {"Authorization": basic("bob", PASSWORD)}
        )
        assert response.status == 401
        assert len(checked) == 2 and checked[1] != stored.encode()  # the decoy, same cost

    asyncio.run(go())
