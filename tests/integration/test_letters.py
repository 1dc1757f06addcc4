"""Letters: the draft shown and edited (cleaned), sent, stored, printable, emailed over SMTP (through the
outbox: `test_outbox.py` holds its sending to exactly once)."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from tests.conftest import make_user
from tests.integration.test_caseworker import COMPLAINT_FORM, app, log, make_app, open_task, post, sign_in, web  # noqa: F401
from tests.support.mail import SENDER, MailServer
from workflow_app.casework import outbox
from workflow_app.casework.letters import clean_html, code_required, plain_text
from workflow_app.casework.models import AuditEvent, Complaint, Letter, OutboxEmail
from workflow_app.rules import clock


@pytest.fixture
def mail():
    server = MailServer().start()
    yield server
    server.stop()


def mailing_app(database_url: str, server: MailServer):
    """The app with SMTP set up (no scheduler: the tests send the outbox's email themselves)."""
    return make_app(database_url, WORKFLOW_APP_SMTP_HOST="127.0.0.1", WORKFLOW_APP_SMTP_PORT=str(server.port),
                    WORKFLOW_APP_SMTP_FROM=SENDER)


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


def test_a_letter_is_emailed_through_smtp_after_it_is_stored_as_sent(deployed, database_url, caseworker, mail):
    app = mailing_app(database_url, mail)
    client = app.test_client()
    sign_in(client, "carl")
    reference, letter_id = acknowledged(client, deployed)
    assert "It will be emailed to Ada Resident &lt;ada@example.org&gt;" in client.get(f"/letters/{letter_id}") \
        .get_data(as_text=True)
    response = post(client, f"/letters/{letter_id}", {"action": "send",
                                                       "body_html": "<p>Dear Ada,</p><p>Your complaint is logged.</p>"})
    assert response.status_code == 302
    assert mail.inbox.messages == []              # queued with the letter: nothing is sent inside its transaction
    with deployed.sessions() as session:
        letter = session.get(Letter, letter_id)
        assert letter.status == "sent" and letter.sent_to == "ada@example.org" and letter.emailed_at is None
    page = client.get(f"/letters/{letter_id}").get_data(as_text=True)
    assert "Email queued" in page and "is queued and goes out in a moment" in page
    assert "Email queued" in client.get(f"/complaints/{reference}").get_data(as_text=True)

    assert outbox.drain(deployed.sessions, mail.settings).sent == 1
    [envelope] = mail.inbox.messages
    assert envelope.rcpt_tos == ["ada@example.org"] and envelope.mail_from == SENDER
    [message] = mail.inbox.parsed()
    assert reference in message["Subject"]
    assert "Your complaint is logged." in message.get_body(("plain",)).get_content()
    assert "<p>Your complaint is logged.</p>" in message.get_body(("html",)).get_content()
    with deployed.sessions() as session:
        letter = session.get(Letter, letter_id)
        assert letter.status == "sent" and letter.emailed_at == clock.now()
        assert session.scalars(select(OutboxEmail.message_id)).one() == message["Message-ID"]
        kinds = [e.type for e in session.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert kinds[-3:] == ["letter_sent", "letter_pdf_made", "letter_emailed"]
    page = client.get(f"/letters/{letter_id}").get_data(as_text=True)
    assert "The mail server accepted the email to ada@example.org" in page and "Try the email again" not in page
    app.extensions["workflow_app"].close()


def test_a_failing_email_is_retried_then_shown_failed_and_staff_may_try_it_again(deployed, database_url,
                                                                                caseworker, virtual_clock):
    mail = MailServer()                           # not started yet: nothing listens on its port
    app = mailing_app(database_url, mail)
    client = app.test_client()
    sign_in(client, "carl")
    reference, letter_id = acknowledged(client, deployed)
    assert post(client, f"/letters/{letter_id}", {"action": "send"}).status_code == 302
    with deployed.sessions() as session:
        assert session.get(Letter, letter_id).status == "sent"     # the letter is sent; its email waits

    outbox.drain(deployed.sessions, mail.settings)
    page = client.get(f"/letters/{letter_id}").get_data(as_text=True)
    assert "Email retrying" in page and f"Attempt 1 of {outbox.MAX_ATTEMPTS}" in page
    assert "the mail server refused the connection" in page and "The next try is at" in page
    assert "Email retrying" in client.get(f"/complaints/{reference}").get_data(as_text=True)
    refused = post(client, f"/letters/{letter_id}", {"action": "retry_email"})
    assert refused.status_code == 409 and "only an email that failed" in refused.get_data(as_text=True)

    for _ in range(outbox.MAX_ATTEMPTS - 1):
        with deployed.sessions() as session:
            virtual_clock.set(session.scalars(select(OutboxEmail.next_attempt_at)).one())
        outbox.drain(deployed.sessions, mail.settings)
    page = client.get(f"/letters/{letter_id}").get_data(as_text=True)
    assert "Email failed" in page and "could not be sent" in page and f"({outbox.MAX_ATTEMPTS} attempts)" in page
    assert "Try the email again" in page
    assert "Email failed" in client.get(f"/complaints/{reference}").get_data(as_text=True)

    mail.start()
    try:
        assert post(client, f"/letters/{letter_id}", {"action": "retry_email"}).status_code == 302
        assert "is queued and goes out in a moment" in client.get(f"/letters/{letter_id}").get_data(as_text=True)
        assert outbox.drain(deployed.sessions, mail.settings).sent == 1
    finally:
        mail.stop()
    assert len(mail.inbox.messages) == 1
    with deployed.sessions() as session:
        email = session.scalars(select(OutboxEmail)).one()
        assert (email.status, email.attempts) == ("sent", 1)
        kinds = [e.type for e in session.scalars(select(AuditEvent).where(AuditEvent.type.like("letter_email%"))
                                                  .order_by(AuditEvent.id))]
        retried = session.scalars(select(AuditEvent).where(AuditEvent.type == "letter_email_retried")).one()
    assert kinds == ["letter_email_failed", "letter_email_retried", "letter_emailed"] and retried.actor == "carl"
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
