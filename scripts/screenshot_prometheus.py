#!/usr/bin/env python3
"""Screenshots of the stack's data in Prometheus' own UI, for the README.

Starts pushgate and Prometheus (the repository's configuration and rules,
scraping every second), pushes the demo CI runs of scripts/local_stack.py
with ``pushgate report``, then photographs with headless Chromium:

- docs/img/prometheus-latest.png: the latest-run recording rule next to the
  naive ``topk`` query, which returns the best run instead of the latest;
- docs/img/prometheus-alerts.png: the CI alerts the demo runs set off;
- docs/img/dashboard-ci-quality.png, docs/img/dashboard-pushgate-health.png:
  the generated Grafana dashboards drawn by scripts/dashboard_preview.py from
  their JSON, every query answered by this Prometheus (Grafana itself cannot
  run on the build machines).

    python scripts/screenshot_prometheus.py [--output-dir docs/img]

Needs pushgate installed in this interpreter, the ``prometheus`` binary,
Playwright (``pip install playwright``; its browser download is not needed)
and Chromium's headless shell (Debian: ``apt-get install chromium-headless-shell``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import dashboard_preview
import local_stack

CHROMIUM = "/usr/lib/chromium/chromium-headless-shell"
OUTPUT = local_stack.REPO / "docs" / "img"

#: Panels of the graph page: (expression, tab) with tab 0 = graph, 1 = table.
LATEST_PANELS = (
    ("job_branch:sonarcloud_coverage_percent:latest", 1),
    ("topk by (job, branch) (1, sonarcloud_coverage_percent)", 1),
    ('sum by (job, branch) (job_branch:pytest_tests_total:latest{status=~"failed|error"})', 1),
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def graph_url(prometheus: str, panels: Sequence[tuple[str, int]]) -> str:
    params: dict[str, str] = {}
    for i, (expr, tab) in enumerate(panels):
        params[f"g{i}.expr"] = expr
        params[f"g{i}.tab"] = str(tab)
        params[f"g{i}.range_input"] = "5m"
    return f"{prometheus}/graph?{urllib.parse.urlencode(params)}"


def alerts_url(prometheus: str) -> str:
    """The alerts page: /alerts, or /classic/alerts where only the classic UI
    is built in (Debian's package)."""
    for path in ("/alerts", "/classic/alerts"):
        try:
            with urllib.request.urlopen(prometheus + path, timeout=10) as response:
                if response.status == 200:
                    return prometheus + path
        except urllib.error.HTTPError as exc:
            exc.close()
    raise RuntimeError(f"{prometheus} serves no alerts page")


def query(prometheus: str, expr: str) -> list[dict[str, Any]]:
    url = f"{prometheus}/api/v1/query?{urllib.parse.urlencode({'query': expr})}"
    with urllib.request.urlopen(url, timeout=10) as response:
        result: list[dict[str, Any]] = json.load(response)["data"]["result"]
    return result


def range_query(prometheus: str, expr: str, start: float) -> list[dict[str, Any]]:
    params = {"query": expr, "start": f"{start:.3f}", "end": f"{time.time():.3f}", "step": "1"}
    url = f"{prometheus}/api/v1/query_range?{urllib.parse.urlencode(params)}"
    with urllib.request.urlopen(url, timeout=10) as response:
        result: list[dict[str, Any]] = json.load(response)["data"]["result"]
    return result


def preview(prometheus: str, dashboard: Path, variables: dict[str, str], since: float) -> str:
    """HTML of ``dashboard`` with its queries answered by ``prometheus``."""

    def answer(expr: str, instant: bool) -> list[dict[str, Any]]:
        return query(prometheus, expr) if instant else range_query(prometheus, expr, since)

    board = json.loads(dashboard.read_text(encoding="utf-8"))
    return dashboard_preview.render(board, answer, variables)


def wait_until(check: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    raise RuntimeError(f"timed out waiting for {what}")


def screenshot(
    url: str, path: Path, chromium: str, wait_for: str, clicks: Sequence[str] = ()
) -> None:
    """Open ``url``, wait for ``wait_for``, click ``clicks`` (selectors), photograph."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(url, wait_until="networkidle")
            page.wait_for_selector(wait_for, timeout=30_000)
            for selector in clicks:
                page.click(selector)
            # Clicking scrolls; the fixed navigation bar would then sit mid-page.
            page.evaluate("window.scrollTo(0, 0)")
            page.wait_for_timeout(500)
            page.screenshot(path=str(path), full_page=True)
        finally:
            browser.close()
    print(f"wrote {path}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--output-dir", type=Path, default=OUTPUT)
    parser.add_argument("--chromium", default=CHROMIUM, help="Chromium binary")
    parser.add_argument("--prometheus", default="prometheus", help="Prometheus binary")
    args = parser.parse_args(argv)
    out: Path = args.output_dir
    out.mkdir(parents=True, exist_ok=True)

    with tempfile.TemporaryDirectory(prefix="pushgate-screenshot-") as tmp, ExitStack() as stack:
        work = Path(tmp)
        gateway_port, prometheus_port = free_port(), free_port()
        gateway = f"http://127.0.0.1:{gateway_port}"
        prometheus = f"http://127.0.0.1:{prometheus_port}"
        serve = [
            sys.executable, "-m", "pushgate", "serve",
            f"--web.listen-address=127.0.0.1:{gateway_port}", "--persistence.file=",
        ]  # fmt: skip
        gateway_proc = stack.enter_context(local_stack.process(serve, work / "pushgate.log"))
        config = local_stack.render_prometheus_config(
            gateway_targets=[f"127.0.0.1:{gateway_port}"],
            prometheus_target=f"127.0.0.1:{prometheus_port}",
            scrape_interval="1s",
            evaluation_interval="1s",
        )
        # Rule files relative to a relative config path, so that the pages
        # show "rules/ci-alerts.yml", not a path of this machine.
        (work / "rules").mkdir()
        for rule_file in config["rule_files"]:
            shutil.copy(rule_file, work / "rules")
        config["rule_files"] = [f"rules/{Path(f).name}" for f in config["rule_files"]]
        local_stack.write_prometheus_config(work / "prometheus.yml", config)
        argv_prometheus = local_stack.prometheus_argv(
            args.prometheus, Path("prometheus.yml"), Path("tsdb"), f"127.0.0.1:{prometheus_port}"
        )
        prometheus_proc = stack.enter_context(
            local_stack.process(argv_prometheus, work / "prometheus.log", cwd=work)
        )
        local_stack.wait_http_ok(gateway + "/-/healthy", 30, gateway_proc)
        local_stack.wait_http_ok(prometheus + "/-/ready", 60, prometheus_proc)

        since = time.time() - 2
        local_stack.push_demo_runs(gateway, work / "demo", pause=1.5)
        last = {(r.job, r.branch): f"{r.version}-{r.commit}" for r in local_stack.DEMO_RUNS}

        def scraped() -> bool:
            found = query(prometheus, "job_branch:push_time_seconds:latest")
            seen = {
                (s["metric"]["job"], s["metric"]["branch"]): s["metric"]["instance"] for s in found
            }
            return seen == last and bool(query(prometheus, 'ALERTS{alertstate="firing"}'))

        wait_until(scraped, "Prometheus to scrape the demo runs")
        time.sleep(3)  # a few more points for the graphs
        screenshot(
            graph_url(prometheus, LATEST_PANELS),
            out / "prometheus-latest.png",
            args.chromium,
            "table",
        )
        screenshot(
            alerts_url(prometheus),
            out / "prometheus-alerts.png",
            args.chromium,
            "text=PushgateCITestsFailing",
            clicks=[
                "text=Show annotations",
                "text=PushgateCITestsFailing",
                "text=PushgateSonarCloudCoverageDropped",
            ],
        )
        dashboards = local_stack.GRAFANA_DASHBOARDS
        everything = {"job": ".*", "branch": ".*", "version": ".*", "datasource": "prometheus"}
        pages = {
            "dashboard-ci-quality": preview(
                prometheus, dashboards / "ci-quality.json", everything, since
            ),
            "dashboard-pushgate-health": preview(
                prometheus,
                dashboards / "pushgate-health.json",
                {"instance": ".*", "datasource": "prometheus"},
                since,
            ),
        }
        for name, page in pages.items():
            (work / f"{name}.html").write_text(page, encoding="utf-8")
            screenshot((work / f"{name}.html").as_uri(), out / f"{name}.png", args.chromium, "main")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
