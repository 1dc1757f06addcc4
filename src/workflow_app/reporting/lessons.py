"""The lessons-learnt and service-improvement log (Code 9.1 to 9.4, and 8.1's improvements).

Entries come from closed complaints: each "lessons learnt" form completed on a complaint,
and each stage 2 final response that records what was learnt, becomes an entry when the
log is next brought up to date (after each timer sweep: `reporting.projections`). Managers
then give each entry an owner, a due date and a status, and can add entries of their own.
Each change is one transaction.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from workflow_app.casework.complaints import transaction
from workflow_app.casework.models import AuditEvent, Complaint, LessonLearnt, User
from workflow_app.rules import clock
from workflow_app.rules.calendar import london_date, london_midnight
from workflow_app.rules.errors import InvalidInput, NotFound
from workflow_app.rules.statuses import LESSON_STATUS_NAMES, UNFINISHED_LESSONS, LessonStatus
from workflow_app.rules.vocabulary import CATEGORIES

MAX_TEXT = 5000
SOURCES = (("lessons", "improvement_actions"), ("learning", None))
"""Form fields that hold a lesson, and the field (if any) with the improvement it leads to."""


@dataclass(frozen=True)
class LessonFilter:
    status: str | None = None
    theme: str | None = None
    owner: str | None = None
    overdue: bool = False
    systemic: bool = False
    search: str | None = None

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> LessonFilter:
        status = args.get("status") if args.get("status") in LESSON_STATUS_NAMES else None
        theme = args.get("theme") if args.get("theme") in CATEGORIES else None
        return cls(status=status, theme=theme, owner=(args.get("owner") or "").strip()[:200] or None,
                   overdue=args.get("overdue") == "1", systemic=args.get("systemic") == "1",
                   search=(args.get("q") or "").strip()[:200] or None)


def collect(session: Session, landlords: Sequence[str]) -> int:
    """Add an entry for each lesson recorded on a complaint since the log was last brought up to date.

    Each landlord's log is read on from its own newest entry: lessons recorded within a day
    before it are looked at again (and skipped when already in the log), so one committed late
    by another transaction is not lost.
    """
    if not landlords:
        return 0
    newest = dict(session.execute(select(LessonLearnt.landlord, func.max(LessonLearnt.recorded_at))
                                  .where(LessonLearnt.landlord.in_(list(landlords)),
                                         LessonLearnt.source_event_id.is_not(None))
                                  .group_by(LessonLearnt.landlord)).all())
    unread = or_(*[AuditEvent.landlord == slug if newest.get(slug) is None
                   else and_(AuditEvent.landlord == slug, AuditEvent.at >= newest[slug] - timedelta(days=1))
                   for slug in landlords])
    has_lesson = or_(*[AuditEvent.details[("data", field)].as_string().is_not(None) for field, _ in SOURCES])
    query = (select(AuditEvent, Complaint.category)
             .join(Complaint, Complaint.id == AuditEvent.complaint_id)
             .where(unread, AuditEvent.type == "task_completed", has_lesson,
                    ~exists().where(LessonLearnt.source_event_id == AuditEvent.id))
             .order_by(AuditEvent.id))
    added = 0
    for event, category in session.execute(query).all():
        data = event.details.get("data") if isinstance(event.details, Mapping) else None
        if not isinstance(data, Mapping):
            continue
        for field, improvement_field in SOURCES:
            text = data.get(field)
            if not isinstance(text, str) or not text.strip():
                continue
            theme = data.get("lessons_theme") if data.get("lessons_theme") in CATEGORIES else category
            improvement = data.get(improvement_field) if improvement_field else None
            session.add(LessonLearnt(
                landlord=event.landlord, complaint_id=event.complaint_id, source_event_id=event.id, theme=theme,
                what_went_wrong=text.strip()[:MAX_TEXT],
                improvement=improvement.strip()[:MAX_TEXT] if isinstance(improvement, str) and improvement.strip()
                else None,
                systemic=bool(data.get("systemic_issue")), status=LessonStatus.OPEN, recorded_at=event.at,
                recorded_by=event.actor))
            added += 1
            break
    return added


def entries(session: Session, landlords: Sequence[str], which: LessonFilter | None = None,
            today: date | None = None, limit: int = 500) -> list[tuple[LessonLearnt, str | None]]:
    """Entries with their complaint's reference, newest first, filtered."""
    which = which or LessonFilter()
    query = (select(LessonLearnt, Complaint.reference)
             .outerjoin(Complaint, Complaint.id == LessonLearnt.complaint_id)
             .where(LessonLearnt.landlord.in_(list(landlords))))
    if which.status:
        query = query.where(LessonLearnt.status == which.status)
    if which.theme:
        query = query.where(LessonLearnt.theme == which.theme)
    if which.owner:
        query = query.where(LessonLearnt.owner.ilike(f"%{_escaped(which.owner)}%", escape="\\"))
    if which.overdue:
        query = query.where(LessonLearnt.due_on < (today or _today()),
                            LessonLearnt.status.in_(list(UNFINISHED_LESSONS)))
    if which.systemic:
        query = query.where(LessonLearnt.systemic.is_(True))
    if which.search:
        pattern = f"%{_escaped(which.search)}%"
        query = query.where(or_(LessonLearnt.what_went_wrong.ilike(pattern, escape="\\"),
                                LessonLearnt.improvement.ilike(pattern, escape="\\")))
    query = query.order_by(LessonLearnt.recorded_at.desc(), LessonLearnt.id.desc()).limit(limit)
    return [(entry, reference) for entry, reference in session.execute(query).all()]


def summary(session: Session, landlords: Sequence[str], first: datetime, end: datetime) -> dict[str, Any]:
    """Entries recorded in a period by theme and status, and improvements completed in it (for reports)."""
    recorded = session.execute(
        select(LessonLearnt.theme, LessonLearnt.status, func.count())
        .where(LessonLearnt.landlord.in_(list(landlords)), LessonLearnt.recorded_at >= first,
               LessonLearnt.recorded_at < end)
        .group_by(LessonLearnt.theme, LessonLearnt.status)).all()
    by_theme: dict[str, dict[str, int]] = {}
    for theme, status, count in recorded:
        by_theme.setdefault(theme, dict.fromkeys(LESSON_STATUS_NAMES, 0))[status] = count
    return {"by_theme": [{"theme": t, **by_theme[t], "total": sum(by_theme[t].values())} for t in sorted(by_theme)],
            "recorded": sum(sum(v.values()) for v in by_theme.values())}


def improvements(session: Session, landlords: Sequence[str], first: date,
                 last: date) -> list[tuple[LessonLearnt, str | None]]:
    """Improvements made or under way: entries done in the period, or recorded in it with an improvement."""
    query = (select(LessonLearnt, Complaint.reference)
             .outerjoin(Complaint, Complaint.id == LessonLearnt.complaint_id)
             .where(LessonLearnt.landlord.in_(list(landlords)), LessonLearnt.status != LessonStatus.NOT_TAKEN_FORWARD,
                    or_(and_(LessonLearnt.completed_on >= first, LessonLearnt.completed_on <= last),
                        and_(LessonLearnt.improvement.is_not(None),
                             LessonLearnt.recorded_at >= london_midnight(first),
                             LessonLearnt.recorded_at < london_midnight(last + timedelta(days=1)))))
             .order_by(LessonLearnt.theme, LessonLearnt.recorded_at))
    return [(entry, reference) for entry, reference in session.execute(query).all()]


class LessonService:
    """Changes to the log, each one transaction."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def update(self, entry_id: int, fields: Mapping[str, str], user: User) -> None:
        values = _checked(fields, require_text=False)
        with transaction(self.sessions) as session:
            entry = session.get(LessonLearnt, entry_id)
            if entry is None or not user.may_see(entry.landlord):
                raise NotFound(f"no lessons-learnt entry {entry_id}")
            for key, value in values.items():
                setattr(entry, key, value)
            if entry.status == LessonStatus.DONE and entry.completed_on is None:
                entry.completed_on = _today()
            elif entry.status != LessonStatus.DONE:
                entry.completed_on = None
            entry.updated_at, entry.updated_by = clock.now(), user.username

    def add(self, landlord: str, fields: Mapping[str, str], user: User, reference: str | None = None) -> int:
        values = _checked(fields, require_text=True)
        if not user.may_see(landlord):
            raise NotFound(f"no landlord {landlord}")
        with transaction(self.sessions) as session:
            complaint_id = None
            if reference:
                complaint = session.scalars(select(Complaint).where(Complaint.reference == reference.strip().upper(),
                                                                    Complaint.landlord == landlord)).first()
                if complaint is None:
                    raise InvalidInput({"reference": f"no complaint {reference} for this landlord"})
                complaint_id = complaint.id
            entry = LessonLearnt(landlord=landlord, complaint_id=complaint_id, recorded_at=clock.now(),
                                 recorded_by=user.username,
                                 **{"status": LessonStatus.OPEN, "systemic": False, **values})
            if entry.status == LessonStatus.DONE:
                entry.completed_on = _today()
            session.add(entry)
            session.flush()
            return entry.id


def _checked(fields: Mapping[str, str], require_text: bool) -> dict[str, Any]:
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    for name in ("what_went_wrong", "improvement"):
        if name in fields:
            text = (fields.get(name) or "").strip()
            if len(text) > MAX_TEXT:
                errors[name] = f"must be at most {MAX_TEXT} characters"
            values[name] = text or None
    if (require_text or "what_went_wrong" in fields) and not values.get("what_went_wrong"):
        errors["what_went_wrong"] = "Say what went wrong"
    if "owner" in fields:
        owner = (fields.get("owner") or "").strip()
        if len(owner) > 200:
            errors["owner"] = "must be at most 200 characters"
        values["owner"] = owner or None
    if "due_on" in fields:
        raw = (fields.get("due_on") or "").strip()
        try:
            values["due_on"] = date.fromisoformat(raw) if raw else None
        except ValueError:
            errors["due_on"] = "Enter a date, e.g. 2027-06-30"
    if "status" in fields:
        if fields.get("status") not in LESSON_STATUS_NAMES:
            errors["status"] = "Choose a status"
        else:
            values["status"] = fields["status"]
    if "theme" in fields:
        if fields.get("theme") not in CATEGORIES:
            errors["theme"] = "Choose a theme"
        else:
            values["theme"] = fields["theme"]
    elif require_text:
        errors["theme"] = "Choose a theme"
    if "systemic" in fields or not require_text:
        values["systemic"] = fields.get("systemic") in ("1", "on", "true", True)
    if errors:
        raise InvalidInput(errors)
    return values


def _escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _today() -> date:
    return london_date(clock.now())

