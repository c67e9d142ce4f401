"""The official Python client's push functions against pushgate.

push_to_gateway (PUT), pushadd_to_gateway (POST) and delete_from_gateway
(DELETE), with grouping keys that need @base64 (a ``/`` in a value, an empty
value, a space), read back through the JSON API and the exposition.
"""

from __future__ import annotations

import json
import urllib.request

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Summary
from prometheus_client.exposition import (
    delete_from_gateway,
    push_to_gateway,
    pushadd_to_gateway,
)
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import GatewayProcess

pytestmark = pytest.mark.integration

GROUPING = {
    "instance": "0.4.5-abc1234",
    "branch": "feature/login",
    "version": "0.4.5",
    "empty": "",
    "spaced": "a b",
}


def _groups(gw: GatewayProcess) -> list[dict[str, object]]:
    with urllib.request.urlopen(gw.url + "/api/v1/metrics") as r:
        data: list[dict[str, object]] = json.load(r)["data"]
    return data


def _scrape(gw: GatewayProcess) -> dict[str, list[tuple[dict[str, str], float]]]:
    with urllib.request.urlopen(gw.url + "/metrics") as r:
        text = r.read().decode()
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, []).append((sample.labels, sample.value))
    return out


def _registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    coverage = Gauge("sonarcloud_coverage_percent", "Coverage.", registry=registry)
    coverage.set(87.5)
    tests = Gauge("pytest_tests_total", "Tests by status.", ["status"], registry=registry)
    tests.labels(status="passed").set(120)
    tests.labels(status="failed").set(2)
    Counter("runs", "Runs.", registry=registry).inc(3)
    Histogram("duration_seconds", "Durations.", registry=registry).observe(0.7)
    Summary("latency_seconds", "Latency.", registry=registry).observe(1.5)
    return registry


def test_push_pushadd_delete_roundtrip(pushgate: GatewayProcess) -> None:
    registry = _registry()
    push_to_gateway(
        pushgate.url, job="beast/mailbox core", registry=registry, grouping_key=GROUPING
    )
    (group,) = _groups(pushgate)
    assert group["labels"] == {"job": "beast/mailbox core", **GROUPING}
    assert group["last_push_successful"] is True
    samples = _scrape(pushgate)
    ((labels, value),) = samples["sonarcloud_coverage_percent"]
    assert value == 87.5
    assert labels["branch"] == "feature/login" and labels["empty"] == ""
    assert labels["job"] == "beast/mailbox core"
    assert {s[0]["status"]: s[1] for s in samples["pytest_tests_total"]} == {
        "passed": 120.0,
        "failed": 2.0,
    }
    assert samples["runs_total"][0][1] == 3.0
    assert samples["duration_seconds_count"][0][1] == 1.0

    # pushadd replaces only the families it carries.
    small = CollectorRegistry()
    Gauge("sonarcloud_coverage_percent", "Coverage.", registry=small).set(90.0)
    pushadd_to_gateway(
        pushgate.url, job="beast/mailbox core", registry=small, grouping_key=GROUPING
    )
    samples = _scrape(pushgate)
    assert samples["sonarcloud_coverage_percent"][0][1] == 90.0
    assert "runs_total" in samples

    # push (PUT) replaces the whole group.
    push_to_gateway(pushgate.url, job="beast/mailbox core", registry=small, grouping_key=GROUPING)
    assert "runs_total" not in _scrape(pushgate)

    delete_from_gateway(pushgate.url, job="beast/mailbox core", grouping_key=GROUPING)
    assert _groups(pushgate) == []


def test_rejected_push_raises_and_records_failure(pushgate: GatewayProcess) -> None:
    first = CollectorRegistry()
    Gauge("conflict", "A gauge.", registry=first).set(1)
    push_to_gateway(pushgate.url, job="a", registry=first)
    # The same family name with another type in another group is a conflict.
    second = CollectorRegistry()
    Summary("conflict", "A summary.", registry=second).observe(1)
    with pytest.raises(Exception, match="400"):
        push_to_gateway(pushgate.url, job="b", registry=second)
    failed = [g for g in _groups(pushgate) if g["labels"] == {"job": "b"}]
    assert failed and failed[0]["last_push_successful"] is False
