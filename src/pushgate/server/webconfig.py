"""The ``--web.config.file``: the exporter-toolkit format plus pushgate's access control.

The official sections are read with the official rules (spec 7.5):

``tls_server_config``
    ``cert_file``, ``key_file`` (relative paths are relative to the file's
    directory), ``client_auth_type``, ``client_ca_file``, ``min_version``
    and ``max_version`` (``TLS10``..``TLS13``, default TLS12..TLS13),
    ``cipher_suites`` (Go's names), ``curve_preferences``,
    ``prefer_server_cipher_suites``, ``client_allowed_sans``.
``http_server_config``
    ``http2`` (accepted; pushgate speaks HTTP/1.1) and ``headers`` (only the
    five security headers the toolkit allows, with its allowed values).
``basic_auth_users``
    ``user: bcrypt-hash`` (``$2a$``, ``$2b$`` or ``$2y$``).
``rate_limit``
    ``burst`` and ``interval``, as in newer toolkits (429 when exceeded).

Unknown keys are errors, as the toolkit's strict YAML decoding makes them.
pushgate adds one section, ``pushgate_authorization`` (scoped tokens, GitHub
Actions OIDC, whether reads need a credential, the audit log); see
``docs/security.md`` for the format and an example.

:class:`WebConfigSource` re-reads the file when it or a file it names
changes (size, inode or modification time), checked on every request and
TLS handshake, so that credentials can be rotated without a restart.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml

from pushgate.core.duration import parse_duration
from pushgate.core.errors import ConfigError
from pushgate.core.selector import EVERYTHING, Selector
from pushgate.server.grants import (
    Grant,
    GrantTemplate,
    check_scoping,
    parse_actions,
    parse_match,
)

log = logging.getLogger("pushgate.server")

TlsVersion = Literal["TLS10", "TLS11", "TLS12", "TLS13"]
TLS_VERSIONS: tuple[TlsVersion, ...] = ("TLS10", "TLS11", "TLS12", "TLS13")

ClientAuthType = Literal["NoClientCert", "VerifyClientCertIfGiven", "RequireAndVerifyClientCert"]

#: The toolkit's modes that accept a certificate without verifying it. Python's
#: ``ssl`` always verifies a certificate it asks for, so they are refused.
_UNVERIFIED_CLIENT_AUTH = ("RequestClientCert", "RequireAnyClientCert", "RequireClientCert")

#: Headers ``http_server_config.headers`` may set, and their allowed values
#: (``None``: any value), exactly as exporter-toolkit allows them.
ALLOWED_HEADERS: Mapping[str, tuple[str, ...] | None] = {
    "Strict-Transport-Security": None,
    "X-Content-Type-Options": ("nosniff",),
    "X-Frame-Options": ("deny", "sameorigin"),
    "X-XSS-Protection": None,
    "Content-Security-Policy": None,
}

#: Go's names of the TLS 1.0-1.2 suites it implements -> OpenSSL's names.
GO_CIPHER_SUITES: Mapping[str, str] = {
    "TLS_RSA_WITH_RC4_128_SHA": "RC4-SHA",
    "TLS_RSA_WITH_3DES_EDE_CBC_SHA": "DES-CBC3-SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA": "AES128-SHA",
    "TLS_RSA_WITH_AES_256_CBC_SHA": "AES256-SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA256": "AES128-SHA256",
    "TLS_RSA_WITH_AES_128_GCM_SHA256": "AES128-GCM-SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384": "AES256-GCM-SHA384",
    "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA": "ECDHE-ECDSA-RC4-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA": "ECDHE-ECDSA-AES128-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA": "ECDHE-ECDSA-AES256-SHA",
    "TLS_ECDHE_RSA_WITH_RC4_128_SHA": "ECDHE-RSA-RC4-SHA",
    "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA": "ECDHE-RSA-DES-CBC3-SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA": "ECDHE-RSA-AES128-SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA": "ECDHE-RSA-AES256-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256": "ECDHE-ECDSA-AES128-SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256": "ECDHE-RSA-AES128-SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": "ECDHE-RSA-AES128-GCM-SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": "ECDHE-ECDSA-AES128-GCM-SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": "ECDHE-RSA-AES256-GCM-SHA384",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": "ECDHE-ECDSA-AES256-GCM-SHA384",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-RSA-CHACHA20-POLY1305",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-ECDSA-CHACHA20-POLY1305",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305": "ECDHE-RSA-CHACHA20-POLY1305",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305": "ECDHE-ECDSA-CHACHA20-POLY1305",
}

#: TLS 1.3 suites Go lists but does not let a configuration choose; accepted
#: and ignored, as Go does.
GO_TLS13_SUITES = frozenset(
    {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"}
)

#: Go's curve names -> OpenSSL's.
GO_CURVES: Mapping[str, str] = {
    "CurveP256": "prime256v1",
    "CurveP384": "secp384r1",
    "CurveP521": "secp521r1",
    "X25519": "X25519",
}

#: JWT algorithms an OIDC provider may use. Never ``none`` or an HMAC: a
#: public JWKS must not double as a shared secret.
OIDC_ALGORITHMS = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
)

_BCRYPT = re.compile(r"^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$")
_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True, slots=True)
class TlsServerConfig:
    """``tls_server_config`` with paths resolved against the file's directory."""

    cert_file: Path
    key_file: Path
    client_auth_type: ClientAuthType = "NoClientCert"
    client_ca_file: Path | None = None
    min_version: TlsVersion = "TLS12"
    max_version: TlsVersion = "TLS13"
    cipher_suites: tuple[str, ...] = ()
    curve_preferences: tuple[str, ...] = ()
    prefer_server_cipher_suites: bool = True
    client_allowed_sans: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most ``burst`` requests at once, refilled one per ``interval`` seconds."""

    burst: int
    interval: float


@dataclass(frozen=True, slots=True)
class TokenConfig:
    """A static bearer token: only its SHA-256 is known to the gateway."""

    name: str
    sha256: bytes = field(repr=False)
    grants: tuple[Grant, ...]


@dataclass(frozen=True, slots=True)
class OidcRule:
    """When the token's claims match ``claims``, these grants (templated) apply."""

    claims: Selector
    grants: tuple[GrantTemplate, ...]


@dataclass(frozen=True, slots=True)
class OidcProvider:
    """An issuer of JWTs (GitHub Actions) and how its claims map to grants."""

    issuer: str
    audiences: tuple[str, ...]
    jwks_file: Path | None
    jwks_url: str | None
    rules: tuple[OidcRule, ...]
    algorithms: tuple[str, ...] = ("RS256",)
    leeway: float = 60.0
    jwks_refresh: float = 3600.0
    principal_claim: str = "sub"


@dataclass(frozen=True, slots=True)
class AuthorizationConfig:
    """``pushgate_authorization``: scoped credentials (see docs/security.md)."""

    tokens: tuple[TokenConfig, ...] = ()
    oidc: tuple[OidcProvider, ...] = ()
    read_requires_auth: bool | None = None
    audit_log: bool = True


@dataclass(frozen=True, slots=True)
class WebConfig:
    """The whole file, validated."""

    path: Path
    tls: TlsServerConfig | None = None
    http2: bool = True
    headers: Mapping[str, str] = field(default_factory=dict)
    basic_auth_users: Mapping[str, bytes] = field(default_factory=dict, repr=False)
    rate_limit: RateLimit | None = None
    authorization: AuthorizationConfig = field(default_factory=AuthorizationConfig)

    @property
    def auth_enabled(self) -> bool:
        """Whether any credential is configured (else everyone may do everything)."""
        auth = self.authorization
        return bool(self.basic_auth_users or auth.tokens or auth.oidc)

    @property
    def reads_require_auth(self) -> bool:
        """Whether reads and health need a credential.

        Default: yes when ``basic_auth_users`` is set (the official gateway
        protects every endpoint), no otherwise; ``read_requires_auth`` decides
        when given.
        """
        explicit = self.authorization.read_requires_auth
        if explicit is not None:
            return explicit and self.auth_enabled
        return bool(self.basic_auth_users)

    def watched_files(self) -> tuple[Path, ...]:
        """The file itself and every file it names (a change to any reloads)."""
        files = [self.path]
        if self.tls is not None:
            files += [self.tls.cert_file, self.tls.key_file]
            if self.tls.client_ca_file is not None:
                files.append(self.tls.client_ca_file)
        files += [p.jwks_file for p in self.authorization.oidc if p.jwks_file is not None]
        return tuple(files)


# --- reading the YAML ---------------------------------------------------------


def _mapping(value: object, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise ConfigError(f"{where} must be a mapping of names to values")
    return value


def _check_keys(section: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> None:
    unknown = sorted(set(section) - set(allowed))
    if unknown:
        raise ConfigError(
            f"{where}: unknown field {unknown[0]!r}; known fields: {', '.join(allowed)}"
        )


def _str(value: object, where: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise ConfigError(f"{where} must be a string")
    return str(value)


def _bool(value: object, where: str, default: bool) -> bool:
    if value is None:
        return default
    if not isinstance(value, bool):
        raise ConfigError(f"{where} must be true or false")
    return value


def _str_list(value: object, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where} must be a list of strings")
    return tuple(value)


def _duration(value: object, where: str, default: float, *, zero_ok: bool = False) -> float:
    if value is None:
        return default
    text = _str(value, where).strip()
    if zero_ok and text in ("0", "0s"):
        return 0.0
    try:
        return parse_duration(text)
    except ConfigError as e:
        raise ConfigError(f"{where}: {e}") from None


def _path(value: object, where: str, directory: Path) -> Path | None:
    text = _str(value, where)
    if not text:
        return None
    path = Path(text)
    return path if path.is_absolute() else directory / path


def _parse_tls(raw: object, directory: Path) -> TlsServerConfig | None:
    where = "tls_server_config"
    section = _mapping(raw, where)
    _check_keys(
        section,
        (
            "cert_file",
            "key_file",
            "cert",
            "key",
            "client_ca",
            "client_auth_type",
            "client_ca_file",
            "cipher_suites",
            "curve_preferences",
            "min_version",
            "max_version",
            "prefer_server_cipher_suites",
            "client_allowed_sans",
        ),
        where,
    )
    for inline in ("cert", "key", "client_ca"):
        if section.get(inline):
            raise ConfigError(
                f"{where}.{inline}: inline PEM is not supported by pushgate; put it in a file"
                f" and use {inline}_file"
            )
    cert = _path(section.get("cert_file"), f"{where}.cert_file", directory)
    key = _path(section.get("key_file"), f"{where}.key_file", directory)
    ca = _path(section.get("client_ca_file"), f"{where}.client_ca_file", directory)
    auth = _str(section.get("client_auth_type"), f"{where}.client_auth_type") or "NoClientCert"
    enabled = (
        cert is not None
        or key is not None
        or ca is not None
        or bool(section.get("client_auth_type"))
    )
    if not enabled:
        return None
    if cert is None:
        raise ConfigError(f"{where}: missing cert_file (the server certificate, PEM)")
    if key is None:
        raise ConfigError(f"{where}: missing key_file (the server's private key, PEM)")
    if auth in _UNVERIFIED_CLIENT_AUTH:
        raise ConfigError(
            f"{where}.client_auth_type: {auth} (a client certificate that is not verified)"
            " is not supported by pushgate; use VerifyClientCertIfGiven or"
            " RequireAndVerifyClientCert with client_ca_file"
        )
    if auth not in ("NoClientCert", "VerifyClientCertIfGiven", "RequireAndVerifyClientCert"):
        raise ConfigError(f"{where}.client_auth_type: invalid ClientAuth: {auth}")
    if ca is not None and auth == "NoClientCert":
        raise ConfigError(
            f"{where}: client CA's have been configured without a Client Auth Policy;"
            " set client_auth_type to RequireAndVerifyClientCert or VerifyClientCertIfGiven"
        )
    if ca is None and auth != "NoClientCert":
        raise ConfigError(f"{where}: client_auth_type {auth} needs client_ca_file")
    versions = {}
    for name, default in (("min_version", "TLS12"), ("max_version", "TLS13")):
        text = _str(section.get(name), f"{where}.{name}") or default
        if text not in TLS_VERSIONS:
            raise ConfigError(f"{where}.{name}: unknown TLS version: {text}")
        versions[name] = text
    if TLS_VERSIONS.index(versions["min_version"]) > TLS_VERSIONS.index(versions["max_version"]):
        raise ConfigError(f"{where}: min_version is higher than max_version")
    suites = _str_list(section.get("cipher_suites"), f"{where}.cipher_suites")
    for suite in suites:
        if suite not in GO_CIPHER_SUITES and suite not in GO_TLS13_SUITES:
            raise ConfigError(f"{where}.cipher_suites: unknown cipher: {suite}")
    curves = _str_list(section.get("curve_preferences"), f"{where}.curve_preferences")
    for curve in curves:
        if curve not in GO_CURVES:
            raise ConfigError(f"{where}.curve_preferences: unknown curve: {curve}")
    sans = _str_list(section.get("client_allowed_sans"), f"{where}.client_allowed_sans")
    if sans and auth != "RequireAndVerifyClientCert":
        raise ConfigError(
            f"{where}: client_allowed_sans requires client_auth_type RequireAndVerifyClientCert"
        )
    return TlsServerConfig(
        cert_file=cert,
        key_file=key,
        client_auth_type=auth,  # type: ignore[arg-type]
        client_ca_file=ca,
        min_version=versions["min_version"],
        max_version=versions["max_version"],
        cipher_suites=suites,
        curve_preferences=curves,
        prefer_server_cipher_suites=_bool(
            section.get("prefer_server_cipher_suites"),
            f"{where}.prefer_server_cipher_suites",
            True,
        ),
        client_allowed_sans=sans,
    )


def _parse_http(raw: object) -> tuple[bool, dict[str, str]]:
    where = "http_server_config"
    section = _mapping(raw, where)
    _check_keys(section, ("http2", "headers"), where)
    headers: dict[str, str] = {}
    for name, value in _mapping(section.get("headers"), f"{where}.headers").items():
        allowed = ALLOWED_HEADERS.get(name, ())
        if allowed == ():
            raise ConfigError(f"{where}.headers: HTTP header {name!r} can not be configured")
        text = _str(value, f"{where}.headers.{name}")
        if allowed is not None and text not in allowed:
            raise ConfigError(
                f"{where}.headers: invalid value for {name}. Expected one of:"
                f" {list(allowed)}, but got: {text!r}"
            )
        if "\n" in text or "\r" in text:
            raise ConfigError(f"{where}.headers.{name}: a header value cannot span lines")
        headers[name] = text
    return _bool(section.get("http2"), f"{where}.http2", True), headers


def _parse_users(raw: object) -> dict[str, bytes]:
    users: dict[str, bytes] = {}
    for name, value in _mapping(raw, "basic_auth_users").items():
        text = _str(value, f"basic_auth_users.{name}")
        found = _BCRYPT.match(text)
        if found is None or not 4 <= int(found[1]) <= 31:
            # The hash itself is never quoted: it is a secret too.
            raise ConfigError(
                f"basic_auth_users.{name}: not a bcrypt hash ($2a$, $2b$ or $2y$); make one"
                " with `pushgate hash-token --bcrypt` or `htpasswd -nBC 10 \"\" | tr -d ':\\n'`"
            )
        users[name] = text.encode("ascii")
    return users


def _parse_rate_limit(raw: object) -> RateLimit | None:
    where = "rate_limit"
    section = _mapping(raw, where)
    if not section:
        return None
    _check_keys(section, ("burst", "interval"), where)
    interval = _duration(section.get("interval"), f"{where}.interval", 0.0, zero_ok=True)
    if interval == 0:
        return None
    burst = section.get("burst", 0)
    if not isinstance(burst, int) or isinstance(burst, bool) or burst < 1:
        raise ConfigError(f"{where}.burst must be a whole number of requests, 1 or more")
    return RateLimit(burst=burst, interval=interval)


def _parse_grants(entry: Mapping[str, Any], where: str) -> list[tuple[Any, Selector, str]]:
    """``actions``/``match`` of ``entry``, or each of its ``grants``."""
    if "grants" in entry:
        if "actions" in entry or "match" in entry:
            raise ConfigError(f"{where}: give either grants or actions/match, not both")
        raw = entry["grants"]
        if not isinstance(raw, list) or not raw:
            raise ConfigError(f"{where}.grants must be a list of {{actions, match}}")
        out = []
        for i, item in enumerate(raw):
            sub = f"{where}.grants[{i}]"
            grant = _mapping(item, sub)
            _check_keys(grant, ("actions", "match"), sub)
            out.append((grant.get("actions"), parse_match(grant.get("match"), sub), sub))
        return out
    return [(entry.get("actions"), parse_match(entry.get("match"), where), where)]


def _parse_token(raw: object, index: int, seen: set[str]) -> TokenConfig:
    where = f"pushgate_authorization.tokens[{index}]"
    entry = _mapping(raw, where)
    _check_keys(entry, ("name", "sha256", "actions", "match", "grants"), where)
    name = _str(entry.get("name"), f"{where}.name")
    if not name:
        raise ConfigError(f"{where}: every token needs a name (it is what the audit log shows)")
    if name in seen:
        raise ConfigError(f"{where}: the token name {name!r} is used twice")
    seen.add(name)
    raw_digest = entry.get("sha256")
    # A string only: YAML would read an all-digit hash as a number and drop zeros.
    digest = raw_digest.lower() if isinstance(raw_digest, str) else ""
    if not _SHA256_HEX.match(digest):
        raise ConfigError(
            f"{where} ({name}): sha256 must be the 64 hex digits of the token's SHA-256;"
            " make a token and its hash with `pushgate hash-token`"
        )
    grants = []
    for actions_raw, selector, sub in _parse_grants(entry, where):
        actions = parse_actions(actions_raw, sub)
        check_scoping(actions, selector, sub)
        grants.append(Grant(actions, selector))
    return TokenConfig(name=name, sha256=bytes.fromhex(digest), grants=tuple(grants))


def _parse_rule(raw: object, where: str) -> OidcRule:
    entry = _mapping(raw, where)
    _check_keys(entry, ("claims", "actions", "match", "grants"), where)
    claims = parse_match(entry.get("claims"), f"{where}.claims")
    if claims is EVERYTHING or not claims.matchers:
        raise ConfigError(
            f"{where}: a rule needs claims to match, e.g. claims: 'repository_owner=\"acme\"';"
            " without them every token of the issuer would get its grants"
        )
    grants = tuple(
        GrantTemplate.parse(parse_actions(actions, sub), selector, sub)
        for actions, selector, sub in _parse_grants(entry, where)
    )
    return OidcRule(claims=claims, grants=grants)


def _parse_provider(raw: object, where: str, directory: Path) -> OidcProvider:
    entry = _mapping(raw, where)
    _check_keys(
        entry,
        (
            "issuer",
            "audience",
            "jwks_file",
            "jwks_url",
            "algorithms",
            "leeway",
            "jwks_refresh_interval",
            "principal_claim",
            "rules",
        ),
        where,
    )
    issuer = _str(entry.get("issuer"), f"{where}.issuer")
    if not issuer:
        raise ConfigError(
            f"{where}: issuer is required, e.g. https://token.actions.githubusercontent.com"
        )
    audiences = _str_list(entry.get("audience"), f"{where}.audience")
    if not audiences:
        raise ConfigError(
            f"{where}: audience is required (what `pushgate report --oidc-audience` asks for,"
            " default pushgate)"
        )
    jwks_file = _path(entry.get("jwks_file"), f"{where}.jwks_file", directory)
    jwks_url = _str(entry.get("jwks_url"), f"{where}.jwks_url") or None
    if (jwks_file is None) == (jwks_url is None):
        raise ConfigError(f"{where}: give exactly one of jwks_file and jwks_url")
    if jwks_url is not None and urlsplit(jwks_url).scheme not in ("https", "http"):
        raise ConfigError(f"{where}.jwks_url: {jwks_url!r} is not an http(s) URL")
    algorithms = _str_list(entry.get("algorithms"), f"{where}.algorithms") or ("RS256",)
    for alg in algorithms:
        if alg not in OIDC_ALGORITHMS:
            raise ConfigError(
                f"{where}.algorithms: {alg!r} is not allowed; use asymmetric algorithms"
                f" ({', '.join(OIDC_ALGORITHMS)})"
            )
    rules_raw = entry.get("rules")
    if not isinstance(rules_raw, list) or not rules_raw:
        raise ConfigError(f"{where}: rules is required: which claims get which grants")
    rules = tuple(_parse_rule(r, f"{where}.rules[{i}]") for i, r in enumerate(rules_raw))
    return OidcProvider(
        issuer=issuer,
        audiences=audiences,
        jwks_file=jwks_file,
        jwks_url=jwks_url,
        rules=rules,
        algorithms=algorithms,
        leeway=_duration(entry.get("leeway"), f"{where}.leeway", 60.0, zero_ok=True),
        jwks_refresh=_duration(
            entry.get("jwks_refresh_interval"), f"{where}.jwks_refresh_interval", 3600.0
        ),
        principal_claim=_str(entry.get("principal_claim"), f"{where}.principal_claim") or "sub",
    )


def _parse_authorization(raw: object, directory: Path) -> AuthorizationConfig:
    where = "pushgate_authorization"
    section = _mapping(raw, where)
    _check_keys(section, ("tokens", "oidc", "read_requires_auth", "audit_log"), where)
    tokens_raw = section.get("tokens") or []
    if not isinstance(tokens_raw, list):
        raise ConfigError(f"{where}.tokens must be a list")
    seen: set[str] = set()
    tokens = tuple(_parse_token(t, i, seen) for i, t in enumerate(tokens_raw))
    oidc_raw = section.get("oidc") or []
    providers_raw = [oidc_raw] if isinstance(oidc_raw, dict) else oidc_raw
    if not isinstance(providers_raw, list):
        raise ConfigError(f"{where}.oidc must be a provider or a list of providers")
    providers = tuple(
        _parse_provider(p, f"{where}.oidc[{i}]", directory) for i, p in enumerate(providers_raw)
    )
    read = section.get("read_requires_auth")
    return AuthorizationConfig(
        tokens=tokens,
        oidc=providers,
        read_requires_auth=None
        if read is None
        else _bool(read, f"{where}.read_requires_auth", False),
        audit_log=_bool(section.get("audit_log"), f"{where}.audit_log", True),
    )


def parse_web_config(text: str, path: Path) -> WebConfig:
    """The validated configuration in ``text`` (read from ``path``)."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from None
    try:
        doc = _mapping(raw, "the web config file")
        _check_keys(
            doc,
            (
                "tls_server_config",
                "http_server_config",
                "basic_auth_users",
                "rate_limit",
                "pushgate_authorization",
            ),
            "the web config file",
        )
        directory = path.parent
        http2, headers = _parse_http(doc.get("http_server_config"))
        return WebConfig(
            path=path,
            tls=_parse_tls(doc.get("tls_server_config"), directory),
            http2=http2,
            headers=headers,
            basic_auth_users=_parse_users(doc.get("basic_auth_users")),
            rate_limit=_parse_rate_limit(doc.get("rate_limit")),
            authorization=_parse_authorization(doc.get("pushgate_authorization"), directory),
        )
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None


def load_web_config(path: str | Path) -> WebConfig:
    """Read and validate the file at ``path``; raises :class:`ConfigError`."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"--web.config.file: cannot read {file}: {e}") from None
    return parse_web_config(text, file)


# --- hot reload ----------------------------------------------------------------

Signature = tuple[tuple[int, int, int] | None, ...]


def _signature(files: tuple[Path, ...]) -> Signature:
    out: list[tuple[int, int, int] | None] = []
    for f in files:
        try:
            st = os.stat(f)
        except OSError:
            out.append(None)
        else:
            out.append((st.st_mtime_ns, st.st_size, st.st_ino))
    return tuple(out)


class WebConfigSource:
    """The current web config, re-read when any of its files changes.

    A file that no longer parses makes :meth:`current` raise
    :class:`ConfigError` until it is fixed: requests then get 500 (the
    official behaviour), so a broken edit fails closed, never open.
    ``generation`` counts successful loads (TLS rebuilds its context on a
    change).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._config = load_web_config(self.path)
        self._files = self._config.watched_files()
        self._signature = _signature(self._files)
        self._error: ConfigError | None = None
        self.generation = 1

    def current(self) -> WebConfig:
        signature = _signature(self._files)
        if signature != self._signature:
            self._signature = signature
            try:
                config = load_web_config(self.path)
            except ConfigError as e:
                self._error = e
                log.error("web config not reloaded, refusing requests until it is fixed: %s", e)
            else:
                self._config, self._error = config, None
                self._files = config.watched_files()
                self._signature = _signature(self._files)
                self.generation += 1
                log.info("web config reloaded from %s", self.path)
        if self._error is not None:
            raise self._error
        return self._config
