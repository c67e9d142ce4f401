"""Delivering payloads over HTTP: timeouts, retries with backoff, auth.

The transport is the single I/O seam (as in httpx): :class:`Transport` takes
one :class:`HttpRequest` and returns one :class:`HttpResponse` or raises
:class:`TransportError`. :class:`UrllibTransport` is the real one; tests pass
a fake. Everything else here (which failures to retry, how long to wait, how
errors read) is plain code over that seam, and so is the Sonar reader.

Credentials come from the environment and live only in request headers: they
are never part of a URL that is printed, logged or spooled.
"""

from __future__ import annotations

import base64
import random
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

from pushgate.core.errors import ConfigError
from pushgate.reporter.errors import PushError

Method = Literal["GET", "PUT", "POST", "DELETE"]

#: The exposition format pushed; both gateways parse it.
TEXT_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

USER_AGENT = "pushgate-report"

#: Environment variables holding credentials for the gateway.
ENV_USERNAME = "PUSHGATE_USERNAME"
ENV_PASSWORD = "PUSHGATE_PASSWORD"
ENV_TOKEN = "PUSHGATE_TOKEN"


@dataclass(frozen=True, slots=True)
class HttpRequest:
    method: Method
    url: str
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""


@dataclass(frozen=True, slots=True)
class HttpResponse:
    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None


class TransportError(Exception):
    """No HTTP answer at all: refused, reset, DNS failure, timeout."""

    def __init__(self, reason: str, *, timeout: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.timeout = timeout


class Transport(Protocol):
    """Sends one request; any HTTP status is a response, not an error."""

    def __call__(self, request: HttpRequest, timeout: float) -> HttpResponse: ...


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # A redirect on a push is a misconfiguration (wrong path prefix, http vs
    # https); following it would turn a PUT into a GET or resend credentials to
    # another host. It is reported as a response instead.
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


class UrllibTransport:
    """The real transport: the standard library, no redirects, no proxies from the URL."""

    def __init__(self) -> None:
        self._opener = urllib.request.build_opener(_NoRedirect())

    def __call__(self, request: HttpRequest, timeout: float) -> HttpResponse:
        req = urllib.request.Request(
            request.url,
            data=request.body if request.method in ("PUT", "POST") else None,
            headers=dict(request.headers),
            method=request.method,
        )
        try:
            with self._opener.open(req, timeout=timeout) as resp:
                return HttpResponse(resp.status, resp.read(), tuple(resp.headers.items()))
        except urllib.error.HTTPError as exc:
            with exc:
                body = exc.read()
            return HttpResponse(exc.code, body, tuple(exc.headers.items()))
        except TimeoutError as exc:
            raise TransportError(f"no answer within {timeout:g}s", timeout=True) from exc
        except urllib.error.URLError as exc:
            reason = exc.reason
            if isinstance(reason, TimeoutError):
                raise TransportError(f"no answer within {timeout:g}s", timeout=True) from exc
            text = reason.strerror if isinstance(reason, OSError) and reason.strerror else reason
            raise TransportError(str(text)) from exc
        except (ConnectionError, OSError) as exc:
            raise TransportError(exc.strerror or str(exc)) from exc


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently to try.

    ``attempts`` counts the first try. Waits grow as ``backoff * 2**n`` up to
    ``max_backoff``, with full jitter so that many CI jobs failing together do
    not retry in lockstep. The defaults bound a push to roughly
    ``attempts * timeout + 7 s`` in the worst case.
    """

    attempts: int = 4
    timeout: float = 10.0
    backoff: float = 1.0
    max_backoff: float = 8.0

    def delay(self, retry: int, rand: Callable[[], float]) -> float:
        return min(self.max_backoff, self.backoff * 2.0**retry) * (0.5 + rand() / 2)


@dataclass(frozen=True, slots=True)
class Credentials:
    """Auth for the gateway. ``repr`` never shows the secrets."""

    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    #: Where ``token`` came from, for messages (default: ``PUSHGATE_TOKEN``).
    token_source: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Credentials:
        token = env.get(ENV_TOKEN) or None
        username = env.get(ENV_USERNAME) or None
        password = env.get(ENV_PASSWORD)
        if token and username:
            raise ConfigError(
                f"both {ENV_TOKEN} and {ENV_USERNAME} are set; set only one "
                "(bearer token or basic auth)"
            )
        return cls(username=username, password=password, token=token)

    @property
    def kind(self) -> str:
        """What is used, for messages: never the secret itself."""
        if self.token:
            return self.token_source or f"bearer token from {ENV_TOKEN}"
        if self.username is not None:
            return f"basic auth as {self.username!r}"
        return "none"

    def headers(self) -> tuple[tuple[str, str], ...]:
        if self.token:
            return (("Authorization", f"Bearer {self.token}"),)
        if self.username is not None:
            pair = f"{self.username}:{self.password or ''}".encode()
            return (("Authorization", "Basic " + base64.b64encode(pair).decode("ascii")),)
        return ()


def split_gateway_url(url: str) -> tuple[str, Credentials | None]:
    """``url`` without user info, and the credentials that were in it, if any.

    ``http://user:pass@host:9091`` works as people expect, but the secret is
    moved into a header at once so that no message can print it.
    """
    text = url.strip()
    if "://" not in text:
        text = "http://" + text
    parts = urllib.parse.urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"gateway URL {_redact(url)!r} is not an http(s) URL; "
            "use e.g. --gateway http://pushgateway:9091"
        )
    if parts.query or parts.fragment:
        raise ConfigError(
            f"gateway URL {_redact(url)!r} has a query or fragment; "
            "give only scheme, host, port and an optional path prefix"
        )
    creds = None
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, netloc = netloc.rsplit("@", 1)
        user, _, password = userinfo.partition(":")
        creds = Credentials(
            username=urllib.parse.unquote(user), password=urllib.parse.unquote(password)
        )
    clean = urllib.parse.urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))
    return clean, creds


def _redact(url: str) -> str:
    if "@" not in url:
        return url
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    host = rest.rsplit("@", 1)[1]
    return f"{scheme}{sep}***@{host}"


def _excerpt(body: bytes, limit: int = 300) -> str:
    text = body.decode("utf-8", errors="replace").strip()
    return text if len(text) <= limit else text[:limit] + "..."


def _retryable(status: int) -> bool:
    return status >= 500 or status in (408, 429)


@dataclass(frozen=True, slots=True)
class Delivery:
    """A successful request: the final response and how many attempts it took."""

    response: HttpResponse
    attempts: int


class HttpClient:
    """Sends requests with retries; raises :class:`PushError` when it gives up."""

    def __init__(
        self,
        transport: Transport | None = None,
        policy: RetryPolicy | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.transport: Transport = transport if transport is not None else UrllibTransport()
        self.policy = policy if policy is not None else RetryPolicy()
        self._sleep = sleep
        self._rand = rand

    def send(self, request: HttpRequest, *, what: str = "push", gateway: bool = True) -> Delivery:
        """``request`` answered 2xx, after up to ``policy.attempts`` tries.

        A 4xx other than 408/429 is final at once: the gateway rejected the
        payload and would again. ``gateway`` adds hints that only make sense
        for a Pushgateway to error messages.
        """
        last: PushError | None = None
        for attempt in range(1, self.policy.attempts + 1):
            if attempt > 1:
                self._sleep(self.policy.delay(attempt - 2, self._rand))
            try:
                response = self.transport(request, self.policy.timeout)
            except TransportError as exc:
                last = PushError(f"{what} to {request.url} failed: {exc.reason}", retryable=True)
                continue
            if 200 <= response.status < 300:
                return Delivery(response, attempt)
            last = _status_error(what, request, response, gateway)
            if not last.retryable:
                break
        assert last is not None
        tries = "1 attempt" if self.policy.attempts == 1 else f"{self.policy.attempts} attempts"
        if last.retryable:
            raise PushError(f"{last} (gave up after {tries})", status=last.status, retryable=True)
        raise last


def _status_error(
    what: str, request: HttpRequest, response: HttpResponse, gateway: bool
) -> PushError:
    status = response.status
    detail = _excerpt(response.body)
    message = f"{what} to {request.url} answered HTTP {status}"
    if detail:
        message += f": {detail}"
    if 300 <= status < 400:
        location = response.header("Location") or "?"
        message += f" (redirect to {location}); check the gateway URL: scheme, host and path prefix"
    elif not gateway:
        pass
    elif status == 401:
        message += (
            f"; set {ENV_TOKEN}, or {ENV_USERNAME} and {ENV_PASSWORD}, or in GitHub Actions"
            " give the job `permissions: id-token: write` (an OIDC token is then sent)"
        )
    elif status == 403:
        message += "; the credentials are valid but not allowed to push to this group"
    elif status == 404:
        message += "; is this a Pushgateway, and is its route prefix part of the gateway URL?"
    return PushError(message, status=status, retryable=_retryable(status))
