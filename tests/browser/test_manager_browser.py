"""The managers' pages in Debian's Chromium: the dashboard updates itself without a reload, the charts
and the heatmap draw, and nothing breaks the Content Security Policy (no console errors).

Skips without Chromium or the front-end bundles on a laptop; fails without them in CI (the
`browser` fixture of this folder's conftest decides).
"""
from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from werkzeug.serving import make_server

from tests.browser.conftest import BUNDLES, _need
from tests.support.reporting_data import FORMS, PROCESSES, copied_runtime, people
from workflow_app.reporting.projections import bring_up_to_date
from workflow_app.rules import clock
from workflow_app.web import create_app

NOW = datetime(2027, 4, 2, 12, tzinfo=UTC)
"""The app's clock in these tests: just after the demo data's year."""


@pytest.fixture(scope="module")
def site(browser, tmp_path_factory, templates):
    _need((BUNDLES / "dashboard.entry.js").exists(),
          "the managers' bundles are not built: run `npm ci && node frontend/build.mjs` (make does)")
    with copied_runtime(templates, "sqlite", tmp_path_factory.mktemp('manager-browser')) as (runtime, url, _):
        bring_up_to_date(runtime.sessions, runtime.landlords)   # as the scheduler does after each sweep
        app = create_app({"SECRET_KEY": "browser-test-secret", "DATABASE_URL": url, "PROCESSES_DIR": str(PROCESSES),
                          "FORMS_DIR": str(FORMS), "RUN_SCHEDULER": False, "MANAGER_REFRESH_SECONDS": 1,
                          "CLOCK": clock.VirtualClock(NOW)})
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        yield browser, f"http://127.0.0.1:{server.server_port}", runtime
        server.shutdown()
        app.extensions["workflow_app"].close()


@pytest.fixture
def manager(site):
    browser, base, _ = site
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=base)
    page = context.new_page()
    page.set_default_timeout(20_000)
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"{m.type}: {m.text}")
            if m.type == "error" and "Failed to load resource" not in m.text else None)
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}")
            if r.status >= 400 and not r.url.endswith("/favicon.ico") else None)
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.goto("/sign-in")
    page.get_by_label("Username").fill("mandy")
    page.get_by_label("Password").fill("pw")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/inbox")
    yield page, problems
    context.close()


def test_the_dashboard_updates_in_place(site, manager):
    _, _, runtime = site
    page, problems = manager
    page.goto("/manager/")
    page.wait_for_selector("[data-dashboard][data-ready]")
    running = page.locator('[data-field="running"]')
    assert running.inner_text() == "5"
    page.evaluate("window.stillTheSamePage = true")
    users = people(runtime)
    with clock.using(clock.VirtualClock(NOW)):   # the app's own (rehearsal) time
        runtime.complaints.log_complaint({
            "landlord": "great_places", "received_at": "2027-04-02T11:00:00+00:00", "channel": "phone",
            "category": "other", "summary": "A new one", "resident": {"name": "New Resident"}}, users["olive"])
    from playwright.sync_api import expect
    expect(running).to_have_text("6", timeout=10_000)   # the next fetch, a second later
    assert page.evaluate("window.stillTheSamePage") is True            # no reload happened
    assert "Decide whether to accept the complaint" in page.locator('table[data-rows="waiting"]').inner_text()
    assert problems == []


def test_charts_and_the_heatmap_draw(manager):
    page, problems = manager
    page.goto("/manager/performance?landlord=great_places&year=2026")
    page.wait_for_selector("body[data-charts-ready]")
    charted = page.locator("table[data-charted]").count()
    assert charted >= 8 and page.locator("figure.chart canvas").count() == charted
    page.goto("/manager/heatmap?landlord=great_places&year=2026")
    page.wait_for_selector("#heatmap[data-ready]")
    assert page.locator("#heatmap .heat-badge--waiting").count() >= 4
    assert page.locator("#heatmap .heat-badge--flow").count() >= 10
    assert page.locator("#heatmap .heat-badge--missed").count() >= 1
    assert page.locator("#heatmap-table tbody tr").count() >= 10
    page.goto("/manager/annual-report?landlord=great_places&year=2026")
    assert page.get_by_role("button", name="Print or save as PDF").is_visible()
    assert problems == []
