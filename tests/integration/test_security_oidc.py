"""GitHub Actions OIDC over real HTTP: a JWKS URL, and `pushgate report` end to end.

A local HTTP server stands in for GitHub twice: as the JWKS endpoint the
gateway fetches keys from, and as the runner's ID-token endpoint that
``pushgate report`` asks (``ACTIONS_ID_TOKEN_REQUEST_URL``), which mints
tokens with the test issuer's key for the audience it is asked for.
"""

from __future__ import annotations

import argparse
import io
import json
import threading
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from pushgate.cli import report as cli
from pushgate.server import oidc
from tests.security_fixtures import AUDIENCE, GITHUB_ISSUER, LiveGateway, OidcIssuer, web_config

pytestmark = pytest.mark.integration

RUNNER_TOKEN = "runner-request-token-do-not-log"


class FakeGitHub(BaseHTTPRequestHandler):
    """``/jwks`` (counting fetches) and ``/idtoken?audience=`` (minting tokens)."""

    issuer: ClassVar[OidcIssuer]
    jwks: ClassVar[dict[str, Any] | None]
    fetches: ClassVar[int] = 0
    repository: ClassVar[str] = "acme/beast-mailbox-core"

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path == "/jwks":
            type(self).fetches += 1
            if self.jwks is None:
                self._answer(500, b"down")
            else:
                self._answer(200, json.dumps(self.jwks).encode())
        elif url.path == "/idtoken":
            if self.headers.get("Authorization") != f"Bearer {RUNNER_TOKEN}":
                self._answer(401, b"{}")
                return
            audience = parse_qs(url.query)["audience"][0]
            token = self.issuer.token(self.issuer.claims(self.repository, audience=audience))
            self._answer(200, json.dumps({"count": 1, "value": token}).encode())
        else:
            self._answer(404, b"")

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def github() -> Iterator[str]:
    FakeGitHub.issuer = OidcIssuer()
    FakeGitHub.jwks = FakeGitHub.issuer.jwks()
    FakeGitHub.fetches = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeGitHub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def gateway_config(tmp_path: Path, jwks: dict[str, str]) -> Path:
    return web_config(
        tmp_path / "web.yml",
        {
            "pushgate_authorization": {
                "oidc": {
                    "issuer": GITHUB_ISSUER,
                    "audience": AUDIENCE,
                    **jwks,
                    "rules": [
                        {
                            "claims": 'repository_owner="acme"',
                            "actions": ["push", "delete"],
                            "match": 'job="{repository_name}"',
                        }
                    ],
                }
            }
        },
    )


def put(gw: LiveGateway, job: str, token: str) -> int:
    r = requests.put(
        f"{gw.url}/metrics/job/{job}", data=b"x 1\n", headers={"Authorization": f"Bearer {token}"}
    )
    return r.status_code


def test_keys_come_from_the_jwks_url_and_follow_a_rotation(
    github: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    issuer = FakeGitHub.issuer
    config = gateway_config(tmp_path, {"jwks_url": f"{github}/jwks"})
    with LiveGateway(config) as gw:
        token = issuer.token(issuer.claims("acme/foo"))
        assert put(gw, "foo", token) == 200
        assert put(gw, "foo", token) == 200
        assert FakeGitHub.fetches == 1  # cached

        # Made-up key ids do not make the gateway fetch again within a minute.
        for i in range(5):
            assert (
                put(gw, "foo", issuer.token(issuer.claims("acme/foo"), kid=f"made-up-{i}")) == 401
            )
        assert FakeGitHub.fetches == 1

        # GitHub rotates its key: a token with the new kid makes it fetch again.
        monkeypatch.setattr(oidc, "MIN_REFETCH_SECONDS", 0.0)
        rotated = OidcIssuer(kid="test-key-2")
        FakeGitHub.jwks = {"keys": issuer.jwks()["keys"] + rotated.jwks()["keys"]}
        assert put(gw, "foo", rotated.token(rotated.claims("acme/foo"))) == 200
        assert FakeGitHub.fetches == 2


def test_without_any_keys_tokens_get_503_and_nothing_changes(github: str, tmp_path: Path) -> None:
    FakeGitHub.jwks = None  # the JWKS endpoint is down
    config = gateway_config(tmp_path, {"jwks_url": f"{github}/jwks"})
    with LiveGateway(config) as gw:
        issuer = FakeGitHub.issuer
        assert put(gw, "foo", issuer.token(issuer.claims("acme/foo"))) == 503
        assert gw.groups() == {}


def _report(*argv: str, env: Mapping[str, str]) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="pushgate")
    cli.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(list(argv))
    out, err = io.StringIO(), io.StringIO()
    code = cli.run_report(args, cli.Io(env=dict(env), out=out, err=err, sleep=lambda s: None))
    return code, out.getvalue(), err.getvalue()


def test_pushgate_report_sends_a_github_oidc_token(github: str, tmp_path: Path) -> None:
    FakeGitHub.issuer.write_jwks(tmp_path / "jwks.json")
    config = gateway_config(tmp_path, {"jwks_file": "jwks.json"})
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_SHA": "3f786850e387550fdab836ed7e6dc881de23001b",
        "GITHUB_REF_NAME": "main",
        "GITHUB_REPOSITORY": "acme/beast-mailbox-core",
        "GITHUB_WORKFLOW": "CI",
        "ACTIONS_ID_TOKEN_REQUEST_URL": f"{github}/idtoken?api-version=2.0",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN": RUNNER_TOKEN,
    }
    with LiveGateway(config) as gw:
        common = ["report", "--gateway", gw.url, "--version", "0.4.5"]
        common += ["--project-dir", str(tmp_path), "--retries", "0"]
        code, _, err = _report(*common, env=env)
        assert code == 0, err
        assert "pushed" in err
        (key,) = gw.groups()
        assert dict(key)["job"] == "beast-mailbox-core"

        # Another project's job is refused, and the group set is unchanged.
        code, _, err = _report(*common, "--job", "other-project", "--strict", env=env)
        assert code == 1
        assert "HTTP 403" in err and "not allowed to push to this group" in err
        assert list(gw.groups()) == [key]

        # The wrong audience is refused by the gateway.
        code, _, err = _report(*common, "--oidc-audience", "sts.amazonaws.com", "--strict", env=env)
        assert code == 1 and "HTTP 401" in err
        assert RUNNER_TOKEN not in err
