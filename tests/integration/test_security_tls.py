"""TLS and the official web config file against real ``pushgate serve`` processes.

Certificates come from a CA made for the test (tests/security_fixtures.py);
every request opens a new connection, so each one is a new handshake.
"""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import GatewayFactory, GatewayProcess
from tests.security_fixtures import (
    Pki,
    basic,
    bcrypt_hash,
    bump_mtime,
    make_pki,
    web_config,
)

pytestmark = pytest.mark.integration

PASSWORD = "s3cret-password"
BODY = b"# TYPE ci_tests_total counter\nci_tests_total 42\n"


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return make_pki(tmp_path / "pki")


def start_tls(factory: GatewayFactory, config: Path, pki: Pki) -> GatewayProcess:
    """Start pushgate with ``config`` and wait until it listens.

    The factory's own readiness check speaks plain HTTP, so the process is
    started here (the factory still stops it at the end of the test).
    """
    gw = factory(f"--web.config.file={config}", "--web.enable-admin-api", wait=False)
    log = gw.log_path.open("ab")
    gw.proc = subprocess.Popen(
        gw.argv, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **gw.env}, cwd=gw.workdir
    )
    log.close()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if gw.proc.poll() is not None:
            raise RuntimeError(f"gateway exited: {gw.log_tail()}")
        try:
            with socket.create_connection(("127.0.0.1", gw.port), timeout=1):
                return gw
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"gateway not listening: {gw.log_tail()}")


def https(gw: GatewayProcess) -> str:
    return f"https://127.0.0.1:{gw.port}"


def peer_common_name(gw: GatewayProcess, ca: Path) -> str:
    ctx = ssl.create_default_context(cafile=str(ca))
    with (
        socket.create_connection(("127.0.0.1", gw.port), timeout=5) as raw,
        ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        cert = tls.getpeercert()
    assert cert is not None
    subject: Any = cert["subject"]  # ((("commonName", "localhost"),), ...)
    for rdn in subject:
        for key, value in rdn:
            if key == "commonName":
                return str(value)
    raise AssertionError("no commonName")


def test_tls_serves_https_only(pushgate_factory: GatewayFactory, pki: Pki, tmp_path: Path) -> None:
    config = web_config(
        tmp_path / "web.yml",
        {"tls_server_config": {"cert_file": str(pki.server_cert), "key_file": str(pki.server_key)}},
    )
    gw = start_tls(pushgate_factory, config, pki)
    r = requests.put(f"{https(gw)}/metrics/job/tls", data=BODY, verify=str(pki.ca), timeout=5)
    assert r.status_code == 200
    r = requests.get(f"{https(gw)}/api/v1/metrics", verify=str(pki.ca), timeout=5)
    assert r.json()["data"][0]["labels"] == {"job": "tls"}
    # Untrusted by a client that does not know the CA; no plain HTTP on the port.
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"{https(gw)}/-/healthy", timeout=5)
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(f"http://127.0.0.1:{gw.port}/-/healthy", timeout=5)


def test_client_certificates_are_required_and_verified(
    pushgate_factory: GatewayFactory, pki: Pki, tmp_path: Path
) -> None:
    config = web_config(
        tmp_path / "web.yml",
        {
            "tls_server_config": {
                # Relative to the file's directory, as the toolkit resolves them.
                "cert_file": "pki/server.pem",
                "key_file": "pki/server.key",
                "client_auth_type": "RequireAndVerifyClientCert",
                "client_ca_file": "pki/ca.pem",
            }
        },
    )
    gw = start_tls(pushgate_factory, config, pki)
    ok = requests.put(
        f"{https(gw)}/metrics/job/mtls",
        data=BODY,
        verify=str(pki.ca),
        cert=(str(pki.client_cert), str(pki.client_key)),
        timeout=5,
    )
    assert ok.status_code == 200
    for cert in [None, (str(pki.rogue_client_cert), str(pki.rogue_client_key))]:
        with pytest.raises((requests.exceptions.SSLError, requests.exceptions.ConnectionError)):
            requests.put(
                f"{https(gw)}/metrics/job/mtls",
                data=b"ci_tests_total 0\n",
                verify=str(pki.ca),
                cert=cert,
                timeout=5,
            )
    state = requests.get(
        f"{https(gw)}/api/v1/metrics",
        verify=str(pki.ca),
        cert=(str(pki.client_cert), str(pki.client_key)),
        timeout=5,
    ).json()["data"]
    assert [g["ci_tests_total"]["metrics"][0]["value"] for g in state] == ["42"]


def test_client_allowed_sans(pushgate_factory: GatewayFactory, pki: Pki, tmp_path: Path) -> None:
    base = {
        "cert_file": str(pki.server_cert),
        "key_file": str(pki.server_key),
        "client_auth_type": "RequireAndVerifyClientCert",
        "client_ca_file": str(pki.ca),
    }
    config = web_config(
        tmp_path / "web.yml",
        {"tls_server_config": {**base, "client_allowed_sans": ["other-runner.example"]}},
    )
    gw = start_tls(pushgate_factory, config, pki)
    cert = (str(pki.client_cert), str(pki.client_key))
    r = requests.get(f"{https(gw)}/-/healthy", verify=str(pki.ca), cert=cert, timeout=5)
    assert r.status_code == 403
    web_config(
        config, {"tls_server_config": {**base, "client_allowed_sans": ["ci-runner.example"]}}
    )
    bump_mtime(config)
    r = requests.get(f"{https(gw)}/-/healthy", verify=str(pki.ca), cert=cert, timeout=5)
    assert r.status_code == 200


def test_min_version_is_enforced(
    pushgate_factory: GatewayFactory, pki: Pki, tmp_path: Path
) -> None:
    config = web_config(
        tmp_path / "web.yml",
        {
            "tls_server_config": {
                "cert_file": str(pki.server_cert),
                "key_file": str(pki.server_key),
                "min_version": "TLS13",
            }
        },
    )
    gw = start_tls(pushgate_factory, config, pki)
    tls12 = ssl.create_default_context(cafile=str(pki.ca))
    tls12.maximum_version = ssl.TLSVersion.TLSv1_2
    with (
        pytest.raises(ssl.SSLError),
        socket.create_connection(("127.0.0.1", gw.port), timeout=5) as raw,
        tls12.wrap_socket(raw, server_hostname="127.0.0.1"),
    ):
        pass
    tls13 = ssl.create_default_context(cafile=str(pki.ca))
    with (
        socket.create_connection(("127.0.0.1", gw.port), timeout=5) as raw,
        tls13.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        assert tls.version() == "TLSv1.3"


def test_official_basic_auth_file_and_hot_reload(
    pushgate_factory: GatewayFactory, pki: Pki, tmp_path: Path
) -> None:
    doc: dict[str, Any] = {
        "tls_server_config": {"cert_file": str(pki.server_cert), "key_file": str(pki.server_key)},
        "http_server_config": {"headers": {"X-Frame-Options": "deny"}},
        "basic_auth_users": {"alice": bcrypt_hash(PASSWORD, "$2y$")},
    }
    config = web_config(tmp_path / "web.yml", doc)
    gw = start_tls(pushgate_factory, config, pki)
    url, ca = https(gw), str(pki.ca)
    alice = {"Authorization": basic("alice", PASSWORD)}
    assert (
        requests.put(f"{url}/metrics/job/a", data=BODY, headers=alice, verify=ca).status_code == 200
    )

    # Every endpoint, health included, answers as the official gateway does.
    for method, path in [("GET", "/-/healthy"), ("GET", "/metrics"), ("PUT", "/metrics/job/a")]:
        for headers in [{}, {"Authorization": basic("alice", "nope")}]:
            r = requests.request(method, url + path, data=b"x 1\n", headers=headers, verify=ca)
            assert r.status_code == 401
            assert r.text == "Unauthorized\n"
            assert r.headers["Www-Authenticate"] == "Basic"
            assert r.headers["X-Frame-Options"] == "deny"
    stored = requests.get(f"{url}/api/v1/metrics", headers=alice, verify=ca).json()["data"]
    assert [g["labels"] for g in stored] == [{"job": "a"}]

    # Rotate the certificate and replace the user, without a restart.
    assert peer_common_name(gw, pki.ca) == "localhost"
    doc["tls_server_config"] = {
        "cert_file": str(pki.second_server_cert),
        "key_file": str(pki.second_server_key),
    }
    doc["basic_auth_users"] = {"bob": bcrypt_hash(PASSWORD)}
    web_config(config, doc)
    bump_mtime(config)
    assert peer_common_name(gw, pki.ca) == "localhost-rotated"
    assert requests.get(f"{url}/-/healthy", headers=alice, verify=ca).status_code == 401
    bob = {"Authorization": basic("bob", PASSWORD)}
    assert requests.get(f"{url}/-/healthy", headers=bob, verify=ca).status_code == 200

    # A broken file fails closed: with TLS the handshake itself fails, as the
    # toolkit's GetConfigForClient does (without TLS it is a 500: test_auth.py).
    config.write_text("basic_auth_users: [broken")
    bump_mtime(config)
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"{url}/-/healthy", headers=bob, verify=ca)
    web_config(config, doc)
    bump_mtime(config)
    assert requests.get(f"{url}/-/healthy", headers=bob, verify=ca).status_code == 200
    assert PASSWORD not in gw.log_tail(100_000)


def test_a_bad_web_config_stops_the_start(pushgate_factory: GatewayFactory, tmp_path: Path) -> None:
    config = web_config(tmp_path / "web.yml", {"basic_auth_users": {"alice": "plaintext"}})
    gw = pushgate_factory(f"--web.config.file={config}", wait=False)
    done = subprocess.run(
        gw.argv, capture_output=True, text=True, timeout=30, env={**os.environ}, cwd=gw.workdir
    )
    assert done.returncode == 2
    assert "basic_auth_users.alice: not a bcrypt hash" in done.stderr
    assert "plaintext" not in done.stderr
