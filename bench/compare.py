#!/usr/bin/env python3
"""Run pushgate and the official Go Pushgateway side by side and print ratios.

Drives ``gwbench.py`` (an A/B harness for Pushgateway-compatible servers: it
starts both gateways itself, alternates rounds, and prints B/A ratios of
medians). A is the Go Pushgateway (Debian's ``prometheus-pushgateway``), B is
``pushgate serve`` with its durable store and the consistency check on.

    python bench/compare.py --gwbench PATH/gwbench.py                 # the issue's table
    python bench/compare.py --gwbench PATH/gwbench.py --smoke         # seconds, for CI
    python bench/compare.py --gwbench PATH/gwbench.py --json out.json -- --rounds 5

Everything after ``--`` goes to gwbench unchanged. All traffic stays on
127.0.0.1.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys

GO = (
    "prometheus-pushgateway --web.listen-address=127.0.0.1:{port}"
    " --persistence.file={tmpdir}/pg.data"
)
PUSHGATE = (
    f"{shlex.quote(sys.executable)} -m pushgate serve --web.listen-address=127.0.0.1:{{port}}"
    " --persistence.file={tmpdir}/pushgate.db --log.level=warn"
)

#: (scenario, extra gwbench flags) for the figures of the performance table.
FULL = [
    ("push", ["--clients", "16", "--metrics", "50", "--duration", "15", "--pushes", "100000"]),
    ("scale", ["--groups", "10000", "--group-samples", "20", "--scrapes", "5"]),
    ("restart", ["--restart-groups", "1000"]),
]
SMOKE = [
    ("push", ["--clients", "4", "--metrics", "10", "--duration", "1", "--pushes", "200"]),
    (
        "scale",
        [
            "--groups",
            "50",
            "--group-samples",
            "5",
            "--scrapes",
            "1",
            "--scale-pushes",
            "20",
            "--scale-duration",
            "2",
        ],
    ),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--gwbench",
        default=os.environ.get("PUSHGATE_GWBENCH"),
        help="path of gwbench.py (or $PUSHGATE_GWBENCH)",
    )
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: proves the bench runs")
    parser.add_argument(
        "--only-pushgate", action="store_true", help="measure pushgate alone (no Go gateway needed)"
    )
    parser.add_argument("--port", type=int, default=29091)
    parser.add_argument("--json", help="write gwbench's machine-readable results here")
    parser.add_argument("rest", nargs="*", help="extra gwbench arguments (after --)")
    args = parser.parse_args(argv)
    if not args.gwbench or not os.path.exists(args.gwbench):
        parser.error("--gwbench PATH is required (the gwbench.py harness)")
    go = shutil.which("prometheus-pushgateway")
    if go is None and not args.only_pushgate:
        parser.error(
            "prometheus-pushgateway is not installed (apt-get install -y"
            " prometheus-pushgateway), or pass --only-pushgate"
        )
    code = 0
    for scenario, flags in SMOKE if args.smoke else FULL:
        cmd = [
            sys.executable,
            args.gwbench,
            "--scenario",
            scenario,
            "--port",
            str(args.port),
            *flags,
        ]
        if args.only_pushgate:
            cmd += ["--start", PUSHGATE]
        else:
            cmd += [
                "--start",
                GO,
                "--vs",
                PUSHGATE,
                "--preload-extra=--push.disable-consistency-check",
            ]
        if args.json:
            cmd += ["--json", f"{args.json}.{scenario}.json"]
        cmd += args.rest
        print("$", shlex.join(cmd), flush=True)
        code |= subprocess.call(cmd)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
