"""Incidents: where a complaint's diagram failed while it ran, for the analysts to fix.

A timer whose due time cannot be worked out on a complaint's own data (a number a form let
through that the calendar refuses, a date the case never recorded) does not undo the
action that armed it: the engine records an incident instead (`engine.Casework`), and it
stays listed here, with what failed, where and since when, until an action finds the
timer working again: the complaint moved to a corrected version, or tried again.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workflow_app.casework.models import Complaint, DefinitionVersion, Incident, WorkflowInstance


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
    """The landlord's unresolved incidents, oldest first, with the element's name in its version."""
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
        element = load_definition(version).elements.get(incident.element_id)
        listed.append(OpenIncident(reference, incident.element_id, element.name if element else incident.element_id,
                                   incident.kind, incident.message, incident.since, version.version))
    return listed


def count_open(session: Session, landlord: str) -> int:
    return session.scalar(select(func.count(Incident.id)).where(Incident.landlord == landlord,
                                                                Incident.resolved_at.is_(None))) or 0
