"""``pushgate report`` and ``pushgate flush``: argv -> settings -> the reporter.

Exit codes: 0 when the metrics were pushed, and also by default when they
could not be (a warning is printed: metrics must never fail a build); 1 for
any such problem with ``--strict``; 2 for a mistake on the command line
(raised as :class:`ConfigError` to the error boundary in ``cli.main``).
Secrets (``PUSHGATE_TOKEN``, ``PUSHGATE_PASSWORD``, ``SONAR_TOKEN``, user
info in ``--gateway``) are never printed: messages name their variables.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from pushgate.core.duration import parse_duration
from pushgate.core.errors import ConfigError
from pushgate.reporter.ci_context import GitReader, git_reader, parse_time
from pushgate.reporter.client import (
    ENV_PASSWORD,
    ENV_TOKEN,
    ENV_USERNAME,
    Credentials,
    HttpClient,
    RetryPolicy,
    Transport,
    split_gateway_url,
)
from pushgate.reporter.errors import PushError, ReportError
from pushgate.reporter.oidc import (
    DEFAULT_AUDIENCE,
    ENV_REQUEST_TOKEN,
    ENV_REQUEST_URL,
    describe,
    fetch_github_token,
    oidc_available,
)
from pushgate.reporter.report import ReportSettings, build_report, deliver, parse_label_arg
from pushgate.reporter.spool import TTL_HEADER, PushMethod, Spool, flush_spool

#: Environment variable read when --gateway is not given (the pytest plugin reads it too).
ENV_GATEWAY = "PUSHGATE_URL"

REPORT_EPILOG = f"""\
examples:
  pushgate report --gateway http://pushgateway:9091 --job beast-mailbox-core \\
      --version 0.4.5 --junit 'reports/*.xml' --coverage coverage.xml
      push test counts, duration and coverage of this run
  pushgate report --junit junit.xml --coverage coverage.json --dry-run
      print the push URL and the metrics instead of sending them
  pushgate report --sonar-url https://sonarcloud.io --sonar-project acme_shop
      add SonarCloud measures (token in SONAR_TOKEN)
  pushgate report --junit report.xml --spool .pushgate-spool
      keep the payload if the gateway is down; send it later with
      `pushgate flush .pushgate-spool`
  pushgate report --metric 'wheel_size_bytes{{python="3.11"}}=52133' --label team=core

the grouping key (the push URL) is
  /metrics/job/<job>/instance/<version>-<sha7>/branch/<branch>/version/<version>/commit/<sha7>
plus workflow_run_id with --with-run-id or --run-id, and every --label. Values
with "/" (feature/login) are sent as @base64. Defaults come from the CI
(GitHub Actions, GitLab CI, Jenkins, CircleCI, Buildkite, Azure Pipelines) or
git, and the version from pyproject.toml, package.json or `git describe`.

environment:
  {ENV_GATEWAY}        gateway URL when --gateway is not given
  {ENV_TOKEN}      bearer token for the gateway, or
  {ENV_USERNAME}, {ENV_PASSWORD}   basic auth for the gateway
  {ENV_REQUEST_URL}, {ENV_REQUEST_TOKEN}
                      set by GitHub Actions for jobs with `permissions: id-token: write`:
                      without other credentials, an OIDC token for --oidc-audience is
                      sent (the gateway maps its repository to what it may push;
                      docs/security.md)
  SONAR_TOKEN         token for --sonar-url

A push that fails (gateway down, timeout, refused) prints a warning and exits
0, so that metrics never fail a build; --strict makes it exit 1. Unreadable
report files are warnings too (the other metrics are still pushed).
Label strategy and its cost: docs/reporter.md.
"""

FLUSH_EPILOG = f"""\
examples:
  pushgate flush .pushgate-spool
      deliver what `pushgate report --spool .pushgate-spool` kept
  pushgate flush .pushgate-spool --gateway http://pushgateway-2:9091
      deliver to another gateway (the grouping keys stay the same)

Payloads are removed once the gateway accepted them. A transient failure
(gateway down) keeps them for the next flush; a payload the gateway refuses
(HTTP 4xx) moves to DIR/rejected/ with the reason beside it. Credentials come
from {ENV_TOKEN} or {ENV_USERNAME}/{ENV_PASSWORD}, as for `report`.
"""


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``report`` and ``flush`` on the ``pushgate`` command."""
    _add_report(subparsers)
    _add_flush(subparsers)


def _add_delivery_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--gateway",
        metavar="URL",
        help=f"gateway base URL, e.g. http://pushgateway:9091 (default: ${ENV_GATEWAY})",
    )
    p.add_argument(
        "--timeout",
        type=_positive_float(),
        default=10.0,
        metavar="SECONDS",
        help="timeout of one HTTP request (default 10)",
    )
    p.add_argument(
        "--retries",
        type=_count(),
        default=3,
        metavar="N",
        help="retries after a failed attempt, with exponential backoff (default 3)",
    )
    p.add_argument(
        "--strict",
        action="store_true",
        help="exit 1 when anything could not be read or delivered (default: warn, exit 0)",
    )
    p.add_argument(
        "--oidc-audience",
        default=DEFAULT_AUDIENCE,
        metavar="AUD",
        help="audience of the GitHub Actions OIDC token sent when no other credentials are"
        f" set and the job has `id-token: write` (default {DEFAULT_AUDIENCE})",
    )
    p.add_argument(
        "--no-oidc",
        action="store_true",
        help="never send a GitHub Actions OIDC token",
    )


def _add_report(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "report",
        help="push CI results (JUnit, coverage, SonarCloud) to a gateway",
        description="Collect a CI run's test, coverage and quality metrics and push them\n"
        "to a Pushgateway (pushgate or the official one) under one grouping key.",
        epilog=REPORT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_delivery_options(p)
    key = p.add_argument_group("grouping key (defaults: detected from the CI and git)")
    key.add_argument("--job", help="job name (default: the repository name)")
    key.add_argument(
        "--version",
        dest="project_version",
        metavar="VERSION",
        help="project version (default: pyproject.toml, package.json, git describe)",
    )
    key.add_argument("--commit", metavar="SHA", help="commit (default: the CI's or HEAD)")
    key.add_argument("--branch", help="branch (default: the CI's or the checked-out one)")
    key.add_argument(
        "--label",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra grouping label, repeatable; may also replace a default (instance=...)",
    )
    key.add_argument(
        "--with-run-id",
        action="store_true",
        help="add the CI run id as workflow_run_id (one group per run: see the cost in "
        "docs/reporter.md)",
    )
    key.add_argument(
        "--run-id", metavar="ID", help="workflow_run_id to add (implies --with-run-id)"
    )

    src = p.add_argument_group("sources")
    src.add_argument(
        "--junit",
        action="append",
        default=[],
        metavar="GLOB",
        help="JUnit XML report(s), repeatable, globs allowed (pytest, unittest, jest-junit, "
        "go-junit-report, Surefire)",
    )
    src.add_argument(
        "--coverage",
        action="append",
        default=[],
        metavar="GLOB",
        help="coverage report(s): Cobertura XML, coverage.py JSON, LCOV or JaCoCo XML",
    )
    src.add_argument(
        "--sonar-url", metavar="URL", help="SonarCloud/SonarQube URL, e.g. https://sonarcloud.io"
    )
    src.add_argument(
        "--sonar-project",
        metavar="KEY",
        help="Sonar project key (default: sonar.projectKey in sonar-project.properties)",
    )
    src.add_argument(
        "--sonar-branch", metavar="NAME", help="Sonar branch to read (default: the main one)"
    )
    src.add_argument(
        "--metric",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help='extra metric, repeatable: NAME=VALUE or NAME{LABEL="V"}=VALUE '
        "(a counter if NAME ends in _total, else a gauge)",
    )
    src.add_argument(
        "--metrics-file",
        action="append",
        default=[],
        metavar="FILE",
        help="extra metrics in the Prometheus text format, repeatable",
    )

    run = p.add_argument_group("CI run (github_workflow_runs_total, run duration)")
    run.add_argument("--workflow", help="workflow name (default: the CI's)")
    run.add_argument(
        "--conclusion",
        help="success, failure, cancelled... (GitHub: ${{ job.status }}; "
        "default: failure if a test failed, else success)",
    )
    run.add_argument(
        "--started-at",
        metavar="TIME",
        help="run start, Unix seconds or ISO 8601 (default: the CI's, where it tells)",
    )
    run.add_argument("--no-ci-metrics", action="store_true", help="do not report the workflow run")

    out = p.add_argument_group("delivery")
    out.add_argument(
        "--method",
        choices=("put", "post"),
        default="put",
        help="put replaces the whole group (default); post replaces only the pushed "
        "families, e.g. to add to what the pytest plugin pushed",
    )
    out.add_argument(
        "--ttl",
        type=_duration(),
        metavar="DURATION",
        help="ask pushgate to delete this run's group after DURATION (30d, 12h, 3600),"
        f" sent as the {TTL_HEADER} header; the official gateway ignores it"
        " (docs/retention.md)",
    )
    out.add_argument(
        "--spool",
        metavar="DIR",
        type=Path,
        help="keep the payload in DIR when it cannot be delivered (see `pushgate flush`)",
    )
    out.add_argument(
        "--dry-run", action="store_true", help="print the push URL and the metrics; send nothing"
    )
    out.add_argument(
        "--project-dir",
        type=Path,
        default=Path("."),
        metavar="DIR",
        help="where report globs and project files are looked up (default: .)",
    )
    p.set_defaults(func=report_command)


def _add_flush(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "flush",
        help="deliver pushes that `report --spool` kept while a gateway was down",
        description="Deliver the payloads kept in a spool directory by `pushgate report --spool`.",
        epilog=FLUSH_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("directory", type=Path, metavar="DIR", help="the spool directory")
    _add_delivery_options(p)
    p.set_defaults(func=flush_command)


def _positive_float() -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"{text!r} must be more than 0")
        return value

    return parse


def _duration() -> Callable[[str], str]:
    def parse(text: str) -> str:
        try:
            parse_duration(text)
        except ConfigError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
        return text.strip()

    return parse


def _count() -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < 0:
            raise argparse.ArgumentTypeError(f"{text!r} must be 0 or more")
        return value

    return parse


@dataclass(frozen=True, slots=True)
class Io:
    """The edges a command touches, replaceable in tests (no sockets, no real env)."""

    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    out: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)
    transport: Transport | None = None
    git: GitReader | None = None
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep


def _client(args: argparse.Namespace, io: Io) -> HttpClient:
    policy = RetryPolicy(attempts=args.retries + 1, timeout=args.timeout)
    return HttpClient(io.transport, policy, sleep=io.sleep)


def _gateway(args: argparse.Namespace, io: Io, *, required: bool) -> tuple[str | None, Credentials]:
    """The gateway URL (without user info) and the credentials to use with it."""
    raw = args.gateway or io.env.get(ENV_GATEWAY) or None
    env_credentials = Credentials.from_env(io.env)
    if raw is None:
        if required:
            raise ConfigError(f"no gateway: pass --gateway URL or set {ENV_GATEWAY}")
        return None, env_credentials
    url, url_credentials = split_gateway_url(raw)
    if url_credentials is not None and env_credentials.kind == "none":
        return url, url_credentials
    return url, env_credentials


def _settings(args: argparse.Namespace) -> ReportSettings:
    return ReportSettings(
        project_dir=args.project_dir,
        job=args.job,
        version=args.project_version,
        commit=args.commit,
        branch=args.branch,
        labels=tuple(parse_label_arg(label) for label in args.label),
        run_id=args.run_id,
        with_run_id=args.with_run_id or args.run_id is not None,
        junit=tuple(args.junit),
        coverage=tuple(args.coverage),
        sonar_url=args.sonar_url,
        sonar_project=args.sonar_project,
        sonar_branch=args.sonar_branch,
        workflow=args.workflow,
        conclusion=args.conclusion,
        started_at=None
        if args.started_at is None
        else parse_time(args.started_at, what="--started-at"),
        ci_metrics=not args.no_ci_metrics,
        metrics=tuple(args.metric),
        metrics_files=tuple(args.metrics_file),
    )


def _uses_oidc(args: argparse.Namespace, io: Io, credentials: Credentials) -> bool:
    """An OIDC token is sent when nothing else is configured and GitHub offers one."""
    return credentials.kind == "none" and not args.no_oidc and oidc_available(io.env)


def _with_oidc(
    args: argparse.Namespace,
    io: Io,
    credentials: Credentials,
    client: HttpClient,
    warn: Callable[[str], None],
) -> Credentials:
    if not _uses_oidc(args, io, credentials):
        return credentials
    try:
        return fetch_github_token(io.env, args.oidc_audience, client)
    except PushError as exc:
        warn(f"{exc}; pushing without credentials")
        return credentials


def report_command(args: argparse.Namespace) -> int:
    return run_report(args, Io())


def run_report(args: argparse.Namespace, io: Io) -> int:
    """``pushgate report``; see the module docstring for exit codes."""
    settings = _settings(args)
    gateway, credentials = _gateway(args, io, required=not args.dry_run)
    client = _client(args, io)
    git = io.git if io.git is not None else git_reader(settings.project_dir)
    problems = 0

    def warn(message: str) -> None:
        nonlocal problems
        problems += 1
        level = "error" if args.strict else "warning"
        print(f"pushgate report: {level}: {message}", file=io.err)

    try:
        report = build_report(settings, io.env, git, client, io.clock())
    except ReportError as exc:
        warn(f"{exc}; nothing was pushed")
        return 1 if args.strict else 0
    for problem in report.problems:
        warn(f"{problem}; its metrics are left out")

    method: PushMethod = "PUT" if args.method == "put" else "POST"
    payload = report.payload(gateway or f"${ENV_GATEWAY}", method, args.ttl)
    if args.dry_run:
        print(f"{method} {payload.url}", file=io.out)
        auth = credentials.kind
        if _uses_oidc(args, io, credentials):
            auth = describe(args.oidc_audience) + ", requested when pushing"
        print(f"# auth: {auth}", file=io.out)
        if payload.ttl:
            print(f"# {TTL_HEADER}: {payload.ttl}", file=io.out)
        io.out.write(payload.body.decode("utf-8"))
        io.out.flush()
        return 1 if args.strict and problems else 0

    spool = Spool(args.spool) if args.spool is not None else None
    credentials = _with_oidc(args, io, credentials, client, warn)
    try:
        result = deliver(payload, client, credentials, spool)
    except ReportError as exc:
        warn(str(exc))
        return 1 if args.strict else 0
    if result.error is not None:
        message = str(result.error)
        if result.spooled is not None:
            message += (
                f"; kept in {result.spooled}, deliver it later with `pushgate flush {args.spool}`"
            )
        elif result.error.retryable:
            message += "; add --spool DIR to keep payloads while the gateway is down"
        warn(message)
    else:
        assert result.delivery is not None
        attempts = result.delivery.attempts
        print(
            f"pushgate report: pushed {len(report.families)} metric families to {payload.url} "
            f"(HTTP {result.delivery.response.status}"
            + (f", after {attempts} attempts)" if attempts > 1 else ")"),
            file=io.err,
        )
    return 1 if args.strict and problems else 0


def flush_command(args: argparse.Namespace) -> int:
    return run_flush(args, Io())


def run_flush(args: argparse.Namespace, io: Io) -> int:
    """``pushgate flush DIR``: deliver spooled payloads; exit codes as for ``report``."""
    override, credentials = _gateway(args, io, required=False)
    spool = Spool(args.directory)
    if not spool.entries():
        print(f"pushgate flush: nothing to deliver in {args.directory}", file=io.err)
        return 0
    client = _client(args, io)
    level = "error" if args.strict else "warning"

    def warn(message: str) -> None:
        print(f"pushgate flush: {level}: {message}", file=io.err)

    credentials = _with_oidc(args, io, credentials, client, warn)
    outcome = flush_spool(spool, client, credentials, override)
    for path, reason in outcome.kept:
        print(
            f"pushgate flush: {level}: {path.name} kept for the next flush: {reason}", file=io.err
        )
    for path, reason in outcome.rejected:
        print(f"pushgate flush: {level}: {path} rejected: {reason}", file=io.err)
    print(
        f"pushgate flush: delivered {len(outcome.delivered)}, kept {len(outcome.kept)}, "
        f"rejected {len(outcome.rejected)}",
        file=io.err,
    )
    failed = bool(outcome.kept or outcome.rejected)
    return 1 if args.strict and failed else 0
