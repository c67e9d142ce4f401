"""The CI overview (``P/ci``): per job and branch, the latest run and a trend.

A *run* is one group: the reporter pushes every CI run under its own
``instance`` (``<version>-<sha7>``), so the runs of a job and branch are its
groups, ordered by ``push_time_seconds``. Only the runs the gateway still
holds can be shown; older ones are in Prometheus.

The numbers come from the families ``pushgate report`` pushes:
``pytest_tests_total{status=...}``, ``coverage_percent{type=line|branch}``
and ``sonarcloud_coverage_percent``. Groups with none of them are not runs.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from pushgate.core.model import GroupingKey
from pushgate.server.ui.components import (
    BRANCH,
    JOB,
    filter_url,
    group_url,
    notice,
    quote_value,
    time_html,
)
from pushgate.server.ui.layout import UiContext, render_page
from pushgate.server.ui.listing import NO_BRANCH, pager
from pushgate.server.ui.markup import Markup, join, render
from pushgate.server.ui.query import GroupFilter, Page, int_param
from pushgate.store.contract import Group

TESTS_FAMILY = "pytest_tests_total"
COVERAGE_FAMILY = "coverage_percent"
SONAR_COVERAGE_FAMILY = "sonarcloud_coverage_percent"
TEST_STATUSES = ("passed", "failed", "error", "skipped")

DEFAULT_RUNS = 20
MAX_RUNS = 200
PAGE_SIZE = 50

TestsFilter = Literal["", "failing", "passing"]


@dataclass(frozen=True, slots=True)
class Run:
    """The CI numbers of one run (one group)."""

    group: Group
    tests: Mapping[str, float]
    line_coverage: float | None
    branch_coverage: float | None
    sonar_coverage: float | None

    @property
    def push_time(self) -> float:
        return self.group.push_time

    @property
    def has_tests(self) -> bool:
        return bool(self.tests)

    @property
    def failures(self) -> float:
        """Failed plus errored tests."""
        return self.tests.get("failed", 0.0) + self.tests.get("error", 0.0)

    @property
    def coverage(self) -> float | None:
        """The headline coverage: line coverage, else Sonar's."""
        return self.line_coverage if self.line_coverage is not None else self.sonar_coverage


def _finite(v: float) -> float | None:
    return v if math.isfinite(v) else None


def run_of(group: Group) -> Run | None:
    """The CI numbers of ``group``, or ``None`` if it holds none of them."""
    families = group.families
    tests_f = families.get(TESTS_FAMILY)
    cov_f = families.get(COVERAGE_FAMILY)
    sonar_f = families.get(SONAR_COVERAGE_FAMILY)
    if tests_f is None and cov_f is None and sonar_f is None:
        return None
    tests: dict[str, float] = {}
    if tests_f is not None:
        for m in tests_f.family.metrics:
            status = dict(m.labels).get("status", "")
            if math.isfinite(m.value):
                tests[status] = tests.get(status, 0.0) + m.value
    coverage: dict[str, float] = {}
    if cov_f is not None:
        for m in cov_f.family.metrics:
            kind = dict(m.labels).get("type", "line")
            value = _finite(m.value)
            if value is not None:
                coverage.setdefault(kind, value)
    sonar = None
    if sonar_f is not None and sonar_f.family.metrics:
        sonar = _finite(sonar_f.family.metrics[0].value)
    return Run(group, tests, coverage.get("line"), coverage.get("branch"), sonar)


@dataclass(frozen=True, slots=True)
class CiLine:
    """One job and branch: its latest run, and the groups of its last runs.

    ``groups`` holds at most the requested number of runs, oldest first;
    :meth:`runs` decodes them, which only the lines on the page need.
    """

    job: str
    branch: str | None
    groups: tuple[Group, ...]
    total_runs: int
    latest: Run

    def runs(self) -> tuple[Run, ...]:
        return tuple(r for r in map(run_of, self.groups) if r is not None)


_CI_FAMILIES = (TESTS_FAMILY, COVERAGE_FAMILY, SONAR_COVERAGE_FAMILY)


def ci_lines(
    groups: Iterable[Group], flt: GroupFilter, max_runs: int, tests: TestsFilter = ""
) -> list[CiLine]:
    """Every job and branch with runs that pass ``flt``, sorted by job and branch."""
    by_line: dict[tuple[str, str | None], list[tuple[float, GroupingKey, Group]]] = {}
    active = flt.active
    for group in groups:
        families = group.families
        if not any(name in families for name in _CI_FAMILIES):
            continue
        labels = dict(group.key)
        if active and not flt.matches_labels(labels):
            continue
        line_key = (labels.get(JOB, ""), labels.get(BRANCH))
        by_line.setdefault(line_key, []).append((group.push_time, group.key, group))
    lines = []
    for (job, branch), runs in by_line.items():
        runs.sort()
        latest = run_of(runs[-1][2])
        assert latest is not None  # every group here has a CI family
        failing = latest.failures > 0
        if (tests == "failing" and not failing) or (
            tests == "passing" and (failing or not latest.has_tests)
        ):
            continue
        kept = tuple(g for _, _, g in runs[-max_runs:])
        lines.append(CiLine(job, branch, kept, len(runs), latest))
    lines.sort(key=lambda ln: (ln.job, ln.branch is None, ln.branch or ""))
    return lines


def _pct(v: float | None) -> str:
    return "—" if v is None else f"{v:.1f} %"


def _num(v: float) -> str:
    return f"{int(v):,}" if v.is_integer() else f"{v:,.2f}"


def _tests_cell(run: Run) -> Markup:
    if not run.has_tests:
        return Markup('<span class="muted">no test results</span>')
    t = run.tests
    total = sum(t.values())
    if run.failures > 0:
        chip = render('<span class="chip chip-failed">{n} failing</span>', n=_num(run.failures))
    else:
        chip = render('<span class="chip chip-ok">{n} passed</span>', n=_num(t.get("passed", 0.0)))
    detail = join(
        (
            render(
                '<span class="{cls}">{n} {s}</span>',
                cls=f"tests-{s}" if t.get(s, 0.0) else "",
                s=s,
                n=_num(t.get(s, 0.0)),
            )
            for s in TEST_STATUSES
            if s in ("passed", "failed") or t.get(s, 0.0)
        ),
        " · ",
    )
    return render(
        '{chip}<div class="tests-detail">{detail} <span class="muted">of {total}</span></div>',
        chip=chip,
        detail=detail,
        total=_num(total),
    )


def _delta(now: float | None, before: float | None) -> Markup:
    if now is None or before is None:
        return Markup("")
    d = now - before
    if abs(d) < 0.05:
        return Markup(
            '<span class="delta delta-flat" title="unchanged since the previous run">±0</span>'
        )
    cls, arrow, word = ("delta-up", "▲", "up") if d > 0 else ("delta-down", "▼", "down")
    return render(
        '<span class="delta {cls}" title="{word} {abs} points since the previous run">'
        "{arrow} {d}</span>",
        cls=cls,
        arrow=arrow,
        word=word,
        abs=f"{abs(d):.1f}",
        d=f"{d:+.1f}".replace("-", "\N{MINUS SIGN}"),
    )


def _coverage_cell(runs: Sequence[Run]) -> Markup:
    run = runs[-1]
    previous = runs[-2] if len(runs) > 1 else None
    if run.line_coverage is None and run.branch_coverage is None and run.sonar_coverage is None:
        return Markup('<span class="muted">no coverage</span>')
    main = run.coverage
    label = "line" if run.line_coverage is not None else "Sonar"
    extra = []
    if run.branch_coverage is not None:
        extra.append(render("branch {v}", v=_pct(run.branch_coverage)))
    if run.sonar_coverage is not None and label != "Sonar":
        extra.append(render("Sonar {v}", v=_pct(run.sonar_coverage)))
    return render(
        '<span class="coverage-main">{v}</span> <span class="muted">{label}</span> {delta}'
        '<div class="coverage-detail">{extra}</div>',
        v=_pct(main),
        label=label,
        delta=_delta(main, previous.coverage if previous else None),
        extra=join(extra, " · "),
    )


def _spark(kind: str, runs: Sequence[Run]) -> Markup:
    """A chart container ui.js draws with uPlot; its text is the no-JS fallback."""
    labels = [dict(r.group.key).get("instance", "") for r in runs]
    if kind == "tests":
        if not any(r.has_tests for r in runs):
            return Markup('<span class="muted">—</span>')
        passed = [r.tests.get("passed", 0.0) if r.has_tests else None for r in runs]
        failed = [r.failures if r.has_tests else None for r in runs]
        data = {"kind": "tests", "labels": labels, "passed": passed, "failed": failed}
        fallback = "failing per run: " + ", ".join("-" if f is None else _num(f) for f in failed)
    else:
        cov = [r.coverage for r in runs]
        if all(c is None for c in cov):
            return Markup('<span class="muted">—</span>')
        data = {"kind": "coverage", "labels": labels, "coverage": cov}
        known = [c for c in cov if c is not None]
        fallback = f"{_pct(known[0])} → {_pct(known[-1])} over {len(runs)} runs"
    return render(
        '<div class="spark" role="img" aria-label="{aria}" data-spark="{data}">'
        '<span class="spark-fallback">{fallback}</span></div>',
        aria=f"{'Failing tests' if kind == 'tests' else 'Coverage'} of the last {len(runs)} runs: {fallback}",
        data=json.dumps(data, separators=(",", ":"), allow_nan=False),
        fallback=fallback,
    )


def _latest_cell(ctx: UiContext, run: Run) -> Markup:
    labels = dict(run.group.key)
    name = labels.get("instance") or labels.get("commit") or "run"
    href = group_url(ctx, run.group.key)
    link = (
        render('<a href="{href}">{name}</a>', href=href, name=name)
        if href
        else render("{n}", n=name)
    )
    facts = [
        render("<span>{k} <code>{v}</code></span>", k=k, v=labels[k])
        for k in ("version", "commit")
        if labels.get(k) and labels[k] not in name
    ]
    failed = (
        Markup(' <span class="status status-failed">Last push failed</span>')
        if not run.group.last_push_successful
        else Markup("")
    )
    return render(
        '{link}{failed}<div class="run-meta">{when}{facts}</div>',
        link=link,
        failed=failed,
        when=time_html(run.push_time, ctx.now, absolute=False),
        facts=join(render(" · {f}", f=f) for f in facts),
    )


def _line_row(ctx: UiContext, line: CiLine) -> Markup:
    branch = line.branch if line.branch is not None else NO_BRANCH
    runs = line.runs()
    return render(
        '<tr class="{cls}"><th scope="row"><a href="{href}">{branch}</a>'
        '<div class="muted">{runs}</div></th>'
        "<td>{latest}</td><td>{tests}</td><td>{tests_spark}</td>"
        "<td>{coverage}</td><td>{coverage_spark}</td></tr>",
        cls="row-failed" if line.latest.failures > 0 else "",
        href=filter_url(ctx, {JOB: line.job, BRANCH: line.branch or ""}),
        branch=branch,
        runs=f"{line.total_runs} runs" if line.total_runs != 1 else "1 run",
        latest=_latest_cell(ctx, line.latest),
        tests=_tests_cell(line.latest),
        tests_spark=_spark("tests", runs),
        coverage=_coverage_cell(runs),
        coverage_spark=_spark("coverage", runs),
    )


def _table(ctx: UiContext, lines: Sequence[CiLine]) -> Markup:
    bodies: list[Markup] = []
    job: str | None = None
    rows: list[Markup] = []

    def flush() -> None:
        if job is not None:
            bodies.append(
                render(
                    '<tbody><tr class="job-row"><th colspan="6" scope="rowgroup" id="ci-job-{n}">'
                    '<span class="heading-kind">job</span> <a href="{href}">{job}</a></th></tr>{rows}</tbody>',
                    n=len(bodies),
                    href=filter_url(ctx, {JOB: job}),
                    job=job,
                    rows=join(rows),
                )
            )

    for line in lines:
        if line.job != job:
            flush()
            job, rows = line.job, []
        rows.append(_line_row(ctx, line))
    flush()
    return render(
        '<div class="table-wrap"><table class="ci"><caption class="visually-hidden">'
        "Latest CI run per job and branch</caption><thead><tr>"
        '<th scope="col">Branch</th><th scope="col">Latest run</th><th scope="col">Tests</th>'
        '<th scope="col">Failing tests, last runs</th><th scope="col">Coverage</th>'
        '<th scope="col">Coverage, last runs</th></tr></thead>{bodies}</table></div>',
        bodies=join(bodies),
    )


def render_ci(ctx: UiContext, groups: Sequence[Group], query: Mapping[str, str]) -> str:
    flt = GroupFilter.from_query({"match": query.get("match", "")})
    max_runs = int_param(query, "runs", DEFAULT_RUNS, 2, MAX_RUNS)
    raw = query.get("tests", "")
    tests: TestsFilter = raw if raw in ("failing", "passing") else ""  # type: ignore[assignment]
    lines = [] if flt.error else ci_lines(groups, flt, max_runs, tests)
    page = Page(int_param(query, "page", 1, 1, 10**9), PAGE_SIZE, len(lines))
    options = join(
        render(
            '<option value="{v}"{sel}>{label}</option>',
            v=v,
            label=label,
            sel=Markup(" selected" if tests == v else ""),
        )
        for v, label in (("", "any"), ("failing", "failing"), ("passing", "passing"))
    )
    form = render(
        '<form class="filters" method="get" action="{action}" role="search" aria-label="Filter CI runs">'
        '<div class="field field-wide"><label for="c-match">Labels</label>'
        '<input id="c-match" name="match" type="search" value="{match}" placeholder="{placeholder}"'
        ' autocomplete="off" spellcheck="false"></div>'
        '<div class="field"><label for="c-tests">Latest tests</label>'
        '<select id="c-tests" name="tests">{options}</select></div>'
        '<div class="field"><label for="c-runs">Runs in trend</label>'
        '<input id="c-runs" name="runs" type="number" min="2" max="{max}" value="{runs}"></div>'
        '<div class="field field-buttons"><button type="submit" class="button primary">Filter</button>'
        ' <a class="button" href="{action}">Clear</a></div></form>',
        action=ctx.url("/ci"),
        match=flt.text,
        placeholder=f"job=my-project branch={quote_value('main')}",
        options=options,
        max=MAX_RUNS,
        runs=max_runs,
    )
    parts = [Markup("<h1>CI overview</h1>"), form]
    if flt.error:
        parts.append(notice("error", f"The label filter was not applied: {flt.error}"))
    if not lines:
        parts.append(
            render(
                "<p>No CI runs{match}. Runs are groups with <code>{a}</code>, <code>{b}</code> or"
                " <code>{c}</code>, as <code>pushgate report</code> pushes them.</p>",
                match=" match the filter" if flt.active or tests else "",
                a=TESTS_FAMILY,
                b=COVERAGE_FAMILY,
                c=SONAR_COVERAGE_FAMILY,
            )
        )
    else:
        failing = sum(1 for ln in lines if ln.latest.failures > 0)
        parts.append(
            render(
                '<p class="summary-bar">{n} job/branch pairs, {failing} with failing tests in the latest run.'
                " Trends show up to {runs} runs still held in the gateway.</p>",
                n=f"{len(lines):,}",
                failing=f"{failing:,}",
                runs=max_runs,
            )
        )
        paging_query = {k: query[k] for k in ("match", "tests", "runs") if query.get(k)}
        paging = pager(ctx, "/ci", page, paging_query, "job and branch pairs")
        parts += [paging, _table(ctx, page.items(lines)), paging]
    return render_page(ctx, page="ci", title="CI overview", content=join(parts), charts=True)
