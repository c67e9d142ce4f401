"""Which CI system runs us, and what it says about the run.

Each provider is recognised by the variable it documents as its marker and
read only through its documented variables; git fills what is still missing
(and is the whole story outside CI). Detection is a function of the
environment mapping and a git reader, so tests pass both in.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Literal, Protocol

from pushgate.core.errors import ConfigError

Provider = Literal[
    "github-actions", "gitlab-ci", "jenkins", "circleci", "buildkite", "azure-pipelines", "git"
]


class GitReader(Protocol):
    """Runs ``git *args``; the stripped stdout, or ``None`` if git failed or is missing."""

    def __call__(self, *args: str) -> str | None: ...


def git_reader(cwd: Path) -> GitReader:
    """A :class:`GitReader` running the real git in ``cwd``."""

    def run(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", *args],
                cwd=cwd,
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        out = done.stdout.strip()
        return out if done.returncode == 0 and out else None

    return run


def file_mtime(path: str) -> float | None:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return None


@dataclass(frozen=True, slots=True)
class CiContext:
    """What is known about the current run; ``None`` where nothing says."""

    provider: Provider
    commit: str | None = None
    branch: str | None = None
    repository: str | None = None
    workflow: str | None = None
    run_id: str | None = None
    started_at: float | None = None


def parse_time(text: str, *, what: str) -> float:
    """Unix seconds from ``1700000000[.5]`` or an ISO 8601 time (``2024-05-01T10:00:00Z``)."""
    value = text.strip()
    try:
        return float(value)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(value.replace(" +", "+"))
    except ValueError:
        raise ConfigError(
            f"{what} {text!r} is neither Unix seconds nor an ISO 8601 time "
            "(e.g. 2024-05-01T10:00:00Z)"
        ) from None
    if parsed.tzinfo is None:
        raise ConfigError(f"{what} {text!r} has no time zone; add one, e.g. Z or +00:00")
    return parsed.timestamp()


def _env_time(env: Mapping[str, str], name: str) -> float | None:
    raw = env.get(name)
    if not raw:
        return None
    try:
        return parse_time(raw, what=name)
    except ConfigError:
        # A provider variable in an unexpected shape must not break the
        # report; the run duration is simply left out.
        return None


def _strip_ref(ref: str | None) -> str | None:
    if not ref:
        return None
    for prefix in ("refs/heads/", "refs/tags/", "origin/"):
        if ref.startswith(prefix):
            return ref[len(prefix) :]
    return ref


def _last_segment(value: str | None) -> str | None:
    if not value:
        return None
    name = value.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]
    return name.removesuffix(".git") or None


def _github(env: Mapping[str, str], mtime: Callable[[str], float | None]) -> CiContext:
    # For pull requests GITHUB_REF_NAME is "123/merge"; the source branch is
    # GITHUB_HEAD_REF (empty for other events).
    event = env.get("GITHUB_EVENT_PATH")
    return CiContext(
        provider="github-actions",
        commit=env.get("GITHUB_SHA") or None,
        branch=env.get("GITHUB_HEAD_REF") or env.get("GITHUB_REF_NAME") or None,
        repository=_last_segment(env.get("GITHUB_REPOSITORY")),
        workflow=env.get("GITHUB_WORKFLOW") or None,
        run_id=env.get("GITHUB_RUN_ID") or None,
        # GitHub exports no start time. The runner writes the event payload
        # when the job is set up, so its mtime is the job's start.
        started_at=mtime(event) if event else None,
    )


def _gitlab(env: Mapping[str, str]) -> CiContext:
    return CiContext(
        provider="gitlab-ci",
        commit=env.get("CI_COMMIT_SHA") or None,
        branch=env.get("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME")
        or env.get("CI_COMMIT_BRANCH")
        or env.get("CI_COMMIT_REF_NAME")
        or None,
        repository=env.get("CI_PROJECT_NAME") or None,
        # A GitLab project has one pipeline definition; it is named only if the
        # pipeline sets workflow:name.
        workflow=env.get("CI_PIPELINE_NAME") or "gitlab-ci",
        run_id=env.get("CI_PIPELINE_ID") or None,
        started_at=_env_time(env, "CI_PIPELINE_CREATED_AT"),
    )


def _jenkins(env: Mapping[str, str]) -> CiContext:
    return CiContext(
        provider="jenkins",
        commit=env.get("GIT_COMMIT") or None,
        branch=env.get("CHANGE_BRANCH")
        or env.get("BRANCH_NAME")
        or _strip_ref(env.get("GIT_BRANCH")),
        repository=_last_segment(env.get("GIT_URL")),
        workflow=env.get("JOB_NAME") or None,
        run_id=env.get("BUILD_NUMBER") or None,
    )


def _circleci(env: Mapping[str, str]) -> CiContext:
    return CiContext(
        provider="circleci",
        commit=env.get("CIRCLE_SHA1") or None,
        branch=env.get("CIRCLE_BRANCH") or env.get("CIRCLE_TAG") or None,
        repository=env.get("CIRCLE_PROJECT_REPONAME") or None,
        workflow=env.get("CIRCLE_JOB") or None,
        run_id=env.get("CIRCLE_WORKFLOW_ID") or env.get("CIRCLE_BUILD_NUM") or None,
    )


def _buildkite(env: Mapping[str, str]) -> CiContext:
    return CiContext(
        provider="buildkite",
        commit=env.get("BUILDKITE_COMMIT") or None,
        branch=env.get("BUILDKITE_BRANCH") or None,
        repository=_last_segment(env.get("BUILDKITE_REPO")),
        workflow=env.get("BUILDKITE_PIPELINE_SLUG") or None,
        run_id=env.get("BUILDKITE_BUILD_NUMBER") or None,
    )


def _azure(env: Mapping[str, str]) -> CiContext:
    # BUILD_SOURCEBRANCHNAME is only the last path segment ("login" for
    # "feature/login"), so the full ref is used instead.
    return CiContext(
        provider="azure-pipelines",
        commit=env.get("BUILD_SOURCEVERSION") or None,
        branch=_strip_ref(env.get("SYSTEM_PULLREQUEST_SOURCEBRANCH"))
        or _strip_ref(env.get("BUILD_SOURCEBRANCH")),
        repository=_last_segment(env.get("BUILD_REPOSITORY_NAME")),
        workflow=env.get("BUILD_DEFINITIONNAME") or None,
        run_id=env.get("BUILD_BUILDID") or None,
        started_at=_env_time(env, "SYSTEM_PIPELINESTARTTIME"),
    )


def _provider_context(
    env: Mapping[str, str], mtime: Callable[[str], float | None]
) -> CiContext | None:
    if env.get("GITHUB_ACTIONS") == "true":
        return _github(env, mtime)
    if env.get("GITLAB_CI"):
        return _gitlab(env)
    if env.get("JENKINS_URL"):
        return _jenkins(env)
    if env.get("CIRCLECI"):
        return _circleci(env)
    if env.get("BUILDKITE"):
        return _buildkite(env)
    if env.get("TF_BUILD"):
        return _azure(env)
    return None


def detect_ci(
    env: Mapping[str, str],
    git: GitReader,
    mtime: Callable[[str], float | None] = file_mtime,
) -> CiContext:
    """The context of this run: the CI provider's variables, then git for the rest."""
    context = _provider_context(env, mtime) or CiContext(provider="git")
    if context.commit is None:
        context = replace(context, commit=git("rev-parse", "HEAD"))
    if context.branch is None:
        branch = git("rev-parse", "--abbrev-ref", "HEAD")
        # A detached HEAD (CI checkouts of a tag or SHA) names no branch.
        context = replace(context, branch=branch if branch and branch != "HEAD" else None)
    if context.repository is None:
        remote = git("config", "--get", "remote.origin.url")
        top = git("rev-parse", "--show-toplevel")
        context = replace(context, repository=_last_segment(remote) or _last_segment(top))
    return context
