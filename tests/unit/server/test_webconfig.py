"""The --web.config.file: the official exporter-toolkit format, pushgate's extension, reload."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from pushgate.core.errors import ConfigError
from pushgate.server.webconfig import (
    WebConfig,
    WebConfigSource,
    load_web_config,
    parse_web_config,
)
from tests.security_fixtures import bcrypt_hash, bump_mtime, sha256_hex

# One hash per prefix the toolkit (Go's bcrypt) accepts; made with cost 4 for speed.
HASH_2B = bcrypt_hash("secret", "$2b$")
HASH_2A = bcrypt_hash("secret", "$2a$")
HASH_2Y = bcrypt_hash("secret", "$2y$")


def parse(text: str, path: Path = Path("/etc/pushgate/web.yml")) -> WebConfig:
    return parse_web_config(textwrap.dedent(text), path)


def test_an_official_file_with_every_section_is_accepted() -> None:
    config = parse(
        f"""
        tls_server_config:
          cert_file: server.crt
          key_file: /abs/server.key
          client_auth_type: RequireAndVerifyClientCert
          client_ca_file: ca.crt
          min_version: TLS13
          max_version: TLS13
          cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_AES_128_GCM_SHA256]
          curve_preferences: [X25519]
          prefer_server_cipher_suites: false
          client_allowed_sans: [ci-runner.example]
        http_server_config:
          http2: false
          headers:
            X-Frame-Options: deny
            X-Content-Type-Options: nosniff
            Strict-Transport-Security: max-age=31536000
            Content-Security-Policy: default-src 'self'
            X-XSS-Protection: "1; mode=block"
        basic_auth_users:
          alice: {HASH_2B}
          bob: {HASH_2A}
          carol: {HASH_2Y}
        rate_limit:
          burst: 10
          interval: 1s
        """
    )
    tls = config.tls
    assert tls is not None
    # Relative paths are relative to the file's directory, as the toolkit does.
    assert tls.cert_file == Path("/etc/pushgate/server.crt")
    assert tls.key_file == Path("/abs/server.key")
    assert tls.client_ca_file == Path("/etc/pushgate/ca.crt")
    assert tls.client_auth_type == "RequireAndVerifyClientCert"
    assert (tls.min_version, tls.max_version) == ("TLS13", "TLS13")
    assert tls.prefer_server_cipher_suites is False
    assert tls.client_allowed_sans == ("ci-runner.example",)
    assert config.http2 is False
    assert config.headers["X-Frame-Options"] == "deny"
    assert set(config.basic_auth_users) == {"alice", "bob", "carol"}
    assert config.rate_limit is not None and config.rate_limit.burst == 10
    assert config.auth_enabled and config.reads_require_auth
    assert config.watched_files()[:3] == (
        Path("/etc/pushgate/web.yml"),
        Path("/etc/pushgate/server.crt"),
        Path("/abs/server.key"),
    )


def test_empty_file_and_tls_only_file_enable_no_authentication() -> None:
    assert not parse("").auth_enabled
    config = parse("tls_server_config: {cert_file: a.pem, key_file: a.key}")
    assert config.tls is not None and not config.auth_enabled
    assert config.tls.min_version == "TLS12"  # the toolkit's default
    assert config.tls.client_auth_type == "NoClientCert"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("tls_server_config: {cert_file: a.pem}", "missing key_file"),
        ("tls_server_config: {key_file: a.key}", "missing cert_file"),
        ("unknown_section: 1", "unknown field 'unknown_section'"),
        ("tls_server_config: {cert_file: a, key_file: b, bogus: 1}", "unknown field 'bogus'"),
        ("tls_server_config: {cert_file: a, key_file: b, min_version: TLS14}", "unknown TLS"),
        (
            "tls_server_config: {cert_file: a, key_file: b, min_version: TLS13, max_version: TLS12}",
            "min_version is higher",
        ),
        (
            "tls_server_config: {cert_file: a, key_file: b, client_ca_file: ca}",
            "without a Client Auth Policy",
        ),
        (
            "tls_server_config: {cert_file: a, key_file: b, client_auth_type: RequireAnyClientCert}",
            "not supported by pushgate",
        ),
        (
            "tls_server_config: {cert_file: a, key_file: b, client_auth_type: Sometimes}",
            "invalid ClientAuth",
        ),
        ("tls_server_config: {cert_file: a, key_file: b, cipher_suites: [NOPE]}", "unknown cipher"),
        ("tls_server_config: {cert: '-----BEGIN', key_file: b}", "inline PEM"),
        ("http_server_config: {headers: {Server: x}}", "can not be configured"),
        ("http_server_config: {headers: {X-Frame-Options: allow}}", "invalid value"),
        ("basic_auth_users: {alice: plaintext}", "not a bcrypt hash"),
        ("basic_auth_users: [alice]", "mapping"),
        ("rate_limit: {burst: 0, interval: 1s}", "burst"),
        ("a: [", "not valid YAML"),
    ],
)
def test_invalid_files_are_refused_with_the_reason(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse(text)


def test_a_bad_password_hash_is_not_quoted_in_the_error() -> None:
    with pytest.raises(ConfigError) as err:
        parse("basic_auth_users: {alice: hunter2-not-a-hash}")
    assert "hunter2" not in str(err.value)


def test_scoped_tokens_and_oidc_rules_are_read() -> None:
    config = parse(
        f"""
        pushgate_authorization:
          read_requires_auth: true
          tokens:
            - name: beast-ci
              sha256: {sha256_hex("t1")}
              actions: [push, delete]
              match: ['job="beast-mailbox-core"', 'branch=~"feature/.*"']
            - name: ops
              sha256: {sha256_hex("t2").upper()}
              grants:
                - {{actions: [read, admin]}}
                - {{actions: push, match: 'job=~"ops-.*"'}}
          oidc:
            issuer: https://token.actions.githubusercontent.com
            audience: pushgate
            jwks_url: https://token.actions.githubusercontent.com/.well-known/jwks
            leeway: 0s
            rules:
              - claims: 'repository_owner="acme"'
                actions: [push, delete]
                match: 'job="{{repository_name}}"'
        """
    )
    auth = config.authorization
    assert [t.name for t in auth.tokens] == ["beast-ci", "ops"]
    beast = auth.tokens[0]
    assert beast.sha256.hex() == sha256_hex("t1")
    assert str(beast.grants[0]) == 'push,delete on {job="beast-mailbox-core", branch=~"feature/.*"}'
    assert len(auth.tokens[1].grants) == 2
    provider = auth.oidc[0]
    assert provider.audiences == ("pushgate",) and provider.leeway == 0
    assert provider.algorithms == ("RS256",)
    assert config.reads_require_auth


def test_reads_are_open_by_default_unless_basic_auth_users_are_set() -> None:
    token = f"pushgate_authorization: {{tokens: [{{name: a, sha256: {sha256_hex('x')}, actions: [push]}}]}}"
    assert not parse(token).reads_require_auth
    assert parse(f"basic_auth_users: {{alice: {HASH_2B}}}").reads_require_auth
    both = f"basic_auth_users: {{alice: {HASH_2B}}}\npushgate_authorization: {{read_requires_auth: false}}"
    assert not parse(both).reads_require_auth


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("tokens: [{name: a, sha256: abc, actions: [push]}]", "64 hex digits"),
        ("tokens: [{name: a, sha256: 1234, actions: [push]}]", "64 hex digits"),
        ("tokens: [{sha256: " + sha256_hex("a") + ", actions: [push]}]", "needs a name"),
        (
            "tokens: [{name: a, sha256: " + sha256_hex("a") + ", actions: [push]},"
            " {name: a, sha256: " + sha256_hex("b") + ", actions: [push]}]",
            "used twice",
        ),
        (
            "tokens: [{name: a, sha256: " + sha256_hex("a") + ", actions: [steal]}]",
            "unknown action",
        ),
        (
            "tokens: [{name: a, sha256: "
            + sha256_hex("a")
            + ", actions: [read], match: 'job=\"x\"'}]",
            "cannot be limited",
        ),
        (
            "tokens: [{name: a, sha256: "
            + sha256_hex("a")
            + ", actions: [push], match: 'job=~\"(\"'}]",
            "invalid regular expression",
        ),
        (
            "oidc: {issuer: i, audience: a, jwks_file: j, jwks_url: 'https://x', rules: []}",
            "exactly one of jwks_file and jwks_url",
        ),
        ("oidc: {issuer: i, jwks_file: j, rules: []}", "audience is required"),
        (
            "oidc: {issuer: i, audience: a, jwks_file: j, algorithms: [HS256],"
            " rules: [{claims: 'a=\"b\"', actions: [push]}]}",
            "not allowed",
        ),
        (
            "oidc: {issuer: i, audience: a, jwks_file: j, rules: [{actions: [push]}]}",
            "needs claims to match",
        ),
        (
            "oidc: {issuer: i, audience: a, jwks_file: j,"
            " rules: [{claims: 'a=\"b\"', actions: [admin], match: 'job=\"{x}\"'}]}",
            "cannot be limited",
        ),
    ],
)
def test_invalid_authorization_sections_are_refused(section: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse("pushgate_authorization: {" + section + "}")


def test_the_source_reloads_on_change_and_fails_closed_on_a_broken_file(tmp_path: Path) -> None:
    path = tmp_path / "web.yml"
    path.write_text(f"basic_auth_users: {{alice: {HASH_2B}}}\n")
    source = WebConfigSource(path)
    assert set(source.current().basic_auth_users) == {"alice"}
    assert source.generation == 1

    path.write_text(f"basic_auth_users: {{bob: {HASH_2B}}}\n")
    bump_mtime(path)
    assert set(source.current().basic_auth_users) == {"bob"}
    assert source.generation == 2

    path.write_text("basic_auth_users: [not, a, mapping]\n")
    bump_mtime(path)
    with pytest.raises(ConfigError):
        source.current()
    with pytest.raises(ConfigError):  # stays refused without re-reading
        source.current()

    path.write_text(f"basic_auth_users: {{carol: {HASH_2B}}}\n")
    bump_mtime(path)
    assert set(source.current().basic_auth_users) == {"carol"}
    assert source.generation == 3


def test_a_change_to_a_named_file_reloads_too(tmp_path: Path) -> None:
    jwks = tmp_path / "jwks.json"
    jwks.write_text('{"keys": []}')
    path = tmp_path / "web.yml"
    path.write_text(
        "pushgate_authorization: {oidc: {issuer: i, audience: a, jwks_file: jwks.json,"
        " rules: [{claims: 'x=\"y\"', actions: [push]}]}}"
    )
    source = WebConfigSource(path)
    jwks.write_text('{"keys": [1]}')
    bump_mtime(jwks)
    source.current()
    assert source.generation == 2


def test_an_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_web_config(tmp_path / "missing.yml")
