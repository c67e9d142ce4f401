"""Record the golden answers of the Go Pushgateway 1.5.1 for the differential corpus.

Usage, from the repository root, with the Debian ``prometheus-pushgateway``
1.5.1 installed::

    python -m tests.differential.record            # re-record every case
    python -m tests.differential.record -k gzip.   # only cases whose name contains "gzip."
    python -m tests.differential.record --check    # compare with the files, write nothing

Cases that must not reach 1.5.1 (``go_safe=False``) are stored without
observations. Recording twice must give identical files: the normalisation
removes everything that varies between runs.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.differential.diff_corpus import CASES
from tests.differential.diff_harness import run_case
from tests.differential.diff_pool import (
    GO_BINARY,
    GatewayPool,
    dump_golden,
    go_argv,
    golden_entry,
    load_golden,
)


def go_version() -> str:
    out = subprocess.run([GO_BINARY, "--version"], capture_output=True, text=True, check=True)
    return (out.stdout + out.stderr).strip().splitlines()[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-k", dest="match", default="", help="only cases whose name contains this")
    parser.add_argument("--check", action="store_true", help="compare only, write nothing")
    args = parser.parse_args(argv)

    version = go_version()
    if "1.5.1" not in version:
        print(f"warning: golden files are meant for 1.5.1, found: {version}", file=sys.stderr)

    existing = load_golden()
    sections: dict[str, dict[str, dict[str, object]]] = {}
    for name, entry in existing.items():
        sections.setdefault(name.split(".", 1)[0], {})[name] = entry
    known = {c.name for c in CASES}
    for section in sections.values():
        for stale in [n for n in section if n not in known]:
            del section[stale]

    changed: list[str] = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="pgw-record-") as tmp:
        pool = GatewayPool(go_argv, Path(tmp))
        try:
            for case in CASES:
                if args.match not in case.name:
                    continue
                observations = None
                if case.go_safe:
                    with pool.acquire(case.config) as gw:
                        observations = run_case(gw.port, case)
                entry = golden_entry(case, observations)
                if existing.get(case.name) != entry:
                    changed.append(case.name)
                sections.setdefault(case.section, {})[case.name] = entry
        finally:
            pool.close()

    elapsed = time.monotonic() - started
    print(f"{len(CASES)} cases in the corpus, recorded in {elapsed:.1f}s; {len(changed)} changed")
    for name in changed:
        print(f"  changed: {name}")
    if args.check:
        return 1 if changed else 0
    for section_name, entries in sections.items():
        dump_golden(section_name, entries)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
