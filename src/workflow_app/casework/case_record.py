"""The full record of a complaint (Code 5.12), read for the task and case pages and the export,
and the few things a caseworker adds to it directly: notes, attachments, support needs.

Reading never moves a complaint: it reads the indexed rows the engine keeps, and opens the
instance's state only to mark the diagram. Each write is one transaction with its audit event.
"""
from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from workflow_app.casework import audit, hazards
from workflow_app.casework.complaints import transaction
from workflow_app.casework.engine import Casework, load_definition
from workflow_app.casework.instances import TaskNotOpen
from workflow_app.casework.models import (
    Attachment,
    AuditEvent,
    CaseNote,
    Complaint,
    Deadline,
    Letter,
    LetterPdf,
    OutboxEmail,
    SupportNeeds,
    Task,
    User,
)
from workflow_app.diagrams.forms import Form
from workflow_app.diagrams.printed_letters import STANDARD_PT
from workflow_app.rules import clock
from workflow_app.rules.calendar import calendar_for, end_of_london_day, london_date
from workflow_app.rules.errors import InvalidInput, NotFound
from workflow_app.rules.regime import Regime
from workflow_app.rules.statuses import ComplaintStatus, DeadlineStatus, TaskStatus
from workflow_app.rules.vocabulary import (
    CATEGORY_NAMES,
    CHANNEL_NAMES,
    DEADLINE_NAMES,
    RESPONSE_KEYS,
    STAGE_NAMES,
    DeadlineKey,
)

MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
# What residents and staff send as evidence; the type is taken from this list, never from the upload.
ATTACHMENT_TYPES = {
    ".pdf": "application/pdf", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png",
    ".gif": "image/gif", ".heic": "image/heic", ".txt": "text/plain", ".rtf": "application/rtf",
    ".doc": "application/msword", ".odt": "application/vnd.oasis.opendocument.text",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xls": "application/vnd.ms-excel", ".csv": "text/csv",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".eml": "message/rfc822", ".msg": "application/vnd.ms-outlook",
    ".mp3": "audio/mpeg", ".m4a": "audio/mp4", ".wav": "audio/wav", ".mp4": "video/mp4", ".mov": "video/quicktime",
}
MAX_NOTE = 20_000


def complaint_for(session: Session, reference: str, user: User) -> Complaint:
    complaint = session.scalars(select(Complaint).where(Complaint.reference == reference)).first()
    if complaint is None or not user.may_see(complaint.landlord):
        raise NotFound(f"no complaint {reference}")
    return complaint


def task_for(session: Session, task_id: str, user: User) -> tuple[Task, Complaint]:
    task = session.get(Task, task_id)
    complaint = session.get(Complaint, task.complaint_id) if task is not None else None
    if task is None or not user.may_see(complaint.landlord):
        raise NotFound(f"no task {task_id}")
    return task, complaint


# --- due times ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Due:
    """How a due time stands now, in the landlord's working days."""

    at: datetime
    working_days_left: int
    overdue: bool
    today: bool

    @property
    def words(self) -> str:
        if self.overdue:
            late = -self.working_days_left
            return "Overdue" if late <= 0 else f"Overdue by {late} working day{'s' if late != 1 else ''}"
        if self.today:
            return "Due today"
        n = self.working_days_left
        return f"{n} working day{'s' if n != 1 else ''} left"


def due(at: datetime | None, nation: str, now: datetime | None = None) -> Due | None:
    if at is None:
        return None
    now = now or clock.now()
    left = calendar_for(nation).working_days_between(now, at)
    overdue = at < now
    return Due(at, left, overdue, not overdue and london_date(at) == london_date(now))


def due_today_end(now: datetime | None = None) -> datetime:
    return end_of_london_day(london_date(now or clock.now()))


# --- labels of what forms collected --------------------------------------------------------

def form_labels(version, form_id: str | None) -> dict[str, Any]:
    """Field key -> (label, {option value: option label}) for a form of a deployed version."""
    if not form_id:
        return {}
    form = load_definition(version).forms.get(form_id)
    if form is None:
        return {}
    labels: dict[str, Any] = {}

    def walk(components):
        for c in components or []:
            if c.get("key"):
                options = {str(v.get("value")): v.get("label") for v in c.get("values") or [] if isinstance(v, dict)}
                labels[c["key"]] = (c.get("label") or c["key"], options)
            walk(c.get("components"))
    walk(form.source.get("components"))
    return labels


def answers(version, form_id: str | None, data: Mapping[str, Any]) -> list[tuple[str, str]]:
    """A completed form's answers as (label, shown value), in the form's order (none once anonymised)."""
    labels = form_labels(version, form_id)
    shown = []
    for key, value in (data.items() if isinstance(data, Mapping) else ()):
        label, options = labels.get(key, (key.replace("_", " ").capitalize(), {}))
        if isinstance(value, list):
            text = ", ".join(options.get(str(v), str(v)) for v in value)
        elif isinstance(value, bool):
            text = "Yes" if value else "No"
        elif value is None:
            text = "—"
        else:
            text = options.get(str(value), str(value))
        shown.append((label, text))
    return shown


# --- the task page -------------------------------------------------------------------------

def completed_work(session: Session, complaint: Complaint) -> list[dict[str, Any]]:
    """Every completed task with who did it, when, and what they recorded, oldest first."""
    events = session.scalars(select(AuditEvent).where(AuditEvent.complaint_id == complaint.id,
                                                      AuditEvent.type == "task_completed")
                             .order_by(AuditEvent.id))
    version = complaint.instance.definition_version
    forms = {t.id: t.form_id for t in session.scalars(select(Task).where(Task.complaint_id == complaint.id))}
    work = []
    for event in events:
        details = event.details
        work.append({
            "task_id": details.get("task_id"), "element_id": details.get("element_id"),
            "name": details.get("name"), "stage": details.get("stage"), "by": event.actor, "at": event.at,
            "answers": answers(version, forms.get(details.get("task_id")), details.get("data") or {}),
        })
    return work


def separation(session: Session, complaint: Complaint, task: Task) -> dict[str, Any] | None:
    """Code 6.13 as it applies to this task: who may not do it, and why (None if it does not apply)."""
    definition = load_definition(complaint.instance.definition_version)
    element = definition.elements.get(task.element_id)
    if element is None or not element.separate_from:
        return None
    earlier = list(session.scalars(select(Task).where(
        Task.complaint_id == complaint.id, Task.element_id.in_(element.separate_from),
        Task.status == TaskStatus.COMPLETED).order_by(Task.completed_at)))
    names = [definition.elements[e].name for e in element.separate_from if e in definition.elements]
    return {"tasks": names, "excluded": sorted({t.completed_by for t in earlier if t.completed_by})}


CARRIED_FORWARD = {"stage2_definition": "complaint_definition", "stage2_outcomes_sought": "outcomes_sought"}
"""A later form's field that starts from an earlier answer of another name (stage 2's definition from stage 1's)."""
PREFILLED_TYPES = frozenset({"textfield", "textarea"})
"""Fields a form starts filled in: text to edit. Decisions (choices, numbers, dates) are made afresh each time."""


def known_answers(form: Form, complaint: Complaint, case: Mapping[str, Any],
                  support: SupportNeeds | None) -> dict[str, str]:
    """What a task's form starts from: the case's earlier answer to the same field (or to the field it carries
    forward), else what was given when the complaint was logged (the outcomes sought, the adjustments)."""
    logged = {"outcomes_sought": complaint.outcomes_sought,
              "reasonable_adjustments": support.adjustments if support else None}
    answers = {}
    for field in form.fields:
        if field.type not in PREFILLED_TYPES:
            continue
        for source in (field.key, CARRIED_FORWARD.get(field.key)):
            value = case.get(source, logged.get(source)) if source else None
            if isinstance(value, str) and value.strip():
                answers[field.key] = value
                break
    return answers


EXTENSION_FIELD = "extension_days"
"""The form field, by key, in which a task extends its stage's response: its form states the regime's limit and
shows the new due date before saving."""


def extension_limit(form: Form | None, regime: Regime, stage: str) -> dict[str, Any] | None:
    """The most the regime lets this stage's response be extended, when the task's form can extend it."""
    limit = regime.limits.get(RESPONSE_KEYS.get(stage, ""))
    if form is None or EXTENSION_FIELD not in form.keys or limit is None or not limit.extension_days:
        return None
    return {"working_days": limit.working_days, "extension_days": limit.extension_days, "starts": limit.starts,
            "provision": f"{regime.cites_as} {limit.extension_provision}" if limit.extension_provision else None,
            "field": EXTENSION_FIELD}


def task_page(session: Session, casework: Casework, task_id: str, user: User) -> dict[str, Any]:
    task, complaint = task_for(session, task_id, user)
    version = complaint.instance.definition_version
    form = load_definition(version).forms.get(task.form_id) if task.form_id else None
    nation = casework.landlord(complaint.landlord).nation
    support = current_support(session, complaint)
    prefill = {}
    if form is not None and task.status == TaskStatus.OPEN:
        try:
            case = casework.instance_of(complaint).task_data(task.id)
        except TaskNotOpen:
            case = {}
        prefill = known_answers(form, complaint, case, support)
    return {
        "task": task, "complaint": complaint, "landlord": casework.landlord(complaint.landlord),
        "form_schema": form.source if form else None, "prefill": prefill,
        "extension": extension_limit(form, casework.landlord(complaint.landlord).regime, task.stage),
        "due": due(task.due_at, nation),
        "deadlines": deadlines(session, complaint, nation),
        "earlier": completed_work(session, complaint),
        "separation": separation(session, complaint, task),
        "letters": list(session.scalars(select(Letter).where(Letter.complaint_id == complaint.id)
                                        .order_by(Letter.id))),
        "support": support,
        "linked": linked_clocks(session, casework, complaint),
        "vulnerabilities": hazards.vulnerabilities(session, complaint) if complaint.is_hazard else None,
    }


def deadlines(session: Session, complaint: Complaint, nation: str) -> list[dict[str, Any]]:
    rows = session.scalars(select(Deadline).where(Deadline.complaint_id == complaint.id).order_by(Deadline.id))
    shown = []
    for d in rows:
        shown.append({
            "row": d, "name": DEADLINE_NAMES.get(d.key, d.key), "stage": STAGE_NAMES.get(d.stage, d.stage),
            "due": due(d.due_at, nation) if d.running else None,   # a missed duty still to do stays overdue
            "state": (DeadlineStatus.MISSED if d.missed
                      else DeadlineStatus.MET if d.status == DeadlineStatus.MET else d.status)
            + (" (met late)" if d.missed and d.met_at else "")
            + (f" by {d.met_by.replace('_', ' ')}" if d.met_at and d.met_by else ""),
        })
    return shown


def current_support(session: Session, complaint: Complaint) -> SupportNeeds | None:
    return session.scalars(select(SupportNeeds).where(SupportNeeds.complaint_id == complaint.id)
                           .order_by(SupportNeeds.id.desc()).limit(1)).first()


# --- the case page -------------------------------------------------------------------------

def diagram_marks(casework: Casework, complaint: Complaint) -> dict[str, list[str]]:
    """Element ids done and where the complaint is now, for marking the diagram."""
    instance = casework.instance_of(complaint)
    current = instance.active_elements()
    return {"done": sorted(instance.passed_through() - current), "current": sorted(current)}


def stage_dates(session: Session, complaint: Complaint, case: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Received, acknowledged and responded per stage, from the deadlines the diagram kept."""
    met = {}
    for d in session.scalars(select(Deadline).where(Deadline.complaint_id == complaint.id)):
        if d.met_at is not None:
            met[d.key] = d.met_at
    return [
        {"stage": "Stage 1", "received": complaint.received_at,
         "acknowledged": _instant(case.get("acknowledged_at")) or met.get(DeadlineKey.STAGE1_ACKNOWLEDGE),
         "responded": met.get(DeadlineKey.STAGE1_RESPONSE)},
        {"stage": "Stage 2", "received": _instant(case.get("escalation_requested_at")),
         "acknowledged": _instant(case.get("stage2_acknowledged_at")) or met.get(DeadlineKey.STAGE2_ACKNOWLEDGE),
         "responded": met.get(DeadlineKey.STAGE2_RESPONSE)},
    ]


def _instant(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


def case_page(session: Session, casework: Casework, reference: str, user: User) -> dict[str, Any]:
    complaint = complaint_for(session, reference, user)
    landlord = casework.landlord(complaint.landlord)
    version = complaint.instance.definition_version
    instance = casework.instance_of(complaint)
    tasks = list(session.scalars(select(Task).where(Task.complaint_id == complaint.id)
                                 .order_by(Task.created_at, Task.id)))
    history = audit.history(session, complaint)
    return {
        "complaint": complaint, "landlord": landlord, "version": version,
        "stage_name": STAGE_NAMES.get(complaint.stage, complaint.stage),
        "stage_dates": stage_dates(session, complaint, instance.data()),
        "deadlines": deadlines(session, complaint, landlord.nation),
        "deadline_reasons": _extension_reasons(session, complaint),
        "tasks": tasks,
        "open_tasks": [t for t in tasks if t.status == TaskStatus.OPEN],
        "work": completed_work(session, complaint),
        "letters": list(session.scalars(select(Letter).where(Letter.complaint_id == complaint.id)
                                        .order_by(Letter.id))),
        "standard_print_pt": STANDARD_PT,
        "letter_pdfs": {row.letter_id: row for row in session.execute(
            select(LetterPdf.letter_id, LetterPdf.size, LetterPdf.pages, LetterPdf.print_size_pt)
            .where(LetterPdf.complaint_id == complaint.id))},
        "emails": {row.letter_id: row for row in session.execute(
            select(OutboxEmail.letter_id, OutboxEmail.status, OutboxEmail.attempts)
            .where(OutboxEmail.complaint_id == complaint.id))},
        "notes": list(session.scalars(select(CaseNote).where(CaseNote.complaint_id == complaint.id)
                                      .order_by(CaseNote.id))),
        "attachments": session.execute(
            select(Attachment.id, Attachment.filename, Attachment.content_type, Attachment.size,
                   Attachment.uploaded_by, Attachment.uploaded_at)
            .where(Attachment.complaint_id == complaint.id).order_by(Attachment.id)).all(),
        "support": list(session.scalars(select(SupportNeeds).where(SupportNeeds.complaint_id == complaint.id)
                                        .order_by(SupportNeeds.id))),
        "history": history,
        "history_in_words": history_in_words(instance.definition, history),
        "events": _events_offered(complaint, instance),
        "marks": _named(instance.definition, diagram_marks(casework, complaint)),
        "linked": (linked := linked_clocks(session, casework, complaint)),
        "hazard_offered": hazards.hazard_offered(complaint) and not linked,
    }


EVENT_NAMES: dict[str, str] = {
    "complaint_logged": "Complaint logged", "stage_changed": "Moved to a new stage", "closed": "Complaint closed",
    "task_ready": "Task ready", "task_claimed": "Task claimed", "task_assigned": "Task assigned",
    "task_released": "Task released", "task_completed": "Task completed", "task_cancelled": "Task no longer needed",
    "deadline_set": "Deadline set", "deadline_met": "Deadline met", "deadline_missed": "Deadline missed",
    "deadline_cancelled": "Deadline no longer running", "timer_fired": "Time reached",
    "letter_issued": "Letter drafted", "letter_edited": "Letter edited", "letter_sent": "Letter sent",
    "letter_set_aside": "Letter set aside", "letter_email_retried": "Letter's email tried again",
    "event_received": "Received from outside", "event_delivered": "Received from outside",
    "note_added": "Note added", "attachment_added": "Attachment added",
    "support_needs_recorded": "Adjustments and support needs recorded",
    "process_version_moved": "Moved to another version of the process",
    "incident_opened": "Problem in the process found", "incident_resolved": "Problem in the process resolved",
    "reopened": "Complaint reopened", "letter_pdf_made": "Letter printed for posting (PDF)",
    "hazard_case_started": "Hazard case started", "hazard_logged": "Hazard logged",
}
"""What the case page's history calls each kind of audit event (any other is shown in words from its name)."""

_DETAIL_LABELS = {
    "element_id": "step", "name": "task", "key": "deadline", "due_at": "due", "met_by": "met by",
    "assignee": "to", "previous": "before", "template": "letter", "sent_to": "sent to",
    "received_at": "received", "definition_version": "process version", "received_earlier_reason": "why earlier",
}
_REASONS = {"next_task": "the complaint's next task, to its owner"}
"""Why a task was assigned, as the history says it (`TaskService` hands the next task on with `next_task`)."""
_WORDS_WITH_UNDERSCORES = {"template", "outcome", "role", "met_by"}
_NOT_SHOWN = {"data", "task_id", "letter_id", "content_hash", "pending", "attachment_id", "note_id"}


def history_in_words(definition, events: list[AuditEvent]) -> list[dict[str, Any]]:
    """The audit trail as people read it: each event's kind, and its details labelled in words, with the
    diagram's names for its steps and the vocabulary's for deadlines, stages, channels and categories."""
    rows = []
    for event in events:
        details = dict(event.details)
        if details.get("name") and details.get("element_id"):
            details.pop("element_id")               # a task's own name says which step it is
        shown = []
        for key, value in details.items():
            if key in _NOT_SHOWN or value is None or value == "":
                continue
            words = _detail_in_words(definition, event.type, key, value)
            if words is not None:
                shown.append((_DETAIL_LABELS.get(key, key.replace("_", " ")), words))
        rows.append({"at": event.at, "actor": event.actor,
                     "what": EVENT_NAMES.get(event.type, event.type.replace("_", " ").capitalize()),
                     "details": shown})
    return rows


def _detail_in_words(definition, kind: str, key: str, value: Any) -> Any:
    if key == "element_id":
        element = definition.elements.get(value)
        return element.name if element is not None and element.name else value.replace("_", " ")
    if key == "key":
        return DEADLINE_NAMES.get(value, value.replace("_", " "))
    if key == "stage":
        return STAGE_NAMES.get(value, value)
    if key == "channel":
        return CHANNEL_NAMES.get(value, value).lower()
    if key == "category":
        return CATEGORY_NAMES.get(value, value)
    if key == "reason" and isinstance(value, str):
        return _REASONS.get(value, value.replace("_", " "))
    if isinstance(value, bool):
        return "yes" if value else None if key in ("late", "extended") else "no"
    if isinstance(value, str) and key.endswith("_at"):
        return _instant(value) or value
    if isinstance(value, str) and (key in _WORDS_WITH_UNDERSCORES or (key == "name" and kind.startswith("event_"))):
        return value.replace("_", " ")
    if isinstance(value, list):
        return ", ".join(str(item).replace("_", " ") for item in value)
    return value


def linked_clocks(session: Session, casework: Casework, case: Complaint) -> list[dict[str, Any]]:
    """The cases linked to this one, each with its deadlines: a complaint's hazard cases, or the complaint a
    hazard case was raised from. The case page and the task page show both clocks side by side."""
    others = hazards.hazards_of(session, case) if not case.is_hazard else \
        [c for c in [hazards.raised_from(session, case)] if c is not None]
    return [{"case": other, "deadlines": deadlines(session, other, casework.landlord(other.landlord).nation)}
            for other in others]


def _events_offered(complaint: Complaint, instance) -> list[str]:
    """The events a caseworker may record: those the process waits for now (a catch event ready for the
    message), so none is offered that it cannot take; on a closed complaint they reopen it (a stage 2 request
    after closing). None once the complaint is anonymised or its process finished."""
    if complaint.anonymised_at is not None or instance.finished:
        return []
    return [name for name in sorted(instance.definition.messages) if instance.waits_for_message(name)]


def _named(definition, marks: dict[str, list[str]]) -> dict[str, list[str]]:
    def name(element_id: str) -> str:
        element = definition.elements.get(element_id)
        return (element.name if element and element.name else element_id)
    return {kind: [name(e) for e in ids] for kind, ids in marks.items()}


def _extension_reasons(session: Session, complaint: Complaint) -> list[tuple[str, str]]:
    """The reasons recorded with extension decisions: any answer whose field names a reason."""
    reasons = []
    for event in session.scalars(select(AuditEvent).where(AuditEvent.complaint_id == complaint.id,
                                                          AuditEvent.type == "task_completed")
                                 .order_by(AuditEvent.id)):
        data = event.details.get("data")
        for key, value in (data.items() if isinstance(data, dict) else ()):    # anonymised: none kept
            if "reason" in key and isinstance(value, str) and value.strip():
                reasons.append((event.details.get("name") or key, value))
    return reasons


# --- related complaints --------------------------------------------------------------------

def open_from_same_resident(session: Session, landlord: str, resident: Mapping[str, str],
                            user: User) -> list[Complaint]:
    """Open complaints at the landlord from the same resident (same email, phone, or name)."""
    if not user.may_see(landlord):
        return []
    matches = []
    for key in ("email", "phone", "name"):
        value = (resident.get(key) or "").strip()
        if value:
            field = Complaint.resident[key].as_string()
            matches.append(func.lower(field) == value.lower())
    if not matches:
        return []
    return list(session.scalars(select(Complaint).where(
        Complaint.landlord == landlord, Complaint.status == ComplaintStatus.OPEN, or_(*matches))
        .order_by(Complaint.received_at.desc()).limit(10)))


# --- writes --------------------------------------------------------------------------------

class CaseRecord:
    """What a caseworker adds to a complaint's record directly; each call one transaction."""

    def __init__(self, sessions: sessionmaker[Session], casework: Casework) -> None:
        self.sessions = sessions
        self.casework = casework

    def export(self, reference: str, user: User) -> bytes:
        """The record as a zip; the export itself is audited (who took personal data out, and when)."""
        with transaction(self.sessions) as session:
            content = export_zip(session, self.casework, reference, user)
            audit.record(session, complaint_for(session, reference, user), "record_exported", user.username,
                         bytes=len(content))
            return content

    def add_note(self, reference: str, body: str, user: User) -> None:
        body = (body or "").strip()
        if not body:
            raise InvalidInput({"note": "Enter the note"})
        if len(body) > MAX_NOTE:
            raise InvalidInput({"note": f"Enter no more than {MAX_NOTE:,} characters"})
        with transaction(self.sessions) as session:
            complaint = complaint_for(session, reference, user)
            note = CaseNote(complaint_id=complaint.id, author=user.username, at=clock.now(), body=body)
            session.add(note)
            session.flush()
            audit.record(session, complaint, "note_added", user.username, note_id=note.id)

    def add_attachment(self, reference: str, filename: str, content: bytes, user: User) -> None:
        name = _safe_filename(filename)
        kind = ATTACHMENT_TYPES.get(Path(name).suffix.lower())
        if kind is None:
            allowed = ", ".join(sorted({suffix.lstrip(".") for suffix in ATTACHMENT_TYPES}))
            raise InvalidInput({"attachment": f"This type of file cannot be attached. Attach one of: {allowed}"})
        if not content:
            raise InvalidInput({"attachment": "Choose a file that is not empty"})
        if len(content) > MAX_ATTACHMENT_BYTES:
            raise InvalidInput({"attachment": f"The file must be smaller than {MAX_ATTACHMENT_BYTES // 2**20} MB"})
        with transaction(self.sessions) as session:
            complaint = complaint_for(session, reference, user)
            item = Attachment(complaint_id=complaint.id, filename=name,
                              content_type=kind,
                              size=len(content), content=content, uploaded_by=user.username,
                              uploaded_at=clock.now())
            session.add(item)
            session.flush()
            audit.record(session, complaint, "attachment_added", user.username, attachment_id=item.id,
                         filename=name, size=len(content))

    def attachment(self, reference: str, attachment_id: int, user: User) -> Attachment:
        with self.sessions() as session:
            complaint = complaint_for(session, reference, user)
            item = session.get(Attachment, attachment_id)
            if item is None or item.complaint_id != complaint.id:
                raise NotFound(f"no attachment {attachment_id}")
            session.expunge(item)
            return item

    def record_support_needs(self, reference: str, adjustments: str | None, vulnerabilities: str | None,
                             review_on: date | None, user: User) -> None:
        """Record (or review) reasonable adjustments and disclosed vulnerabilities (Code 5.6)."""
        adjustments, vulnerabilities = (adjustments or "").strip() or None, (vulnerabilities or "").strip() or None
        errors = {}
        if (adjustments or vulnerabilities) and review_on is None:
            errors["review_on"] = "Enter a date to review the adjustments and vulnerabilities"
        if review_on is not None and review_on < london_date(clock.now()):
            errors["review_on"] = "The review date must be today or later"
        if errors:
            raise InvalidInput(errors)
        with transaction(self.sessions) as session:
            complaint = complaint_for(session, reference, user)
            session.add(SupportNeeds(complaint_id=complaint.id, adjustments=adjustments,
                                     vulnerabilities=vulnerabilities, review_on=review_on,
                                     recorded_by=user.username, recorded_at=clock.now()))
            audit.record(session, complaint, "support_needs_recorded", user.username,
                         review_on=review_on.isoformat() if review_on else None)


def _safe_filename(filename: str | None) -> str:
    name = re.sub(r"[^A-Za-z0-9._ -]+", "_", (filename or "").replace("\\", "/").split("/")[-1]).strip(" .")
    return (name or "attachment")[:200]


# --- export --------------------------------------------------------------------------------

def _linked_record(session: Session, casework: Casework, linked: Mapping[str, Any]) -> dict[str, Any]:
    """A linked case in another's export: a complaint's hazard case (Awaab's Law) with its clocks, the answers
    given at each step and its history, or the complaint a hazard case was raised from, by reference."""
    case = linked["case"]
    record = {"reference": case.reference, "kind": case.kind, "received_at": case.received_at.isoformat(),
              "status": case.status, "outcome": case.outcome,
              "closed_at": case.closed_at.isoformat() if case.closed_at else None,
              "deadlines": [{"key": d["row"].key, "due_at": d["row"].due_at.isoformat(),
                             "met_at": d["row"].met_at.isoformat() if d["row"].met_at else None,
                             "missed": d["row"].missed, "status": d["row"].status} for d in linked["deadlines"]]}
    if case.is_hazard:
        record["aware_at"] = record["received_at"]
        record["steps"] = [{"name": w["name"], "by": w["by"], "at": w["at"].isoformat(), "answers": dict(w["answers"])}
                           for w in completed_work(session, case)]
        record["history"] = [audit.as_json(e) for e in audit.history(session, case)]
    return record


def export_zip(session: Session, casework: Casework, reference: str, user: User) -> bytes:
    """The whole record as a zip: record.json, history.json, each letter as HTML (and as the PDF posted, once
    sent), each attachment.

    For a subject access request or the Ombudsman's evidence request.
    """
    page = case_page(session, casework, reference, user)
    complaint = page["complaint"]
    pdfs = set(page["letter_pdfs"])
    record = {
        "reference": complaint.reference, "landlord": complaint.landlord,
        "received_at": complaint.received_at.isoformat(), "channel": complaint.channel,
        "category": complaint.category, "summary": complaint.summary, "resident": complaint.resident,
        "representative": complaint.representative, "outcomes_sought": complaint.outcomes_sought,
        "reasonable_adjustments": complaint.reasonable_adjustments, "status": complaint.status,
        "stage": complaint.stage, "outcome": complaint.outcome,
        "closed_at": complaint.closed_at.isoformat() if complaint.closed_at else None,
        "stages": [{k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in s.items()}
                   for s in page["stage_dates"]],
        "deadlines": [{"key": d["row"].key, "stage": d["row"].stage, "due_at": d["row"].due_at.isoformat(),
                       "original_due_at": d["row"].original_due_at.isoformat(),
                       "met_at": d["row"].met_at.isoformat() if d["row"].met_at else None,
                       "met_by": d["row"].met_by, "missed": d["row"].missed, "extended": d["row"].extended,
                       "status": d["row"].status}
                      for d in page["deadlines"]],
        "tasks": [{"name": t.name, "stage": t.stage, "status": t.status, "role": t.role, "assignee": t.assignee,
                   "created_at": t.created_at.isoformat(),
                   "completed_at": t.completed_at.isoformat() if t.completed_at else None,
                   "completed_by": t.completed_by} for t in page["tasks"]],
        "work": [{"name": w["name"], "stage": w["stage"], "by": w["by"], "at": w["at"].isoformat(),
                  "answers": dict(w["answers"])} for w in page["work"]],
        "letters": [{"id": letter.id, "template": letter.template, "stage": letter.stage, "status": letter.status,
                     "created_at": letter.created_at.isoformat(),
                     "sent_at": letter.sent_at.isoformat() if letter.sent_at else None, "sent_by": letter.sent_by,
                     "sent_to": letter.sent_to, "file": f"letters/{letter.id:04d}-{letter.template}.html",
                     "pdf": f"letters/{letter.id:04d}-{letter.template}.pdf" if letter.id in pdfs else None}
                    for letter in page["letters"]],
        "notes": [{"author": n.author, "at": n.at.isoformat(), "body": n.body} for n in page["notes"]],
        "support_needs": [{"adjustments": s.adjustments, "vulnerabilities": s.vulnerabilities,
                           "review_on": s.review_on.isoformat() if s.review_on else None,
                           "recorded_by": s.recorded_by, "recorded_at": s.recorded_at.isoformat()}
                          for s in page["support"]],
        "attachments": [{"filename": a.filename, "content_type": a.content_type, "size": a.size,
                         "uploaded_by": a.uploaded_by, "uploaded_at": a.uploaded_at.isoformat(),
                         "file": f"attachments/{a.id:04d}-{a.filename}"} for a in page["attachments"]],
        "definition_version": page["version"].version,
        "kind": complaint.kind,
        "hazard_cases" if not complaint.is_hazard else "raised_from": [_linked_record(session, casework, linked)
                                                                       for linked in page["linked"]],
        "exported_at": clock.now().isoformat(), "exported_by": user.username,
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("record.json", json.dumps(record, indent=2, ensure_ascii=False))
        archive.writestr("history.json", json.dumps([audit.as_json(e) for e in page["history"]], indent=2,
                                                    ensure_ascii=False, default=str))
        for letter in page["letters"]:
            archive.writestr(f"letters/{letter.id:04d}-{letter.template}.html", letter.body_html or "")
            if letter.id in pdfs:
                archive.writestr(f"letters/{letter.id:04d}-{letter.template}.pdf", session.scalar(
                    select(LetterPdf.content).where(LetterPdf.letter_id == letter.id)))
        for item in page["attachments"]:
            content = session.scalar(select(Attachment.content).where(Attachment.id == item.id))
            archive.writestr(f"attachments/{item.id:04d}-{item.filename}", content)
    return buffer.getvalue()
