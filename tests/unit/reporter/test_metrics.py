"""Families, HELP/TYPE, extra metrics, and promtool's verdict on the exposition."""

from __future__ import annotations

import subprocess

import pytest

from pushgate.core.errors import ConfigError
from pushgate.core.model import Metric, MetricFamily
from pushgate.core.textformat import parse_text, render_text
from pushgate.reporter.coverage import CoverageSummary, Ratio
from pushgate.reporter.junit import SuiteSummary
from pushgate.reporter.metrics import (
    check_body_labels,
    coverage_families,
    extra_families,
    merge_families,
    parse_metric_arg,
    sonar_families,
    suite_families,
    workflow_families,
)
from pushgate.reporter.sonar import SonarMeasures
from tests.conftest import require_binary


def _all_families() -> tuple[MetricFamily, ...]:
    return merge_families(
        suite_families(SuiteSummary(10, 2, 1, 3, 12.5)),
        coverage_families(CoverageSummary(Ratio(8, 10), Ratio(3, 4))),
        sonar_families(
            SonarMeasures(
                (
                    ("coverage", 81.4),
                    ("bugs", 3.0),
                    ("vulnerabilities", 0.0),
                    ("code_smells", 42.0),
                    ("duplicated_lines_density", 1.7),
                ),
                "ERROR",
            )
        ),
        workflow_families("CI", "failure", 321.0),
        extra_families(['wheel_size_bytes{python="3.11"}=52133', "deploys_total=1"]),
    )


def test_the_names_the_dashboards_query() -> None:
    text = render_text(_all_families()).decode()
    for line in (
        'pytest_tests_total{status="passed"} 10',
        'pytest_tests_total{status="failed"} 2',
        'pytest_tests_total{status="error"} 1',
        'pytest_tests_total{status="skipped"} 3',
        "pytest_duration_seconds 12.5",
        'coverage_percent{type="line"} 80',
        'coverage_percent{type="branch"} 75',
        "sonarcloud_coverage_percent 81.4",
        "sonarcloud_bugs 3",
        "sonarcloud_vulnerabilities 0",
        "sonarcloud_code_smells 42",
        "sonarcloud_duplicated_lines_density_percent 1.7",
        'sonarcloud_quality_gate_status{status="ERROR"} 1',
        'sonarcloud_quality_gate_status{status="OK"} 0',
        'github_workflow_runs_total{conclusion="failure",workflow="CI"} 1',
        'github_workflow_run_duration_seconds{workflow="CI"} 321',
        'wheel_size_bytes{python="3.11"} 52133',
        "deploys_total 1",
        "# TYPE pytest_tests_total counter",
        "# TYPE github_workflow_runs_total counter",
        "# TYPE deploys_total counter",
        "# TYPE wheel_size_bytes gauge",
    ):
        assert line in text.splitlines(), line


def test_every_family_has_help_and_type_and_round_trips() -> None:
    families = _all_families()
    assert all(f.help for f in families)
    parsed = parse_text(render_text(families))
    assert [(f.name, f.type, f.help) for f in parsed] == [
        (f.name, f.type, f.help) for f in families
    ]


def test_promtool_accepts_the_exposition() -> None:
    promtool = require_binary("promtool")
    done = subprocess.run(
        [promtool, "check", "metrics"],
        input=render_text(_all_families()),
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == b"" and done.stderr.strip() == b""


def test_no_coverage_no_family() -> None:
    assert coverage_families(CoverageSummary()) == []


def test_unknown_gate_status_is_still_reported() -> None:
    (family,) = sonar_families(SonarMeasures((), "PENDING"))
    assert dict((m.labels[0][1], m.value) for m in family.metrics) == {
        "OK": 0.0,
        "WARN": 0.0,
        "ERROR": 0.0,
        "NONE": 0.0,
        "PENDING": 1.0,
    }


def test_workflow_without_duration() -> None:
    assert [f.name for f in workflow_families("CI", "success", None)] == [
        "github_workflow_runs_total"
    ]


@pytest.mark.parametrize(
    ("text", "name", "labels", "value"),
    [
        ("size_bytes=12", "size_bytes", (), 12.0),
        ('x{b="2",a="1"}=1e3', "x", (("a", "1"), ("b", "2")), 1000.0),
        ("x{a=bare, b = two}=-1.5", "x", (("a", "bare"), ("b", "two")), -1.5),
        ('x{a="q\\"uo,te}"}=+Inf', "x", (("a", 'q"uo,te}'),), float("inf")),
        ("x{}=0", "x", (), 0.0),
    ],
)
def test_metric_args(
    text: str, name: str, labels: tuple[tuple[str, str], ...], value: float
) -> None:
    assert parse_metric_arg(text) == (name, Metric(labels, value))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("size", r"--metric 'size': use NAME=VALUE"),
        ("9lives=1", "is not a valid metric name"),
        ("x=twelve", "'twelve' is not a number"),
        ("x{__a=1}=1", "'__a' is not a valid label name"),
        ('x{a="unterminated}=1', "cannot read the labels"),
    ],
)
def test_bad_metric_args(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_metric_arg(text)


def test_same_series_twice() -> None:
    with pytest.raises(ConfigError, match="the same series is given twice"):
        extra_families(["x=1", "x=2"])


def test_a_name_from_two_sources_is_an_error() -> None:
    with pytest.raises(ConfigError, match="'pytest_duration_seconds' is given twice"):
        merge_families(
            suite_families(SuiteSummary()), extra_families(["pytest_duration_seconds=1"])
        )


def test_series_labels_must_not_shadow_grouping_labels() -> None:
    with pytest.raises(ConfigError, match="has label 'branch', which is a grouping label"):
        check_body_labels(extra_families(["x{branch=main}=1"]), ["job", "branch"])
