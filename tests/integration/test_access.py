"""Access: every URL in the app refuses another landlord's data.

The test walks the app's URL map, so a new page or endpoint is covered the moment it is
added; one whose parameters it cannot fill makes the test fail until a value is added
to SAMPLE below.
"""
from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from tests.conftest import make_user
from tests.integration.test_caseworker import log as log_in_browser
from tests.integration.test_caseworker import make_app, sign_in
from workflow_app.casework.accounts import create_token
from workflow_app.casework.models import Attachment, AuditEvent, Complaint, DefinitionVersion, Letter, Task, User

PUBLIC = {"static", "auth.sign_in", "auth.sign_out", "index", "api.openapi"}  # the API document is published
SECRETS = ["Ada Resident", "ada@example.org", "The roof has leaked for three weeks"]  # only the record holds these


@pytest.fixture
def app(deployed, database_url):
    app = make_app(database_url, WTF_CSRF_ENABLED=False)
    yield app
    app.extensions["workflow_app"].close()


@pytest.fixture
def their_case(app, deployed, caseworker):
    """A testshire complaint with an open task, a letter, a note and an attachment."""
    client = app.test_client()
    sign_in(client, "carl")
    reference = log_in_browser(client)
    client.post(f"/complaints/{reference}/notes", data={"note": "Called the resident back"})
    client.post(f"/complaints/{reference}/attachments",
                data={"attachment": (io.BytesIO(b"%PDF-1.4 evidence"), "evidence.pdf")},
                content_type="multipart/form-data")
    with deployed.sessions() as session:
        complaint = session.scalars(select(Complaint).where(Complaint.reference == reference)).one()
        acknowledge = session.scalars(select(Task.id).where(Task.complaint_id == complaint.id,
                                                            Task.status == "open")).one()
    deployed.tasks.complete(acknowledge, {"complaint_definition": "Roof leak"}, caseworker)  # issues a letter
    with deployed.sessions() as session:
        task = session.scalars(select(Task.id).where(Task.complaint_id == complaint.id,
                                                     Task.status == "open")).first()
        letter = session.scalars(select(Letter.id).where(Letter.complaint_id == complaint.id)).first()
        attachment = session.scalars(select(Attachment.id).where(Attachment.complaint_id == complaint.id)).first()
        version = session.scalars(select(DefinitionVersion.id).where(DefinitionVersion.landlord == "testshire")).first()
    from workflow_app.reporting.lessons import LessonService
    entry = LessonService(deployed.sessions).add(
        "testshire", {"what_went_wrong": "Nobody called back", "theme": "complaint_handling"}, caseworker)
    assert task and letter and attachment
    return {"reference": reference, "task_id": task, "letter_id": letter, "attachment_id": attachment,
            "name": "escalation_requested", "landlord": "testshire", "version_id": version, "draft": "0" * 32,
            "entry_id": entry}


def outsider(deployed):
    make_user(deployed, "gwen", ["caseworker", "stage2_reviewer", "complaints_officer", "manager", "analyst"],
              ["great_places"])
    with deployed.sessions.begin() as session:
        user = session.scalars(select(User).where(User.username == "gwen")).one()
        return create_token(session, user, "walk")


def test_every_url_refuses_another_landlords_data(app, deployed, their_case):
    token = outsider(deployed)
    before = _history(deployed, their_case["reference"])
    browser = app.test_client()
    assert sign_in(browser, "gwen").status_code == 302
    walked = 0
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC:
            continue
        missing = set(rule.arguments) - set(their_case)
        assert not missing, f"{rule.rule}: add a sample value for {missing} to test_access.py"
        path = _build(app, rule, their_case)
        headers = {"Authorization": f"Bearer {token}"} if rule.rule.startswith("/api/") else {}
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = browser.open(path, method=method, headers=headers, json={} if method == "POST" else None) \
                if rule.rule.startswith("/api/") else browser.open(path, method=method, data={})
            body = response.get_data(as_text=True)
            walked += 1
            if response.status_code == 302 and rule.arguments:
                # A form refused for its input before the access check: it may only lead to a page the
                # outsider cannot see, and (checked below) nothing may have changed.
                landing = browser.get(response.headers["Location"])
                assert landing.status_code >= 400, f"{method} {path} led to {response.headers['Location']}"
            elif rule.arguments:
                assert response.status_code >= 400, f"{method} {path} gave {response.status_code}"
            for secret in SECRETS + ([] if rule.arguments else [their_case["reference"]]):
                assert secret not in body, f"{method} {path} shows another landlord's complaint"
    assert walked >= 20
    assert _history(deployed, their_case["reference"]) == before, "another landlord's user changed the complaint"


def _history(deployed, reference: str) -> list[tuple[str, str]]:
    with deployed.sessions() as session:
        complaint = session.scalars(select(Complaint).where(Complaint.reference == reference)).one()
        return [(e.type, e.actor) for e in session.scalars(
            select(AuditEvent).where(AuditEvent.complaint_id == complaint.id).order_by(AuditEvent.id))]


def _build(app, rule, values) -> str:
    with app.test_request_context():
        adapter = app.url_map.bind("localhost")
        return adapter.build(rule.endpoint, {k: values[k] for k in rule.arguments}, method=None)


def test_unsigned_visitors_are_sent_to_sign_in_and_api_callers_get_401(app, their_case):
    client = app.test_client()
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC:
            continue
        path = _build(app, rule, their_case)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(path, method=method)
            expected = (401,) if rule.rule.startswith("/api/") else (302, 401)
            assert response.status_code in expected, f"{method} {path} gave {response.status_code}"
            if response.status_code == 302:
                assert "/sign-in" in response.headers["Location"]
