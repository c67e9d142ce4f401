"""scripts/local_stack.py (the stack without Docker) and
scripts/screenshot_prometheus.py (the README's pictures), run for real."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from tests.conftest import free_port, require_binary
from tests.deploy.conftest import REPO

pytestmark = pytest.mark.integration

SCRIPTS = REPO / "scripts"


def test_render_only_writes_a_valid_local_configuration(tmp_path: Path) -> None:
    promtool = require_binary("promtool")
    done = subprocess.run(
        [sys.executable, str(SCRIPTS / "local_stack.py"), "--gateway-port=19091",
         "--prometheus-port=19090", "--render-only", str(tmp_path)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    config = yaml.safe_load((tmp_path / "prometheus.yml").read_text())
    (gateway,) = [j for j in config["scrape_configs"] if j["job_name"] == "pushgate"]
    assert gateway["static_configs"] == [{"targets": ["127.0.0.1:19091"]}]
    assert gateway["honor_labels"] is True
    assert all(Path(f).is_absolute() and Path(f).is_file() for f in config["rule_files"])
    check = subprocess.run(
        [promtool, "check", "config", str(tmp_path / "prometheus.yml")],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert check.returncode == 0, check.stdout + check.stderr

    grafana = tmp_path / "grafana-provisioning"
    datasource = yaml.safe_load((grafana / "datasources/prometheus.yml").read_text())
    assert datasource["datasources"][0]["url"] == "http://127.0.0.1:19090"
    provider = yaml.safe_load((grafana / "dashboards/pushgate.yml").read_text())
    assert (Path(provider["providers"][0]["options"]["path"]) / "ci-quality.json").is_file()


def prometheus_query(url: str, expr: str) -> list[dict[str, Any]]:
    query = urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(f"{url}/api/v1/query?{query}", timeout=10) as response:
        result: list[dict[str, Any]] = json.load(response)["data"]["result"]
    return result


def test_local_stack_runs_pushes_the_demo_and_stops_on_ctrl_c(
    tmp_path: Path, local_stack: ModuleType
) -> None:
    require_binary("prometheus")
    gateway_port, prometheus_port = free_port(), free_port()
    log = tmp_path / "stack.log"
    argv = [
        sys.executable, str(SCRIPTS / "local_stack.py"), f"--data-dir={tmp_path / 'data'}",
        f"--gateway-port={gateway_port}", f"--prometheus-port={prometheus_port}", "--demo",
    ]  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
    prometheus = f"http://127.0.0.1:{prometheus_port}"
    # The latest run of each demo project/branch is its last demo run.
    expected = {(r.job, r.branch): f"{r.version}-{r.commit}" for r in local_stack.DEMO_RUNS}
    try:
        deadline = time.monotonic() + 90
        latest: dict[tuple[str, str], str] = {}
        while time.monotonic() < deadline and proc.poll() is None and latest != expected:
            time.sleep(0.5)
            try:
                found = prometheus_query(prometheus, "job_branch:push_time_seconds:latest")
            except OSError:
                continue
            latest = {
                (s["metric"]["job"], s["metric"]["branch"]): s["metric"]["instance"] for s in found
            }
        assert latest == expected, log.read_text(errors="replace")
        up = prometheus_query(prometheus, 'up{job="pushgate"}')
        assert [s["value"][1] for s in up] == ["1"]
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(30)
    assert code == 0, log.read_text(errors="replace")
    assert (tmp_path / "data" / "prometheus.yml").is_file()


def test_screenshot_script_makes_the_readme_pictures(tmp_path: Path) -> None:
    require_binary("prometheus")
    chromium = require_binary("chromium-headless-shell")
    pytest.importorskip("playwright", reason="pip install -e '.[dev]'")
    done = subprocess.run(
        [sys.executable, str(SCRIPTS / "screenshot_prometheus.py"),
         f"--output-dir={tmp_path}", f"--chromium={chromium}"],
        capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    pictures = ("prometheus-latest", "prometheus-alerts", "dashboard-ci-quality",
                "dashboard-pushgate-health")  # fmt: skip
    for name in (f"{p}.png" for p in pictures):
        data = (tmp_path / name).read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 20_000, name
