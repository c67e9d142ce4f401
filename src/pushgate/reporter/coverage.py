"""Coverage reports: line and branch coverage as covered/total counts.

Formats, recognised by content rather than by file name (CI tools name files
freely): Cobertura XML (``coverage xml``, also gcovr, Istanbul), coverage.py
JSON (``coverage json``), LCOV (``coverage lcov``, Istanbul, ``geninfo``) and
JaCoCo XML. Counts rather than percentages are kept so that several reports
(one per package or per test job) combine weighted by size.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from xml.etree.ElementTree import Element

from pushgate.reporter.errors import ReportInputError
from pushgate.reporter.reportfile import (
    MAX_REPORT_BYTES,
    XmlEvent,
    iter_xml,
    local_name,
    read_head,
    read_text,
)

#: "xml" covers Cobertura and JaCoCo: the root element tells them apart.
CoverageFormat = Literal["xml", "coverage.py-json", "lcov"]


@dataclass(frozen=True, slots=True)
class Ratio:
    """``covered`` out of ``total`` units (lines or branches)."""

    covered: float
    total: float

    @property
    def percent(self) -> float:
        return 100.0 * self.covered / self.total

    def __add__(self, other: Ratio) -> Ratio:
        return Ratio(self.covered + other.covered, self.total + other.total)


@dataclass(frozen=True, slots=True)
class CoverageSummary:
    """Line and branch coverage; ``None`` where the report did not measure it."""

    line: Ratio | None = None
    branch: Ratio | None = None

    def __add__(self, other: CoverageSummary) -> CoverageSummary:
        return CoverageSummary(_add(self.line, other.line), _add(self.branch, other.branch))


def _add(a: Ratio | None, b: Ratio | None) -> Ratio | None:
    if a is None:
        return b
    if b is None:
        return a
    return a + b


def _ratio(covered: float, total: float) -> Ratio | None:
    # Nothing measured (no branches, an empty project) is "no data", not 0 %
    # or 100 %: the series is left out instead of inventing a value.
    return Ratio(covered, total) if total > 0 else None


def load_coverage_files(paths: Iterable[Path], limit: int = MAX_REPORT_BYTES) -> CoverageSummary:
    """The combined coverage of several reports, each in any supported format."""
    total = CoverageSummary()
    for path in paths:
        total = total + load_coverage(path, limit)
    return total


def detect_format(path: Path, head: str) -> CoverageFormat:
    """The format of a coverage report from the start of its text."""
    stripped = head.lstrip()
    if stripped.startswith("{"):
        return "coverage.py-json"
    if stripped.startswith("<"):
        return "xml"
    first = stripped.split("\n", 1)[0]
    if first.startswith(("TN:", "SF:")):
        return "lcov"
    raise ReportInputError(
        f"{path}: not a coverage report this tool reads (Cobertura XML, coverage.py JSON, "
        "LCOV, JaCoCo XML); write one with e.g. `coverage xml`"
    )


def load_coverage(path: Path, limit: int = MAX_REPORT_BYTES) -> CoverageSummary:
    """The coverage of one report file, whatever its format."""
    head = read_head(path).decode("utf-8", errors="replace").lstrip("\ufeff")
    fmt = detect_format(path, head)
    if fmt == "coverage.py-json":
        return parse_coverage_json(path, read_text(path, limit))
    if fmt == "lcov":
        return parse_lcov(path, read_text(path, limit))
    return _load_xml(path, limit)


def _float(path: Path, owner: str, key: str, raw: object) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise ReportInputError(f"{path}: {owner} {key}={raw!r} is not a number")
    try:
        value = float(raw)
    except ValueError:
        raise ReportInputError(f"{path}: {owner} {key}={raw!r} is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise ReportInputError(f"{path}: {owner} {key}={raw!r} must be a finite number >= 0")
    return value


def _load_xml(path: Path, limit: int) -> CoverageSummary:
    kind = "Cobertura or JaCoCo XML"
    with closing(iter_xml(path, kind, limit)) as events:
        return _read_xml_events(path, kind, events)


def _read_xml_events(
    path: Path, kind: str, events: Iterable[tuple[XmlEvent, Element]]
) -> CoverageSummary:
    root: str | None = None
    depth = 0
    for event, element in events:
        name = local_name(element.tag)
        if event == "start":
            depth += 1
            if root is None:
                root = name
                if name == "coverage":
                    return _cobertura(path, element.attrib)
                if name != "report":
                    raise ReportInputError(
                        f"{path}: the root element is <{name}>, not <coverage> (Cobertura) "
                        "or <report> (JaCoCo); is this a coverage report?"
                    )
            continue
        depth -= 1
        if root == "report" and depth == 0:
            # JaCoCo puts the project totals in <counter> children of <report>;
            # the counters of packages and classes sit deeper.
            counters = {c.get("type", ""): c for c in element if local_name(c.tag) == "counter"}
            return CoverageSummary(
                line=_jacoco_ratio(path, counters.get("LINE")),
                branch=_jacoco_ratio(path, counters.get("BRANCH")),
            )
        if depth == 1 and local_name(element.tag) in ("package", "group"):
            # Finished packages are not needed for the totals; free them.
            element.clear()
    raise ReportInputError(f"{path}: empty file; expected a {kind} report")


def _jacoco_ratio(path: Path, counter: Element | None) -> Ratio | None:
    if counter is None:
        return None
    missed = _float(path, "<counter>", "missed", counter.get("missed", ""))
    covered = _float(path, "<counter>", "covered", counter.get("covered", ""))
    return _ratio(covered, covered + missed)


def _cobertura(path: Path, attrib: Mapping[str, str]) -> CoverageSummary:
    def counts(covered_key: str, valid_key: str, rate_key: str) -> Ratio | None:
        if valid_key in attrib and covered_key in attrib:
            valid = _float(path, "<coverage>", valid_key, attrib[valid_key])
            covered = _float(path, "<coverage>", covered_key, attrib[covered_key])
            return _ratio(covered, valid)
        if rate_key in attrib:
            # Writers that give only the rate: weigh the file as 100 units.
            rate = _float(path, "<coverage>", rate_key, attrib[rate_key])
            return Ratio(rate * 100.0, 100.0)
        return None

    line = counts("lines-covered", "lines-valid", "line-rate")
    branch = counts("branches-covered", "branches-valid", "branch-rate")
    if line is None and branch is None:
        raise ReportInputError(
            f"{path}: <coverage> has neither lines-valid/lines-covered nor line-rate; "
            "is this a Cobertura report?"
        )
    return CoverageSummary(line, branch)


def parse_coverage_json(path: Path, text: str) -> CoverageSummary:
    """Coverage from ``coverage json`` output (its ``totals`` object)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReportInputError(
            f"{path}: not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from exc
    totals = data.get("totals") if isinstance(data, dict) else None
    if not isinstance(totals, dict):
        raise ReportInputError(
            f'{path}: JSON without a "totals" object; expected `coverage json` output'
        )

    def field(key: str) -> float:
        if key not in totals:
            raise ReportInputError(
                f'{path}: "totals" has no {key!r}; expected `coverage json` output'
            )
        return _float(path, '"totals"', key, totals[key])

    line = _ratio(field("covered_lines"), field("num_statements"))
    branch = None
    if "num_branches" in totals:
        branch = _ratio(field("covered_branches"), field("num_branches"))
    return CoverageSummary(line, branch)


def parse_lcov(path: Path, text: str) -> CoverageSummary:
    """Coverage from an LCOV tracefile: the per-file LF/LH and BRF/BRH totals.

    Files without LF/LH summary lines are counted from their DA/BRDA records.
    """
    lines = Ratio(0.0, 0.0)
    branches = Ratio(0.0, 0.0)
    measured_branches = False
    record: dict[str, float] = {}
    da_total = da_hit = brda_total = brda_hit = 0

    def close() -> None:
        nonlocal lines, branches, measured_branches, da_total, da_hit, brda_total, brda_hit
        lf = record.get("LF", float(da_total))
        lh = record.get("LH", float(da_hit))
        lines = lines + Ratio(lh, lf)
        brf = record.get("BRF", float(brda_total))
        brh = record.get("BRH", float(brda_hit))
        if "BRF" in record or brda_total:
            measured_branches = True
        branches = branches + Ratio(brh, brf)
        record.clear()
        da_total = da_hit = brda_total = brda_hit = 0

    open_record = False
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if line == "end_of_record":
            close()
            open_record = False
            continue
        key, sep, value = line.partition(":")
        if not sep:
            raise ReportInputError(
                f"{path}: line {number}: {raw[:80]!r} is not an LCOV record (KEY:VALUE)"
            )
        open_record = True
        if key in ("LF", "LH", "BRF", "BRH"):
            record[key] = _float(path, f"line {number}:", key, value)
        elif key == "DA":
            parts = value.split(",")
            da_total += 1
            if len(parts) >= 2 and parts[1] not in ("0", ""):
                da_hit += 1
        elif key == "BRDA":
            parts = value.split(",")
            brda_total += 1
            if len(parts) >= 4 and parts[3] not in ("0", "-", ""):
                brda_hit += 1
    if open_record:
        close()
    return CoverageSummary(
        line=_ratio(lines.covered, lines.total),
        branch=_ratio(branches.covered, branches.total) if measured_branches else None,
    )
