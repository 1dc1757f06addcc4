"""Hazard cases beside complaints (Awaab's Law): starting them, and the link between the two.

A hazard case is a case of its own (a `complaints` row of kind `hazard`) running the landlord's hazard
process (`processes/<landlord>/hazard.bpmn`) through the same engine as complaints: its tasks land in the
same inbox, its timers come due in the same sweep, its audit events chain as a complaint's do. It is
started where the hazard is first heard of: from a complaint (a damp and mould complaint, or a caseworker
ticking "possible hazard" on a complaint or a task), or on its own (a repair report). Its `received_at` is
when the landlord became aware: the complaint's received time unless the caseworker records an earlier
one, with the reason. The case and its complaint link both ways through `Complaint.raised_from_id`.

Each public method is one transaction: the hazard case, its instance, tasks, deadlines, the audit events on
the hazard case and on the complaint, or nothing.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.attributes import set_committed_value

from workflow_app.casework import audit
from workflow_app.casework.complaints import ComplaintService, case_data, new_instance, transaction
from workflow_app.casework.deployments import current_hazard_version
from workflow_app.casework.engine import Casework
from workflow_app.casework.instances import Instance
from workflow_app.casework.models import Complaint, SupportNeeds, User
from workflow_app.rules import clock
from workflow_app.rules.errors import Conflict, InvalidInput
from workflow_app.rules.hazards import HAZARD_CATEGORY
from workflow_app.rules.statuses import CaseKind, ComplaintStatus

HAZARD_REFERENCE = "HZ"
"""A hazard case's reference: the landlord's prefix, HZ, the year and its own number (GPHZ-2026-000001)."""


def hazard_offered(complaint: Complaint) -> bool:
    """Whether the case page offers to start a hazard case at once: a complaint about the home's condition
    (damp and mould)."""
    return complaint.kind == CaseKind.COMPLAINT and complaint.category == HAZARD_CATEGORY


class HazardService:
    def __init__(self, sessions: sessionmaker[Session], casework: Casework, complaints: ComplaintService) -> None:
        self.sessions = sessions
        self.casework = casework
        self.complaints = complaints

    def start_from_complaint(self, reference: str, user: User, aware_at: datetime | None = None,
                             earlier_reason: str | None = None, source: str = "complaint") -> str:
        """Start a hazard case from a complaint; returns the hazard case's reference.

        `aware_at` is when the landlord became aware, if earlier than the complaint's received time (with
        `earlier_reason`); `source` says where the hazard was heard of (`complaint`, or `task:<element id>`
        when ticked on a task)."""
        with transaction(self.sessions) as session:
            complaint = self.complaints.complaint(session, reference, user)
            if complaint.kind != CaseKind.COMPLAINT:
                raise InvalidInput({"reference": f"{reference} is a hazard case, not a complaint"})
            aware = self._aware_at(complaint.received_at, aware_at, earlier_reason)
            hazard = self._start(session, user, landlord=complaint.landlord, received_at=aware,
                                 channel=complaint.channel, category=complaint.category, summary=complaint.summary,
                                 resident=dict(complaint.resident or {}), raised_from=complaint,
                                 details={"raised_from": complaint.reference, "source": source,
                                          **({"aware_earlier_reason": earlier_reason} if aware_at else {})})
            audit.record(session, complaint, "hazard_case_started", user.username, hazard=hazard.reference,
                         aware_at=aware.isoformat(), source=source)
            return hazard.reference

    def log_report(self, fields: Mapping[str, Any], user: User) -> str:
        """Log a hazard reported on its own (a repair report, no complaint) and start its case."""
        values = self.complaints._checked(fields, user)
        with transaction(self.sessions) as session:
            hazard = self._start(session, user, landlord=values["landlord"], received_at=values["received_at"],
                                 channel=values["channel"], category=values["category"], summary=values["summary"],
                                 resident=values["resident"], raised_from=None,
                                 details={"source": "repair_report",
                                          "received_earlier_reason": values.get("received_earlier_reason")})
            return hazard.reference

    @staticmethod
    def _aware_at(received_at: datetime, aware_at: datetime | None, reason: str | None) -> datetime:
        if aware_at is None:
            return received_at
        errors = {}
        if aware_at.tzinfo is None:
            errors["aware_at"] = ["give the time with its UTC offset"]
        elif aware_at > received_at:
            errors["aware_at"] = ["becoming aware later than the complaint was received is not earlier: leave it "
                                  "empty to count from the complaint"]
        elif aware_at > clock.now() + timedelta(minutes=1):
            errors["aware_at"] = ["cannot be in the future"]
        if not (reason or "").strip():
            errors["aware_earlier_reason"] = ["say how the landlord knew earlier"]
        if errors:
            raise InvalidInput(errors)
        return aware_at

    def _start(self, session: Session, user: User, *, landlord: str, received_at: datetime, channel: str,
               category: str, summary: str, resident: dict[str, Any], raised_from: Complaint | None,
               details: dict[str, Any]) -> Complaint:
        settings = self.casework.landlord(landlord)
        version = current_hazard_version(session, landlord)
        if raised_from is not None and raised_from.status == ComplaintStatus.CLOSED:
            raise Conflict(f"complaint {raised_from.reference} is closed; log the hazard as a repair report")
        hazard = Complaint(
            reference=self.complaints._next_reference(
                session, f"{landlord}.{CaseKind.HAZARD}", f"{settings.reference_prefix}{HAZARD_REFERENCE}"),
            kind=CaseKind.HAZARD, raised_from_id=raised_from.id if raised_from is not None else None,
            landlord=landlord, received_at=received_at, channel=channel, category=category, summary=summary,
            resident=resident, created_at=clock.now(), created_by=user.username, status=ComplaintStatus.OPEN,
            stage="hazard")
        session.add(hazard)
        session.flush()
        set_committed_value(hazard, "instance", None)
        audit.record(session, hazard, "hazard_logged", user.username, reference=hazard.reference,
                     aware_at=received_at.isoformat(), definition_version=version.version,
                     **{k: v for k, v in details.items() if v is not None})
        definition = self.casework.definition(session, version.id)
        data = {**case_data(hazard), "raised_from": details.get("raised_from")}
        instance = Instance.start(definition, settings.nation, data)
        set_committed_value(hazard, "instance", new_instance(hazard, version.id))
        self.casework.act(session, hazard, instance, user.username,
                          lambda inst, action: action.steps.extend(inst.advance()), new=True)
        return hazard


def hazards_of(session: Session, complaint: Complaint) -> list[Complaint]:
    """The hazard cases raised from a complaint, oldest first."""
    return list(session.scalars(select(Complaint).where(Complaint.raised_from_id == complaint.id)
                                .order_by(Complaint.id)))


def raised_from(session: Session, hazard: Complaint) -> Complaint | None:
    """The complaint a hazard case was raised from (none for a repair report)."""
    return session.get(Complaint, hazard.raised_from_id) if hazard.raised_from_id is not None else None


def vulnerabilities(session: Session, case: Complaint) -> str | None:
    """The household's recorded vulnerabilities, latest first: on the case, or on the complaint it was raised from.
    Shown at triage, where they weigh on the emergency / significant decision."""
    ids = [case.id] + ([case.raised_from_id] if case.raised_from_id is not None else [])
    return session.scalar(select(SupportNeeds.vulnerabilities).where(
        SupportNeeds.complaint_id.in_(ids), SupportNeeds.vulnerabilities.is_not(None))
        .order_by(SupportNeeds.recorded_at.desc(), SupportNeeds.id.desc()).limit(1))
