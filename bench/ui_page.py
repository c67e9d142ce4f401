#!/usr/bin/env python3
"""How long the web UI's pages take with many groups (docs/performance.md, "Web UI").

Writes ``--groups`` groups of ``--series`` series each (CI-like: 50 projects,
4 branches, runs of ``<version>-<sha7>``) into a SQLite store, starts
``pushgate serve`` on it, and times each page over HTTP from this process:
``--repeat`` requests after 3 warm-up ones, reporting the median and the 90th
percentile in milliseconds and the size of the HTML.

    python bench/ui_page.py                      # 10,000 groups x 20 series
    python bench/ui_page.py --groups 1000 --repeat 10
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from pushgate.core.grouping import render_grouping_path
from pushgate.core.model import GroupingKey, Metric, MetricFamily, grouping_key_from_mapping
from pushgate.server.selfmetrics import OWN_TYPES
from pushgate.store import open_store
from pushgate.store.contract import WriteRequest

BRANCHES = ("main", "develop", "feature/search", "release/2.0")
#: Series of one group besides the gateway's two (push_time_seconds,
#: push_failure_time_seconds): 4 test outcomes, 2 coverage types, 1 Sonar
#: coverage, 1 duration, and the rest as build-step durations.
FIXED_SERIES = 8


def group_of(i: int, series: int) -> tuple[GroupingKey, tuple[MetricFamily, ...]]:
    project = f"project-{i % 50:02d}"
    branch = BRANCHES[(i // 50) % len(BRANCHES)]
    run = i // (50 * len(BRANCHES))
    sha = hashlib.sha1(str(i).encode()).hexdigest()[:7]
    version = f"1.{run}.0"
    key = grouping_key_from_mapping(
        {
            "job": project,
            "instance": f"{version}-{sha}",
            "branch": branch,
            "version": version,
            "commit": sha,
        }
    )
    steps = max(0, series - 2 - FIXED_SERIES)
    families = (
        MetricFamily(
            "pytest_tests_total",
            "counter",
            "Tests by outcome.",
            tuple(
                Metric((("status", s),), float(n))
                for s, n in (
                    ("passed", 900 + i % 7),
                    ("failed", i % 3),
                    ("error", 0),
                    ("skipped", 4),
                )
            ),
        ),
        MetricFamily(
            "coverage_percent",
            "gauge",
            "Coverage by type.",
            (
                Metric((("type", "line"),), 80 + (i % 100) / 10),
                Metric((("type", "branch"),), 70 + (i % 100) / 10),
            ),
        ),
        MetricFamily("sonarcloud_coverage_percent", "gauge", "Sonar.", (Metric((), 79.5),)),
        MetricFamily(
            "pytest_duration_seconds", "gauge", "Duration.", (Metric((), 120.0 + i % 60),)
        ),
        MetricFamily(
            "build_step_duration_seconds",
            "gauge",
            "Duration of each build step.",
            tuple(Metric((("step", f"step-{s:02d}"),), float(s)) for s in range(steps)),
        ),
    )
    return key, families


async def fill(path: Path, groups: int, series: int) -> GroupingKey:
    store = open_store(path, own_types=OWN_TYPES)
    await store.start()
    now = time.time()
    try:
        batch = 500
        for start in range(0, groups, batch):
            writes = []
            for i in range(start, min(groups, start + batch)):
                key, families = group_of(i, series)
                writes.append(store.write(WriteRequest(key, "put", families, now - groups + i)))
            await asyncio.gather(*writes)
    finally:
        await store.close()
    return group_of(groups - 1, series)[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fetch(url: str) -> int:
    with urllib.request.urlopen(url, timeout=60) as response:
        return len(response.read())


def measure(url: str, repeat: int) -> tuple[float, float, int]:
    for _ in range(3):
        size = fetch(url)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fetch(url)
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return statistics.median(times), times[int(0.9 * (len(times) - 1))], size


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--groups", type=int, default=10_000)
    parser.add_argument(
        "--series", type=int, default=20, help="series per group, with the gateway's two"
    )
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="pushgate-bench-ui-") as tmp:
        db = Path(tmp) / "pushgate.db"
        t0 = time.perf_counter()
        last = asyncio.run(fill(db, args.groups, args.series))
        print(
            f"wrote {args.groups:,} groups x {args.series} series in {time.perf_counter() - t0:.1f} s"
        )
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        argv_serve = [
            sys.executable, "-m", "pushgate", "serve", f"--web.listen-address=127.0.0.1:{port}",
            f"--persistence.file={db}", "--web.enable-admin-api",
        ]  # fmt: skip
        with (Path(tmp) / "serve.log").open("wb") as log:
            proc = subprocess.Popen(argv_serve, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    fetch(base + "/-/healthy")
                    break
                except OSError:
                    if time.monotonic() > deadline or proc.poll() is not None:
                        raise
                    time.sleep(0.1)
            pages = [
                ("groups, page 1 (100 groups)", "/"),
                ("groups, page 50", "/?page=50"),
                ("groups, 500 per page", "/?size=500"),
                (
                    "label filter branch=main",
                    "/?" + urllib.parse.urlencode({"match": "branch=main"}),
                ),
                (
                    "regex filter job=~project-0[0-4]",
                    "/?" + urllib.parse.urlencode({"match": 'job=~"project-0[0-4]"'}),
                ),
                ("metric search 'coverage' (all match)", "/?metric=coverage"),
                ("metric search, no match", "/?metric=nothing_like_this"),
                ("CI overview", "/ci"),
                ("one group's page", "/group" + render_grouping_path(last)),
                ("/metrics scrape (for scale)", "/metrics"),
            ]
            print(f"{'page':<40} {'median ms':>10} {'p90 ms':>8} {'KiB':>8}")
            for name, path in pages:
                median, p90, size = measure(base + path, args.repeat)
                print(f"{name:<40} {median:>10.1f} {p90:>8.1f} {size / 1024:>8.0f}")
        finally:
            proc.terminate()
            proc.wait(15)
    return 0


if __name__ == "__main__":
    sys.exit(main())
