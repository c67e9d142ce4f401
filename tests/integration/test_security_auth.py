"""Scoped tokens, basic auth and GitHub OIDC against a real ``pushgate serve``.

Every refused request is checked twice: its status (401 for a missing or
wrong credential, 403 for a valid one out of scope) and the stored state,
read back through the JSON API before and after, which must be identical:
a refused write changes nothing, not even ``push_failure_time_seconds``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import GatewayFactory, GatewayProcess
from tests.security_fixtures import (
    AUDIENCE,
    GITHUB_ISSUER,
    OidcIssuer,
    basic,
    bcrypt_hash,
    sha256_hex,
    web_config,
)
from tests.unit.server.test_auth_oidc import forged_tokens

pytestmark = pytest.mark.integration

BEAST = "pgt_beast-mailbox-core-ci"
OPS = "pgt_ops-admin"
PASSWORD = "hunter2-but-longer"
BODY = b"# TYPE ci_tests_total counter\nci_tests_total 7\n"
BEAST_GROUP = (
    "/metrics/job/beast-mailbox-core/instance/0.4.5-3f78685/branch@base64/ZmVhdHVyZS9sb2dpbg"
)
OTHER_GROUP = "/metrics/job/other-project/instance/1.0-aaaaaaa/branch/main"


@pytest.fixture
def issuer() -> OidcIssuer:
    return OidcIssuer()


@pytest.fixture
def gateway(
    pushgate_factory: GatewayFactory, tmp_path: Path, issuer: OidcIssuer
) -> Iterator[GatewayProcess]:
    issuer.write_jwks(tmp_path / "jwks.json")
    config = web_config(
        tmp_path / "web.yml",
        {
            "basic_auth_users": {"alice": bcrypt_hash(PASSWORD)},
            "pushgate_authorization": {
                "read_requires_auth": False,
                "tokens": [
                    {
                        "name": "beast-ci",
                        "sha256": sha256_hex(BEAST),
                        "actions": ["push", "delete"],
                        "match": ['job="beast-mailbox-core"', 'branch=~"feature/.*"'],
                    },
                    {"name": "ops", "sha256": sha256_hex(OPS), "actions": ["read", "admin"]},
                ],
                "oidc": {
                    "issuer": GITHUB_ISSUER,
                    "audience": AUDIENCE,
                    "jwks_file": "jwks.json",
                    "rules": [
                        {
                            "claims": 'repository_owner="acme"',
                            "actions": ["push", "delete"],
                            "match": 'job="{repository_name}"',
                        }
                    ],
                },
            },
        },
    )
    gw = pushgate_factory(f"--web.config.file={config}", "--web.enable-admin-api")
    # Groups of two projects to protect.
    for path, token in [(BEAST_GROUP, BEAST)]:
        r = requests.put(gw.url + path, data=BODY, headers=bearer(token), timeout=5)
        assert r.status_code == 200, r.text
    r = requests.put(
        gw.url + OTHER_GROUP, data=BODY, headers={"Authorization": basic("alice", PASSWORD)}
    )
    assert r.status_code == 200
    yield gw


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def state(gw: GatewayProcess) -> list[dict[str, Any]]:
    data = requests.get(gw.url + "/api/v1/metrics", headers=bearer(OPS), timeout=5).json()["data"]
    return sorted(data, key=lambda g: json.dumps(g["labels"], sort_keys=True))


def assert_refused(
    gw: GatewayProcess, method: str, path: str, headers: dict[str, str], status: int
) -> requests.Response:
    before = state(gw)
    r = requests.request(method, gw.url + path, data=BODY, headers=headers, timeout=5)
    assert r.status_code == status, (method, path, r.text)
    assert state(gw) == before
    return r


WRITES = [
    ("PUT", BEAST_GROUP),
    ("POST", BEAST_GROUP),
    ("DELETE", BEAST_GROUP),
    ("PUT", OTHER_GROUP),
    ("DELETE", OTHER_GROUP),
    ("PUT", "/api/v1/admin/wipe"),
]


def test_no_credential_and_wrong_credentials_are_401(gateway: GatewayProcess) -> None:
    wrong = [
        {},
        bearer("pgt_not-a-token"),
        bearer(BEAST + "x"),
        bearer(BEAST[:-1]),
        {"Authorization": basic("alice", "wrong")},
        {"Authorization": basic("mallory", PASSWORD)},
        {"Authorization": "Token " + BEAST},
    ]
    for headers in wrong:
        for method, path in WRITES:
            r = assert_refused(gateway, method, path, headers, 401)
            assert r.text == "Unauthorized\n"
            assert r.headers.get("Www-Authenticate") == 'Basic, Bearer realm="pushgate"'


def test_expired_forged_and_wrong_audience_jwts_are_401(
    gateway: GatewayProcess, issuer: OidcIssuer
) -> None:
    for name, token in forged_tokens(issuer).items():
        r = assert_refused(gateway, "PUT", "/metrics/job/foo", bearer(token), 401)
        assert r.text == "Unauthorized\n", name


def test_out_of_scope_push_delete_and_wipe_are_403(
    gateway: GatewayProcess, issuer: OidcIssuer
) -> None:
    jwt_foo = issuer.token()  # acme/foo may write job="foo" only
    for headers in (bearer(BEAST), bearer(jwt_foo)):
        for method in ("PUT", "POST", "DELETE"):
            r = assert_refused(gateway, method, OTHER_GROUP, headers, 403)
            assert "may not" in r.text and "other-project" in r.text
        assert_refused(gateway, "PUT", "/api/v1/admin/wipe", headers, 403)
    # beast-ci: right job, wrong branch.
    assert_refused(
        gateway, "PUT", "/metrics/job/beast-mailbox-core/branch/main", bearer(BEAST), 403
    )
    # The OIDC token may not touch beast-mailbox-core either.
    assert_refused(gateway, "DELETE", BEAST_GROUP, bearer(jwt_foo), 403)


def test_in_scope_writes_work(gateway: GatewayProcess, issuer: OidcIssuer) -> None:
    r = requests.put(
        gateway.url + "/metrics/job/foo/branch/main", data=BODY, headers=bearer(issuer.token())
    )
    assert r.status_code == 200
    r = requests.delete(gateway.url + BEAST_GROUP, headers=bearer(BEAST))
    assert r.status_code == 202
    jobs = sorted(g["labels"]["job"] for g in state(gateway))
    assert jobs == ["foo", "other-project"]
    r = requests.put(gateway.url + "/api/v1/admin/wipe", headers=bearer(OPS))
    assert r.status_code == 202
    assert state(gateway) == []


def test_reads_are_open_and_the_log_has_audit_lines_but_no_secret(
    gateway: GatewayProcess, issuer: OidcIssuer
) -> None:
    assert requests.get(gateway.url + "/metrics").status_code == 200
    assert requests.get(gateway.url + "/-/healthy").status_code == 200
    jwt_foo = issuer.token()
    requests.put(gateway.url + OTHER_GROUP, data=BODY, headers=bearer(jwt_foo))
    requests.put(
        gateway.url + BEAST_GROUP, data=BODY, headers={"Authorization": basic("alice", "x")}
    )
    log = gateway.log_tail(1_000_000)
    assert (
        'principal=\\"token:beast-ci\\" auth=token action=push method=PUT group={job=\\"beast-mailbox-core\\"'
        in log
    )
    assert 'principal=\\"oidc:repo:acme/foo:ref:refs/heads/main\\" auth=oidc action=push' in log
    assert "status=403" in log and "status=401" in log
    for secret in (BEAST, OPS, PASSWORD, jwt_foo, jwt_foo.split(".")[2]):
        assert secret not in log


def test_the_ui_offers_only_what_the_credential_allows(gateway: GatewayProcess) -> None:
    # A basic-auth user of the official file may do everything: both groups
    # get a delete button, and the wipe button is there (admin API on).
    alice = {"Authorization": basic("alice", PASSWORD)}
    page = requests.get(gateway.url + "/", headers=alice, timeout=5).text
    assert page.count("data-delete-url") == 2
    assert "data-wipe-url" in page
    # Anonymous readers see the groups and no destructive button at all.
    page = requests.get(gateway.url + "/", timeout=5).text
    assert "other-project" in page and "beast-mailbox-core" in page
    assert "data-delete-url" not in page and "data-wipe-url" not in page
    # A token that may not read gets no page (its scope is tested above).
    r = requests.get(gateway.url + "/", headers=bearer(BEAST), timeout=5)
    assert r.status_code == 403
