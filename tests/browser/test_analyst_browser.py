"""The analysts' workspace in Chromium on Great Places' process: upload a changed diagram, read the
check and the diff, deploy it; a new complaint starts on the new version while an older one carries
on under the old; try a version on a date; edit and check a draft in the in-browser modeller."""
from __future__ import annotations

import threading

import pytest
from playwright.sync_api import expect
from sqlalchemy import select
from werkzeug.serving import make_server

from tests.browser.conftest import FORMS, PASSWORD, PROCESSES, screenshot
from tests.browser.test_caseworker_browser import log_complaint
from workflow_app.casework.accounts import create_user
from workflow_app.casework.deployments import deploy, read_forms
from workflow_app.casework.models import Complaint, User
from workflow_app.casework.runtime import build_runtime
from workflow_app.diagrams.definitions import cache as definition_cache
from workflow_app.rules.calendar import calendar_for
from workflow_app.web import create_app

DIAGRAM = (PROCESSES / "great_places" / "complaint.bpmn").read_text()
CHANGED = DIAGRAM.replace("working_days_after(received_at, 5)", "working_days_after(received_at, 4)", 1)


@pytest.fixture(scope="module")
def analyst_live(tmp_path_factory):
    """The app on loopback with Great Places' process at version 1, an analyst and an officer."""
    assert CHANGED != DIAGRAM
    definition_cache.clear()
    folder = tmp_path_factory.mktemp("analyst")
    url = f"sqlite:///{folder / 'analyst.sqlite3'}"
    runtime = build_runtime(url, PROCESSES, FORMS)
    with runtime.sessions.begin() as session:
        deploy(session, "great_places", DIAGRAM, read_forms(FORMS), "tester", "The policy as written")
        create_user(session, "ana", "Ana Analyst", ["analyst"], ["great_places"], PASSWORD)
        create_user(session, "olive", "Olive Officer", ["complaints_officer", "caseworker"], ["great_places"],
                    PASSWORD)
    runtime.close()
    app = create_app({"SECRET_KEY": "browser-test-secret", "DATABASE_URL": url, "PROCESSES_DIR": str(PROCESSES), "FORMS_DIR": str(FORMS),
                      "RUN_SCHEDULER": False, "ANALYST_DRAFTS_DIR": str(folder / "drafts")})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", app, folder
    server.shutdown()
    app.extensions["workflow_app"].close()


@pytest.fixture
def signed_in(browser, analyst_live):
    base, _, _ = analyst_live
    contexts = []

    def make(username: str):
        context = browser.new_context(viewport={"width": 1400, "height": 1000}, base_url=base)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(20_000)
        page.goto("/sign-in")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/inbox")
        return page

    yield make
    for context in contexts:
        context.close()


def version_of(app, reference: str) -> int:
    with app.extensions["workflow_app"].sessions() as session:
        complaint = session.scalars(select(Complaint).where(Complaint.reference == reference)).one()
        return complaint.instance.definition_version.version


def test_upload_check_deploy_and_new_complaints_start_on_the_new_version(signed_in, analyst_live, tmp_path):
    _, app, _ = analyst_live
    officer = signed_in("olive")
    older = log_complaint(officer, name="Old Complaint", summary="Logged before the change")
    assert version_of(app, older) == 1

    analyst = signed_in("ana")
    analyst.goto("/analyst/")
    expect(analyst.get_by_role("row", name="Great Places Housing Group")).to_contain_text("version 1")
    analyst.goto("/analyst/great_places/upload")
    changed = tmp_path / "complaint.bpmn"
    changed.write_text(CHANGED)
    analyst.get_by_label("Diagram file").set_input_files(str(changed))
    analyst.get_by_role("button", name="Check the diagram").click()
    expect(analyst.locator(".check-summary")).to_contain_text("meets the Code", timeout=60_000)
    timers = analyst.locator(".diff-timers")
    expect(timers).to_contain_text("working_days_after(received_at, 5)")
    expect(timers).to_contain_text("working_days_after(received_at, 4)")
    screenshot(analyst, "analyst-check")
    analyst.get_by_label("Why this version is deployed").fill("Acknowledge within 4 working days")
    analyst.get_by_role("button", name="Deploy").click()
    expect(analyst.locator(".notice--success")).to_contain_text("Version 2 deployed")
    row = analyst.locator("tr[data-version='2']")
    expect(row).to_contain_text("Acknowledge within 4 working days")
    expect(row).to_contain_text("ana")
    screenshot(analyst, "analyst-versions")

    newer = log_complaint(officer, name="New Complaint", summary="Logged after the change")
    assert (version_of(app, older), version_of(app, newer)) == (1, 2)
    # Both accepted: each acknowledgement deadline comes from its own version's timer.
    runtime = app.extensions["workflow_app"]
    with runtime.sessions() as session:
        olive = session.scalars(select(User).where(User.username == "olive")).one()
        session.expunge(olive)
    for reference in (older, newer):
        [task] = runtime.complaints.describe(reference, olive)["open_tasks"]
        runtime.tasks.complete(task["id"], {"complaint_kind": "complaint", "acceptance": "accept"}, olive)
    calendar = calendar_for("ENG")
    for reference, days in ((older, 5), (newer, 4)):
        body = runtime.complaints.describe(reference, olive)
        [due] = [d["due_at"] for d in body["deadlines"] if d["key"] == "stage1_acknowledge"]
        assert calendar.working_days_between(body["received_at"], due) == days, (reference, due)


def test_try_a_version_on_a_date_draws_the_deadlines(signed_in, analyst_live):
    analyst = signed_in("ana")
    analyst.goto("/analyst/great_places/try")
    analyst.get_by_label("Received (London time)").fill("2026-12-21T10:00")
    analyst.get_by_role("button", name="Try it").click()
    expect(analyst.locator("tr[data-key='stage1_acknowledge']")).to_contain_text("Dec 2026", timeout=60_000)
    expect(analyst.locator("#try-diagram")).to_have_attribute("data-ready", "true")
    expect(analyst.locator("#try-diagram .try-mark").first).to_be_visible()
    screenshot(analyst, "analyst-try-it")


def test_the_modeller_edits_properties_and_checks_the_draft(signed_in, analyst_live):
    analyst = signed_in("ana")
    analyst.goto("/analyst/great_places/modeller")
    expect(analyst.locator("#modeller")).to_have_attribute("data-ready", "true")
    analyst.get_by_role("button", name="Fit the whole diagram").click()   # it opens readable, at its start
    analyst.locator(".djs-element[data-element-id='stage2_response']").first.click()
    panel = analyst.locator("#modeller-properties")
    expect(panel.get_by_text("Extension properties", exact=True)).to_be_visible()
    screenshot(analyst, "analyst-modeller")
    # Remove separate_from from the stage 2 response, as a careless edit would, then check it.
    analyst.evaluate("""() => {
        const modeler = window.workflowAppModeler;
        const element = modeler.get('elementRegistry').get('stage2_response');
        const properties = element.businessObject.extensionElements.values
            .find(v => v.$type === 'camunda:Properties');
        properties.values = properties.values.filter(p => p.name !== 'separate_from');
        modeler.get('commandStack').execute('element.updateProperties',
            { element, properties: { name: element.businessObject.name + ' (edited)' } });
    }""")
    analyst.get_by_role("button", name="Check this draft").click()
    expect(analyst.locator(".check-summary")).to_contain_text("Complaint Handling Code error", timeout=60_000)
    expect(analyst.locator("tr.finding[data-provision='6.13']")).to_be_visible()
    expect(analyst.locator(".diff-changed")).to_contain_text("(edited)")
    expect(analyst.get_by_label("I know this version breaks the Complaint Handling Code")).to_be_visible()


def test_a_diagram_holding_script_end_tags_opens_whole_in_the_modeller(signed_in, analyst_live):
    """Documentation with </SCRIPT> in it reaches the editor as written, and nothing on the page runs it."""
    from workflow_app.web.analyst.drafts import Drafts
    _, _, folder = analyst_live
    hostile = "</SCRIPT><script>alert(1)</script> and </ScRiPt >"
    xml = DIAGRAM.replace('isExecutable="true">', 'isExecutable="true">\n    <bpmn:documentation>'
                          f"<![CDATA[{hostile}]]></bpmn:documentation>", 1)
    assert hostile in xml
    draft = Drafts(folder / "drafts").save("great_places", xml.encode(), "hostile.bpmn", "ana")
    analyst = signed_in("ana")
    dialogs = []
    analyst.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    analyst.goto(f"/analyst/great_places/modeller?source=draft:{draft.id}")
    expect(analyst.locator("#modeller")).to_have_attribute("data-ready", "true")
    documentation = analyst.evaluate("""() => window.workflowAppModeler.getDefinitions().rootElements
        .find(e => e.$type === 'bpmn:Process').documentation[0].text""")
    assert documentation == hostile
    assert dialogs == []
