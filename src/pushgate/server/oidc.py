"""OIDC tokens (GitHub Actions) as credentials: verify the JWT, map claims to grants.

A token is accepted only if all of this holds, else it is refused (401):

* its header names an algorithm the provider allows (asymmetric only) and a
  key of the provider's JWKS (by ``kid``; a JWKS with one key needs none);
* the signature verifies with that key;
* ``iss`` is the provider's issuer exactly, ``aud`` holds one of its
  audiences, ``exp``, ``iat`` and the principal claim (``sub``) are present,
  ``exp``/``nbf``/``iat`` hold with ``leeway``.

The JWKS comes from a file (reloaded with the web config) or a URL, fetched
when first needed, again after ``jwks_refresh_interval``, and early when a
token names an unknown ``kid`` (at most once a minute, so that made-up key
ids cannot make the gateway fetch in a loop). If the URL cannot be fetched
the last keys stay in use; with none at all, requests get 503.

The claims a rule and its templates can use are the token's string claims,
plus ``repository_name`` (``acme/foo`` -> ``foo``) and ``ref_name``
(``refs/heads/main`` -> ``main``) when the token has ``repository``/``ref``.
Nothing of a token is ever logged, only the reason it was refused.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Mapping
from typing import Any

import aiohttp
import jwt

from pushgate.core.errors import ConfigError
from pushgate.server.grants import Grant
from pushgate.server.webconfig import OidcProvider

log = logging.getLogger("pushgate.server")

#: Largest JWKS document accepted from a URL.
MAX_JWKS_BYTES = 1 << 20
#: Shortest time between two fetches caused by an unknown key id.
MIN_REFETCH_SECONDS = 60.0
#: Timeout of one JWKS fetch.
FETCH_TIMEOUT_SECONDS = 10.0

_ASYMMETRIC_KEY_TYPES = ("RSA", "EC", "OKP")


class InvalidTokenError(Exception):
    """The token is not acceptable; ``reason`` says why (never quotes the token)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class JwksUnavailableError(Exception):
    """No keys to verify with: the JWKS URL could not be fetched (HTTP 503)."""


def looks_like_jwt(token: str) -> bool:
    """Three base64url parts: the only shape worth verifying."""
    return token.count(".") == 2 and len(token) > 20


def unverified_issuer(token: str) -> str | None:
    """The ``iss`` a token claims, only to pick the provider that then verifies it."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except (jwt.PyJWTError, ValueError, TypeError):
        return None
    issuer = claims.get("iss") if isinstance(claims, dict) else None
    return issuer if isinstance(issuer, str) else None


class SigningKey:
    """One public key of a JWKS and the algorithm it declares (``alg``), if any."""

    __slots__ = ("alg", "key")

    def __init__(self, key: Any, alg: str | None) -> None:
        self.key = key
        self.alg = alg


def parse_jwks(document: bytes | str, where: str) -> dict[str | None, SigningKey]:
    """The usable signing keys of a JWKS document, by key id; raises ``ValueError``."""
    try:
        data = json.loads(document)
        keys = data["keys"] if isinstance(data, dict) else None
    except (ValueError, KeyError, TypeError):
        raise ValueError(f"{where}: not a JWKS document (JSON with a 'keys' list)") from None
    if not isinstance(keys, list):
        raise ValueError(f"{where}: not a JWKS document (JSON with a 'keys' list)")
    out: dict[str | None, SigningKey] = {}
    for entry in keys:
        if not isinstance(entry, dict) or entry.get("kty") not in _ASYMMETRIC_KEY_TYPES:
            continue  # symmetric keys must never verify a token here
        if entry.get("use", "sig") != "sig":
            continue
        try:
            key = jwt.PyJWK(entry).key
        except (jwt.PyJWTError, ValueError, TypeError):
            continue
        alg = entry.get("alg")
        kid = entry.get("kid")
        out[kid if isinstance(kid, str) else None] = SigningKey(
            key, alg if isinstance(alg, str) else None
        )
    if not out:
        raise ValueError(f"{where}: no usable signing key (RSA, EC or OKP) in the JWKS")
    return out


def claims_view(claims: Mapping[str, Any]) -> dict[str, str]:
    """The string claims, plus ``repository_name`` and ``ref_name`` (module docstring)."""
    view = {k: v for k, v in claims.items() if isinstance(v, str)}
    repository = view.get("repository")
    if repository and "/" in repository and "repository_name" not in view:
        view["repository_name"] = repository.rsplit("/", 1)[1]
    ref = view.get("ref")
    if ref and "ref_name" not in view:
        for prefix in ("refs/heads/", "refs/tags/"):
            if ref.startswith(prefix):
                view["ref_name"] = ref[len(prefix) :]
                break
    return view


def grants_for(provider: OidcProvider, claims: Mapping[str, str]) -> tuple[Grant, ...]:
    """Every grant that the provider's matching rules give these claims."""
    grants: list[Grant] = []
    for rule in provider.rules:
        if not rule.claims.matches(claims):
            continue
        for template in rule.grants:
            grant = template.render(claims)
            if grant is not None:
                grants.append(grant)
    return tuple(grants)


class OidcVerifier:
    """Verifies tokens of one provider (see the module docstring)."""

    def __init__(self, provider: OidcProvider) -> None:
        self.provider = provider
        self._keys: dict[str | None, SigningKey] | None = None
        self._fetched_at = float("-inf")
        self._lock = asyncio.Lock()
        if provider.jwks_file is not None:
            where = f"OIDC provider {provider.issuer}: jwks_file {provider.jwks_file}"
            try:
                document = provider.jwks_file.read_bytes()
            except OSError as e:
                raise ConfigError(f"{where}: cannot read it: {e.strerror or e}") from None
            try:
                self._keys = parse_jwks(document, where)
            except ValueError as e:
                raise ConfigError(str(e)) from None

    async def verify(self, token: str) -> dict[str, Any]:
        """The verified claims of ``token``; raises :class:`InvalidTokenError`."""
        provider = self.provider
        try:
            header = jwt.get_unverified_header(token)
        except (jwt.PyJWTError, ValueError, TypeError):
            raise InvalidTokenError("malformed JWT") from None
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in provider.algorithms:
            raise InvalidTokenError(f"algorithm {alg!r} is not allowed")
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise InvalidTokenError("malformed key id")
        key = await self._key(kid)
        if key.alg is not None and key.alg != alg:
            raise InvalidTokenError(f"the key is for {key.alg}, the token says {alg}")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key.key,
                algorithms=[alg],
                audience=list(provider.audiences),
                issuer=provider.issuer,
                leeway=provider.leeway,
                options={
                    "require": ["exp", "iat", "iss", "aud", provider.principal_claim],
                    "verify_signature": True,
                    "verify_exp": True,
                    "verify_iat": True,
                    "verify_nbf": True,
                    "verify_aud": True,
                    "verify_iss": True,
                },
            )
        except jwt.ExpiredSignatureError:
            raise InvalidTokenError("expired") from None
        except jwt.InvalidAudienceError:
            raise InvalidTokenError("wrong audience") from None
        except jwt.InvalidIssuerError:
            raise InvalidTokenError("wrong issuer") from None
        except jwt.InvalidSignatureError:
            raise InvalidTokenError("bad signature") from None
        except jwt.MissingRequiredClaimError as e:
            raise InvalidTokenError(f"missing claim {e.claim!r}") from None
        except (jwt.PyJWTError, ValueError, TypeError) as e:
            raise InvalidTokenError(f"invalid ({type(e).__name__})") from None
        if not isinstance(claims.get(provider.principal_claim), str):
            raise InvalidTokenError(f"claim {provider.principal_claim!r} is not a string")
        return claims

    async def _key(self, kid: str | None) -> SigningKey:
        provider = self.provider
        if provider.jwks_url is not None:
            age = time.monotonic() - self._fetched_at
            stale = self._keys is None or age > provider.jwks_refresh
            unknown = self._keys is not None and not self._has(kid)
            if stale or (unknown and age > MIN_REFETCH_SECONDS):
                await self._refresh()
        keys = self._keys
        if keys is None:
            raise JwksUnavailableError(f"no keys from {provider.jwks_url or provider.jwks_file}")
        if kid is None:
            if len(keys) == 1:
                return next(iter(keys.values()))
            raise InvalidTokenError("no key id, and the JWKS has several keys")
        key = keys.get(kid)
        if key is None:
            raise InvalidTokenError("unknown key id")
        return key

    def _has(self, kid: str | None) -> bool:
        keys = self._keys or {}
        return kid in keys if kid is not None else len(keys) == 1

    async def _refresh(self) -> None:
        url = self.provider.jwks_url
        assert url is not None
        asked = time.monotonic()
        async with self._lock:
            if self._fetched_at >= asked:
                return  # fetched by another request while this one waited
            self._fetched_at = time.monotonic()
            try:
                timeout = aiohttp.ClientTimeout(total=FETCH_TIMEOUT_SECONDS)
                async with (
                    aiohttp.ClientSession(timeout=timeout) as session,
                    session.get(url, allow_redirects=False) as response,
                ):
                    if response.status != 200:
                        raise ValueError(f"HTTP {response.status}")
                    document = await response.content.read(MAX_JWKS_BYTES + 1)
                if len(document) > MAX_JWKS_BYTES:
                    raise ValueError(f"larger than {MAX_JWKS_BYTES} bytes")
                self._keys = parse_jwks(document, f"jwks_url {url}")
            except (aiohttp.ClientError, TimeoutError, ValueError) as e:
                log.warning(
                    "OIDC provider %s: cannot fetch the JWKS from %s: %s",
                    self.provider.issuer,
                    url,
                    e,
                )
