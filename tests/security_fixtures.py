"""Test material for the security tests, all made locally: no network, no fixtures on disk.

* :func:`make_pki`: a CA, a server certificate for localhost/127.0.0.1, a
  client certificate signed by it, and a client certificate of a second,
  untrusted CA.
* :class:`OidcIssuer`: an RSA key, its JWKS (written to a file), and
  GitHub-Actions-shaped tokens signed with it (or with another key).
* :func:`web_config`: a web config file from a mapping.
* :class:`LiveGateway`: the real app (``build_app``, ``HardenedAppRunner``,
  ``AccessControl``) on a loopback port, its event loop in a thread, so that
  synchronous tests and Hypothesis can talk to it with plain sockets.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import hashlib
import ipaddress
import json
import threading
import time
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import bcrypt
import jwt
import yaml
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from pushgate.core.model import GroupingKey
from pushgate.server.app import build_app
from pushgate.server.auth import AccessControl
from pushgate.server.gateway import Gateway
from pushgate.server.hardening import HardenedAppRunner, HttpLimits
from pushgate.server.selfmetrics import OWN_TYPES
from pushgate.server.settings import Settings
from pushgate.store import open_store
from pushgate.store.contract import Group

T = TypeVar("T")

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
AUDIENCE = "pushgate"


# --- PKI ---------------------------------------------------------------------


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _ca(cn: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(_name(cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_now() - datetime.timedelta(minutes=5))
        .not_valid_after(_now() + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _leaf(
    ca_key: ec.EllipticCurvePrivateKey,
    ca_cert: x509.Certificate,
    cn: str,
    *,
    server: bool,
    sans: list[x509.GeneralName],
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_now() - datetime.timedelta(minutes=5))
        .not_valid_after(_now() + datetime.timedelta(days=1))
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return key, builder.sign(ca_key, hashes.SHA256())


def _write_pair(
    directory: Path, stem: str, key: ec.EllipticCurvePrivateKey, cert: x509.Certificate
) -> tuple[Path, Path]:
    cert_path, key_path = directory / f"{stem}.pem", directory / f"{stem}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@dataclass(frozen=True)
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    rogue_client_cert: Path
    rogue_client_key: Path
    second_server_cert: Path
    second_server_key: Path


def make_pki(directory: Path) -> Pki:
    """Certificates in ``directory`` (see the module docstring)."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca_cert = _ca("pushgate test CA")
    (directory / "ca.pem").write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    server_sans: list[x509.GeneralName] = [
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
    ]
    server = _write_pair(
        directory,
        "server",
        *_leaf(ca_key, ca_cert, "localhost", server=True, sans=server_sans),
    )
    second = _write_pair(
        directory,
        "server2",
        *_leaf(ca_key, ca_cert, "localhost-rotated", server=True, sans=server_sans),
    )
    client = _write_pair(
        directory,
        "client",
        *_leaf(
            ca_key,
            ca_cert,
            "ci-runner",
            server=False,
            sans=[x509.DNSName("ci-runner.example")],
        ),
    )
    rogue_key, rogue_cert = _ca("rogue CA")
    rogue = _write_pair(
        directory,
        "rogue-client",
        *_leaf(rogue_key, rogue_cert, "rogue", server=False, sans=[]),
    )
    return Pki(directory / "ca.pem", *server, *client, *rogue, *second)


# --- OIDC --------------------------------------------------------------------


@dataclass
class OidcIssuer:
    """An RSA signing key with its JWKS, minting GitHub-shaped tokens."""

    kid: str = "test-key-1"
    issuer: str = GITHUB_ISSUER
    key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )

    def jwks(self) -> dict[str, Any]:
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        public.update({"kid": self.kid, "use": "sig", "alg": "RS256"})
        return {"keys": [public]}

    def write_jwks(self, path: Path) -> Path:
        path.write_text(json.dumps(self.jwks()))
        return path

    def claims(
        self,
        repository: str = "acme/foo",
        ref: str = "refs/heads/main",
        *,
        audience: str = AUDIENCE,
        lifetime: float = 300,
        issued_ago: float = 5,
        **extra: Any,
    ) -> dict[str, Any]:
        now = int(time.time())
        owner = repository.split("/", 1)[0]
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": audience,
            "sub": f"repo:{repository}:ref:{ref}",
            "repository": repository,
            "repository_owner": owner,
            "ref": ref,
            "ref_type": "branch",
            "event_name": "push",
            "workflow": "CI",
            "iat": now - int(issued_ago),
            "nbf": now - int(issued_ago),
            "exp": now - int(issued_ago) + int(lifetime),
        }
        claims.update(extra)
        return {k: v for k, v in claims.items() if v is not None}

    def token(
        self,
        claims: Mapping[str, Any] | None = None,
        *,
        key: rsa.RSAPrivateKey | None = None,
        kid: str | None = "",
        algorithm: str = "RS256",
    ) -> str:
        headers = {"kid": self.kid if kid == "" else kid} if kid is not None else {}
        signing_key: Any = key if key is not None else self.key
        return jwt.encode(
            dict(claims if claims is not None else self.claims()),
            signing_key,
            algorithm=algorithm,
            headers=headers,
        )


# --- credentials and config ----------------------------------------------------


def sha256_hex(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def bcrypt_hash(password: str, prefix: str = "$2b$") -> str:
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(4)).decode()
    return prefix + hashed[4:]


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def web_config(path: Path, doc: Mapping[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(dict(doc), sort_keys=False))
    return path


def bump_mtime(path: Path) -> None:
    """Make a rewritten file look changed even on a coarse clock."""
    st = path.stat()
    later = st.st_mtime_ns + 2_000_000_000
    import os

    os.utime(path, ns=(later, later))


# --- a live in-process gateway ---------------------------------------------------


class LiveGateway:
    """The real app on 127.0.0.1 in a background event loop (see module docstring)."""

    def __init__(
        self,
        config: Path | None,
        *,
        limits: HttpLimits | None = None,
        enable_admin_api: bool = True,
        enable_lifecycle: bool = False,
        max_body_bytes: int = 1 << 20,
    ) -> None:
        self.settings = Settings(
            listen_addresses=("127.0.0.1:0",),
            enable_admin_api=enable_admin_api,
            enable_lifecycle=enable_lifecycle,
            web_config_file=str(config or ""),
            max_body_bytes=max_body_bytes,
        )
        self._limits = limits
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self.port = 0
        self.tls = False
        self.gw: Gateway | None = None
        self._runner: web.AppRunner | None = None

    def __enter__(self) -> LiveGateway:
        self._thread.start()
        self.run(self._start())
        return self

    def __exit__(self, *exc: object) -> None:
        self.run(self._stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    async def _start(self) -> None:
        path = self.settings.web_config_file
        access = AccessControl.from_file(path) if path else AccessControl()
        tls = access.tls_context()
        self.tls = tls is not None
        store = open_store(None, own_types=OWN_TYPES)
        await store.start()
        self.gw = Gateway(self.settings, store, access=access)
        self._runner = HardenedAppRunner(
            build_app(self.gw),
            limits=self._limits,
            access_log=None,
            handle_signals=False,
            shutdown_timeout=1,
            auto_decompress=False,
        )
        await self._runner.setup()
        site = web.TCPSite(
            self._runner, "127.0.0.1", 0, ssl_context=tls.context if tls is not None else None
        )
        await site.start()
        self.port = site.port

    async def _stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self.gw is not None:
            await self.gw.store.close()

    def groups(self) -> dict[GroupingKey, Group]:
        """A snapshot of the store, read on its own loop."""

        async def snapshot() -> dict[GroupingKey, Group]:
            assert self.gw is not None
            return {g.key: g for g in self.gw.store.groups()}

        return self.run(snapshot())
