"""Complaints: logging them, reading their record, and events from outside.

Each public method is one transaction: it either does everything (the complaint, its
instance, tasks, deadlines and audit events) or nothing.
"""
from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, contains_eager, make_transient_to_detached, sessionmaker
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from workflow_app.casework import audit, search
from workflow_app.casework.deployments import VersionKey, current_version_columns, current_version_key, version_key
from workflow_app.casework.engine import Action, Casework, deliver_event
from workflow_app.casework.instances import Instance
from workflow_app.casework.models import (
    Complaint,
    Deadline,
    PendingEvent,
    ReferenceCounter,
    Task,
    User,
    WorkflowInstance,
)
from workflow_app.casework.schemas import MAX_EVENT_BYTES, EventPost, NewComplaint, parse
from workflow_app.rules import clock
from workflow_app.rules.calendar import london_date
from workflow_app.rules.errors import Conflict, InvalidInput, NotFound
from workflow_app.rules.statuses import CaseKind, ComplaintStatus, DeadlineStatus, TaskStatus
from workflow_app.rules.vocabulary import CHANNELS


@contextmanager
def transaction(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work; a concurrent change to the same complaint becomes a Conflict."""
    try:
        with sessions.begin() as session:
            yield session
    except StaleDataError:
        raise Conflict("someone else changed this complaint at the same moment; reload and try again") from None
    except OperationalError as error:
        if "locked" not in str(error) and "busy" not in str(error):
            raise
        raise Conflict("the database was busy and nothing was saved; try again") from None


class ComplaintService:
    def __init__(self, sessions: sessionmaker[Session], casework: Casework) -> None:
        self.sessions = sessions
        self.casework = casework

    # --- logging ----------------------------------------------------------------------

    def log_complaint(self, fields: Mapping[str, Any], user: User) -> str:
        """Log a complaint and start its landlord's current process; returns the reference."""
        values = self._checked(fields, user)
        with transaction(self.sessions) as session:
            landlord = self.casework.landlord(values["landlord"])
            reference, version = self._reference_and_version(session, landlord.slug, landlord.reference_prefix)
            complaint = _insert_complaint(session, {
                "reference": reference, "created_at": clock.now(), "created_by": user.username,
                **{k: v for k, v in values.items() if k != "received_earlier_reason"},
            })
            search.index(session, complaint, new=True)
            audit.record(session, complaint, "complaint_logged", user.username, reference=complaint.reference,
                         channel=complaint.channel, category=complaint.category,
                         received_at=complaint.received_at.isoformat(), definition_version=version.version,
                         received_earlier_reason=values.get("received_earlier_reason"))
            definition = self.casework.definition(session, version.id)
            instance = Instance.start(definition, landlord.nation, case_data(complaint))
            set_committed_value(complaint, "instance", new_instance(complaint, version.id))
            self.casework.act(session, complaint, instance, user.username,
                              lambda inst, action: action.steps.extend(inst.advance()), new=True)
            return complaint.reference

    def problems(self, fields: Mapping[str, Any], user: User) -> dict[str, list[str]]:
        """What `log_complaint` would refuse in these fields, by field (empty when nothing), without logging: a form
        shows them beside its own checks, so every error appears at once."""
        try:
            self._checked(fields, user)
        except InvalidInput as refused:
            return refused.errors
        return {}

    def _checked(self, fields: Mapping[str, Any] | NewComplaint, user: User) -> dict[str, Any]:
        """The complaint as the service stores it; every error at once, by field."""
        errors: dict[str, list[str]] = {}
        try:
            complaint = parse(NewComplaint, fields)
        except InvalidInput as refused:
            complaint, errors = None, refused.errors
        landlord = complaint.landlord if complaint else fields.get("landlord") if isinstance(fields, Mapping) else None
        if isinstance(landlord, str) and "landlord" not in errors:
            if landlord not in self.casework.landlords:
                errors["landlord"] = [f"unknown landlord {landlord!r}"]
            elif not user.may_see(landlord):
                errors["landlord"] = ["you may not log complaints for this landlord"]
        if complaint and complaint.received_at > clock.now() + timedelta(minutes=1):
            errors["received_at"] = ["cannot be in the future"]
        representative = complaint.representative.model_dump() if complaint and complaint.representative else \
            fields.get("representative") if isinstance(fields, Mapping) else None
        if isinstance(representative, Mapping) and representative and not representative.get("authority") \
                and not errors.get("representative"):
            errors["representative.authority"] = ["record the representative's authority to act"]
        if errors or complaint is None:
            raise InvalidInput(errors)
        values = complaint.model_dump(exclude={"resident", "representative"})
        values["resident"] = complaint.resident.model_dump(exclude_none=True)
        values["representative"] = complaint.representative.model_dump(exclude_none=True) \
            if complaint.representative else None
        return values

    @classmethod
    def _reference_and_version(cls, session: Session, landlord: str, prefix: str) -> tuple[str, VersionKey]:
        """The complaint's reference and the landlord's current process version, drawn and read in one statement
        (the landlord's first complaint of a year starts its counter, and reads the version on its own)."""
        year = london_date(clock.now()).year
        row = session.connection().execute(_NEXT_NUMBER_AND_VERSION, {"counter": landlord, "of_year": year}).first()
        if row is None:
            return cls._next_reference(session, landlord, prefix), current_version_key(session, landlord)
        number, version_id, version_number = row
        return _reference(prefix, year, number), version_key(landlord, version_id, version_number)

    @staticmethod
    def _next_reference(session: Session, landlord: str, prefix: str) -> str:
        year = london_date(clock.now()).year
        for _ in range(3):
            number = session.connection().execute(_NEXT_NUMBER, {"counter": landlord, "of_year": year}).scalar()
            if number is not None:
                return _reference(prefix, year, number)
            try:
                with session.begin_nested():
                    session.add(ReferenceCounter(landlord=landlord, year=year, last=1))
                return _reference(prefix, year, 1)
            except IntegrityError:
                continue
        raise Conflict("could not allocate a reference number; try again")

    # --- reading ------------------------------------------------------------------------

    def complaint(self, session: Session, reference: str, user: User, with_instance: bool = False) -> Complaint:
        """The complaint the user may see, by reference; `with_instance`: its instance read in the same statement
        (an action on it)."""
        query = _BY_REFERENCE_WITH_INSTANCE if with_instance else _BY_REFERENCE
        complaint = session.scalars(query, {"reference": reference}).first()
        if complaint is None or not user.may_see(complaint.landlord):
            raise NotFound(f"no complaint {reference}")
        return complaint

    def describe(self, reference: str, user: User) -> dict[str, Any]:
        with self.sessions() as session:
            return complaint_body(session, self.complaint(session, reference, user))

    def history(self, reference: str, user: User) -> list[dict[str, Any]]:
        with self.sessions() as session:
            return [audit.as_json(e) for e in audit.history(session, self.complaint(session, reference, user))]

    # --- events from outside ------------------------------------------------------------

    def send_event(self, reference: str, name: str, data: Any, user: User,
                   received_at: datetime | None = None) -> dict[str, Any]:
        """Deliver an event to the complaint's process, or keep it until the process can take it.

        `received_at` is when it arrived (an escalation asked for by phone this morning, recorded now): not in
        the future, nor before the complaint was received; now when not given. The diagram counts from it.
        A closed complaint takes only an event its process still waits for, which reopens it (Great Places
        closes a complaint at stage 1 but still takes a stage 2 request afterwards); any other is refused."""
        data = parse(EventPost, {"data": {} if data is None else data}).data
        if len(json.dumps(data, default=str)) > MAX_EVENT_BYTES:
            raise InvalidInput({"data": f"is larger than {MAX_EVENT_BYTES // 1024} KB"})
        if "channel" in data and data["channel"] not in CHANNELS:
            raise InvalidInput({"channel": f"must be one of {', '.join(CHANNELS)}"})
        now = clock.now()
        if received_at is not None and received_at.tzinfo is None:
            raise InvalidInput({"received_at": "must say its time zone"})
        if received_at is not None and received_at > now:
            raise InvalidInput({"received_at": "cannot be in the future"})
        with transaction(self.sessions) as session:
            complaint = self.complaint(session, reference, user, with_instance=True)
            if received_at is not None and received_at < complaint.received_at.replace(second=0, microsecond=0):
                raise InvalidInput({"received_at": "cannot be before the complaint was received"})
            instance = self.casework.instance_of(complaint)
            if complaint.status == ComplaintStatus.CLOSED and (
                    complaint.anonymised_at is not None or instance.finished or not instance.waits_for_message(name)):
                raise Conflict(f"complaint {reference} is closed; a new complaint must be logged")
            if name not in instance.definition.messages:
                known = ", ".join(sorted(instance.definition.messages)) or "none"
                raise InvalidInput({"name": f"the process has no event called {name!r} (it knows: {known})"})
            at = received_at or now
            outcome = {}

            def move(inst: Instance, action: Action) -> None:
                outcome["delivered"] = deliver_event(inst, name, dict(data), at, action)
                audit.record(session, complaint, "event_received", user.username, name=name,
                             pending=not outcome["delivered"],
                             **({"received_at": at.isoformat()} if received_at else {}),
                             **({"channel": data["channel"]} if "channel" in data else {}))
                if not outcome["delivered"]:
                    complaint.instance.pending_events += 1
                    session.add(PendingEvent(complaint_id=complaint.id, name=name, data=dict(data),
                                             received_at=at, received_by=user.username))

            self.casework.act(session, complaint, instance, user.username, move)
            delivered = outcome["delivered"]
            return {"reference": reference, "event": name, "delivered": delivered, "pending": not delivered}

    # --- timers -------------------------------------------------------------------------

    def retry(self, reference: str, user: User) -> dict[str, Any]:
        """Run the complaint's process on now, working out again any timer that failed (an incident)."""
        with transaction(self.sessions) as session:
            complaint = self.complaint(session, reference, user, with_instance=True)
            if complaint.status == ComplaintStatus.CLOSED:
                raise Conflict(f"complaint {reference} is closed")
            instance = self.casework.instance_of(complaint)
            self.casework.act(session, complaint, instance, user.username,
                              lambda inst, action: action.steps.extend(inst.advance()))
            return {"reference": reference, "failed_timers": sorted(instance.failed_timers())}

    def fire_due_timers(self, complaint_id: int) -> bool:
        """Fire a complaint's due timers once; False when another sweep got there first."""
        try:
            with transaction(self.sessions) as session:
                query = _DUE_FOR_UPDATE if session.bind.dialect.name == "postgresql" else _DUE
                complaint = session.scalars(query, {"complaint_id": complaint_id, "now": clock.now()}).first()
                if complaint is None:
                    return False
                instance = self.casework.instance_of(complaint)
                self.casework.act(session, complaint, instance, audit.CLOCK,
                                  lambda inst, action: action.steps.extend(inst.advance()))
                return True
        except Conflict:
            return False


_counters = ReferenceCounter.__table__
_NEXT_NUMBER = update(_counters).where(_counters.c.landlord == bindparam("counter"),
                                       _counters.c.year == bindparam("of_year")) \
    .values(last=_counters.c.last + 1).returning(_counters.c.last)
"""The landlord's next number this year. This and the queries below are built once: building a statement costs
more than running it, and every action runs one of them."""
_NEXT_NUMBER_AND_VERSION = _NEXT_NUMBER.returning(*current_version_columns(bindparam("counter")))
"""The next number, with the landlord's current complaint process version (its id and number) beside it."""
_BY_REFERENCE = select(Complaint).where(Complaint.reference == bindparam("reference"))
_BY_REFERENCE_WITH_INSTANCE = _BY_REFERENCE.join(Complaint.instance).options(contains_eager(Complaint.instance))
_DUE = select(Complaint).join(Complaint.instance).options(contains_eager(Complaint.instance)).where(
    WorkflowInstance.complaint_id == bindparam("complaint_id"), WorkflowInstance.next_due_at < bindparam("now"))
"""A complaint with its instance when one of its timers is due; on PostgreSQL, locked, and skipped when another
sweep holds it."""
_DUE_FOR_UPDATE = _DUE.with_for_update(skip_locked=True, of=WorkflowInstance)


def _insert_complaint(session: Session, values: dict[str, Any]) -> Complaint:
    """A complaint logged in this action: its row inserted with one prebuilt statement (not through the session's
    flush), then held by the session as read, every column known, with no instance yet (nothing to look up)."""
    row = {**_NEW_COMPLAINT, **values}
    row["id"] = session.connection().execute(_INSERT_COMPLAINT, row).inserted_primary_key[0]
    complaint = Complaint(**row)
    make_transient_to_detached(complaint)
    session.add(complaint)
    set_committed_value(complaint, "instance", None)
    return complaint


_INSERT_COMPLAINT = insert(Complaint.__table__)
_NEW_COMPLAINT = {"status": ComplaintStatus.OPEN, "stage": "pre", "outcome": None, "closed_at": None,
                  "anonymised_at": None, "kind": CaseKind.COMPLAINT, "raised_from_id": None, "audit_head": None}
"""A new complaint's columns the form does not give."""


def _reference(prefix: str, year: int, number: int) -> str:
    return f"{prefix}-{year}-{number:06d}"


def new_instance(complaint: Complaint, version_id: int) -> WorkflowInstance:
    """The instance of a complaint logged in this action, not yet written: `Casework.act` inserts it, first of the
    action's rows (the session does not hold it)."""
    return WorkflowInstance(complaint_id=complaint.id, definition_version_id=version_id, state="",
                            updated_at=clock.now(), pending_events=0, open_incidents=0)


def case_data(complaint: Complaint) -> dict[str, Any]:
    """What the diagram sees of a complaint: facts, not personal details."""
    return {
        "reference": complaint.reference,
        "landlord": complaint.landlord,
        "received_at": complaint.received_at,
        "channel": complaint.channel,
        "category": complaint.category,
        "has_representative": bool(complaint.representative),
    }


def complaint_body(session: Session, complaint: Complaint) -> dict[str, Any]:
    deadlines = session.scalars(select(Deadline).where(Deadline.complaint_id == complaint.id,
                                                       Deadline.status != DeadlineStatus.CANCELLED)
                                .order_by(Deadline.id))
    tasks = session.scalars(select(Task).where(Task.complaint_id == complaint.id, Task.status == TaskStatus.OPEN)
                            .order_by(Task.created_at, Task.id))
    return {
        "reference": complaint.reference,
        "landlord": complaint.landlord,
        "stage": complaint.stage,
        "status": complaint.status,
        "outcome": complaint.outcome,
        "received_at": complaint.received_at.isoformat(),
        "deadlines": [{"key": d.key, "stage": d.stage, "due_at": d.due_at.isoformat(), "met_at": _iso(d.met_at),
                       "missed": d.missed, "extended": d.extended, **({"met_by": d.met_by} if d.met_by else {})}
                      for d in deadlines],
        "open_tasks": [task_body(t) for t in tasks],
    }


def task_body(task: Task) -> dict[str, Any]:
    return {"id": task.id, "element_id": task.element_id, "name": task.name, "stage": task.stage,
            "role": task.role, "assignee": task.assignee, "due_at": _iso(task.due_at)}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
