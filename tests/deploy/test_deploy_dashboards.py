"""The Grafana dashboards: generated from deploy/grafana/generate.py, committed
as JSON, and every query valid PromQL that selects the latest run correctly.
(The end-to-end test runs the queries against a real Prometheus.)"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from tests.conftest import require_binary
from tests.deploy.conftest import DEPLOY, REPO
from tests.deploy.test_deploy_end_to_end import panel_queries, substitute
from tests.deploy.test_deploy_prometheus import REPORTED, rules

DASHBOARD_DIR = DEPLOY / "grafana" / "dashboards"
VARIABLES = {
    "job": ".*",
    "branch": ".*",
    "version": ".*",
    "instance": ".*",
    "datasource": "prometheus",
}


def committed() -> dict[str, dict[str, Any]]:
    return {
        path.name: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(DASHBOARD_DIR.glob("*.json"))
    }


def test_committed_json_is_what_the_generator_makes(dashboards_module: ModuleType) -> None:
    generated = dashboards_module.render_all()
    on_disk = {p.name: p.read_text(encoding="utf-8") for p in DASHBOARD_DIR.glob("*.json")}
    assert on_disk == generated, "out of date: run python deploy/grafana/generate.py"
    assert dashboards_module.main(["--check"]) == 0


def test_generator_and_scripts_pass_mypy_strict() -> None:
    """The builder's types are what keeps the JSON valid for Grafana (e.g.
    ``mappings`` is a list); mypy checks them, as it does for src/."""
    pytest.importorskip("mypy", reason="pip install -e '.[dev]'")
    scripts = REPO / "scripts"
    files = [
        DEPLOY / "grafana/generate.py",
        scripts / "local_stack.py",
        scripts / "screenshot_prometheus.py",
    ]
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", *map(str, files)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_committed_json_round_trips_through_the_sdk_model(dashboards_module: ModuleType) -> None:
    """Grafana cannot run here; the SDK's dashboard model is the next best
    judge of the JSON's structure."""
    from grafana_foundation_sdk.models.dashboard import Dashboard

    for path in sorted(DASHBOARD_DIR.glob("*.json")):
        text = path.read_text(encoding="utf-8")
        assert dashboards_module.render(Dashboard.from_json(json.loads(text))) == text, path.name


def test_every_value_mapping_is_a_list() -> None:
    for name, board in committed().items():
        for panel in board["panels"]:
            mappings = panel.get("fieldConfig", {}).get("defaults", {}).get("mappings", [])
            assert isinstance(mappings, list), f"{name}: {panel['title']}"


def test_check_mode_reports_a_stale_file(dashboards_module: ModuleType, tmp_path: Path) -> None:
    assert dashboards_module.main(["--output", str(tmp_path)]) == 0
    (tmp_path / "ci-quality.json").write_text("{}\n", encoding="utf-8")
    assert dashboards_module.main(["--check", "--output", str(tmp_path)]) == 1


def test_dashboards_and_their_variables() -> None:
    boards = committed()
    assert set(boards) == {"ci-quality.json", "pushgate-health.json"}
    assert len({b["uid"] for b in boards.values()}) == len(boards)
    ci = {v["name"]: v for v in boards["ci-quality.json"]["templating"]["list"]}
    assert set(ci) == {"datasource", "job", "branch", "version"}
    for name in ("job", "branch", "version"):
        assert ci[name]["includeAll"] and ci[name]["multi"], name
        assert ci[name]["allValue"] == ".*", name
        assert ci[name]["query"].startswith("label_values(push_time_seconds"), name


def test_every_panel_uses_the_datasource_variable() -> None:
    for name, board in committed().items():
        for panel in board["panels"]:
            if panel["type"] == "row":
                continue
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, (
                f"{name}: {panel['title']}"
            )
            assert panel["targets"], f"{name}: {panel['title']} has no query"


def test_ci_queries_filter_by_the_variables_and_never_read_raw_run_metrics() -> None:
    """Per-run metrics are read only through the latest-run recording rules
    (selected by push time): max/topk over raw series would return the best
    run ever pushed."""
    raw = re.compile(r"(?<![\w:])(" + "|".join(map(re.escape, REPORTED)) + r")\b")
    for query in panel_queries(committed()["ci-quality.json"], "ci-quality.json"):
        where = f"{query.panel}/{query.ref}: {query.expr}"
        assert not raw.search(query.expr), where
        assert 'job=~"$job"' in query.expr and 'branch=~"$branch"' in query.expr, where
        if ":latest" in query.expr:
            assert 'version=~"$version"' in query.expr, where


def test_every_recorded_series_used_exists() -> None:
    recorded = {rule["record"] for rule in rules() if "record" in rule}
    for name, board in committed().items():
        for query in panel_queries(board, name):
            for series in re.findall(r"\b\w+:\w+:\w+\b", query.expr):
                assert series in recorded, f"{name} {query.panel}: {series} is not recorded"


def test_every_query_is_valid_promql(tmp_path: Path) -> None:
    """promtool parses each query (variables substituted) as a rule expression."""
    promtool = require_binary("promtool")
    exprs = [
        substitute(q.expr, VARIABLES)
        for name, b in committed().items()
        for q in panel_queries(b, name)
    ]
    assert exprs
    group = {
        "name": "dashboard-queries",
        "rules": [{"record": f"dashboard:query_{i}:check", "expr": e} for i, e in enumerate(exprs)],
    }
    path = tmp_path / "queries.yml"
    path.write_text(yaml.safe_dump({"groups": [group]}), encoding="utf-8")
    done = subprocess.run(
        [promtool, "check", "rules", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ('a{job=~"$job"}', 'a{job=~"x|y"}'),
        ('a{b=~"${branch}"}[$__rate_interval]', 'a{b=~"main"}[1m]'),
    ],
)
def test_substitute(expr: str, expected: str) -> None:
    assert substitute(expr, {"job": "x|y", "branch": "main"}) == expected
