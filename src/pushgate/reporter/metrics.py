"""The metric families a report pushes: fixed names, HELP texts and TYPEs.

Every project pushes the same names with the *same* HELP text: the gateway
merges same-named families of all groups into one and refuses a push whose
HELP or TYPE differs from what other groups hold (spec 5.2), so these strings
are part of the contract with the dashboards and must not vary per project.

Series labels are only small closed sets (test outcome, coverage type, gate
status, workflow name, conclusion). Run ids and SHAs never appear here; they
belong to the grouping key (see docs/reporter.md, "Label strategy").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pushgate.core.errors import ConfigError
from pushgate.core.floats import parse_float
from pushgate.core.model import Labels, Metric, MetricFamily, MetricType
from pushgate.core.names import is_reserved_label_name, is_valid_label_name, is_valid_metric_name
from pushgate.reporter.coverage import CoverageSummary
from pushgate.reporter.junit import SuiteSummary
from pushgate.reporter.sonar import SonarMeasures


@dataclass(frozen=True, slots=True)
class Spec:
    """Name, type and HELP of one reported family."""

    name: str
    type: MetricType
    help: str


TESTS = Spec(
    "pytest_tests_total",
    "counter",
    "Tests in the last reported run, by outcome (passed, failed, error, skipped).",
)
TEST_DURATION = Spec(
    "pytest_duration_seconds", "gauge", "Duration of the last reported test run in seconds."
)
COVERAGE = Spec(
    "coverage_percent", "gauge", "Code coverage of the last reported run in percent, by type."
)
SONAR_SPECS = {
    "coverage": Spec(
        "sonarcloud_coverage_percent", "gauge", "Overall coverage in percent reported by Sonar."
    ),
    "bugs": Spec("sonarcloud_bugs", "gauge", "Open bugs reported by Sonar."),
    "vulnerabilities": Spec(
        "sonarcloud_vulnerabilities", "gauge", "Open vulnerabilities reported by Sonar."
    ),
    "code_smells": Spec("sonarcloud_code_smells", "gauge", "Open code smells reported by Sonar."),
    "duplicated_lines_density": Spec(
        "sonarcloud_duplicated_lines_density_percent",
        "gauge",
        "Duplicated lines in percent of all lines, reported by Sonar.",
    ),
}
QUALITY_GATE = Spec(
    "sonarcloud_quality_gate_status",
    "gauge",
    "Sonar quality gate status: 1 for the current status, 0 for the others.",
)
#: The statuses Sonar documents; all are written so that a status change is a
#: change of value, not a series that appears or goes stale.
GATE_STATUSES = ("OK", "WARN", "ERROR", "NONE")
WORKFLOW_RUNS = Spec(
    "github_workflow_runs_total",
    "counter",
    "CI workflow runs reported, by workflow and conclusion (1 per reported run).",
)
WORKFLOW_DURATION = Spec(
    "github_workflow_run_duration_seconds",
    "gauge",
    "Seconds from the start of the CI run to the report.",
)
EXTRA_HELP = "Reported with pushgate report --metric."

TEST_STATUSES = ("passed", "failed", "error", "skipped")


def _family(spec: Spec, metrics: Iterable[Metric]) -> MetricFamily:
    return MetricFamily(spec.name, spec.type, spec.help, tuple(metrics))


def suite_families(summary: SuiteSummary) -> list[MetricFamily]:
    counts = dict(
        zip(
            TEST_STATUSES,
            (summary.passed, summary.failed, summary.error, summary.skipped),
            strict=True,
        )
    )
    return [
        _family(TESTS, (Metric((("status", s),), float(counts[s])) for s in TEST_STATUSES)),
        _family(TEST_DURATION, [Metric((), summary.duration_seconds)]),
    ]


def coverage_families(summary: CoverageSummary) -> list[MetricFamily]:
    metrics = [
        Metric((("type", kind),), ratio.percent)
        for kind, ratio in (("line", summary.line), ("branch", summary.branch))
        if ratio is not None
    ]
    return [_family(COVERAGE, metrics)] if metrics else []


def sonar_families(measures: SonarMeasures) -> list[MetricFamily]:
    families = [_family(SONAR_SPECS[key], [Metric((), value)]) for key, value in measures.measures]
    if measures.quality_gate is not None:
        statuses = list(GATE_STATUSES)
        if measures.quality_gate not in statuses:
            statuses.append(measures.quality_gate)
        families.append(
            _family(
                QUALITY_GATE,
                (
                    Metric((("status", s),), 1.0 if s == measures.quality_gate else 0.0)
                    for s in statuses
                ),
            )
        )
    return families


def workflow_families(
    workflow: str, conclusion: str, duration_seconds: float | None
) -> list[MetricFamily]:
    families = [
        _family(WORKFLOW_RUNS, [Metric((("conclusion", conclusion), ("workflow", workflow)), 1.0)])
    ]
    if duration_seconds is not None:
        families.append(
            _family(WORKFLOW_DURATION, [Metric((("workflow", workflow),), duration_seconds)])
        )
    return families


# NAME, optional {LABELS}, "=", VALUE. Label values may be quoted ("a,b") or
# bare (no comma, brace or quote), which is friendlier on a shell line.
_METRIC_ARG = re.compile(r"(?P<name>[^{=\s]+)(?:\{(?P<labels>.*)\})?=(?P<value>\S+)", re.DOTALL)
_LABEL_PAIR = re.compile(
    r'\s*(?P<name>[^=,\s]+)\s*=\s*(?:"(?P<quoted>(?:[^"\\]|\\.)*)"|(?P<bare>[^",}]*))\s*(?:,|$)'
)


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), value)


def parse_metric_arg(text: str) -> tuple[str, Metric]:
    """``NAME[{LABEL=VALUE,...}]=VALUE`` from ``--metric`` as a name and a metric.

    ``build_size_bytes{artifact="wheel"}=12345``, ``deploys_total=1``.
    """
    match = _METRIC_ARG.fullmatch(text.strip())
    usage = 'use NAME=VALUE or NAME{LABEL="VALUE",...}=VALUE, e.g. build_size_bytes=12345'
    if match is None:
        raise ConfigError(f"--metric {text!r}: {usage}")
    name = match["name"]
    if not is_valid_metric_name(name):
        raise ConfigError(
            f"--metric {text!r}: {name!r} is not a valid metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)"
        )
    try:
        value = parse_float(match["value"])
    except ValueError:
        raise ConfigError(
            f"--metric {text!r}: {match['value']!r} is not a number; {usage}"
        ) from None
    labels: list[tuple[str, str]] = []
    raw_labels = (match["labels"] or "").strip()
    pos = 0
    while pos < len(raw_labels):
        pair = _LABEL_PAIR.match(raw_labels, pos)
        if pair is None or pair.end() == pos:
            raise ConfigError(
                f"--metric {text!r}: cannot read the labels at {raw_labels[pos:]!r}; {usage}"
            )
        label = pair["name"]
        if not is_valid_label_name(label) or is_reserved_label_name(label):
            raise ConfigError(f"--metric {text!r}: {label!r} is not a valid label name")
        labels.append(
            (label, _unescape(pair["quoted"]) if pair["quoted"] is not None else pair["bare"])
        )
        pos = pair.end()
    return name, Metric(tuple(sorted(labels)), value)


def extra_families(args: Sequence[str]) -> list[MetricFamily]:
    """Families from ``--metric`` arguments; a name ending in ``_total`` is a counter."""
    grouped: dict[str, dict[Labels, Metric]] = {}
    for arg in args:
        name, metric = parse_metric_arg(arg)
        series = grouped.setdefault(name, {})
        if metric.labels in series:
            raise ConfigError(f"--metric {arg!r}: the same series is given twice")
        series[metric.labels] = metric
    return [
        MetricFamily(
            name,
            "counter" if name.endswith("_total") else "gauge",
            EXTRA_HELP,
            tuple(series.values()),
        )
        for name, series in grouped.items()
    ]


def check_body_labels(families: Iterable[MetricFamily], grouping_names: Iterable[str]) -> None:
    """Refuse series labels that the gateway would overwrite with grouping labels.

    The gateway silently replaces them (spec 2.5), which can turn two series
    into duplicates and get the whole push refused.
    """
    reserved = set(grouping_names)
    for family in families:
        for metric in family.metrics:
            clash = sorted(reserved.intersection(name for name, _ in metric.labels))
            if clash:
                raise ConfigError(
                    f"metric {family.name!r} has label {clash[0]!r}, which is a grouping label "
                    "of this push; rename the label or drop it from the grouping key"
                )


def merge_families(*groups: Iterable[MetricFamily]) -> tuple[MetricFamily, ...]:
    """All families, sorted by name; a name given by two sources is an error."""
    seen: dict[str, MetricFamily] = {}
    for group in groups:
        for family in group:
            if family.name in seen:
                raise ConfigError(
                    f"metric {family.name!r} is given twice (e.g. by --metric or --metrics-file "
                    "and by a report); give each metric once"
                )
            seen[family.name] = family
    return tuple(seen[name] for name in sorted(seen))
