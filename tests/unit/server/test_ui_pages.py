"""The UI pages rendered from store snapshots (pure: no server, no browser).

Every page is checked for balanced HTML, and label values, HELP texts and
metric names that look like markup must come out as text.
"""

from __future__ import annotations

import json
import math
import re
from html.parser import HTMLParser
from types import SimpleNamespace
from typing import cast

import pytest

from pushgate.core.grouping import render_grouping_path
from pushgate.core.model import Metric, MetricFamily
from pushgate.core.textformat import parse_text
from pushgate.server.ui.ci import ci_lines, render_ci, run_of
from pushgate.server.ui.components import describe_key, expires_at, expiry_html
from pushgate.server.ui.detail import (
    MAX_COMMAND_LINES,
    commands,
    format_value,
    recreate_body,
    render_detail,
    render_missing,
)
from pushgate.server.ui.layout import UiContext
from pushgate.server.ui.listing import render_listing, select_groups
from pushgate.server.ui.query import GroupFilter
from pushgate.server.ui.status import render_status
from pushgate.store.contract import PUSH_FAILURE_TIME_NAME, PUSH_TIME_NAME, Group, StoredFamily

NOW = 1_800_000_000.0
EVIL = '<script>alert("x")</script>'
VOID = {"meta", "link", "input", "br", "img", "hr", "col", "source"}


class _Balance(HTMLParser):
    """Fails on a closing tag that does not close the innermost open element."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes {self.stack[-3:]}"
        self.stack.pop()


def parse(page: str) -> _Balance:
    checker = _Balance()
    checker.feed(page)
    checker.close()
    assert checker.stack == [], f"unclosed: {checker.stack}"
    return checker


def ctx(admin: bool = True, base: str = ".") -> UiContext:
    return UiContext(base, "http://gw.example:9091/pg", admin, NOW, "0.1.0", NOW - 3600)


def fam(name: str, type_: str = "gauge", *metrics: Metric, help_: str | None = "h") -> MetricFamily:
    return MetricFamily(name, type_, help_, metrics or (Metric((), 1.0),))  # type: ignore[arg-type]


def group(
    labels: dict[str, str], *families: MetricFamily, push: float = NOW - 60, failure: float = 0.0
) -> Group:
    key = tuple(sorted(labels.items()))
    stored = {f.name: StoredFamily(f, push) for f in families}
    stored[PUSH_TIME_NAME] = StoredFamily(fam(PUSH_TIME_NAME, "gauge", Metric(key, push)), push)
    stored[PUSH_FAILURE_TIME_NAME] = StoredFamily(
        fam(PUSH_FAILURE_TIME_NAME, "gauge", Metric(key, failure)), push
    )
    return Group(key, stored)


def ci_run(
    job: str, branch: str, n: int, *, passed: int, failed: int, line: float, push: float
) -> Group:
    sha = f"{n:07x}"
    return group(
        {
            "job": job,
            "branch": branch,
            "instance": f"1.{n}-{sha}",
            "version": f"1.{n}",
            "commit": sha,
        },
        fam(
            "pytest_tests_total",
            "counter",
            *(
                Metric((("status", s),), float(v))
                for s, v in (("passed", passed), ("failed", failed), ("error", 0), ("skipped", 2))
            ),
        ),
        fam(
            "coverage_percent",
            "gauge",
            Metric((("type", "line"),), line),
            Metric((("type", "branch"),), line - 10),
        ),
        push=push,
    )


# -- the groups page -----------------------------------------------------------


def test_listing_orders_by_job_then_branch_newest_first() -> None:
    groups = [
        group({"job": "b", "branch": "main", "instance": "old"}, push=NOW - 500),
        group({"job": "b", "branch": "main", "instance": "new"}, push=NOW - 5),
        group({"job": "b", "instance": "nobranch"}),
        group({"job": "a", "branch": "zeta", "instance": "z"}),
        group({"job": "b", "branch": "dev", "instance": "d"}),
    ]
    order = [dict(i.key)["instance"] for i in select_groups(groups, GroupFilter())]
    assert order == ["z", "d", "new", "old", "nobranch"]
    page = render_listing(ctx(), groups, {})
    parse(page)
    headings = re.findall(
        r'<h[23] id="[^"]+"><span class="heading-kind">(\w+)</span> <a[^>]*>([^<]*)<', page
    )
    assert headings == [
        ("job", "a"),
        ("branch", "zeta"),
        ("job", "b"),
        ("branch", "dev"),
        ("branch", "main"),
        ("branch", "(no branch label)"),
    ]


def test_listing_escapes_label_values_everywhere() -> None:
    hostile = group({"job": EVIL, "branch": EVIL, "instance": EVIL, "x": EVIL})
    page = render_listing(ctx(), [hostile], {"match": EVIL, "metric": EVIL})
    assert "<script>" not in page
    parse(page)
    page = render_listing(ctx(), [hostile], {})
    assert "<script>" not in page
    assert "&lt;script&gt;" in page
    parse(page)


def test_listing_pages_and_marks_continued_sections() -> None:
    groups = [
        group({"job": "j", "branch": "main", "instance": f"i{n:03}"}, push=NOW - n)
        for n in range(120)
    ]
    first = render_listing(ctx(), groups, {"size": "50"})
    second = render_listing(ctx(), groups, {"size": "50", "page": "2"})
    parse(first)
    parse(second)
    assert "Showing 1\N{EN DASH}50 of 120 groups." in first
    assert first.count("data-group-row") == 50
    assert "(continued)" not in first
    assert second.count("(continued)") == 2  # the job and the branch went on from page 1
    assert 'href="./?size=50&amp;page=3" rel="next"' in second
    assert "120 groups" in second  # the section counts are of every match, not the page


def test_listing_filter_error_is_shown_and_nothing_listed() -> None:
    page = render_listing(ctx(), [group({"job": "j"})], {"match": 'job="x'})
    parse(page)
    assert "The label filter was not applied: unterminated quote" in page
    assert "data-group-row" not in page


def test_listing_shows_failed_push_and_series_count() -> None:
    failed = group({"job": "j", "instance": "i"}, fam("a"), push=NOW - 100, failure=NOW - 10)
    page = render_listing(ctx(), [failed], {})
    assert "Last push failed" in page
    assert '<td class="num">3</td>' in page  # a, push_time_seconds, push_failure_time_seconds
    assert 'class="row-failed"' in page


def test_wipe_button_only_with_the_admin_api() -> None:
    groups = [group({"job": "j"})]
    assert 'data-wipe-url="./api/v1/admin/wipe"' in render_listing(ctx(admin=True), groups, {})
    assert "data-wipe-url" not in render_listing(ctx(admin=False), groups, {})


def test_delete_uses_the_push_url_with_base64_where_needed() -> None:
    g = group({"job": "a/b", "branch": "", "instance": "x"})
    page = render_listing(ctx(base="/pg"), [g], {})
    url = "/pg/metrics" + render_grouping_path(g.key)
    assert "job@base64/YS9i" in url and "branch@base64/=" in url
    assert f'data-delete-url="{url}"' in page
    assert f'href="/pg/group{render_grouping_path(g.key)}"' in page


def test_delete_buttons_need_javascript() -> None:
    page = render_listing(ctx(), [group({"job": "j"})], {})
    for tag, attrs in parse(page).tags:
        if tag == "button" and "data-delete-url" in attrs:
            assert "hidden" in attrs and "data-js-only" in attrs


def test_metric_search_lists_matching_families() -> None:
    g = group({"job": "j"}, fam("coverage_percent"), fam("sonarcloud_coverage_percent"), fam("x"))
    page = render_listing(ctx(), [g], {"metric": "coverage"})
    assert "<code>coverage_percent</code>, <code>sonarcloud_coverage_percent</code>" in page


def test_empty_store_explains_how_to_push() -> None:
    page = render_listing(ctx(), [], {})
    parse(page)
    assert "No groups yet" in page
    assert "http://gw.example:9091/pg/metrics/job/some_job" in page


# -- expiry (issue 7 adds Group.expires_at; until then nothing is shown) ------


def test_expiry_is_read_from_the_group_when_present() -> None:
    assert expires_at(group({"job": "j"})) is None
    later = cast(Group, SimpleNamespace(expires_at=NOW + 7200))
    assert expires_at(later) == NOW + 7200
    assert "in 2 h" in expiry_html(later, NOW)
    past = cast(Group, SimpleNamespace(expires_at=NOW - 1))
    assert "expired" in expiry_html(past, NOW)


# -- a group's page ------------------------------------------------------------


def test_format_value_never_uses_an_exponent() -> None:
    assert format_value(1714567890.123) == "1714567890.123"
    assert format_value(1e-7) == "0.0000001"
    assert format_value(3.0) == "3"
    assert format_value(-0.0) == "0"
    assert format_value(math.inf) == "+Inf"
    assert format_value(math.nan) == "NaN"


def test_detail_renders_histograms_as_bucket_tables_and_summaries() -> None:
    hist = fam(
        "latency_seconds",
        "histogram",
        Metric((("path", "/a"),), sample_count=10, sample_sum=2.5, buckets=((0.1, 4), (1.0, 9))),
    )
    summ = fam(
        "size_bytes",
        "summary",
        Metric((), sample_count=3, sample_sum=30.0, quantiles=((0.5, 9.0), (0.9, 12.0))),
    )
    g = group({"job": "j", "instance": "i"}, hist, summ, fam("plain", help_=EVIL))
    page = render_detail(ctx(), g, {})
    parse(page)
    assert "<script>" not in page
    rows = re.findall(
        r'<th scope="row" class="num">≤ ([^<]+)</th><td class="num">([\d,]+)</td><td class="num">(-?[\d,]+)</td>',
        page,
    )
    assert rows == [("0.1", "4", "4"), ("1", "9", "5"), ("+Inf", "10", "1")]
    assert "path=&quot;/a&quot;" in page
    assert '<th scope="row" class="num">0.9</th><td class="num">12</td>' in page
    assert "Count <strong>3</strong> · Sum <strong>30</strong>" in page
    assert "HISTOGRAM" in page and "SUMMARY" in page


def test_detail_hides_grouping_labels_in_series() -> None:
    key = {"job": "j", "instance": "i"}
    g = group(
        key, fam("m", "gauge", Metric((("instance", "i"), ("job", "j"), ("status", "ok")), 1.0))
    )
    page = render_detail(ctx(), g, {})
    assert "status=&quot;ok&quot;" in page
    assert "job=&quot;j&quot;</span>, " not in page


def test_detail_limits_series_per_family() -> None:
    metrics = tuple(Metric((("n", str(i)),), float(i)) for i in range(30))
    g = group({"job": "j"}, fam("many", "gauge", *metrics))
    page = render_detail(ctx(), g, {"series": "10"})
    parse(page)
    assert page.count('<td><span class="label-pair">n=') == 10
    assert "Showing 10 of 30 series." in page
    assert "series=100" in page


def test_recreate_command_round_trips() -> None:
    key = {"job": "j", "instance": "i"}
    families = (
        fam(
            "a_total",
            "counter",
            Metric((("instance", "i"), ("job", "j"), ("k", 'q"\\')), 3.0),
            help_="a\nb",
        ),
        fam(
            "lat",
            "histogram",
            Metric(
                (("instance", "i"), ("job", "j")),
                sample_count=2,
                sample_sum=1.0,
                buckets=((1.0, 2), (math.inf, 2)),
            ),
        ),
    )
    g = group(key, *families)
    body = recreate_body(g)
    assert body is not None
    parsed = {f.name: f for f in parse_text(body.encode())}
    assert set(parsed) == {"a_total", "lat"}  # not the gateway's own push_time_seconds
    assert parsed["a_total"].metrics[0].labels == (("k", 'q"\\'),)
    assert parsed["a_total"].help == "a\nb"
    assert parsed["lat"].metrics[0].buckets[0] == (1.0, 2)
    recreate, delete = commands(ctx(), g)
    url = "'http://gw.example:9091/pg/metrics/job/j/instance/i'"
    assert recreate is not None and recreate.startswith(
        f"cat <<'PUSHGATE_EOF' | curl -X PUT --data-binary @- {url}\n"
    )
    assert recreate.endswith("\nPUSHGATE_EOF")
    assert delete == f"curl -X DELETE {url}"


def test_recreate_command_quotes_the_url_for_the_shell() -> None:
    c = UiContext(".", "http://h/it's", True, NOW, "0", NOW)
    _, delete = commands(c, group({"job": "j"}))
    assert delete == "curl -X DELETE 'http://h/it'\"'\"'s/metrics/job/j'"


def test_recreate_command_is_left_out_for_huge_groups() -> None:
    metrics = tuple(Metric((("n", str(i)),), 1.0) for i in range(MAX_COMMAND_LINES + 1))
    g = group({"job": "j"}, fam("big", "gauge", *metrics))
    assert recreate_body(g) is None
    page = render_detail(ctx(), g, {})
    assert "too large for a recreate command" in page


def test_missing_group_page() -> None:
    page = render_missing(ctx(), (("job", EVIL),))
    parse(page)
    assert "<script>" not in page
    assert "There is no group" in page


def test_describe_key_puts_job_first() -> None:
    assert describe_key((("a", "1"), ("job", 'x"y'))) == '{job="x\\"y", a="1"}'


# -- the CI overview -----------------------------------------------------------


def test_run_of_reads_tests_and_coverage() -> None:
    run = run_of(ci_run("p", "main", 1, passed=10, failed=2, line=80.0, push=NOW))
    assert run is not None
    assert run.tests == {"passed": 10.0, "failed": 2.0, "error": 0.0, "skipped": 2.0}
    assert (run.failures, run.line_coverage, run.branch_coverage) == (2.0, 80.0, 70.0)
    assert run_of(group({"job": "x"}, fam("other"))) is None


def test_ci_lines_group_runs_by_job_and_branch_in_push_order() -> None:
    groups = [
        ci_run("p", "main", 2, passed=10, failed=0, line=81.0, push=NOW - 100),
        ci_run("p", "main", 1, passed=9, failed=1, line=80.0, push=NOW - 200),
        ci_run("p", "main", 3, passed=11, failed=3, line=79.0, push=NOW - 50),
        ci_run("p", "feat", 4, passed=5, failed=0, line=60.0, push=NOW),
        ci_run("q", "main", 5, passed=5, failed=0, line=60.0, push=NOW),
        group({"job": "p", "branch": "main", "instance": "not-a-run"}, push=NOW + 10),
    ]
    lines = ci_lines(groups, GroupFilter(), max_runs=2)
    assert [(ln.job, ln.branch, ln.total_runs) for ln in lines] == [
        ("p", "feat", 1),
        ("p", "main", 3),
        ("q", "main", 1),
    ]
    main = lines[1]
    assert [r.line_coverage for r in main.runs()] == [81.0, 79.0]  # the last 2, oldest first
    assert main.latest.failures == 3
    failing = ci_lines(groups, GroupFilter(), 20, tests="failing")
    assert [(ln.job, ln.branch) for ln in failing] == [("p", "main")]
    passing = ci_lines(groups, GroupFilter.from_query({"match": "job=p"}), 20, tests="passing")
    assert [(ln.job, ln.branch) for ln in passing] == [("p", "feat")]


def test_ci_page_has_chart_data_and_no_js_fallback() -> None:
    groups = [
        ci_run("p", "main", n, passed=100 + n, failed=n % 2, line=70.0 + n, push=NOW - 100 + n)
        for n in range(1, 5)
    ]
    page = render_ci(ctx(), groups, {})
    parse(page)
    assert "vendor/uPlot.iife.min.js" in page and "vendor/uPlot.min.css" in page
    sparks = [json.loads(a["data-spark"] or "") for t, a in parse(page).tags if "data-spark" in a]
    assert sparks[0] == {
        "kind": "tests",
        "labels": ["1.1-0000001", "1.2-0000002", "1.3-0000003", "1.4-0000004"],
        "passed": [101.0, 102.0, 103.0, 104.0],
        "failed": [1.0, 0.0, 1.0, 0.0],
    }
    assert sparks[1]["coverage"] == [71.0, 72.0, 73.0, 74.0]
    assert "71.0 % → 74.0 % over 4 runs" in page  # the text shown without JavaScript
    assert "104 passed" in page
    assert "▲ +1.0" in page


def test_ci_page_escapes_and_explains_when_empty() -> None:
    page = render_ci(ctx(), [group({"job": EVIL})], {"match": EVIL})
    parse(page)
    assert "<script>" not in page
    assert "No CI runs" in page


# -- the status page -------------------------------------------------------------


def test_status_page_lists_flags() -> None:
    page = render_status(ctx(), store_name="memory", groups=3, flags={"web.listen-address": EVIL})
    parse(page)
    assert "<script>" not in page
    assert "web.listen-address" in page


@pytest.mark.parametrize("base", [".", "../../..", "/pg", ""])
def test_links_and_assets_follow_the_base(base: str) -> None:
    page = render_listing(ctx(base=base), [group({"job": "j"})], {})
    assert f'href="{base}/static/ui.css?v=' in page
    assert f'<a class="brand" href="{base}/">' in page
    assert f'href="{base}/ci"' in page
