"""Fixtures of the deployment tests: the repo's deploy files, and one real
Prometheus per test session configured with the repository's prometheus.yml
and rules (only targets and intervals rewritten).

Prometheus scrapes fixed gateway ports, reserved when the session starts: a
test starts its gateway on ``prometheus.gateway_port(name)`` and Prometheus
finds it at its next scrape. Each gateway gets its own port (its own target),
so data of one test never mixes with another's.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.conftest import REQUIRE_ALL, free_port, require_binary

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"

#: Gateways the end-to-end test runs against; one scrape target each.
GATEWAY_NAMES = ("pushgate", "go")


def load_module(path: Path, name: str) -> ModuleType:
    """Import a script that is not part of a package (deploy/, scripts/)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # Registered before it runs: dataclasses look their module up by name.
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def local_stack() -> ModuleType:
    """scripts/local_stack.py: config rendering, report inputs, Sonar stand-in."""
    return load_module(REPO / "scripts" / "local_stack.py", "pushgate_local_stack")


@pytest.fixture(scope="session")
def dashboards_module() -> ModuleType:
    """deploy/grafana/generate.py (needs grafana-foundation-sdk)."""
    pytest.importorskip("grafana_foundation_sdk", reason="pip install -e '.[dev]'")
    return load_module(DEPLOY / "grafana" / "generate.py", "pushgate_dashboards")


def require_tool(name: str, install: str) -> str:
    """Path of a tool installed with pip (hadolint, check-jsonschema): skip
    when missing, fail when PUSHGATE_REQUIRE_ALL is set."""
    # Console scripts of pip packages sit beside the interpreter, which is
    # not on PATH when a venv is used without being activated (scripts/check).
    search = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    path = shutil.which(name, path=search)
    if path is None:
        reason = f"{name} is not installed ({install})"
        if REQUIRE_ALL:
            pytest.fail(f"{reason}; PUSHGATE_REQUIRE_ALL is set, so this is an error")
        pytest.skip(reason)
    return path


@dataclass
class Prometheus:
    """A running Prometheus and the gateway ports it scrapes."""

    url: str
    gateway_ports: dict[str, int]
    proc: subprocess.Popen[bytes]
    log_path: Path
    scrape_interval: float = 1.0
    started: float = field(default_factory=time.time)

    def gateway_port(self, name: str) -> int:
        return self.gateway_ports[name]

    def api(self, path: str, **params: str) -> Any:
        """GET /api/v1/<path>; the ``data`` of a successful answer."""
        url = f"{self.url}/api/v1/{path}?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                body = json.load(response)
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")
            exc.close()
            raise AssertionError(f"{path} {params}: HTTP {exc.code}: {detail}") from None
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """Instant query at the current time: the vector (a scalar as one sample)."""
        data = self.api("query", query=expr, time=f"{time.time():.3f}")
        if data["resultType"] in ("scalar", "string"):
            return [{"metric": {}, "value": data["result"]}]
        result: list[dict[str, Any]] = data["result"]
        return result

    def query_range(self, expr: str, seconds: float = 300.0) -> list[dict[str, Any]]:
        end = time.time()
        start = max(self.started - 5, end - seconds)
        data = self.api("query_range", query=expr, start=f"{start:.3f}", end=f"{end:.3f}", step="1")
        result: list[dict[str, Any]] = data["result"]
        return result

    def wait_for(
        self,
        check: Callable[[], bool],
        what: str,
        timeout: float = 30.0,
    ) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"prometheus exited: {self.log_tail()}")
            if check():
                return
            time.sleep(0.2)
        raise AssertionError(f"timed out after {timeout}s waiting for {what}")

    def log_tail(self, n: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-n:]


@pytest.fixture(scope="session")
def prometheus(
    tmp_path_factory: pytest.TempPathFactory, local_stack: ModuleType
) -> Iterator[Prometheus]:
    """One Prometheus for the session, with the repo's config and rules.

    Scrape and rule evaluation every second (the repo uses 15 s) so the test
    waits seconds, not minutes.
    """
    binary = require_binary("prometheus")
    workdir = tmp_path_factory.mktemp("prometheus")
    port = free_port()
    gateway_ports = {name: free_port() for name in GATEWAY_NAMES}
    config = local_stack.render_prometheus_config(
        gateway_targets=[f"127.0.0.1:{p}" for p in gateway_ports.values()],
        prometheus_target=f"127.0.0.1:{port}",
        scrape_interval="1s",
        evaluation_interval="1s",
    )
    config_path = local_stack.write_prometheus_config(workdir / "prometheus.yml", config)
    log_path = workdir / "prometheus.log"
    argv = local_stack.prometheus_argv(binary, config_path, workdir / "data", f"127.0.0.1:{port}")
    with log_path.open("ab") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=workdir)
    server = Prometheus(f"http://127.0.0.1:{port}", gateway_ports, proc, log_path)
    try:
        local_stack.wait_http_ok(server.url + "/-/ready", 60, proc)
        yield server
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
