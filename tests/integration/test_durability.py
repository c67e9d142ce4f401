"""No acknowledged push is ever lost: SIGKILL under load, restart, count.

Several clients push continuously, each to its own groups, with a value that
increases on every push. The gateway is killed with SIGKILL mid-load and
restarted on the same store file. Every push that was answered 2xx must be
there with at least the value that was acknowledged. Repeated several times.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import GatewayFactory

CLIENTS = 6
GROUPS_PER_CLIENT = 5
ROUNDS = 3


def _pusher(port: int, client: int, acked: dict[str, float], stop: threading.Event) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        _push_until_stopped(conn, client, acked, stop)
    finally:
        conn.close()


def _push_until_stopped(
    conn: http.client.HTTPConnection, client: int, acked: dict[str, float], stop: threading.Event
) -> None:
    seq = 0
    while not stop.is_set():
        seq += 1
        instance = f"c{client}-g{seq % GROUPS_PER_CLIENT}"
        body = f"# TYPE seq gauge\nseq {seq}\n# TYPE other counter\nother_total {seq * 2}\n"
        try:
            conn.request("PUT", f"/metrics/job/durability/instance/{instance}", body=body)
            response = conn.getresponse()
            response.read()
        except (OSError, http.client.HTTPException):
            return  # the gateway was killed: this push was never acknowledged
        if response.status == 200:
            acked[instance] = float(seq)


def _stored_values(port: int) -> dict[str, float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/api/v1/metrics")
        data = json.loads(conn.getresponse().read())["data"]
    finally:
        conn.close()
    out: dict[str, float] = {}
    for group in data:
        if group["labels"].get("job") == "durability" and "seq" in group:
            out[group["labels"]["instance"]] = float(group["seq"]["metrics"][0]["value"])
    return out


@pytest.mark.integration
@pytest.mark.parametrize("durability", ["process", "os"])
def test_sigkill_loses_no_acknowledged_push(
    pushgate_factory: GatewayFactory, tmp_path: Path, durability: str
) -> None:
    data_dir = tmp_path / "data"
    total_acked = 0
    for round_ in range(ROUNDS):
        gw = pushgate_factory(f"--persistence.durability={durability}", data_dir=data_dir)
        before = _stored_values(gw.port)
        acked: dict[str, float] = {}
        stop = threading.Event()
        threads = [
            threading.Thread(target=_pusher, args=(gw.port, c, acked, stop)) for c in range(CLIENTS)
        ]
        for t in threads:
            t.start()
        time.sleep(1.0 + 0.3 * round_)
        gw.kill()  # SIGKILL while the clients are still pushing
        stop.set()
        for t in threads:
            t.join(10)
        assert acked, "no push was acknowledged before the kill"
        total_acked += len(acked)

        restarted = pushgate_factory(f"--persistence.durability={durability}", data_dir=data_dir)
        after = _stored_values(restarted.port)
        lost = {k: v for k, v in acked.items() if after.get(k, -1.0) < v}
        assert not lost, f"round {round_}: acknowledged pushes lost: {lost}"
        # Groups from earlier rounds are still there too.
        assert set(before) <= set(after)
        restarted.stop()
    assert total_acked >= ROUNDS
