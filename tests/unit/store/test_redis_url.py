"""``--store`` URLs: the three deployments, options, errors, redaction."""

from __future__ import annotations

import pytest

from pushgate.cli.main import build_parser
from pushgate.cli.serve import settings_from_args
from pushgate.core.errors import ConfigError
from pushgate.server.settings import Settings
from pushgate.store.redis_url import is_redis_url, parse_redis_url, redact_url


def test_standalone_defaults() -> None:
    target = parse_redis_url("redis://localhost")
    assert target.kind == "redis"
    assert target.nodes == (("localhost", 6379),)
    assert target.db == 0 and not target.ssl
    assert target.username is None and target.password is None
    assert target.options.prefix == "pushgate"
    assert target.options.wait_replicas == 0


def test_standalone_with_everything() -> None:
    target = parse_redis_url(
        "rediss://app:s%3Acret@redis.example:6380/3?prefix=team-a&wait_replicas=1"
        "&wait_timeout=0.5&stream_maxlen=500&socket_timeout=2&ssl_ca_certs=/etc/ca.pem"
    )
    assert target.kind == "redis" and target.ssl
    assert target.nodes == (("redis.example", 6380),)
    assert target.db == 3
    assert (target.username, target.password) == ("app", "s:cret")
    options = target.options
    assert options.prefix == "team-a"
    assert (options.wait_replicas, options.wait_timeout) == (1, 0.5)
    assert options.stream_maxlen == 500 and options.socket_timeout == 2.0
    assert options.tls == {"ssl_ca_certs": "/etc/ca.pem"}


def test_password_only() -> None:
    target = parse_redis_url("redis://:pw@127.0.0.1:7000/0")
    assert target.username is None and target.password == "pw"


def test_sentinel() -> None:
    target = parse_redis_url(
        "redis+sentinel://:pw@s1:26379,s2,[::1]:26380/mymaster/2?sentinel_password=sp"
    )
    assert target.kind == "sentinel"
    assert target.nodes == (("s1", 26379), ("s2", 26379), ("::1", 26380))
    assert target.service == "mymaster" and target.db == 2
    assert target.password == "pw"
    assert target.options.sentinel_password == "sp"


def test_cluster() -> None:
    target = parse_redis_url("redis+cluster://n1:7000,n2:7001")
    assert target.kind == "cluster"
    assert target.nodes == (("n1", 7000), ("n2", 7001))


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://x", "is not a Redis URL"),
        ("redis://", "names no host"),
        ("redis://a:1,b:2", "use redis\\+sentinel:// or redis\\+cluster://"),
        ("redis://a:99999", "invalid port"),
        ("redis://a/x", "invalid database number"),
        ("redis://a/0/extra", "unexpected path"),
        ("redis+sentinel://s1", "names no Sentinel master"),
        ("redis+cluster://n1/1", "Redis Cluster does not have"),
        ("redis://a?wait_replica=1", "unknown option 'wait_replica'"),
        ("redis://a?wait_replicas=-1", "invalid value for wait_replicas"),
        ("redis://a?socket_timeout=soon", "invalid value for socket_timeout"),
        ("redis://a?prefix={x}", "invalid prefix"),
        ("redis://a?stream_maxlen=0", "stream_maxlen=0"),
        ("redis://a?wait_replicas=1&wait_timeout=9", "wait_timeout >= socket_timeout"),
    ],
)
def test_malformed_urls_are_config_errors(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_redis_url(url)


def test_errors_never_show_the_password() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_redis_url("redis://user:hunter2@a:1/x?sentinel_password=hunter3")
    assert "hunter" not in str(caught.value)
    assert "user:***@a:1" in str(caught.value)


@pytest.mark.parametrize(
    ("url", "redacted"),
    [
        ("redis://a:6379/0", "redis://a:6379/0"),
        ("redis://:pw@a/0", "redis://:***@a/0"),
        ("redis://u:pw@a", "redis://u:***@a"),
        ("redis://u@a", "redis://u@a"),
        (
            "redis+sentinel://:p@s1,s2/m?sentinel_password=x&prefix=p",
            "redis+sentinel://:***@s1,s2/m?sentinel_password=***&prefix=p",
        ),
    ],
)
def test_redact(url: str, redacted: str) -> None:
    assert redact_url(url) == redacted


def test_is_redis_url() -> None:
    assert is_redis_url("redis://a") and is_redis_url("REDISS+cluster://a")
    assert not is_redis_url("/var/lib/pushgate.db") and not is_redis_url("sqlite://x")


def serve_settings(*argv: str) -> Settings:
    return settings_from_args(build_parser().parse_args(["serve", *argv]))


def test_the_store_flag() -> None:
    settings = serve_settings("--store=redis://:pw@127.0.0.1:6379/0?prefix=a")
    assert settings.store_url == "redis://:pw@127.0.0.1:6379/0?prefix=a"
    assert settings.persistence_file is None  # replicas keep no file
    assert settings.flags["store"] == "redis://:***@127.0.0.1:6379/0?prefix=a"
    assert settings.flags["persistence.file"] == ""
    assert "store" not in serve_settings().flags  # the official flags only, by default


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--store=/var/lib/pg.db"], "is not a Redis URL"),
        (["--store=redis://a", "--persistence.file=/x.db"], "give only one"),
        (["--store=redis://:pw@a?bogus=1"], "unknown option 'bogus'"),
    ],
)
def test_bad_store_flags(argv: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        serve_settings(*argv)
    assert "pw" not in str(caught.value)
