"""deploy/docker-compose.replicas.yml and its balancer and Prometheus configs.

No Docker on the build machines, so the files are checked statically: the
Compose specification's schema, names that must agree across the compose
file, HAProxy's backend and Prometheus' jobs, and ``promtool check config``.
That the replicas behave as one gateway is tested with real processes in
test_redis_replicas.py.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from pushgate.server.selfmetrics import OWN_TYPES
from tests.conftest import require_binary
from tests.deploy.test_deploy_compose import schema_errors

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
COMPOSE = DEPLOY / "docker-compose.replicas.yml"
PROMETHEUS = DEPLOY / "prometheus" / "prometheus-replicas.yml"
HAPROXY = DEPLOY / "haproxy" / "haproxy-replicas.cfg"


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return data


def prometheus_jobs() -> dict[str, dict[str, Any]]:
    config = yaml.safe_load(PROMETHEUS.read_text(encoding="utf-8"))
    return {job["job_name"]: job for job in config["scrape_configs"]}


def replicas() -> list[str]:
    return sorted(name for name in compose()["services"] if name.startswith("pushgate-"))


def test_compose_file_matches_the_compose_specification() -> None:
    assert schema_errors(compose()) == []


def test_three_replicas_share_one_redis_with_an_append_only_file() -> None:
    services = compose()["services"]
    assert replicas() == ["pushgate-1", "pushgate-2", "pushgate-3"]
    for name in replicas():
        command = services[name]["command"]
        assert "--web.listen-address=:9091" in command
        assert "--store=redis://redis:6379/0" in command
        assert not any(c.startswith("--persistence.file") for c in command)
        assert services[name]["depends_on"]["redis"]["condition"] == "service_healthy"
    redis = services["redis"]["command"]
    assert redis[redis.index("--appendonly") + 1] == "yes"
    assert "redis-data:/data" in services["redis"]["volumes"]


def test_bind_mounts_and_build_files_exist() -> None:
    for name, service in compose()["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name}: {source} does not exist"
    build = compose()["services"]["pushgate-1"]["build"]
    assert (DEPLOY / build["context"] / build["dockerfile"]).is_file()


def test_the_balancer_serves_every_replica() -> None:
    text = HAPROXY.read_text(encoding="utf-8")
    servers = re.findall(r"^\s*server (\S+) (\S+):(\d+) check", text, re.MULTILINE)
    assert sorted((name, host, port) for name, host, port in servers) == [
        (r, r, "9091") for r in replicas()
    ]
    assert "option httpchk GET /-/healthy" in text
    lb = compose()["services"]["lb"]
    assert "9091:9091" in lb["ports"]
    assert "./haproxy/haproxy-replicas.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro" in lb["volumes"]


def test_prometheus_scrapes_groups_once_and_own_metrics_per_replica() -> None:
    jobs = prometheus_jobs()
    groups, own = jobs["pushgate-groups"], jobs["pushgate"]
    assert groups["static_configs"][0]["targets"] == ["lb:9091"]
    assert sorted(own["static_configs"][0]["targets"]) == [f"{r}:9091" for r in replicas()]
    assert groups["honor_labels"] and own["honor_labels"]
    (drop,) = groups["metric_relabel_configs"]
    (keep,) = own["metric_relabel_configs"]
    assert (drop["action"], keep["action"]) == ("drop", "keep")
    assert drop["regex"] == keep["regex"]
    own_names = re.compile(f"^(?:{keep['regex']})$")
    for name in OWN_TYPES:
        assert own_names.match(name), f"{name} would be scraped through the balancer"
    for pushed in ("push_time_seconds", "junit_tests", "ci_pipeline_duration_seconds"):
        assert not own_names.match(pushed)
    command = compose()["services"]["prometheus"]["command"]
    assert "--config.file=/etc/prometheus/prometheus-replicas.yml" in command


def test_promtool_accepts_the_config() -> None:
    promtool = require_binary("promtool")
    done = subprocess.run(
        [promtool, "check", "config", str(PROMETHEUS)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("name", ["pushgate-1", "pushgate-2", "pushgate-3"])
def test_replicas_keep_no_local_state(name: str) -> None:
    assert "volumes" not in compose()["services"][name]
