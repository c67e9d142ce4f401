#!/usr/bin/env python3
"""Run the pushgate monitoring stack locally, without Docker.

Starts ``pushgate serve``, then Prometheus with the repository's
``deploy/prometheus/prometheus.yml`` and rules (only the scrape target is
rewritten to the local gateway), and Grafana with the provisioned data source
and dashboards when a Grafana binary is found. Stops them all on Ctrl-C.

    python scripts/local_stack.py                 # gateway :9091, Prometheus :9090
    python scripts/local_stack.py --demo          # ... and push demo CI runs
    python scripts/local_stack.py --gateway-url http://127.0.0.1:9091
                                                  # scrape a gateway already running
    python scripts/local_stack.py --render-only DIR
                                                  # write the configs, start nothing

Needs: pushgate installed in this interpreter (``pip install -e .``), and the
``prometheus`` binary (Debian/Ubuntu: ``apt-get install prometheus``; or the
release tarball). Grafana is optional (``--grafana PATH`` or ``grafana`` on
PATH). Data (the gateway's store, Prometheus' TSDB, logs) stays in
``--data-dir`` (default ``~/.local/share/pushgate-stack``) across restarts.

The module also holds the helpers the end-to-end test and the screenshot
script share: rendering the Prometheus configuration, writing report files
and a stand-in for the SonarCloud Web API.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy"
PROMETHEUS_CONFIG = DEPLOY / "prometheus" / "prometheus.yml"
GRAFANA_DASHBOARDS = DEPLOY / "grafana" / "dashboards"
GATEWAY_SCRAPE_JOB = "pushgate"

#: Variables of CI providers and of the reporter that would change what
#: ``pushgate report`` detects; removed from the environment of demo pushes.
REPORT_ENV_DROP = (
    "GITHUB_ACTIONS",
    "GITLAB_CI",
    "JENKINS_URL",
    "CIRCLECI",
    "BUILDKITE",
    "TF_BUILD",
    "PUSHGATE_URL",
    "PUSHGATE_TOKEN",
    "PUSHGATE_USERNAME",
    "PUSHGATE_PASSWORD",
    "SONAR_TOKEN",
)


# -- configuration ---------------------------------------------------------


def render_prometheus_config(
    *,
    gateway_targets: Sequence[str],
    prometheus_target: str | None = None,
    scrape_interval: str | None = None,
    evaluation_interval: str | None = None,
    source: Path = PROMETHEUS_CONFIG,
) -> dict[str, Any]:
    """The repository's Prometheus configuration for a local run.

    Only what differs outside compose changes: the targets of the gateway
    job (and of Prometheus' own job), optionally the intervals, and the rule
    files, which become absolute so the result can be written anywhere.
    """
    config: dict[str, Any] = yaml.safe_load(source.read_text(encoding="utf-8"))
    config["rule_files"] = [str((source.parent / rule).resolve()) for rule in config["rule_files"]]
    if scrape_interval is not None:
        config["global"]["scrape_interval"] = scrape_interval
    if evaluation_interval is not None:
        config["global"]["evaluation_interval"] = evaluation_interval
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    if GATEWAY_SCRAPE_JOB not in jobs:
        raise ValueError(f"{source}: no scrape job named {GATEWAY_SCRAPE_JOB!r}")
    jobs[GATEWAY_SCRAPE_JOB]["static_configs"] = [{"targets": list(gateway_targets)}]
    if prometheus_target is not None and "prometheus" in jobs:
        jobs["prometheus"]["static_configs"] = [{"targets": [prometheus_target]}]
    return config


def write_prometheus_config(path: Path, config: Mapping[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(dict(config), sort_keys=False), encoding="utf-8")
    return path


def write_grafana_provisioning(directory: Path, prometheus_url: str) -> Path:
    """Grafana provisioning for a local Grafana: the same data source and
    dashboards as ``deploy/grafana/provisioning``, with local URLs and paths."""
    datasource = yaml.safe_load(
        (DEPLOY / "grafana/provisioning/datasources/prometheus.yml").read_text(encoding="utf-8")
    )
    datasource["datasources"][0]["url"] = prometheus_url
    providers = yaml.safe_load(
        (DEPLOY / "grafana/provisioning/dashboards/pushgate.yml").read_text(encoding="utf-8")
    )
    providers["providers"][0]["options"]["path"] = str(GRAFANA_DASHBOARDS)
    for sub, name, data in (
        ("datasources", "prometheus.yml", datasource),
        ("dashboards", "pushgate.yml", providers),
    ):
        (directory / sub).mkdir(parents=True, exist_ok=True)
        (directory / sub / name).write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    for sub in ("plugins", "alerting", "notifiers"):
        (directory / sub).mkdir(parents=True, exist_ok=True)
    return directory


# -- report inputs (demo data and the end-to-end test) --------------------


def write_junit(path: Path, *, passed: int, failed: int, errors: int, skipped: int) -> Path:
    """A JUnit XML report with the given outcome counts."""
    cases = []
    for i in range(passed):
        cases.append(f'<testcase classname="demo" name="test_pass_{i}" time="0.01"/>')
    for i in range(failed):
        cases.append(
            f'<testcase classname="demo" name="test_fail_{i}" time="0.02">'
            '<failure message="assert 1 == 2"/></testcase>'
        )
    for i in range(errors):
        cases.append(
            f'<testcase classname="demo" name="test_error_{i}" time="0.01">'
            '<error message="fixture failed"/></testcase>'
        )
    for i in range(skipped):
        cases.append(
            f'<testcase classname="demo" name="test_skip_{i}" time="0">'
            '<skipped message="not here"/></testcase>'
        )
    total = passed + failed + errors + skipped
    path.write_text(
        '<?xml version="1.0" encoding="utf-8"?>\n<testsuites>'
        f'<testsuite name="demo" tests="{total}" failures="{failed}" errors="{errors}" '
        f'skipped="{skipped}" time="{0.01 * total + 1:.2f}">'
        + "".join(cases)
        + "</testsuite></testsuites>\n",
        encoding="utf-8",
    )
    return path


def write_coverage_json(
    path: Path, *, statements: int, covered: int, branches: int, covered_branches: int
) -> Path:
    """A ``coverage json`` report (only the totals the reporter reads)."""
    totals = {
        "covered_lines": covered,
        "num_statements": statements,
        "missing_lines": statements - covered,
        "covered_branches": covered_branches,
        "num_branches": branches,
        "percent_covered": 100.0 * (covered + covered_branches) / (statements + branches),
    }
    path.write_text(json.dumps({"meta": {"format": 3}, "totals": totals}), encoding="utf-8")
    return path


@dataclass
class SonarProject:
    """What the SonarCloud stand-in answers for one project key."""

    coverage: float
    bugs: int
    vulnerabilities: int
    code_smells: int
    duplicated_lines_density: float
    quality_gate: str = "OK"


@dataclass
class SonarStub:
    """A stand-in for the two SonarCloud Web API endpoints ``pushgate report`` reads.

    Listens on 127.0.0.1 in a thread; ``projects`` may be changed between
    reports to simulate a new analysis.
    """

    projects: dict[str, SonarProject] = field(default_factory=dict)
    server: ThreadingHTTPServer | None = None
    thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def answer(self, path: str, query: Mapping[str, list[str]]) -> tuple[int, object]:
        if path == "/api/measures/component":
            key = query.get("component", [""])[0]
            project = self.projects.get(key)
            if project is None:
                return 404, {"errors": [{"msg": f"Component key '{key}' not found"}]}
            values = {
                "coverage": project.coverage,
                "bugs": project.bugs,
                "vulnerabilities": project.vulnerabilities,
                "code_smells": project.code_smells,
                "duplicated_lines_density": project.duplicated_lines_density,
            }
            measures = [{"metric": k, "value": str(v)} for k, v in values.items()]
            return 200, {"component": {"key": key, "measures": measures}}
        if path == "/api/qualitygates/project_status":
            key = query.get("projectKey", [""])[0]
            project = self.projects.get(key)
            if project is None:
                return 404, {"errors": [{"msg": f"Project '{key}' not found"}]}
            return 200, {"projectStatus": {"status": project.quality_gate}}
        return 404, {"errors": [{"msg": f"unknown path {path}"}]}

    def start(self) -> SonarStub:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urllib.parse.urlsplit(self.path)
                status, body = stub.answer(url.path, urllib.parse.parse_qs(url.query))
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the stub serves tests and demos."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
        if self.thread is not None:
            self.thread.join(timeout=5)
        self.server = self.thread = None

    def __enter__(self) -> SonarStub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass(frozen=True)
class DemoRun:
    """One CI run to report: grouping key and results."""

    job: str
    branch: str
    version: str
    commit: str
    passed: int
    failed: int
    skipped: int
    line_covered: int
    branch_covered: int
    sonar: SonarProject
    duration_seconds: float = 95.0
    conclusion: str = "success"
    statements: int = 1000
    branches: int = 200


def report_argv(
    run: DemoRun, *, gateway: str, sonar_url: str, workdir: Path, python: str = sys.executable
) -> list[str]:
    """The ``pushgate report`` command line that pushes ``run``; writes its input files."""
    workdir.mkdir(parents=True, exist_ok=True)
    junit = write_junit(
        workdir / "junit.xml",
        passed=run.passed,
        failed=run.failed,
        errors=0,
        skipped=run.skipped,
    )
    coverage = write_coverage_json(
        workdir / "coverage.json",
        statements=run.statements,
        covered=run.line_covered,
        branches=run.branches,
        covered_branches=run.branch_covered,
    )
    return [
        python,
        "-m",
        "pushgate",
        "report",
        "--strict",
        "--retries=0",
        f"--gateway={gateway}",
        f"--job={run.job}",
        f"--branch={run.branch}",
        f"--version={run.version}",
        f"--commit={run.commit}",
        f"--junit={junit}",
        f"--coverage={coverage}",
        f"--sonar-url={sonar_url}",
        f"--sonar-project={run.job}",
        "--workflow=ci",
        f"--conclusion={run.conclusion}",
        f"--started-at={time.time() - run.duration_seconds:.3f}",
        f"--project-dir={workdir}",
    ]


def report_env(environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` without the variables that would change what the reporter detects."""
    return {k: v for k, v in environ.items() if k not in REPORT_ENV_DROP}


def push_run(run: DemoRun, *, gateway: str, sonar: SonarStub, workdir: Path) -> None:
    """Push one run with ``pushgate report``; raise with its output if it fails."""
    sonar.projects[run.job] = run.sonar
    argv = report_argv(run, gateway=gateway, sonar_url=sonar.url, workdir=workdir)
    done = subprocess.run(
        argv, env=report_env(os.environ), capture_output=True, text=True, timeout=60, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"pushgate report failed ({done.returncode}): {done.stderr}")


#: Demo history: three runs of two projects on main and one feature branch.
DEMO_RUNS = (
    DemoRun("shop", "main", "1.4.0", "1a2b3c4", 412, 0, 3, 871, 150,
            SonarProject(86.5, 2, 0, 41, 2.1)),
    DemoRun("billing", "main", "0.9.2", "9f8e7d6", 230, 0, 1, 780, 120,
            SonarProject(79.0, 4, 1, 77, 4.8)),
    DemoRun("shop", "feature/checkout", "1.4.1", "5d6e7f8", 420, 2, 3, 860, 146,
            SonarProject(84.9, 3, 0, 44, 2.3, "ERROR"), conclusion="failure"),
    DemoRun("shop", "main", "1.4.1", "0c1d2e3", 425, 0, 3, 879, 155,
            SonarProject(87.2, 1, 0, 39, 2.0)),
    DemoRun("billing", "main", "0.9.3", "a1b2c3d", 236, 1, 1, 772, 118,
            SonarProject(77.6, 4, 1, 80, 4.9, "ERROR"), conclusion="failure"),
)  # fmt: skip


def push_rejected(gateway: str, job: str, branch: str, instance: str = "9.9.9-deadbee") -> int:
    """A push the gateway refuses (a sample with a timestamp) into a new group,
    as a broken CI step would send; the gateway records its
    push_failure_time_seconds. Returns the HTTP status (400 expected)."""
    encoded = base64.urlsafe_b64encode(branch.encode()).decode().rstrip("=")
    url = f"{gateway}/metrics/job/{job}/instance/{instance}/branch@base64/{encoded}"
    request = urllib.request.Request(url, data=b"sonarcloud_bugs 1 1700000000000\n", method="PUT")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as refused:
        refused.close()
        return int(refused.code)


def push_demo_runs(gateway: str, workdir: Path, *, pause: float = 2.0) -> None:
    """Push the demo runs in order, ``pause`` seconds apart, then one push the
    gateway rejects (for the push-failure panels and alert)."""
    with SonarStub() as sonar:
        for i, run in enumerate(DEMO_RUNS):
            if i:
                time.sleep(pause)
            push_run(run, gateway=gateway, sonar=sonar, workdir=workdir / f"run-{i}")
            print(f"pushed {run.job} {run.branch} {run.version}-{run.commit}", file=sys.stderr)
    status = push_rejected(gateway, "billing", "feature/invoices")
    print(f"pushed a broken report for billing feature/invoices: HTTP {status}", file=sys.stderr)


# -- processes --------------------------------------------------------------


def wait_http_ok(url: str, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    """Wait until ``url`` answers 200; fail early if ``proc`` exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer 200 within {timeout}s")


def prometheus_argv(binary: str, config: Path, data: Path, listen: str) -> list[str]:
    return [
        binary,
        f"--config.file={config}",
        f"--storage.tsdb.path={data}",
        f"--web.listen-address={listen}",
        "--web.enable-lifecycle",
        "--log.level=warn",
    ]


@contextmanager
def process(
    argv: Sequence[str],
    log: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """A child process with its output in ``log``; terminated on exit."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        proc = subprocess.Popen(list(argv), stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(15)


def find_grafana(explicit: str | None) -> list[str] | None:
    """argv prefix of a Grafana server, or None."""
    if explicit:
        return [explicit, "server"] if Path(explicit).name == "grafana" else [explicit]
    if shutil.which("grafana"):
        return ["grafana", "server"]
    if shutil.which("grafana-server"):
        return ["grafana-server"]
    return None


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return run(argv)
    except KeyboardInterrupt:
        # Ctrl-C while starting or pushing the demo: the children are
        # already stopped by the context managers.
        return 130


def run(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path.home() / ".local" / "share" / "pushgate-stack",
        help="state and logs, kept across restarts (default: ~/.local/share/pushgate-stack)",
    )
    parser.add_argument("--gateway-port", type=int, default=9091)
    parser.add_argument("--gateway-url", help="scrape this running gateway instead of starting one")
    parser.add_argument("--prometheus", default="prometheus", help="Prometheus binary")
    parser.add_argument("--prometheus-port", type=int, default=9090)
    parser.add_argument("--grafana", help="Grafana binary (default: grafana on PATH, if any)")
    parser.add_argument(
        "--grafana-home",
        default="/usr/share/grafana",
        help="Grafana's home path (default: %(default)s)",
    )
    parser.add_argument("--grafana-port", type=int, default=3000)
    parser.add_argument("--demo", action="store_true", help="push demo CI runs once it is up")
    parser.add_argument(
        "--render-only",
        type=Path,
        metavar="DIR",
        help="write the Prometheus and Grafana configuration to DIR and exit",
    )
    args = parser.parse_args(argv)

    gateway_url = args.gateway_url or f"http://127.0.0.1:{args.gateway_port}"
    prometheus_url = f"http://127.0.0.1:{args.prometheus_port}"
    config = render_prometheus_config(
        gateway_targets=[urllib.parse.urlsplit(gateway_url).netloc],
        prometheus_target=f"127.0.0.1:{args.prometheus_port}",
    )
    if args.render_only is not None:
        out: Path = args.render_only
        write_prometheus_config(out / "prometheus.yml", config)
        write_grafana_provisioning(out / "grafana-provisioning", prometheus_url)
        print(f"wrote {out / 'prometheus.yml'} and {out / 'grafana-provisioning'}")
        return 0

    if shutil.which(args.prometheus) is None:
        print(
            f"{args.prometheus}: not found; install Prometheus or pass --prometheus PATH",
            file=sys.stderr,
        )
        return 2
    data: Path = args.data_dir.resolve()
    logs = data / "logs"
    config_path = write_prometheus_config(data / "prometheus.yml", config)
    grafana = find_grafana(args.grafana)

    with ExitStack() as stack:
        children: list[subprocess.Popen[bytes]] = []
        if args.gateway_url is None:
            serve = [
                sys.executable,
                "-m",
                "pushgate",
                "serve",
                f"--web.listen-address=127.0.0.1:{args.gateway_port}",
                f"--persistence.file={data / 'pushgate.db'}",
            ]
            children.append(stack.enter_context(process(serve, logs / "pushgate.log")))
        wait_http_ok(gateway_url + "/-/healthy", 30, children[0] if children else None)
        print(f"pushgate:   {gateway_url}", file=sys.stderr)

        listen = f"127.0.0.1:{args.prometheus_port}"
        argv_prometheus = prometheus_argv(args.prometheus, config_path, data / "prometheus", listen)
        prometheus = stack.enter_context(process(argv_prometheus, logs / "prometheus.log"))
        children.append(prometheus)
        wait_http_ok(prometheus_url + "/-/ready", 60, prometheus)
        print(f"Prometheus: {prometheus_url}", file=sys.stderr)

        if grafana is None:
            print("Grafana:    not started (no grafana binary; see --grafana)", file=sys.stderr)
        else:
            provisioning = write_grafana_provisioning(data / "grafana-provisioning", prometheus_url)
            env = {
                **os.environ,
                "GF_PATHS_PROVISIONING": str(provisioning),
                "GF_PATHS_DATA": str(data / "grafana"),
                "GF_PATHS_LOGS": str(logs),
                "GF_SERVER_HTTP_ADDR": "127.0.0.1",
                "GF_SERVER_HTTP_PORT": str(args.grafana_port),
                "GF_AUTH_ANONYMOUS_ENABLED": "true",
                "GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH": str(
                    GRAFANA_DASHBOARDS / "ci-quality.json"
                ),
            }
            grafana_argv = [*grafana, f"--homepath={args.grafana_home}"]
            children.append(stack.enter_context(process(grafana_argv, logs / "grafana.log", env)))
            print(f"Grafana:    http://127.0.0.1:{args.grafana_port}", file=sys.stderr)

        if args.demo:
            push_demo_runs(gateway_url, data / "demo")
        return _wait_forever(children)


def _wait_forever(procs: Sequence[subprocess.Popen[bytes]]) -> int:
    """Block until Ctrl-C (0) or until a child exits (1)."""
    print("running; Ctrl-C stops everything", file=sys.stderr)
    try:
        while True:
            for proc in procs:
                if proc.poll() is not None:
                    print(f"{proc.args!r} exited with {proc.returncode}", file=sys.stderr)
                    return 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
