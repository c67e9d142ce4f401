#!/usr/bin/env python3
"""A year of daily CI runs against the store, with retention on: does it stay bounded?

Drives the real store in-process (the durable SQLite store by default, the
same writer, rules and policy as ``pushgate serve``) with a fake clock: no
HTTP, no sleeping. Every simulated day each of PROJECTS x BRANCHES pushes
one CI run under a new ``instance`` (``<version>-<sha7>``), as
``pushgate report`` does, with the families it pushes. The runs of a day
are pushed concurrently, as CI jobs are. Every week the script records the
groups, series, store file size and RSS; at the end it prints the figures
and their peaks, and can draw them (``--chart``, an SVG written by hand: no
plotting dependency).

    python bench/retention_sim.py                                  # 365 days, keep 20
    python bench/retention_sim.py --ttl 30d --keep 0               # expiry instead
    python bench/retention_sim.py --chart docs/img/retention-sim.svg
    python bench/retention_sim.py --days 30 --projects 10          # a quick smoke run

It exits 1 if the store ends bigger than the retention bound allows
(PROJECTS x BRANCHES x KEEP groups), so it can serve as a check too.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from pushgate.core.duration import parse_duration, render_duration
from pushgate.core.model import GroupingKey, Metric, MetricFamily
from pushgate.core.selector import EVERYTHING
from pushgate.server.selfmetrics import OWN_TYPES
from pushgate.store import JournaledStore, open_store
from pushgate.store.contract import WriteRequest
from pushgate.store.policy import StorePolicy
from pushgate.store.retention import KeepRule, RetentionPolicy

DAY = 86_400.0
START = 1_704_067_200.0  # 2024-01-01T00:00:00Z
BRANCH_NAMES = ("main", "develop", "release", "feature/login", "feature/search", "hotfix")


@dataclass(frozen=True, slots=True)
class Sample:
    day: int
    pushes: int
    groups: int
    series: int
    file_bytes: int
    rss_bytes: int
    seconds: float


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def file_bytes(path: Path | None) -> int:
    if path is None:
        return 0
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*") if p.is_file())


def gauge(
    name: str, help_: str, *series: tuple[tuple[tuple[str, str], ...], float]
) -> MetricFamily:
    metrics = tuple(Metric(labels, float(value)) for labels, value in series)
    return MetricFamily(name, "gauge", help_, metrics)


def run_families(seed: int) -> tuple[MetricFamily, ...]:
    """What ``pushgate report`` pushes for one run: tests, coverage, workflow, Sonar (13 series)."""
    passed = 400 + seed % 50
    return (
        gauge(
            "pytest_tests_total",
            "Tests by status.",
            ((("status", "passed"),), passed),
            ((("status", "failed"),), seed % 3),
            ((("status", "skipped"),), 4),
            ((("status", "error"),), 0),
        ),
        gauge("pytest_duration_seconds", "Test run duration.", ((), 60.0 + seed % 30)),
        gauge(
            "coverage_percent",
            "Coverage.",
            ((("type", "line"),), 80 + seed % 10),
            ((("type", "branch"),), 70 + seed % 10),
        ),
        MetricFamily(
            "github_workflow_runs_total",
            "counter",
            "Workflow runs.",
            (Metric((("conclusion", "success"), ("workflow", "CI")), 1.0),),
        ),
        gauge(
            "github_workflow_run_duration_seconds", "Run duration.", ((("workflow", "CI"),), 300.0)
        ),
        gauge("sonarcloud_bugs", "Bugs.", ((), seed % 5)),
        gauge("sonarcloud_vulnerabilities", "Vulnerabilities.", ((), 0)),
        gauge("sonarcloud_code_smells", "Code smells.", ((), 100 + seed % 40)),
        gauge("sonarcloud_coverage_percent", "Coverage (Sonar).", ((), 80 + seed % 10)),
    )


def grouping_key(project: int, branch: str, day: int) -> GroupingKey:
    version = f"1.{day // 30}.{day % 30}"
    sha7 = hashlib.sha1(f"{project}/{branch}/{day}".encode()).hexdigest()[:7]
    labels = {
        "job": f"project-{project:03d}",
        "instance": f"{version}-{sha7}",
        "branch": branch,
        "version": version,
        "commit": sha7,
    }
    return tuple(sorted(labels.items()))


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


async def simulate(args: argparse.Namespace, path: Path | None) -> list[Sample]:
    keep_rules = (KeepRule(("job", "branch"), args.keep, EVERYTHING),) if args.keep else ()
    policy = StorePolicy(RetentionPolicy(default_ttl=args.ttl, keep=keep_rules))
    clock = Clock()
    store: JournaledStore = open_store(path, own_types=OWN_TYPES, policy=policy, clock=clock)
    await store.start()
    branches = BRANCH_NAMES[: args.branches]
    samples: list[Sample] = []
    pushes = 0
    started = time.perf_counter()
    try:
        for day in range(args.days):
            clock.now = START + day * DAY
            writes = []
            for project in range(args.projects):
                for b, branch in enumerate(branches):
                    # Runs spread over the working day, a few seconds apart.
                    ts = clock.now + 9 * 3600 + (project * len(branches) + b) * 7.0
                    key = grouping_key(project, branch, day)
                    families = run_families(project * 31 + b * 7 + day)
                    writes.append(store.write(WriteRequest(key, "put", families, ts)))
            clock.now += DAY - 1  # the day's runs are done; expiry may be due
            await asyncio.gather(*writes)
            await store.sweep()
            pushes += len(writes)
            if day % args.every == args.every - 1 or day == args.days - 1:
                usage = store.usage()
                sample = Sample(
                    day + 1,
                    pushes,
                    usage.groups,
                    usage.series_total,
                    file_bytes(path),
                    rss_bytes(),
                    time.perf_counter() - started,
                )
                samples.append(sample)
                if not args.quiet:
                    print(
                        f"day {sample.day:4d}  pushes {sample.pushes:8d}  groups {sample.groups:7d}"
                        f"  series {sample.series:9d}  file {sample.file_bytes / 2**20:8.1f} MiB"
                        f"  rss {sample.rss_bytes / 2**20:7.1f} MiB  {sample.seconds:7.1f} s",
                        flush=True,
                    )
        usage = store.usage()
        print(
            f"deleted by retention: {usage.retention_deleted_total}, by expiry:"
            f" {usage.expired_total}",
            flush=True,
        )
    finally:
        await store.close()
    return samples


# -- the chart ----------------------------------------------------------------------------
def _polyline(points: list[tuple[float, float]], colour: str) -> str:
    coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    return f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{coords}"/>'


def render_svg(samples: list[Sample], title: str, unbounded_per_day: int) -> str:
    """Groups over time (left axis) with the store file and RSS (right axis)."""
    width, height, left, right, top, bottom = 760, 360, 70, 80, 40, 50
    plot_w, plot_h = width - left - right, height - top - bottom
    days = max(s.day for s in samples)
    # Different headroom on the two axes, so that plateaus do not overlap.
    max_groups = max(s.groups for s in samples) * 1.6
    max_mib = max(max(s.file_bytes, s.rss_bytes) for s in samples) / 2**20 * 1.25

    def x(day: float) -> float:
        return left + plot_w * day / days

    def y_groups(v: float) -> float:
        return top + plot_h * (1 - v / max_groups)

    def y_mib(v: float) -> float:
        return top + plot_h * (1 - v / max_mib)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}"'
        f' viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{width / 2}" y="22" text-anchor="middle" font-size="14">{title}</text>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#444"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#444"/>',
        f'<line x1="{left + plot_w}" y1="{top}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#444"/>',
    ]
    for i in range(5):
        v = max_groups * i / 4
        out.append(
            f'<text x="{left - 6}" y="{y_groups(v) + 4:.1f}" text-anchor="end">{v:,.0f}</text>'
        )
        m = max_mib * i / 4
        out.append(f'<text x="{left + plot_w + 6}" y="{y_mib(m) + 4:.1f}">{m:,.0f} MiB</text>')
        out.append(
            f'<line x1="{left}" y1="{y_groups(v):.1f}" x2="{left + plot_w}" y2="{y_groups(v):.1f}"'
            ' stroke="#eee"/>'
        )
    for d in range(0, days + 1, max(1, days // 6 // 30 * 30 or 30)):
        out.append(f'<text x="{x(d):.1f}" y="{top + plot_h + 18}" text-anchor="middle">{d}</text>')
    out.append(f'<text x="{left + plot_w / 2}" y="{height - 12}" text-anchor="middle">day</text>')
    # Without retention every run would stay: a straight line off the chart.
    cut = min(days, max_groups / unbounded_per_day)
    out.append(
        f'<line x1="{x(0):.1f}" y1="{y_groups(0):.1f}" x2="{x(cut):.1f}"'
        f' y2="{y_groups(cut * unbounded_per_day):.1f}" stroke="#bbb" stroke-dasharray="6 4"'
        ' stroke-width="2"/>'
    )
    out.append(
        _polyline(
            [(x(0), y_groups(0))] + [(x(s.day), y_groups(s.groups)) for s in samples], "#1f77b4"
        )
    )
    out.append(_polyline([(x(s.day), y_mib(s.file_bytes / 2**20)) for s in samples], "#d62728"))
    out.append(_polyline([(x(s.day), y_mib(s.rss_bytes / 2**20)) for s in samples], "#2ca02c"))
    legend = (
        ("#1f77b4", "groups stored (left axis)"),
        ("#bbb", "groups without retention"),
        ("#d62728", "SQLite file (right axis)"),
        ("#2ca02c", "process RSS (right axis)"),
    )
    # In the empty band between the file line (low) and the groups line (high).
    lx, ly0 = left + plot_w * 0.45, top + plot_h * 0.45
    out.append(
        f'<rect x="{lx - 6:.1f}" y="{ly0 - 14:.1f}" width="220" height="{16 * len(legend) + 8}"'
        ' fill="white" fill-opacity="0.85"/>'
    )
    for i, (colour, label) in enumerate(legend):
        ly = ly0 + i * 16
        out.append(
            f'<line x1="{lx:.1f}" y1="{ly - 4:.1f}" x2="{lx + 20:.1f}" y2="{ly - 4:.1f}"'
            f' stroke="{colour}" stroke-width="3"/>'
        )
        out.append(f'<text x="{lx + 26:.1f}" y="{ly:.1f}">{label}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--projects", type=int, default=200)
    parser.add_argument("--branches", type=int, default=5, choices=range(1, len(BRANCH_NAMES) + 1))
    parser.add_argument("--keep", type=int, default=20, help="groups kept per job+branch (0: off)")
    parser.add_argument("--ttl", type=parse_duration, default=None, help="default TTL, e.g. 30d")
    parser.add_argument("--memory", action="store_true", help="the memory store, not SQLite")
    parser.add_argument("--every", type=int, default=7, help="record every N days")
    parser.add_argument("--chart", type=Path, help="write an SVG chart here")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        path = None if args.memory else Path(tmp) / "pushgate.db"
        samples = asyncio.run(simulate(args, path))
    last = samples[-1]
    peak_groups = max(s.groups for s in samples)
    print(
        f"\n{args.projects} projects x {args.branches} branches, {args.days} days,"
        f" keep {args.keep or 'all'} per job+branch"
        + (f", TTL {render_duration(args.ttl)}" if args.ttl else "")
        + f"\npushes: {last.pushes}  in {last.seconds:.1f} s ({last.pushes / last.seconds:,.0f}/s)"
        f"\npeak: groups {peak_groups}, series {max(s.series for s in samples)},"
        f" file {max(s.file_bytes for s in samples) / 2**20:.1f} MiB,"
        f" RSS {max(s.rss_bytes for s in samples) / 2**20:.1f} MiB"
        f"\nend:  groups {last.groups}, series {last.series},"
        f" file {last.file_bytes / 2**20:.1f} MiB, RSS {last.rss_bytes / 2**20:.1f} MiB"
        f"\nwithout retention: {last.pushes} groups, {last.pushes * (last.series // max(1, last.groups))} series"
    )
    if args.chart is not None:
        runs = args.projects * args.branches
        title = (
            f"{runs} CI runs a day for {args.days} days, keep {args.keep} per job+branch"
            if args.keep
            else f"{runs} CI runs a day, TTL"
        )
        args.chart.write_text(render_svg(samples, title, runs))
        print(f"chart: {args.chart}")
    bound = args.projects * args.branches * args.keep if args.keep else None
    if bound is not None and last.groups > bound:
        print(f"NOT BOUNDED: {last.groups} groups > {bound}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
