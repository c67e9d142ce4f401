"""``--store`` URLs of the Redis backend: parse them, and redact their secrets.

Three deployments, one URL form each (``rediss`` instead of ``redis`` turns
TLS on)::

    redis://[[USER]:PASSWORD@]HOST[:PORT][/DB][?OPTIONS]
    redis+sentinel://[[USER]:PASSWORD@]HOST[:PORT][,HOST[:PORT]...]/MASTER[/DB][?OPTIONS]
    redis+cluster://[[USER]:PASSWORD@]HOST[:PORT][,HOST[:PORT]...][?OPTIONS]

Sentinel hosts default to port 26379, the others to 6379. The user and
password are Redis's (``AUTH``); Sentinel's own, if it has any, go in the
``sentinel_username``/``sentinel_password`` options. Options are checked
here, so a typo is an error at start, not a silently ignored setting. See
docs/redis.md for what each option means.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import parse_qsl, unquote

from pushgate.core.errors import ConfigError

RedisKind = Literal["redis", "sentinel", "cluster"]

_SCHEMES: dict[str, tuple[RedisKind, bool]] = {
    "redis": ("redis", False),
    "rediss": ("redis", True),
    "redis+sentinel": ("sentinel", False),
    "rediss+sentinel": ("sentinel", True),
    "redis+cluster": ("cluster", False),
    "rediss+cluster": ("cluster", True),
}
_DEFAULT_PORTS: dict[RedisKind, int] = {"redis": 6379, "sentinel": 26379, "cluster": 6379}

#: Options that tune pushgate's use of Redis, with their parsers.
_FLOAT_OPTIONS = ("wait_timeout", "start_timeout", "socket_timeout", "socket_connect_timeout")
_INT_OPTIONS = ("wait_replicas", "stream_maxlen")
_STRING_OPTIONS = (
    "prefix",
    "sentinel_username",
    "sentinel_password",
    "ssl_ca_certs",
    "ssl_certfile",
    "ssl_keyfile",
    "ssl_cert_reqs",
)
_SECRET_OPTIONS = ("sentinel_password",)
KNOWN_OPTIONS = tuple(sorted((*_FLOAT_OPTIONS, *_INT_OPTIONS, *_STRING_OPTIONS)))


@dataclass(frozen=True)
class RedisOptions:
    """What the URL's query string sets (defaults are the documented ones)."""

    #: Every key lives under ``{PREFIX}:``; the braces make it one hash slot.
    prefix: str = "pushgate"
    #: Acknowledge a write only once this many Redis replicas have it (WAIT).
    wait_replicas: int = 0
    wait_timeout: float = 1.0
    #: Approximate length the change stream is trimmed to.
    stream_maxlen: int = 10_000
    #: How long the gateway tries to reach Redis at start before giving up.
    start_timeout: float = 10.0
    socket_timeout: float = 5.0
    socket_connect_timeout: float = 5.0
    sentinel_username: str | None = None
    sentinel_password: str | None = None
    #: TLS settings handed to redis-py as they are (``ssl_*`` connection options).
    tls: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RedisTarget:
    """A parsed ``--store`` URL."""

    kind: RedisKind
    nodes: tuple[tuple[str, int], ...]
    redacted: str
    ssl: bool = False
    service: str = ""
    db: int = 0
    username: str | None = None
    password: str | None = None
    options: RedisOptions = field(default_factory=RedisOptions)


def is_redis_url(text: str) -> bool:
    scheme, sep, _ = text.partition("://")
    return bool(sep) and scheme.lower() in _SCHEMES


def redact_url(url: str) -> str:
    """``url`` with its password and ``sentinel_password`` replaced by ``***``."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    authority, slash, tail = _split_authority(rest)
    userinfo, at, hosts = authority.rpartition("@")
    if at and ":" in userinfo:
        userinfo = userinfo.partition(":")[0] + ":***"
    base, qmark, query = tail.partition("?")
    if qmark:
        parts = []
        for item in query.split("&"):
            name, eq, _ = item.partition("=")
            parts.append(f"{name}=***" if eq and name in _SECRET_OPTIONS else item)
        query = "&".join(parts)
    return f"{scheme}://{userinfo}{at}{hosts}{slash}{base}{qmark}{query}"


def _split_authority(rest: str) -> tuple[str, str, str]:
    """``host...`` / ``path?query`` of what follows ``scheme://``.

    As in any URL, the authority ends at the first ``/`` or ``?``: a password
    with those characters (or ``@``) must be percent-encoded.
    """
    cut = len(rest)
    for sep in ("/", "?"):
        i = rest.find(sep)
        if i != -1:
            cut = min(cut, i)
    tail = rest[cut:]
    if tail.startswith("/"):
        return rest[:cut], "/", tail[1:]
    return rest[:cut], "", tail


def _fail(redacted: str, what: str) -> ConfigError:
    return ConfigError(
        f"--store: {redacted!r} {what}. Use redis://HOST:PORT/DB,"
        " redis+sentinel://HOST:PORT,.../MASTER/DB or redis+cluster://HOST:PORT,..."
        " (see docs/redis.md)"
    )


def _parse_node(text: str, default_port: int, redacted: str) -> tuple[str, int]:
    if text.startswith("["):
        host, _, port_text = text[1:].partition("]")
        port_text = port_text.removeprefix(":")
    else:
        host, _, port_text = text.partition(":")
    if not host:
        raise _fail(redacted, f"has an empty host in {text!r}")
    if not port_text:
        return host, default_port
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise _fail(redacted, f"has an invalid port in {text!r}")
    return host, int(port_text)


def _parse_options(query: str, redacted: str) -> RedisOptions:
    values: dict[str, object] = {}
    tls: dict[str, str] = {}
    for name, value in parse_qsl(query, keep_blank_values=True, strict_parsing=False):
        try:
            if name in _FLOAT_OPTIONS:
                number = float(value)
                if not number >= 0:
                    raise ValueError(value)
                values[name] = number
            elif name in _INT_OPTIONS:
                count = int(value)
                if count < 0:
                    raise ValueError(value)
                values[name] = count
            elif name.startswith("ssl_") and name in _STRING_OPTIONS:
                tls[name] = value
            elif name in _STRING_OPTIONS:
                values[name] = value
            else:
                raise _fail(
                    redacted, f"has an unknown option {name!r} (known: {', '.join(KNOWN_OPTIONS)})"
                )
        except ValueError:
            raise _fail(redacted, f"has an invalid value for {name}") from None
    prefix = values.get("prefix", "pushgate")
    if not isinstance(prefix, str) or not prefix or any(c in prefix for c in "{}"):
        raise _fail(redacted, "has an invalid prefix (it must be non-empty, without braces)")
    if values.get("stream_maxlen") == 0:
        raise _fail(redacted, "has stream_maxlen=0 (the change stream needs at least one entry)")
    options = RedisOptions(tls=tls, **values)  # type: ignore[arg-type]
    if options.wait_replicas and options.wait_timeout >= options.socket_timeout:
        raise _fail(redacted, "has wait_timeout >= socket_timeout (WAIT would time out the socket)")
    return options


def parse_redis_url(url: str) -> RedisTarget:
    """Parse a ``--store`` URL; a malformed one raises :class:`ConfigError`."""
    redacted = redact_url(url)
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in _SCHEMES:
        raise _fail(redacted, "is not a Redis URL")
    kind, ssl = _SCHEMES[scheme.lower()]
    authority, _, tail = _split_authority(rest)
    path, _, query = tail.partition("?")
    userinfo, at, hosts = authority.rpartition("@")
    username: str | None = None
    password: str | None = None
    if at:
        user, colon, secret = userinfo.partition(":")
        username = unquote(user) or None
        password = unquote(secret) if colon else None
    if not hosts:
        raise _fail(redacted, "names no host")
    nodes = tuple(_parse_node(h, _DEFAULT_PORTS[kind], redacted) for h in hosts.split(","))
    segments = [unquote(s) for s in path.split("/")] if path else []
    service = ""
    if kind == "sentinel":
        if not segments or not segments[0]:
            raise _fail(redacted, "names no Sentinel master (redis+sentinel://HOST:PORT/MASTER)")
        service = segments.pop(0)
    if kind == "redis" and len(nodes) > 1:
        raise _fail(redacted, "names several hosts; use redis+sentinel:// or redis+cluster://")
    db = 0
    if segments and segments[0]:
        if kind == "cluster":
            raise _fail(redacted, "selects a database, which Redis Cluster does not have")
        if not segments[0].isdigit():
            raise _fail(redacted, f"has an invalid database number {segments[0]!r}")
        db = int(segments[0])
        segments.pop(0)
    if any(segments):
        raise _fail(redacted, "has an unexpected path")
    return RedisTarget(
        kind=kind,
        nodes=nodes,
        redacted=redacted,
        ssl=ssl,
        service=service,
        db=db,
        username=username,
        password=password,
        options=_parse_options(query, redacted),
    )
