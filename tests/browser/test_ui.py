"""The web UI in a real browser against a running ``pushgate serve``.

Each test starts its own gateway (half a second) and pushes a few CI runs
(tests/browser/conftest.py), then drives headless Chromium: list, filter,
open a group, delete, wipe, read the CI overview, and the same without
JavaScript. Console errors fail the tests, so a script blocked by the
Content-Security-Policy or a JavaScript exception does not go unnoticed.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

from playwright.sync_api import Browser, Response, expect

from tests.browser.conftest import RUNS, Tab, open_tab, populate
from tests.conftest import GatewayFactory, GatewayProcess, require_binary

REPO = Path(__file__).resolve().parents[2]


def stored_instances(gw: GatewayProcess, prefix: str = "") -> list[str]:
    with urllib.request.urlopen(gw.url + prefix + "/api/v1/metrics", timeout=10) as response:
        groups = json.load(response)["data"]
    return sorted(g["labels"].get("instance", "") for g in groups)


def started(factory: GatewayFactory, *flags: str, prefix: str = "") -> GatewayProcess:
    gw = factory(*flags)
    populate(gw.url + prefix)
    return gw


def test_list_filter_open_and_delete_a_group(pushgate_factory: GatewayFactory, tab: Tab) -> None:
    gw = started(pushgate_factory, "--web.enable-admin-api")
    page = tab.page
    page.goto(gw.url + "/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Groups")
    rows = page.locator("tr[data-group-row]")
    expect(rows).to_have_count(len(RUNS))
    # Grouped by job, then branch; the newest run of a branch first.
    headings = page.locator("h2, h3").all_inner_texts()
    assert [h.split(" ")[0:2] for h in headings[:4]] == [
        ["JOB", "alpha"],
        ["BRANCH", "feature/x"],
        ["BRANCH", "main"],
        ["JOB", "beta"],
    ]
    main_rows = page.locator("section.branch-section", has_text="main").first.locator(".group-link")
    expect(main_rows).to_have_text(["1.0.2-ccc3333", "1.0.1-bbb2222", "1.0.0-aaa1111"])

    # Filter by label, then by metric name: plain GET forms.
    page.get_by_label("Labels").fill('branch=main job=~"al.*"')
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"match=branch%3Dmain"))
    expect(rows).to_have_count(3)
    page.get_by_label("Metric name contains").fill("step_sec")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(1)
    expect(page.locator(".family-matches")).to_contain_text("step_seconds")

    # Open the group: families with HELP and TYPE, the histogram as buckets.
    page.get_by_role("link", name="1.0.2-ccc3333").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("1.0.2-ccc3333")
    family = page.locator("#family-step_seconds")
    expect(family).to_contain_text("HISTOGRAM")
    expect(family).to_contain_text("Duration of a build step.")
    expect(family.locator("table.buckets tbody tr")).to_have_count(3)
    expect(family.locator("table.buckets tbody tr").last).to_contain_text("≤ +Inf")
    expect(page.locator("#cmd-delete")).to_have_text(
        f"curl -X DELETE '{gw.url}/metrics/job/alpha/branch/main/commit/ccc3333"
        "/instance/1.0.2-ccc3333/version/1.0.2'"
    )
    expect(page.locator("#cmd-recreate")).to_contain_text('pytest_tests_total{status="passed"} 93')

    # Delete it, confirming in the dialog; the page goes back to the list.
    page.get_by_role("button", name="Delete group", exact=False).first.click()
    dialog = page.locator("#confirm-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text('job="alpha"')
    page.locator("#confirm-ok").click()
    expect(page).to_have_url(gw.url + "/")
    expect(rows).to_have_count(len(RUNS) - 1)
    assert "1.0.2-ccc3333" not in stored_instances(gw)
    assert tab.errors == []


def test_delete_a_row_then_wipe_everything(pushgate_factory: GatewayFactory, tab: Tab) -> None:
    gw = started(pushgate_factory, "--web.enable-admin-api")
    page = tab.page
    page.goto(gw.url + "/")
    rows = page.locator("tr[data-group-row]")
    beta = rows.filter(has_text="2.0.0-eee5555")
    beta.get_by_role("button", name=re.compile("^Delete group")).click()
    page.get_by_role("button", name="Delete group", exact=True).click()
    expect(beta).to_have_count(0)
    expect(page.locator("#announcer")).to_contain_text('Deleted group {job="beta"')
    expect(page.get_by_role("heading", name=re.compile("beta"))).to_have_count(0)
    assert "2.0.0-eee5555" not in stored_instances(gw)

    page.get_by_role("button", name=f"Delete all {len(RUNS) - 1} groups").click()
    expect(page.locator("#confirm-text")).to_contain_text("cannot be undone")
    page.get_by_role("button", name="Delete all groups").click()
    expect(page.get_by_text("No groups yet.")).to_be_visible()
    assert stored_instances(gw) == []
    assert tab.errors == []


def test_server_refusal_is_shown_and_keyboard_works(
    pushgate_factory: GatewayFactory, tab: Tab
) -> None:
    gw = started(pushgate_factory)
    page = tab.page
    page.route(
        "**/metrics/job/**",
        lambda route: route.fulfill(
            status=403, body="user ci may not delete\n", content_type="text/plain"
        ),
    )
    page.goto(gw.url + "/")
    # Without --web.enable-admin-api there is no wipe, but deleting a group is
    # part of the push API and stays.
    expect(page.get_by_role("button", name=re.compile("^Delete all"))).to_have_count(0)
    button = page.locator("tr[data-group-row]").first.get_by_role("button")
    button.focus()
    page.keyboard.press("Enter")
    dialog = page.locator("#confirm-dialog")
    expect(dialog).to_be_visible()
    expect(page.get_by_role("button", name="Cancel")).to_be_focused()
    page.locator("#confirm-ok").click()
    alert = dialog.get_by_role("alert")
    expect(alert).to_contain_text("403")
    expect(alert).to_contain_text("user ci may not delete")
    expect(dialog).to_be_visible()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(button).to_be_focused()
    assert len(stored_instances(gw)) == len(RUNS)
    # The refused request is logged by the browser; nothing else may be.
    assert [e for e in tab.errors if "403" not in e] == []


def test_listing_and_filtering_work_without_javascript(
    pushgate_factory: GatewayFactory, browser: Browser
) -> None:
    gw = started(pushgate_factory, "--web.enable-admin-api")
    tab = open_tab(browser, javascript=False)
    page = tab.page
    try:
        page.goto(gw.url + "/")
        rows = page.locator("tr[data-group-row]")
        expect(rows).to_have_count(len(RUNS))
        # Buttons that need JavaScript stay hidden rather than doing nothing.
        expect(page.get_by_role("button", name=re.compile("^Delete"))).to_have_count(0)
        page.get_by_label("Labels").fill("beta")
        page.get_by_label("Last push").select_option("ok")
        page.get_by_role("button", name="Filter").click()
        expect(page).to_have_url(re.compile(r"\?match=beta&metric=&status=ok"))
        expect(rows).to_have_count(1)
        page.get_by_role("link", name="2.0.0-eee5555").click()
        expect(page.locator("#family-pytest_tests_total")).to_contain_text("COUNTER")
        page.goto(gw.url + "/ci")
        expect(page.locator(".spark-fallback").first).to_contain_text("failing per run")
    finally:
        page.context.close()


def test_ci_overview_draws_trends_with_the_vendored_library(
    pushgate_factory: GatewayFactory, tab: Tab
) -> None:
    gw = started(pushgate_factory)
    page = tab.page
    failed: list[str] = []

    def check(response: Response) -> None:
        if response.status >= 400:
            failed.append(response.url)

    page.on("response", check)
    page.goto(gw.url + "/ci")
    rows = page.locator("table.ci tbody tr:not(.job-row)")
    expect(rows).to_have_count(3)  # alpha/feature/x, alpha/main, beta/main
    alpha_main = rows.filter(has_text="3 runs")
    expect(alpha_main).to_contain_text("93 passed")
    expect(alpha_main).to_contain_text("82.0 %")
    expect(alpha_main).to_contain_text("▲ +0.5")
    expect(rows.filter(has_text="feature/x")).to_contain_text("1 failing")
    # uPlot drew a canvas in every trend cell.
    expect(page.locator(".spark.spark-drawn canvas")).to_have_count(6)
    readout = alpha_main.locator(".spark-readout").last
    expect(readout).to_have_text("latest: 82.0 %")
    chart = alpha_main.locator(".spark").last.locator(".u-over")
    box = chart.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + 3, box["y"] + box["height"] / 2)
    expect(readout).to_have_text("1.0.0-aaa1111: 80.0 %")

    page.get_by_label("Latest tests").select_option("failing")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(1)
    assert failed == []
    assert tab.errors == []


def test_route_prefix_is_respected(pushgate_factory: GatewayFactory, tab: Tab) -> None:
    gw = started(pushgate_factory, "--web.route-prefix=/pg", "--web.enable-admin-api", prefix="/pg")
    page = tab.page
    failed: list[str] = []
    page.on("response", lambda r: failed.append(r.url) if r.status >= 400 else None)
    page.goto(gw.url + "/pg/")
    expect(page.locator("tr[data-group-row]")).to_have_count(len(RUNS))
    page.get_by_role("link", name="1.1.0-ddd4444").click()
    expect(page).to_have_url(
        gw.url + "/pg/group/job/alpha/branch@base64/ZmVhdHVyZS94/commit/ddd4444"
        "/instance/1.1.0-ddd4444/version/1.1.0"
    )
    page.get_by_role("link", name="CI overview").click()
    expect(page).to_have_url(gw.url + "/pg/ci")
    page.get_by_role("link", name="Groups", exact=True).click()
    page.locator("tr[data-group-row]").first.get_by_role("button").click()
    page.locator("#confirm-ok").click()
    expect(page.locator("tr[data-group-row]")).to_have_count(len(RUNS) - 1)
    assert len(stored_instances(gw, "/pg")) == len(RUNS) - 1
    assert failed == []
    assert tab.errors == []


def test_screenshot_script_writes_the_docs_images(tmp_path: Path) -> None:
    # Keeps scripts/screenshot_ui.py (which makes docs/img/ui-*.png) working.
    chromium = require_binary("chromium-headless-shell")
    script = REPO / "scripts" / "screenshot_ui.py"
    result = subprocess.run(
        [sys.executable, str(script), "--output-dir", str(tmp_path), "--chromium", chromium],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    for name in ("ui-overview.png", "ui-group.png", "ui-ci.png"):
        image = tmp_path / name
        assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert image.stat().st_size > 20_000
