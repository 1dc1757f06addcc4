"""Letters' email through the outbox: written with the letter, sent after the commit, each exactly once
(as far as SMTP allows), retried with back-off, given up visibly, and sent by the scheduler's companion."""
from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import event, select

from tests.conftest import FORMS, PROCESSES
from tests.integration.test_scheduler import eventually
from tests.support.mail import MailServer
from workflow_app.casework import audit, outbox, retention
from workflow_app.casework.letters import LetterService
from workflow_app.casework.models import AuditEvent, Complaint, Letter, OutboxEmail
from workflow_app.casework.outbox import Round
from workflow_app.casework.scheduler import Scheduler
from workflow_app.rules import clock

BODY = "<p>Dear resident,</p><p>We have closed your complaint.</p>"


@pytest.fixture
def mail():
    server = MailServer().start()
    yield server
    server.stop()


def drafts(runtime, user, count: int) -> list[int]:
    """A draft letter on each of `count` new complaints, each resident with an address of their own."""
    letter_ids = []
    for number in range(count):
        reference = runtime.complaints.log_complaint({
            "landlord": "testshire", "received_at": "2026-12-23T16:30:00+00:00", "channel": "email",
            "category": "other", "summary": "Outbox",
            "resident": {"name": f"Resident {number}", "email": f"resident{number}@example.org"}}, user)
        with runtime.sessions.begin() as session:
            complaint = session.scalars(select(Complaint).where(Complaint.reference == reference)).one()
            letter = Letter(complaint_id=complaint.id, template="closure", element_id="x", stage="post",
                            status="draft", created_at=clock.now())
            session.add(letter)
            session.flush()
            letter_ids.append(letter.id)
    return letter_ids


def emails_queued(runtime, user, count: int, smtp) -> list[int]:
    """`count` letters sent by email: their emails are in the outbox."""
    letter_ids = drafts(runtime, user, count)
    service = LetterService(runtime.sessions, runtime.casework, smtp)
    for letter_id in letter_ids:
        assert service.send(letter_id, user, BODY)["emailed"]
    return letter_ids


def emails(runtime) -> list[OutboxEmail]:
    with runtime.sessions() as session:
        rows = list(session.scalars(select(OutboxEmail).order_by(OutboxEmail.id)))
        session.expunge_all()
        return rows


def events(runtime, kind: str) -> Counter[int]:
    """How many events of `kind` each letter has."""
    with runtime.sessions() as session:
        return Counter(e.details["letter_id"] for e in session.scalars(select(AuditEvent)
                                                                        .where(AuditEvent.type == kind)))


# --- exactly once -------------------------------------------------------------------------------

def test_each_letter_arrives_once_though_the_mail_server_stops_midway(deployed, officer, virtual_clock, mail):
    letter_ids = emails_queued(deployed, officer, 6, mail.settings)
    assert mail.inbox.messages == []            # nothing is sent inside the letters' transactions
    assert [e.status for e in emails(deployed)] == ["pending"] * 6

    mail.shut_down_after(3)                      # the server goes away as the fourth message begins
    assert outbox.drain(deployed.sessions, mail.settings) == Round(claimed=6, sent=3)
    rows = emails(deployed)
    assert Counter(e.status for e in rows) == {"sent": 3, "pending": 3}
    for row in rows:
        if row.status == "pending":
            assert row.attempts == 1 and row.next_attempt_at == clock.now() + timedelta(minutes=1)
            assert row.last_error.startswith("the mail server") and "@" not in row.last_error
        else:
            assert row.attempts == 1 and row.sent_at == clock.now() and row.last_error is None

    mail.start()                                 # back, on the same port
    assert outbox.drain(deployed.sessions, mail.settings) == Round()    # the failed ones wait for their retry
    virtual_clock.advance(outbox.FIRST_RETRY)
    assert outbox.drain(deployed.sessions, mail.settings) == Round(claimed=3, sent=3)
    assert outbox.drain(deployed.sessions, mail.settings) == Round()

    rows = emails(deployed)
    assert [e.status for e in rows] == ["sent"] * 6
    assert mail.inbox.message_ids() == Counter({row.message_id: 1 for row in rows})
    assert mail.inbox.recipients() == Counter({f"resident{n}@example.org": 1 for n in range(6)})
    assert {envelope.mail_from for envelope in mail.inbox.messages} == {"complaints@testshire.example"}
    with deployed.sessions() as session:
        assert all(session.get(Letter, letter_id).emailed_at is not None for letter_id in letter_ids)
    assert events(deployed, "letter_emailed") == Counter(dict.fromkeys(letter_ids, 1))


def test_a_change_to_the_complaint_at_the_moment_of_sending_does_not_send_it_twice(deployed, officer, virtual_clock,
                                                                                   mail, monkeypatch):
    """Someone else's change to the complaint commits just as the sender records "sent" (the audit trail's head
    moves under it): the sender records it again on the new head instead of leaving the row to be sent again."""
    [letter_id] = emails_queued(deployed, officer, 1, mail.settings)
    move_head, interrupted = audit._move_head, []

    def someone_else_first(session, complaint, head, **how):
        if not interrupted:
            interrupted.append(complaint.id)
            with deployed.sessions.begin() as other:
                audit.record(other, other.get(Complaint, complaint.id), "note_added", "carl")
        return move_head(session, complaint, head, **how)

    monkeypatch.setattr(audit, "_move_head", someone_else_first)
    assert outbox.drain(deployed.sessions, mail.settings) == Round(claimed=1, sent=1)
    assert interrupted and [e.status for e in emails(deployed)] == ["sent"]
    assert len(mail.inbox.messages) == 1
    assert events(deployed, "letter_emailed") == Counter({letter_id: 1})
    with deployed.sessions() as session:
        assert list(audit.broken_chains(session)) == []


def test_the_message_is_the_letter_with_a_message_id_of_its_own(deployed, officer, virtual_clock, mail):
    [letter_id] = emails_queued(deployed, officer, 1, mail.settings)
    [row] = emails(deployed)
    assert row.letter_id == letter_id and row.recipient == "resident0@example.org"
    assert row.message_id.startswith("<") and row.message_id.endswith("@testshire.example>")
    with deployed.sessions() as session:
        assert row.subject.endswith(f": your complaint {session.get(Complaint, row.complaint_id).reference}")
    outbox.drain(deployed.sessions, mail.settings)
    [message] = mail.inbox.parsed()
    assert message["Message-ID"] == row.message_id and message["Subject"] == row.subject
    assert message["To"] == "Resident 0 <resident0@example.org>"
    assert "We have closed your complaint." in message.get_body(("plain",)).get_content()
    assert "<p>We have closed your complaint.</p>" in message.get_body(("html",)).get_content()


def test_a_letter_whose_transaction_rolls_back_leaves_no_email(deployed, officer, virtual_clock, mail, monkeypatch):
    [letter_id] = drafts(deployed, officer, 1)
    recorded = audit.record

    def record(session, complaint, type, actor, **details):
        if type == "letter_sent":
            raise RuntimeError("something after the email was queued failed")
        return recorded(session, complaint, type, actor, **details)

    monkeypatch.setattr(audit, "record", record)
    with pytest.raises(RuntimeError):
        LetterService(deployed.sessions, deployed.casework, mail.settings).send(letter_id, officer, BODY)
    assert emails(deployed) == []
    assert outbox.drain(deployed.sessions, mail.settings) == Round() and mail.inbox.messages == []
    with deployed.sessions() as session:
        assert session.get(Letter, letter_id).status == "draft"


def test_a_commit_that_fails_sends_nothing(deployed, officer, virtual_clock, mail):
    [letter_id] = drafts(deployed, officer, 1)
    armed = [True]

    def fail(connection) -> None:
        if armed:
            armed.clear()
            raise RuntimeError("the database went away as the letter committed")

    service = LetterService(deployed.sessions, deployed.casework, mail.settings)
    event.listen(deployed.engine, "commit", fail)
    try:
        with pytest.raises(RuntimeError, match="went away"):
            service.send(letter_id, officer, BODY)
    finally:
        event.remove(deployed.engine, "commit", fail)
    assert not armed                              # it was the letter's commit that failed
    assert emails(deployed) == []
    assert outbox.drain(deployed.sessions, mail.settings) == Round() and mail.inbox.messages == []
    with deployed.sessions() as session:
        assert session.get(Letter, letter_id).status == "draft"


def test_two_senders_at_once_send_each_email_once(deployed, officer, virtual_clock, mail):
    emails_queued(deployed, officer, 20, mail.settings)
    mail.inbox.delay = 0.02                        # each message takes a while: both senders get some
    barrier = threading.Barrier(2)

    def sender() -> int:
        with clock.using(virtual_clock):
            barrier.wait()
            return outbox.drain(deployed.sessions, mail.settings, limit=3).sent

    with ThreadPoolExecutor(2) as pool:
        sent = [future.result(60) for future in [pool.submit(sender) for _ in range(2)]]
    assert sum(sent) == 20 and all(sent), sent
    rows = emails(deployed)
    assert {(e.status, e.attempts) for e in rows} == {("sent", 1)}
    assert mail.inbox.message_ids() == Counter({row.message_id: 1 for row in rows})
    assert sum(events(deployed, "letter_emailed").values()) == 20


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)   # SQLite has one writer: nothing to skip
def test_a_claim_passes_over_a_row_another_sender_holds(deployed, officer, virtual_clock, mail):
    emails_queued(deployed, officer, 2, mail.settings)
    first, second = (e.id for e in emails(deployed))

    def claim() -> list[int]:
        with clock.using(virtual_clock):
            return [c.id for c in outbox.claim(deployed.sessions)]

    with ThreadPoolExecutor(1) as pool, deployed.sessions() as holder, holder.begin():
        holder.scalars(select(OutboxEmail).where(OutboxEmail.id == first).with_for_update()).one()
        try:
            assert pool.submit(claim).result(5) == [second]     # not held up by the held row
        except FutureTimeout:
            pytest.fail("the claim waited for a row another transaction holds")
    assert claim() == [first]


# --- failures, back-off, giving up ---------------------------------------------------------------

def test_failed_tries_back_off_and_give_up_after_the_last(deployed, officer, virtual_clock):
    down = MailServer()                            # never started: nothing listens on its port
    [letter_id] = emails_queued(deployed, officer, 1, down.settings)
    waits = []
    for attempt in range(1, outbox.MAX_ATTEMPTS + 1):
        before = clock.now()
        assert outbox.drain(deployed.sessions, down.settings) == Round(claimed=1)
        [row] = emails(deployed)
        assert row.attempts == attempt and row.last_error == "the mail server refused the connection"
        if row.status == "pending":
            waits.append(row.next_attempt_at - before)
            virtual_clock.set(row.next_attempt_at)
    assert [w // timedelta(minutes=1) for w in waits] == [1, 2, 4, 8, 16, 32, 60]
    assert row.status == "failed" and row.next_attempt_at is None
    virtual_clock.advance(timedelta(days=1))
    assert outbox.drain(deployed.sessions, down.settings) == Round()      # given up: no more tries
    assert events(deployed, "letter_email_failed") == Counter({letter_id: 1})


def test_a_recipient_refused_for_good_fails_at_once_and_names_no_one(deployed, officer, virtual_clock, mail):
    emails_queued(deployed, officer, 1, mail.settings)
    mail.inbox.refuse = "550 5.1.1 <resident0@example.org>: Recipient address rejected: User unknown"
    outbox.drain(deployed.sessions, mail.settings)
    [row] = emails(deployed)
    assert (row.status, row.attempts, row.next_attempt_at) == ("failed", 1, None)
    assert row.last_error == "the mail server refused the recipient (550 5.1.1)"


def test_a_crash_between_acceptance_and_commit_resends_the_same_message_once_its_claim_lapses(
        deployed, officer, virtual_clock, mail, monkeypatch):
    """The window SMTP leaves open: the server took the message, the sender died before recording it."""
    emails_queued(deployed, officer, 1, mail.settings)
    recorded = outbox._record_sent

    def crash(sessions, row):
        monkeypatch.setattr(outbox, "_record_sent", recorded)
        raise RuntimeError("the sender stopped")

    monkeypatch.setattr(outbox, "_record_sent", crash)
    with pytest.raises(RuntimeError):
        outbox.drain(deployed.sessions, mail.settings)
    [row] = emails(deployed)
    assert row.status == "sending" and len(mail.inbox.messages) == 1
    assert outbox.drain(deployed.sessions, mail.settings) == Round()      # its claim still holds
    virtual_clock.advance(outbox.CLAIM_LEASE)
    assert outbox.drain(deployed.sessions, mail.settings) == Round(claimed=1, sent=1)
    [row] = emails(deployed)
    assert (row.status, row.attempts) == ("sent", 2)
    assert mail.inbox.message_ids() == Counter({row.message_id: 2})      # recognisably the same message


def test_an_anonymised_complaint_keeps_no_address_or_message_in_the_outbox(deployed, officer, virtual_clock):
    down = MailServer()
    emails_queued(deployed, officer, 1, down.settings)
    [row] = emails(deployed)
    with deployed.sessions.begin() as session:
        reference = session.get(Complaint, row.complaint_id).reference
        retention.anonymise(session, deployed.casework, reference, "tester")
    [row] = emails(deployed)
    assert (row.recipient, row.message, row.status, row.next_attempt_at) == (
        retention.REDACTED, retention.REDACTED, "failed", None)
    assert outbox.drain(deployed.sessions, down.settings) == Round()


# --- who sends it, and when ---------------------------------------------------------------------

def test_a_queued_email_wakes_the_sender_beside_the_scheduler(deployed, officer, virtual_clock, mail):
    sender = outbox.OutboxSender(deployed.sessions, mail.settings, virtual_clock, longest=60)
    scheduler = Scheduler(deployed.complaints, virtual_clock, longest=60, companions=[sender]).start()
    try:
        time.sleep(0.5)                            # both asleep: left alone, neither would look for a minute
        emails_queued(deployed, officer, 1, mail.settings)
        assert eventually(lambda: len(mail.inbox.messages) == 1, 10)
        assert eventually(lambda: emails(deployed)[0].status == "sent", 10)
    finally:
        scheduler.stop()
    assert not sender._thread.is_alive()           # stopped with the scheduler


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_on_postgresql_an_email_queued_in_another_process_wakes_the_sender(deployed, officer, virtual_clock, mail,
                                                                           monkeypatch):
    monkeypatch.setattr(outbox, "wake_senders", lambda: None)    # as if queued elsewhere: only NOTIFY reaches it
    sender = outbox.OutboxSender(deployed.sessions, mail.settings, virtual_clock, longest=60).start()
    try:
        time.sleep(1.0)                            # listening, and asleep for a minute
        emails_queued(deployed, officer, 1, mail.settings)
        assert eventually(lambda: len(mail.inbox.messages) == 1, 10)
    finally:
        sender.stop()


def test_the_scheduler_command_sends_the_email_that_is_due(deployed, officer, virtual_clock, mail, database_url):
    emails_queued(deployed, officer, 2, mail.settings)
    environment = {"WORKFLOW_APP_DATABASE_URL": database_url, "WORKFLOW_APP_PROCESSES": str(PROCESSES),
                   "WORKFLOW_APP_FORMS": str(FORMS), "WORKFLOW_APP_NOW": clock.now().isoformat(),
                   "WORKFLOW_APP_SMTP_HOST": "127.0.0.1", "WORKFLOW_APP_SMTP_PORT": str(mail.port),
                   "WORKFLOW_APP_SMTP_FROM": "complaints@testshire.example"}
    from workflow_app.tools.cli import main
    result = CliRunner().invoke(main, ["scheduler", "--until-idle"], env=environment, catch_exceptions=False)
    assert result.output.strip() == "0 complaint(s) moved, 2 email(s) sent"
    assert len(mail.inbox.messages) == 2 and {e.status for e in emails(deployed)} == {"sent"}
