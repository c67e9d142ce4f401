"""End to end: pushgate report -> gateway -> Prometheus (repo config and rules)
-> every query of every dashboard panel.

Two projects push two runs each on ``main`` and on a ``feature/...`` branch
with ``pushgate report`` (SonarCloud answered by a local stand-in). The first
run of each project and branch has the HIGHER value of every metric, so a
panel that selects by value (max, topk) instead of by push time shows the
first run and fails here. A rejected push then creates a failed group, for
the push-failure panels.

Runs against pushgate and, as a reference, the Go Pushgateway 1.5.1: the
dashboards must work with either.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.conftest import GatewayProcess
from tests.deploy.conftest import DEPLOY, Prometheus

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class Run:
    """One pushed run and the values the dashboards must show for it."""

    job: str
    branch: str
    version: str
    commit: str
    passed: int
    failed: int
    skipped: int
    line: int  # covered lines of 1000
    branches: int  # covered branches of 200
    sonar_coverage: float
    bugs: int
    vulnerabilities: int
    code_smells: int
    duplicated: float
    gate: str
    conclusion: str
    duration: float

    @property
    def instance(self) -> str:
        return f"{self.version}-{self.commit}"


def runs_for(gateway: str) -> list[Run]:
    """Two runs per project and branch; run 2 is lower in every value.

    Job names carry the gateway's name: Prometheus scrapes both gateways of
    the parametrised test, and with honor_labels the same job and run in two
    gateways would be the same series.
    """
    runs = []
    for project, base in ((f"alpha-{gateway}", 0), (f"beta-{gateway}", 10)):
        for branch, sha in (("main", "a"), ("feature/login", "f")):
            first = Run(
                project, branch, f"1.{base}.0", f"{sha}{base:02d}0000",
                passed=60 + base, failed=3, skipped=5, line=950, branches=190,
                sonar_coverage=92.5, bugs=9, vulnerabilities=4, code_smells=70,
                duplicated=6.5, gate="OK", conclusion="failure", duration=400,
            )  # fmt: skip
            second = Run(
                project, branch, f"1.{base}.1", f"{sha}{base:02d}1111",
                passed=40 + base, failed=1, skipped=2, line=800, branches=150,
                sonar_coverage=71.25, bugs=2, vulnerabilities=1, code_smells=30,
                duplicated=3.25, gate="ERROR", conclusion="success", duration=200,
            )  # fmt: skip
            runs += [first, second]
    return runs


def report(local_stack: ModuleType, run: Run, gateway_url: str, sonar: Any, workdir: Path) -> None:
    """Push ``run`` with the real ``pushgate report`` command."""
    demo = local_stack.DemoRun(
        job=run.job,
        branch=run.branch,
        version=run.version,
        commit=run.commit,
        passed=run.passed,
        failed=run.failed,
        skipped=run.skipped,
        line_covered=run.line,
        branch_covered=run.branches,
        sonar=local_stack.SonarProject(
            run.sonar_coverage,
            run.bugs,
            run.vulnerabilities,
            run.code_smells,
            run.duplicated,
            run.gate,
        ),
        duration_seconds=run.duration,
        conclusion=run.conclusion,
    )
    local_stack.push_run(demo, gateway=gateway_url, sonar=sonar, workdir=workdir)


# -- dashboard queries ------------------------------------------------------


@dataclass(frozen=True)
class PanelQuery:
    dashboard: str
    panel: str
    ref: str
    expr: str
    instant: bool


def panel_queries(dashboard: dict[str, Any], name: str) -> Iterator[PanelQuery]:
    """Every Prometheus query of every panel (rows included)."""

    def walk(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for panel in panels:
            yield panel
            yield from walk(panel.get("panels", []))

    for panel in walk(dashboard["panels"]):
        for target in panel.get("targets", []):
            yield PanelQuery(
                name, panel["title"], target["refId"], target["expr"], bool(target.get("instant"))
            )


def substitute(expr: str, variables: dict[str, str]) -> str:
    """Grafana's variable interpolation for the variables the dashboards use.

    Multi-value and "All" become regular expressions (the queries match with
    ``=~``), like Grafana's Prometheus data source does.
    """
    builtins = {"__rate_interval": "1m", "__interval": "15s", "__range": "1h"}
    values = {**builtins, **variables}

    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in values:
            raise AssertionError(f"no value for ${name} in {expr}")
        return values[name]

    return re.sub(r"\$\{(\w+)\}|\$(\w+)", value, expr)


def regex_escape(value: str) -> str:
    """One variable value as Grafana writes it into a Prometheus regex matcher
    (special characters escaped with a backslash, itself escaped for PromQL)."""
    return re.sub(r"[$^*{}\[\]'+?.()|\\]", lambda m: "\\\\" + m.group(0), value)


def values_of(result: list[dict[str, Any]]) -> list[float]:
    """The sample values of an instant result, or the last points of a range result."""
    out = []
    for series in result:
        sample = series["value"] if "value" in series else series["values"][-1]
        out.append(float(sample[1]))
    return out


def run_query(prometheus: Prometheus, query: PanelQuery, variables: dict[str, str]) -> list[Any]:
    expr = substitute(query.expr, variables)
    return prometheus.query(expr) if query.instant else prometheus.query_range(expr)


# -- the test ----------------------------------------------------------------


def start_gateway(request: pytest.FixtureRequest, name: str, port: int) -> GatewayProcess:
    if name == "go":
        factory = request.getfixturevalue("go_gateway_factory")
    else:
        factory = request.getfixturevalue("pushgate_factory")
    gateway: GatewayProcess = factory(port=port)
    return gateway


@pytest.mark.parametrize("gateway_name", ["pushgate", "go"])
def test_every_panel_query_returns_data_and_latest_is_the_newest_run(
    gateway_name: str,
    request: pytest.FixtureRequest,
    prometheus: Prometheus,
    local_stack: ModuleType,
    dashboards_module: ModuleType,
    tmp_path: Path,
) -> None:
    gateway = start_gateway(request, gateway_name, prometheus.gateway_port(gateway_name))
    runs = runs_for(gateway_name)
    alpha, beta = runs[0].job, runs[4].job

    with local_stack.SonarStub() as sonar:
        for i, run in enumerate(runs):
            report(local_stack, run, gateway.url, sonar, tmp_path / f"run-{i}")
    # A broken report: the gateway refuses it and records the failure.
    assert local_stack.push_rejected(gateway.url, beta, "feature/login") == 400

    latest = {(r.job, r.branch): r for r in runs[1::2]}
    jobs = f"{alpha}|{beta}"

    def scraped() -> bool:
        found = prometheus.query(f'job_branch:push_time_seconds:latest{{job=~"{jobs}"}}')
        instances = {(s["metric"]["job"], s["metric"]["branch"]): s["metric"]["instance"]
                     for s in found}  # fmt: skip
        failing = prometheus.query(
            f'job_branch:push_failure_time_seconds:max{{job="{beta}"}}'
            f' > job_branch:push_time_seconds:max{{job="{beta}"}}'
        )
        return bool(failing) and instances == {k: r.instance for k, r in latest.items()}

    prometheus.wait_for(scraped, "Prometheus to scrape all runs and evaluate the rules")

    dashboards = {name: json_text for name, json_text in dashboards_module.render_all().items()}
    committed = {
        name: (DEPLOY / "grafana" / "dashboards" / name).read_text() for name in dashboards
    }
    assert committed == dashboards, "run python deploy/grafana/generate.py"

    queries = [
        q for name, text in dashboards.items() for q in panel_queries(json.loads(text), name)
    ]
    assert len(queries) > 20
    variables = {
        "job": f"({jobs})",
        "branch": ".*",
        "version": ".*",
        "instance": f"127.0.0.1:{gateway.port}",
        "datasource": "prometheus",
    }

    # Every query returns data. Rates need two scrapes after the pushes, so
    # give Prometheus a few seconds before failing.
    empty: list[PanelQuery] = []

    def all_have_data() -> bool:
        empty[:] = [q for q in queries if not run_query(prometheus, q, variables)]
        return not empty

    try:
        prometheus.wait_for(all_have_data, "every panel query to return data", timeout=30)
    except AssertionError:
        lines = [f"{q.dashboard} / {q.panel} / {q.ref}: {q.expr}" for q in empty]
        raise AssertionError("queries without data:\n" + "\n".join(lines)) from None

    # The "latest" panels show the second run of each project and branch.
    for (job, branch), run in latest.items():
        one = {**variables, "job": regex_escape(job), "branch": regex_escape(branch)}
        # beta's feature branch also holds the group of the rejected push.
        groups = 3 if (job, branch) == (beta, "feature/login") else 2
        check_latest_panels(prometheus, queries, one, run, groups)

    # The version variable narrows to the runs of that version.
    run = latest[(alpha, "main")]
    one = {**variables, "job": alpha, "branch": "main", "version": regex_escape(run.version)}
    check_latest_panels(prometheus, queries, one, run, 2)


def check_latest_panels(
    prometheus: Prometheus,
    queries: list[PanelQuery],
    variables: dict[str, str],
    run: Run,
    groups: int,
) -> None:
    """The latest-run panels show ``run``'s values and labels, never an older run's."""
    by_key = {(q.panel, q.ref): q for q in queries if q.dashboard == "ci-quality.json"}
    expected: dict[tuple[str, str], float] = {
        ("SonarCloud coverage", "A"): run.sonar_coverage,
        ("Line coverage (CI)", "A"): run.line / 10,
        ("Failed tests", "A"): run.failed,
        ("Quality gate", "A"): 1.0 if run.gate == "OK" else 0.0,
        ("Latest run", "B"): run.sonar_coverage,
        ("Latest run", "C"): run.line / 10,
        ("Latest run", "D"): run.branches / 2,
        ("Latest run", "E"): run.passed,
        ("Latest run", "F"): run.failed,
        ("Latest run", "G"): run.skipped,
        ("Latest run", "H"): run.bugs,
        ("Latest run", "I"): run.vulnerabilities,
        ("Latest run", "J"): run.code_smells,
        ("Latest run", "K"): run.duplicated,
        ("Coverage", "A"): run.sonar_coverage,
        ("SonarCloud issues", "A"): run.bugs,
        ("SonarCloud issues", "B"): run.vulnerabilities,
        ("SonarCloud issues", "C"): run.code_smells,
        ("Runs held by the gateway", "A"): groups,
    }
    context = f"{variables['job']} {variables['branch']}"
    for key, value in expected.items():
        got = values_of(run_query(prometheus, by_key[key], variables))
        assert got == [pytest.approx(value)], f"{context}: panel {key}: {got} != [{value}]"

    durations = values_of(run_query(prometheus, by_key[("Durations", "B")], variables))
    assert durations == [pytest.approx(run.duration, abs=30)], f"{context}: {durations}"
    tests = run_query(prometheus, by_key[("Test results", "A")], variables)
    assert {s["metric"]["status"]: values_of([s])[0] for s in tests} == {
        "passed": run.passed,
        "failed": run.failed,
        "error": 0,
        "skipped": run.skipped,
    }, context

    # Labels: every series of a latest panel that names the run names this run.
    labels = {"version": run.version, "commit": run.commit, "instance": run.instance}
    for query in by_key.values():
        if ":latest" not in query.expr:
            continue
        for series in run_query(prometheus, query, variables):
            for name, label_value in labels.items():
                if name in series["metric"]:
                    assert series["metric"][name] == label_value, (
                        f"{context}: {query.panel}/{query.ref} shows {series['metric']}"
                    )
    gate = run_query(prometheus, by_key[("Latest run", "L")], variables)
    assert [s["metric"]["status"] for s in gate] == [run.gate], context
    workflow = run_query(prometheus, by_key[("Latest run", "M")], variables)
    assert [s["metric"]["conclusion"] for s in workflow] == [run.conclusion], context
    pushed = values_of(run_query(prometheus, by_key[("Latest run", "A")], variables))
    assert len(pushed) == 1 and time.time() - 300 < pushed[0] / 1000 <= time.time(), context


def test_report_command_is_the_one_this_test_runs() -> None:
    """The end-to-end test drives ``pushgate report``; fail loudly if it is gone."""
    done = subprocess.run(
        [sys.executable, "-m", "pushgate", "report", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    for flag in ("--junit", "--coverage", "--sonar-url", "--conclusion", "--started-at"):
        assert flag in done.stdout
