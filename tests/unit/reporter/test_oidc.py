"""``pushgate report`` with GitHub Actions OIDC, over the fake transport (no sockets)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pushgate.reporter.client import HttpClient, HttpRequest, HttpResponse, RetryPolicy
from pushgate.reporter.errors import PushError
from pushgate.reporter.oidc import fetch_github_token, token_request_url
from tests.unit.reporter.fakes import NO_SLEEP, FakeTransport
from tests.unit.reporter.test_cli_report import GITHUB, run

JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJyZXBvOmFjbWUvZm9vIn0.c2lnbmF0dXJl"
REQUEST_TOKEN = "runner-request-token-SECRET"
OIDC_ENV = {
    "ACTIONS_ID_TOKEN_REQUEST_URL": "https://pipelines.example/idtoken/abc?api-version=2.0",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN": REQUEST_TOKEN,
}


def answer(request: HttpRequest) -> HttpResponse:
    if request.url.startswith("https://pipelines.example/"):
        return HttpResponse(200, json.dumps({"count": 1, "value": JWT}).encode())
    return HttpResponse(200)


def test_the_audience_is_added_to_the_runners_query() -> None:
    url = token_request_url("https://h/idtoken?api-version=2.0&audience=old", "pushgate prod")
    assert url == "https://h/idtoken?api-version=2.0&audience=pushgate+prod"


def test_report_fetches_a_token_and_sends_it_as_bearer(tmp_path: Path) -> None:
    transport = FakeTransport([answer])
    result = run(
        "report",
        "--gateway",
        "http://gw:9091",
        "--version",
        "1.0",
        "--project-dir",
        str(tmp_path),
        "--oidc-audience",
        "pushgate-prod",
        env={**GITHUB, **OIDC_ENV},
        transport=transport,
    )
    assert result.code == 0, result.err
    token_request, push = transport.requests
    assert token_request.method == "GET"
    assert token_request.url.endswith("api-version=2.0&audience=pushgate-prod")
    assert ("Authorization", f"Bearer {REQUEST_TOKEN}") in token_request.headers
    assert push.method == "PUT" and ("Authorization", f"Bearer {JWT}") in push.headers
    assert REQUEST_TOKEN not in result.err + result.out and JWT not in result.err + result.out


def test_explicit_credentials_and_no_oidc_win(tmp_path: Path) -> None:
    for extra_env, flags in [({"PUSHGATE_TOKEN": "tok"}, ()), ({}, ("--no-oidc",))]:
        transport = FakeTransport([answer])
        result = run(
            "report",
            "--gateway",
            "http://gw:9091",
            "--version",
            "1.0",
            "--project-dir",
            str(tmp_path),
            *flags,
            env={**GITHUB, **OIDC_ENV, **extra_env},
            transport=transport,
        )
        assert result.code == 0
        assert [r.url.startswith("http://gw:9091") for r in transport.requests] == [True]


def test_dry_run_says_a_token_would_be_requested(tmp_path: Path) -> None:
    transport = FakeTransport([answer])
    result = run(
        "report",
        "--dry-run",
        "--version",
        "1.0",
        "--project-dir",
        str(tmp_path),
        env={**GITHUB, **OIDC_ENV},
        transport=transport,
    )
    assert (
        "# auth: GitHub Actions OIDC token (audience 'pushgate'), requested when pushing"
        in result.out
    )
    assert transport.requests == []


def test_a_failed_token_request_warns_and_pushes_without(tmp_path: Path) -> None:
    def refuse(request: HttpRequest) -> HttpResponse:
        if request.url.startswith("https://pipelines.example/"):
            return HttpResponse(403, b"forbidden")
        return HttpResponse(401, b"Unauthorized\n")

    transport = FakeTransport([refuse])
    result = run(
        "report",
        "--gateway",
        "http://gw:9091",
        "--version",
        "1.0",
        "--project-dir",
        str(tmp_path),
        env={**GITHUB, **OIDC_ENV},
        transport=transport,
    )
    assert result.code == 0  # metrics never fail a build without --strict
    assert (
        "could not get a GitHub Actions OIDC token from ACTIONS_ID_TOKEN_REQUEST_URL (HTTP 403)"
        in result.err
    )
    assert "id-token: write" in result.err
    assert "pipelines.example" not in result.err and REQUEST_TOKEN not in result.err


@pytest.mark.parametrize("payload", [b"{}", b"not json", b'{"value": "no-dots"}'])
def test_an_answer_without_a_token_is_an_error(payload: bytes) -> None:
    client = HttpClient(
        FakeTransport([HttpResponse(200, payload)]), RetryPolicy(attempts=1), sleep=NO_SLEEP
    )
    with pytest.raises(PushError, match="answered without a token"):
        fetch_github_token(OIDC_ENV, "pushgate", client)
