"""Sonar Web API answers (documented shapes) over a fake transport."""

from __future__ import annotations

import json

import pytest

from pushgate.reporter.client import (
    HttpClient,
    HttpRequest,
    HttpResponse,
    RetryPolicy,
    TransportError,
)
from pushgate.reporter.errors import SonarError
from pushgate.reporter.sonar import SonarSettings, fetch_sonar, parse_gate_status, parse_measures
from tests.unit.reporter.fakes import NO_SLEEP, FakeTransport

MEASURES = {
    "component": {
        "key": "acme_shop",
        "name": "shop",
        "qualifier": "TRK",
        "measures": [
            {"metric": "bugs", "value": "3", "bestValue": False},
            {"metric": "coverage", "value": "81.4", "bestValue": False},
            {"metric": "vulnerabilities", "value": "0", "bestValue": True},
            {"metric": "code_smells", "value": "42", "bestValue": False},
            {"metric": "duplicated_lines_density", "value": "1.7", "bestValue": False},
            {"metric": "new_bugs", "period": {"index": 1, "value": "0"}},
        ],
    }
}
GATE = {"projectStatus": {"status": "ERROR", "conditions": [], "ignoredConditions": False}}


def _json(document: object, status: int = 200) -> HttpResponse:
    return HttpResponse(status, json.dumps(document).encode())


def _route(request: HttpRequest) -> HttpResponse:
    if "/api/measures/component?" in request.url:
        return _json(MEASURES)
    if "/api/qualitygates/project_status?" in request.url:
        return _json(GATE)
    return _json({"errors": [{"msg": "Unknown url"}]}, 404)


SETTINGS = SonarSettings("https://sonarcloud.io/", "acme_shop", "feature/x", token="sq_tok")


def _client(transport: FakeTransport) -> HttpClient:
    return HttpClient(transport, RetryPolicy(attempts=1, timeout=1.0), sleep=NO_SLEEP)


def test_fetch_reads_measures_and_gate() -> None:
    transport = FakeTransport([_route])
    result = fetch_sonar(_client(transport), SETTINGS)
    assert result.measures == (
        ("coverage", 81.4),
        ("bugs", 3.0),
        ("vulnerabilities", 0.0),
        ("code_smells", 42.0),
        ("duplicated_lines_density", 1.7),
    )
    assert result.quality_gate == "ERROR"
    measures, gate = transport.requests
    assert measures.url == (
        "https://sonarcloud.io/api/measures/component?component=acme_shop&metricKeys="
        "coverage%2Cbugs%2Cvulnerabilities%2Ccode_smells%2Cduplicated_lines_density"
        "&branch=feature%2Fx"
    )
    assert gate.url.endswith(
        "/api/qualitygates/project_status?projectKey=acme_shop&branch=feature%2Fx"
    )
    # The token is the basic-auth user with an empty password ("sq_tok:").
    assert ("Authorization", "Basic c3FfdG9rOg==") in measures.headers


def test_missing_measures_are_left_out() -> None:
    body = {"component": {"key": "k", "measures": [{"metric": "bugs", "value": "1"}]}}
    assert parse_measures(body) == (("bugs", 1.0),)


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (401, b"", r"HTTP 401.*the token in SONAR_TOKEN is invalid or expired"),
        (
            404,
            b'{"errors":[{"msg":"Component key \'acme_shop\' not found"}]}',
            r"Component key 'acme_shop' not found.*check --sonar-project 'acme_shop' "
            r"and --sonar-branch 'feature/x'",
        ),
        (403, b'{"errors":[{"msg":"Insufficient privileges"}]}', r"Browse permission"),
        (500, b"oops", r"HTTP 500: oops"),
        (200, b"<html>login</html>", r"answered something that is not JSON"),
    ],
)
def test_http_errors(status: int, body: bytes, message: str) -> None:
    transport = FakeTransport([HttpResponse(status, body)])
    with pytest.raises(SonarError, match=message) as info:
        fetch_sonar(_client(transport), SETTINGS)
    assert "sq_tok" not in str(info.value)


def test_401_without_a_token_says_to_set_one() -> None:
    settings = SonarSettings("https://sonarcloud.io", "k")
    with pytest.raises(SonarError, match="set SONAR_TOKEN to a Sonar user token"):
        fetch_sonar(_client(FakeTransport([HttpResponse(401)])), settings)


def test_timeout() -> None:
    transport = FakeTransport([TransportError("no answer within 1s", timeout=True)])
    with pytest.raises(
        SonarError,
        match=r"Sonar request to https://sonarcloud\.io/api/measures.* no answer within 1s",
    ):
        fetch_sonar(_client(transport), SETTINGS)


@pytest.mark.parametrize(
    "body",
    [{}, {"component": {}}, {"component": {"measures": "x"}}, [], "text"],
)
def test_unexpected_measure_shapes(body: object) -> None:
    with pytest.raises(SonarError, match=r"no component\.measures list"):
        parse_measures(body)


def test_errors_object_is_quoted() -> None:
    with pytest.raises(SonarError, match="Sonar answered with errors: a; b"):
        parse_measures({"errors": [{"msg": "a"}, {"msg": "b"}]})


def test_non_numeric_measure() -> None:
    with pytest.raises(SonarError, match="'bugs' has value 'many'"):
        parse_measures({"component": {"measures": [{"metric": "bugs", "value": "many"}]}})


def test_gate_status_shapes() -> None:
    assert parse_gate_status({"projectStatus": {"status": "OK"}}) == "OK"
    with pytest.raises(SonarError, match=r"no projectStatus\.status"):
        parse_gate_status({"projectStatus": {}})
