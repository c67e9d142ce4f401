"""Headless Chromium (Debian's ``chromium-headless-shell``) driven by Playwright.

Playwright comes from PyPI; its own browser download is never used (no
``playwright install``): the tests launch the system's headless shell with
``executable_path`` and ``--no-sandbox``. Without the binary the tests are
skipped, or fail under ``PUSHGATE_REQUIRE_ALL`` (see tests/conftest.py).
"""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

from tests.conftest import require_binary


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = require_binary("chromium-headless-shell")
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield launched
        launched.close()


@dataclass
class Tab:
    """A page and the JavaScript errors it logged (CSP violations included)."""

    page: Page
    errors: list[str] = field(default_factory=list)

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(message.text)


def open_tab(browser: Browser, *, javascript: bool = True) -> Tab:
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, java_script_enabled=javascript
    )
    context.set_default_timeout(5000)
    tab = Tab(context.new_page())
    tab.page.on("console", tab.on_console)
    tab.page.on("pageerror", lambda error: tab.errors.append(str(error)))
    return tab


@pytest.fixture
def tab(browser: Browser) -> Iterator[Tab]:
    tab = open_tab(browser)
    yield tab
    tab.page.context.close()


def push(base_url: str, path: str, body: str, method: str = "PUT") -> None:
    """One push in the text format (``path`` after ``/metrics``)."""
    req = urllib.request.Request(base_url + "/metrics" + path, data=body.encode(), method=method)
    with urllib.request.urlopen(req, timeout=10) as response:
        assert response.status == 200


def ci_body(passed: int, failed: int, line: float) -> str:
    return (
        "# TYPE pytest_tests_total counter\n"
        f'pytest_tests_total{{status="passed"}} {passed}\n'
        f'pytest_tests_total{{status="failed"}} {failed}\n'
        'pytest_tests_total{status="error"} 0\n'
        'pytest_tests_total{status="skipped"} 1\n'
        "# TYPE coverage_percent gauge\n"
        f'coverage_percent{{type="line"}} {line}\n'
        f'coverage_percent{{type="branch"}} {line - 10}\n'
    )


HISTOGRAM = (
    "# HELP step_seconds Duration of a build step.\n"
    "# TYPE step_seconds histogram\n"
    'step_seconds_bucket{le="1"} 2\n'
    'step_seconds_bucket{le="10"} 5\n'
    'step_seconds_bucket{le="+Inf"} 6\n'
    "step_seconds_sum 31.5\n"
    "step_seconds_count 6\n"
)

#: (grouping path, body): two projects, main and a feature branch, three runs
#: of alpha/main; the newest alpha/main run also holds a histogram.
RUNS = (
    (
        "/job/alpha/instance/1.0.0-aaa1111/branch/main/version/1.0.0/commit/aaa1111",
        ci_body(90, 0, 80.0),
    ),
    (
        "/job/alpha/instance/1.0.1-bbb2222/branch/main/version/1.0.1/commit/bbb2222",
        ci_body(91, 2, 81.5),
    ),
    (
        "/job/alpha/instance/1.0.2-ccc3333/branch/main/version/1.0.2/commit/ccc3333",
        ci_body(93, 0, 82.0) + HISTOGRAM,
    ),
    (
        "/job/alpha/instance/1.1.0-ddd4444/branch@base64/ZmVhdHVyZS94/version/1.1.0/commit/ddd4444",
        ci_body(40, 1, 70.0),
    ),
    (
        "/job/beta/instance/2.0.0-eee5555/branch/main/version/2.0.0/commit/eee5555",
        ci_body(10, 0, 95.0),
    ),
)


def populate(base_url: str) -> None:
    for path, body in RUNS:
        push(base_url, path, body)
