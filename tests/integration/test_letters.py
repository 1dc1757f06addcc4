"""Letters: the draft shown and edited (cleaned), sent, stored, printable, emailed over SMTP."""
from __future__ import annotations

import json
import socket
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from tests.conftest import make_user
from tests.integration.test_caseworker import COMPLAINT_FORM, app, log, make_app, open_task, post, sign_in, web  # noqa: F401
from workflow_app.casework.letters import clean_html, code_required, plain_text
from workflow_app.casework.models import AuditEvent, Complaint, Letter
from workflow_app.rules import clock


class Inbox:
    def __init__(self) -> None:
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope)
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp():
    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, handler
    controller.stop()


def acknowledged(client, runtime) -> tuple[str, int]:
    """A complaint whose acknowledgement task is done: its acknowledgement letter is a draft."""
    reference = log(client)
    task = open_task(runtime, reference)
    assert post(client, f"/tasks/{task.id}", {"data": json.dumps({"complaint_definition": "Leak"})}).status_code == 302
    with runtime.sessions() as session:
        letter = session.scalars(select(Letter).where(Letter.template == "acknowledgement")).one()
        return reference, letter.id


def test_required_letters_are_recognised():
    for template in ("acknowledgement", "stage2_acknowledgement", "extension", "stage1_response", "final_response",
                     "refusal"):
        assert code_required(template), template
    for template in ("closure", "satisfaction_survey"):
        assert not code_required(template), template


def test_letter_html_is_cleaned_and_has_a_text_version():
    cleaned = clean_html('<p onclick="x()">Dear <b>Ada</b><script>alert(1)</script></p><img src=x><style>p{}</style>')
    assert cleaned == "<p>Dear <b>Ada</b></p>"
    assert plain_text("<p>Dear Ada,</p><p>Thank you &amp; goodbye</p>") == "Dear Ada,\nThank you & goodbye\n"


def test_draft_is_shown_edited_and_sent_by_post_without_smtp(web, deployed):
    reference, letter_id = acknowledged(web, deployed)
    page = web.get(f"/letters/{letter_id}").get_data(as_text=True)
    assert "Required by the Code" in page and "cannot be skipped" in page and "Mark as not needed" not in page
    saved = post(web, f"/letters/{letter_id}", {"action": "save",
                                                 "body_html": "<p>Dear Ada,</p><p>We have your complaint.</p>"
                                                              "<script>alert(1)</script>"})
    assert saved.status_code == 302
    with deployed.sessions() as session:
        letter = session.get(Letter, letter_id)
        assert letter.body_html == "<p>Dear Ada,</p><p>We have your complaint.</p>" and letter.edited_by == "carl"
    sent = post(web, f"/letters/{letter_id}", {"action": "send"})
    assert sent.status_code == 302 and sent.headers["Location"].endswith(f"/complaints/{reference}#letters")
    with deployed.sessions() as session:
        letter = session.get(Letter, letter_id)
        assert letter.status == "sent" and letter.sent_by == "carl" and letter.sent_to.startswith("post: ")
        assert letter.emailed_at is None and letter.sent_at == clock.now()
        kinds = [e.type for e in session.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert "letter_edited" in kinds and "letter_sent" in kinds
    printable = web.get(f"/letters/{letter_id}/print").get_data(as_text=True)
    assert "We have your complaint." in printable and "print.css" in printable and "site-nav" not in printable
    again = post(web, f"/letters/{letter_id}", {"action": "save", "body_html": "<p>changed</p>"})
    assert again.status_code == 409 and "can no longer be changed" in again.get_data(as_text=True)


def test_a_letter_is_emailed_through_smtp_when_configured(deployed, database_url, caseworker, smtp):
    controller, inbox = smtp
    app = make_app(database_url, WORKFLOW_APP_SMTP_HOST="127.0.0.1", WORKFLOW_APP_SMTP_PORT=str(controller.port),
                   WORKFLOW_APP_SMTP_FROM="complaints@testshire.example")
    client = app.test_client()
    sign_in(client, "carl")
    reference, letter_id = acknowledged(client, deployed)
    assert "It will be emailed to Ada Resident &lt;ada@example.org&gt;" in client.get(f"/letters/{letter_id}") \
        .get_data(as_text=True)
    response = post(client, f"/letters/{letter_id}", {"action": "send",
                                                       "body_html": "<p>Dear Ada,</p><p>Your complaint is logged.</p>"})
    assert response.status_code == 302
    [envelope] = inbox.messages
    assert envelope.rcpt_tos == ["ada@example.org"] and envelope.mail_from == "complaints@testshire.example"
    message = message_from_bytes(envelope.content, policy=policy.default)
    assert reference in message["Subject"]
    assert "Your complaint is logged." in message.get_body(("plain",)).get_content()
    assert "<p>Your complaint is logged.</p>" in message.get_body(("html",)).get_content()
    with deployed.sessions() as session:
        letter = session.get(Letter, letter_id)
        assert letter.status == "sent" and letter.sent_to == "ada@example.org" and letter.emailed_at is not None
    app.extensions["workflow_app"].close()


def test_a_failed_email_leaves_the_letter_a_draft(deployed, database_url, caseworker):
    app = make_app(database_url, WORKFLOW_APP_SMTP_HOST="127.0.0.1", WORKFLOW_APP_SMTP_PORT=str(free_port()))
    client = app.test_client()
    sign_in(client, "carl")
    _, letter_id = acknowledged(client, deployed)
    response = post(client, f"/letters/{letter_id}", {"action": "send"})
    assert response.status_code == 409 and "could not be sent" in response.get_data(as_text=True)
    with deployed.sessions() as session:
        assert session.get(Letter, letter_id).status == "draft"
    app.extensions["workflow_app"].close()


def test_only_a_letter_the_code_does_not_require_can_be_set_aside(web, deployed):
    reference, letter_id = acknowledged(web, deployed)
    refused = post(web, f"/letters/{letter_id}", {"action": "set_aside", "reason": "Told them by phone"})
    assert refused.status_code == 409 and "requires this letter" in refused.get_data(as_text=True)
    with deployed.sessions.begin() as session:
        complaint = session.scalars(select(Complaint).where(Complaint.reference == reference)).one()
        optional = Letter(complaint_id=complaint.id, template="closure", element_id="x", stage="post",
                          status="draft", created_at=clock.now())
        session.add(optional)
        session.flush()
        optional_id = optional.id
    assert "Mark as not needed" in web.get(f"/letters/{optional_id}").get_data(as_text=True)
    assert post(web, f"/letters/{optional_id}", {"action": "set_aside", "reason": ""}).status_code == 422
    assert post(web, f"/letters/{optional_id}", {"action": "set_aside",
                                                  "reason": "Resident asked for no more post"}).status_code == 302
    with deployed.sessions() as session:
        assert session.get(Letter, optional_id).status == "not_needed"


def test_a_template_less_letter_starts_from_a_draft_with_the_ombudsmans_details(web, deployed):
    reference = log(web)
    with deployed.sessions.begin() as session:
        complaint = session.scalars(select(Complaint).where(Complaint.reference == reference)).one()
        letter = Letter(complaint_id=complaint.id, template="stage2_extension", element_id="x", stage="2",
                        status="draft", body_html=None, created_at=clock.now())
        session.add(letter)
        session.flush()
        letter_id = letter.id
    page = web.get(f"/letters/{letter_id}").get_data(as_text=True)
    assert "Housing Ombudsman Service" in page and "0300 111 3000" in page and reference in page


def test_another_landlords_user_cannot_see_the_letter(app, web, deployed):
    _, letter_id = acknowledged(web, deployed)
    make_user(deployed, "gary", ["caseworker"], ["great_places"])
    outsider = app.test_client()
    sign_in(outsider, "gary")
    assert outsider.get(f"/letters/{letter_id}").status_code == 404
    assert outsider.get(f"/letters/{letter_id}/print").status_code == 404
    assert post(outsider, f"/letters/{letter_id}", {"action": "send"}, "/inbox").status_code == 404
