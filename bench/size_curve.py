#!/usr/bin/env python3
"""Push latency and scrape time against store size, pushgate beside the Go gateway.

For each size, runs gwbench's ``scale`` scenario (pre-load N groups of 20
samples, then re-push existing groups, then scrape) on both gateways in the
same run, and prints push p50 and scrape time per size, the growth of
pushgate's push p50 from the smallest to the largest size, and optionally an
SVG chart (log-log).

    python bench/size_curve.py --gwbench PATH/gwbench.py --chart docs/img/size-curve.svg
    python bench/size_curve.py --gwbench PATH/gwbench.py --sizes 100,1000

The Go gateway's pre-load runs with ``--push.disable-consistency-check``
(otherwise 50,000 groups take hours), then it restarts without the flag.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

GO = (
    "prometheus-pushgateway --web.listen-address=127.0.0.1:{port}"
    " --persistence.file={tmpdir}/pg.data"
)
PUSHGATE = (
    f"{shlex.quote(sys.executable)} -m pushgate serve --web.listen-address=127.0.0.1:{{port}}"
    " --persistence.file={tmpdir}/pushgate.db --log.level=warn"
)


@dataclass
class Point:
    groups: int
    side: str  # "Go 1.5.1" or "pushgate"
    push_p50_ms: float
    scrape_ms: float


def run_size(gwbench: str, groups: int, port: int, workdir: str) -> list[Point]:
    """One gwbench scale run at ``groups`` groups, both gateways."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "scale.json"
        cmd = [
            sys.executable,
            gwbench,
            "--scenario",
            "scale",
            "--rounds",
            "1",
            "--port",
            str(port),
            "--groups",
            str(groups),
            "--group-samples",
            "20",
            "--scrapes",
            "3",
            "--scale-duration",
            "10",
            "--preload-timeout",
            "1800",
            "--start",
            GO,
            "--vs",
            PUSHGATE,
            "--preload-extra=--push.disable-consistency-check",
            "--workdir",
            workdir,
            "--json",
            str(out),
        ]
        print("$", shlex.join(cmd), flush=True)
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        doc = json.loads(out.read_text())
    points = []
    for run in doc["runs"]:
        figures = run["figures"]
        side = "Go 1.5.1" if run["side"] == "A" else "pushgate"
        points.append(Point(groups, side, figures["push p50"], figures["scrape time"]))
    return points


def render_svg(points: list[Point]) -> str:
    """Push p50 and scrape time (log scales) against groups, per gateway."""
    width, height, left, right, top, bottom = 760, 380, 70, 200, 40, 50
    plot_w, plot_h = width - left - right, height - top - bottom
    sizes = sorted({p.groups for p in points})
    values = [v for p in points for v in (p.push_p50_ms, p.scrape_ms) if v > 0]
    lo = 10 ** math.floor(math.log10(min(values)))
    hi = 10 ** math.ceil(math.log10(max(values)))
    x_lo, x_hi = math.log10(sizes[0]), math.log10(sizes[-1])

    def x(groups: float) -> float:
        span = (x_hi - x_lo) or 1.0
        return left + plot_w * (math.log10(groups) - x_lo) / span

    def y(ms: float) -> float:
        return top + plot_h * (1 - (math.log10(ms) - math.log10(lo)) / math.log10(hi / lo))

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}"'
        f' viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{left + plot_w / 2}" y="22" text-anchor="middle" font-size="14">'
        "Push p50 and scrape time against store size (20 series per group)</text>",
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}"'
        ' stroke="#444"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#444"/>',
    ]
    decade = lo
    while decade <= hi:
        label = f"{decade:g} ms" if decade < 1000 else f"{decade / 1000:g} s"
        out.append(f'<text x="{left - 6}" y="{y(decade) + 4:.1f}" text-anchor="end">{label}</text>')
        out.append(
            f'<line x1="{left}" y1="{y(decade):.1f}" x2="{left + plot_w}" y2="{y(decade):.1f}"'
            ' stroke="#eee"/>'
        )
        decade *= 10
    for size in sizes:
        out.append(
            f'<text x="{x(size):.1f}" y="{top + plot_h + 18}" text-anchor="middle">{size:,}</text>'
        )
    out.append(
        f'<text x="{left + plot_w / 2}" y="{height - 12}" text-anchor="middle">groups stored</text>'
    )
    series = [
        ("Go 1.5.1", "push_p50_ms", "#d62728", "", "Go 1.5.1 push p50"),
        ("Go 1.5.1", "scrape_ms", "#d62728", ' stroke-dasharray="6 4"', "Go 1.5.1 scrape"),
        ("pushgate", "push_p50_ms", "#1f77b4", "", "pushgate push p50"),
        ("pushgate", "scrape_ms", "#1f77b4", ' stroke-dasharray="6 4"', "pushgate scrape"),
    ]
    for i, (side, field, colour, dash, label) in enumerate(series):
        mine = sorted((p for p in points if p.side == side), key=lambda p: p.groups)
        coords = " ".join(f"{x(p.groups):.1f},{y(getattr(p, field)):.1f}" for p in mine)
        out.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="2"{dash} points="{coords}"/>'
        )
        for p in mine:
            out.append(
                f'<circle cx="{x(p.groups):.1f}" cy="{y(getattr(p, field)):.1f}" r="3"'
                f' fill="{colour}"/>'
            )
        ly = top + 10 + 20 * i
        lx = left + plot_w + 16
        out.append(
            f'<line x1="{lx}" y1="{ly - 4}" x2="{lx + 24}" y2="{ly - 4}" stroke="{colour}"'
            f' stroke-width="2"{dash}/>'
        )
        out.append(f'<text x="{lx + 30}" y="{ly}">{label}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--gwbench",
        default=os.environ.get("PUSHGATE_GWBENCH"),
        help="path of gwbench.py (or $PUSHGATE_GWBENCH)",
    )
    parser.add_argument(
        "--sizes", default="1000,3000,10000,30000,50000", help="groups, comma-separated"
    )
    parser.add_argument("--port", type=int, default=29191)
    parser.add_argument("--workdir", default=tempfile.gettempdir())
    parser.add_argument("--chart", type=Path, help="write an SVG chart here")
    parser.add_argument("--json", type=Path, help="write the points here")
    args = parser.parse_args(argv)
    if not args.gwbench or not Path(args.gwbench).exists():
        parser.error("--gwbench PATH is required (the gwbench.py harness)")
    try:
        sizes = sorted({int(s) for s in args.sizes.split(",")})
    except ValueError:
        parser.error(f"--sizes must be comma-separated group counts, got {args.sizes!r}")
    points: list[Point] = []
    for size in sizes:
        points += run_size(args.gwbench, size, args.port, args.workdir)
    print(
        f"\n{'groups':>8} {'series':>10}  {'Go push p50':>12} {'pushgate':>10}"
        f"  {'Go scrape':>10} {'pushgate':>10}"
    )
    for size in sizes:
        go = next(p for p in points if p.groups == size and p.side == "Go 1.5.1")
        pg = next(p for p in points if p.groups == size and p.side == "pushgate")
        print(
            f"{size:8,} {size * 20:10,}  {go.push_p50_ms:9.2f} ms {pg.push_p50_ms:7.2f} ms"
            f"  {go.scrape_ms:7.1f} ms {pg.scrape_ms:7.1f} ms"
        )
    first = next(p for p in points if p.groups == sizes[0] and p.side == "pushgate")
    last = next(p for p in points if p.groups == sizes[-1] and p.side == "pushgate")
    print(
        f"\npushgate push p50 growth from {sizes[0]:,} to {sizes[-1]:,} groups:"
        f" {last.push_p50_ms / first.push_p50_ms:.2f}x (target: within 1.5x)"
    )
    if args.json:
        args.json.write_text(json.dumps([p.__dict__ for p in points], indent=1) + "\n")
    if args.chart:
        args.chart.write_text(render_svg(points))
        print(f"wrote {args.chart}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
