"""Browser tests: the app served on loopback, driven by Playwright in Debian's Chromium.

Chromium comes from the system (`apt-get install chromium`, /usr/bin/chromium); Playwright's
own browser download is never used. Without Chromium these tests skip with a message on a
laptop, and fail in CI (`CI=true`), where they are mandatory.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from workflow_app.casework.accounts import create_user
from workflow_app.casework.deployments import deploy, diagram_files, read_forms
from workflow_app.casework.runtime import build_runtime
from workflow_app.diagrams.definitions import cache as definition_cache
from workflow_app.web import create_app

ROOT = Path(__file__).resolve().parents[2]
PROCESSES = ROOT / "processes"
FORMS = ROOT / "forms"
SCREENSHOTS = ROOT / "docs" / "screenshots"
CHROMIUM = os.environ.get("WORKFLOW_APP_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
IN_CI = os.environ.get("CI", "").lower() == "true"
PASSWORD = "correct horse battery"
BUNDLES = ROOT / "src" / "workflow_app" / "web" / "static" / "build"


def _need(condition: bool, message: str) -> None:
    if condition:
        return
    if IN_CI:
        pytest.fail(f"CI must run the browser tests: {message}")
    pytest.skip(message)


@pytest.fixture(scope="session")
def browser():
    _need(Path(CHROMIUM).exists(), f"no Chromium at {CHROMIUM}: apt-get install chromium to run the browser tests")
    _need((BUNDLES / "task-form.entry.js").exists(),
          "the front-end bundles are not built: run `npm ci && node frontend/build.mjs` (make does)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - the test extra installs it
        _need(False, "the playwright package is not installed: pip install -e '.[test]'")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """The app on a free loopback port with the real landlords' processes and a few users."""
    definition_cache.clear()
    folder = tmp_path_factory.mktemp("browser")
    url = f"sqlite:///{folder / 'browser.sqlite3'}"
    runtime = build_runtime(url, PROCESSES, FORMS)
    forms = read_forms(FORMS)
    with runtime.sessions.begin() as session:
        for landlord, path in diagram_files(PROCESSES):
            deploy(session, landlord, path.read_bytes(), forms, "tester")
        for username, name, roles, landlords in (
            ("olive", "Olive Officer", ["complaints_officer", "caseworker"], ["great_places"]),
            ("rita", "Rita Reviewer", ["stage2_reviewer", "caseworker"], ["great_places"]),
            ("hal", "Hal Harrogate", ["caseworker", "complaints_officer"], ["harrogate"]),
            ("mona", "Mona Manager", ["manager"], ["great_places"]),
        ):
            create_user(session, username, name, roles, landlords, PASSWORD)
    runtime.close()
    # Not TESTING: the session cookie is Secure, as with `make run` (browsers accept Secure
    # cookies from http://127.0.0.1, a potentially trustworthy origin).
    app = create_app({"SECRET_KEY": "browser-test-secret", "DATABASE_URL": url, "PROCESSES_DIR": str(PROCESSES),
                      "FORMS_DIR": str(FORMS), "RUN_SCHEDULER": False})
    assert app.config["SESSION_COOKIE_SECURE"] is True
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    app.extensions["workflow_app"].close()


DEMO_NOW = datetime(2026, 12, 23, 16, 30, tzinfo=UTC)
"""The demo site's clock: the demo built and served at one instant, so every page reads the same."""


@dataclass
class DemoSite:
    url: str
    app: object
    runtime: object
    drafts: Path

    def sign_in(self, browser, username: str | None, width: int = 1366, height: int = 900):
        """A page in a new browser context, signed in as a demo user (password `demo`), or signed out (None)."""
        context = browser.new_context(viewport={"width": width, "height": height}, base_url=self.url)
        page = context.new_page()
        page.set_default_timeout(20_000)
        if username is not None:
            page.goto("/sign-in")
            page.get_by_label("Username").fill(username)
            page.get_by_label("Password").fill("demo")
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url("**/inbox")
        return page


@pytest.fixture(scope="session")
def demo_site(browser, tmp_path_factory):
    """`make run`'s demo (every landlord, its history and its demo users), built once on a fixed clock and
    served on loopback with that clock."""
    from workflow_app.rules import clock
    from workflow_app.tools.demo import load_demo

    definition_cache.clear()
    folder = tmp_path_factory.mktemp("demo-site")
    url = f"sqlite:///{folder / 'demo.sqlite3'}"
    runtime = build_runtime(url, PROCESSES, FORMS)
    with clock.using(clock.VirtualClock(DEMO_NOW)):
        list(load_demo(runtime))
    runtime.close()
    app = create_app({"SECRET_KEY": "browser-test-secret", "DATABASE_URL": url, "PROCESSES_DIR": str(PROCESSES),
                      "FORMS_DIR": str(FORMS), "RUN_SCHEDULER": False, "CLOCK": clock.VirtualClock(DEMO_NOW),
                      "ANALYST_DRAFTS_DIR": str(folder / "drafts")})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield DemoSite(f"http://127.0.0.1:{server.server_port}", app, app.extensions["workflow_app"], folder / "drafts")
    server.shutdown()
    app.extensions["workflow_app"].close()


@pytest.fixture
def page_for(browser, live):
    """A signed-in page for a user, each in its own browser context (its own cookies)."""
    contexts = []
    console: list[str] = []

    def make(username: str, width: int = 1280, height: int = 900):
        context = browser.new_context(viewport={"width": width, "height": height}, base_url=live)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.on("console", lambda message: console.append(f"{message.type}: {message.text}")
                if message.type in ("error", "warning") else None)
        page.goto("/sign-in")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/inbox")
        return page

    yield make
    for context in contexts:
        context.close()
    print("\n".join(console))


def screenshot(page, name: str, full_page: bool = True, locator=None) -> None:
    """Save a PNG into docs/screenshots/ (the README shows them) when WORKFLOW_APP_SCREENSHOTS=1
    (`make screenshots`); a plain test run changes no file of the repository."""
    if os.environ.get("WORKFLOW_APP_SCREENSHOTS") != "1":
        return
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = str(SCREENSHOTS / f"{name}.png")
    if locator is not None:
        locator.screenshot(path=path)
    else:
        page.screenshot(path=path, full_page=full_page)
