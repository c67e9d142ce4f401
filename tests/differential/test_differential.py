"""Differential tests: pushgate against the Go Pushgateway 1.5.1.

Every case of :mod:`diff_corpus` runs against a gateway with an empty store
and its normalised answers are compared:

* ``test_go_matches_golden``: the live Go binary against the recorded golden
  files (catches stale golden files and unstable normalisation);
* ``test_pushgate``: pushgate against the golden files and, when the Go
  binary is installed, against Go's live answers too. Cases with an
  ``expected_difference`` are checked against their explicit sane
  expectation instead.

Golden files are re-recorded with ``python -m tests.differential.record``.
"""

from __future__ import annotations

import difflib
import json
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from tests.differential.diff_corpus import CASES
from tests.differential.diff_harness import Case, Observation, match_partial, run_case
from tests.differential.diff_pool import (
    GO_BINARY,
    REQUIRE_ALL,
    GatewayPool,
    go_argv,
    load_golden,
    pushgate_serve_argv,
    require_binary,
)

pytestmark = pytest.mark.integration

GO_CASES = [c for c in CASES if c.go_safe]

#: Go's live answers, shared by the two test functions of one session.
_GO_LIVE: dict[str, list[Observation]] = {}


@pytest.fixture(scope="module")
def golden() -> dict[str, dict[str, Any]]:
    return load_golden()


@pytest.fixture(scope="module")
def go_pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayPool]:
    require_binary(GO_BINARY)
    pool = GatewayPool(go_argv, tmp_path_factory.mktemp("go"))
    yield pool
    pool.close()


@pytest.fixture(scope="module")
def pushgate_pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayPool]:
    try:
        import pushgate.server.app  # noqa: F401
    except ImportError as exc:
        reason = f"pushgate.server.app cannot be imported yet ({exc})"
        if REQUIRE_ALL:
            pytest.fail(f"{reason}; PUSHGATE_REQUIRE_ALL is set, so this is an error")
        pytest.skip(reason)
    pool = GatewayPool(pushgate_serve_argv, tmp_path_factory.mktemp("pushgate"))
    yield pool
    pool.close()


def _expected(golden: dict[str, dict[str, Any]], case: Case) -> list[Observation]:
    entry = golden.get(case.name)
    if entry is None or entry.get("observations") is None:
        pytest.fail(
            f"no golden answers for {case.name}: run `python -m tests.differential.record "
            f"-k {case.name}` with the Go Pushgateway 1.5.1 installed"
        )
    observations: list[Observation] = entry["observations"]
    return observations


def _flatten(value: Any, path: str = "") -> list[str]:
    """``path = json`` lines; small values stay on one line, so diffs stay short."""
    text = json.dumps(value, sort_keys=True, ensure_ascii=False)
    if len(text) <= 100 or not isinstance(value, dict | list) or not value:
        return [f"{path or '.'} = {text}"]
    items = value.items() if isinstance(value, dict) else enumerate(value)
    if isinstance(value, dict):
        return [line for k, v in sorted(items) for line in _flatten(v, f"{path}.{k}")]
    return [line for i, v in items for line in _flatten(v, f"{path}[{i}]")]


def _report(case: Case, actual: list[Observation], expected: list[Observation], what: str) -> str:
    """A readable per-step diff, or "" when equal."""
    if actual == expected:
        return ""
    parts = [f"{case.name}: pushgate differs from {what}"]
    for i, step in enumerate(case.steps):
        a = actual[i] if i < len(actual) else None
        e = expected[i] if i < len(expected) else None
        if a == e:
            continue
        diff = difflib.unified_diff(_flatten(e), _flatten(a), what, "pushgate", n=0, lineterm="")
        parts.append(f"  step {i}: {step.describe()}")
        parts.extend("    " + line for line in list(diff)[2:] if not line.startswith("@@"))
    return "\n".join(parts)


def _run_go(pool: GatewayPool, case: Case, expected: list[Observation]) -> list[Observation]:
    with pool.acquire(case.config) as gw:
        observations = run_case(gw.port, case, expected)
    _GO_LIVE[case.name] = observations
    return observations


@pytest.mark.parametrize("case", GO_CASES, ids=[c.name for c in GO_CASES])
def test_go_matches_golden(
    case: Case, go_pool: GatewayPool, golden: dict[str, dict[str, Any]]
) -> None:
    expected = _expected(golden, case)
    actual = _run_go(go_pool, case, expected)
    problem = _report(case, actual, expected, "golden")
    assert not problem, (
        problem + "\n(re-record with `python -m tests.differential.record` if Go is right)"
    )


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_pushgate(
    case: Case,
    pushgate_pool: GatewayPool,
    golden: dict[str, dict[str, Any]],
    request: pytest.FixtureRequest,
) -> None:
    if case.expected_difference is not None:
        with pushgate_pool.acquire(case.config) as gw:
            actual = run_case(gw.port, case)
        problems = [
            f"step {i} ({case.steps[i].describe()}){p}"
            for i, want in sorted(case.sane.items())
            for p in match_partial(want, actual[i])
        ]
        assert not problems, (
            f"{case.name} (expected difference: {case.expected_difference}):\n"
            + "\n".join(problems)
        )
        return

    expected = _expected(golden, case)
    with pushgate_pool.acquire(case.config) as gw:
        actual = run_case(gw.port, case, expected)
    problems = [_report(case, actual, expected, "golden")]
    if shutil.which(GO_BINARY) is not None:
        go_pool: GatewayPool = request.getfixturevalue("go_pool")
        live = _GO_LIVE.get(case.name) or _run_go(go_pool, case, expected)
        if live != expected:
            problems.append(_report(case, actual, live, "go-live"))
    problem = "\n".join(p for p in problems if p)
    assert not problem, problem


def test_corpus_is_recorded(golden: dict[str, dict[str, Any]]) -> None:
    """Every case has a golden entry and no entry is left over from a removed case."""
    names = {c.name for c in CASES}
    assert len(names) == len(CASES), "case names must be unique"
    missing = sorted(n for n in names if n not in golden)
    stale = sorted(n for n in golden if n not in names)
    assert not missing, f"record these cases: {missing}"
    assert not stale, f"golden entries without a case: {stale}"
    for case in CASES:
        if case.go_safe:
            assert golden[case.name]["observations"] is not None, case.name
