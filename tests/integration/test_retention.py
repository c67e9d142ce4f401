"""Expiry, retention and limits on a real ``pushgate serve --config.file``.

What a unit test cannot show: the TTL sent by the official Python client
(header and query parameter, through a ``handler``), reload over HTTP and by
SIGHUP in a running process, the TTL kept across a restart, and a bad config
refused at start with the line named. Expiry itself is proven with a fake
clock in tests/unit/store/test_retention.py; nothing here waits for it.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, Gauge
from prometheus_client.exposition import default_handler, push_to_gateway

from tests.conftest import GatewayFactory, GatewayProcess, free_port, pushgate_argv

pytestmark = pytest.mark.integration

CONFIG = """\
expiry:
  default_ttl: 30d
retention:
  - by: [job, branch]
    keep: 2
limits:
  max_samples_per_push: 100
  push_rate:
    per_second: 0.01
    burst: 5
"""


def _request(
    gw: GatewayProcess,
    method: str,
    path: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> tuple[int, str, dict[str, str]]:
    req = urllib.request.Request(
        gw.url + path, data=body or None, method=method, headers=headers or {}
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read().decode(), dict(r.headers)
    except urllib.error.HTTPError as e:
        with e:
            return e.code, e.read().decode(), dict(e.headers)


def _groups(gw: GatewayProcess) -> dict[str, dict[str, Any]]:
    _, body, _ = _request(gw, "GET", "/api/v1/metrics")
    return {g["labels"].get("instance", ""): g for g in json.loads(body)["data"]}


def _scrape(gw: GatewayProcess) -> str:
    return _request(gw, "GET", "/metrics")[1]


def _registry(value: float = 1.0) -> CollectorRegistry:
    registry = CollectorRegistry()
    Gauge("coverage_percent", "Coverage.", registry=registry).set(value)
    return registry


def _expires_in(group: dict[str, Any]) -> float:
    at = datetime.fromisoformat(group["expires_at"].replace("Z", "+00:00")).timestamp()
    return at - time.time()


def _with_ttl_header(ttl: str) -> Callable[..., Callable[[], None]]:
    def handler(
        url: str, method: str, timeout: float | None, headers: list[tuple[str, str]], data: bytes
    ) -> Callable[[], None]:
        return default_handler(url, method, timeout, [*headers, ("X-Pushgate-TTL", ttl)], data)

    return handler


def _with_ttl_query(ttl: str) -> Callable[..., Callable[[], None]]:
    def handler(
        url: str, method: str, timeout: float | None, headers: list[tuple[str, str]], data: bytes
    ) -> Callable[[], None]:
        return default_handler(f"{url}?ttl={ttl}", method, timeout, headers, data)

    return handler


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    path = tmp_path / "pushgate.yml"
    path.write_text(CONFIG)
    return path


def test_prometheus_client_sends_a_ttl(pushgate_factory: GatewayFactory, config_path: Path) -> None:
    gw = pushgate_factory(f"--config.file={config_path}")
    address = f"127.0.0.1:{gw.port}"
    push_to_gateway(
        address, "ci-h", _registry(), grouping_key={"instance": "h"}, handler=_with_ttl_header("2h")
    )
    push_to_gateway(
        address, "ci-q", _registry(), grouping_key={"instance": "q"}, handler=_with_ttl_query("3h")
    )
    push_to_gateway(address, "ci-d", _registry(), grouping_key={"instance": "d"})
    groups = _groups(gw)
    assert 7190 < _expires_in(groups["h"]) <= 7200
    assert 10790 < _expires_in(groups["q"]) <= 10800
    assert 30 * 86400 - 10 < _expires_in(groups["d"]) <= 30 * 86400  # the default
    # A query string in the gateway address does not survive: the client puts
    # it in front of /metrics/job/..., so the push goes elsewhere and fails.
    with pytest.raises(urllib.error.HTTPError):
        push_to_gateway(address + "?ttl=1h", "ci", _registry(), grouping_key={"instance": "x"})


def test_limits_answer_clearly_and_are_counted(
    pushgate_factory: GatewayFactory, config_path: Path
) -> None:
    gw = pushgate_factory(f"--config.file={config_path}")
    body = "".join(f'm{{n="{i}"}} {i}\n' for i in range(101)).encode()
    status, text, _ = _request(gw, "PUT", "/metrics/job/big", body)
    assert status == 413 and "more than max_samples_per_push (100)" in text
    assert _groups(gw) == {}
    for i in range(5):
        assert _request(gw, "PUT", f"/metrics/job/fast/instance/{i}", b"m 1\n")[0] == 200
    status, text, headers = _request(gw, "PUT", "/metrics/job/fast/instance/9", b"m 1\n")
    assert status == 429 and int(headers["Retry-After"]) >= 1
    scrape = _scrape(gw)
    assert 'pushgate_limit_rejections_total{reason="samples_per_push"} 1' in scrape
    assert 'pushgate_limit_rejections_total{reason="push_rate"} 1' in scrape
    assert "pushgate_groups_retained_deleted_total 3" in scrape  # keep 2 per job+branch
    assert 'pushgate_limit{limit="max_samples_per_push"} 100' in scrape


def test_reload_over_http_and_sighup(pushgate_factory: GatewayFactory, config_path: Path) -> None:
    gw = pushgate_factory(f"--config.file={config_path}", "--web.enable-lifecycle")
    config_path.write_text("limits:\n  max_samples_per_push: 1\n")
    status, text, _ = _request(gw, "POST", "/-/reload")
    assert status == 200, text
    assert _request(gw, "PUT", "/metrics/job/a", b"m 1\nn 2\n")[0] == 413

    config_path.write_text("limits:\n  max_samples_per_push: [\n")
    status, text, _ = _request(gw, "PUT", "/-/reload")
    assert status == 500 and f"failed to reload config: {config_path}:3: not valid YAML" in text
    assert "pushgate_config_last_reload_successful 0" in _scrape(gw)
    assert _request(gw, "PUT", "/metrics/job/a", b"m 1\nn 2\n")[0] == 413  # the old one stays

    config_path.write_text("limits:\n  max_samples_per_push: 5\n")
    assert gw.proc is not None
    gw.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while "pushgate_config_last_reload_successful 1" not in _scrape(gw):
        assert time.monotonic() < deadline, gw.log_tail()
        time.sleep(0.05)
    assert _request(gw, "PUT", "/metrics/job/a", b"m 1\nn 2\n")[0] == 200


def test_the_ttl_survives_a_restart(
    pushgate_factory: GatewayFactory, config_path: Path, tmp_path: Path
) -> None:
    port = free_port()
    flags = (f"--config.file={config_path}",)
    gw = pushgate_factory(*flags, port=port, data_dir=tmp_path / "data")
    _request(gw, "PUT", "/metrics/job/a/instance/x", b"m 1\n", {"X-Pushgate-TTL": "2h"})
    before = _groups(gw)["x"]["expires_at"]
    gw.stop()
    again = pushgate_factory(*flags, port=port, data_dir=tmp_path / "data")
    assert _groups(again)["x"]["expires_at"] == before


def test_a_bad_config_stops_the_start(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("retention:\n  - by: [job]\n    keep: none\n")
    argv = pushgate_argv(free_port(), f"--config.file={bad}", data_dir=tmp_path)
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert f"{bad}:3: retention[0].keep: 'none' is not a whole number" in done.stderr
