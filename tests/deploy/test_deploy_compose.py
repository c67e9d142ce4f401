"""deploy/docker-compose.yml, checked statically (no Docker on the build
machines): the Compose specification's JSON schema, then what the schema
cannot see: files that must exist, names that must agree across files, and
state that must survive a restart."""

from __future__ import annotations

import json
import subprocess
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.conftest import REQUIRE_ALL
from tests.deploy.conftest import DEPLOY, require_tool

COMPOSE = DEPLOY / "docker-compose.yml"


def compose_schema() -> dict[str, Any]:
    """The Compose specification schema, as vendored by check-jsonschema
    (``--builtin-schema vendor.compose-spec``; licence beside it in the package)."""
    try:
        vendor = resources.files("check_jsonschema.builtin_schemas.vendor")
    except ModuleNotFoundError:
        reason = "check-jsonschema is not installed (pip install -e '.[dev]')"
        if REQUIRE_ALL:
            pytest.fail(f"{reason}; PUSHGATE_REQUIRE_ALL is set, so this is an error")
        pytest.skip(reason)
    schema: dict[str, Any] = json.loads((vendor / "compose-spec.json").read_text(encoding="utf-8"))
    return schema


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return data


def schema_errors(document: dict[str, Any]) -> list[str]:
    validator_class = jsonschema.validators.validator_for(compose_schema())
    validator = validator_class(compose_schema(), format_checker=validator_class.FORMAT_CHECKER)
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in sorted(validator.iter_errors(document), key=str)
    ]


def test_compose_file_matches_the_compose_specification() -> None:
    assert schema_errors(compose()) == []


@pytest.mark.parametrize(
    "breakage",
    [
        lambda c: c["services"]["pushgate"].update(restart=["always"]),
        lambda c: c["services"]["prometheus"].update(volumes="prometheus-data:/prometheus"),
        lambda c: c["services"]["grafana"].update(unknown_key=True),
    ],
    ids=["restart-not-a-string", "volumes-not-a-list", "unknown-key"],
)
def test_the_schema_check_catches_mistakes(breakage: Any) -> None:
    broken = compose()
    breakage(broken)
    assert schema_errors(broken)


def test_the_check_jsonschema_command_agrees() -> None:
    cli = require_tool("check-jsonschema", "pip install check-jsonschema")
    done = subprocess.run(
        [cli, "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_stack_has_its_three_services_with_pinned_images() -> None:
    services = compose()["services"]
    assert set(services) == {"pushgate", "prometheus", "grafana"}
    for name, service in services.items():
        image = service["image"]
        assert ":" in image and not image.endswith(":latest"), f"{name}: pin {image}"
        assert service["restart"] == "unless-stopped", name


def test_state_lives_in_named_volumes() -> None:
    """Every service's data directory is a named volume: down/up loses nothing."""
    data = compose()
    declared = set(data["volumes"])
    data_dirs = {"pushgate": "/data", "prometheus": "/prometheus", "grafana": "/var/lib/grafana"}
    for name, target in data_dirs.items():
        mounts = [v.split(":") for v in data["services"][name]["volumes"]]
        named = [m for m in mounts if m[1] == target]
        assert named and named[0][0] in declared, f"{name}: {target} is not a named volume"
    pushgate = data["services"]["pushgate"]
    assert "--persistence.file=/data/pushgate.db" in pushgate["command"]


def test_bind_mounts_and_build_files_exist() -> None:
    data = compose()
    for name, service in data["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name}: {source} does not exist"
    build = data["services"]["pushgate"]["build"]
    context = (DEPLOY / build["context"]).resolve()
    assert (context / build["dockerfile"]).is_file()
    assert (context / "pyproject.toml").is_file()


def test_names_agree_across_compose_prometheus_and_grafana() -> None:
    data = compose()
    services = data["services"]
    prometheus_config = yaml.safe_load((DEPLOY / "prometheus/prometheus.yml").read_text())
    (gateway_job,) = [j for j in prometheus_config["scrape_configs"] if j["job_name"] == "pushgate"]
    (target,) = gateway_job["static_configs"][0]["targets"]
    host, port = target.split(":")
    assert host in services
    assert f"{port}:{port}" in services[host]["ports"]
    assert f"--web.listen-address=:{port}" in services[host]["command"]

    # Prometheus reads the mounted directory that holds prometheus.yml and rules/.
    command = services["prometheus"]["command"]
    assert "--config.file=/etc/prometheus/prometheus.yml" in command
    assert "./prometheus:/etc/prometheus:ro" in services["prometheus"]["volumes"]

    # Grafana's data source points at the prometheus service; the dashboard
    # provider reads the directory the dashboards are mounted at.
    grafana = services["grafana"]
    datasource = yaml.safe_load(
        (DEPLOY / "grafana/provisioning/datasources/prometheus.yml").read_text()
    )["datasources"][0]
    assert datasource["url"] == "http://prometheus:9090"
    assert datasource["uid"] == "prometheus" and datasource["isDefault"] is True
    provider = yaml.safe_load(
        (DEPLOY / "grafana/provisioning/dashboards/pushgate.yml").read_text()
    )["providers"][0]
    mounts = dict(v.split(":")[:2] for v in grafana["volumes"])
    assert mounts["./grafana/dashboards"] == provider["options"]["path"]
    home = Path(grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"])
    assert home.parent == Path(provider["options"]["path"])
    assert (DEPLOY / "grafana/dashboards" / home.name).is_file()


def test_services_start_in_order_once_healthy() -> None:
    services = compose()["services"]
    assert services["prometheus"]["depends_on"] == {"pushgate": {"condition": "service_healthy"}}
    assert services["grafana"]["depends_on"] == {"prometheus": {"condition": "service_healthy"}}
    # pushgate's health check is the image's HEALTHCHECK (test_deploy_dockerfile).
    assert "healthcheck" in services["prometheus"] and "healthcheck" in services["grafana"]
