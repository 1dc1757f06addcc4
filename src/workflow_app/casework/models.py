"""What is stored: definitions, complaints, their running instances, and everything the
inbox, case page and reports query (tasks, deadlines, letters, audit events).

The instance's SpiffWorkflow state is an opaque serialized blob; every fact a query
needs is copied into indexed columns when the instance is saved, so no query ever
has to open a blob.
"""
from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    and_,
    event,
    literal_column,
    or_,
    text,
    true,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeDecorator

from workflow_app.rules.statuses import (
    CaseKind,
    ComplaintStatus,
    DeadlineStatus,
    EmailStatus,
    LessonStatus,
    LetterStatus,
    TaskStatus,
)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC instants on every backend (SQLite stores them naive, in UTC)."""

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "postgresql":
            return dialect.type_descriptor(DateTime(timezone=True))
        return dialect.type_descriptor(DateTime())

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored: give a timezone-aware instant")
        value = value.astimezone(UTC)
        return value if dialect.name == "postgresql" else value.replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class likely(FunctionElement):
    """A condition most rows it is tested on meet, said so to SQLite's planner (`likely(x)`; plain `x` elsewhere).
    SQLite's statistics count distinct values, not NULLs: a column that is NULL on many rows and distinct on the
    rest looks as selective for `IS NULL` as for any one value. (Untyped: a boolean function would be compared
    with 1 on SQLite, and the comparison would hide the condition from the partial index it matches.)"""
    inherit_cache = True


@compiles(likely)
def _likely(element: likely, compiler, **kw) -> str:
    return compiler.process(element.clauses, **kw)


@compiles(likely, "sqlite")
def _likely_on_sqlite(element: likely, compiler, **kw) -> str:
    return f"likely({compiler.process(element.clauses, **kw)})"


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(120), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(300))
    roles: Mapped[list[Any]] = mapped_column(default=list)
    landlords: Mapped[list[Any]] = mapped_column(default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    email: Mapped[str | None] = mapped_column(String(320))
    """Where the person's notifications are emailed (none: they see them in the app only)."""
    notify_by: Mapped[str] = mapped_column(String(10), default="each", server_default="each")
    """How notifications are emailed: `each` as it happens, or `digest`, one email a day."""
    digest_sent_on: Mapped[date | None] = mapped_column(Date)
    """The London day of the person's last daily digest."""

    def may_see(self, landlord: str) -> bool:
        return self.active and (landlord in self.landlords or "*" in self.landlords)

    def landlords_clause(self, landlord: Any) -> ColumnElement[bool]:
        """`may_see` as a query's condition on a landlord column: the rows of the person's landlords (every row,
        for someone who works for every landlord)."""
        return true() if "*" in self.landlords else landlord.in_(self.landlords or [""])


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()


class DefinitionVersion(Base):
    """One deployed version of a landlord's diagram, with the forms it was deployed with."""

    __tablename__ = "definition_versions"
    __table_args__ = (UniqueConstraint("landlord", "process_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    landlord: Mapped[str] = mapped_column(String(60), index=True)
    process_id: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    xml: Mapped[str] = mapped_column(Text)
    forms: Mapped[dict[str, Any]] = mapped_column(default=dict)
    deployed_by: Mapped[str] = mapped_column(String(120))
    deployed_at: Mapped[datetime]
    note: Mapped[str | None] = mapped_column(Text)
    # The Complaint Handling Code check's findings when it was deployed, and, when they
    # included Code errors, the deployer's reason for deploying it anyway.
    code_findings: Mapped[list[Any] | None] = mapped_column(JSON)
    acknowledgement: Mapped[str | None] = mapped_column(Text)


class ReferenceCounter(Base):
    __tablename__ = "reference_counters"

    landlord: Mapped[str] = mapped_column(String(60), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)


class Complaint(Base):
    __tablename__ = "complaints"
    __table_args__ = (
        Index("ix_complaints_landlord_status", "landlord", "status"),
        Index("ix_complaints_landlord_status_stage", "landlord", "status", "stage"),
        Index("ix_complaints_landlord_closed", "landlord", "closed_at"),
        # What the performance page (CH01, the categories) and the dashboard count of the complaints received in a
        # period, and (below) closed in one, read from the index alone; the kind tells complaints from hazard cases.
        Index("ix_complaints_landlord_received_cases", "landlord", "received_at", "kind", "category", "stage",
              "status", "outcome"),
        Index("ix_complaints_landlord_closed_outcome", "landlord", "closed_at", "status", "outcome"),
        # The few cases that are not complaints (hazard cases): so work can be told apart as a complaint's
        # without reading every complaint (`reporting.measures.running_other_cases`).
        Index("ix_complaints_other_kinds", "id", "kind",
              sqlite_where=text(f"kind <> '{CaseKind.COMPLAINT}'"),
              postgresql_where=text(f"kind <> '{CaseKind.COMPLAINT}'")),
        # The running complaints by landlord and stage, read from the index alone (the dashboard), and the ids
        # its running deadlines are joined to.
        Index("ix_complaints_running_stage", "landlord", "stage", "id",
              sqlite_where=text(f"status = '{ComplaintStatus.OPEN}'"),
              postgresql_where=text(f"status = '{ComplaintStatus.OPEN}'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(40), unique=True)
    landlord: Mapped[str] = mapped_column(String(60))
    received_at: Mapped[datetime]
    channel: Mapped[str] = mapped_column(String(40))
    category: Mapped[str] = mapped_column(String(60))
    summary: Mapped[str] = mapped_column(Text)
    resident: Mapped[dict[str, Any]] = mapped_column(default=dict)
    representative: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    outcomes_sought: Mapped[str | None] = mapped_column(Text)
    reasonable_adjustments: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default=ComplaintStatus.OPEN)
    stage: Mapped[str] = mapped_column(String(10), default="pre")
    outcome: Mapped[str | None] = mapped_column(String(60))
    closed_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(120))
    anonymised_at: Mapped[datetime | None]
    kind: Mapped[str] = mapped_column(String(20), default=CaseKind.COMPLAINT, server_default=CaseKind.COMPLAINT)
    """A complaint under the Code, or a hazard case (Awaab's Law) run by the landlord's hazard process beside it."""
    raised_from_id: Mapped[int | None] = mapped_column(ForeignKey("complaints.id"), index=True)
    """A hazard case: the complaint it was raised from (none for a repair report logged on its own). The one link
    between the two: a complaint finds its hazard cases by it."""
    audit_head: Mapped[str | None] = mapped_column(String(64))
    """The hash of the complaint's newest audit event: the head of its chain, moved only by a compare-and-set
    (casework/audit.py), so two actions can never both append after the same event."""

    @classmethod
    def running_clause(cls) -> ColumnElement[bool]:
        """Complaints still running (open), with the status as a literal so the database can use the partial
        index of running complaints (`ix_complaints_running_stage`)."""
        return cls.status == literal_column(f"'{ComplaintStatus.OPEN}'")

    instance: Mapped[WorkflowInstance] = relationship(back_populates="complaint", uselist=False)

    @property
    def is_hazard(self) -> bool:
        return self.kind == CaseKind.HAZARD


class SearchEntry(Base):
    """One thing a complaint can be found by (casework/search.py): a word of a person's name, an email, a phone
    number, a postcode or the address, each normalised; written with the complaint and removed when it is
    anonymised. The address is also indexed for substring search by the database's own text search (pg_trgm on
    PostgreSQL, FTS5 on SQLite), which migration 0015 creates beside this table."""

    __tablename__ = "search_entries"
    __table_args__ = (Index("ix_search_entries_kind_value", "kind", "value", "complaint_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    value: Mapped[str] = mapped_column(String(2000))


class SearchTerm(Base):
    """Every distinct word of the names in `search_entries`: the short list a typo is matched against (by
    trigrams) before the entries are read; a word goes when no complaint's name uses it any longer."""

    __tablename__ = "search_terms"

    id: Mapped[int] = mapped_column(primary_key=True)
    term: Mapped[str] = mapped_column(String(200), unique=True)


class WorkflowInstance(Base):
    """A complaint's running process: its definition version and its serialized state."""

    __tablename__ = "workflow_instances"

    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id"), unique=True)
    definition_version_id: Mapped[int] = mapped_column(ForeignKey("definition_versions.id"), index=True)
    state: Mapped[str] = mapped_column(Text)
    next_due_at: Mapped[datetime | None] = mapped_column(index=True)
    revision: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime]
    open_incidents: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """How many of the complaint's timer incidents are unresolved, so an action looks them up only when there are
    some."""
    pending_events: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """How many events wait for the process to take them, so an action looks them up only when there are some."""

    complaint: Mapped[Complaint] = relationship(back_populates="instance")
    definition_version: Mapped[DefinitionVersion] = relationship()

    __mapper_args__: ClassVar[dict[str, Any]] = {"version_id_col": revision}


class Task(Base):
    """A user task, open or done: the inbox reads the open ones, the case record all."""

    __tablename__ = "tasks"
    __table_args__ = (
        Index("ix_tasks_open_landlord_due", "status", "landlord", "due_at"),
        Index("ix_tasks_assignee_status", "assignee", "status"),
        Index("ix_tasks_role_status", "role", "status"),
        # Covers the inbox's per-view counts (mine, team's unassigned) without reading the rows.
        Index("ix_tasks_open_landlord_assignee_role", "status", "landlord", "assignee", "role"),
        Index("ix_tasks_landlord_element_created", "landlord", "element_id", "created_at"),
        # The dashboard's overdue work: open tasks past their due time, where they wait and with whom.
        Index("ix_tasks_open_due_work", "status", "landlord", "element_id", "assignee", "due_at",
              sqlite_where=text(f"status = '{TaskStatus.OPEN}'"),
              postgresql_where=text(f"status = '{TaskStatus.OPEN}'")),
        Index("ix_tasks_open_work", "status", "landlord", "element_id", "assignee", "complaint_id",
              sqlite_where=text(f"status = '{TaskStatus.OPEN}'"),
              postgresql_where=text(f"status = '{TaskStatus.OPEN}'")),
        # Each person's caseload: the complaints they have open work on, in order, so counting them needs no sort.
        Index("ix_tasks_open_assignee_complaint", "assignee", "complaint_id", "landlord",
              sqlite_where=text(f"status = '{TaskStatus.OPEN}'"),
              postgresql_where=text(f"status = '{TaskStatus.OPEN}'")),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id"), index=True)
    landlord: Mapped[str] = mapped_column(String(60))
    element_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(300))
    stage: Mapped[str] = mapped_column(String(10))
    role: Mapped[str | None] = mapped_column(String(60))
    form_id: Mapped[str | None] = mapped_column(String(200))
    assignee: Mapped[str | None] = mapped_column(String(120))
    due_at: Mapped[datetime | None]
    """The earliest running deadline the task works towards (see `engine.due_for`); kept in step on every action."""
    status: Mapped[str] = mapped_column(String(20), default=TaskStatus.OPEN)
    created_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]
    completed_by: Mapped[str | None] = mapped_column(String(120))

    def overdue(self, now: datetime) -> bool:
        return self.status == TaskStatus.OPEN and self.due_at is not None and self.due_at < now

    @classmethod
    def overdue_clause(cls, now: datetime) -> ColumnElement[bool]:
        """Open tasks past their due time: the inbox's Overdue filter, `GET /api/tasks?overdue=true`
        and the dashboard's overdue work all read this."""
        return and_(cls.status == literal_column(f"'{TaskStatus.OPEN}'"), cls.due_at < now)


class Deadline(Base):
    """One deadline of a complaint, by key; an extension moves it and marks it extended."""

    __tablename__ = "deadlines"
    __table_args__ = (
        Index("ix_deadlines_complaint_key", "complaint_id", "key"),
        Index("ix_deadlines_status_due", "status", "due_at"),
        Index("ix_deadlines_key_met", "key", "met_at", "complaint_id", "due_at"),
        Index("ix_deadlines_key_due", "key", "due_at", "status", "met_at", "extended", "complaint_id"),
        Index("ix_deadlines_key_complaint", "key", "complaint_id"),   # the escalations, in complaint order
        Index("ix_deadlines_open", "status", "complaint_id", "key", "due_at", "extended",
              sqlite_where=text(f"status = '{DeadlineStatus.OPEN}'"),
              postgresql_where=text(f"status = '{DeadlineStatus.OPEN}'")),
        # The dashboard's open deadlines of a landlord, counted by key from the index alone.
        Index("ix_deadlines_open_landlord", "landlord", "key", "due_at", "extended",
              sqlite_where=text(f"status = '{DeadlineStatus.OPEN}'"),
              postgresql_where=text(f"status = '{DeadlineStatus.OPEN}'")),
        Index("ix_deadlines_missed_unmet", "status", "complaint_id", "key", "guards", "met_at",
              sqlite_where=text(f"status = '{DeadlineStatus.MISSED}' AND met_at IS NULL"),
              postgresql_where=text(f"status = '{DeadlineStatus.MISSED}' AND met_at IS NULL")),
        # The performance page's counts of one landlord's deadlines met, and due, in a period, read from the
        # index alone; and the few deadlines whose landlord `reporting.refresh` has not copied yet.
        Index("ix_deadlines_key_landlord_met", "key", "landlord", "met_at", "due_at"),
        Index("ix_deadlines_key_landlord_due", "key", "landlord", "due_at", "status", "met_at", "extended"),
        Index("ix_deadlines_landlord_unknown", "landlord", "key", "complaint_id",
              sqlite_where=text("landlord IS NULL"), postgresql_where=text("landlord IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id"))
    key: Mapped[str] = mapped_column(String(40))
    stage: Mapped[str] = mapped_column(String(10))
    element_id: Mapped[str] = mapped_column(String(200))
    guards: Mapped[str | None] = mapped_column(String(200))
    due_at: Mapped[datetime]
    original_due_at: Mapped[datetime]
    met_at: Mapped[datetime | None]
    met_by: Mapped[str | None] = mapped_column(String(60))
    """How the work ended when not in the usual way (a refusal letter meets the acknowledgement duty)."""
    missed: Mapped[bool] = mapped_column(Boolean, default=False)
    extended: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(20), default=DeadlineStatus.OPEN)
    landlord: Mapped[str | None] = mapped_column(String(60))
    """The complaint's landlord, copied by `reporting.refresh` (the engine leaves it empty), so the reports count
    a landlord's deadlines without looking up each one's complaint; empty until then."""

    # The one definition of a running deadline, and so of "overdue", that the engine, the inbox, the
    # API, the case page and the dashboard all read: a deadline runs while it is open, or after its
    # timer fired (missed) until the work it guards is done. A missed deadline whose work was
    # cancelled (guards cleared) or a window that elapsed no longer runs.

    @property
    def running(self) -> bool:
        return self.status == DeadlineStatus.OPEN or (self.status == DeadlineStatus.MISSED and self.met_at is None
                                         and self.guards is not None)

    def overdue(self, now: datetime) -> bool:
        return self.running and self.due_at < now

    @classmethod
    def running_clauses(cls) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
        """The two ways a deadline runs: open, or missed with its work not done. Each matches a partial
        index (literal statuses, not parameters), so a query can read them one at a time. A missed one's
        `met_at IS NULL` is `likely` so that SQLite reads the missed ones' own index, not every unmet deadline
        by key (most deadlines' `met_at` is distinct, so its statistics took NULL for a row or two a key)."""
        return (cls.status == literal_column(f"'{DeadlineStatus.OPEN}'"),
                and_(cls.status == literal_column(f"'{DeadlineStatus.MISSED}'"), likely(cls.met_at.is_(None)),
                     cls.guards.is_not(None)))

    @classmethod
    def running_clause(cls) -> ColumnElement[bool]:
        return or_(*cls.running_clauses())

    @classmethod
    def overdue_clause(cls, now: datetime) -> ColumnElement[bool]:
        return and_(cls.running_clause(), cls.due_at < now)


class Incident(Base):
    """Something in a complaint's diagram that failed while it ran (kind "timer": a timer whose due time
    could not be worked out), listed for the analysts until a fix (a corrected version, or a retry) clears
    it; the person whose action met the failure is not stopped by it. Or (kind "audit_trail") the
    complaint's audit trail found broken by `workflow-app verify` (casework/incidents.py)."""

    __tablename__ = "incidents"
    __table_args__ = (Index("ix_incidents_open", "landlord", "resolved_at", "since"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id"), index=True)
    landlord: Mapped[str] = mapped_column(String(60))
    element_id: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(40))
    message: Mapped[str] = mapped_column(Text)
    since: Mapped[datetime]
    resolved_at: Mapped[datetime | None]


class PendingEvent(Base):
    """An event from outside that the process could not take yet; delivered when it can."""

    __tablename__ = "pending_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    received_at: Mapped[datetime]
    received_by: Mapped[str] = mapped_column(String(120))
    delivered_at: Mapped[datetime | None]


class Letter(Base):
    __tablename__ = "letters"
    __table_args__ = (Index("ix_letters_status_owner", "status", "owner"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id"), index=True)
    template: Mapped[str] = mapped_column(String(120))
    element_id: Mapped[str] = mapped_column(String(200))
    stage: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(20), default=LetterStatus.DRAFT)
    body_html: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    edited_at: Mapped[datetime | None]
    edited_by: Mapped[str | None] = mapped_column(String(120))
    sent_by: Mapped[str | None] = mapped_column(String(120))
    sent_to: Mapped[str | None] = mapped_column(String(300))
    emailed_at: Mapped[datetime | None]
    """When the mail server accepted the letter's email (its `OutboxEmail` row is sent)."""
    owner: Mapped[str | None] = mapped_column(String(120))
    """Whose inbox the draft is on until it is sent: whoever's action drafted it, or the case owner when the
    clock did (none: the team's)."""


class Notification(Base):
    """Something a person hears about: a task assigned to them, or one of theirs due within one working day.

    Shown in the app, and emailed through the outbox (as it happens, or in the person's daily digest:
    `casework.notifications`). Its words name the task and the complaint's reference, never the resident."""

    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("username", "kind", "task_id", "due_at", name="uq_notifications_once"),
        Index("ix_notifications_user", "username", "read_at"),
        Index("ix_notifications_unmailed", "mailed_at", sqlite_where=text("mailed_at IS NULL"),
              postgresql_where=text("mailed_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(30))
    complaint_id: Mapped[int | None] = mapped_column(ForeignKey("complaints.id"))
    task_id: Mapped[str | None] = mapped_column(String(64))
    due_at: Mapped[datetime | None]
    text: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime]
    read_at: Mapped[datetime | None]
    mailed_at: Mapped[datetime | None]
    """When its email (its own, or the digest it went in) was queued in the outbox; none: not yet, or never."""


class LetterPdf(Base):
    """A sent letter as it is posted: the PDF made in the transaction that sent it (`casework.letters`), at
    the print size the complaint's reasonable adjustments ask for. In the case export; deleted when the
    complaint is anonymised (it holds the resident's name and address)."""

    __tablename__ = "letter_pdfs"

    id: Mapped[int] = mapped_column(primary_key=True)
    letter_id: Mapped[int] = mapped_column(ForeignKey("letters.id"), unique=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id"), index=True)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer)
    """Bytes, so a list of letters never reads the PDFs themselves."""
    pages: Mapped[int] = mapped_column(Integer)
    print_size_pt: Mapped[int] = mapped_column(Integer)
    """The body text's size in points: 12, or large print (16, or the size the adjustment recorded)."""
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]


class OutboxEmail(Base):
    """A letter's email, written in the transaction that sends the letter and sent after it commits
    (`casework.outbox`): the message exactly as it goes out, and how sending it is going.

    A row waits for a sender while `next_attempt_at` is set (pending, or claimed by a sender until its
    claim lapses); a sent or failed row has none, so the due rows are read from one small index."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "next_attempt_at", sqlite_where=text("next_attempt_at IS NOT NULL"),
              postgresql_where=text("next_attempt_at IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    letter_id: Mapped[int | None] = mapped_column(ForeignKey("letters.id"), unique=True)
    """The letter it sends; none for a notification to a member of staff."""
    complaint_id: Mapped[int | None] = mapped_column(ForeignKey("complaints.id"), index=True)
    message_id: Mapped[str] = mapped_column(String(250), unique=True)
    """The `Message-ID` header, fixed when the row is written: a resend is recognisably the same message."""
    recipient: Mapped[str] = mapped_column(String(300))
    subject: Mapped[str] = mapped_column(String(300))
    message: Mapped[str] = mapped_column(Text)
    """The whole MIME message (headers, plain text and HTML), with CRLF line ends, as it is sent."""
    status: Mapped[str] = mapped_column(String(20), default=EmailStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    """Tries so far (since staff last asked for it to be tried again); a claim counts as a try."""
    next_attempt_at: Mapped[datetime | None]
    claimed_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(300))
    """What went wrong last, in words that name no person (no address, no server's free text)."""
    sent_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class AuditEvent(Base):
    """Append-only history of every change to a complaint (Code 5.12: a full record)."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_complaint", "complaint_id", "id"),
        Index("ix_audit_landlord_type_at", "landlord", "type", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int | None] = mapped_column(ForeignKey("complaints.id"))
    landlord: Mapped[str | None] = mapped_column(String(60), index=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(120))
    type: Mapped[str] = mapped_column(String(40))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # The complaint's chain (casework/audit.py): the hash of the complaint's event before this one (none for its
    # first), and this event's own, over both. Events without a complaint are not chained.
    previous_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64))


@event.listens_for(AuditEvent, "before_update")
@event.listens_for(AuditEvent, "before_delete")
def _audit_is_append_only(mapper, connection, target) -> None:
    raise PermissionError("audit events are append-only")


# --- the caseworkers' workspace -------------------------------------------------------

class SignInAttempt(Base):
    """Sign-in attempts, counted per username and per address to slow password guessing, and
    forgotten after `retention.SIGN_IN_ATTEMPTS_KEPT` (by time: `ix_sign_in_attempts_at`)."""

    __tablename__ = "sign_in_attempts"
    __table_args__ = (
        Index("ix_sign_in_attempts_username_at", "username", "at"),
        Index("ix_sign_in_attempts_address_at", "address", "at"),
        Index("ix_sign_in_attempts_at", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(120))
    address: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]
    succeeded: Mapped[bool] = mapped_column(Boolean, default=False)


class CaseNote(Base):
    """A caseworker's note on a complaint: part of the full record (Code 5.12)."""

    __tablename__ = "case_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id"), index=True)
    author: Mapped[str] = mapped_column(String(120))
    at: Mapped[datetime]
    body: Mapped[str] = mapped_column(Text)


class Attachment(Base):
    """A file kept with a complaint (a photo, the resident's letter, a representative's authority)."""

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(120))
    size: Mapped[int] = mapped_column(Integer)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    uploaded_by: Mapped[str] = mapped_column(String(120))
    uploaded_at: Mapped[datetime]


class SupportNeeds(Base):
    """Reasonable adjustments and disclosed vulnerabilities, with when to review them (Code 5.6).

    Each review adds a row, so the record shows what was agreed and when it was looked at again.
    """

    __tablename__ = "support_needs"

    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id"), index=True)
    adjustments: Mapped[str | None] = mapped_column(Text)
    vulnerabilities: Mapped[str | None] = mapped_column(Text)
    review_on: Mapped[date | None] = mapped_column(Date)
    recorded_by: Mapped[str] = mapped_column(String(120))
    recorded_at: Mapped[datetime]


# --- managers' reporting ----------------------------------------------------------------

class ReportCalendarDay(Base):
    """The working-day rule as a table, so reports count working days in SQL (see `reporting`).

    `day0` numbers the working days of a nation in order: it is the number of the day itself
    if it is a working day, else of the next one (the rule's "day 0"), so "within N working
    days of X" holds exactly when day0(response) - day0(X) <= N. `day0_late` is the same for
    an instant in the last UTC hour of `day`, which is already the next London day in summer.
    Filled from `calendar` by `reporting.ensure_calendar`; nothing else writes it.
    """

    __tablename__ = "report_calendar"

    nation: Mapped[str] = mapped_column(String(3), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    day0: Mapped[int] = mapped_column(Integer)
    day0_late: Mapped[int] = mapped_column(Integer)


class ReportResponse(Base):
    """One stage 1 or stage 2 response, measured once against the Code (see `reporting`).

    Written by `reporting.refresh` in SQL from the response's deadline, its acknowledgement
    and the working-day calendar, when the response has been made; a response never changes
    afterwards (only `escalated`, whether its complaint went on to stage 2), so CH02 and the
    response times read these rows instead of joining four tables.
    """

    __tablename__ = "report_responses"
    __table_args__ = (
        Index("ix_report_responses_landlord_at", "landlord", "responded_at", "stage"),
        Index("ix_report_responses_figures", "landlord", "responded_at", "stage", "within_code", "extended",
              "met_own_deadline", "days_from_start", "complaint_id"),
        Index("ix_report_responses_escalated", "landlord", "responded_at", "stage", "complaint_id", "escalated"),
    )

    deadline_id: Mapped[int] = mapped_column(ForeignKey("deadlines.id"), primary_key=True, autoincrement=False)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id"), index=True)
    landlord: Mapped[str] = mapped_column(String(60))
    stage: Mapped[str] = mapped_column(String(10))
    responded_at: Mapped[datetime]
    acknowledged_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    extended: Mapped[bool] = mapped_column(Boolean)
    met_own_deadline: Mapped[bool] = mapped_column(Boolean)
    days_from_acknowledgement: Mapped[int | None] = mapped_column(Integer)
    days_from_start: Mapped[int | None] = mapped_column(Integer)
    within_code: Mapped[bool] = mapped_column(Boolean)
    escalated: Mapped[bool | None] = mapped_column(Boolean)
    """The complaint has gone to stage 2 since: the one column that changes, kept in step with
    `ReportComplaint.escalated` by each refresh."""


class ReportComplaint(Base):
    """One complaint as the performance page counts it: when it was received and closed, and whether it
    had a stage 1 response and has gone to stage 2, copied by `reporting.refresh` (see
    `reporting.measures.copy_complaints`) so the page counts them from one index instead of looking up
    each complaint's deadlines and responses.

    Unlike a measured response, a complaint changes (it closes, it escalates): each refresh copies again
    the complaints with an audit event that can change these columns since the last one.
    """

    __tablename__ = "report_complaints"
    __table_args__ = (
        Index("ix_report_complaints_received", "landlord", "received_at", "category", "escalated"),
        Index("ix_report_complaints_closed", "landlord", "closed_at", "status", "stage1_answered", "escalated"),
        Index("ix_report_complaints_event", "event_id"),
    )

    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id"), primary_key=True, autoincrement=False)
    landlord: Mapped[str] = mapped_column(String(60))
    received_at: Mapped[datetime]
    category: Mapped[str] = mapped_column(String(60))
    status: Mapped[str] = mapped_column(String(20))
    closed_at: Mapped[datetime | None]
    escalated: Mapped[bool] = mapped_column(Boolean)
    """It has gone to stage 2 (a `stage2_acknowledge` deadline was set)."""
    stage1_answered: Mapped[bool] = mapped_column(Boolean)
    """It had a stage 1 response (a `report_responses` row of stage 1)."""
    event_id: Mapped[int] = mapped_column(Integer)
    """The newest audit event id when the row was copied: the highest is where the next refresh reads on from."""


class ReportForm(Base):
    """The answers the reports count from one completed form, copied once from its `task_completed`
    audit event (see `reporting.measures.refresh`): compensation offered, and the satisfaction
    survey's status and answer. A form that records none of them, nor any `ReportChoice`, has no row.

    The audit event never changes, so neither does this row; the performance page reads these
    columns instead of opening every event's JSON of the period.
    """

    __tablename__ = "report_forms"
    __table_args__ = (
        Index("ix_report_forms_landlord_at", "landlord", "completed_at", "stage", "compensation", "survey_status",
              "satisfaction"),
    )

    event_id: Mapped[int] = mapped_column(ForeignKey("audit_events.id"), primary_key=True, autoincrement=False)
    complaint_id: Mapped[int | None] = mapped_column(ForeignKey("complaints.id"))
    landlord: Mapped[str | None] = mapped_column(String(60))
    completed_at: Mapped[datetime]
    stage: Mapped[str | None] = mapped_column(String(10))
    """The completed task's stage, as its audit event gives it."""
    compensation: Mapped[float | None] = mapped_column(Float)
    survey_status: Mapped[str | None] = mapped_column(String(60))
    satisfaction: Mapped[str | None] = mapped_column(String(60))


class ReportChoice(Base):
    """One option ticked in a completed form's multiple-choice answer that the reports count (a remedy
    offered, a reason for refusing a complaint or an escalation), copied once with its `ReportForm`.

    `position` is the option's place in the answer, so an answer is copied exactly as it was given.
    """

    __tablename__ = "report_choices"
    __table_args__ = (
        Index("ix_report_choices_landlord_field_at", "landlord", "field", "completed_at", "stage", "value"),
        Index("ix_report_choices_complaint_field", "complaint_id", "field", "value"),
    )

    event_id: Mapped[int] = mapped_column(ForeignKey("audit_events.id"), primary_key=True, autoincrement=False)
    field: Mapped[str] = mapped_column(String(60), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    value: Mapped[str | None] = mapped_column(String(200))
    complaint_id: Mapped[int | None] = mapped_column(ForeignKey("complaints.id"))
    landlord: Mapped[str | None] = mapped_column(String(60))
    completed_at: Mapped[datetime]
    stage: Mapped[str | None] = mapped_column(String(10))


class SelfAssessmentAnswer(Base):
    """The complaints officer's answer to one Code provision in a reporting year's self-assessment."""

    __tablename__ = "self_assessment_answers"
    __table_args__ = (UniqueConstraint("landlord", "year", "provision"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    landlord: Mapped[str] = mapped_column(String(60))
    year: Mapped[int] = mapped_column(Integer)
    provision: Mapped[str] = mapped_column(String(10))
    comply: Mapped[str | None] = mapped_column(String(3))
    evidence: Mapped[str | None] = mapped_column(Text)
    commentary: Mapped[str | None] = mapped_column(Text)
    updated_by: Mapped[str] = mapped_column(String(120))
    updated_at: Mapped[datetime]


class LessonLearnt(Base):
    """An entry in the lessons-learnt and service-improvement log (Code 9.1-9.4)."""

    __tablename__ = "lessons_learnt"
    __table_args__ = (
        Index("ix_lessons_learnt_landlord_status", "landlord", "status"),
        Index("ix_lessons_learnt_landlord_recorded", "landlord", "recorded_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    landlord: Mapped[str] = mapped_column(String(60))
    complaint_id: Mapped[int | None] = mapped_column(ForeignKey("complaints.id"), index=True)
    source_event_id: Mapped[int | None] = mapped_column(ForeignKey("audit_events.id"), unique=True)
    theme: Mapped[str] = mapped_column(String(60))
    what_went_wrong: Mapped[str] = mapped_column(Text)
    improvement: Mapped[str | None] = mapped_column(Text)
    owner: Mapped[str | None] = mapped_column(String(200))
    due_on: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default=LessonStatus.OPEN)
    systemic: Mapped[bool] = mapped_column(Boolean, default=False)
    recorded_at: Mapped[datetime]
    recorded_by: Mapped[str] = mapped_column(String(120))
    completed_on: Mapped[date | None] = mapped_column(Date)
    updated_at: Mapped[datetime | None]
    updated_by: Mapped[str | None] = mapped_column(String(120))


class ChecklistAnswer(Base):
    """A tick on a complaint's checklist item that the record cannot answer by itself."""

    __tablename__ = "checklist_answers"
    __table_args__ = (UniqueConstraint("complaint_id", "item"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id"))
    item: Mapped[str] = mapped_column(String(40))
    answer: Mapped[str | None] = mapped_column(String(3))
    comment: Mapped[str | None] = mapped_column(Text)
    answered_by: Mapped[str] = mapped_column(String(120))
    answered_at: Mapped[datetime]


class AnnualReportNote(Base):
    """What the annual report needs from people: the Ombudsman's findings and the governing body's response."""

    __tablename__ = "annual_report_notes"
    __table_args__ = (UniqueConstraint("landlord", "year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    landlord: Mapped[str] = mapped_column(String(60))
    year: Mapped[int] = mapped_column(Integer)
    ombudsman_findings: Mapped[str | None] = mapped_column(Text)
    governing_body_response: Mapped[str | None] = mapped_column(Text)
    response_date: Mapped[date | None] = mapped_column(Date)
    updated_by: Mapped[str] = mapped_column(String(120))
    updated_at: Mapped[datetime]
