"""The append-only audit trail: one event per change, in the change's own transaction.

An action records many events (a task completed, deadlines met and set, a letter issued,
the next task ready). They are kept on the session as they are recorded and written
together, in recorded order, as one multi-row insert at the session's next flush or at
commit, whichever comes first: one statement per action instead of one per event, in the
same transaction as the change they describe. A rollback drops them with it.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import event, insert, select
from sqlalchemy.orm import Session

from workflow_app.casework.models import AuditEvent, Complaint
from workflow_app.rules import clock

CLOCK = "clock"
"""The actor of everything time does: timers firing (in a sweep, or in someone's action) and what follows."""

_PENDING = "audit_events_pending"


def record(session: Session, complaint: Complaint | None, type: str, actor: str, **details: Any) -> None:
    """Record one event; it is written with the session's next flush or commit."""
    if complaint is not None and complaint.id is None:
        session.flush()   # a complaint logged in this transaction gets its id first
    session.info.setdefault(_PENDING, []).append({
        "complaint_id": complaint.id if complaint is not None else None,
        "landlord": complaint.landlord if complaint is not None else details.pop("landlord", None),
        "at": clock.now(),
        "actor": actor,
        "type": type,
        "details": details,
    })


@event.listens_for(Session, "after_flush")
def _write_after_flush(session: Session, _context) -> None:
    _write(session)


@event.listens_for(Session, "before_commit")
def _write_before_commit(session: Session) -> None:
    _write(session)


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(_PENDING, None)


def _write(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if pending:
        session.connection().execute(insert(AuditEvent), pending)


def history(session: Session, complaint: Complaint) -> list[AuditEvent]:
    session.flush()
    _write(session)
    return list(session.scalars(
        select(AuditEvent).where(AuditEvent.complaint_id == complaint.id).order_by(AuditEvent.id)
    ))


def as_json(event: AuditEvent) -> dict[str, Any]:
    return {"at": event.at.isoformat(), "type": event.type, "actor": event.actor, **event.details}
