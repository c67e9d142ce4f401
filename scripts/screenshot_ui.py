#!/usr/bin/env python3
"""Screenshots of pushgate's web UI with realistic CI data, for the docs.

Writes a store of several projects' CI runs (main, release and feature
branches, two weeks of runs, one failed push, a cron job with a histogram),
starts ``pushgate serve`` on it, and photographs with headless Chromium:

- docs/img/ui-overview.png: the groups page (``/``);
- docs/img/ui-group.png: one run's page (``/group/job/...``);
- docs/img/ui-ci.png: the CI overview (``/ci``).

    python scripts/screenshot_ui.py [--output-dir docs/img]
    python scripts/screenshot_ui.py --serve     # keep the demo gateway running

The runs are written to the store with past push times (so "last push" reads
like a real installation); everything else goes through HTTP. Needs pushgate
installed in this interpreter, Playwright (``pip install playwright``; its
browser download is not needed) and Chromium's headless shell (Debian:
``apt-get install chromium-headless-shell``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import math
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from pushgate.core.grouping import render_grouping_path
from pushgate.core.model import GroupingKey, Metric, MetricFamily, grouping_key_from_mapping
from pushgate.reporter.metrics import COVERAGE, QUALITY_GATE, SONAR_SPECS, TEST_DURATION, TESTS
from pushgate.server.selfmetrics import OWN_TYPES
from pushgate.store import open_store
from pushgate.store.contract import WriteRequest

REPO = Path(__file__).resolve().parents[1]
OUTPUT = REPO / "docs" / "img"
CHROMIUM = "/usr/lib/chromium/chromium-headless-shell"
HOUR = 3600.0
DAY = 24 * HOUR


@dataclass(frozen=True)
class Project:
    name: str
    version: str
    tests: int
    coverage: float
    branches: tuple[tuple[str, int], ...]  # (branch, runs)
    sonar: bool = True
    flaky: float = 0.0  # chance that a run has failing tests


PROJECTS = (
    Project(
        "billing-api", "2.8.1", 1284, 87.4, (("main", 12), ("feature/invoice-pdf", 3)), flaky=0.12
    ),
    Project(
        "web-frontend", "5.2.0", 642, 71.8, (("main", 10), ("feature/dark-mode", 4)), flaky=0.1
    ),
    Project("data-pipeline", "0.14.3", 318, 64.2, (("main", 8), ("release/0.14", 3))),
    Project("auth-service", "1.9.7", 911, 92.1, (("main", 9),), flaky=0.05),
    Project(
        "mobile-sdk", "3.0.0-rc.2", 455, 58.6, (("main", 6), ("fix/token-refresh", 2)), sonar=False
    ),
)


def sha7(*parts: object) -> str:
    return hashlib.sha1("/".join(map(str, parts)).encode()).hexdigest()[:7]


def ci_families(
    tests: dict[str, int],
    line: float,
    branch: float,
    sonar: float | None,
    duration: float,
    gate: str,
) -> tuple[MetricFamily, ...]:
    families = [
        MetricFamily(
            TESTS.name,
            TESTS.type,
            TESTS.help,
            tuple(
                Metric((("status", s),), float(tests[s]))
                for s in ("passed", "failed", "error", "skipped")
            ),
        ),
        MetricFamily(
            TEST_DURATION.name,
            TEST_DURATION.type,
            TEST_DURATION.help,
            (Metric((), round(duration, 2)),),
        ),
        MetricFamily(
            COVERAGE.name,
            COVERAGE.type,
            COVERAGE.help,
            (
                Metric((("type", "line"),), round(line, 2)),
                Metric((("type", "branch"),), round(branch, 2)),
            ),
        ),
    ]
    if sonar is not None:
        spec = SONAR_SPECS["coverage"]
        families.append(
            MetricFamily(spec.name, spec.type, spec.help, (Metric((), round(sonar, 1)),))
        )
        smells = SONAR_SPECS["code_smells"]
        families.append(
            MetricFamily(
                smells.name, smells.type, smells.help, (Metric((), float(40 + int(100 - sonar))),)
            )
        )
        families.append(
            MetricFamily(
                QUALITY_GATE.name,
                QUALITY_GATE.type,
                QUALITY_GATE.help,
                tuple(
                    Metric((("status", s),), 1.0 if s == gate else 0.0)
                    for s in ("OK", "WARN", "ERROR", "NONE")
                ),
            )
        )
    return tuple(families)


#: A batch job that is not CI, with a histogram (the group page's screenshot).
BACKUP = {"job": "nightly-backup", "instance": "db-eu-1"}


def demo_writes(now: float) -> Iterator[tuple[GroupingKey, tuple[MetricFamily, ...], float]]:
    """Every run of every project: (grouping key, families, push time)."""
    rng = random.Random(7)
    for project in PROJECTS:
        for branch, runs in project.branches:
            coverage = project.coverage - rng.uniform(1.5, 4.0)
            tests = project.tests - runs * 6
            feature = branch != "main"
            for i in range(runs):
                age = (runs - i) * (DAY * 1.3 if not feature else HOUR * 7) - rng.uniform(
                    0, HOUR * 3
                )
                coverage = min(99.0, coverage + rng.uniform(-0.6, 1.1))
                tests += rng.randint(0, 12)
                failing = rng.random() < project.flaky or (
                    feature and i == runs - 1 and project.flaky >= 0.1
                )
                failed = rng.randint(1, 6) if failing else 0
                error = 1 if failing and rng.random() < 0.3 else 0
                skipped = rng.randint(2, 9)
                sha = sha7(project.name, branch, i)
                patch = project.version if not feature else f"{project.version}.dev{i + 1}"
                key = grouping_key_from_mapping(
                    {
                        "job": project.name,
                        "instance": f"{patch}-{sha}",
                        "branch": branch,
                        "version": patch,
                        "commit": sha,
                    }
                )
                sonar = coverage - rng.uniform(-0.5, 1.5) if project.sonar else None
                gate = "ERROR" if failing else ("WARN" if coverage < 65 else "OK")
                yield (
                    key,
                    ci_families(
                        {
                            "passed": tests - failed - error,
                            "failed": failed,
                            "error": error,
                            "skipped": skipped,
                        },
                        coverage,
                        coverage - rng.uniform(8, 14),
                        sonar,
                        rng.uniform(40, 420),
                        gate,
                    ),
                    now - age,
                )
    # A batch job that is not CI: one group, with a histogram.
    yield (
        grouping_key_from_mapping(BACKUP),
        (
            MetricFamily(
                "backup_chunk_duration_seconds",
                "histogram",
                "Time to upload one backup chunk.",
                (
                    Metric(
                        (),
                        buckets=(
                            (0.5, 112),
                            (1.0, 498),
                            (2.5, 1630),
                            (5.0, 1922),
                            (10.0, 1977),
                            (math.inf, 1980),
                        ),
                        sample_count=1980,
                        sample_sum=3384.7,
                    ),
                ),
            ),
            MetricFamily(
                "backup_last_success_timestamp_seconds",
                "gauge",
                "Unix time of the last successful backup.",
                (Metric((), round(now - 5.2 * HOUR)),),
            ),
            MetricFamily(
                "backup_size_bytes",
                "gauge",
                "Size of the last backup.",
                (
                    Metric((("database", "orders"),), 48_318_220_288.0),
                    Metric((("database", "users"),), 3_221_225_472.0),
                ),
            ),
        ),
        now - 5.2 * HOUR,
    )


#: The run whose last push is shown failed (its push was rejected later).
FAILED_PUSH = {"job": "web-frontend", "branch": "feature/dark-mode"}


async def write_store(path: Path, now: float) -> GroupingKey:
    """Fill the store at ``path``; return the key of the group photographed."""
    store = open_store(path, own_types=OWN_TYPES)
    await store.start()
    latest: dict[tuple[str, str], tuple[float, GroupingKey]] = {}
    try:
        for key, families, ts in demo_writes(now):
            await store.write(WriteRequest(key, "put", families, ts))
            labels = dict(key)
            line = (labels["job"], labels.get("branch", ""))
            if ts > latest.get(line, (0.0, key))[0]:
                latest[line] = (ts, key)
        failed = latest[(FAILED_PUSH["job"], FAILED_PUSH["branch"])]
        await store.record_failure(failed[1], now - 40 * 60)
    finally:
        await store.close()
    # The page photographed: a batch job's group, with a histogram.
    return grouping_key_from_mapping(BACKUP)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"pushgate exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "/-/healthy", timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("pushgate did not become healthy")


def photograph(gateway: str, group: GroupingKey, out: Path, chromium: str) -> list[Path]:
    from playwright.sync_api import sync_playwright

    shots = [
        ("ui-overview.png", "/?match=branch%3D~%22feature%2F.%2A%22", 1180),
        ("ui-group.png", "/group" + render_grouping_path(group), 1500),
        ("ui-ci.png", "/ci", 1000),
    ]
    written = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900}, color_scheme="light")
        for name, path, height in shots:
            page.goto(gateway + path)
            page.wait_for_load_state("networkidle")
            full = page.evaluate("document.documentElement.scrollHeight")
            target = out / name
            page.screenshot(
                path=str(target),
                full_page=True,
                clip={"x": 0, "y": 0, "width": 1280, "height": min(height, full)},
            )
            written.append(target)
        browser.close()
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--output-dir", type=Path, default=OUTPUT)
    parser.add_argument("--chromium", default=CHROMIUM, help="Chromium binary")
    parser.add_argument(
        "--serve",
        action="store_true",
        help="keep the demo gateway running (Ctrl-C stops it); no screenshots",
    )
    parser.add_argument("--port", type=int, default=0, help="port of the demo gateway")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="pushgate-ui-") as tmp:
        db = Path(tmp) / "pushgate.db"
        group = asyncio.run(write_store(db, time.time()))
        port = args.port or free_port()
        gateway = f"http://127.0.0.1:{port}"
        serve = [
            sys.executable, "-m", "pushgate", "serve", f"--web.listen-address=127.0.0.1:{port}",
            f"--persistence.file={db}", "--web.enable-admin-api",
        ]  # fmt: skip
        with (Path(tmp) / "pushgate.log").open("wb") as log:
            proc = subprocess.Popen(serve, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_healthy(gateway, proc)
            if args.serve:
                # SIGTERM too must reach the finally below, which stops the gateway.
                signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
                print(f"demo gateway on {gateway}/ (Ctrl-C stops it)", flush=True)
                with contextlib.suppress(KeyboardInterrupt):
                    proc.wait()
                return 0
            args.output_dir.mkdir(parents=True, exist_ok=True)
            for path in photograph(gateway, group, args.output_dir, args.chromium):
                print(path)
        finally:
            proc.terminate()
            proc.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
