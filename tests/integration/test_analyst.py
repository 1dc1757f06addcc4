"""The analysts' pages through the Flask test client: upload and check, compare, deploy with an
acknowledgement, versions and downloads, moving running complaints, try it, the modeller page."""
from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import select

from tests.conftest import make_user
from tests.integration.test_caseworker import csrf, sign_in
from tests.unit.diagrams.test_code_check import CODESHIRE, FORMS_DIR
from workflow_app.casework.deployments import acknowledged_code_errors
from workflow_app.casework.models import Complaint, DefinitionVersion
from workflow_app.diagrams.definitions import cache as definition_cache
from workflow_app.web import create_app

LANDLORDS = CODESHIRE.parent      # tests/unit/diagrams/code_check: the one landlord folder "codeshire"


def diagram(name: str) -> bytes:
    return (CODESHIRE / f"{name}.bpmn").read_bytes()


@pytest.fixture
def app(database_url, virtual_clock, tmp_path):
    definition_cache.clear()
    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "PROCESSES_DIR": str(LANDLORDS),
                      "FORMS_DIR": str(FORMS_DIR), "RUN_SCHEDULER": False,
                      "ANALYST_DRAFTS_DIR": str(tmp_path / "drafts")})
    runtime = app.extensions["workflow_app"]
    make_user(runtime, "ana", ["analyst"], ["codeshire"])
    make_user(runtime, "carl", ["caseworker", "complaints_officer"], ["codeshire"])
    make_user(runtime, "gwen", ["analyst"], ["great_places"])
    yield app
    runtime.close()


@pytest.fixture
def web(app):
    client = app.test_client()
    assert sign_in(client, "ana").status_code == 302
    return client


def upload(web, name: str, content: bytes | None = None):
    """Upload a diagram; returns the draft page it leads to."""
    token = csrf(web, "/analyst/codeshire/upload")
    response = web.post("/analyst/codeshire/check", data={
        "csrf_token": token, "diagram": (io.BytesIO(content or diagram(name)), f"{name}.bpmn")},
        content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)
    return response.headers["Location"], web.get(response.headers["Location"]).get_data(as_text=True)


def deploy(web, draft_url: str, note: str = "A change", **fields):
    token = csrf(web, draft_url)
    return web.post(f"{draft_url}/deploy", data={"csrf_token": token, "note": note, **fields})


def version_rows(app):
    with app.extensions["workflow_app"].sessions() as session:
        return session.scalars(select(DefinitionVersion).order_by(DefinitionVersion.version)).all()


def test_only_analysts_of_the_landlord_see_its_pages(app):
    caseworker = app.test_client()
    sign_in(caseworker, "carl")
    assert caseworker.get("/analyst/").status_code == 403
    outsider = app.test_client()
    sign_in(outsider, "gwen")
    assert "Codeshire" not in outsider.get("/analyst/").get_data(as_text=True)
    assert outsider.get("/analyst/codeshire/versions").status_code == 404
    assert app.test_client().get("/analyst/").status_code == 302        # to sign in
    assert "/analyst/" not in caseworker.get("/inbox").get_data(as_text=True)


def test_analysts_find_their_pages_from_the_menu(web):
    assert '<a href="/analyst/"' in web.get("/inbox").get_data(as_text=True)


def test_upload_check_and_deploy_a_compliant_diagram(app, web):
    draft_url, page = upload(web, "complaint")
    assert 'data-code-errors="0"' in page and "No findings" in page
    assert "this will be version 1" in page
    refused = deploy(web, draft_url, note="")
    assert refused.status_code == 302 and version_rows(app) == []
    assert deploy(web, draft_url, note="The first process").status_code == 302
    [version] = version_rows(app)
    assert (version.version, version.deployed_by, version.note, version.acknowledgement) == (
        1, "ana", "The first process", None)
    assert version.code_findings == []
    listing = web.get("/analyst/codeshire/versions").get_data(as_text=True)
    assert "The first process" in listing and "by ana" in listing
    again_url, again = upload(web, "complaint")
    assert again_url == draft_url and "exactly version 1" in again


def test_code_errors_deploy_only_with_an_acknowledgement_and_a_reason(app, web):
    deploy(web, upload(web, "complaint")[0], note="First")
    draft_url, page = upload(web, "stage2_same_person")
    assert 'data-code-errors="1"' in page and "Code 6.13" in page
    assert "property separate_from" in page and "respond1" in page       # the diff against version 1
    refused = deploy(web, draft_url, note="Second")
    assert "needs an acknowledgement" in web.get(refused.headers["Location"]).get_data(as_text=True)
    assert len(version_rows(app)) == 1
    deploy(web, draft_url, note="Second", acknowledge="yes")            # ticked, but no reason
    assert len(version_rows(app)) == 1
    deploy(web, draft_url, note="Second", acknowledge="yes", reason="The board accepted this until April")
    versions = version_rows(app)
    assert [v.version for v in versions] == [1, 2]
    assert versions[1].acknowledgement == "The board accepted this until April"
    assert [(f["provision"], f["severity"]) for f in versions[1].code_findings] == [("6.13", "error")]
    listing = web.get("/analyst/codeshire/versions").get_data(as_text=True)
    assert "1 Code error" in listing and "The board accepted this until April" in listing
    with app.extensions["workflow_app"].sessions() as session:
        assert [v.version for v in acknowledged_code_errors(session, "codeshire")] == [2]


def test_a_diagram_the_engine_cannot_run_is_shown_and_not_deployable(app, web):
    draft_url, page = upload(web, "broken", b"<definitions>")
    assert "cannot run" in page and "well-formed" in page and "Deploy as a new version" not in page
    deploy(web, draft_url, note="x", acknowledge="yes", reason="y")
    assert version_rows(app) == []


def test_versions_download_as_they_were_deployed(app, web):
    deploy(web, upload(web, "complaint")[0], note="First")
    [version] = version_rows(app)
    response = web.get(f"/analyst/codeshire/versions/{version.id}/diagram.bpmn")
    assert response.status_code == 200 and response.data == diagram("complaint")
    assert "attachment" in response.headers["Content-Disposition"]
    forms = web.get(f"/analyst/codeshire/versions/{version.id}/forms.json").get_json()
    assert set(forms) == {"cs_triage", "cs_acknowledge", "cs_respond1", "cs_acknowledge2", "cs_respond2"}
    assert web.get("/analyst/codeshire/versions/999/diagram.bpmn").status_code == 404


def test_running_complaints_stay_on_their_version_until_moved(app, web):
    runtime = app.extensions["workflow_app"]
    deploy(web, upload(web, "complaint")[0], note="First")
    officer = make_user(runtime, "olive", ["complaints_officer"], ["codeshire"])
    old = runtime.complaints.log_complaint({
        "landlord": "codeshire", "received_at": "2026-12-23T10:00:00+00:00", "channel": "email",
        "category": "other", "summary": "Roof", "resident": {"name": "A Resident"}}, officer)
    draft_url, _ = upload(web, "response1_from_receipt")
    deploy(web, draft_url, note="Count the stage 1 response from receipt")
    v2 = version_rows(app)[1]
    new = runtime.complaints.log_complaint({
        "landlord": "codeshire", "received_at": "2026-12-23T11:00:00+00:00", "channel": "email",
        "category": "other", "summary": "Lift", "resident": {"name": "B Resident"}}, officer)
    assert _version_of(runtime, old) == 1 and _version_of(runtime, new) == 2
    page = web.get(f"/analyst/codeshire/versions/{v2.id}/move").get_data(as_text=True)
    assert old in page and new not in page
    token = csrf(web, f"/analyst/codeshire/versions/{v2.id}/move")
    preview = web.post(f"/analyst/codeshire/versions/{v2.id}/move/preview",
                       data={"csrf_token": token, "reference": [old, "XX-NOT-THERE"]}).get_data(as_text=True)
    assert f'data-reference="{old}"' in preview and "XX-NOT-THERE" not in preview and "Move 1 complaint" in preview
    moved = web.post(f"/analyst/codeshire/versions/{v2.id}/move", data={"csrf_token": token, "reference": [old]})
    body = moved.get_data(as_text=True)
    assert f"1 of 1: {old}" in body and 'data-moved="yes"' in body and "Done: 1 of 1 moved" in body
    assert _version_of(runtime, old) == 2


def _version_of(runtime, reference: str) -> int:
    with runtime.sessions() as session:
        complaint = session.scalars(select(Complaint).where(Complaint.reference == reference)).one()
        return complaint.instance.definition_version.version


def test_try_it_runs_a_complaint_on_a_date_and_marks_the_diagram(app, web):
    deploy(web, upload(web, "complaint")[0], note="First")
    [version] = version_rows(app)
    page = web.get(f"/analyst/codeshire/try?source=version:{version.id}&received=2026-12-21T10:00"
                   "&pace=last_day&escalate=yes").get_data(as_text=True)
    assert 'data-key="stage1_acknowledge"' in page
    assert "Wed 30 Dec 2026 23:59" in page          # 5 working days after Mon 21 Dec, over Christmas
    assert 'id="try-data"' in page and "ack_due" in page
    draft_url, _ = upload(web, "acknowledge_6_working_days")
    draft = draft_url.rsplit("/", 1)[1]
    tried = web.get(f"/analyst/codeshire/try?source=draft:{draft}&received=2026-12-21T10:00").get_data(as_text=True)
    assert "Thu 31 Dec 2026 23:59" in tried
    assert "Choose a deployed version" in web.get("/analyst/codeshire/try?source=version:999&received=2026-12-21T10:00"
                                                   ).get_data(as_text=True)


HOSTILE = "</SCRIPT><script>alert(1)</script> and </ScRiPt > and <!-- <script>alert(2)</script>"


def hostile_diagram() -> str:
    """Codeshire's diagram with script break-outs where XML allows a raw "<": in CDATA and in a comment."""
    xml = diagram("complaint").decode()
    xml = xml.replace('isExecutable="true">', 'isExecutable="true">\n    <bpmn:documentation>'
                      f"<![CDATA[{HOSTILE}]]></bpmn:documentation>", 1)
    return xml.replace("<bpmn:definitions", "<!-- </script><script>alert(3)</script> -->\n<bpmn:definitions", 1)


def scripts(page: str) -> list:
    import lxml.html
    return lxml.html.document_fromstring(page).xpath("//script")


@pytest.mark.parametrize("path, data_id, bundle, xml_of", [
    ("/analyst/codeshire/modeller?source={source}", "modeller-source", "modeler.entry.js", lambda data: data),
    ("/analyst/codeshire/try?source={source}&received=2026-12-21T10:00", "try-data", "analyst.entry.js",
     lambda data: data["xml"]),
])
def test_a_diagram_cannot_end_the_script_element_holding_it(web, path, data_id, bundle, xml_of):
    """Whatever a diagram holds, its page has exactly its two script elements, and the editor gets the XML whole."""
    import json
    hostile = hostile_diagram()
    draft_url, _ = upload(web, "complaint", hostile.encode())
    page = web.get(path.format(source="draft:" + draft_url.rsplit("/", 1)[1])).get_data(as_text=True)

    found = scripts(page)
    assert [(s.get("type"), s.get("id"), s.get("src")) for s in found] == [
        ("application/json", data_id, None), (None, None, f"/static/build/{bundle}")]
    assert len(re.findall(r"<script", page, re.IGNORECASE)) == 2
    assert len(re.findall(r"</script", page, re.IGNORECASE)) == 2
    assert xml_of(json.loads(found[0].text)) == hostile


def test_the_modeller_page_opens_the_deployed_diagram_and_sends_drafts_to_the_check(app, web):
    deploy(web, upload(web, "complaint")[0], note="First")
    page = web.get("/analyst/codeshire/modeller").get_data(as_text=True)
    assert 'id="modeller-source"' in page and "codeshire_complaint" in page and "modeler.entry.js" in page
    token = csrf(web, "/analyst/codeshire/modeller")
    edited = diagram("third_stage").decode()
    response = web.post("/analyst/codeshire/check", data={"csrf_token": token, "xml": edited})
    assert response.status_code == 302
    assert "Code 5.3" in web.get(response.headers["Location"]).get_data(as_text=True)
    assert re.search(r"<select id=\"open-source\"", page)
