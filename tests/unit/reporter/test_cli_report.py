"""``pushgate report`` and ``pushgate flush`` end to end over fake edges (no sockets)."""

from __future__ import annotations

import argparse
import io
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from pushgate.cli import report as cli
from pushgate.core.errors import ConfigError
from pushgate.core.grouping import parse_grouping_key
from pushgate.reporter.client import HttpResponse, TransportError
from tests.conftest import require_binary
from tests.unit.reporter.fakes import NO_SLEEP, FakeTransport, fake_git

GOLDEN = Path(__file__).parents[2] / "golden" / "reporter"
SHA = "3f786850e387550fdab836ed7e6dc881de23001b"
GITHUB = {
    "GITHUB_ACTIONS": "true",
    "GITHUB_SHA": SHA,
    "GITHUB_REF_NAME": "17/merge",
    "GITHUB_HEAD_REF": "feature/login",
    "GITHUB_REPOSITORY": "acme/beast-mailbox-core",
    "GITHUB_WORKFLOW": "CI",
    "GITHUB_RUN_ID": "987654321",
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pushgate")
    cli.add_parser(parser.add_subparsers(dest="command"))
    return parser


@dataclass
class Run:
    code: int
    out: str
    err: str
    transport: FakeTransport


def run(
    *argv: str,
    env: Mapping[str, str] = GITHUB,
    transport: FakeTransport | None = None,
    git: Mapping[str, str] | None = None,
) -> Run:
    args = _parser().parse_args(list(argv))
    out, err = io.StringIO(), io.StringIO()
    transport = transport or FakeTransport()
    fakes = cli.Io(
        env=dict(env),
        out=out,
        err=err,
        transport=transport,
        git=fake_git(git),
        clock=lambda: 1714557600.0,
        sleep=NO_SLEEP,
    )
    code = cli.run_report(args, fakes) if args.command == "report" else cli.run_flush(args, fakes)
    return Run(code, out.getvalue(), err.getvalue(), transport)


def _labels_of(url: str) -> dict[str, str]:
    path = url.split("/metrics/job/", 1)[1]
    job, _, rest = path.partition("/")
    job_b64 = False
    if url.split("/metrics/", 1)[1].startswith("job@base64/"):
        job_b64 = True
    return dict(parse_grouping_key(job, job_b64, "/" + rest if rest else ""))


def test_dry_run_shows_url_and_exposition() -> None:
    r = run(
        "report",
        "--gateway",
        "http://pushgateway:9091",
        "--version",
        "0.4.5",
        "--junit",
        str(GOLDEN / "pytest-junit.xml"),
        "--coverage",
        str(GOLDEN / "coverage.xml"),
        "--dry-run",
    )
    assert r.code == 0, r.err
    first, auth, *body = r.out.splitlines()
    method, url = first.split(" ")
    assert method == "PUT"
    assert url.startswith("http://pushgateway:9091/metrics/job/beast-mailbox-core/")
    # feature/login cannot be a path segment: it travels as @base64.
    assert "/branch@base64/ZmVhdHVyZS9sb2dpbg/" in url
    assert _labels_of(url) == {
        "job": "beast-mailbox-core",
        "instance": "0.4.5-3f78685",
        "branch": "feature/login",
        "version": "0.4.5",
        "commit": "3f78685",
    }
    assert auth == "# auth: none"
    assert 'pytest_tests_total{status="failed"} 1' in body
    assert 'coverage_percent{type="branch"} 75' in body
    assert 'github_workflow_runs_total{conclusion="failure",workflow="CI"} 1' in body
    assert r.transport.requests == []


def test_dry_run_passes_promtool() -> None:
    promtool = require_binary("promtool")
    r = run(
        "report",
        "--version",
        "1",
        "--junit",
        str(GOLDEN / "jest-junit.xml"),
        "--dry-run",
        "--coverage",
        str(GOLDEN / "jacoco.xml"),
        "--metric",
        "x_bytes=1",
    )
    body = "".join(line + "\n" for line in r.out.splitlines()[2:])
    done = subprocess.run(
        [promtool, "check", "metrics"],
        input=body.encode(),
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_push_sends_put_with_text_body() -> None:
    r = run(
        "report",
        "--gateway",
        "http://gw:9091/",
        "--version",
        "0.4.5",
        "--junit",
        str(GOLDEN / "pytest-junit.xml"),
    )
    assert r.code == 0 and r.out == ""
    (request,) = r.transport.requests
    assert request.method == "PUT"
    assert request.url.startswith("http://gw:9091/metrics/job/beast-mailbox-core/")
    assert ("Content-Type", "text/plain; version=0.0.4; charset=utf-8") in request.headers
    assert b'pytest_tests_total{status="passed"} 2\n' in request.body
    assert "pushgate report: pushed 3 metric families to http://gw:9091/metrics/job/" in r.err


def test_run_id_label_and_extra_labels() -> None:
    r = run(
        "report",
        "--version",
        "1.0",
        "--with-run-id",
        "--label",
        "team=core",
        "--label",
        "instance=custom",
        "--dry-run",
        "--no-ci-metrics",
    )
    labels = _labels_of(r.out.split()[1])
    assert labels["workflow_run_id"] == "987654321"
    assert labels["team"] == "core" and labels["instance"] == "custom"
    r = run("report", "--version", "1.0", "--run-id", "42", "--dry-run")
    assert _labels_of(r.out.split()[1])["workflow_run_id"] == "42"


def test_gateway_from_environment_and_post() -> None:
    env = {**GITHUB, "PUSHGATE_URL": "http://env-gw:9091"}
    r = run("report", "--version", "1", "--method", "post", "--metric", "x=1", env=env)
    assert r.transport.requests[0].method == "POST"
    assert r.transport.requests[0].url.startswith("http://env-gw:9091/metrics/job/")


def test_no_gateway_is_a_usage_error() -> None:
    with pytest.raises(ConfigError, match="pass --gateway URL or set PUSHGATE_URL"):
        run("report", "--version", "1")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--label", "team"], "--label 'team': use NAME=VALUE"),
        (["--label", "job=x"], "the job is set with --job"),
        (["--label", "1x=y"], "'1x' is not a valid label name"),
        (["--commit", "not-a-sha"], "--commit 'not-a-sha' is not a git SHA"),
        (["--conclusion", "Went Well"], "use one lower-case word"),
        (["--started-at", "soon"], "--started-at 'soon' is neither"),
        (["--sonar-url", "https://sonarcloud.io"], "--sonar-url needs the project key"),
    ],
)
def test_usage_errors_quote_the_input(argv: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        run("report", "--gateway", "http://gw", "--version", "1", *argv)


def test_failed_push_warns_and_exits_0_by_default() -> None:
    transport = FakeTransport([TransportError("Connection refused")])
    r = run(
        "report",
        "--gateway",
        "http://gw:9091",
        "--version",
        "1",
        "--retries",
        "2",
        "--metric",
        "x=1",
        transport=transport,
    )
    assert r.code == 0
    assert len(transport.requests) == 3
    assert "pushgate report: warning: push to http://gw:9091/metrics/job/" in r.err
    assert "gave up after 3 attempts); add --spool DIR" in r.err


def test_strict_makes_a_failed_push_fail() -> None:
    r = run(
        "report",
        "--gateway",
        "http://gw",
        "--version",
        "1",
        "--strict",
        "--metric",
        "x=1",
        transport=FakeTransport([HttpResponse(503)]),
    )
    assert r.code == 1 and "pushgate report: error: " in r.err


def test_bad_report_file_is_a_warning_and_the_rest_is_pushed(tmp_path: Path) -> None:
    bad = tmp_path / "junit.xml"
    bad.write_text("<testsuite>")
    argv = [
        "report",
        "--gateway",
        "http://gw",
        "--version",
        "1",
        "--junit",
        str(bad),
        "--coverage",
        str(GOLDEN / "coverage.json"),
    ]
    r = run(*argv)
    assert r.code == 0
    assert f"warning: {bad}: not well-formed XML at line 1" in r.err
    assert "its metrics are left out" in r.err
    (request,) = r.transport.requests
    assert b"coverage_percent" in request.body and b"pytest_tests_total" not in request.body
    strict = run(*argv, "--strict")
    assert strict.code == 1 and len(strict.transport.requests) == 1


def test_unknown_commit_pushes_nothing_but_does_not_fail() -> None:
    r = run("report", "--gateway", "http://gw", "--job", "j", "--version", "1", env={})
    assert r.code == 0
    assert "cannot tell the commit; pass --commit SHA" in r.err
    assert r.transport.requests == []
    strict = run(
        "report", "--gateway", "http://gw", "--job", "j", "--version", "1", "--strict", env={}
    )
    assert strict.code == 1


def test_secrets_are_never_printed() -> None:
    env = {**GITHUB, "PUSHGATE_TOKEN": "tok-SECRET", "SONAR_TOKEN": "sonar-SECRET"}
    r = run("report", "--version", "1", "--dry-run", env=env)
    assert "# auth: bearer token from PUSHGATE_TOKEN" in r.out
    r = run(
        "report",
        "--gateway",
        "https://ci:pw-SECRET@gw",
        "--version",
        "1",
        "--metric",
        "x=1",
        "--sonar-url",
        "https://sonar",
        "--sonar-project",
        "k",
        env=env,
        transport=FakeTransport([HttpResponse(401, b"unauthorized")]),
    )
    assert "SECRET" not in r.out + r.err
    # The env token wins over user info in the URL; neither is in the URL sent.
    push = r.transport.requests[-1]
    assert push.url.startswith("https://gw/metrics/")
    assert ("Authorization", "Bearer tok-SECRET") in push.headers


def test_spool_then_flush_loses_nothing(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    down = FakeTransport([TransportError("Connection refused")])
    for version in ("1.0", "1.1", "1.2"):
        r = run(
            "report",
            "--gateway",
            "http://gw:9091",
            "--version",
            version,
            "--retries",
            "0",
            "--metric",
            "x=1",
            "--spool",
            str(spool),
            transport=down,
        )
        assert r.code == 0 and f"deliver it later with `pushgate flush {spool}`" in r.err
    assert len(list(spool.glob("*.json"))) == 3

    still_down = run("flush", str(spool), "--retries", "0", transport=down)
    assert still_down.code == 0 and "delivered 0, kept 3, rejected 0" in still_down.err
    assert run("flush", str(spool), "--retries", "0", "--strict", transport=down).code == 1

    up = FakeTransport()
    r = run("flush", str(spool), transport=up)
    assert r.code == 0 and "delivered 3, kept 0, rejected 0" in r.err
    instances = sorted(_labels_of(req.url)["instance"] for req in up.requests)
    assert instances == ["1.0-3f78685", "1.1-3f78685", "1.2-3f78685"]
    assert list(spool.glob("*.json")) == []
    assert "nothing to deliver" in run("flush", str(spool), transport=up).err


def test_flush_reports_rejected_payloads(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    run(
        "report",
        "--gateway",
        "http://gw",
        "--version",
        "1",
        "--retries",
        "0",
        "--metric",
        "x=1",
        "--spool",
        str(spool),
        transport=FakeTransport([HttpResponse(500)]),
    )
    r = run("flush", str(spool), transport=FakeTransport([HttpResponse(400, b"type conflict")]))
    assert r.code == 0 and "rejected: " in r.err and "type conflict" in r.err
    assert len(list((spool / "rejected").glob("*.json"))) == 1


def test_metrics_file(tmp_path: Path) -> None:
    (tmp_path / "extra.prom").write_text(
        '# HELP build_info Build facts.\n# TYPE build_info gauge\nbuild_info{compiler="gcc"} 1\n'
    )
    r = run(
        "report",
        "--version",
        "1",
        "--dry-run",
        "--project-dir",
        str(tmp_path),
        "--metrics-file",
        "extra.prom",
    )
    assert 'build_info{compiler="gcc"} 1' in r.out
    (tmp_path / "bad.prom").write_text("x 1 2 3\n")
    r = run(
        "report",
        "--version",
        "1",
        "--dry-run",
        "--project-dir",
        str(tmp_path),
        "--metrics-file",
        "bad.prom",
    )
    assert "bad.prom: text format parsing error in line 1" in r.err


def test_help_teaches() -> None:
    parser = argparse.ArgumentParser(prog="pushgate")
    subparsers = parser.add_subparsers(dest="command")
    cli.add_parser(subparsers)
    text = subparsers.choices["report"].format_help()
    assert "examples:" in text and "--junit 'reports/*.xml'" in text
    assert "PUSHGATE_URL" in text and "docs/reporter.md" in text
    assert "examples:" in subparsers.choices["flush"].format_help()


def test_everything_given_needs_no_ci_and_no_git() -> None:
    r = run(
        "report",
        "--job",
        "j",
        "--version",
        "1",
        "--commit",
        SHA,
        "--branch",
        "main",
        "--dry-run",
        env={},
    )
    assert _labels_of(r.out.split()[1]) == {
        "job": "j",
        "instance": "1-3f78685",
        "branch": "main",
        "version": "1",
        "commit": "3f78685",
    }


def test_ttl_travels_as_a_header_and_survives_the_spool(tmp_path: Path) -> None:
    args = ("report", "--version", "1", "--metric", "x=1", "--ttl", "30d")
    r = run(*args, "--gateway", "http://gw:9091")
    (request,) = r.transport.requests
    assert ("X-Pushgate-TTL", "30d") in request.headers
    assert "/metrics/job/" in request.url and "ttl" not in request.url

    r = run(*args, "--dry-run")
    assert "# X-Pushgate-TTL: 30d" in r.out.splitlines()

    spool = tmp_path / "spool"
    down = FakeTransport([TransportError("connection refused")])
    run(
        *args,
        "--gateway",
        "http://gw:9091",
        "--spool",
        str(spool),
        "--retries",
        "0",
        transport=down,
    )
    flushed = run("flush", str(spool), "--gateway", "http://gw:9091")
    (request,) = flushed.transport.requests
    assert ("X-Pushgate-TTL", "30d") in request.headers


def test_a_bad_ttl_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        _parser().parse_args(["report", "--ttl", "soon"])
    assert info.value.code == 2
    assert "'soon' is not a duration" in capsys.readouterr().err
