"""The UI's HTML escaping, filter language, paging and time formats (pure)."""

from __future__ import annotations

import pytest

from pushgate.core.model import Metric, MetricFamily
from pushgate.server.ui.markup import Markup, escape, join, render
from pushgate.server.ui.query import (
    FilterError,
    GroupFilter,
    LabelMatcher,
    Page,
    int_param,
    parse_label_filter,
    query_string,
)
from pushgate.server.ui.times import format_absolute, format_duration, format_relative
from pushgate.store.contract import PUSH_FAILURE_TIME_NAME, PUSH_TIME_NAME, Group, StoredFamily

# -- markup -----------------------------------------------------------------


def test_render_escapes_every_value() -> None:
    out = render('<a href="{href}">{text}</a>', href='x" onclick="y', text="<script>&")
    assert out == '<a href="x&quot; onclick=&quot;y">&lt;script&gt;&amp;</a>'
    assert isinstance(out, Markup)


def test_markup_is_not_escaped_twice() -> None:
    inner = render("<b>{v}</b>", v="<i>")
    assert render("<p>{x}</p>", x=inner) == "<p><b>&lt;i&gt;</b></p>"
    assert escape(inner) is inner


def test_join_escapes_plain_strings_only() -> None:
    assert join(["<a>", Markup("<b>")], ", ") == "&lt;a&gt;, <b>"


def test_escape_quotes_single_quotes_too() -> None:
    assert escape("it's") == "it&#x27;s"


# -- filter language -------------------------------------------------------


def test_parse_all_operators_and_words() -> None:
    matchers, words = parse_label_filter('{branch="main", job=~"api-.*" instance!="" x!~y} 1.4.2')
    assert [(m.name, m.op, m.value) for m in matchers] == [
        ("branch", "=", "main"),
        ("job", "=~", "api-.*"),
        ("instance", "!=", ""),
        ("x", "!~", "y"),
    ]
    assert words == ("1.4.2",)


def test_parse_bare_and_quoted_values() -> None:
    matchers, _ = parse_label_filter('branch=feature/x  commit=\'ab c\' a = "q\\"uote\\n"')
    assert [(m.name, m.value) for m in matchers] == [
        ("branch", "feature/x"),
        ("commit", "ab c"),
        ("a", 'q"uote\n'),
    ]


def test_parse_words_are_case_folded() -> None:
    assert parse_label_filter('Main "Two Words"') == ((), ("main", "two words"))


@pytest.mark.parametrize(
    ("text", "message"),
    [('job="abc', "unterminated quote"), ("job=~[", "invalid regular expression")],
)
def test_parse_errors(text: str, message: str) -> None:
    with pytest.raises(FilterError, match=message):
        parse_label_filter(text)


@pytest.mark.parametrize(
    ("op", "value", "labels", "expected"),
    [
        ("=", "main", {"branch": "main"}, True),
        ("=", "main", {"branch": "mainline"}, False),
        ("=", "", {}, True),  # a missing label is the empty value, as in PromQL
        ("!=", "", {"branch": "x"}, True),
        ("!=", "", {}, False),
        ("=~", "ma.*", {"branch": "main"}, True),
        ("=~", "ma", {"branch": "main"}, False),  # anchored, as in PromQL
        ("!~", "ma.*", {"branch": "main"}, False),
        ("!~", "ma.*", {}, True),
    ],
)
def test_matcher_semantics(op: str, value: str, labels: dict[str, str], expected: bool) -> None:
    matcher = LabelMatcher.from_parts("branch", op, value)  # type: ignore[arg-type]
    assert matcher.matches(labels) is expected


def _group(key: dict[str, str], push: float = 100.0, failure: float = 0.0, *names: str) -> Group:
    families = {
        PUSH_TIME_NAME: StoredFamily(
            MetricFamily(PUSH_TIME_NAME, "gauge", "h", (Metric((), push),)), push
        ),
        PUSH_FAILURE_TIME_NAME: StoredFamily(
            MetricFamily(PUSH_FAILURE_TIME_NAME, "gauge", "h", (Metric((), failure),)), push
        ),
    }
    for name in names:
        families[name] = StoredFamily(MetricFamily(name, "gauge", None, (Metric((), 1.0),)), push)
    return Group(tuple(sorted(key.items())), families)


def test_group_filter_combines_labels_words_metric_and_status() -> None:
    ok = _group({"job": "api", "branch": "main"}, 100, 0, "coverage_percent")
    failed = _group({"job": "api", "branch": "dev"}, 100, 200, "Coverage_Lines")
    flt = GroupFilter.from_query({"match": "job=api", "metric": "COVERAGE", "status": "failed"})
    assert not flt.matches(ok, dict(ok.key))
    assert flt.matches(failed, dict(failed.key))
    assert flt.matching_families(failed) == ["Coverage_Lines"]
    assert GroupFilter.from_query({"match": "dev"}).matches(failed, dict(failed.key))
    assert GroupFilter.from_query({"match": "BRANCH"}).matches(ok, dict(ok.key))
    assert not GroupFilter.from_query({"metric": "tests"}).matches(ok, dict(ok.key))


def test_group_filter_keeps_the_error_and_ignores_bad_status() -> None:
    flt = GroupFilter.from_query({"match": "job=~(", "status": "weird"})
    assert "invalid regular expression" in flt.error
    assert flt.status == ""
    assert flt.text == "job=~("


# -- paging and parameters ---------------------------------------------------


def test_page_clamps_and_slices() -> None:
    page = Page(7, 10, 25)
    assert (page.number, page.pages, page.start, page.end) == (3, 3, 20, 25)
    assert list(page.items(range(25))) == [20, 21, 22, 23, 24]
    empty = Page(0, 10, 0)
    assert (empty.number, empty.pages, empty.start, empty.end) == (1, 1, 0, 0)


def test_int_param_falls_back_and_clamps() -> None:
    assert int_param({"n": "x"}, "n", 5, 1, 10) == 5
    assert int_param({"n": "50"}, "n", 5, 1, 10) == 10
    assert int_param({"n": "-3"}, "n", 5, 1, 10) == 1
    assert int_param({}, "n", 5, 1, 10) == 5


def test_query_string_drops_empty_values() -> None:
    assert query_string({"match": 'a="b c"', "metric": ""}, page=2) == "?match=a%3D%22b+c%22&page=2"
    assert query_string({}) == "?"


# -- times -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("ts", "now", "expected"),
    [
        (100.0, 100.4, "just now"),
        (100.0, 142.0, "42 s ago"),
        (0.0, 100.0, "never"),
        (1000.0, 1000.0 + 5 * 60 + 3, "5 min ago"),
        (1000.0, 1000.0 + 3 * 3600, "3 h ago"),
        (1000.0, 1000.0 + 86400, "1 day ago"),
        (1000.0, 1000.0 + 3 * 86400, "3 days ago"),
        (1000.0 + 7200, 1000.0, "in 2 h"),
    ],
)
def test_format_relative(ts: float, now: float, expected: str) -> None:
    assert format_relative(ts, now) == expected


def test_format_absolute_and_duration() -> None:
    assert format_absolute(1714567890.9) == "2024-05-01 12:51:30 UTC"
    assert format_absolute(float("nan")) == "unknown"
    assert format_duration(0.2) == "0 s"
