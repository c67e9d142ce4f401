"""pytest plugin: push the session's test results to a Pushgateway.

Installed with the package (entry point ``pytest11``) but inert until enabled
with ``--pushgate-url URL`` or ``PUSHGATE_PYTEST_URL``. A variable of its own,
not ``PUSHGATE_URL``: a job that sets ``PUSHGATE_URL`` for ``pushgate report``
should not also push from every pytest run by surprise.

It pushes ``pytest_tests_total{status=...}`` and ``pytest_duration_seconds``
with POST, under the same grouping key as ``pushgate report`` (job, instance,
branch, version, commit), so a later ``pushgate report --method post`` adds
coverage to the same group. A failed push is a line in the terminal summary,
never a failed session. Under pytest-xdist only the controller pushes.

The heavy imports happen only when enabled, so the plugin costs nothing in
the many sessions that do not use it.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pushgate.reporter.junit import SuiteSummary

ENV_URL = "PUSHGATE_PYTEST_URL"
PLUGIN_NAME = "pushgate-reporter"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("pushgate", "push test results to a Pushgateway (pushgate)")
    group.addoption(
        "--pushgate-url",
        default=None,
        metavar="URL",
        help=f"push the results to this gateway (default: ${ENV_URL}; unset: off)",
    )
    group.addoption("--pushgate-job", default=None, help="job (default: the repository name)")
    group.addoption(
        "--pushgate-version",
        default=None,
        help="version (default: pyproject.toml, package.json, git describe)",
    )
    group.addoption(
        "--pushgate-label",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra grouping label, repeatable",
    )
    group.addoption(
        "--pushgate-timeout",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="HTTP timeout (default 5)",
    )
    group.addoption(
        "--pushgate-spool",
        default=None,
        metavar="DIR",
        help="keep the payload in DIR if it cannot be delivered (`pushgate flush DIR`)",
    )


def pytest_configure(config: pytest.Config) -> None:
    url = config.getoption("pushgate_url") or os.environ.get(ENV_URL)
    if not url or hasattr(config, "workerinput"):
        return
    config.pluginmanager.register(SessionReporter(config, str(url)), PLUGIN_NAME)


class SessionReporter:
    """Counts outcomes as JUnit XML would and pushes them when the session ends."""

    def __init__(self, config: pytest.Config, url: str) -> None:
        self.config = config
        self.url = url
        self.counts = {"passed": 0, "failed": 0, "error": 0, "skipped": 0}
        self.started = time.perf_counter()
        self.message: str | None = None

    def pytest_sessionstart(self) -> None:
        self.started = time.perf_counter()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        # The same rules as pytest's own JUnit XML: a failing setup or teardown
        # is an error; an xfail counts as skipped, an xpass as passed.
        if report.when == "call":
            if report.passed:
                self.counts["passed"] += 1
            elif report.failed:
                self.counts["failed"] += 1
            else:
                self.counts["skipped"] += 1
        elif report.failed:
            self.counts["error"] += 1
        elif report.skipped:
            self.counts["skipped"] += 1

    def summary(self) -> SuiteSummary:
        from pushgate.reporter.junit import SuiteSummary

        c = self.counts
        return SuiteSummary(
            c["passed"], c["failed"], c["error"], c["skipped"], time.perf_counter() - self.started
        )

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        try:
            self.message = self.push(session)
        except Exception as exc:  # a metrics push must never break a test run
            self.message = f"pushgate: warning: results not pushed: {exc}"

    def push(self, session: pytest.Session) -> str:
        from pushgate.core.errors import PushgateError
        from pushgate.reporter.ci_context import detect_ci, git_reader
        from pushgate.reporter.client import Credentials, HttpClient, RetryPolicy, split_gateway_url
        from pushgate.reporter.metrics import suite_families
        from pushgate.reporter.project import detect_version
        from pushgate.reporter.report import (
            Report,
            ReportSettings,
            deliver,
            parse_label_arg,
            resolve_grouping,
        )
        from pushgate.reporter.spool import Spool

        option = self.config.getoption
        root = Path(str(session.config.rootpath))
        try:
            gateway, url_credentials = split_gateway_url(self.url)
            credentials = Credentials.from_env(os.environ)
            if url_credentials is not None and credentials.kind == "none":
                credentials = url_credentials
            settings = ReportSettings(
                project_dir=root,
                job=option("pushgate_job"),
                version=option("pushgate_version"),
                labels=tuple(parse_label_arg(text) for text in option("pushgate_label")),
            )
            git = git_reader(root)
            ci = detect_ci(os.environ, git)
            grouping = resolve_grouping(settings, ci, detect_version(root, git))
            report = Report(grouping, tuple(suite_families(self.summary())))
            payload = report.payload(gateway, "POST")
            client = HttpClient(policy=RetryPolicy(attempts=2, timeout=option("pushgate_timeout")))
            spool_dir = option("pushgate_spool")
            spool = Spool(Path(spool_dir)) if spool_dir else None
            result = deliver(payload, client, credentials, spool)
        except PushgateError as exc:
            return f"pushgate: warning: results not pushed: {exc}"
        if result.error is not None:
            kept = f"; kept in {result.spooled}" if result.spooled else ""
            return f"pushgate: warning: results not pushed: {result.error}{kept}"
        return f"pushgate: pushed test results to {payload.url}"

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self.message:
            terminalreporter.write_line(self.message)
