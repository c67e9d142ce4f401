"""HTTP hardening on a live in-process gateway: limits, slow clients, no echo.

Raw sockets, because the point is what a misbehaving client can do.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pushgate.server import hardening
from pushgate.server.hardening import HttpLimits
from tests.security_fixtures import LiveGateway, sha256_hex, web_config

pytestmark = pytest.mark.integration

SECRET = "pgt_this-must-never-be-echoed"


def exchange(port: int, raw: bytes, timeout: float = 5.0) -> bytes:
    """Send ``raw``, then read until the server closes or goes quiet."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(raw)
        chunks = []
        try:
            while chunk := s.recv(65536):
                chunks.append(chunk)
        except TimeoutError:
            pass
        return b"".join(chunks)


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[LiveGateway]:
    config = web_config(
        tmp_path / "web.yml",
        {
            "pushgate_authorization": {
                "tokens": [{"name": "ci", "sha256": sha256_hex(SECRET), "actions": ["push"]}]
            }
        },
    )
    with LiveGateway(config, limits=HttpLimits(keepalive_timeout=1.0)) as gw:
        yield gw


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        # A control character in the credential.
        (
            f"PUT /metrics/job/a HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {SECRET}\x01\r\n\r\n",
            400,
        ),
        # A header line longer than the limit.
        (
            f"GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {SECRET}{'A' * 9000}\r\n\r\n",
            431,
        ),
        # A request line longer than the limit, the secret in the query.
        (f"GET /metrics?t={SECRET}{'A' * 20000} HTTP/1.1\r\nHost: x\r\n\r\n", 431),
        # Garbage in the path.
        (f"GET /\x00{SECRET} HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        # Too many headers.
        ("GET / HTTP/1.1\r\n" + "".join(f"X-{i}: {SECRET}\r\n" for i in range(150)) + "\r\n", 400),
    ],
    ids=["control-char", "long-header", "long-request-line", "nul-in-path", "too-many-headers"],
)
def test_malformed_requests_are_refused_without_echo_or_log(
    gateway: LiveGateway, raw: str, status: int, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        answer = exchange(gateway.port, raw.encode("latin-1"))
    assert status_of(answer) == status
    assert SECRET.encode() not in answer
    logged = "\n".join(r.getMessage() + str(r.exc_info or "") for r in caplog.records)
    assert SECRET not in logged
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_a_client_that_never_finishes_its_headers_is_disconnected(gateway: LiveGateway) -> None:
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as s:
        s.sendall(b"PUT /metrics/job/a HTTP/1.1\r\nHost: x\r\n")
        closed = False
        while time.monotonic() - started < 8:
            try:
                s.sendall(b"X-Slow: 1\r\n")  # a slowloris: one header now and then
            except OSError:
                closed = True
                break
            s.settimeout(0.3)
            try:
                if s.recv(1024) == b"":
                    closed = True
                    break
            except TimeoutError:
                pass
    assert closed
    assert time.monotonic() - started < 5


def test_an_idle_connection_is_closed(gateway: LiveGateway) -> None:
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as s:
        started = time.monotonic()
        assert s.recv(1024) == b""
        assert time.monotonic() - started < 5


def test_a_slow_body_gets_408_and_nothing_is_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hardening, "BODY_TIMEOUT_SECONDS", 0.5)
    with LiveGateway(None) as gw:
        started = time.monotonic()
        answer = exchange(
            gw.port,
            b"PUT /metrics/job/slow HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nx 1\n",
        )
        assert status_of(answer) == 408
        assert time.monotonic() - started < 4
        assert gw.groups() == {}


def test_bodies_over_the_limit_and_broken_chunking_are_4xx(tmp_path: Path) -> None:
    with LiveGateway(None, max_body_bytes=1024) as gw:
        big = b"x 1\n" * 1000
        answer = exchange(
            gw.port,
            b"PUT /metrics/job/big HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(big)
            + big,
        )
        assert status_of(answer) == 413
        answer = exchange(
            gw.port,
            b"PUT /metrics/job/chunky HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"zz\r\nx 1\n\r\n0\r\n\r\n",
        )
        assert 400 <= status_of(answer) < 500
        assert gw.groups() == {}
