"""Harrogate's "Complaints Checklist 2024" (its policy, seed 004, section 10) for one complaint.

Each question is answered from the complaint's record wherever the record can answer it
(deadlines, letters, form answers, tasks), with the evidence it used; the questions only a
person can answer (a home visit, whether every part of the complaint was answered) are
left to tick, and those ticks and any comments are saved with the complaint.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from workflow_app.casework.complaints import transaction
from workflow_app.casework.models import AuditEvent, ChecklistAnswer, Complaint, Deadline, Letter, Task, User
from workflow_app.rules import clock
from workflow_app.rules.calendar import calendar_for, london_date
from workflow_app.rules.errors import InvalidInput, NotFound
from workflow_app.rules.landlords import Landlord
from workflow_app.rules.statuses import ComplaintStatus, TaskStatus
from workflow_app.rules.vocabulary import DeadlineKey

YES, NO = "yes", "no"


@dataclass
class Record:
    """What the checklist reads of one complaint."""

    complaint: Complaint
    landlord: Landlord
    deadlines: dict[str, list[Deadline]]
    letters: dict[str, list[Letter]]
    forms: dict[str, list[dict[str, Any]]]
    tasks: list[Task]
    events: int

    def deadline(self, key: str) -> Deadline | None:
        rows = self.deadlines.get(key) or []
        return rows[-1] if rows else None

    def letter(self, template: str) -> Letter | None:
        rows = self.letters.get(template) or []
        return rows[-1] if rows else None

    def answer(self, element_ids: tuple[str, ...], key: str) -> Any:
        """The latest value a completed form gave `key` at one of the elements."""
        found = None
        for element_id in element_ids:
            for data in self.forms.get(element_id, []):
                if data.get(key) not in (None, "", []):
                    found = data[key]
        return found

    def done(self, element_id: str) -> Task | None:
        done = [t for t in self.tasks if t.element_id == element_id and t.status == TaskStatus.COMPLETED]
        return done[-1] if done else None

    def opened(self, element_id: str) -> Task | None:
        rows = [t for t in self.tasks if t.element_id == element_id]
        return rows[-1] if rows else None

    def working_days(self, start: datetime, end: datetime) -> int:
        return calendar_for(self.landlord.nation).working_days_taken(start, end)


def read_record(session: Session, complaint: Complaint, landlord: Landlord) -> Record:
    deadlines: dict[str, list[Deadline]] = {}
    for d in session.scalars(select(Deadline).where(Deadline.complaint_id == complaint.id).order_by(Deadline.id)):
        deadlines.setdefault(d.key, []).append(d)
    letters: dict[str, list[Letter]] = {}
    for letter in session.scalars(select(Letter).where(Letter.complaint_id == complaint.id).order_by(Letter.id)):
        letters.setdefault(letter.template, []).append(letter)
    forms: dict[str, list[dict[str, Any]]] = {}
    events = 0
    for event in session.scalars(select(AuditEvent).where(AuditEvent.complaint_id == complaint.id)
                                 .order_by(AuditEvent.id)):
        events += 1
        data = event.details.get("data") if event.type == "task_completed" else None
        if isinstance(data, Mapping):
            forms.setdefault(event.details.get("element_id"), []).append(dict(data))
    tasks = list(session.scalars(select(Task).where(Task.complaint_id == complaint.id)
                                .order_by(Task.created_at, Task.id)))
    return Record(complaint, landlord, deadlines, letters, forms, tasks, events)


# --- the questions ----------------------------------------------------------------------------------

Rule = Callable[[Record], "tuple[str | None, str]"]
# The tasks (diagram element ids) whose forms answer a question; some share a name with a deadline key.
ACKNOWLEDGE = ("acknowledge",)
STAGE1 = ("stage1_response", "colleague_response", "line_manager_investigation", "new_information_response")
STAGE2 = ("stage2_response",)
REVIEW = ("review_acknowledge", "stage2_acknowledge")


def _in_letter(record: Record, template: str, *texts: str) -> bool | None:
    letter = record.letter(template)
    if letter is None or not letter.body_html:
        return None
    body = " ".join(letter.body_html.split()).lower()
    return all(" ".join(t.split()).lower() in body for t in texts if t)


def _ombudsman_bits(record: Record) -> list[str]:
    details = record.landlord.ombudsman
    return [details[k] for k in ("phone", "website", "email") if details.get(k)]


def _letter_has_ombudsman(record: Record, template: str) -> tuple[str | None, str]:
    letter = record.letter(template)
    if letter is None:
        return None, f"No '{template.replace('_', ' ')}' letter on the record yet."
    bits = _ombudsman_bits(record)
    has = any(_in_letter(record, template, bit) for bit in bits)
    return (YES if has else NO), (f"The {template.replace('_', ' ')} letter "
                                  f"{'gives' if has else 'does not give'} the Housing Ombudsman's contact details.")


def _letter_has_reference(record: Record, template: str) -> tuple[str | None, str]:
    found = _in_letter(record, template, record.complaint.reference)
    if found is None:
        return None, f"No '{template.replace('_', ' ')}' letter on the record yet."
    return (YES if found else NO), (f"The {template.replace('_', ' ')} letter "
                                    f"{'quotes' if found else 'does not quote'} {record.complaint.reference}.")


def _within(record: Record, key: str, start: datetime | None, days: int, what: str) -> tuple[str | None, str]:
    deadline = record.deadline(key)
    if deadline is None or start is None:
        return None, f"No {what} on the record."
    if deadline.met_at is None:
        if clock.now() <= calendar_for(record.landlord.nation).working_days_after(start, days):
            return None, f"Not {what} yet; still within {days} working days."
        return NO, f"Not {what}, and more than {days} working days have passed."
    taken = record.working_days(start, deadline.met_at)
    return (YES if taken <= days else NO), f"{what.capitalize()} {taken} working day{'s' if taken != 1 else ''} " \
                                           f"after the start ({_day(deadline.met_at)})."


def _response_on_time(record: Record, key: str, extension_template: str = "extension") -> tuple[str | None, str]:
    deadline = record.deadline(key)
    if deadline is None:
        return None, "No response deadline on the record."
    if deadline.met_at is None:
        return (NO if deadline.missed else None), ("The deadline was missed and no response is recorded yet."
                                                   if deadline.missed else "Not responded to yet.")
    on_time = deadline.met_at <= deadline.due_at
    words = f"Responded {_day(deadline.met_at)}, due {_day(deadline.due_at)}"
    if deadline.extended:
        ombudsman, _ = _letter_has_ombudsman(record, extension_template)
        words += f"; the deadline was extended from {_day(deadline.original_due_at)}" + \
            (", with the Ombudsman's details in the extension letter" if ombudsman == YES else
             ", but the extension letter does not give the Ombudsman's details" if ombudsman == NO else "")
        on_time = on_time and ombudsman != NO
    return (YES if on_time else NO), words + "."


def _remedy(record: Record, elements: tuple[str, ...], remedy: str, label: str) -> tuple[str | None, str]:
    if not any(record.forms.get(e) for e in elements):
        return None, "No response recorded yet."
    remedies = record.answer(elements, "remedies") or []
    has = remedy in remedies
    return (YES if has else NO), f"{label} {'was' if has else 'was not'} among the remedies recorded."


def _compensation(record: Record, elements: tuple[str, ...]) -> tuple[str | None, str]:
    if not any(record.forms.get(e) for e in elements):
        return None, "No response recorded yet."
    amount = record.answer(elements, "compensation")
    remedies = record.answer(elements, "remedies") or []
    offered = bool(amount) or "financial_remedy" in remedies
    return (YES if offered else NO), (f"£{float(amount):.2f} was offered." if amount else
                                      "A financial remedy was offered." if offered else "No compensation was offered.")


def _flowchart_enclosed(record: Record) -> tuple[str | None, str]:
    """Letters carry no attachments: the flowchart for formal complaints goes in the acknowledgement's own text."""
    found = _in_letter(record, "acknowledgement", "flowchart for formal complaints")
    if found is None:
        return None, "No acknowledgement letter on the record yet."
    return (YES if found else NO), (f"The acknowledgement letter {'encloses' if found else 'does not enclose'} "
                                    "the flowchart for formal complaints.")


def _review_started(record: Record) -> datetime | None:
    task = next((record.opened(e) for e in REVIEW if record.opened(e)), None)
    return task.created_at if task else None


def _resolved(record: Record) -> tuple[str | None, str]:
    c = record.complaint
    if record.deadline(DeadlineKey.STAGE2_ACKNOWLEDGE) is not None:
        return YES, "The complaint progressed to review (stage 2)."
    if c.status != ComplaintStatus.CLOSED:
        return None, "The complaint is still open."
    closure, lessons = record.letter("closure"), record.done("lessons_learnt")
    parts = [f"closing letter {'issued ' + _day(closure.created_at) if closure else 'not issued'}",
             f"lessons-learnt table {'completed' if lessons else 'not completed'}"]
    return (YES if closure and lessons else NO), "Resolved at the resolution stage: " + "; ".join(parts) + "."


def _panel(record: Record) -> tuple[str | None, str]:
    if not record.answer(STAGE2, "panel_requested") and not record.opened("panel_hearing"):
        return None, "No Customer Liaison Committee panel was asked for."
    held = record.done("panel_hearing")
    return (YES if held else NO), ("The panel was held." if held else "The panel has not been held.")


def _logged_on_receipt(record: Record) -> tuple[str | None, str]:
    c = record.complaint
    taken = record.working_days(c.received_at, c.created_at)
    return (YES if taken <= 1 else NO), f"Logged by {c.created_by} on {_day(c.created_at)}, " \
                                        f"received {_day(c.received_at)}."


def _full_record(record: Record) -> tuple[str | None, str]:
    return YES, f"The complaint's record holds {record.events} audit events, every change as it was made."


def _ack_response_date(record: Record) -> tuple[str | None, str]:
    deadline = record.deadline(DeadlineKey.STAGE1_RESPONSE)
    if record.letter("acknowledgement") is None or deadline is None:
        return None, "No acknowledgement letter on the record yet."
    date_text = london_date(deadline.original_due_at).strftime("%-d %B %Y")
    found = _in_letter(record, "acknowledgement", date_text)
    return (YES if found else NO), f"The acknowledgement letter {'gives' if found else 'does not give'} " \
                                   f"the response date, {date_text}."


def _recorded(elements: tuple[str, ...], key: str, what: str) -> Rule:
    def rule(record: Record) -> tuple[str | None, str]:
        value = record.answer(elements, key)
        if value is None:
            return (None if not any(record.forms.get(e) for e in elements) else NO), f"No {what} recorded."
        return YES, f"{what.capitalize()}: {value}"
    return rule


def _review_reasons(record: Record) -> tuple[str | None, str]:
    if not any(record.forms.get(e) for e in REVIEW):
        return None, "No review was asked for."
    reasons = record.answer(REVIEW, "review_reasons")
    if reasons is None:
        return None, "The customer gave no reasons; the Code does not require any (6.12)."
    return YES, f"Reasons recorded: {reasons}"


def _reviewer(record: Record) -> tuple[str | None, str]:
    if not any(record.forms.get(e) for e in REVIEW):
        return None, "No review was asked for."
    if record.answer(REVIEW, "review_decision") == "refuse":
        return None, "The review was refused, so nobody was named to carry it out."
    return _recorded(REVIEW, "stage2_reviewer_name", "reviewer")(record)


@dataclass(frozen=True)
class Question:
    id: str
    section: str
    text: str
    rule: Rule | None = None           # None: only a person can answer it


QUESTIONS: tuple[Question, ...] = (
    Question("ack_time", "Complaint acknowledgement", "Was the complaint acknowledged within 48 working hours?",
             lambda r: _within(r, DeadlineKey.STAGE1_ACKNOWLEDGE, r.complaint.received_at, 2, "acknowledged")),
    Question("ack_reference", "Complaint acknowledgement", "Did the acknowledgement include a ref number?",
             lambda r: _letter_has_reference(r, "acknowledgement")),
    Question("ack_who", "Complaint acknowledgement",
             "Did the acknowledgement advise who would be dealing with the complaint?",
             _recorded(ACKNOWLEDGE, "investigator", "investigator")),
    Question("ack_when", "Complaint acknowledgement",
             "Did the acknowledgement confirm when a response will be provided?", _ack_response_date),
    Question("ack_definition", "Complaint acknowledgement",
             "Did the acknowledgement clarify the complaint being made?",
             _recorded(ACKNOWLEDGE, "complaint_definition", "complaint definition")),
    Question("ack_flowchart", "Complaint acknowledgement",
             "Did the customer receive the flowchart with the acknowledgement?", _flowchart_enclosed),
    Question("ack_ombudsman", "Complaint acknowledgement",
             "Did the acknowledgement confirm that they can contact the Housing Ombudsman at any stage and include "
             "details?", lambda r: _letter_has_ombudsman(r, "acknowledgement")),
    Question("ack_logged", "Complaint acknowledgement", "Was the complaint log / CRM updated on receipt?",
             _logged_on_receipt),
    Question("res_visit", "Complaint resolution stage", "Did the customer receive a home visit to discuss the "
             "complaint?"),
    Question("res_reference", "Complaint resolution stage", "Did the resolution letter contain the ref number?",
             lambda r: _letter_has_reference(r, "stage1_response")),
    Question("res_time", "Complaint resolution stage",
             "Was the letter provided to the customer within 10 working days? If not, was the response extended "
             "with the reasons, within the 10 days maximum, and did the extension letter give the Ombudsman's "
             "details?", lambda r: _response_on_time(r, DeadlineKey.STAGE1_RESPONSE)),
    Question("res_apology", "Complaint resolution stage", "Did the letter contain an apology?",
             lambda r: _remedy(r, STAGE1, "apology", "An apology")),
    Question("res_all_points", "Complaint resolution stage",
             "Did the letter answer and propose a resolution for all elements of the complaint?"),
    Question("res_compensation", "Complaint resolution stage", "Did the letter offer any form of compensation?",
             lambda r: _compensation(r, STAGE1)),
    Question("res_next_stage", "Complaint resolution stage",
             "Did the letter contain information on the next stage if they were not happy with the resolution?"),
    Question("res_contact", "Complaint resolution stage",
             "Did it confirm who to contact if they wished to take it to the next stage?"),
    Question("res_ombudsman", "Complaint resolution stage",
             "Did the letter confirm details of the Housing Ombudsman for contact?",
             lambda r: _letter_has_ombudsman(r, "stage1_response")),
    Question("res_log", "Complaint resolution stage", "Were details updated on the CRM system / complaints log?",
             _full_record),
    Question("res_resolved", "Complaint resolution stage",
             "Was the complaint resolved? If yes, did a completion letter with a feedback form go out and was the "
             "lessons-learnt table completed? If not, did it progress to review?", _resolved),
    Question("rev_time", "Complaint review stage: acknowledgement",
             "Was the review request responded to in 48 working hours?",
             lambda r: _within(r, DeadlineKey.STAGE2_ACKNOWLEDGE, _review_started(r), 2, "acknowledged")
             if r.deadline(DeadlineKey.STAGE2_ACKNOWLEDGE) else (None, "No review was asked for.")),
    Question("rev_reason", "Complaint review stage: acknowledgement",
             "Was the reason from the customer for the review acknowledged in the response?", _review_reasons),
    Question("rev_reference", "Complaint review stage: acknowledgement",
             "Did the acknowledgement contain the ref number?",
             lambda r: _letter_has_reference(r, "stage2_acknowledgement")),
    Question("rev_who", "Complaint review stage: acknowledgement",
             "Did the acknowledgement contain the person who would be carrying out the review?", _reviewer),
    Question("rev_timescale", "Complaint review stage: acknowledgement",
             "Did the acknowledgement give a timescale to receive a response?"),
    Question("rev_visit", "Complaint review stage: action", "Did the customer receive a home visit?"),
    Question("rev_letter_reference", "Complaint review stage: action", "Did the letter have a reference number?",
             lambda r: _letter_has_reference(r, "final_response")),
    Question("rev_letter_time", "Complaint review stage: action",
             "Was the letter provided to the customer within 10 working days? If not, was an extension explained "
             "and did the extension letter give the Ombudsman's details?",
             lambda r: _response_on_time(r, DeadlineKey.STAGE2_RESPONSE)),
    Question("rev_apology", "Complaint review stage: action", "Did the letter contain an apology?",
             lambda r: _remedy(r, STAGE2, "apology", "An apology")),
    Question("rev_all_points", "Complaint review stage: action",
             "Did the letter answer and propose a solution for all elements of the complaint?"),
    Question("rev_compensation", "Complaint review stage: action", "Did the letter offer any form of compensation?",
             lambda r: _compensation(r, STAGE2)),
    Question("rev_complete", "Complaint review stage: action",
             "Did the review complete the complaint, did the letter provide the Housing Ombudsman's details, and "
             "was a meeting with a CLC member offered?", lambda r: _letter_has_ombudsman(r, "final_response")),
    Question("rev_panel", "Complaint review stage: action", "Did the CLC attend and resolve the complaint?", _panel),
    Question("rev_panel_letter", "Complaint review stage: action",
             "If yes, was a letter confirming the outcome and the actions after the CLC sent within 10 working days?",
             lambda r: _response_on_time(r, DeadlineKey.PANEL_OUTCOME) if r.deadline(DeadlineKey.PANEL_OUTCOME)
             else (None, "No panel outcome on the record.")),
    Question("rev_end", "Complaint review stage: action",
             "Did the letter confirm that this was the end of the complaint process?"),
    Question("close_log", "Closing the complaint", "Has the complaint log / CRM been updated of all actions?",
             _full_record),
    Question("close_letter", "Closing the complaint",
             "Was a formal closing letter sent to the customer after completion, with a feedback form?",
             lambda r: ((YES, f"Closing letter issued {_day(r.letter('closure').created_at)}.") if r.letter("closure")
                        else (None if r.complaint.status != ComplaintStatus.CLOSED else NO,
                              "No closing letter on the record."))),
    Question("close_lessons", "Closing the complaint", "Was the lessons learnt on complaints completed and the log "
             "updated?", lambda r: ((YES, f"Completed by {r.done('lessons_learnt').completed_by}.")
                                    if r.done("lessons_learnt") else
                                    (None if r.complaint.status != ComplaintStatus.CLOSED else NO,
                                     "The lessons-learnt task has not been completed."))),
)
QUESTION_IDS = {q.id for q in QUESTIONS}


@dataclass
class Item:
    question: Question
    answer: str | None
    evidence: str | None
    automatic: bool
    comment: str | None = None
    by: str | None = None
    at: datetime | None = None


def checklist(session: Session, complaint: Complaint, landlord: Landlord) -> list[Item]:
    """Every question, answered from the record where it can be, else with the saved tick."""
    record = read_record(session, complaint, landlord)
    saved = {a.item: a for a in session.scalars(select(ChecklistAnswer)
                                                .where(ChecklistAnswer.complaint_id == complaint.id))}
    items = []
    for question in QUESTIONS:
        tick = saved.get(question.id)
        if question.rule is not None:
            answer, evidence = question.rule(record)
            item = Item(question, answer, evidence, True)
        else:
            item = Item(question, tick.answer if tick else None, None, False)
        if tick is not None:
            item.comment, item.by, item.at = tick.comment, tick.answered_by, tick.answered_at
        items.append(item)
    return items


class ChecklistService:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def save(self, reference: str, form: Mapping[str, str], user: User) -> None:
        """Save the ticks (for questions the record cannot answer) and comments (for any); one transaction."""
        errors = {}
        for question in QUESTIONS:
            answer = form.get(f"answer-{question.id}")
            if answer not in (None, "", YES, NO):
                errors[f"answer-{question.id}"] = "Choose yes or no"
            if len(form.get(f"comment-{question.id}") or "") > 5000:
                errors[f"comment-{question.id}"] = "must be at most 5000 characters"
        if errors:
            raise InvalidInput(errors)
        with transaction(self.sessions) as session:
            complaint = session.scalars(select(Complaint).where(Complaint.reference == reference)).first()
            if complaint is None or not user.may_see(complaint.landlord):
                raise NotFound(f"no complaint {reference}")
            saved = {a.item: a for a in session.scalars(select(ChecklistAnswer)
                                                        .where(ChecklistAnswer.complaint_id == complaint.id))}
            for question in QUESTIONS:
                answer = (form.get(f"answer-{question.id}") or None) if question.rule is None else None
                comment = (form.get(f"comment-{question.id}") or "").strip() or None
                row = saved.get(question.id)
                if row is None and answer is None and comment is None:
                    continue
                if row is None:
                    row = ChecklistAnswer(complaint_id=complaint.id, item=question.id)
                    session.add(row)
                elif (row.answer, row.comment) == (answer, comment):
                    continue
                row.answer, row.comment = answer, comment
                row.answered_by, row.answered_at = user.username, clock.now()


def _day(value: datetime | None) -> str:
    return london_date(value).strftime("%-d %B %Y") if value else "—"
