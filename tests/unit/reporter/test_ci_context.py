"""CI detection from each provider's documented variables, and the git fallback."""

from __future__ import annotations

import pytest

from pushgate.core.errors import ConfigError
from pushgate.reporter.ci_context import CiContext, detect_ci, parse_time
from tests.unit.reporter.fakes import fake_git

SHA = "3f786850e387550fdab836ed7e6dc881de23001b"
GIT = fake_git(
    {
        "rev-parse HEAD": "0" * 40,
        "rev-parse --abbrev-ref HEAD": "local-branch",
        "config --get remote.origin.url": "git@github.com:acme/from-git.git",
    }
)


def _mtime(path: str) -> float | None:
    return 1714557600.0 if path == "/runner/_temp/event.json" else None


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            {
                "GITHUB_ACTIONS": "true",
                "GITHUB_SHA": SHA,
                "GITHUB_REF_NAME": "123/merge",
                "GITHUB_HEAD_REF": "feature/login",
                "GITHUB_REPOSITORY": "acme/beast-mailbox-core",
                "GITHUB_WORKFLOW": "CI",
                "GITHUB_RUN_ID": "987654321",
                "GITHUB_EVENT_PATH": "/runner/_temp/event.json",
            },
            CiContext(
                "github-actions",
                SHA,
                "feature/login",
                "beast-mailbox-core",
                "CI",
                "987654321",
                1714557600.0,
            ),
        ),
        (
            {
                "GITHUB_ACTIONS": "true",
                "GITHUB_SHA": SHA,
                "GITHUB_REF_NAME": "main",
                "GITHUB_HEAD_REF": "",
                "GITHUB_REPOSITORY": "acme/x",
            },
            CiContext("github-actions", SHA, "main", "x"),
        ),
        (
            {
                "GITLAB_CI": "true",
                "CI_COMMIT_SHA": SHA,
                "CI_COMMIT_REF_NAME": "feature/a",
                "CI_PROJECT_NAME": "shop",
                "CI_PIPELINE_ID": "77",
                "CI_PIPELINE_CREATED_AT": "2024-05-01T10:00:00Z",
            },
            CiContext("gitlab-ci", SHA, "feature/a", "shop", "gitlab-ci", "77", 1714557600.0),
        ),
        (
            {
                "JENKINS_URL": "http://jenkins/",
                "GIT_COMMIT": SHA,
                "GIT_BRANCH": "origin/release/1.x",
                "GIT_URL": "https://github.com/acme/api.git",
                "JOB_NAME": "api-build",
                "BUILD_NUMBER": "12",
            },
            CiContext("jenkins", SHA, "release/1.x", "api", "api-build", "12"),
        ),
        (
            {
                "CIRCLECI": "true",
                "CIRCLE_SHA1": SHA,
                "CIRCLE_BRANCH": "main",
                "CIRCLE_PROJECT_REPONAME": "web",
                "CIRCLE_JOB": "test",
                "CIRCLE_WORKFLOW_ID": "wf-1",
            },
            CiContext("circleci", SHA, "main", "web", "test", "wf-1"),
        ),
        (
            {
                "BUILDKITE": "true",
                "BUILDKITE_COMMIT": SHA,
                "BUILDKITE_BRANCH": "dev",
                "BUILDKITE_REPO": "git@github.com:acme/mono.git",
                "BUILDKITE_PIPELINE_SLUG": "mono-ci",
                "BUILDKITE_BUILD_NUMBER": "5",
            },
            CiContext("buildkite", SHA, "dev", "mono", "mono-ci", "5"),
        ),
        (
            {
                "TF_BUILD": "True",
                "BUILD_SOURCEVERSION": SHA,
                "BUILD_SOURCEBRANCH": "refs/heads/feature/login",
                "BUILD_SOURCEBRANCHNAME": "login",
                "BUILD_REPOSITORY_NAME": "acme/portal",
                "BUILD_DEFINITIONNAME": "portal-ci",
                "BUILD_BUILDID": "321",
                "SYSTEM_PIPELINESTARTTIME": "2024-05-01 10:00:00+00:00",
            },
            CiContext(
                "azure-pipelines", SHA, "feature/login", "portal", "portal-ci", "321", 1714557600.0
            ),
        ),
    ],
    ids=["github-pr", "github-push", "gitlab", "jenkins", "circleci", "buildkite", "azure"],
)
def test_providers(env: dict[str, str], expected: CiContext) -> None:
    assert detect_ci(env, GIT, _mtime) == expected


def test_git_fills_what_the_ci_does_not_say() -> None:
    assert detect_ci({}, GIT, _mtime) == CiContext(
        "git", "0" * 40, "local-branch", "from-git", None, None, None
    )


def test_detached_head_names_no_branch() -> None:
    git = fake_git(
        {
            "rev-parse HEAD": SHA,
            "rev-parse --abbrev-ref HEAD": "HEAD",
            "rev-parse --show-toplevel": "/src/checkout-dir",
        }
    )
    assert detect_ci({}, git, _mtime) == CiContext("git", SHA, None, "checkout-dir")


def test_no_git_at_all() -> None:
    assert detect_ci({}, fake_git(), _mtime) == CiContext("git")


def test_odd_provider_time_is_ignored() -> None:
    env = {"GITLAB_CI": "true", "CI_PIPELINE_CREATED_AT": "yesterday"}
    assert detect_ci(env, fake_git(), _mtime).started_at is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1714557600", 1714557600.0),
        ("1714557600.5", 1714557600.5),
        ("2024-05-01T10:00:00Z", 1714557600.0),
        ("2024-05-01T12:00:00+02:00", 1714557600.0),
    ],
)
def test_parse_time(text: str, expected: float) -> None:
    assert parse_time(text, what="--started-at") == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("soon", "neither Unix seconds nor an ISO 8601 time"),
        ("2024-05-01T10:00:00", "no time zone"),
    ],
)
def test_parse_time_errors(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_time(text, what="--started-at")
