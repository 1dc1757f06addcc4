"""The append-only audit trail: one event per change, in the change's own transaction."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow_app.casework.models import AuditEvent, Complaint
from workflow_app.rules import clock

CLOCK = "clock"
"""The actor of everything time does: timers firing (in a sweep, or in someone's action) and what follows."""


def record(session: Session, complaint: Complaint | None, type: str, actor: str, **details: Any) -> AuditEvent:
    event = AuditEvent(
        complaint_id=complaint.id if complaint is not None else None,
        landlord=complaint.landlord if complaint is not None else details.pop("landlord", None),
        at=clock.now(),
        actor=actor,
        type=type,
        details=details,
    )
    session.add(event)
    return event


def history(session: Session, complaint: Complaint) -> list[AuditEvent]:
    return list(session.scalars(
        select(AuditEvent).where(AuditEvent.complaint_id == complaint.id).order_by(AuditEvent.id)
    ))


def as_json(event: AuditEvent) -> dict[str, Any]:
    return {"at": event.at.isoformat(), "type": event.type, "actor": event.actor, **event.details}
