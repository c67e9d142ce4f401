"""Shared test fixtures: real gateway processes and the skip-or-fail rule.

Tests that need a real binary (the Go Pushgateway 1.5.1, Prometheus, promtool,
redis-server, headless Chromium) call :func:`require_binary`. On a developer
machine without the binary the test is skipped with a reason that says how to
install it; with ``PUSHGATE_REQUIRE_ALL=1`` (set by ``.ci/run``) the skip
becomes a failure, so CI always runs everything.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

REQUIRE_ALL = os.environ.get("PUSHGATE_REQUIRE_ALL", "") not in ("", "0")

#: Debian package that ships each binary, for the skip message.
PACKAGES = {
    "prometheus-pushgateway": "prometheus-pushgateway",
    "prometheus": "prometheus",
    "promtool": "prometheus",
    "redis-server": "redis-server",
    "chromium-headless-shell": "chromium-headless-shell",
}


def require_binary(name: str) -> str:
    """The path of binary ``name``; skip (or fail under CI) when it is missing."""
    path = shutil.which(name)
    if path is None and name == "chromium-headless-shell":
        candidate = Path("/usr/lib/chromium/chromium-headless-shell")
        path = str(candidate) if candidate.exists() else None
    if path is None:
        package = PACKAGES.get(name, name)
        reason = f"{name} is not installed (apt-get install -y {package})"
        if REQUIRE_ALL:
            pytest.fail(f"{reason}; PUSHGATE_REQUIRE_ALL is set, so this is an error")
        pytest.skip(reason)
    return path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class GatewayProcess:
    """A gateway subprocess listening on 127.0.0.1:port."""

    argv: list[str]
    port: int
    workdir: Path
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / f"gateway-{self.port}.log"

    health_path: str = "/-/healthy"

    def start(self, timeout: float = 20.0) -> GatewayProcess:
        log = self.log_path.open("ab")
        env = {**os.environ, **self.env}
        self.proc = subprocess.Popen(
            self.argv, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=self.workdir
        )
        log.close()
        self.wait_healthy(timeout)
        return self

    def wait_healthy(self, timeout: float = 20.0) -> None:
        path = self.health_path
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"gateway exited with {self.proc.returncode}: {self.log_tail()}")
            try:
                with urllib.request.urlopen(self.url + path, timeout=1) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            time.sleep(0.05)
        raise RuntimeError(f"gateway not healthy after {timeout}s: {self.log_tail()}")

    def log_tail(self, n: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(timeout)

    def kill(self) -> None:
        self.stop(signal.SIGKILL)


GatewayFactory = Callable[..., GatewayProcess]


def health_path_for(flags: tuple[str, ...]) -> str:
    """The health endpoint under the route prefix the flags set (spec 8.1)."""
    prefix = ""
    for flag in flags:
        if flag.startswith("--web.external-url=") and not prefix:
            prefix = urlsplit(flag.partition("=")[2]).path
        if flag.startswith("--web.route-prefix="):
            prefix = flag.partition("=")[2]
    prefix = "/" + prefix.strip("/")
    return ("" if prefix == "/" else prefix) + "/-/healthy"


def pushgate_argv(port: int, *flags: str, data_dir: Path) -> list[str]:
    """argv that starts ``pushgate serve`` from this checkout's interpreter."""
    has_file_flag = any(f.startswith("--persistence.file") for f in flags)
    has_store_flag = any(f.startswith("--store") for f in flags)
    store = (
        []
        if (has_file_flag or has_store_flag)
        else [f"--persistence.file={data_dir / 'pushgate.db'}"]
    )
    return [
        sys.executable,
        "-m",
        "pushgate",
        "serve",
        f"--web.listen-address=127.0.0.1:{port}",
        *store,
        *flags,
    ]


@pytest.fixture
def pushgate_factory(tmp_path: Path) -> Iterator[GatewayFactory]:
    """Start ``pushgate serve`` processes; each call takes extra flags.

    ``pushgate_factory("--web.enable-admin-api", port=..., data_dir=...)``.
    Every process started is stopped at the end of the test.
    """
    started: list[GatewayProcess] = []

    def start(
        *flags: str,
        port: int | None = None,
        data_dir: Path | None = None,
        env: dict[str, str] | None = None,
        wait: bool = True,
    ) -> GatewayProcess:
        p = port or free_port()
        d = data_dir or tmp_path
        d.mkdir(parents=True, exist_ok=True)
        gw = GatewayProcess(
            pushgate_argv(p, *flags, data_dir=d),
            p,
            d,
            env or {},
            health_path=health_path_for(flags),
        )
        started.append(gw)
        if wait:
            gw.start()
        return gw

    yield start
    for gw in started:
        gw.stop()


@pytest.fixture
def go_gateway_factory(tmp_path: Path) -> Iterator[GatewayFactory]:
    """Start the Debian Go Pushgateway 1.5.1 (always with an empty --persistence.file=)."""
    binary = require_binary("prometheus-pushgateway")
    started: list[GatewayProcess] = []

    def start(
        *flags: str,
        port: int | None = None,
        data_dir: Path | None = None,
        env: dict[str, str] | None = None,
        wait: bool = True,
    ) -> GatewayProcess:
        p = port or free_port()
        d = data_dir or tmp_path
        d.mkdir(parents=True, exist_ok=True)
        has_file_flag = any(f.startswith("--persistence.file") for f in flags)
        argv = [
            binary,
            f"--web.listen-address=127.0.0.1:{p}",
            *([] if has_file_flag else ["--persistence.file="]),
            *flags,
        ]
        gw = GatewayProcess(argv, p, d, env or {}, health_path=health_path_for(flags))
        started.append(gw)
        if wait:
            gw.start()
        return gw

    yield start
    for gw in started:
        gw.stop()


@pytest.fixture
def pushgate(pushgate_factory: GatewayFactory) -> GatewayProcess:
    """One ``pushgate serve`` with the admin API and lifecycle enabled."""
    return pushgate_factory("--web.enable-admin-api", "--web.enable-lifecycle")


@pytest.fixture
def go_gateway(go_gateway_factory: GatewayFactory) -> GatewayProcess:
    """One Go Pushgateway 1.5.1 with the admin API and lifecycle enabled."""
    return go_gateway_factory("--web.enable-admin-api", "--web.enable-lifecycle")
