"""The Prometheus configuration and rules: promtool checks, rule unit tests,
and the contracts between the rules, the reporter's metrics and compose."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from pushgate.reporter import metrics as reporter_metrics
from tests.conftest import require_binary
from tests.deploy.conftest import DEPLOY

PROMETHEUS_DIR = DEPLOY / "prometheus"
RULE_FILES = sorted((PROMETHEUS_DIR / "rules").glob("*.yml"))
RULE_TESTS = sorted((Path(__file__).parent / "promtool").glob("*.test.yml"))

#: The families ``pushgate report`` pushes (name -> spec), from the reporter itself.
REPORTED = {
    spec.name
    for spec in (
        reporter_metrics.TESTS,
        reporter_metrics.TEST_DURATION,
        reporter_metrics.COVERAGE,
        *reporter_metrics.SONAR_SPECS.values(),
        reporter_metrics.QUALITY_GATE,
        reporter_metrics.WORKFLOW_RUNS,
        reporter_metrics.WORKFLOW_DURATION,
    )
}


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    binary = require_binary("promtool")
    return subprocess.run([binary, *args], capture_output=True, text=True, timeout=120, check=False)


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def rules() -> list[dict[str, Any]]:
    return [
        rule for path in RULE_FILES for group in load(path)["groups"] for rule in group["rules"]
    ]


def test_promtool_check_config() -> None:
    done = promtool("check", "config", str(PROMETHEUS_DIR / "prometheus.yml"))
    assert done.returncode == 0, done.stdout + done.stderr


def test_promtool_check_rules() -> None:
    done = promtool("check", "rules", *map(str, RULE_FILES))
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("test_file", RULE_TESTS, ids=[p.name for p in RULE_TESTS])
def test_promtool_test_rules(test_file: Path) -> None:
    done = promtool("test", "rules", str(test_file))
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_rule_file_is_loaded_and_tested() -> None:
    config = load(PROMETHEUS_DIR / "prometheus.yml")
    loaded = {(PROMETHEUS_DIR / f).resolve() for f in config["rule_files"]}
    assert loaded == {p.resolve() for p in RULE_FILES}
    tested = {(test.parent / f).resolve() for test in RULE_TESTS for f in load(test)["rule_files"]}
    assert tested == loaded


def test_every_alert_has_a_firing_and_a_silent_case() -> None:
    firing: set[str] = set()
    silent: set[str] = set()
    for path in RULE_TESTS:
        for case in load(path)["tests"]:
            for check in case.get("alert_rule_test", []):
                (firing if check.get("exp_alerts") else silent).add(check["alertname"])
    alerts = {rule["alert"] for rule in rules() if "alert" in rule}
    assert alerts, "no alert rules found"
    assert alerts - firing == set(), "alerts never tested firing"
    assert alerts - silent == set(), "alerts never tested not firing"
    for rule in rules():
        if "alert" in rule:
            assert rule["labels"]["severity"] in ("warning", "critical"), rule["alert"]
            assert {"summary", "description"} <= set(rule["annotations"]), rule["alert"]


def test_every_reported_metric_has_a_latest_rule_selected_by_push_time() -> None:
    """A metric the reporter pushes without a latest rule would have no
    cheap, correct "latest run" series; a rule for a metric nobody pushes
    is dead."""
    latest = {
        m.group(1): rule["expr"]
        for rule in rules()
        if "record" in rule and (m := re.fullmatch(r"job_branch:(\w+):latest", rule["record"]))
    }
    assert set(latest) - {"push_time_seconds"} == REPORTED
    selector = "and on (job, branch, instance, workflow_run_id) job_branch:push_time_seconds:latest"
    for metric, expr in latest.items():
        if metric != "push_time_seconds":
            assert " ".join(expr.split()) == f"{metric} {selector}", metric


def test_recording_rules_only_read_earlier_records() -> None:
    """Rules of one group run in order; a rule reading a record defined
    later would see the previous evaluation's value."""
    for path in RULE_FILES:
        for group in load(path)["groups"]:
            defined: set[str] = set()
            for rule in group["rules"]:
                used = set(re.findall(r"\b\w+:\w+:\w+\b", rule["expr"]))
                later = used - defined - {rule.get("record")}
                known = {
                    r["record"] for g in load(path)["groups"] for r in g["rules"] if "record" in r
                }
                assert not (later & known), f"{rule.get('record') or rule.get('alert')}: {later}"
                if "record" in rule:
                    defined.add(rule["record"])


def test_gateway_scrape_job() -> None:
    config = load(PROMETHEUS_DIR / "prometheus.yml")
    assert config["global"]["scrape_interval"] == "15s"
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == "pushgate"]
    assert job["honor_labels"] is True
    assert job["static_configs"] == [{"targets": ["pushgate:9091"]}]
