"""Several ``pushgate serve --store=redis://...`` replicas over real Redis servers.

Clients push to every replica in turn; all replicas must then show the same
groups, every acknowledged push must be there (with at least the value that
was acknowledged), and the consistency check must hold across replicas. A
replica and, with Sentinel, the Redis primary are SIGKILLed under load.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import GatewayFactory, GatewayProcess
from tests.redisproc import MASTER_NAME, RedisFarm, redis_farm, wait_for

pytestmark = pytest.mark.integration

#: Families of the gateway itself, which differ between replicas.
OWN_PREFIXES = ("process_", "pushgateway_", "pushgate_")


@pytest.fixture
def farm(tmp_path: Path) -> Iterator[RedisFarm]:
    with redis_farm(tmp_path / "redis") as f:
        yield f


def request(
    port: int, method: str, path: str, body: str | None = None, timeout: float = 10.0
) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body)
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


def pushed_lines(port: int) -> list[str]:
    """The pushed series of ``/metrics`` (the gateway's own families left out)."""
    status, text = request(port, "GET", "/metrics")
    assert status == 200
    return [
        line
        for line in text.splitlines()
        if line and not line.startswith("#") and not line.startswith(OWN_PREFIXES)
    ]


def stale(port: int) -> bool:
    _, text = request(port, "GET", "/metrics")
    return "pushgate_store_stale 1" in text.splitlines()


def stored_values(port: int, job: str) -> dict[str, float]:
    status, text = request(port, "GET", "/api/v1/metrics")
    assert status == 200
    out: dict[str, float] = {}
    for group in json.loads(text)["data"]:
        if group["labels"].get("job") == job and "seq" in group:
            out[group["labels"]["instance"]] = float(group["seq"]["metrics"][0]["value"])
    return out


def agree(gateways: list[GatewayProcess], within: float = 1.0) -> list[str]:
    """Wait until every replica exposes the same pushed series; return them."""
    deadline = time.monotonic() + within
    while True:
        views = [pushed_lines(gw.port) for gw in gateways]
        if all(v == views[0] for v in views):
            return views[0]
        if time.monotonic() > deadline:
            differ = [gw.port for gw, v in zip(gateways, views, strict=True) if v != views[0]]
            raise AssertionError(f"replicas {differ} still differ after {within}s")
        time.sleep(0.02)


class Pushers:
    """Clients that push increasing values to every live replica in turn.

    ``acked[instance]`` is the last value a replica acknowledged (2xx) for
    that group; a push that failed (503, connection refused or reset) counts
    for nothing.
    """

    def __init__(self, job: str, ports: list[int], clients: int = 6, groups: int = 4) -> None:
        self.job = job
        self.ports = ports
        self.acked: dict[str, float] = {}
        self.failed = 0
        self.ok = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, args=(c, groups), daemon=True)
            for c in range(clients)
        ]

    def _run(self, client: int, groups: int) -> None:
        seq = 0
        while not self._stop.is_set():
            seq += 1
            port = self.ports[(client + seq) % len(self.ports)]
            instance = f"c{client}-g{seq % groups}"
            body = f"# TYPE seq gauge\nseq {seq}\n"
            try:
                status, _ = request(
                    port, "PUT", f"/metrics/job/{self.job}/instance/{instance}", body, 5
                )
            except (OSError, http.client.HTTPException):
                status = 0
            with self._lock:
                if 200 <= status < 300:
                    self.ok += 1
                    self.acked[instance] = float(seq)
                else:
                    self.failed += 1
                    time.sleep(0.01)

    def __enter__(self) -> Pushers:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(15)

    def wait_for_acks(self, count: int, timeout: float = 20.0) -> None:
        start = self.ok
        wait_for(lambda: self.ok >= start + count, f"{count} more acknowledged pushes", timeout)

    def lost(self, port: int) -> dict[str, float]:
        stored = stored_values(port, self.job)
        return {k: v for k, v in self.acked.items() if stored.get(k, -1.0) < v}


def start_replicas(factory: GatewayFactory, url: str, count: int) -> list[GatewayProcess]:
    return [factory(f"--store={url}") for _ in range(count)]


def test_three_replicas_agree_and_survive_a_replica_kill(
    farm: RedisFarm, pushgate_factory: GatewayFactory
) -> None:
    redis = farm.server()
    gateways = start_replicas(pushgate_factory, redis.url, 3)
    with Pushers("spread", [gw.port for gw in gateways]) as pushers:
        pushers.wait_for_acks(150)
        gateways[2].kill()  # SIGKILL mid-push; its clients move on
        pushers.ports = [gw.port for gw in gateways[:2]]
        pushers.wait_for_acks(150)
    alive = gateways[:2]
    lines = agree(alive)
    assert any(line.startswith("seq{") for line in lines)
    for gw in alive:
        assert pushers.lost(gw.port) == {}, "acknowledged pushes lost"
    # A replica started now loads everything from Redis.
    late = pushgate_factory(f"--store={redis.url}")
    assert agree([*alive, late]) == lines
    # The consistency check holds across replicas: seq is a gauge (pushed
    # through the other replicas), so a counter named seq is rejected anywhere.
    status, text = request(late.port, "PUT", "/metrics/job/other", "# TYPE seq counter\nseq 1\n")
    assert status == 400 and "is not a GAUGE" in text
    assert not any('job="other"' in line and line.startswith("seq") for line in agree(alive))


def test_conflicting_pushes_on_two_replicas_one_wins(
    farm: RedisFarm, pushgate_factory: GatewayFactory
) -> None:
    redis = farm.server()
    a, b = start_replicas(pushgate_factory, redis.url, 2)
    outcomes: dict[str, int] = {}

    def push(gw: GatewayProcess, kind: str) -> None:
        status, _ = request(gw.port, "PUT", f"/metrics/job/{kind}", f"# TYPE t {kind}\nt 1\n")
        outcomes[kind] = status

    threads = [
        threading.Thread(target=push, args=(a, "counter")),
        threading.Thread(target=push, args=(b, "gauge")),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert sorted(outcomes.values()) == [200, 400]
    lines = agree([a, b])
    assert len([line for line in lines if line.startswith("t{")]) == 1


def test_redis_outage_gives_503_keeps_serving_and_recovers(
    farm: RedisFarm, pushgate_factory: GatewayFactory
) -> None:
    redis = farm.server()
    url = redis.url + "?socket_timeout=2&socket_connect_timeout=0.5"
    a, b = start_replicas(pushgate_factory, url, 2)
    assert request(a.port, "PUT", "/metrics/job/before", "m 1\n")[0] == 200
    before = agree([a, b])
    assert not stale(a.port) and not stale(b.port)

    redis.kill()
    status, text = request(b.port, "PUT", "/metrics/job/during", "m 2\n")
    assert status == 503
    assert redis.url in text and "nothing was stored" in text
    wait_for(lambda: stale(a.port) and stale(b.port), "pushgate_store_stale 1", 5)
    assert pushed_lines(a.port) == pushed_lines(b.port) == before  # last known state

    redis.start()  # same port, same append-only file
    wait_for(lambda: not stale(a.port) and not stale(b.port), "pushgate_store_stale 0", 10)
    assert request(b.port, "PUT", "/metrics/job/after", "m 3\n")[0] == 200
    lines = agree([a, b])
    assert any('job="before"' in line for line in lines)
    assert any('job="after"' in line for line in lines)
    assert not any('job="during"' in line for line in lines)


def _sentinel_master_port(sentinel_port: int) -> int:
    import redis

    with redis.Redis(port=sentinel_port) as s:
        _, port = s.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER_NAME)
    return int(port)


def test_sentinel_failover_loses_no_acknowledged_push(
    farm: RedisFarm, pushgate_factory: GatewayFactory
) -> None:
    primary, _ = farm.replicated(2)
    sentinel = farm.sentinel(primary)
    url = (
        f"redis+sentinel://127.0.0.1:{sentinel.port}/{MASTER_NAME}/0"
        "?wait_replicas=1&wait_timeout=1&socket_timeout=2&socket_connect_timeout=0.5"
    )
    gateways = start_replicas(pushgate_factory, url, 3)
    with Pushers("failover", [gw.port for gw in gateways]) as pushers:
        pushers.wait_for_acks(100)
        primary.kill()  # the Redis primary dies under load
        gateways[0].kill()  # and so does a gateway replica
        pushers.ports = [gw.port for gw in gateways[1:]]
        wait_for(
            lambda: _sentinel_master_port(sentinel.port) != primary.port,
            "Sentinel to promote a replica",
            15,
        )
        pushers.wait_for_acks(100, timeout=20)  # writes resume on the new primary
    assert pushers.failed > 0, "the failover should have refused some pushes"
    alive = gateways[1:]
    wait_for(lambda: not any(stale(gw.port) for gw in alive), "replicas in sync", 10)
    agree(alive)
    for gw in alive:
        assert pushers.lost(gw.port) == {}, "acknowledged pushes lost in the failover"


def test_cluster(farm: RedisFarm, pushgate_factory: GatewayFactory) -> None:
    nodes = farm.cluster(3)
    url = "redis+cluster://" + ",".join(n.address for n in nodes[:2])
    a, b = start_replicas(pushgate_factory, url, 2)
    assert request(a.port, "PUT", "/metrics/job/x", "# TYPE c counter\nc 1\n")[0] == 200
    status, text = request(b.port, "PUT", "/metrics/job/y", "# TYPE c gauge\nc 1\n")
    assert status == 400 and "is not a COUNTER" in text
    lines = agree([a, b])
    assert 'c{instance="",job="x"} 1' in lines
