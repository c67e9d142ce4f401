"""JUnit XML: real reports of each dialect, malformed, hostile and huge input."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from pushgate.reporter.errors import ReportInputError
from pushgate.reporter.junit import SuiteSummary, load_junit, load_junit_files
from pushgate.reporter.reportfile import expand_patterns

GOLDEN = Path(__file__).parents[2] / "golden" / "reporter"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        # pytest --junitxml: the xfail is a <skipped type="pytest.xfail">.
        ("pytest-junit.xml", SuiteSummary(2, 1, 1, 2, 0.054)),
        ("unittest-junit.xml", SuiteSummary(1, 1, 1, 1, 0.003)),
        ("jest-junit.xml", SuiteSummary(2, 1, 0, 1, 0.329)),
        # go-junit-report v2 writes no time on <testsuites>: suites add up.
        ("go-junit-report.xml", SuiteSummary(3, 1, 0, 1, 0.006)),
        # Surefire: a <flakyFailure> that passed on rerun is a pass; the
        # old locale-formatted time "1,234.5" is read.
        ("surefire-TEST-com.example.CalcTest.xml", SuiteSummary(2, 1, 1, 1, 1234.5)),
    ],
)
def test_real_reports(name: str, expected: SuiteSummary) -> None:
    got = load_junit(GOLDEN / name)
    assert (got.passed, got.failed, got.error, got.skipped) == (
        expected.passed,
        expected.failed,
        expected.error,
        expected.skipped,
    )
    assert got.duration_seconds == pytest.approx(expected.duration_seconds)


def test_many_files_add_up() -> None:
    files = expand_patterns(["*-junit.xml"], GOLDEN, option="--junit")
    assert [f.name for f in files] == ["jest-junit.xml", "pytest-junit.xml", "unittest-junit.xml"]
    total = load_junit_files(files)
    assert (total.passed, total.failed, total.error, total.skipped) == (5, 3, 2, 4)
    assert total.total == 14
    assert total.duration_seconds == pytest.approx(0.054 + 0.003 + 0.329)


def test_glob_that_matches_nothing_names_the_pattern(tmp_path: Path) -> None:
    with pytest.raises(ReportInputError, match=r"--junit 'reports/\*\.xml': no file matches"):
        expand_patterns(["reports/*.xml"], tmp_path, option="--junit")


def test_recursive_glob_and_duplicates(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    for p in (tmp_path / "a" / "one.xml", tmp_path / "a" / "b" / "two.xml"):
        p.write_text('<testsuite tests="1"><testcase name="t"/></testsuite>')
    files = expand_patterns(["**/*.xml", "a/one.xml"], tmp_path, option="--junit")
    assert sorted(f.name for f in files) == ["one.xml", "two.xml"]
    assert load_junit_files(files).passed == 2


def _write(tmp_path: Path, text: str, name: str = "report.xml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_suite_without_testcases_uses_its_totals(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        '<testsuites><testsuite tests="10" failures="2" errors="1" skipped="3" time="4.5"/>'
        "</testsuites>",
    )
    assert load_junit(path) == SuiteSummary(4, 2, 1, 3, 4.5)


def test_nested_suites_count_once(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        '<testsuite name="outer" time="2"><testsuite name="inner" time="1.5">'
        '<testcase name="a" time="0.5"/><testcase name="b"><error/></testcase>'
        "</testsuite></testsuite>",
    )
    assert load_junit(path) == SuiteSummary(1, 0, 1, 0, 2.0)


def test_namespaced_elements(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        '<x:testsuite xmlns:x="urn:example" time="1"><x:testcase name="a"><x:skipped/>'
        "</x:testcase></x:testsuite>",
    )
    assert load_junit(path) == SuiteSummary(0, 0, 0, 1, 1.0)


def test_durations_fall_back_to_testcases(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        '<testsuite><testcase name="a" time="0.25"/><testcase name="b" time="0.5"/></testsuite>',
    )
    assert load_junit(path).duration_seconds == 0.75


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("<testsuite><testcase>", r"report\.xml: not well-formed XML at line 1, column 22"),
        ("", r"report\.xml: not well-formed XML at line 1"),
        ("not xml at all", r"report\.xml: not well-formed XML"),
        ("<html><body/></html>", r"report\.xml: the root element is <html>"),
        ('<testsuite time="soon"/>', r"report\.xml: <testsuite time='soon'> is not a number"),
        ('<testsuite time="-1"/>', r"must be a finite number >= 0"),
        ('<testsuite><testcase time="nan"/></testsuite>', r"must be a finite number >= 0"),
    ],
)
def test_malformed_reports_name_the_file(tmp_path: Path, text: str, message: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ReportInputError, match=message):
        load_junit(path)


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<testsuite name="&lol3;"><testcase name="t"/></testsuite>
"""

EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE testsuite [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<testsuite><testcase name="&secret;"/></testsuite>
"""


@pytest.mark.parametrize("text", [BILLION_LAUGHS, EXTERNAL_ENTITY])
def test_entity_attacks_are_refused(tmp_path: Path, text: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ReportInputError, match=r"report\.xml: refused: the XML declares entities"):
        load_junit(path)


def test_file_over_the_limit_is_refused_before_reading(tmp_path: Path) -> None:
    path = _write(tmp_path, "<testsuite>" + "<testcase/>" * 200 + "</testsuite>")
    with pytest.raises(ReportInputError, match=r"report\.xml: larger than the 1 KiB limit"):
        load_junit(path, limit=1024)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ReportInputError, match=r"gone\.xml: cannot read"):
        load_junit(tmp_path / "gone.xml")


def test_huge_report_streams(tmp_path: Path) -> None:
    # 100k testcases with captured output (~17 MB): streamed, not built as a
    # tree, so it stays quick and small.
    path = tmp_path / "huge.xml"
    case = '<testcase name="t" time="0.001"><system-out>' + "x" * 100 + "</system-out></testcase>"
    with path.open("w") as out:
        out.write('<testsuite time="100">')
        for _ in range(100):
            out.write(case * 1000)
        out.write("</testsuite>")
    started = time.perf_counter()
    summary = load_junit(path)
    assert summary == SuiteSummary(100_000, 0, 0, 0, 100.0)
    assert time.perf_counter() - started < 20
