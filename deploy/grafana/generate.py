"""Generate the Grafana dashboards of the pushgate monitoring stack.

The dashboards are code (grafana-foundation-sdk builders); the JSON files in
``deploy/grafana/dashboards/`` are generated from it and committed so that
Grafana's provisioning can load them without Python. After changing this file::

    python deploy/grafana/generate.py            # rewrite the JSON files
    python deploy/grafana/generate.py --check    # exit 1 if they are out of date

``tests/deploy/test_dashboards.py`` fails when the committed JSON differs from
what this file generates, and the end-to-end test runs every query below
against a real Prometheus.

Query rules:
- Panels that show "the latest run" read the ``job_branch:*:latest`` recording
  rules (deploy/prometheus/rules/ci-recording.yml). Those select the run with
  the newest ``push_time_seconds`` per job and branch; never ``max``/``topk``
  over the raw metric, which returns the best run ever pushed.
- Every query filters with the dashboard variables ``$job``, ``$branch`` and
  ``$version`` (regular expressions; "All" is ``.*``). Series aggregated over
  runs have no ``version`` label and are filtered by job and branch only.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from grafana_foundation_sdk.builders import common as common_builder
from grafana_foundation_sdk.builders import dashboard, prometheus, stat, table, timeseries
from grafana_foundation_sdk.builders.bargauge import Panel as BarGaugePanel
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models.dashboard import (
    Dashboard,
    DashboardCursorSync,
    DataSourceRef,
    DataTransformerConfig,
    DynamicConfigValue,
    Threshold,
    ThresholdsMode,
    ValueMap,
    ValueMappingResult,
    VariableOption,
    VariableRefresh,
    VariableSort,
)
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

DASHBOARD_DIR = Path(__file__).resolve().parent / "dashboards"

#: Every panel and query uses the data source chosen in the ``datasource``
#: variable; the provisioned Prometheus data source is the default.
DATASOURCE = DataSourceRef(type_val="prometheus", uid="${datasource}")

#: Label filter of per-run series (they carry job, branch and version).
RUN = 'job=~"$job", branch=~"$branch", version=~"$version"'
#: Label filter of series aggregated over the runs of a job and branch.
JOB_BRANCH = 'job=~"$job", branch=~"$branch"'
#: Label filter of the gateway's own metrics (scrape job "pushgate").
GATEWAY = 'job="pushgate", instance=~"$instance"'

#: Extra matchers of the series of one test outcome or coverage type.
LINE = 'type="line"'
BRANCH_COVERAGE = 'type="branch"'
PASSED = 'status="passed"'
FAILED = 'status=~"failed|error"'
SKIPPED = 'status="skipped"'
GATE_OK = 'status="OK"'

#: Colours of coverage percentages.
COVERAGE_STEPS: tuple[tuple[float | None, str], ...] = (
    (None, "red"),
    (60, "orange"),
    (80, "green"),
)


def latest(metric: str, extra: str = "") -> str:
    """Selector of the latest-run recording rule of ``metric``, filtered."""
    return f"job_branch:{metric}:latest{{{RUN}{', ' + extra if extra else ''}}}"


def instant(expr: str, legend: str = "", ref: str = "A") -> prometheus.Dataquery:
    query = prometheus.Dataquery().expr(expr).instant().ref_id(ref).datasource(DATASOURCE)
    return query.legend_format(legend) if legend else query


def table_query(expr: str, ref: str) -> prometheus.Dataquery:
    return instant(expr, ref=ref).format(PromQueryFormat.TABLE)


def range_query(expr: str, legend: str, ref: str = "A") -> prometheus.Dataquery:
    return (
        prometheus.Dataquery()
        .expr(expr)
        .range()
        .legend_format(legend)
        .ref_id(ref)
        .datasource(DATASOURCE)
    )


def thresholds(*steps: tuple[float | None, str]) -> dashboard.ThresholdsConfig:
    return (
        dashboard.ThresholdsConfig()
        .mode(ThresholdsMode.ABSOLUTE)
        .steps([Threshold(value=value, color=color) for value, color in steps])
    )


def value_mapping(texts: dict[str, tuple[str, str]]) -> ValueMap:
    return ValueMap(
        options={
            value: ValueMappingResult(text=text, color=color, index=index)
            for index, (value, (text, color)) in enumerate(texts.items())
        }
    )


def stat_panel(title: str, description: str, *queries: prometheus.Dataquery) -> stat.Panel:
    panel = (
        stat.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .height(5)
        .span(6)
        .graph_mode(common.BigValueGraphMode.NONE)
        .color_mode(common.BigValueColorMode.BACKGROUND)
        .text_mode(common.BigValueTextMode.VALUE_AND_NAME)
        .reduce_options(common_builder.ReduceDataOptions().calcs(["lastNotNull"]))
    )
    for query in queries:
        panel = panel.with_target(query)
    return panel


def timeseries_panel(
    title: str, description: str, unit: str, *queries: prometheus.Dataquery
) -> timeseries.Panel:
    panel = (
        timeseries.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit)
        .height(8)
        .span(12)
        .line_interpolation(common.LineInterpolation.STEP_AFTER)
        .show_points(common.VisibilityMode.NEVER)
        .legend(
            common_builder.VizLegendOptions()
            .display_mode(common.LegendDisplayMode.TABLE)
            .placement(common.LegendPlacement.BOTTOM)
            .show_legend(True)
            .calcs(["lastNotNull"])
        )
    )
    for query in queries:
        panel = panel.with_target(query)
    return panel


def table_panel(
    title: str,
    description: str,
    columns: Sequence[tuple[str, str, str]],
    *,
    hidden: Sequence[str] = (),
    label_columns: dict[str, str] | None = None,
    span: int = 24,
) -> table.Panel:
    """A table of instant queries merged on their labels.

    ``columns`` are ``(header, unit, expr)``; each expr becomes one value
    column. ``hidden`` lists value columns kept only for the labels they
    bring (e.g. the quality gate status); ``label_columns`` renames labels.
    """
    refs = [chr(ord("A") + i) for i in range(len(columns))]
    panel = (
        table.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .height(8)
        .span(span)
        .with_transformation(DataTransformerConfig(id_val="merge", options={}))
    )
    renames = dict(label_columns or {})
    exclude = {"Time": True}
    for ref, (header, unit, expr) in zip(refs, columns, strict=True):
        panel = panel.with_target(table_query(expr, ref))
        renames[f"Value #{ref}"] = header
        if header in hidden:
            exclude[f"Value #{ref}"] = True
        elif unit:
            panel = panel.override_by_name(
                f"Value #{ref}", [DynamicConfigValue(id_val="unit", value=unit)]
            )
    # Columns: the renamed labels in the order given, then the values.
    order = [*(label_columns or {}), *(f"Value #{ref}" for ref in refs)]
    organize = {
        "excludeByName": exclude,
        "renameByName": renames,
        "indexByName": {name: index for index, name in enumerate(order)},
    }
    return panel.with_transformation(DataTransformerConfig(id_val="organize", options=organize))


def all_option() -> VariableOption:
    return VariableOption(selected=True, text="All", value="$__all")


def query_variable(name: str, label: str, query: str) -> dashboard.QueryVariable:
    return (
        dashboard.QueryVariable(name)
        .label(label)
        .query(query)
        .datasource(DATASOURCE)
        .multi(True)
        .include_all(True)
        .all_value(".*")
        .current(all_option())
        .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(VariableSort.ALPHABETICAL_ASC)
    )


def datasource_variable() -> dashboard.DatasourceVariable:
    return dashboard.DatasourceVariable("datasource").label("Data source").type("prometheus")


def ci_quality() -> dashboard.Dashboard:
    """CI quality of every project and branch: latest run, history, pushes."""
    return (
        dashboard.Dashboard("CI quality")
        .uid("pushgate-ci-quality")
        .description(
            "Test results, coverage and SonarCloud measures pushed by `pushgate report`. "
            "The latest-run panels select each job/branch's newest push (push_time_seconds), "
            "not its best value."
        )
        .tags(["pushgate", "ci"])
        .time("now-30d", "now")
        .refresh("1m")
        .tooltip(DashboardCursorSync.CROSSHAIR)
        .editable()
        .with_variable(datasource_variable())
        .with_variable(
            query_variable("job", "Project (job)", "label_values(push_time_seconds, job)")
        )
        .with_variable(
            query_variable(
                "branch", "Branch", 'label_values(push_time_seconds{job=~"$job"}, branch)'
            )
        )
        .with_variable(
            query_variable(
                "version",
                "Version",
                'label_values(push_time_seconds{job=~"$job", branch=~"$branch"}, version)',
            )
        )
        .with_row(dashboard.Row("Latest run of each project and branch"))
        .with_panel(
            stat_panel(
                "SonarCloud coverage",
                "Coverage reported by SonarCloud for the latest run.",
                instant(
                    f"max by (job, branch) ({latest('sonarcloud_coverage_percent')})",
                    "{{job}} {{branch}}",
                ),
            )
            .unit("percent")
            .min(0)
            .max(100)
            .thresholds(thresholds(*COVERAGE_STEPS))
        )
        .with_panel(
            stat_panel(
                "Line coverage (CI)",
                'Line coverage measured in CI (coverage_percent{type="line"}) for the latest run.',
                instant(
                    f"max by (job, branch) ({latest('coverage_percent', LINE)})",
                    "{{job}} {{branch}}",
                ),
            )
            .unit("percent")
            .min(0)
            .max(100)
            .thresholds(thresholds(*COVERAGE_STEPS))
        )
        .with_panel(
            stat_panel(
                "Failed tests",
                "Failed and erroring tests of the latest run.",
                instant(
                    f"sum by (job, branch) ({latest('pytest_tests_total', FAILED)})",
                    "{{job}} {{branch}}",
                ),
            )
            .decimals(0)
            .thresholds(thresholds((None, "green"), (1, "red")))
        )
        .with_panel(
            stat_panel(
                "Quality gate",
                "SonarCloud quality gate of the latest run.",
                instant(
                    f"max by (job, branch) ({latest('sonarcloud_quality_gate_status', GATE_OK)})",
                    "{{job}} {{branch}}",
                ),
            )
            .mappings([value_mapping({"1": ("Passed", "green"), "0": ("Failed", "red")})])
            .thresholds(thresholds((None, "red"), (1, "green")))
        )
        .with_panel(
            table_panel(
                "Latest run",
                "One row per project and branch: the run with the newest push.",
                [
                    (
                        "Pushed",
                        "dateTimeAsIso",
                        "max by (job, branch, version, commit) "
                        f"({latest('push_time_seconds')}) * 1000",
                    ),
                    (
                        "SonarCloud coverage",
                        "percent",
                        "max by (job, branch, version, commit) "
                        f"({latest('sonarcloud_coverage_percent')})",
                    ),
                    (
                        "Line coverage",
                        "percent",
                        "max by (job, branch, version, commit) "
                        f"({latest('coverage_percent', LINE)})",
                    ),
                    (
                        "Branch coverage",
                        "percent",
                        "max by (job, branch, version, commit) "
                        f"({latest('coverage_percent', BRANCH_COVERAGE)})",
                    ),
                    (
                        "Passed",
                        "none",
                        "sum by (job, branch, version, commit) "
                        f"({latest('pytest_tests_total', PASSED)})",
                    ),
                    (
                        "Failed",
                        "none",
                        "sum by (job, branch, version, commit) "
                        f"({latest('pytest_tests_total', FAILED)})",
                    ),
                    (
                        "Skipped",
                        "none",
                        "sum by (job, branch, version, commit) "
                        f"({latest('pytest_tests_total', SKIPPED)})",
                    ),
                    (
                        "Bugs",
                        "none",
                        f"max by (job, branch, version, commit) ({latest('sonarcloud_bugs')})",
                    ),
                    (
                        "Vulnerabilities",
                        "none",
                        "max by (job, branch, version, commit) "
                        f"({latest('sonarcloud_vulnerabilities')})",
                    ),
                    (
                        "Code smells",
                        "none",
                        "max by (job, branch, version, commit) "
                        f"({latest('sonarcloud_code_smells')})",
                    ),
                    (
                        "Duplicated lines",
                        "percent",
                        "max by (job, branch, version, commit) "
                        f"({latest('sonarcloud_duplicated_lines_density_percent')})",
                    ),
                    (
                        "gate",
                        "",
                        "max by (job, branch, version, commit, status) "
                        f"({latest('sonarcloud_quality_gate_status')} == 1)",
                    ),
                    (
                        "workflow",
                        "",
                        "max by (job, branch, version, commit, workflow, conclusion) "
                        f"({latest('github_workflow_runs_total')})",
                    ),
                ],
                hidden=("gate", "workflow"),
                label_columns={
                    "job": "Project",
                    "branch": "Branch",
                    "version": "Version",
                    "commit": "Commit",
                    "status": "Quality gate",
                    "workflow": "Workflow",
                    "conclusion": "Conclusion",
                },
            )
        )
        .with_panel(
            table_panel(
                "Last push per project and branch",
                "When each project/branch last pushed successfully, and which run that was.",
                [
                    (
                        "Last push",
                        "dateTimeAsIso",
                        "max by (job, branch, instance) "
                        f"(job_branch:push_time_seconds:latest{{{RUN}}}) * 1000",
                    ),
                    (
                        "Age",
                        "s",
                        "time() - max by (job, branch, instance) "
                        f"(job_branch:push_time_seconds:latest{{{RUN}}})",
                    ),
                ],
                label_columns={"job": "Project", "branch": "Branch", "instance": "Run"},
                span=12,
            )
        )
        .with_panel(
            table_panel(
                "Push failures",
                "Projects/branches whose last push was rejected by the gateway and not "
                "followed by a successful one. Empty when every last push succeeded.",
                [
                    (
                        "Failed at",
                        "dateTimeAsIso",
                        f"(job_branch:push_failure_time_seconds:max{{{JOB_BRANCH}}}"
                        f" > job_branch:push_time_seconds:max{{{JOB_BRANCH}}}) * 1000",
                    ),
                ],
                label_columns={"job": "Project", "branch": "Branch"},
                span=12,
            )
        )
        .with_row(dashboard.Row("History"))
        .with_panel(
            timeseries_panel(
                "Coverage",
                "Coverage of the latest run over time; a step is a new run.",
                "percent",
                range_query(
                    f"max by (job, branch) ({latest('sonarcloud_coverage_percent')})",
                    "SonarCloud {{job}} {{branch}}",
                    "A",
                ),
                range_query(
                    f"max by (job, branch, type) ({latest('coverage_percent')})",
                    "{{type}} {{job}} {{branch}}",
                    "B",
                ),
            )
        )
        .with_panel(
            timeseries_panel(
                "Test results",
                "Tests of the latest run by outcome, over time.",
                "none",
                range_query(
                    f"sum by (job, branch, status) ({latest('pytest_tests_total')})",
                    "{{status}} {{job}} {{branch}}",
                ),
            )
        )
        .with_panel(
            timeseries_panel(
                "Durations",
                "Test run duration and CI workflow run duration of the latest run.",
                "s",
                range_query(
                    f"max by (job, branch) ({latest('pytest_duration_seconds')})",
                    "tests {{job}} {{branch}}",
                    "A",
                ),
                range_query(
                    "max by (job, branch, workflow) "
                    f"({latest('github_workflow_run_duration_seconds')})",
                    "{{workflow}} {{job}} {{branch}}",
                    "B",
                ),
            )
        )
        .with_panel(
            timeseries_panel(
                "Workflow runs",
                "Runs held by the gateway per workflow and conclusion (every run pushes "
                "github_workflow_runs_total 1 in its own group).",
                "none",
                range_query(
                    "sum by (job, branch, workflow, conclusion) "
                    "(job_branch_workflow_conclusion:github_workflow_runs_total:sum"
                    f"{{{JOB_BRANCH}}})",
                    "{{conclusion}} {{workflow}} {{job}} {{branch}}",
                ),
            )
        )
        .with_panel(
            timeseries_panel(
                "SonarCloud issues",
                "Open bugs, vulnerabilities and code smells of the latest run.",
                "none",
                range_query(
                    f"max by (job, branch) ({latest('sonarcloud_bugs')})",
                    "bugs {{job}} {{branch}}",
                    "A",
                ),
                range_query(
                    f"max by (job, branch) ({latest('sonarcloud_vulnerabilities')})",
                    "vulnerabilities {{job}} {{branch}}",
                    "B",
                ),
                range_query(
                    f"max by (job, branch) ({latest('sonarcloud_code_smells')})",
                    "code smells {{job}} {{branch}}",
                    "C",
                ),
            )
        )
        .with_panel(
            BarGaugePanel()
            .title("Runs held by the gateway")
            .description(
                "Groups (runs) the gateway keeps per project and branch. Every run stays "
                "until it is deleted; many runs make scrapes slower."
            )
            .datasource(DATASOURCE)
            .height(8)
            .span(12)
            .orientation(common.VizOrientation.HORIZONTAL)
            .with_target(
                instant(
                    f"max by (job, branch) (job_branch:push_time_seconds:count{{{JOB_BRANCH}}})",
                    "{{job}} {{branch}}",
                )
            )
        )
    )


def gateway_health() -> dashboard.Dashboard:
    """The gateway's own health: availability, traffic, latency, resources."""
    gateway_instance = (
        dashboard.QueryVariable("instance")
        .label("Gateway")
        .query('label_values(up{job="pushgate"}, instance)')
        .datasource(DATASOURCE)
        .multi(True)
        .include_all(True)
        .all_value(".*")
        .current(all_option())
        .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(VariableSort.ALPHABETICAL_ASC)
    )
    return (
        dashboard.Dashboard("pushgate health")
        .uid("pushgate-health")
        .description("The gateway itself: is it up, what it serves, how fast, at what cost.")
        .tags(["pushgate"])
        .time("now-6h", "now")
        .refresh("30s")
        .tooltip(DashboardCursorSync.CROSSHAIR)
        .editable()
        .with_variable(datasource_variable())
        .with_variable(gateway_instance)
        .with_row(dashboard.Row("Status"))
        .with_panel(
            stat_panel(
                "Up",
                "Whether Prometheus can scrape the gateway.",
                instant(f"up{{{GATEWAY}}}", "{{instance}}"),
            )
            .mappings([value_mapping({"1": ("Up", "green"), "0": ("Down", "red")})])
            .thresholds(thresholds((None, "red"), (1, "green")))
        )
        .with_panel(
            stat_panel(
                "Uptime",
                "Time since the gateway process started.",
                instant(f"time() - process_start_time_seconds{{{GATEWAY}}}", "{{instance}}"),
            )
            .unit("s")
            .color_mode(common.BigValueColorMode.NONE)
        )
        .with_panel(
            stat_panel(
                "Groups held",
                "Pushed groups (one per CI run) the gateway holds.",
                instant("sum(job_branch:push_time_seconds:count)", "groups"),
            )
            .decimals(0)
            .color_mode(common.BigValueColorMode.NONE)
        )
        .with_panel(
            stat_panel(
                "Failing pushers",
                "Projects/branches whose last push was rejected.",
                instant(
                    "count(job_branch:push_failure_time_seconds:max"
                    " > job_branch:push_time_seconds:max) or vector(0)",
                    "job/branch",
                ),
            )
            .decimals(0)
            .thresholds(thresholds((None, "green"), (1, "orange")))
        )
        .with_row(dashboard.Row("Traffic"))
        .with_panel(
            timeseries_panel(
                "Requests by handler and code",
                "HTTP requests the gateway answered, excluding scrapes.",
                "reqps",
                range_query(
                    "sum by (handler, code) "
                    f"(rate(pushgateway_http_requests_total{{{GATEWAY}}}[$__rate_interval]))",
                    "{{handler}} {{code}}",
                ),
            )
        )
        .with_panel(
            timeseries_panel(
                "Rejected requests",
                "Requests answered with 4xx or 5xx, e.g. invalid or inconsistent pushes.",
                "reqps",
                range_query(
                    "sum by (handler, code) (rate(pushgateway_http_requests_total"
                    f'{{{GATEWAY}, code=~"[45].."}}[$__rate_interval]))',
                    "{{handler}} {{code}}",
                ),
            )
        )
        .with_panel(
            timeseries_panel(
                "Push latency",
                "Mean push duration, and the gateway's own quantiles (10-minute window).",
                "s",
                range_query(
                    "sum by (method) (rate(pushgateway_http_push_duration_seconds_sum"
                    f"{{{GATEWAY}}}[$__rate_interval]))"
                    " / sum by (method) (rate(pushgateway_http_push_duration_seconds_count"
                    f"{{{GATEWAY}}}[$__rate_interval]))",
                    "mean {{method}}",
                    "A",
                ),
                range_query(
                    "max by (method, quantile) "
                    f"(pushgateway_http_push_duration_seconds{{{GATEWAY}}})",
                    "q{{quantile}} {{method}}",
                    "B",
                ),
            )
        )
        .with_panel(
            timeseries_panel(
                "Push size",
                "Request size of pushes, quantiles over the gateway's 10-minute window.",
                "bytes",
                range_query(
                    f"max by (method, quantile) (pushgateway_http_push_size_bytes{{{GATEWAY}}})",
                    "q{{quantile}} {{method}}",
                ),
            )
        )
        .with_row(dashboard.Row("Scrapes and resources"))
        .with_panel(
            timeseries_panel(
                "Scrape duration",
                "How long Prometheus takes to scrape the gateway; grows with the groups held.",
                "s",
                range_query(f"scrape_duration_seconds{{{GATEWAY}}}", "{{instance}}"),
            )
        )
        .with_panel(
            timeseries_panel(
                "Samples per scrape",
                "Samples the gateway exposes (all groups plus its own metrics).",
                "none",
                range_query(f"scrape_samples_scraped{{{GATEWAY}}}", "{{instance}}"),
            )
        )
        .with_panel(
            timeseries_panel(
                "Resident memory",
                "Resident set size of the gateway process.",
                "bytes",
                range_query(f"process_resident_memory_bytes{{{GATEWAY}}}", "{{instance}}"),
            )
        )
        .with_panel(
            timeseries_panel(
                "CPU",
                "CPU time used per second by the gateway process.",
                "percentunit",
                range_query(
                    f"rate(process_cpu_seconds_total{{{GATEWAY}}}[$__rate_interval])",
                    "{{instance}}",
                ),
            )
        )
        .with_panel(
            timeseries_panel(
                "Open file descriptors",
                "Open file descriptors, and the process limit.",
                "none",
                range_query(f"process_open_fds{{{GATEWAY}}}", "open {{instance}}", "A"),
                range_query(f"process_max_fds{{{GATEWAY}}}", "limit {{instance}}", "B"),
            )
        )
    )


#: File name in deploy/grafana/dashboards -> dashboard builder.
DASHBOARDS: dict[str, Callable[[], dashboard.Dashboard]] = {
    "ci-quality.json": ci_quality,
    "pushgate-health.json": gateway_health,
}


def render(built: Dashboard) -> str:
    """The dashboard as the JSON text that is committed (stable key order)."""
    return json.dumps(built, cls=JSONEncoder, indent=2, sort_keys=True) + "\n"


def render_all() -> dict[str, str]:
    return {name: render(builder().build()) for name, builder in DASHBOARDS.items()}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--check",
        action="store_true",
        help="do not write; exit 1 if a committed dashboard differs from the generated one",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=DASHBOARD_DIR,
        help="directory of the JSON files (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    stale = []
    for name, text in render_all().items():
        path = args.output / name
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        if args.check:
            stale.append(name)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    if stale:
        print(
            f"out of date: {', '.join(stale)}; run python deploy/grafana/generate.py",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
