"""WCAG 2.2 AA on every page, in Chromium, on the demo's data: axe-core finds no violation at 1366 and at
390 px wide, and no page scrolls sideways on a phone.

The pages are not a list kept here: every GET route of the app's URL map is opened with a sample value for
each of its arguments (a route with an argument this file has no sample for fails, naming it), as the
workspace's user it belongs to, and every answer that is an HTML page is checked. So a new page is checked
the day it is added. axe-core comes from the npm registry (package.json); it is injected from node_modules by
the browser itself before the page's scripts run, so the Content Security Policy stays as served.
"""
from __future__ import annotations

import json

import pytest
from playwright.sync_api import Page
from sqlalchemy import func, select

from tests.browser.conftest import ROOT, _need
from workflow_app.casework.models import Complaint, DefinitionVersion, LessonLearnt, Letter, Task
from workflow_app.web.analyst.drafts import Drafts

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
WCAG_22_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]
WIDTHS = (1366, 390)
LANDLORD = "great_places"

WORKSPACE_USERS = {
    "": f"{LANDLORD}.complaints_officer",              # the app's own routes: / leads to the inbox
    "auth": None,                                       # the sign-in page, signed out
    "caseworker": f"{LANDLORD}.complaints_officer",
    "manager": f"{LANDLORD}.manager",
    "analyst": f"{LANDLORD}.analyst",
}
"""Who opens a blueprint's pages; a blueprint not named here (a new workspace) is opened by `admin`."""

QUERIES = {
    "manager.performance": ["?landlord=great_places&year=2026"],
    "manager.performance_csv": ["?table=ch02&landlord=great_places&year=2026"],
    "manager.heatmap": ["?landlord=great_places&year=2026"],
    "manager.annual_report": ["?landlord=great_places&year=2026"],
    "manager.self_assessment": ["?landlord=great_places&year=2026"],
    "manager.find_checklist": ["", "?reference={reference}"],
    "manager.figure": ["", "?figure=due_soon", "?figure=waiting&element={element}"],
    "caseworker.inbox": ["", "?view=all"],
    "caseworker.find": ["", "?q={reference}"],
    "analyst.try_it": ["", "?source=version:{version_id}&received=2026-12-21T10:00&pace=last_day"],
    "analyst.modeller": ["?source=version:{version_id}"],
}
"""What a page is asked with beyond its path, where that makes it show more; any other page is read bare."""


def samples(site) -> dict[str, object]:
    """A real value for each route argument, from the demo's data."""
    with site.runtime.sessions() as session:
        reference = session.scalar(select(Complaint.reference).join(Task, Task.complaint_id == Complaint.id)
                                   .where(Complaint.landlord == LANDLORD, Task.stage == "2", Task.status == "open"))
        return {
            "landlord": LANDLORD,
            "element": "stage2_response",
            "reference": reference,
            "task_id": session.scalar(select(Task.id).join(Complaint, Complaint.id == Task.complaint_id)
                                      .where(Complaint.landlord == LANDLORD, Task.status == "open",
                                             Task.role == "complaints_officer")),
            "letter_id": session.scalar(select(func.max(Letter.id)).join(Complaint, Complaint.id == Letter.complaint_id)
                                        .where(Complaint.landlord == LANDLORD)),
            "entry_id": session.scalar(select(func.min(LessonLearnt.id)).where(LessonLearnt.landlord == LANDLORD)),
            "version_id": session.scalar(select(func.max(DefinitionVersion.id))
                                         .where(DefinitionVersion.landlord == LANDLORD)),
            "draft": Drafts(site.drafts).save(LANDLORD, (ROOT / "processes" / LANDLORD / "complaint.bpmn").read_bytes(),
                                              "complaint.bpmn", "great_places.analyst").id,
            "attachment_id": 0,       # the demo has no attachment: this opens (and checks) the "Page not found" page
            "filename": "css/app.css",
        }


def every_page(site) -> list[tuple[str, str, str]]:
    """(blueprint, endpoint, path) for every GET route of the app, each with its sample arguments and queries."""
    app_rules = site.app.url_map
    values = samples(site)
    adapter = app_rules.bind("localhost")
    pages = []
    for rule in sorted(app_rules.iter_rules(), key=lambda r: r.rule):
        if "GET" not in rule.methods or rule.endpoint == "static":
            continue
        missing = set(rule.arguments) - set(values)
        assert not missing, f"{rule.rule}: add a sample value for {sorted(missing)} to this test"
        path = adapter.build(rule.endpoint, {name: values[name] for name in rule.arguments})
        blueprint = rule.endpoint.rsplit(".", 1)[0] if "." in rule.endpoint else ""
        for query in QUERIES.get(rule.endpoint, [""]):
            pages.append((blueprint, rule.endpoint, path + query.format(**values)))
    return pages


def settle(page: Page) -> None:
    """Wait until the page's scripts have drawn what they draw (diagrams, charts, form-js forms)."""
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(150)


def violations(page: Page) -> list[str]:
    found = page.evaluate("(tags) => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG_22_AA)
    return [f"{v['id']} ({v['impact']}): {v['help']} at " + "; ".join(json.dumps(n["target"]) for n in v["nodes"][:3])
            for v in found["violations"]]


@pytest.fixture(scope="module")
def pages(demo_site):
    _need(AXE.exists(), "axe-core is not installed: run `npm ci`")
    return every_page(demo_site)


@pytest.mark.parametrize("width", WIDTHS)
def test_every_page_has_no_wcag_22_aa_violation_and_no_sideways_scroll(browser, demo_site, pages, width):
    checked, problems = [], []
    by_user: dict[str | None, list[tuple[str, str]]] = {}
    for blueprint, endpoint, path in pages:
        by_user.setdefault(WORKSPACE_USERS.get(blueprint, "admin"), []).append((endpoint, path))
    for username, paths in by_user.items():
        page = demo_site.sign_in(browser, username, width=width)
        page.context.add_init_script(path=str(AXE))
        try:
            for endpoint, path in paths:
                if "text/html" not in page.request.head(path).headers.get("content-type", ""):
                    continue          # a download or a JSON answer, not a page
                response = page.goto(path)
                if response.status != (404 if endpoint == "caseworker.attachment" else 200):
                    problems.append(f"{path} as {username}: answered {response.status}")
                    continue
                settle(page)
                checked.append(path)
                problems += [f"{path} as {username}: {v}" for v in violations(page)]
                scroll = page.evaluate("document.documentElement.scrollWidth")
                if scroll > width:
                    problems.append(f"{path} as {username}: scrolls sideways ({scroll} px wide at {width})")
        finally:
            page.context.close()
    assert len(checked) >= 25, checked
    assert problems == [], "\n".join(problems)
