"""JUnit XML test reports: counting outcomes and the suite duration.

One reader covers the dialects CI tools write: pytest ``--junitxml``,
unittest-xml-reporting, jest-junit, go-junit-report and Maven Surefire. They
agree on ``<testsuites>``/``<testsuite>``/``<testcase>`` and on a testcase
child ``<failure>``, ``<error>`` or ``<skipped>`` marking its outcome; they
differ in which totals they write, so outcomes are counted from the testcases
themselves and the suite attributes are only a fallback for suites that list
no testcases.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pushgate.reporter.errors import ReportInputError
from pushgate.reporter.reportfile import MAX_REPORT_BYTES, iter_xml, local_name

_KIND = "JUnit XML"


@dataclass(frozen=True, slots=True)
class SuiteSummary:
    """Outcome counts and wall-clock duration of one or more test reports."""

    passed: int = 0
    failed: int = 0
    error: int = 0
    skipped: int = 0
    duration_seconds: float = 0.0

    @property
    def total(self) -> int:
        return self.passed + self.failed + self.error + self.skipped

    def __add__(self, other: SuiteSummary) -> SuiteSummary:
        # Several files (one per test job or module) add up: their suites ran
        # one after the other as far as the report can tell.
        return SuiteSummary(
            passed=self.passed + other.passed,
            failed=self.failed + other.failed,
            error=self.error + other.error,
            skipped=self.skipped + other.skipped,
            duration_seconds=self.duration_seconds + other.duration_seconds,
        )


def load_junit_files(paths: Iterable[Path], limit: int = MAX_REPORT_BYTES) -> SuiteSummary:
    """The combined summary of several JUnit XML files."""
    total = SuiteSummary()
    for path in paths:
        total = total + load_junit(path, limit)
    return total


def _number(path: Path, element: ET.Element, attribute: str) -> float | None:
    raw = element.get(attribute)
    if raw is None or raw.strip() == "":
        return None
    # Old Surefire versions format times with the platform locale ("1,234.5").
    text = raw.strip().replace(",", "")
    try:
        value = float(text)
    except ValueError:
        raise ReportInputError(
            f"{path}: <{local_name(element.tag)} {attribute}={raw!r}> is not a number"
        ) from None
    if value != value or value < 0 or value == float("inf"):
        raise ReportInputError(
            f"{path}: <{local_name(element.tag)} {attribute}={raw!r}> must be a finite number >= 0"
        )
    return value


def _count(path: Path, element: ET.Element, attribute: str) -> int:
    value = _number(path, element, attribute)
    return 0 if value is None else int(value)


@dataclass(slots=True)
class _Suite:
    """Running state of one open ``<testsuite>`` while streaming."""

    testcases: int = 0


def load_junit(path: Path, limit: int = MAX_REPORT_BYTES) -> SuiteSummary:
    """The summary of one JUnit XML file.

    Raises :class:`ReportInputError` naming the file when it is not JUnit XML.
    """
    passed = failed = error = skipped = 0
    case_seconds = 0.0
    suite_seconds: list[float | None] = []
    root_seconds: float | None = None
    root_name: str | None = None
    stack: list[ET.Element] = []
    suites: list[_Suite] = []

    for event, element in iter_xml(path, _KIND, limit):
        name = local_name(element.tag)
        if event == "start":
            if root_name is None:
                root_name = name
                if name not in ("testsuites", "testsuite"):
                    raise ReportInputError(
                        f"{path}: the root element is <{name}>, not <testsuites> or "
                        "<testsuite>; is this a JUnit XML report?"
                    )
            if name == "testsuite":
                suites.append(_Suite())
            stack.append(element)
            continue

        stack.pop()
        if name == "testcase":
            kinds = {local_name(child.tag) for child in element}
            if "failure" in kinds:
                failed += 1
            elif "error" in kinds:
                error += 1
            elif "skipped" in kinds:
                skipped += 1
            else:
                passed += 1
            case_seconds += _number(path, element, "time") or 0.0
            for suite in suites:
                suite.testcases += 1
            # Drop the finished testcase (and its captured output) from the tree
            # so that memory stays flat however big the report is.
            if stack:
                stack[-1].remove(element)
        elif name == "testsuite":
            suite = suites.pop()
            if not suites:
                suite_seconds.append(_number(path, element, "time"))
            if suite.testcases == 0 and not suites:
                # A suite that lists no testcases but has totals (some reporters
                # write only the summary): trust its attributes.
                tests = _count(path, element, "tests")
                f = _count(path, element, "failures")
                e = _count(path, element, "errors")
                s = _count(path, element, "skipped") + _count(path, element, "disabled")
                failed += f
                error += e
                skipped += s
                passed += max(tests - f - e - s, 0)
            if stack:
                stack[-1].remove(element)
        elif name == "testsuites" and not stack:
            root_seconds = _number(path, element, "time")

    if root_name is None:
        raise ReportInputError(f"{path}: empty file; expected a {_KIND} report")

    if root_seconds is not None:
        duration = root_seconds
    elif suite_seconds and all(s is not None for s in suite_seconds):
        duration = sum(s for s in suite_seconds if s is not None)
    else:
        duration = case_seconds
    return SuiteSummary(passed, failed, error, skipped, duration)
