#!/usr/bin/env python3
"""Start-up time of ``pushgate serve`` with a large store on disk.

Writes a store of GROUPS x SAMPLES series directly through the SQLite journal
(the same format pushes produce: each family as its exposition lines; with
``--objects``, as metric lists, the form of stores written before lines were
stored and of families whose lines cannot carry them exactly), then starts ``pushgate serve`` on it and
times how long it takes until ``/-/healthy`` answers, and its RSS then.

    python bench/startup.py --groups 5000 --samples 20      # 100k series
    python bench/startup.py --groups 50000 --samples 20     # 1M series
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from pushgate.core.model import Metric, MetricFamily
from pushgate.store.contract import Group, StoredFamily
from pushgate.store.rules import sanitise
from pushgate.store.sqlite import SqliteJournal


def make_group(i: int, samples: int, now: float, lines: bool, label: str = "case") -> Group:
    key = (
        ("branch", "main"),
        ("instance", f"0.4.{i % 97}-{i:07x}"),
        ("job", f"job{i % 200}"),
        ("version", f"0.4.{i % 97}"),
    )
    metrics = tuple(Metric(((label, str(j)),), value=float(i * j)) for j in range(samples))
    family = sanitise(MetricFamily("bench_value", "gauge", "A benchmark gauge.", metrics), key)
    push = sanitise(MetricFamily("push_time_seconds", "gauge", "t", (Metric((), now),)), key)
    fail = sanitise(
        MetricFamily("push_failure_time_seconds", "gauge", "f", (Metric((), 0.0),)), key
    )
    stored = {f.name: StoredFamily(f, now) for f in (family, push, fail)}
    if lines:
        for s in stored.values():
            s.compact()
    return Group(key, stored)


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--groups", type=int, default=5000)
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--port", type=int, default=29391)
    parser.add_argument(
        "--objects", action="store_true", help="store metric lists instead of lines"
    )
    parser.add_argument(
        "--label",
        default="case",
        help="the gauge's own label (default: case). A name that sorts before the grouping"
        " labels (branch, instance, job, version) interleaves the groups' series in the"
        " exposition order, which needs the per-series index; 'worker' does not",
    )
    parser.add_argument(
        "--scrape",
        action="store_true",
        help="after start-up, time two GET /metrics (first, then cached)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "pushgate.db"
        journal = SqliteJournal(path)
        now = time.time()
        batch = []
        for i in range(args.groups):
            group = make_group(i, args.samples, now, not args.objects, args.label)
            batch.append((group.key, group))
            if len(batch) == 1000:
                journal.commit(batch)
                batch = []
        journal.commit(batch)
        journal.close()
        series = args.groups * (args.samples + 2)
        print(
            f"store: {args.groups} groups, {series} series, "
            f"{path.stat().st_size / 2**20:.1f} MiB on disk"
        )
        times, rss = [], []
        for _ in range(args.rounds):
            started = time.perf_counter()
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "pushgate",
                    "serve",
                    f"--persistence.file={path}",
                    f"--web.listen-address=127.0.0.1:{args.port}",
                    "--log.level=warn",
                ]
            )
            try:
                while True:
                    try:
                        with urllib.request.urlopen(
                            f"http://127.0.0.1:{args.port}/-/healthy", timeout=1
                        ):
                            break
                    except OSError:
                        if proc.poll() is not None:
                            raise SystemExit("pushgate exited during start-up") from None
                        time.sleep(0.02)
                times.append(time.perf_counter() - started)
                rss.append(rss_mib(proc.pid))
                if args.scrape:
                    for which in ("first", "second"):
                        t0 = time.perf_counter()
                        with urllib.request.urlopen(
                            f"http://127.0.0.1:{args.port}/metrics", timeout=300
                        ) as r:
                            size = len(r.read())
                        print(
                            f"{which} scrape: {time.perf_counter() - t0:.2f} s,"
                            f" {size / 2**20:.1f} MiB; RSS {rss_mib(proc.pid):.0f} MiB"
                        )
            finally:
                proc.terminate()
                proc.wait(30)
        print(
            f"start-up to healthy: median {statistics.median(times):.2f} s "
            f"(rounds: {', '.join(f'{t:.2f}' for t in times)}); "
            f"RSS after start-up: {statistics.median(rss):.0f} MiB"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
