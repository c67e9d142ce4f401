"""Real ``redis-server`` processes on loopback for the Redis store's tests.

A standalone server, a primary with replicas watched by a Sentinel, or a
small Redis Cluster; each process gets a free port and its own directory,
and is stopped (or SIGKILLed by a test) like any subprocess. The binaries
come from Debian's ``redis-server`` package; :func:`redis_binary` skips (or,
under ``PUSHGATE_REQUIRE_ALL``, fails) when it is missing.
"""

from __future__ import annotations

import random
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import redis

from tests.conftest import free_port, require_binary

MASTER_NAME = "pushgate"


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def cluster_port() -> int:
    """A free port whose cluster bus port (port + 10000) is free too."""
    for _ in range(200):
        port = random.randint(20000, 45000)
        if _port_free(port) and _port_free(port + 10000):
            return port
    raise RuntimeError("no free port pair for a Redis Cluster node")


def redis_binary() -> str:
    return require_binary("redis-server")


@dataclass
class RedisProcess:
    """One ``redis-server`` (or Sentinel) on 127.0.0.1:port."""

    binary: str
    workdir: Path
    port: int = field(default_factory=free_port)
    extra: tuple[str, ...] = ()
    sentinel: bool = False
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def argv(self) -> list[str]:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self.sentinel:
            conf = self.workdir / "sentinel.conf"
            conf.write_text("\n".join(self.extra) + "\n")
            return [self.binary, str(conf), "--sentinel", "--port", str(self.port)]
        return [
            self.binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.workdir),
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            *self.extra,
        ]

    def start(self, timeout: float = 10.0) -> RedisProcess:
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = (self.workdir.parent / f"redis-{self.port}.log").open("ab")
        self.proc = subprocess.Popen(
            self.argv(), stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir
        )
        log.close()
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server on {self.port} exited: {self.log_tail()}")
            try:
                with self.client() as c:
                    c.ping()
                return self
            except redis.RedisError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5)

    def log_tail(self, n: int = 2000) -> str:
        try:
            return (self.workdir.parent / f"redis-{self.port}.log").read_text()[-n:]
        except OSError:
            return ""

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def kill(self) -> None:
        self.stop(signal.SIGKILL)


class RedisFarm:
    """Every Redis process a test started; :meth:`stop_all` ends them."""

    def __init__(self, root: Path) -> None:
        self.binary = redis_binary()
        self.root = root
        self.processes: list[RedisProcess] = []

    def server(self, *extra: str, port: int | None = None) -> RedisProcess:
        p = RedisProcess(
            self.binary,
            self.root / f"r{len(self.processes)}",
            extra=extra,
            **({"port": port} if port else {}),
        )
        self.processes.append(p)
        return p.start()

    def replicated(self, replicas: int) -> tuple[RedisProcess, list[RedisProcess]]:
        primary = self.server()
        copies = [
            self.server("--replicaof", "127.0.0.1", str(primary.port)) for _ in range(replicas)
        ]
        wait_for(
            lambda: all(_info(c, "replication").get("master_link_status") == "up" for c in copies),
            "replicas in sync",
        )
        return primary, copies

    def sentinel(self, primary: RedisProcess, down_after_ms: int = 400) -> RedisProcess:
        config = (
            "bind 127.0.0.1",
            f"sentinel monitor {MASTER_NAME} 127.0.0.1 {primary.port} 1",
            f"sentinel down-after-milliseconds {MASTER_NAME} {down_after_ms}",
            f"sentinel failover-timeout {MASTER_NAME} 2000",
            f"sentinel parallel-syncs {MASTER_NAME} 1",
        )
        p = RedisProcess(
            self.binary, self.root / f"s{len(self.processes)}", extra=config, sentinel=True
        )
        self.processes.append(p)
        return p.start()

    def cluster(self, masters: int = 3) -> list[RedisProcess]:
        """A cluster of ``masters`` primaries covering every slot (no replicas)."""
        nodes = [
            self.server(
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
                "--cluster-node-timeout",
                "1000",
                port=cluster_port(),
            )
            for _ in range(masters)
        ]
        per = 16384 // masters
        for i, node in enumerate(nodes):
            first, last = i * per, (16383 if i == masters - 1 else (i + 1) * per - 1)
            with node.client() as c:
                c.execute_command("CLUSTER", "ADDSLOTSRANGE", first, last)
        with nodes[0].client() as c:
            for node in nodes[1:]:
                c.execute_command("CLUSTER", "MEET", "127.0.0.1", node.port)
        wait_for(
            lambda: all(_cluster_ok(n) for n in nodes),
            "cluster_state:ok on every node",
        )
        return nodes

    def stop_all(self) -> None:
        for p in reversed(self.processes):
            p.stop()


def _info(p: RedisProcess, section: str) -> dict[str, object]:
    try:
        with p.client() as c:
            return dict(c.info(section))
    except redis.RedisError:
        return {}


def _cluster_ok(p: RedisProcess) -> bool:
    try:
        with p.client() as c:
            info = c.execute_command("CLUSTER", "INFO")
    except redis.RedisError:
        return False
    text = info.decode() if isinstance(info, bytes) else str(info)
    return "cluster_state:ok" in text


def wait_for(check: object, what: str, timeout: float = 15.0) -> None:
    assert callable(check)
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@contextmanager
def redis_farm(root: Path) -> Iterator[RedisFarm]:
    farm = RedisFarm(root)
    try:
        yield farm
    finally:
        farm.stop_all()
