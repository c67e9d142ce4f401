"""One report: the grouping key and metric families of a CI run, and its delivery.

:func:`build_report` gathers every source the settings name (JUnit, coverage,
Sonar, the CI context, extra metrics) into a :class:`Report`. A source that
fails does not stop the others: its error is kept in ``Report.problems`` and
the caller decides (a warning by default, a failed build with ``--strict``).
Mistakes in the settings themselves raise :class:`ConfigError` at once.

:func:`deliver` pushes a report and spools it when the gateway cannot take it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from pushgate.core.errors import ConfigError, ParseError
from pushgate.core.grouping import render_grouping_path
from pushgate.core.model import MetricFamily
from pushgate.core.names import is_reserved_label_name, is_valid_label_name
from pushgate.core.textformat import parse_text, render_text
from pushgate.reporter.ci_context import CiContext, GitReader, detect_ci, file_mtime
from pushgate.reporter.client import Credentials, Delivery, HttpClient
from pushgate.reporter.coverage import load_coverage_files
from pushgate.reporter.errors import PushError, ReportError, ReportInputError
from pushgate.reporter.junit import SuiteSummary, load_junit_files
from pushgate.reporter.metrics import (
    check_body_labels,
    coverage_families,
    extra_families,
    merge_families,
    sonar_families,
    suite_families,
    workflow_families,
)
from pushgate.reporter.project import detect_version
from pushgate.reporter.reportfile import expand_patterns, read_bytes
from pushgate.reporter.sonar import ENV_SONAR_TOKEN, SonarSettings, fetch_sonar
from pushgate.reporter.spool import Payload, PushMethod, Spool

#: Grouping labels set by the report itself, in the order of the push URL.
STANDARD_GROUPING = ("job", "instance", "branch", "version", "commit")
RUN_ID_LABEL = "workflow_run_id"

_SHA = re.compile(r"[0-9a-fA-F]{7,64}")
_CONCLUSION = re.compile(r"[a-z][a-z_]{0,31}")


@dataclass(frozen=True, slots=True)
class ReportSettings:
    """Everything ``pushgate report`` was asked to do; ``None`` means "detect"."""

    project_dir: Path = Path(".")
    job: str | None = None
    version: str | None = None
    commit: str | None = None
    branch: str | None = None
    labels: tuple[tuple[str, str], ...] = ()
    run_id: str | None = None
    with_run_id: bool = False
    junit: tuple[str, ...] = ()
    coverage: tuple[str, ...] = ()
    sonar_url: str | None = None
    sonar_project: str | None = None
    sonar_branch: str | None = None
    workflow: str | None = None
    conclusion: str | None = None
    started_at: float | None = None
    ci_metrics: bool = True
    metrics: tuple[str, ...] = ()
    metrics_files: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Report:
    """What will be pushed, and what went wrong while gathering it."""

    grouping: tuple[tuple[str, str], ...]
    families: tuple[MetricFamily, ...]
    problems: tuple[ReportError, ...] = ()
    ci: CiContext | None = field(default=None, compare=False)

    @property
    def path(self) -> str:
        """``/metrics/job/<job>/...``, with ``@base64`` where a value needs it."""
        return "/metrics" + render_grouping_path(dict(self.grouping))

    @property
    def body(self) -> bytes:
        return render_text(self.families)

    def payload(self, gateway: str, method: PushMethod, ttl: str | None = None) -> Payload:
        return Payload(method, gateway, self.path, self.body, ttl)


def parse_label_arg(text: str) -> tuple[str, str]:
    """``NAME=VALUE`` from ``--label``; the value may be anything, even empty."""
    name, sep, value = text.partition("=")
    name = name.strip()
    if not sep:
        raise ConfigError(f"--label {text!r}: use NAME=VALUE, e.g. --label team=payments")
    if name == "job":
        raise ConfigError(f"--label {text!r}: the job is set with --job, not --label")
    if not is_valid_label_name(name) or is_reserved_label_name(name):
        raise ConfigError(
            f"--label {text!r}: {name!r} is not a valid label name "
            "([a-zA-Z_][a-zA-Z0-9_]*, not starting with __)"
        )
    return name, value


def _sonar_project_key(project_dir: Path) -> str | None:
    """``sonar.projectKey`` from ``sonar-project.properties``, as the scanner reads it."""
    try:
        text = (project_dir / "sonar-project.properties").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() == "sonar.projectKey" and value.strip():
            return value.strip()
    return None


def load_metrics_file(path: Path) -> list[MetricFamily]:
    """Families from a text-format (0.0.4) file, as given (types and HELP kept)."""
    data = read_bytes(path)
    try:
        families = list(parse_text(data))
    except ParseError as exc:
        raise ReportInputError(f"{path}: {exc}") from exc
    for family in families:
        for metric in family.metrics:
            if metric.timestamp_ms is not None:
                raise ReportInputError(
                    f"{path}: metric {family.name!r} has a timestamp; the gateway refuses "
                    "pushes with timestamps, remove it"
                )
    return families


class _Gatherer:
    """Collects families per source, keeping each source's error instead of raising."""

    def __init__(self) -> None:
        self.families: list[list[MetricFamily]] = []
        self.problems: list[ReportError] = []

    def add(self, source: Callable[[], list[MetricFamily]]) -> None:
        try:
            self.families.append(source())
        except ReportError as exc:
            self.problems.append(exc)


def _required(value: str | None, what: str, hint: str) -> str:
    if value is None or not value.strip():
        raise ReportInputError(f"cannot tell the {what}; {hint}")
    return value.strip()


def resolve_grouping(
    settings: ReportSettings, ci: CiContext, version: str | None
) -> tuple[tuple[str, str], ...]:
    """The grouping key, in push-URL order: job, instance, branch, version, commit, ..."""
    job = _required(settings.job or ci.repository, "job", "pass --job NAME")
    commit = _required(
        settings.commit or ci.commit, "commit", "pass --commit SHA or run inside a git checkout"
    )
    if _SHA.fullmatch(commit) is None:
        raise ConfigError(f"--commit {commit!r} is not a git SHA (7 to 64 hex digits)")
    sha7 = commit[:7].lower()
    branch = _required(
        settings.branch or ci.branch, "branch", "pass --branch NAME (HEAD is detached)"
    )
    version = _required(
        settings.version or version,
        "version",
        "pass --version, or give the project a pyproject.toml/package.json version or a git tag",
    )
    grouping: dict[str, str] = {
        "job": job,
        "instance": f"{version}-{sha7}",
        "branch": branch,
        "version": version,
        "commit": sha7,
    }
    run_id = settings.run_id or (ci.run_id if settings.with_run_id else None)
    if settings.with_run_id and not run_id:
        raise ReportInputError("--with-run-id: this CI exposes no run id; pass --run-id ID")
    if run_id:
        grouping[RUN_ID_LABEL] = run_id
    # --label may also replace a default (e.g. --label instance=...), which is
    # how "every default is overridable" holds for the derived ones.
    grouping.update(settings.labels)
    return tuple(grouping.items())


def build_report(
    settings: ReportSettings,
    env: Mapping[str, str],
    git: GitReader,
    client: HttpClient,
    now: float,
    mtime: Callable[[str], float | None] = file_mtime,
) -> Report:
    """Gather every requested source into one report."""
    ci = detect_ci(env, git, mtime)
    base = settings.project_dir
    gather = _Gatherer()

    suite: list[SuiteSummary] = []

    def junit() -> list[MetricFamily]:
        summary = load_junit_files(expand_patterns(settings.junit, base, option="--junit"))
        suite.append(summary)
        return suite_families(summary)

    if settings.junit:
        gather.add(junit)
    if settings.coverage:
        gather.add(
            lambda: coverage_families(
                load_coverage_files(expand_patterns(settings.coverage, base, option="--coverage"))
            )
        )
    if settings.sonar_url:
        project = settings.sonar_project or _sonar_project_key(base)
        if not project:
            raise ConfigError(
                "--sonar-url needs the project key: pass --sonar-project KEY "
                "(or have sonar.projectKey in sonar-project.properties)"
            )
        sonar = SonarSettings(
            settings.sonar_url, project, settings.sonar_branch, env.get(ENV_SONAR_TOKEN) or None
        )
        gather.add(lambda: sonar_families(fetch_sonar(client, sonar)))
    workflow = settings.workflow or ci.workflow
    if settings.ci_metrics and workflow:
        conclusion = settings.conclusion
        if conclusion is None:
            # Without --conclusion (GitHub: ${{ job.status }}) the tests decide.
            failed = bool(suite) and (suite[0].failed + suite[0].error) > 0
            conclusion = "failure" if failed else "success"
        conclusion = conclusion.strip().lower()
        if _CONCLUSION.fullmatch(conclusion) is None:
            raise ConfigError(
                f"--conclusion {settings.conclusion!r}: use one lower-case word such as "
                "success, failure or cancelled"
            )
        started = settings.started_at if settings.started_at is not None else ci.started_at
        duration = now - started if started is not None and now >= started else None
        gather.add(lambda: workflow_families(workflow, conclusion, duration))
    for pattern in settings.metrics_files:
        gather.add(partial(_load_metrics_pattern, pattern, base))
    extras = extra_families(settings.metrics)

    grouping = resolve_grouping(settings, ci, detect_version(base, git))
    families = merge_families(*gather.families, extras)
    check_body_labels(families, (name for name, _ in grouping))
    return Report(grouping, families, tuple(gather.problems), ci)


def _load_metrics_pattern(pattern: str, base: Path) -> list[MetricFamily]:
    paths = expand_patterns([pattern], base, option="--metrics-file")
    return [family for path in paths for family in load_metrics_file(path)]


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """Either ``delivery`` (accepted) or ``error`` (and ``spooled`` if it was kept)."""

    delivery: Delivery | None = None
    error: PushError | None = None
    spooled: Path | None = None


def deliver(
    payload: Payload, client: HttpClient, credentials: Credentials, spool: Spool | None
) -> DeliveryResult:
    """Push ``payload``; keep it in ``spool`` (if any) when the gateway does not accept it."""
    try:
        return DeliveryResult(delivery=client.send(payload.request(credentials)))
    except PushError as exc:
        spooled = spool.put(payload, str(exc)) if spool is not None else None
        return DeliveryResult(error=exc, spooled=spooled)
