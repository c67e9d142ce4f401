"""Who is asking and what they may do: authentication, authorization, audit.

Every request passes :meth:`AccessControl.guard` after routing and before
any handler runs, so a refused request changes nothing, not even a group's
``push_failure_time_seconds``. Without ``--web.config.file`` the guard
lets everything through, as the official gateway does.

With a web config (``webconfig.py``), in this order:

1. The config is current (re-read when a file changed); a broken file
   answers 500 to everything until fixed, as the official gateway does.
2. ``rate_limit``: 429 beyond it. ``client_allowed_sans``: 403 for a
   client certificate naming none of them.
3. Authentication, from ``Authorization``: ``Basic`` against
   ``basic_auth_users`` (bcrypt, one check at a time in a worker thread,
   unknown users checked against a decoy hash, results cached by a hash of
   user, stored hash and password); ``Bearer`` against the tokens' SHA-256
   (compared in constant time with every token) or, for a JWT, against the
   OIDC providers. A credential that is present but wrong, or a request
   without one where one is needed, gets 401 ``Unauthorized`` with the
   challenge(s) for what is configured, and nothing else.
4. Authorization by route: push (PUT/POST) and delete need ``push`` /
   ``delete`` on the grouping key; wipe, quit and reload need ``admin``; scrape,
   JSON API and UI need ``read``; health needs only a valid credential.
   Reads and health are open to anonymous clients unless
   ``reads_require_auth``. A principal without the grant gets 403 naming
   itself, the action and the group.
5. An audit line per write attempt (push, delete, wipe, quit, reload), on the
   ``pushgate.audit`` logger: principal, method, action, group, status,
   client address. Never a credential.

The configured ``http_server_config.headers`` are added to every answer.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Literal

import bcrypt
from aiohttp import web

from pushgate.core.errors import ConfigError, ForbiddenError, GroupingKeyError
from pushgate.core.goquote import go_quote
from pushgate.core.grouping import parse_grouping_key
from pushgate.core.model import GroupingKey
from pushgate.server.errors import error_response, text_error
from pushgate.server.grants import FULL_ACCESS, READ_ONLY, Action, Grant
from pushgate.server.oidc import (
    InvalidTokenError,
    JwksUnavailableError,
    OidcVerifier,
    claims_view,
    grants_for,
    looks_like_jwt,
    unverified_issuer,
)
from pushgate.server.router import Match, Resolution
from pushgate.server.tls import TlsReloader
from pushgate.server.webconfig import RateLimit, WebConfig, WebConfigSource

log = logging.getLogger("pushgate.server")
audit_log = logging.getLogger("pushgate.audit")

AuthMethod = Literal["none", "anonymous", "basic", "token", "oidc"]

#: What a route needs: an action, a valid credential (health), or nothing.
Requirement = Literal["push", "delete", "read", "admin", "health", "none"]

_WRITES: frozenset[Requirement] = frozenset({"push", "delete", "admin"})

#: Longest bearer token looked at (the header line limit is larger).
MAX_TOKEN_LENGTH = 8192
#: Basic-auth results remembered (by a hash, never the password itself).
BASIC_CACHE_SIZE = 1024

Serve = Callable[[web.Request, Resolution], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class Principal:
    """Who made a request (for the audit log) and what they may do."""

    name: str
    method: AuthMethod
    grants: tuple[Grant, ...] = ()

    def allows(self, action: Action, key: GroupingKey | None = None) -> bool:
        return any(g.allows(action, key) for g in self.grants)

    @property
    def authenticated(self) -> bool:
        return self.method != "anonymous"


#: Everyone, when no credential is configured: the official gateway's openness.
EVERYONE = Principal("-", "none", (FULL_ACCESS,))


#: The principal of the request being served, set by :meth:`AccessControl.guard`
#: around the handler (unset without a web config: everything is allowed then).
PRINCIPAL: ContextVar[Principal | None] = ContextVar("pushgate_principal", default=None)


def requirement(resolution: Resolution, method: str) -> Requirement:
    """What the request needs (see the module docstring).

    A route this table does not name needs ``read`` for GET/HEAD/OPTIONS and
    ``admin`` otherwise, so that a new write route is closed until it is
    added here.
    """
    if not isinstance(resolution, Match):
        return "none"
    name = resolution.name
    if name in ("push", "push_base64"):
        return "delete" if method == "DELETE" else "push"
    if name in ("wipe", "quit", "reload"):
        return "admin"
    if name in ("healthy", "ready"):
        return "health"
    if name == "quit_get":
        return "none"
    return "read" if method in ("GET", "HEAD", "OPTIONS") else "admin"


def render_group(key: GroupingKey) -> str:
    """``{job="a", instance="b"}``: job first, values quoted (no log injection)."""
    labels = dict(key)
    job = labels.pop("job", "")
    pairs = [f"job={go_quote(job)}"] + [f"{k}={go_quote(v)}" for k, v in sorted(labels.items())]
    return "{" + ", ".join(pairs) + "}"


class _BasicAuth:
    """bcrypt checks of ``basic_auth_users`` (see the module docstring)."""

    def __init__(self, users: Mapping[str, bytes]) -> None:
        self._users = users
        self._cost = max((int(h[4:6]) for h in users.values()), default=10)
        self._decoy: bytes | None = None
        self._cache: OrderedDict[bytes, bool] = OrderedDict()
        self._lock = asyncio.Lock()

    async def check(self, user: str, password: bytes) -> bool:
        stored = self._users.get(user)
        # Keyed by a hash of user, stored hash and password: no password is
        # kept, and a changed hash never matches an old entry.
        key = hashlib.sha256(
            b"\0".join((user.encode("utf-8", "surrogateescape"), stored or b"", password))
        ).digest()
        ok = self._cache.get(key)
        if ok is None:
            # Cache hits never wait here behind a flood of uncached guesses.
            async with self._lock:
                if stored is None and self._decoy is None:
                    # Same cost as the real hashes: unknown users take as long.
                    self._decoy = await asyncio.to_thread(
                        bcrypt.hashpw, b"decoy password", bcrypt.gensalt(self._cost)
                    )
                target = stored if stored is not None else self._decoy
                assert target is not None
                ok = await asyncio.to_thread(_bcrypt_matches, password, target)
            self._cache[key] = ok
            if len(self._cache) > BASIC_CACHE_SIZE:
                self._cache.popitem(last=False)
        return ok and stored is not None


def _bcrypt_matches(password: bytes, hashed: bytes) -> bool:
    try:
        return bcrypt.checkpw(password, hashed)
    except ValueError:
        return False  # longer than bcrypt's 72 bytes: never a match


class _RateLimiter:
    """A token bucket like Go's ``rate.Limiter``: ``burst`` at once, one per ``interval``."""

    def __init__(self, limit: RateLimit) -> None:
        self._limit = limit
        self._tokens = float(limit.burst)
        self._last = time.monotonic()

    def allow(self) -> bool:
        now = time.monotonic()
        refill = (now - self._last) / self._limit.interval
        self._tokens = min(float(self._limit.burst), self._tokens + refill)
        self._last = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False


class _State:
    """What one generation of the web config needs at request time."""

    def __init__(self, config: WebConfig, generation: int) -> None:
        self.config = config
        self.generation = generation
        auth = config.authorization
        self.basic = _BasicAuth(config.basic_auth_users) if config.basic_auth_users else None
        self.verifiers = {p.issuer: OidcVerifier(p) for p in auth.oidc}
        self.limiter = _RateLimiter(config.rate_limit) if config.rate_limit else None
        if not config.auth_enabled:
            self.anonymous = EVERYONE
        else:
            open_reads = () if config.reads_require_auth else (READ_ONLY,)
            self.anonymous = Principal("anonymous", "anonymous", open_reads)
        self.bearer = bool(auth.tokens or auth.oidc)
        challenges = []
        if config.basic_auth_users:
            challenges.append("Basic")
        if self.bearer:
            challenges.append('Bearer realm="pushgate"')
        self.challenges = tuple(challenges)


class AccessControl:
    """The guard in front of every handler (see the module docstring)."""

    def __init__(self, source: WebConfigSource | None = None) -> None:
        self._source = source
        self._state: _State | None = None
        self._state_error: tuple[int, ConfigError] | None = None
        if source is not None:
            self._current()  # fail at start-up, not at the first request

    @classmethod
    def from_file(cls, path: str) -> AccessControl:
        """Access control from ``--web.config.file``; raises :class:`ConfigError`."""
        return cls(WebConfigSource(path))

    @property
    def enabled(self) -> bool:
        return self._source is not None

    def tls_context(self) -> TlsReloader | None:
        """The listeners' TLS, or ``None`` for plain HTTP."""
        if self._source is None:
            return None
        config = self._source.current()
        return TlsReloader(self._source, config.tls) if config.tls is not None else None

    def _current(self) -> _State:
        assert self._source is not None
        config = self._source.current()
        generation = self._source.generation
        if self._state is not None and self._state.generation == generation:
            return self._state
        if self._state_error is not None and self._state_error[0] == generation:
            raise self._state_error[1]
        try:
            self._state = _State(config, generation)
        except ConfigError as e:
            self._state_error = (generation, e)
            log.error("web config not applied, refusing requests until it is fixed: %s", e)
            raise
        self._state_error = None
        return self._state

    async def guard(
        self, request: web.Request, resolution: Resolution, serve: Serve
    ) -> web.StreamResponse:
        # ``PRINCIPAL`` is set while the handler runs, so that pages (the web UI)
        # offer only what this credential may do.
        """Answer ``request``: refused here, or by ``serve`` (see the module docstring)."""
        if self._source is None:
            return await serve(request, resolution)
        try:
            state = self._current()
        except ConfigError:
            return text_error(500, "Internal Server Error")
        need = requirement(resolution, request.method)
        key = _grouping_key(resolution) if need in ("push", "delete") else None
        audit = need in _WRITES and state.config.authorization.audit_log
        principal: Principal | None = None
        response: web.StreamResponse
        try:
            principal, refusal = await self._check(request, resolution, need, key, state)
            if refusal is not None:
                response = refusal
            else:
                token = PRINCIPAL.set(principal)
                try:
                    response = await serve(request, resolution)
                except web.HTTPException as e:
                    if audit:
                        _audit(request, principal, resolution, need, key, e.status)
                    raise
                finally:
                    PRINCIPAL.reset(token)
        except JwksUnavailableError as e:
            log.error("OIDC: %s", e)
            response = text_error(503, "Service Unavailable")
        if not response.prepared:
            for name, value in state.config.headers.items():
                response.headers[name] = value
        if audit:
            _audit(request, principal, resolution, need, key, response.status)
        return response

    async def _check(
        self,
        request: web.Request,
        resolution: Resolution,
        need: Requirement,
        key: GroupingKey | None,
        state: _State,
    ) -> tuple[Principal | None, web.Response | None]:
        """The principal, and a refusal (``None``: serve the request)."""
        config = state.config
        if state.limiter is not None and not state.limiter.allow():
            return None, text_error(429, "Too Many Requests")
        sans = config.tls.client_allowed_sans if config.tls is not None else ()
        if sans and not _client_san_allowed(request, sans):
            response = text_error(403, "Forbidden")
            response.force_close()
            return None, response
        principal = await self._authenticate(request, state)
        if principal is None or (
            not principal.authenticated and (need in _WRITES or not principal.allows("read"))
        ):
            # Anonymous clients get as far as reads (and health) where those are open.
            return principal, self._unauthorized(state)
        if need in ("push", "delete", "read", "admin"):
            action: Action = need
            # A push to an invalid grouping key (key None) is for the handler
            # to answer with 400, if the principal may push anywhere at all.
            if not principal.allows(action, key):
                return principal, _forbidden(principal, resolution, action, key)
        return principal, None

    async def _authenticate(self, request: web.Request, state: _State) -> Principal | None:
        """The principal, or ``None`` for a credential that is present and wrong."""
        if not state.config.auth_enabled:
            return EVERYONE
        values = request.headers.getall("Authorization", [])
        if not values:
            return state.anonymous
        if len(values) > 1:
            return None  # two credentials: which one a proxy checked is unknowable
        scheme, _, credentials = values[0].strip().partition(" ")
        scheme, credentials = scheme.lower(), credentials.strip()
        if scheme == "basic" and state.basic is not None:
            return await _basic(state.basic, credentials)
        if scheme == "bearer" and state.bearer:
            return await _bearer(state, credentials)
        return None

    @staticmethod
    def _unauthorized(state: _State) -> web.Response:
        response = text_error(401, "Unauthorized")
        for challenge in state.challenges:
            response.headers.add("Www-Authenticate", challenge)
        return response


def _forbidden(
    principal: Principal, resolution: Resolution, action: Action, key: GroupingKey | None
) -> web.Response:
    verb = _audit_action(resolution, action)
    if key is not None:
        what = f"{verb} to group {render_group(key)}"
    elif action in ("push", "delete"):
        what = f"{verb} to any group"
    else:
        what = f"{verb} (needs {action})" if verb != action else action
    return error_response(ForbiddenError(f"{principal.name} ({principal.method}) may not {what}"))


async def _basic(checker: _BasicAuth, credentials: str) -> Principal | None:
    try:
        decoded = base64.b64decode(credentials.encode("ascii"), validate=True)
        user_bytes, sep, password = decoded.partition(b":")
        user = user_bytes.decode("utf-8")
    except (binascii.Error, UnicodeError, ValueError):
        return None
    if not sep:
        return None
    if await checker.check(user, password):
        return Principal(f"basic:{user}", "basic", (FULL_ACCESS,))
    log.debug("refused basic auth for a user (unknown or wrong password)")
    return None


async def _bearer(state: _State, token: str) -> Principal | None:
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    try:
        digest = hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()
    except UnicodeError:
        return None
    found = None
    for configured in state.config.authorization.tokens:
        # Every token is compared, in constant time: no early exit.
        if hmac.compare_digest(digest, configured.sha256):
            found = configured
    if found is not None:
        return Principal(f"token:{found.name}", "token", found.grants)
    if state.verifiers and looks_like_jwt(token):
        verifier = state.verifiers.get(unverified_issuer(token) or "")
        if verifier is None:
            log.debug("refused a JWT from an issuer that is not configured")
            return None
        try:
            claims = await verifier.verify(token)
        except InvalidTokenError as e:
            log.debug("refused an OIDC token: %s", e.reason)
            return None
        view = claims_view(claims)
        provider = verifier.provider
        return Principal(
            f"oidc:{view[provider.principal_claim]}", "oidc", grants_for(provider, view)
        )
    log.debug("refused an unknown bearer token")
    return None


def _client_san_allowed(request: web.Request, allowed: tuple[str, ...]) -> bool:
    transport = request.transport
    cert = transport.get_extra_info("peercert") if transport is not None else None
    if not isinstance(cert, dict):
        return False
    return any(value in allowed for _, value in cert.get("subjectAltName", ()))


def _grouping_key(resolution: Resolution) -> GroupingKey | None:
    """The grouping key of a push/delete route, or ``None`` if it is invalid."""
    assert isinstance(resolution, Match)
    try:
        return parse_grouping_key(
            resolution.params["job"],
            resolution.name == "push_base64",
            resolution.params.get("labels", ""),
        )
    except GroupingKeyError:
        return None


def _audit_action(resolution: Resolution, need: Requirement) -> str:
    """``push``, ``delete``, ``read``, or the admin route's name (``wipe``, ``quit``)."""
    if need == "admin" and isinstance(resolution, Match):
        return resolution.name
    return need


def _audit(
    request: web.Request,
    principal: Principal | None,
    resolution: Resolution,
    need: Requirement,
    key: GroupingKey | None,
    status: int,
) -> None:
    if not audit_log.isEnabledFor(logging.INFO):
        return
    if need in ("push", "delete"):
        group = render_group(key) if key is not None else "(invalid grouping key)"
    else:
        group = "*" if _audit_action(resolution, need) == "wipe" else "-"
    audit_log.info(
        "principal=%s auth=%s action=%s method=%s group=%s status=%d remote=%s",
        go_quote(principal.name) if principal is not None else "-",
        principal.method if principal is not None else "-",
        _audit_action(resolution, need),
        request.method,
        group,
        status,
        request.remote or "-",
    )
