"""The pytest plugin's outcome counting (pushing is in tests/integration)."""

from __future__ import annotations

from typing import Any, Literal

import pytest

from pushgate.reporter.pytest_plugin import SessionReporter

When = Literal["setup", "call", "teardown"]
Outcome = Literal["passed", "failed", "skipped"]


def _report(when: When, outcome: Outcome) -> pytest.TestReport:
    return pytest.TestReport("t.py::t", ("t.py", 1, "t"), {}, outcome, None, when)


def test_counts_like_junit_xml() -> None:
    config: Any = None
    reporter = SessionReporter(config, "http://gw")
    events: list[tuple[When, Outcome]] = [
        ("setup", "passed"),
        ("call", "passed"),
        ("teardown", "passed"),  # passed
        ("setup", "passed"),
        ("call", "failed"),
        ("teardown", "passed"),  # failed
        ("setup", "failed"),
        ("teardown", "passed"),  # error in setup
        ("setup", "skipped"),
        ("teardown", "passed"),  # skipped
        ("setup", "passed"),
        ("call", "skipped"),
        ("teardown", "passed"),  # xfail
        ("setup", "passed"),
        ("call", "passed"),
        ("teardown", "failed"),  # passed + error
    ]
    for when, outcome in events:
        reporter.pytest_runtest_logreport(_report(when, outcome))
    summary = reporter.summary()
    assert (summary.passed, summary.failed, summary.error, summary.skipped) == (2, 1, 2, 2)
    assert summary.duration_seconds >= 0
