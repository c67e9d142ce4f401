#!/usr/bin/env python3
"""Protobuf scrapes of a large store, pushgate beside the Go gateway.

gwbench scrapes in the text format only; Prometheus asks for the protobuf
format when native histograms are enabled. This fills each gateway with
GROUPS groups of gwbench's 20-sample body (the Go gateway with its
consistency check off, so that the fill takes seconds), then times
``GET /metrics`` with the protobuf and the text ``Accept`` headers, and
protobuf scrapes that each follow a push (one chunk changed).

    python bench/protobuf_scrape.py --gwbench PATH/gwbench.py --groups 10000
"""

from __future__ import annotations

import argparse
import http.client
import importlib.util
import shlex
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from typing import Any

PROTOBUF = (
    "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited"
)
GO = (
    "prometheus-pushgateway --web.listen-address=127.0.0.1:{port} --persistence.file="
    " --push.disable-consistency-check"
)
PUSHGATE = (
    f"{shlex.quote(sys.executable)} -m pushgate serve --web.listen-address=127.0.0.1:{{port}}"
    " --persistence.file={tmpdir}/p.db --log.level=warn"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(conn: http.client.HTTPConnection, accept: str) -> tuple[float, int]:
    started = time.perf_counter()
    conn.request("GET", "/metrics", headers={"Accept": accept})
    response = conn.getresponse()
    size = len(response.read())
    return time.perf_counter() - started, size


def put(conn: http.client.HTTPConnection, instance: int, body: bytes) -> None:
    conn.request("PUT", f"/metrics/job/bench/instance/{instance}", body=body)
    response = conn.getresponse()
    response.read()
    if response.status not in (200, 202):
        raise SystemExit(f"push refused: HTTP {response.status}")


def measure(name: str, command: str, payload: Any, groups: int, rounds: int) -> None:
    port = free_port()
    with tempfile.TemporaryDirectory() as tmpdir:
        argv = shlex.split(command.format(port=port, tmpdir=tmpdir))
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(300):
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/-/healthy", timeout=1):
                        break
                except OSError:
                    time.sleep(0.1)
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
            for i in range(groups):
                put(conn, i, payload.body(i))
            time.sleep(1)
            for label, accept in (("protobuf", PROTOBUF), ("text", "text/plain;version=0.0.4")):
                results = [get(conn, accept) for _ in range(rounds)]
                median = statistics.median(t for t, _ in results)
                print(
                    f"{name:9} {label:9} {median * 1000:9.1f} ms  {results[0][1] / 2**20:.1f} MiB"
                )
            after = []
            for k in range(rounds):
                put(conn, k, payload.body(groups + k))
                after.append(get(conn, PROTOBUF)[0])
            print(f"{name:9} protobuf after a push {statistics.median(after) * 1000:9.1f} ms")
        finally:
            proc.terminate()
            proc.wait(30)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--gwbench", required=True, help="path of gwbench.py (for its body)")
    parser.add_argument("--groups", type=int, default=10000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    spec = importlib.util.spec_from_file_location("gwbench", args.gwbench)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {args.gwbench}")
    gwbench = importlib.util.module_from_spec(spec)
    sys.modules["gwbench"] = gwbench
    spec.loader.exec_module(gwbench)
    payload = gwbench.Payload(20)
    measure("go", GO, payload, args.groups, args.rounds)
    measure("pushgate", PUSHGATE, payload, args.groups, args.rounds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
