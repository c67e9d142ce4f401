"""GitHub Actions OIDC tokens as credentials: JWKS from a file, keys made here."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from pushgate.server.auth import AccessControl
from pushgate.server.oidc import claims_view
from tests.security_fixtures import AUDIENCE, GITHUB_ISSUER, OidcIssuer, web_config
from tests.unit.server.test_auth import body, call

PUSH_FOO = "/metrics/job/foo/instance/1.0-abc1234/branch/main"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def raw_jwt(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    head = b64(json.dumps(header).encode())
    payload = b64(json.dumps(claims).encode())
    return f"{head}.{payload}.{b64(signature)}"


@pytest.fixture
def issuer() -> OidcIssuer:
    return OidcIssuer()


@pytest.fixture
def config_path(tmp_path: Path, issuer: OidcIssuer) -> Path:
    issuer.write_jwks(tmp_path / "jwks.json")
    return web_config(
        tmp_path / "web.yml",
        {
            "pushgate_authorization": {
                "oidc": {
                    "issuer": GITHUB_ISSUER,
                    "audience": AUDIENCE,
                    "jwks_file": "jwks.json",
                    "leeway": "5s",
                    "rules": [
                        # Any repository of acme pushes and deletes its own job.
                        {
                            "claims": 'repository_owner="acme"',
                            "actions": ["push", "delete"],
                            "match": 'job="{repository_name}"',
                        },
                        # Releases from main of acme/foo may also push foo-release-*.
                        {
                            "claims": 'repository="acme/foo", ref="refs/heads/main",'
                            ' environment="production"',
                            "actions": ["push"],
                            "match": 'job=~"{repository_name}-release-.*"',
                        },
                    ],
                }
            }
        },
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def outcome(config_path: Path, path: str, token: str, method: str = "PUT") -> tuple[int, bool, str]:
    async def go() -> tuple[int, bool, str]:
        access = AccessControl.from_file(str(config_path))
        response, served = await call(access, method, path, bearer(token))
        return response.status, served, body(response)

    return asyncio.run(go())


def test_a_valid_token_pushes_its_own_job_only(config_path: Path, issuer: OidcIssuer) -> None:
    token = issuer.token()
    assert outcome(config_path, PUSH_FOO, token)[:2] == (200, True)
    assert outcome(config_path, "/metrics/job/foo", token, "DELETE")[:2] == (200, True)
    status, served, text = outcome(config_path, "/metrics/job/bar", token)
    assert (status, served) == (403, False)
    assert (
        text == 'oidc:repo:acme/foo:ref:refs/heads/main (oidc) may not push to group {job="bar"}\n'
    )
    # Not the release jobs: that rule needs the production environment.
    assert outcome(config_path, "/metrics/job/foo-release-1", token)[:2] == (403, False)
    prod = issuer.token(issuer.claims(environment="production"))
    assert outcome(config_path, "/metrics/job/foo-release-1", prod)[:2] == (200, True)


def test_a_repository_of_another_owner_gets_nothing(config_path: Path, issuer: OidcIssuer) -> None:
    token = issuer.token(issuer.claims("evil/foo"))
    assert outcome(config_path, PUSH_FOO, token)[:2] == (403, False)


def test_a_dot_in_a_repository_name_does_not_widen_a_pattern(
    config_path: Path, issuer: OidcIssuer
) -> None:
    token = issuer.token(issuer.claims("acme/foo", environment="production"))
    assert outcome(config_path, "/metrics/job/foo-release-x", token)[:2] == (200, True)
    dotted = issuer.token(issuer.claims("acme/f.o", environment="production"))
    assert outcome(config_path, "/metrics/job/f.o", dotted)[:2] == (200, True)
    assert outcome(config_path, "/metrics/job/fxo", dotted)[:2] == (403, False)


def forged_tokens(issuer: OidcIssuer) -> dict[str, str]:
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = issuer.key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    claims = issuer.claims()
    header = {"alg": "HS256", "typ": "JWT", "kid": issuer.kid}
    unsigned = raw_jwt(header, claims).rsplit(".", 1)[0]
    # The classic key confusion: HMAC keyed with the public key.
    confused_sig = hmac.new(public_pem, unsigned.encode(), hashlib.sha256).digest()
    valid = issuer.token()
    head, payload, sig = valid.split(".")
    tampered = json.loads(base64.urlsafe_b64decode(payload + "=="))
    tampered["repository"] = "acme/bar"
    return {
        "expired": issuer.token(issuer.claims(issued_ago=4000, lifetime=3600)),
        "not yet valid": issuer.token(issuer.claims(issued_ago=-600)),
        "wrong audience": issuer.token(issuer.claims(audience="sts.amazonaws.com")),
        "wrong issuer": issuer.token({**issuer.claims(), "iss": "https://evil.example"}),
        "configured issuer, other key": OidcIssuer().token(),
        "signed by another key, same kid": issuer.token(key=other_key),
        "unknown kid": issuer.token(kid="someone-elses-key"),
        "alg none": raw_jwt({"alg": "none", "kid": issuer.kid}, claims),
        "HS256 keyed with the public key": f"{unsigned}.{b64(confused_sig)}",
        "payload tampered": f"{head}.{b64(json.dumps(tampered).encode())}.{sig}",
        "no exp": issuer.token({k: v for k, v in claims.items() if k != "exp"}),
        "no sub": issuer.token({k: v for k, v in claims.items() if k != "sub"}),
        "garbage": "a.b.c" * 10,
        "truncated": valid[:-10],
    }


def test_every_forged_or_unacceptable_token_is_401(config_path: Path, issuer: OidcIssuer) -> None:
    for name, token in forged_tokens(issuer).items():
        status, served, text = outcome(config_path, PUSH_FOO, token)
        assert (status, served, text) == (401, False, "Unauthorized\n"), name


def test_no_kid_is_fine_with_a_single_key(config_path: Path, issuer: OidcIssuer) -> None:
    assert outcome(config_path, PUSH_FOO, issuer.token(kid=None))[:2] == (200, True)


def test_refusals_are_logged_by_reason_without_the_token(
    config_path: Path, issuer: OidcIssuer, caplog: pytest.LogCaptureFixture
) -> None:
    token = issuer.token(issuer.claims(audience="other"))
    with caplog.at_level(logging.DEBUG):
        outcome(config_path, PUSH_FOO, token)
    messages = "\n".join(r.getMessage() for r in caplog.records)
    assert "refused an OIDC token: wrong audience" in messages
    assert token not in messages
    assert token.split(".")[2] not in messages


def test_claims_view_derives_repository_name_and_ref_name() -> None:
    view = claims_view(
        {"repository": "acme/foo", "ref": "refs/tags/v1.2", "run_number": 7, "environment": "prod"}
    )
    assert view == {
        "repository": "acme/foo",
        "ref": "refs/tags/v1.2",
        "environment": "prod",
        "repository_name": "foo",
        "ref_name": "v1.2",
    }
