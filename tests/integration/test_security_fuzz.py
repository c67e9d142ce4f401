"""Property test: whatever a client without the right credential sends, no 5xx, no change.

Hypothesis builds raw HTTP requests (methods, paths, headers, credentials,
bodies, and plain garbage) and sends them over loopback to the real app
(router, access control, handlers, aiohttp's parser behind the hardened
runner). For every request:

* the answer, if any, is not a 5xx;
* the credential that was sent is not echoed back;
* the store is exactly what it was (every group, every timestamp).

The second property gives the client a valid token limited to
``job="fuzz"``: anything may happen to those groups, nothing to the others.
"""

from __future__ import annotations

import base64
import gzip
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pushgate.server import hardening
from pushgate.server.hardening import HttpLimits
from tests.security_fixtures import (
    AUDIENCE,
    GITHUB_ISSUER,
    LiveGateway,
    OidcIssuer,
    basic,
    bcrypt_hash,
    sha256_hex,
    web_config,
)
from tests.unit.server.test_auth_oidc import forged_tokens

pytestmark = pytest.mark.integration

OPS = "pgt_fuzz-setup-ops-token"
FUZZ = "pgt_fuzz-scoped-token"
PASSWORD = "fuzz-password"
BODY = b"# TYPE fuzz_metric gauge\nfuzz_metric 1\n"

ISSUER = OidcIssuer()
FORGED = list(forged_tokens(ISSUER).values())


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveGateway]:
    directory: Path = tmp_path_factory.mktemp("fuzz")
    ISSUER.write_jwks(directory / "jwks.json")
    config = web_config(
        directory / "web.yml",
        {
            "basic_auth_users": {"alice": bcrypt_hash(PASSWORD)},
            "pushgate_authorization": {
                "read_requires_auth": False,
                "tokens": [
                    {
                        "name": "ops",
                        "sha256": sha256_hex(OPS),
                        "grants": [{"actions": ["push", "delete", "read", "admin"]}],
                    },
                    {
                        "name": "fuzz",
                        "sha256": sha256_hex(FUZZ),
                        "actions": ["push", "delete"],
                        "match": 'job="fuzz"',
                    },
                ],
                "oidc": {
                    "issuer": GITHUB_ISSUER,
                    "audience": AUDIENCE,
                    "jwks_file": "jwks.json",
                    "rules": [
                        {
                            "claims": 'repository_owner="acme"',
                            "actions": ["push"],
                            "match": 'job="{repository_name}"',
                        }
                    ],
                },
            },
        },
    )
    saved = hardening.BODY_TIMEOUT_SECONDS
    hardening.BODY_TIMEOUT_SECONDS = 2.0
    limits = HttpLimits(keepalive_timeout=3.0, lingering_time=0.5)
    with LiveGateway(config, limits=limits, enable_lifecycle=True) as gw:
        for path in (
            "/metrics/job/foo/instance/1.0-abc1234/branch/main",
            "/metrics/job/beast-mailbox-core/branch@base64/ZmVhdHVyZS94",
            "/metrics/job/other",
        ):
            r = requests.put(gw.url + path, data=BODY, headers={"Authorization": f"Bearer {OPS}"})
            assert r.status_code == 200
        yield gw
    hardening.BODY_TIMEOUT_SECONDS = saved


# --- strategies -------------------------------------------------------------------

SAFE_PATH_CHARS = st.characters(min_codepoint=0x21, max_codepoint=0x7E, blacklist_characters="?#")
segment = st.one_of(
    st.text(SAFE_PATH_CHARS, max_size=20),
    st.binary(max_size=12).map(lambda b: "".join(f"%{x:02X}" for x in b)),
    st.binary(max_size=12).map(lambda b: base64.urlsafe_b64encode(b).decode().rstrip("=")),
    st.sampled_from(["", ".", "..", "@base64", "=", "job", "foo", "fuzz", "other"]),
)
label_pairs = st.lists(st.tuples(segment, segment), max_size=4).map(
    lambda pairs: "".join(f"/{n}/{v}" for n, v in pairs)
)
paths = st.one_of(
    st.builds(lambda j, rest: f"/metrics/job/{j}{rest}", segment, label_pairs),
    st.builds(lambda j, rest: f"/metrics/job@base64/{j}{rest}", segment, label_pairs),
    st.sampled_from(
        [
            "/api/v1/admin/wipe",
            "/-/quit",
            "/metrics",
            "/api/v1/metrics",
            "/api/v1/status",
            "/-/healthy",
            "/-/ready",
            "/",
            "//metrics/job/foo",
            "/metrics/job/foo/../other",
            "/metrics/job/",
        ]
    ),
    st.text(SAFE_PATH_CHARS, max_size=40).map(lambda t: "/" + t),
).flatmap(
    lambda p: st.one_of(st.just(p), st.text(SAFE_PATH_CHARS, max_size=10).map(lambda q: f"{p}?{q}"))
)
methods = st.one_of(
    st.sampled_from(["GET", "PUT", "POST", "DELETE", "OPTIONS", "HEAD", "PATCH"]),
    st.text(st.characters(min_codepoint=0x41, max_codepoint=0x5A), min_size=1, max_size=8),
)
# Header values: any byte but CR/LF (those would re-frame the request).
header_value = st.binary(max_size=60).map(
    lambda b: b.replace(b"\r", b"").replace(b"\n", b"").decode("latin-1")
)
wrong_credentials = st.one_of(
    st.none(),
    st.binary(max_size=40).map(lambda b: "Basic " + base64.b64encode(b).decode()),
    st.tuples(st.sampled_from(["alice", "mallory", ""]), st.text(max_size=80)).map(
        lambda up: basic(up[0], up[1]) if up[1] != PASSWORD else basic(up[0], up[1] + "x")
    ),
    st.sampled_from(FORGED).map(lambda t: "Bearer " + t),
    st.text(max_size=20).map(lambda s: f"Bearer {OPS}{s}" if s else "Bearer pgt_nope"),
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60).map(
        lambda s: "Bearer " + s if OPS not in s and FUZZ not in s else "Bearer x"
    ),
    header_value.filter(lambda v: OPS not in v and FUZZ not in v and PASSWORD not in v),
)
FRAMING = {"content-length", "transfer-encoding", "connection", "expect", "upgrade", "host"}
extra_headers = st.lists(
    st.tuples(
        st.one_of(
            st.sampled_from(
                ["Accept", "Accept-Encoding", "Content-Type", "Content-Encoding", "Origin"]
            ),
            st.text(
                st.characters(min_codepoint=0x21, max_codepoint=0x7E, blacklist_characters=":"),
                min_size=1,
                max_size=15,
            ),
        ).filter(lambda n: n.lower() not in FRAMING and n.lower() != "authorization"),
        st.one_of(
            header_value,
            st.sampled_from(
                [
                    "gzip",
                    "gzip;q=abc",
                    "gzip;q=",
                    "*/*;q=x",
                    "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited",
                    "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=text;q=0.5",
                    "text/plain; version=0.0.4",
                ]
            ),
        ),
    ),
    max_size=5,
)
bodies = st.one_of(
    st.binary(max_size=600),
    st.just(BODY),
    st.binary(max_size=200).map(gzip.compress),
    st.just(b"\x1f\x8b\x08\x00garbage"),
)


def raw_request(method: str, path: str, headers: list[tuple[str, str]], body: bytes) -> bytes:
    """The request as bytes: header text as UTF-8 (latin-1 text stays one byte a char)."""
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers)
    head += f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    return head.encode("utf-8") + body


def send(port: int, raw: bytes, *, half_close: bool = False) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        try:
            s.sendall(raw)
            if half_close:
                s.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the server may refuse and close before reading everything
        chunks = []
        try:
            while chunk := s.recv(65536):
                chunks.append(chunk)
        except (ConnectionResetError, TimeoutError):
            pass
        return b"".join(chunks)


def status_of(answer: bytes) -> int | None:
    if not answer:
        return None
    line = answer.split(b"\r\n", 1)[0].split(b" ")
    assert line[0].startswith(b"HTTP/1."), answer[:200]
    return int(line[1])


FUZZ_SETTINGS: dict[str, Any] = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
}


@settings(max_examples=400, **FUZZ_SETTINGS)
@given(
    method=methods,
    path=paths,
    credential=wrong_credentials,
    headers=extra_headers,
    body=bodies,
)
def test_without_the_right_credential_nothing_changes_and_nothing_fails(
    gateway: LiveGateway,
    method: str,
    path: str,
    credential: str | None,
    headers: list[tuple[str, str]],
    body: bytes,
) -> None:
    before = gateway.groups()
    sent = list(headers) + ([("Authorization", credential)] if credential is not None else [])
    answer = send(gateway.port, raw_request(method, path, sent, body))
    status = status_of(answer)
    assert status is None or status < 500, answer[:300]
    if credential is not None and len(credential) > 16:
        assert credential.encode("utf-8") not in answer
    assert gateway.groups() == before


tricky_values = st.one_of(
    header_value,
    st.builds(
        lambda coding, q: f"{coding};q={q}",
        st.sampled_from(["gzip", "GZIP", "*", "identity", "text/plain", "*/*"]),
        st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=6),
    ),
    st.lists(
        st.sampled_from(
            [
                "application/vnd.google.protobuf",
                "proto=io.prometheus.client.MetricFamily",
                "encoding=delimited",
                "encoding=text",
                "encoding=compact-text",
                "q=0",
                "q=abc",
                "version=0.0.4",
                "text/plain",
                "application/openmetrics-text",
                "",
            ]
        ),
        max_size=5,
    ).map(";".join),
)


@settings(max_examples=300, **FUZZ_SETTINGS)
@given(
    method=st.sampled_from(["GET", "HEAD", "OPTIONS"]),
    path=st.sampled_from(
        ["/metrics", "/api/v1/metrics", "/api/v1/status", "/", "/status", "/-/healthy"]
    ),
    accept=tricky_values,
    accept_encoding=tricky_values,
)
def test_reads_open_to_anyone_never_fail(
    gateway: LiveGateway, method: str, path: str, accept: str, accept_encoding: str
) -> None:
    # No credential: anonymous reads are what anyone on the network can send
    # (a wrong credential is refused before any handler, see above).
    headers = [("Accept", accept), ("Accept-Encoding", accept_encoding)]
    answer = send(gateway.port, raw_request(method, path, headers, b""))
    status = status_of(answer)
    assert status is None or status < 500, answer[:300]


@settings(max_examples=150, **FUZZ_SETTINGS)
@given(
    raw=st.binary(max_size=400), prefix=st.sampled_from([b"", b"PUT /metrics/job/foo HTTP/1.1\r\n"])
)
def test_garbage_bytes_get_4xx_or_nothing(gateway: LiveGateway, raw: bytes, prefix: bytes) -> None:
    before = gateway.groups()
    answer = send(gateway.port, prefix + raw, half_close=True)
    status = status_of(answer)
    assert status is None or status < 500, answer[:300]
    assert gateway.groups() == before


@settings(max_examples=200, **FUZZ_SETTINGS)
@given(method=methods, path=paths, headers=extra_headers, body=bodies)
def test_a_scoped_token_changes_nothing_outside_its_scope(
    gateway: LiveGateway,
    method: str,
    path: str,
    headers: list[tuple[str, str]],
    body: bytes,
) -> None:
    before = {k: g for k, g in gateway.groups().items() if dict(k).get("job") != "fuzz"}
    sent = [*headers, ("Authorization", f"Bearer {FUZZ}")]
    answer = send(gateway.port, raw_request(method, path, sent, body))
    status = status_of(answer)
    assert status is None or status < 500, answer[:300]
    assert FUZZ.encode() not in answer
    after = {k: g for k, g in gateway.groups().items() if dict(k).get("job") != "fuzz"}
    assert after == before
