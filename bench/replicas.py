#!/usr/bin/env python3
"""Push throughput of 1, 2, 3 ... pushgate replicas sharing one Redis.

Starts a ``redis-server`` (append-only file, ``appendfsync everysec``) and,
for each replica count, that many ``pushgate serve --store=redis://...``
processes, all on 127.0.0.1. Clients (asyncio, keep-alive HTTP/1.1) are
spread evenly over the replicas; each PUTs its own groups in turn for
``--duration`` seconds after a one-second warm-up. Reported per replica
count: acknowledged pushes/s, latency p50/p99, errors, how many pushes one
Redis commit carried, commit attempts per commit (above 1: replicas
conflicted and re-planned or rebased), and the CPU cores used by the
gateways, Redis, this load generator and everything else on the machine.
At the end every replica must show the same groups.

    python bench/replicas.py                          # 1, 2, 3 replicas, 10 s each
    python bench/replicas.py --replicas 1,2 --duration 3
    python bench/replicas.py --sqlite                 # also one gateway on SQLite

Needs Debian's ``redis-server``. All traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import redis

TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def busy_seconds() -> float:
    """CPU seconds all processes of the machine spent busy so far (/proc/stat)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / TICKS


def wait_healthy(port: int, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gateway on {port} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/-/healthy", timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"gateway on {port} not healthy after {timeout}s")


class Client:
    """One keep-alive HTTP/1.1 connection (pushgate always sends Content-Length)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def put(self, path: str, body: bytes) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        self.writer.write(
            (
                f"PUT {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
                f"Content-Type: text/plain; version=0.0.4\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode()
            + body
        )
        await self.writer.drain()
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.lower() == "content-length":
                length = int(value)
        await self.reader.readexactly(length)
        return int(lines[0].split()[1])

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


@dataclass
class Result:
    label: str
    replicas: int
    pushes: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    commits: int = 0
    script_calls: int = 0
    cores_gateways: float = 0.0
    cores_redis: float = 0.0
    cores_bench: float = 0.0
    cores_other: float = 0.0
    agree: bool = False

    def row(self) -> str:
        lat = sorted(self.latencies) or [float("nan")]
        p50 = lat[len(lat) // 2] * 1000
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000
        per_commit = f"{self.pushes / self.commits:.1f}" if self.commits else "-"
        attempts = f"{self.script_calls / self.commits:.2f}" if self.commits else "-"
        return (
            f"| {self.label} | {self.pushes / self.seconds:,.0f} | {p50:.1f} | {p99:.1f} |"
            f" {self.errors} | {per_commit} | {attempts} | {self.cores_gateways:.2f} |"
            f" {self.cores_redis:.2f} | {self.cores_bench:.2f} | {self.cores_other:.2f} |"
            f" {'yes' if self.agree else 'NO'} |"
        )


def body_for(client: int, seq: int, samples: int) -> bytes:
    lines = ["# TYPE bench_value gauge"]
    lines += [f'bench_value{{case="{j}"}} {seq * j}' for j in range(samples)]
    return ("\n".join(lines) + "\n").encode()


async def drive(ports: list[int], args: argparse.Namespace, result: Result) -> None:
    clients = [Client(ports[i % len(ports)]) for i in range(args.clients)]
    measuring = False
    stop = False

    async def loop(i: int, client: Client) -> None:
        seq = 0
        while not stop:
            seq += 1
            path = f"/metrics/job/bench/instance/c{i}-g{seq % args.groups_per_client}"
            start = time.perf_counter()
            try:
                status = await client.put(path, body_for(i, seq, args.metrics))
            except (OSError, asyncio.IncompleteReadError):
                status = 0
                client.close()
                client.writer = None
            if not measuring:
                continue
            if 200 <= status < 300:
                result.pushes += 1
                result.latencies.append(time.perf_counter() - start)
            else:
                result.errors += 1

    tasks = [asyncio.create_task(loop(i, c)) for i, c in enumerate(clients)]
    await asyncio.sleep(1.0)  # warm-up: connections, caches
    measuring = True
    started = time.perf_counter()
    await asyncio.sleep(args.duration)
    measuring = False
    result.seconds = time.perf_counter() - started
    stop = True
    await asyncio.gather(*tasks)
    for c in clients:
        c.close()


def pushed_lines(port: int) -> list[str]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as r:
        text = r.read().decode()
    return [line for line in text.splitlines() if line.startswith("bench_value")]


def replicas_agree(ports: list[int]) -> bool:
    deadline = time.monotonic() + 2.0
    while True:
        views = [pushed_lines(p) for p in ports]
        if all(v == views[0] for v in views) and views[0]:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


def script_calls(r: redis.Redis) -> int:
    stats = r.info("commandstats")
    return int(stats.get("cmdstat_evalsha", {}).get("calls", 0))


def head_version(r: redis.Redis, prefix: str = "pushgate") -> int:
    raw = r.get(f"{{{prefix}}}:head")
    return int(raw.split()[0]) if raw else 0


def run_one(
    label: str,
    flags: list[str],
    count: int,
    args: argparse.Namespace,
    workdir: Path,
    redis_pid: int | None,
    r: redis.Redis | None,
) -> Result:
    result = Result(label, count)
    procs: list[subprocess.Popen[bytes]] = []
    ports = [free_port() for _ in range(count)]
    log = (workdir / f"{label}.log").open("ab")
    try:
        for port in ports:
            argv = [
                sys.executable,
                "-m",
                "pushgate",
                "serve",
                f"--web.listen-address=127.0.0.1:{port}",
            ]
            procs.append(
                subprocess.Popen([*argv, *flags, "--log.level=warn"], stdout=log, stderr=log)
            )
        for port, proc in zip(ports, procs, strict=True):
            wait_healthy(port, proc)
        calls0 = script_calls(r) if r else 0
        version0 = head_version(r) if r else 0
        cpu0 = [cpu_seconds(p.pid) for p in procs]
        redis0 = cpu_seconds(redis_pid) if redis_pid else 0.0
        bench0 = time.process_time()
        busy0 = busy_seconds()
        wall0 = time.perf_counter()
        asyncio.run(drive(ports, args, result))
        wall = time.perf_counter() - wall0
        result.cores_gateways = (
            sum(cpu_seconds(p.pid) - c for p, c in zip(procs, cpu0, strict=True)) / wall
        )
        result.cores_redis = (cpu_seconds(redis_pid) - redis0) / wall if redis_pid else 0.0
        result.cores_bench = (time.process_time() - bench0) / wall
        result.cores_other = max(
            0.0,
            (busy_seconds() - busy0) / wall
            - result.cores_gateways
            - result.cores_redis
            - result.cores_bench,
        )
        if r is not None:
            result.commits = head_version(r) - version0
            result.script_calls = script_calls(r) - calls0
        result.agree = replicas_agree(ports)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(20)
        log.close()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--replicas", default="1,2,3", help="replica counts, comma-separated")
    parser.add_argument("--clients", type=int, default=24, help="concurrent clients in total")
    parser.add_argument("--metrics", type=int, default=20, help="samples per push")
    parser.add_argument("--groups-per-client", type=int, default=4)
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds per run")
    parser.add_argument("--appendfsync", default="everysec", choices=("always", "everysec", "no"))
    parser.add_argument("--sqlite", action="store_true", help="also one gateway on SQLite")
    args = parser.parse_args()
    binary = shutil.which("redis-server")
    if binary is None:
        print("redis-server is not installed (apt-get install -y redis-server)", file=sys.stderr)
        return 2
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="pushgate-replicas-") as tmp:
        workdir = Path(tmp)
        port = free_port()
        server = subprocess.Popen(
            [
                binary,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--dir",
                tmp,
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                args.appendfsync,
            ],
            stdout=subprocess.DEVNULL,
        )
        try:
            r = redis.Redis(port=port)
            deadline = time.monotonic() + 10
            while True:
                try:
                    r.ping()
                    break
                except redis.ConnectionError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
            if args.sqlite:
                db = workdir / "pushgate.db"
                results.append(
                    run_one(
                        "1 (SQLite)", [f"--persistence.file={db}"], 1, args, workdir, None, None
                    )
                )
            for count in (int(n) for n in args.replicas.split(",")):
                r.flushall()
                r.config_resetstat()
                results.append(
                    run_one(
                        f"{count} (Redis)",
                        [f"--store=redis://127.0.0.1:{port}/0"],
                        count,
                        args,
                        workdir,
                        server.pid,
                        r,
                    )
                )
        finally:
            server.terminate()
            server.wait(20)
    print(
        f"\n{args.clients} clients, {args.metrics} samples a push, {args.duration:g} s each,"
        f" Redis appendfsync {args.appendfsync}, {os.cpu_count()} CPUs\n"
    )
    print(
        "| replicas | pushes/s | p50 ms | p99 ms | errors | pushes per commit |"
        " attempts per commit | gateway cores | Redis cores | load-generator cores |"
        " other load (cores) | agree |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for result in results:
        print(result.row())
    spread = [res.pushes / res.seconds for res in results]
    if len(spread) > 1:
        print(f"\nmedian pushes/s over the runs: {statistics.median(spread):,.0f}")
    return 0 if all(res.agree and not res.errors for res in results) else 1


if __name__ == "__main__":
    sys.exit(main())
