"""The push client over a fake transport: retries, backoff, auth, messages."""

from __future__ import annotations

import pytest

from pushgate.core.errors import ConfigError
from pushgate.reporter.client import (
    Credentials,
    HttpClient,
    HttpRequest,
    HttpResponse,
    RetryPolicy,
    TransportError,
    split_gateway_url,
)
from pushgate.reporter.errors import PushError
from tests.unit.reporter.fakes import FakeTransport

REQUEST = HttpRequest("PUT", "http://gw:9091/metrics/job/j", (), b"m 1\n")


def _client(transport: FakeTransport, attempts: int = 4) -> tuple[HttpClient, list[float]]:
    waits: list[float] = []
    client = HttpClient(
        transport, RetryPolicy(attempts=attempts, timeout=2.5), sleep=waits.append, rand=lambda: 1.0
    )
    return client, waits


def test_success_first_time() -> None:
    transport = FakeTransport()
    client, waits = _client(transport)
    delivery = client.send(REQUEST)
    assert (delivery.response.status, delivery.attempts, waits) == (200, 1, [])
    assert transport.timeouts == [2.5]


def test_transient_failures_are_retried_with_growing_backoff() -> None:
    transport = FakeTransport(
        [
            TransportError("Connection refused"),
            HttpResponse(503),
            HttpResponse(429),
            HttpResponse(200),
        ]
    )
    client, waits = _client(transport)
    delivery = client.send(REQUEST)
    assert delivery.attempts == 4
    assert waits == [1.0, 2.0, 4.0]


def test_backoff_is_capped_and_jittered() -> None:
    policy = RetryPolicy(backoff=1.0, max_backoff=8.0)
    assert policy.delay(10, lambda: 1.0) == 8.0
    assert policy.delay(0, lambda: 0.0) == 0.5


def test_gives_up_after_the_attempts_and_says_so() -> None:
    transport = FakeTransport([TransportError("Connection refused")])
    client, _ = _client(transport, attempts=3)
    with pytest.raises(PushError) as info:
        client.send(REQUEST)
    assert info.value.retryable
    assert str(info.value) == (
        "push to http://gw:9091/metrics/job/j failed: Connection refused (gave up after 3 attempts)"
    )
    assert len(transport.requests) == 3


def test_a_rejected_payload_is_not_retried() -> None:
    body = b"pushed metrics are invalid or inconsistent with existing metrics: ...\n"
    transport = FakeTransport([HttpResponse(400, body)])
    client, waits = _client(transport)
    with pytest.raises(PushError) as info:
        client.send(REQUEST)
    assert not info.value.retryable and info.value.status == 400
    assert "answered HTTP 400: pushed metrics are invalid" in str(info.value)
    assert len(transport.requests) == 1 and waits == []


@pytest.mark.parametrize(
    ("status", "hint"),
    [
        (401, "set PUSHGATE_TOKEN, or PUSHGATE_USERNAME and PUSHGATE_PASSWORD"),
        (403, "not allowed to push"),
        (404, "route prefix"),
    ],
)
def test_errors_say_what_to_do(status: int, hint: str) -> None:
    client, _ = _client(FakeTransport([HttpResponse(status)]))
    with pytest.raises(PushError, match=hint):
        client.send(REQUEST)


def test_redirects_are_reported_not_followed() -> None:
    response = HttpResponse(301, b"", (("Location", "/pg/metrics/job/j"),))
    client, _ = _client(FakeTransport([response]))
    with pytest.raises(PushError, match=r"HTTP 301 \(redirect to /pg/metrics/job/j\); check"):
        client.send(REQUEST)


def test_long_error_bodies_are_cut() -> None:
    client, _ = _client(FakeTransport([HttpResponse(400, b"x" * 5000)]))
    with pytest.raises(PushError) as info:
        client.send(REQUEST)
    assert len(str(info.value)) < 500


def test_credentials_from_env_never_show_the_secret() -> None:
    token = Credentials.from_env({"PUSHGATE_TOKEN": "s3cr3t"})
    assert token.headers() == (("Authorization", "Bearer s3cr3t"),)
    assert "s3cr3t" not in repr(token) and "s3cr3t" not in token.kind
    basic = Credentials.from_env({"PUSHGATE_USERNAME": "ci", "PUSHGATE_PASSWORD": "pw"})
    assert basic.headers() == (("Authorization", "Basic Y2k6cHc="),)
    assert "pw" not in repr(basic) and basic.kind == "basic auth as 'ci'"
    assert Credentials.from_env({}).headers() == ()
    with pytest.raises(ConfigError, match="set only one"):
        Credentials.from_env({"PUSHGATE_TOKEN": "t", "PUSHGATE_USERNAME": "u"})


def test_user_info_in_the_gateway_url_becomes_a_header() -> None:
    url, creds = split_gateway_url("https://ci:p%40ss@gw.example:9091/pg/")
    assert url == "https://gw.example:9091/pg"
    assert creds is not None and creds.headers() == (("Authorization", "Basic Y2k6cEBzcw=="),)
    assert split_gateway_url("gw:9091") == ("http://gw:9091", None)


@pytest.mark.parametrize("bad", ["ftp://gw", "http://", "http://gw:9091/?x=1"])
def test_bad_gateway_urls(bad: str) -> None:
    with pytest.raises(ConfigError, match="gateway URL"):
        split_gateway_url(bad)


def test_bad_gateway_url_message_hides_the_password() -> None:
    with pytest.raises(ConfigError) as info:
        split_gateway_url("ftp://u:hunter2@gw")
    assert "hunter2" not in str(info.value)
