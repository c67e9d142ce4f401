"""Request limits, the pusher's TTL and config reload, through the real handlers.

Requests are built in memory (no sockets) and routed by the real router to
the real handlers, over a memory store with a fake clock. Every rejection is
checked to leave the stored state exactly as it was.
"""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from aiohttp import web
from aiohttp.streams import StreamReader
from aiohttp.test_utils import make_mocked_request

from pushgate.server.app import HANDLERS, build_routes
from pushgate.server.config import ConfigStatus, load_config, parse_config
from pushgate.server.gateway import Gateway
from pushgate.server.limits import TTL_HEADER, Limiter
from pushgate.server.router import Match, Router
from pushgate.server.selfmetrics import OWN_TYPES
from pushgate.server.settings import Settings
from pushgate.store import open_store
from tests.unit.store.fakes import DAY, T0, FakeClock

CONFIG = """\
expiry:
  default_ttl: 30d
  rules:
    - match: '{job="forever"}'
      ttl: never
retention:
  - by: [job, branch]
    keep: 2
limits:
  max_body_bytes: 2KiB
  max_samples_per_push: 5
  max_series_per_group: 6
  max_series_per_job: 10
  max_series_total: 14
  max_labels_per_series: 4
  max_label_name_length: 10
  max_label_value_length: 20
  push_rate:
    per_second: 1
    burst: 3
    overrides:
      - match: '{job="fast"}'
        per_second: 100
        burst: 100
"""


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "pushgate.yml"
    path.write_text(CONFIG)
    return path


class Harness:
    """A gateway with a fake clock for the store and one for the rate limiter."""

    def __init__(self, config_path: Path | None, lifecycle: bool = True) -> None:
        self.clock = FakeClock()
        self.ticks = FakeClock(0.0)
        config = load_config(config_path) if config_path else None
        settings = Settings(
            enable_lifecycle=lifecycle, config_file=str(config_path) if config_path else ""
        )
        self.store = open_store(
            None,
            own_types=OWN_TYPES,
            policy=config.store if config else None,
            clock=self.clock,
        )
        self.gw = Gateway(
            settings,
            self.store,
            limits=Limiter(config.requests if config else None, clock=self.ticks),
            config=ConfigStatus(settings.config_file, last_success_time=T0),
            clock=self.clock,
        )
        #: Move the rate limiter's clock 10 s per request (rate tests turn it off).
        self.auto_tick = True
        self.router = Router(build_routes(settings), "")

    async def request(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        *,
        declare_length: bool = True,
    ) -> web.Response:
        if self.auto_tick:
            self.ticks.now += 10.0
        raw_path, _, query = path.partition("?")
        resolution = self.router.resolve(method, raw_path, query)
        assert isinstance(resolution, Match), resolution
        payload = StreamReader(
            mock.Mock(_reading_paused=False), 2**16, loop=asyncio.get_running_loop()
        )
        payload.feed_data(body)
        payload.feed_eof()
        all_headers = {"Content-Type": "text/plain; version=0.0.4", **(headers or {})}
        if declare_length:
            all_headers["Content-Length"] = str(len(body))
        request = make_mocked_request(method, path, headers=all_headers, payload=payload)
        response = await HANDLERS[resolution.name](self.gw, request, resolution.params)
        assert isinstance(response, web.Response)
        return response

    def snapshot(self) -> tuple[Any, bytes]:
        return ([(g.key, g) for g in self.store.groups()], self.store.render_text([]))

    def own_metrics(self) -> str:
        return self.store.render_text(self.gw.own_families()).decode()


def run_with(
    config: Path | None, body: Callable[[Harness], Coroutine[Any, Any, None]], **kw: Any
) -> None:
    async def main() -> None:
        h = Harness(config, **kw)
        await h.store.start()
        try:
            await body(h)
        finally:
            await h.store.close()

    asyncio.run(main())


def lines(n: int, name: str = "m") -> bytes:
    return "".join(f'{name}{{n="{i}"}} {i}\n' for i in range(n)).encode()


def text(response: web.Response) -> str:
    assert response.body is not None
    return bytes(response.body).decode()  # type: ignore[arg-type]


async def refused(h: Harness, status: int, reason: str, *args: Any, **kw: Any) -> web.Response:
    """Send a request that a limit refuses; prove nothing stored changed."""
    before = h.snapshot()
    response = await h.request(*args, **kw)
    assert response.status == status, text(response)
    assert h.snapshot() == before
    assert f'pushgate_limit_rejections_total{{reason="{reason}"}} 1' in h.own_metrics()
    return response


# -- request limits -------------------------------------------------------------------------
def test_body_size(config_file: Path) -> None:
    async def body(h: Harness) -> None:
        assert (await h.request("PUT", "/metrics/job/a", lines(2))).status == 200
        big = b"# " + b"x" * 3000 + b"\nm 1\n"
        r = await refused(h, 413, "body_size", "PUT", "/metrics/job/a", big)
        assert "the request body is 3007 bytes, more than max_body_bytes (2048)" in text(r)

    run_with(config_file, body)


def test_body_size_without_a_declared_length(config_file: Path) -> None:
    async def body(h: Harness) -> None:
        big = b"# " + b"x" * 3000 + b"\nm 1\n"
        r = await refused(h, 413, "body_size", "PUT", "/metrics/job/a", big, declare_length=False)
        assert "max_body_bytes (2048)" in text(r)

    run_with(config_file, body)


def test_a_gzip_body_is_limited_once_decoded(config_file: Path) -> None:
    async def body(h: Harness) -> None:
        bomb = gzip.compress(b"# " + b"x" * 100_000 + b"\n")
        assert len(bomb) < 2048
        r = await refused(
            h, 413, "body_size", "PUT", "/metrics/job/a", bomb, {"Content-Encoding": "gzip"}
        )
        assert "the gzip body decodes to more than" in text(r)
        small = gzip.compress(lines(2))
        ok = await h.request("PUT", "/metrics/job/a", small, {"Content-Encoding": "gzip"})
        assert ok.status == 200

    run_with(config_file, body)


def test_samples_per_push(config_file: Path) -> None:
    async def body(h: Harness) -> None:
        r = await refused(h, 413, "samples_per_push", "PUT", "/metrics/job/a", lines(6))
        assert "the push has 6 samples, more than max_samples_per_push (5)" in text(r)

    run_with(config_file, body)


def test_label_count_name_and_value_length(config_file: Path) -> None:
    async def body(h: Harness) -> None:
        many = b'm{a="1",b="2",c="3"} 1\n'  # + job + instance = 5 labels
        r = await refused(h, 400, "labels_per_series", "PUT", "/metrics/job/a", many)
        assert "would have 5 labels (grouping labels included), more than" in text(r)
        long_name = b'm{abcdefghijk="1"} 1\n'
        r = await refused(h, 400, "label_name_length", "PUT", "/metrics/job/a", long_name)
        assert "is 11 characters long, more than max_label_name_length (10)" in text(r)
        long_value = b'm{a="' + b"v" * 21 + b'"} 1\n'
        r = await refused(h, 400, "label_value_length", "PUT", "/metrics/job/a", long_value)
        assert "the value of label 'a' in metric 'm' is 21 characters long" in text(r)
        # Grouping labels count too.
        r = await h.request("PUT", "/metrics/job/a/branch/" + "b" * 21, lines(1))
        assert r.status == 400 and "in the grouping key" in text(r)

    run_with(config_file, body)


def test_series_per_group_job_and_total(config_file: Path) -> None:
    async def body(h: Harness) -> None:
        # Every group has two push_* gauges besides what is pushed.
        assert (await h.request("PUT", "/metrics/job/a/branch/x", lines(4))).status == 200
        assert h.store.usage().series_total == 6
        r = await refused(h, 413, "series_per_group", "POST", "/metrics/job/a/branch/y", lines(5))
        assert "would make group" in text(r) and "max_series_per_group (6)" in text(r)
        assert (await h.request("PUT", "/metrics/job/a/branch/y", lines(2, "o"))).status == 200
        r = await refused(h, 429, "series_per_job", "PUT", "/metrics/job/a/branch/z", lines(1, "p"))
        assert (
            "job 'a' holds 10 series and the push adds 3, more than max_series_per_job (10)"
            in text(r)
        )
        assert (await h.request("PUT", "/metrics/job/b", lines(2, "q"))).status == 200
        r = await refused(h, 429, "series_total", "PUT", "/metrics/job/c", lines(1, "r"))
        assert "the gateway holds 14 series" in text(r)
        assert "Retry-After" not in r.headers

    run_with(config_file, body)


def test_push_rate_per_job(config_file: Path) -> None:
    async def body(h: Harness) -> None:
        h.auto_tick = False
        for _ in range(3):  # the burst
            assert (await h.request("PUT", "/metrics/job/a", lines(1))).status == 200
        r = await refused(h, 429, "push_rate", "PUT", "/metrics/job/a", lines(2))
        assert r.headers["Retry-After"] == "1"
        assert "job 'a' pushes faster than its push rate limit (1 per second, bursts of 3)" in text(
            r
        )
        # Another job has its own bucket; an override gives a job more.
        assert (await h.request("PUT", "/metrics/job/b", lines(1, "b"))).status == 200
        for _ in range(20):
            assert (await h.request("PUT", "/metrics/job/fast", lines(1, "f"))).status == 200
        h.ticks.now += 1.0  # one token back
        assert (await h.request("PUT", "/metrics/job/a", lines(1))).status == 200
        # DELETE is never rate limited.
        assert (await h.request("DELETE", "/metrics/job/a")).status == 202

    run_with(config_file, body)


def test_no_config_no_limits_and_only_official_metrics() -> None:
    async def body(h: Harness) -> None:
        assert (await h.request("PUT", "/metrics/job/a", lines(50))).status == 200
        assert "pushgate_" not in h.own_metrics()

    run_with(None, body)


# -- the pusher's TTL -------------------------------------------------------------------------
def test_ttl_from_header_or_query_shown_by_the_api(config_file: Path) -> None:
    async def body(h: Harness) -> None:
        r = await h.request("PUT", "/metrics/job/a/instance/1", lines(1), {TTL_HEADER: "1d"})
        assert r.status == 200
        r = await h.request("PUT", "/metrics/job/a/instance/2?ttl=3600", lines(1, "n"))
        assert r.status == 200
        await h.request("PUT", "/metrics/job/forever", lines(1, "o"))
        await h.request("PUT", "/metrics/job/b", lines(1, "p"))
        api = await h.request("GET", "/api/v1/metrics")
        groups = {
            g["labels"].get("instance", g["labels"]["job"]): g
            for g in json.loads(text(api))["data"]
        }
        assert groups["1"]["expires_at"] == "2023-11-15T22:13:20Z"  # T0 + 1d
        assert groups["2"]["expires_at"] == "2023-11-14T23:13:20Z"  # T0 + 1h
        assert "expires_at" not in groups["forever"]
        assert groups["b"]["expires_at"] == "2023-12-14T22:13:20Z"  # the default, 30d

        h.clock.now = T0 + 2 * 3600  # instance 2 expired
        api = await h.request("GET", "/api/v1/metrics")
        instances = {g["labels"].get("instance") for g in json.loads(text(api))["data"]}
        assert "2" not in instances and "1" in instances
        scrape = await h.request("GET", "/metrics")
        assert b'instance="2"' not in (scrape.body or b"")  # type: ignore[operator]

    run_with(config_file, body)


def test_bad_ttl_is_a_400() -> None:
    async def body(h: Harness) -> None:
        r = await h.request("PUT", "/metrics/job/a", lines(1), {TTL_HEADER: "soon"})
        assert (
            r.status == 400 and "invalid X-Pushgate-TTL header: 'soon' is not a duration" in text(r)
        )
        r = await h.request("PUT", "/metrics/job/a?ttl=0", lines(1))
        assert r.status == 400 and "?ttl= parameter" in text(r)
        r = await h.request("PUT", "/metrics/job/a?ttl=1h", lines(1), {TTL_HEADER: "2h"})
        assert r.status == 400 and "the TTL is given twice" in text(r)
        assert h.store.groups() == []
        # Without a config file the pusher's TTL still applies.
        await h.request("PUT", "/metrics/job/a", lines(1), {TTL_HEADER: "90s"})
        group = h.store.group((("job", "a"),))
        assert group is not None and group.expires_at == T0 + 90

    run_with(None, body)


# -- reload ------------------------------------------------------------------------------------
def test_reload_applies_a_new_config(config_file: Path) -> None:
    async def body(h: Harness) -> None:
        for i in range(2):
            await h.request("PUT", f"/metrics/job/a/instance/{i}", lines(1, f"m{i}"))
        config_file.write_text(
            "expiry:\n  default_ttl: 1h\nretention:\n  - by: [job]\n    keep: 1\n"
            "limits:\n  max_samples_per_push: 1\n"
        )
        h.clock.now = T0 + 10
        r = await h.request("POST", "/-/reload")
        assert r.status == 200, text(r)
        assert "1 group(s) deleted" in text(r)  # keep 1 per job now
        assert [dict(g.key)["instance"] for g in h.store.groups()] == ["1"]
        group = h.store.group((("instance", "1"), ("job", "a")))
        assert group is not None and group.expires_at == T0 + 3600  # re-dated
        r = await h.request("PUT", "/metrics/job/b", lines(2))
        assert r.status == 413  # the new request limits are in force too
        metrics = h.own_metrics()
        assert "pushgate_config_last_reload_successful 1" in metrics
        assert "pushgate_groups_retained_deleted_total 1" in metrics
        assert 'pushgate_limit{limit="max_samples_per_push"} 1' in metrics

    run_with(config_file, body)


def test_a_bad_config_is_refused_and_the_old_one_stays(config_file: Path) -> None:
    async def body(h: Harness) -> None:
        config_file.write_text("limits:\n  max_samples_per_push: 1\n  push_rate: fast\n")
        r = await h.request("PUT", "/-/reload")
        assert r.status == 500
        assert text(r) == (
            f"failed to reload config: {config_file}:3: limits.push_rate: expected a mapping"
            " with keys per_second, burst, overrides\n"
        )
        assert "pushgate_config_last_reload_successful 0" in h.own_metrics()
        assert (await h.request("PUT", "/metrics/job/a", lines(4))).status == 200  # still 5
        assert h.store.policy.retention.default_ttl == 30 * DAY

    run_with(config_file, body)


def test_reload_needs_the_lifecycle_flag(config_file: Path) -> None:
    async def body(h: Harness) -> None:
        r = await h.request("POST", "/-/reload")
        assert r.status == 403 and text(r) == "Lifecycle API is not enabled.\n"

    run_with(config_file, body, lifecycle=False)


def test_reload_route_exists_only_with_a_config_file() -> None:
    without = Router(build_routes(Settings(enable_lifecycle=True)), "")
    assert not isinstance(without.resolve("POST", "/-/reload", ""), Match)  # 404, as 1.5.1


def test_the_documented_example_config_is_valid() -> None:
    from pushgate.server import config

    assert config.__doc__ is not None
    example = config.__doc__.split("::\n\n")[1].split("\nThe full")[0]
    parsed = parse_config("\n".join(line[4:] for line in example.splitlines()), "doc")
    assert parsed.store.retention.keep[0].keep == 20


def test_the_reporter_and_the_gateway_agree_on_the_header() -> None:
    from pushgate.reporter.spool import TTL_HEADER as REPORTER_HEADER

    assert REPORTER_HEADER == TTL_HEADER
