"""The inbox's read side: open tasks a caseworker may see, filtered, sorted and paged.

Three views: my tasks, my team's unassigned tasks (those for a role I hold), and everything
I may see. Every row carries how its due time stands in the landlord's working days.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workflow_app.casework.case_record import Due, due, due_today_end
from workflow_app.casework.models import Complaint, Letter, Task, User
from workflow_app.rules import clock
from workflow_app.rules.calendar import london_date
from workflow_app.rules.landlords import Landlord
from workflow_app.rules.roles import may_supervise
from workflow_app.rules.statuses import LetterStatus, TaskStatus
from workflow_app.rules.vocabulary import CATEGORIES, STAGES

PAGE_SIZE = 25
VIEWS = {"mine": "My tasks", "team": "Team's unassigned", "all": "Everything I may see"}
SORTS = {"due": "Due soonest", "due_desc": "Due latest", "newest": "Newest first", "reference": "Reference"}
DUE_FILTERS = {"overdue": "Overdue", "today": "Due today", "later": "Not yet due"}


@dataclass
class InboxQuery:
    view: str = "mine"
    landlord: str | None = None
    stage: str | None = None
    category: str | None = None
    due: str | None = None
    sort: str = "due"
    page: int = 1

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> InboxQuery:
        """Read the query string; unknown values fall back to the defaults rather than failing."""
        page = args.get("page", "1")
        return cls(
            view=args.get("view") if args.get("view") in VIEWS else "mine",
            landlord=args.get("landlord") or None,
            stage=args.get("stage") if args.get("stage") in STAGES else None,
            category=args.get("category") if args.get("category") in CATEGORIES else None,
            due=args.get("due") if args.get("due") in DUE_FILTERS else None,
            sort=args.get("sort") if args.get("sort") in SORTS else "due",
            page=int(page) if page.isdigit() and int(page) > 0 else 1,
        )

    def args(self, **changes: Any) -> dict[str, Any]:
        """The query string for a link that changes some of this query (and goes back to page 1)."""
        values = {"view": self.view, "landlord": self.landlord, "stage": self.stage, "category": self.category,
                  "due": self.due, "sort": self.sort, "page": 1}
        values.update(changes)
        return {k: v for k, v in values.items() if v not in (None, "", 1) or (k == "page" and v != 1)}


@dataclass
class InboxRow:
    task: Task
    reference: str
    category: str
    summary: str
    resident: str
    due: Due | None
    received_at: datetime
    """When the complaint reached the landlord."""
    age: str
    """How long ago that was, in words ("today", "3 days ago")."""


@dataclass
class Inbox:
    query: InboxQuery
    rows: list[InboxRow]
    total: int
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // PAGE_SIZE))


def _base(user: User, view: str) -> Any:
    """Open tasks in a view; tasks only (no join), so counts read the task indexes alone."""
    query = select(Task).where(Task.status == TaskStatus.OPEN, user.landlords_clause(Task.landlord))
    if view == "mine":
        query = query.where(Task.assignee == user.username)
    elif view == "team":
        query = query.where(Task.assignee.is_(None))
        if not may_supervise(user.roles):
            query = query.where(Task.role.is_(None) | Task.role.in_(list(user.roles) or [""]))
    return query


def inbox(session: Session, user: User, landlords: Mapping[str, Landlord], q: InboxQuery) -> Inbox:
    now = clock.now()
    query = _base(user, q.view)
    if q.landlord:
        query = query.where(Task.landlord == q.landlord)
    if q.stage:
        query = query.where(Task.stage == q.stage)
    if q.category or q.sort == "reference":
        query = query.join(Complaint, Complaint.id == Task.complaint_id)
    if q.category:
        query = query.where(Complaint.category == q.category)
    if q.due == "overdue":
        query = query.where(Task.overdue_clause(now))
    elif q.due == "today":
        query = query.where(Task.due_at >= now, Task.due_at <= due_today_end(now))
    elif q.due == "later":
        query = query.where(Task.due_at.is_(None) | (Task.due_at > due_today_end(now)))
    total = _count(session, query)
    offset = (q.page - 1) * PAGE_SIZE
    if q.sort in ("due", "due_desc"):
        tasks = _by_due(session, query, q.sort == "due_desc", offset)
    else:
        order = (Task.created_at.desc(), Task.id) if q.sort == "newest" else (Complaint.reference, Task.id)
        tasks = list(session.scalars(query.order_by(*order).limit(PAGE_SIZE).offset(offset)))
    complaints = {c.id: c for c in session.scalars(
        select(Complaint).where(Complaint.id.in_({t.complaint_id for t in tasks})))} if tasks else {}
    result = []
    for task in tasks:
        complaint = complaints[task.complaint_id]
        nation = landlords[task.landlord].nation if task.landlord in landlords else "ENG"
        result.append(InboxRow(task, complaint.reference, complaint.category, complaint.summary,
                               (complaint.resident or {}).get("name", ""), due(task.due_at, nation, now),
                               complaint.received_at, age(complaint.received_at, now)))
    counts = {view: _count(session, _base(user, view)) for view in VIEWS}
    return Inbox(q, result, total, counts)


def age(received_at: datetime, now: datetime) -> str:
    """How long ago a complaint was received, in London calendar days."""
    days = (london_date(now) - london_date(received_at)).days
    return "today" if days <= 0 else "yesterday" if days == 1 else f"{days:,} days ago"


def _count(session: Session, query: Any) -> int:
    return session.scalar(query.with_only_columns(func.count()).order_by(None)) or 0


def _by_due(session: Session, query: Any, latest_first: bool, offset: int) -> list[Task]:
    """A page sorted by due time, tasks without one last: two index-ordered reads, never a sort of them all."""
    dated = query.where(Task.due_at.is_not(None))
    undated = query.where(Task.due_at.is_(None))
    order = (Task.due_at.desc(), Task.id) if latest_first else (Task.due_at, Task.id)
    page = list(session.scalars(dated.order_by(*order).limit(PAGE_SIZE).offset(offset)))
    if len(page) < PAGE_SIZE:
        skipped = max(0, offset - _count(session, dated)) if not page else 0
        page += session.scalars(undated.order_by(Task.id).limit(PAGE_SIZE - len(page)).offset(skipped))
    return page


def colleagues(session: Session, user: User, landlord: str) -> list[User]:
    """Who a manager may hand a task to: active users working for the landlord."""
    users = session.scalars(select(User).where(User.active.is_(True)).order_by(User.display_name))
    return [u for u in users if u.may_see(landlord)]


LETTERS_SHOWN = 50


@dataclass
class LetterRow:
    letter: Letter
    reference: str
    complaint_status: str


def letters_to_send(session: Session, user: User, view: str) -> list[LetterRow]:
    """The drafted letters not yet sent, on this view of the inbox (none is left behind, the closing letter of a
    closed complaint included): mine (drafted by my work, or by the clock on a case I own), the team's (no
    owner), or every one I may see; oldest first."""
    query = select(Letter, Complaint.reference, Complaint.status).join(Complaint, Complaint.id == Letter.complaint_id) \
        .where(Letter.status == LetterStatus.DRAFT, user.landlords_clause(Complaint.landlord))
    if view == "mine":
        query = query.where(Letter.owner == user.username)
    elif view == "team":
        query = query.where(Letter.owner.is_(None))
    rows = session.execute(query.order_by(Letter.created_at, Letter.id).limit(LETTERS_SHOWN))
    return [LetterRow(letter, reference, status) for letter, reference, status in rows]
