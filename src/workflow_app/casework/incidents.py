"""Incidents: where a complaint's diagram failed while it ran, or its audit trail was found
broken, for the analysts to see to.

A timer whose due time cannot be worked out on a complaint's own data (a number a form let
through that the calendar refuses, a date the case never recorded) does not undo the
action that armed it: the engine records an incident instead (`engine.Casework`), and it
stays listed here, with what failed, where and since when, until an action finds the
timer working again: the complaint moved to a corrected version, or tried again.

A complaint whose audit trail's hash chain is broken (an event edited, deleted or inserted
out of order: casework/audit.py) is found by `workflow-app verify`, which records it here
(`record_broken_trails`) beside the timers, because the same people watch this list and a
broken legal record needs someone to look into it. No action on the complaint resolves it;
it stays open until verify finds the trail whole again (the events restored).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workflow_app.casework import audit
from workflow_app.casework.models import Complaint, DefinitionVersion, Incident, WorkflowInstance
from workflow_app.rules import clock

TIMER = "timer"
AUDIT_TRAIL = "audit_trail"
VERIFY = "verify"
"""The actor of what `workflow-app verify` records."""


@dataclass(frozen=True)
class OpenIncident:
    reference: str
    element_id: str
    element_name: str
    kind: str
    message: str
    since: datetime
    version: int


def open_incidents(session: Session, landlord: str) -> list[OpenIncident]:
    """The landlord's unresolved incidents, oldest first, with a timer's element's name in its version."""
    from workflow_app.casework.engine import load_definition
    rows = session.execute(
        select(Incident, Complaint.reference, DefinitionVersion)
        .join(Complaint, Complaint.id == Incident.complaint_id)
        .join(WorkflowInstance, WorkflowInstance.complaint_id == Complaint.id)
        .join(DefinitionVersion, DefinitionVersion.id == WorkflowInstance.definition_version_id)
        .where(Incident.landlord == landlord, Incident.resolved_at.is_(None))
        .order_by(Incident.since, Incident.id)).all()
    listed = []
    for incident, reference, version in rows:
        element = load_definition(version).elements.get(incident.element_id) if incident.kind == TIMER else None
        listed.append(OpenIncident(reference, incident.element_id, element.name if element else incident.element_id,
                                   incident.kind, incident.message, incident.since, version.version))
    return listed


def count_open(session: Session, landlord: str) -> int:
    return session.scalar(select(func.count(Incident.id)).where(Incident.landlord == landlord,
                                                                Incident.resolved_at.is_(None))) or 0


def record_broken_trails(session: Session, broken: Mapping[int, list[str]], actor: str = VERIFY) -> tuple[int, int]:
    """Open an incident for each complaint whose audit trail is broken (`broken`: complaint id -> what is wrong,
    from `audit.broken_chains`), unless one is open already; resolve those open whose trail is whole again.
    Returns how many were opened and resolved."""
    now = clock.now()
    still_open = {incident.complaint_id: incident for incident in session.scalars(
        select(Incident).where(Incident.kind == AUDIT_TRAIL, Incident.resolved_at.is_(None)))}
    opened = 0
    for complaint_id, problems in broken.items():
        message = "; ".join(problems)[:2000]
        incident = still_open.pop(complaint_id, None)
        if incident is not None:
            incident.message = message
            continue
        complaint = session.get(Complaint, complaint_id)
        session.add(Incident(complaint_id=complaint_id, landlord=complaint.landlord, element_id=AUDIT_TRAIL,
                             kind=AUDIT_TRAIL, message=message, since=now))
        audit.record(session, complaint, "incident_opened", actor, element_id=AUDIT_TRAIL, kind=AUDIT_TRAIL,
                     message=message)
        opened += 1
    for complaint_id, incident in still_open.items():
        incident.resolved_at = now
        audit.record(session, session.get(Complaint, complaint_id), "incident_resolved", actor,
                     element_id=AUDIT_TRAIL, kind=AUDIT_TRAIL)
    return opened, len(still_open)
