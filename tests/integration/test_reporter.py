"""``pushgate report``/``flush`` and the pytest plugin against real gateways.

Every push test runs against both pushgate and the Debian Go Pushgateway
1.5.1 and reads the group back through ``/api/v1/metrics``, so the grouping
key (including the ``@base64`` branch) is checked by the servers themselves.
The Sonar tests use a local HTTP server answering the Web API's documented
JSON shapes.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from pushgate.cli import report as cli
from tests.conftest import GatewayProcess, free_port

pytestmark = pytest.mark.integration

GOLDEN = Path(__file__).parents[1] / "golden" / "reporter"
SRC = Path(__file__).parents[2] / "src"
SHA = "3f786850e387550fdab836ed7e6dc881de23001b"
GITHUB = {
    "GITHUB_ACTIONS": "true",
    "GITHUB_SHA": SHA,
    "GITHUB_REF_NAME": "17/merge",
    "GITHUB_HEAD_REF": "feature/login",
    "GITHUB_REPOSITORY": "acme/beast-mailbox-core",
    "GITHUB_WORKFLOW": "CI",
    "GITHUB_RUN_ID": "987654321",
}
EXPECTED_GROUP = {
    "job": "beast-mailbox-core",
    "instance": "0.4.5-3f78685",
    "branch": "feature/login",
    "version": "0.4.5",
    "commit": "3f78685",
}


@pytest.fixture(params=["pushgate", "go_gateway"])
def gateway(request: pytest.FixtureRequest) -> GatewayProcess:
    gw: GatewayProcess = request.getfixturevalue(request.param)
    return gw


def _run(*argv: str, env: Mapping[str, str] = GITHUB) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="pushgate")
    cli.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(list(argv))
    out, err = io.StringIO(), io.StringIO()
    fakes = cli.Io(env=dict(env), out=out, err=err, sleep=lambda s: None)
    runner = cli.run_report if args.command == "report" else cli.run_flush
    return runner(args, fakes), out.getvalue(), err.getvalue()


def _groups(gw: GatewayProcess) -> list[dict[str, Any]]:
    with urllib.request.urlopen(gw.url + "/api/v1/metrics", timeout=10) as resp:
        groups: list[dict[str, Any]] = json.load(resp)["data"]
    return groups


def _values(group: Mapping[str, Any], family: str) -> dict[tuple[tuple[str, str], ...], str]:
    """Series of one family keyed by their non-grouping labels."""
    grouping = set(group["labels"]) | {"instance"}
    return {
        tuple(sorted((k, v) for k, v in m["labels"].items() if k not in grouping)): m["value"]
        for m in group[family]["metrics"]
    }


def test_report_reads_back_with_the_exact_grouping_labels(gateway: GatewayProcess) -> None:
    code, _, err = _run(
        "report",
        "--gateway",
        gateway.url,
        "--version",
        "0.4.5",
        "--junit",
        str(GOLDEN / "pytest-junit.xml"),
        "--coverage",
        str(GOLDEN / "coverage.xml"),
        "--metric",
        'wheel_size_bytes{python="3.11"}=52133',
    )
    assert code == 0, err
    assert "pushed" in err
    (group,) = _groups(gateway)
    assert group["labels"] == EXPECTED_GROUP
    assert group["last_push_successful"] is True
    assert _values(group, "pytest_tests_total") == {
        (("status", "passed"),): "2",
        (("status", "failed"),): "1",
        (("status", "error"),): "1",
        (("status", "skipped"),): "2",
    }
    assert group["pytest_tests_total"]["type"] == "COUNTER"
    assert _values(group, "coverage_percent") == {
        (("type", "line"),): "80",
        (("type", "branch"),): "75",
    }
    assert _values(group, "pytest_duration_seconds") == {(): "0.054"}
    assert _values(group, "github_workflow_runs_total") == {
        (("conclusion", "failure"), ("workflow", "CI")): "1"
    }
    # Every series carries the grouping labels, instance included.
    for metric in group["coverage_percent"]["metrics"]:
        assert {k: metric["labels"][k] for k in EXPECTED_GROUP} == EXPECTED_GROUP


def test_run_id_and_extra_labels(gateway: GatewayProcess) -> None:
    code, _, err = _run(
        "report",
        "--gateway",
        gateway.url,
        "--version",
        "0.4.5",
        "--with-run-id",
        "--label",
        "team=pay/ments",
        "--metric",
        "x=1",
    )
    assert code == 0, err
    (group,) = _groups(gateway)
    assert group["labels"] == {
        **EXPECTED_GROUP,
        "workflow_run_id": "987654321",
        "team": "pay/ments",
    }


def test_a_second_push_of_the_same_commit_replaces_the_group(gateway: GatewayProcess) -> None:
    for coverage in ("coverage.xml", "istanbul.lcov"):
        code, _, err = _run(
            "report",
            "--gateway",
            gateway.url,
            "--version",
            "0.4.5",
            "--coverage",
            str(GOLDEN / coverage),
            "--no-ci-metrics",
        )
        assert code == 0, err
    (group,) = _groups(gateway)
    assert _values(group, "coverage_percent") == {
        (("type", "line"),): "100",
        (("type", "branch"),): "50",
    }


def test_gateway_down_spool_then_flush_loses_nothing(
    gateway: GatewayProcess, tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    down = f"http://127.0.0.1:{free_port()}"
    for version in ("1.0.0", "1.0.1", "1.0.2"):
        code, _, err = _run(
            "report",
            "--gateway",
            down,
            "--version",
            version,
            "--retries",
            "1",
            "--timeout",
            "2",
            "--junit",
            str(GOLDEN / "go-junit-report.xml"),
            "--spool",
            str(spool),
        )
        assert code == 0, err
        assert "warning: push to" in err and "kept in" in err
    assert len(list(spool.glob("*.json"))) == 3

    code, _, err = _run("flush", str(spool), "--gateway", down, "--retries", "0")
    assert code == 0 and "delivered 0, kept 3" in err

    code, _, err = _run("flush", str(spool), "--gateway", gateway.url)
    assert code == 0 and "delivered 3, kept 0, rejected 0" in err, err
    assert list(spool.glob("*.json")) == []
    groups = sorted(_groups(gateway), key=lambda g: str(g["labels"]["version"]))
    assert [g["labels"]["instance"] for g in groups] == [
        "1.0.0-3f78685",
        "1.0.1-3f78685",
        "1.0.2-3f78685",
    ]
    for group in groups:
        assert group["labels"]["branch"] == "feature/login"
        assert _values(group, "pytest_tests_total")[(("status", "passed"),)] == "3"


def test_refused_push_is_reported_and_spooled_aside(
    gateway: GatewayProcess, tmp_path: Path
) -> None:
    # A family pushed as a counter by one group, then as a gauge by another:
    # the gateway's consistency check refuses the second push (HTTP 400).
    (tmp_path / "a.prom").write_text("# TYPE conflict_x counter\nconflict_x 1\n")
    code, _, err = _run(
        "report",
        "--gateway",
        gateway.url,
        "--version",
        "1",
        "--no-ci-metrics",
        "--project-dir",
        str(tmp_path),
        "--metrics-file",
        "a.prom",
    )
    assert code == 0, err
    spool = tmp_path / "spool"
    argv = [
        "report",
        "--gateway",
        gateway.url,
        "--version",
        "2",
        "--no-ci-metrics",
        "--metric",
        "conflict_x=2",
        "--spool",
        str(spool),
    ]
    code, _, err = _run(*argv)
    assert code == 0 and "answered HTTP 400" in err, err
    code, _, err = _run(*argv, "--strict")
    assert code == 1
    code, _, err = _run("flush", str(spool))
    assert "rejected 2" in err
    assert len(list((spool / "rejected").glob("*.json"))) == 2


def _pytest_with_plugin(
    cwd: Path, env: dict[str, str], *args: str
) -> subprocess.CompletedProcess[str]:
    """A pytest session in ``cwd`` with exactly our plugin loaded (installed or not)."""
    full_env = {
        **os.environ,
        **GITHUB,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")])),
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
        **env,
    }
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "pushgate.reporter.pytest_plugin",
            "-p",
            "no:cacheprovider",
            "-q",
            *args,
        ],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_pytest_plugin_pushes_the_session(gateway: GatewayProcess, tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "demo"\nversion = "0.4.5"\n')
    (tmp_path / "test_demo.py").write_text(
        "import pytest\n"
        "def test_ok(): pass\n"
        "def test_ok2(): pass\n"
        "def test_bad(): assert False\n"
        "@pytest.fixture\n"
        "def broken(): raise RuntimeError('x')\n"
        "def test_err(broken): pass\n"
        "@pytest.mark.skip\n"
        "def test_skip(): pass\n"
        "@pytest.mark.xfail\n"
        "def test_xfail(): assert False\n"
    )
    done = _pytest_with_plugin(
        tmp_path,
        {"PUSHGATE_PYTEST_URL": gateway.url},
        "--pushgate-label",
        "suite=unit",
        "test_demo.py",
    )
    assert done.returncode == 1, done.stdout + done.stderr  # the demo has a failing test
    assert "pushgate: pushed test results to " + gateway.url in done.stdout, done.stdout
    (group,) = _groups(gateway)
    assert group["labels"] == {**EXPECTED_GROUP, "job": "beast-mailbox-core", "suite": "unit"}
    assert _values(group, "pytest_tests_total") == {
        (("status", "passed"),): "2",
        (("status", "failed"),): "1",
        (("status", "error"),): "1",
        (("status", "skipped"),): "2",
    }
    assert float(_values(group, "pytest_duration_seconds")[()]) > 0
    # POST: a later `report --method post` adds coverage to the same group.
    code, _, err = _run(
        "report",
        "--gateway",
        gateway.url,
        "--version",
        "0.4.5",
        "--label",
        "suite=unit",
        "--method",
        "post",
        "--no-ci-metrics",
        "--coverage",
        str(GOLDEN / "coverage.json"),
    )
    assert code == 0, err
    (group,) = _groups(gateway)
    assert "pytest_tests_total" in group and "coverage_percent" in group


def test_pytest_plugin_never_fails_the_session_when_the_gateway_is_down(tmp_path: Path) -> None:
    (tmp_path / "test_ok.py").write_text("def test_ok(): pass\n")
    done = _pytest_with_plugin(
        tmp_path,
        {},
        "--pushgate-url",
        f"http://127.0.0.1:{free_port()}",
        "--pushgate-version",
        "1",
        "--pushgate-timeout",
        "1",
        "test_ok.py",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "pushgate: warning: results not pushed: push to http://127.0.0.1:" in done.stdout


# --- SonarCloud / SonarQube Web API ------------------------------------------------

MEASURES = {
    "component": {
        "key": "acme_shop",
        "name": "shop",
        "qualifier": "TRK",
        "measures": [
            {"metric": "coverage", "value": "81.4", "bestValue": False},
            {"metric": "bugs", "value": "3", "bestValue": False},
            {"metric": "vulnerabilities", "value": "0", "bestValue": True},
            {"metric": "code_smells", "value": "42", "bestValue": False},
            {"metric": "duplicated_lines_density", "value": "1.7", "bestValue": False},
        ],
    }
}
GATE = {"projectStatus": {"status": "OK", "conditions": [], "ignoredConditions": False}}


class FakeSonar(BaseHTTPRequestHandler):
    """Answers like SonarCloud: 401 without the right token, 404 for other projects."""

    token_header = "Basic c3FfdG9rOg=="  # "sq_tok:"
    delay = 0.0
    paths: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        type(self).paths.append(self.path)
        if self.delay:
            time.sleep(self.delay)
        if self.headers.get("Authorization") != self.token_header:
            self._send(401, b"")
        elif "acme_shop" not in self.path:
            self._send(
                404, json.dumps({"errors": [{"msg": "Component key 'other' not found"}]}).encode()
            )
        elif self.path.startswith("/api/measures/component?"):
            self._send(200, json.dumps(MEASURES).encode())
        elif self.path.startswith("/api/qualitygates/project_status?"):
            self._send(200, json.dumps(GATE).encode())
        else:
            self._send(404, b'{"errors":[{"msg":"Unknown url"}]}')

    def _send(self, status: int, body: bytes) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout test)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def sonar() -> Iterator[str]:
    FakeSonar.delay = 0.0
    FakeSonar.paths = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeSonar)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(5)


def _sonar_report(sonar: str, *extra: str, token: str | None = "sq_tok") -> tuple[int, str, str]:
    env = {**GITHUB, **({"SONAR_TOKEN": token} if token else {})}
    return _run(
        "report",
        "--version",
        "1",
        "--dry-run",
        "--no-ci-metrics",
        "--metric",
        "x=1",
        "--sonar-url",
        sonar,
        *extra,
        env=env,
    )


def test_sonar_measures(sonar: str) -> None:
    code, out, err = _sonar_report(sonar, "--sonar-project", "acme_shop")
    assert code == 0, err
    lines = out.splitlines()
    for line in (
        "sonarcloud_coverage_percent 81.4",
        "sonarcloud_bugs 3",
        "sonarcloud_vulnerabilities 0",
        "sonarcloud_code_smells 42",
        "sonarcloud_duplicated_lines_density_percent 1.7",
        'sonarcloud_quality_gate_status{status="OK"} 1',
        'sonarcloud_quality_gate_status{status="ERROR"} 0',
    ):
        assert line in lines


def test_sonar_project_key_from_properties(sonar: str, tmp_path: Path) -> None:
    (tmp_path / "sonar-project.properties").write_text("sonar.projectKey=acme_shop\n")
    code, out, _ = _sonar_report(sonar, "--project-dir", str(tmp_path))
    assert code == 0 and "sonarcloud_bugs 3" in out


def test_sonar_401(sonar: str) -> None:
    code, out, err = _sonar_report(sonar, "--sonar-project", "acme_shop", token="wrong-SECRET")
    assert code == 0
    assert "HTTP 401" in err and "the token in SONAR_TOKEN is invalid or expired" in err
    assert "SECRET" not in out + err
    # The other metrics are still reported.
    assert "x 1" in out.splitlines() and "sonarcloud" not in out
    code, _, err = _sonar_report(sonar, "--sonar-project", "acme_shop", token=None)
    assert "set SONAR_TOKEN to a Sonar user token" in err
    code, _, _ = _sonar_report(sonar, "--sonar-project", "acme_shop", "--strict", token=None)
    assert code == 1


def test_sonar_404(sonar: str) -> None:
    code, _, err = _sonar_report(sonar, "--sonar-project", "other", "--sonar-branch", "feature/x")
    assert code == 0
    assert "HTTP 404" in err and "Component key 'other' not found" in err
    assert "check --sonar-project 'other' and --sonar-branch 'feature/x'" in err
    assert "branch=feature%2Fx" in FakeSonar.paths[0]


def test_sonar_timeout(sonar: str) -> None:
    FakeSonar.delay = 2.0
    started = time.monotonic()
    code, _, err = _sonar_report(
        sonar, "--sonar-project", "acme_shop", "--timeout", "0.3", "--retries", "1"
    )
    assert code == 0
    assert "no answer within 0.3s (gave up after 2 attempts)" in err
    assert time.monotonic() - started < 10
