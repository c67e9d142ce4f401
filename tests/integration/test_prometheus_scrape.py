"""A real Prometheus scrapes pushgate with honor_labels: true.

One pushgate and one Prometheus (Debian package) for the module; Prometheus
scrapes every second. A push with the CI label strategy's grouping key must
be queryable by job, branch, version and instance.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import GatewayProcess, free_port, pushgate_argv, require_binary

pytestmark = pytest.mark.integration

PUSH_PATH = "/metrics/job/beast-mailbox-core/instance/0.4.5-abc123/branch/main/version/0.4.5"
BODY = b"""# HELP sonarcloud_coverage_percent Coverage measured by SonarCloud.
# TYPE sonarcloud_coverage_percent gauge
sonarcloud_coverage_percent 87.5
# HELP pytest_tests_total Tests of the run by status.
# TYPE pytest_tests_total counter
pytest_tests_total{status="passed"} 120
pytest_tests_total{status="failed"} 2
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[GatewayProcess, str]]:
    prometheus = require_binary("prometheus")
    work = tmp_path_factory.mktemp("prom")
    gw_port = free_port()
    gw = GatewayProcess(pushgate_argv(gw_port, data_dir=work), gw_port, work).start()
    prom_port = free_port()
    config = work / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n"
        "scrape_configs:\n"
        "  - job_name: pushgate\n"
        "    honor_labels: true\n"
        f"    static_configs:\n      - targets: ['127.0.0.1:{gw_port}']\n"
    )
    log = (work / "prometheus.log").open("wb")
    proc = subprocess.Popen(
        [
            prometheus,
            f"--config.file={config}",
            f"--storage.tsdb.path={work / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{prom_port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield gw, f"http://127.0.0.1:{prom_port}"
    finally:
        proc.terminate()
        proc.wait(20)
        log.close()
        gw.stop()


def _query(prom: str, expr: str) -> list[dict[str, object]]:
    url = f"{prom}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=5) as r:
        result: list[dict[str, object]] = json.load(r)["data"]["result"]
    return result


def _eventually(prom: str, expr: str, timeout: float = 30.0) -> list[dict[str, object]]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = _query(prom, expr)
        except OSError:
            result = []
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.5)


def test_prometheus_answers_ci_queries(stack: tuple[GatewayProcess, str]) -> None:
    gw, prom = stack
    request = urllib.request.Request(gw.url + PUSH_PATH, data=BODY, method="PUT")
    with urllib.request.urlopen(request) as r:
        assert r.status == 200
    for selector in (
        '{job="beast-mailbox-core"}',
        '{branch="main"}',
        '{version="0.4.5"}',
        '{instance="0.4.5-abc123"}',
    ):
        result = _eventually(prom, "sonarcloud_coverage_percent" + selector)
        assert len(result) == 1, selector
        metric = result[0]["metric"]
        assert isinstance(metric, dict)
        # honor_labels: the pushed job/instance win over the scrape target's.
        assert metric["job"] == "beast-mailbox-core"
        assert metric["instance"] == "0.4.5-abc123"
        value = result[0]["value"]
        assert isinstance(value, list) and float(value[1]) == 87.5
    passed = _eventually(prom, 'pytest_tests_total{branch="main",status="passed"}')
    assert len(passed) == 1
    value = passed[0]["value"]
    assert isinstance(value, list) and float(value[1]) == 120.0


def test_promtool_accepts_exposition(stack: tuple[GatewayProcess, str], tmp_path: Path) -> None:
    promtool = require_binary("promtool")
    gw, _ = stack
    request = urllib.request.Request(gw.url + PUSH_PATH, data=BODY, method="PUT")
    urllib.request.urlopen(request).close()
    with urllib.request.urlopen(gw.url + "/metrics") as r:
        body = r.read()
    checked = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
