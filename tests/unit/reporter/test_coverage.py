"""Coverage reports: every format from real tools, combination, bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from pushgate.reporter.coverage import (
    CoverageSummary,
    Ratio,
    load_coverage,
    load_coverage_files,
)
from pushgate.reporter.errors import ReportInputError

GOLDEN = Path(__file__).parents[2] / "golden" / "reporter"


@pytest.mark.parametrize(
    ("name", "line", "branch"),
    [
        # The same coverage.py run (branch mode) in its three formats.
        ("coverage.xml", 80.0, 75.0),
        ("coverage.json", 80.0, 75.0),
        ("coverage.lcov", 80.0, 75.0),
        # Istanbul (jest --coverage): LCOV and Cobertura with a DOCTYPE.
        ("istanbul.lcov", 100.0, 50.0),
        ("istanbul-cobertura.xml", 100.0, 50.0),
        ("jacoco.xml", 75.0, 75.0),
    ],
)
def test_real_reports(name: str, line: float, branch: float) -> None:
    summary = load_coverage(GOLDEN / name)
    assert summary.line is not None and summary.branch is not None
    assert summary.line.percent == pytest.approx(line)
    assert summary.branch.percent == pytest.approx(branch)


def test_reports_combine_weighted_by_size() -> None:
    summary = load_coverage_files([GOLDEN / "coverage.xml", GOLDEN / "istanbul.lcov"])
    assert summary.line == Ratio(11.0, 13.0)
    assert summary.branch == Ratio(4.0, 6.0)


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_line_only_cobertura_has_no_branch_series(tmp_path: Path) -> None:
    # `coverage xml` without --branch writes branches-valid="0".
    path = _write(
        tmp_path,
        "c.xml",
        '<coverage lines-valid="4" lines-covered="3" line-rate="0.75" branches-valid="0" '
        'branches-covered="0" branch-rate="0"/>',
    )
    assert load_coverage(path) == CoverageSummary(Ratio(3.0, 4.0), None)


def test_cobertura_with_rates_only(tmp_path: Path) -> None:
    path = _write(tmp_path, "c.xml", '<coverage line-rate="0.5"/>')
    summary = load_coverage(path)
    assert summary.line is not None and summary.line.percent == 50.0
    assert summary.branch is None


def test_json_without_branches(tmp_path: Path) -> None:
    path = _write(tmp_path, "c.json", '{"totals": {"covered_lines": 1, "num_statements": 4}}')
    assert load_coverage(path) == CoverageSummary(Ratio(1.0, 4.0), None)


def test_empty_project_is_no_data_rather_than_a_number(tmp_path: Path) -> None:
    path = _write(tmp_path, "c.json", '{"totals": {"covered_lines": 0, "num_statements": 0}}')
    assert load_coverage(path) == CoverageSummary(None, None)


def test_lcov_without_summary_lines_counts_records(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "c.lcov",
        "SF:a.c\nDA:1,1\nDA:2,0\nDA:3,5\nBRDA:1,0,0,1\nBRDA:1,0,1,-\nend_of_record\n",
    )
    summary = load_coverage(path)
    assert summary.line == Ratio(2.0, 3.0)
    assert summary.branch == Ratio(1.0, 2.0)


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("c.json", '{"totals": ', r"c\.json: not valid JSON at line 1"),
        ("c.json", '{"meta": {}}', r'c\.json: JSON without a "totals" object'),
        (
            "c.json",
            '{"totals": {"num_statements": 3}}',
            r"c\.json: \"totals\" has no 'covered_lines'",
        ),
        (
            "c.json",
            '{"totals": {"covered_lines": "many", "num_statements": 3}}',
            r"covered_lines='many' is not a number",
        ),
        ("c.lcov", "SF:a.c\nDA:1,1\nthis is not lcov\n", r"c\.lcov: line 3: 'this is not lcov'"),
        ("c.lcov", "SF:a.c\nLF:x\n", r"c\.lcov: line 2: LF='x' is not a number"),
        ("c.xml", "<coverage line-rate=", r"c\.xml: not well-formed XML"),
        ("c.xml", "<html/>", r"c\.xml: the root element is <html>"),
        ("c.xml", "<coverage/>", r"c\.xml: <coverage> has neither"),
        ("c.txt", "hello", r"c\.txt: not a coverage report this tool reads"),
        ("c.txt", "", r"c\.txt: not a coverage report this tool reads"),
    ],
)
def test_malformed_reports_name_the_file(
    tmp_path: Path, name: str, text: str, message: str
) -> None:
    path = _write(tmp_path, name, text)
    with pytest.raises(ReportInputError, match=message):
        load_coverage(path)


def test_entity_attack_in_coverage_xml_is_refused(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "c.xml",
        '<?xml version="1.0"?><!DOCTYPE coverage [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><coverage line-rate="&b;"/>',
    )
    with pytest.raises(ReportInputError, match=r"c\.xml: refused"):
        load_coverage(path)


def test_oversized_report_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "c.lcov", "SF:a\n" + "DA:1,1\n" * 1000)
    with pytest.raises(ReportInputError, match=r"c\.lcov: larger than the 1 KiB limit"):
        load_coverage(path, limit=1024)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ReportInputError, match=r"nope\.xml: cannot read"):
        load_coverage(tmp_path / "nope.xml")
