"""Retention: closed complaints are anonymised after the landlord's retention period (UK GDPR),
and sign-in attempts are forgotten after `SIGN_IN_ATTEMPTS_KEPT`.

A landlord's period is `[retention]` in its landlord.toml, or `rules.landlords`'
`DEFAULT_RETENTION_YEARS` until it sets one: the default is applied before the landlord
confirms a period, so that closed complaints are anonymised at all; the managers' pages say
which period applies until it is confirmed, and each `anonymised` event records the period
and whether it was confirmed.

What stays is what the Code's reporting needs: the reference, dates, category, channel,
stages, deadlines, outcomes and the shape of the audit trail. What goes is everything
that could identify a person: the resident and any representative, free text, letters'
bodies and addresses (their emails in the outbox, and their PDFs), notes, attachments, support needs,
form answers in the audit trail and in the instance state.

The audit trail is append-only; anonymisation is its one deliberate exception, made with
a direct update (the ORM refuses changes to audit events) and itself recorded as an
audit event. The complaint's hash chain is sealed again over the redacted details
(`audit.reseal`, whose module says why), after a check whose findings the `anonymised`
event keeps, so anonymising never hides an earlier break.

`workflow-app retention` does both (run it daily); the scheduler also forgets old sign-in
attempts after its sweeps, so they go whether or not anyone runs the command.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from workflow_app.casework import audit, search
from workflow_app.casework.engine import Casework
from workflow_app.casework.models import (
    Attachment,
    CaseNote,
    Complaint,
    Letter,
    LetterPdf,
    OutboxEmail,
    PendingEvent,
    SignInAttempt,
    SupportNeeds,
    WorkflowInstance,
)
from workflow_app.rules import clock
from workflow_app.rules.calendar import end_of_london_day, london_date
from workflow_app.rules.landlords import Landlord
from workflow_app.rules.statuses import ComplaintStatus, EmailStatus

REDACTED = "[anonymised]"
CASE_FACTS = {"reference", "landlord", "received_at", "channel", "category", "has_representative", "outcome"}
SAFE_AUDIT_KEYS = {
    "task_id", "element_id", "name", "stage", "role", "due_at", "key", "extended", "late", "template", "outcome",
    "reference", "channel", "category", "received_at", "definition_version", "pending", "process_id",
    "version", "content_hash", "landlord", "retention_years", "retention_confirmed", "assignee", "previous",
    "status",
}


SIGN_IN_ATTEMPTS_KEPT = timedelta(days=30)
"""How long a sign-in attempt (a username and a network address: personal data) is kept.

The sign-in limit reads only the last 15 minutes (`web.extensions.SignInLimit.window`). The
rest is kept for security review: a month of attempts shows a password-guessing run or an
account used from an unexpected address when an incident, or the month's failed sign-ins, is
looked into, and such things are noticed within weeks. Older attempts serve no purpose that
would justify keeping them (UK GDPR Article 5(1)(e), storage limitation)."""


@dataclass(frozen=True)
class Due:
    reference: str
    landlord: str
    closed_at: datetime


def cutoff(today: date, years: int) -> datetime:
    """The end of the London day `years` calendar years before today."""
    try:
        earlier = today.replace(year=today.year - years)
    except ValueError:  # 29 February
        earlier = today.replace(year=today.year - years, day=28)
    return end_of_london_day(earlier)


def due_for_anonymising(session: Session, landlords: Mapping[str, Landlord]) -> Iterator[Due]:
    today = london_date(clock.now())
    for landlord in sorted(landlords.values(), key=lambda lord: lord.slug):
        query = select(Complaint.reference, Complaint.closed_at).where(
            Complaint.landlord == landlord.slug, Complaint.status == ComplaintStatus.CLOSED,
            Complaint.anonymised_at.is_(None),
            Complaint.closed_at <= cutoff(today, landlord.retention.years)).order_by(Complaint.closed_at)
        for reference, closed_at in session.execute(query):
            yield Due(reference, landlord.slug, closed_at)


def anonymise(session: Session, casework: Casework, reference: str, actor: str) -> None:
    complaint = session.scalars(select(Complaint).where(Complaint.reference == reference)).one()
    complaint.resident = {"name": REDACTED}
    complaint.representative = None
    complaint.summary = REDACTED
    complaint.outcomes_sought = None
    complaint.reasonable_adjustments = None
    complaint.anonymised_at = clock.now()
    cid = complaint.id
    search.forget(session, cid)
    session.execute(update(Letter).where(Letter.complaint_id == cid)
                    .values(body_html=f"<p>{REDACTED}</p>", sent_to=None))
    session.execute(update(OutboxEmail).where(OutboxEmail.complaint_id == cid,
                                              OutboxEmail.status.in_((EmailStatus.PENDING, EmailStatus.SENDING)))
                    .values(status=EmailStatus.FAILED, next_attempt_at=None,
                            last_error="the complaint was anonymised before this email was sent"))
    session.execute(update(OutboxEmail).where(OutboxEmail.complaint_id == cid)
                    .values(recipient=REDACTED, message=REDACTED))
    session.execute(update(CaseNote).where(CaseNote.complaint_id == cid).values(body=REDACTED))
    session.execute(update(SupportNeeds).where(SupportNeeds.complaint_id == cid)
                    .values(adjustments=None, vulnerabilities=None))
    session.execute(update(PendingEvent).where(PendingEvent.complaint_id == cid).values(data={}))
    session.execute(delete(Attachment).where(Attachment.complaint_id == cid))
    session.execute(delete(LetterPdf).where(LetterPdf.complaint_id == cid))
    broken = audit.reseal(session, complaint,
                          lambda details: {k: (v if k in SAFE_AUDIT_KEYS else REDACTED) for k, v in details.items()})
    instance = casework.instance_of(complaint)
    instance.keep_only_data(lambda key: key in CASE_FACTS or key.endswith("_at"))
    session.execute(update(WorkflowInstance).where(WorkflowInstance.complaint_id == cid)
                    .values(state=instance.dump()))
    retention = casework.landlord(complaint.landlord).retention
    audit.record(session, complaint, audit.ANONYMISED, actor, retention_years=retention.years,
                 retention_confirmed=retention.confirmed,
                 **({audit.BROKEN_BEFORE_ANONYMISING: "; ".join(broken)[:2000]} if broken else {}))


def apply_retention(sessions: sessionmaker[Session], casework: Casework, actor: str, dry_run: bool) -> list[Due]:
    """Anonymise every complaint past its landlord's retention period, one transaction each."""
    with sessions() as session:
        due = list(due_for_anonymising(session, casework.landlords))
    if not dry_run:
        for item in due:
            with sessions.begin() as session:
                anonymise(session, casework, item.reference, actor)
    return due


def forget_old_sign_in_attempts(sessions: sessionmaker[Session], dry_run: bool = False) -> int:
    """Delete the sign-in attempts older than `SIGN_IN_ATTEMPTS_KEPT` (one indexed delete); returns how many.

    The scheduler runs it after its sweeps, and `workflow-app retention` with the anonymising."""
    older = SignInAttempt.at < clock.now() - SIGN_IN_ATTEMPTS_KEPT
    if dry_run:
        with sessions() as session:
            return session.scalar(select(func.count(SignInAttempt.id)).where(older)) or 0
    with sessions.begin() as session:
        return session.execute(delete(SignInAttempt).where(older)).rowcount
