"""Notifications: a person hears when a task is assigned to them, and when one of theirs is due within one
working day, in the app and by email.

A notification is written in the transaction of what it tells of (`assigned`, beside the assignment's audit
event), or by the scheduler's job after each sweep (`notify_due_soon`, on the landlord's working-day calendar).
Its words name the task and the complaint's reference, never the resident, and nothing of it is logged.

Email goes through the outbox (`casework.outbox`), so it leaves only after a commit, once: `mail_due` (a job
after each sweep, where the app's mail settings are known) queues each person's notifications not yet mailed
and marks them mailed in the same transaction. A person who chose the daily digest (`User.notify_by`) gets one
email a day, after `DIGEST_HOUR` London time, with everything since the last; the others one email each.
Someone with no email address sees them in the app only.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from email.message import EmailMessage

from sqlalchemy import exists, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from workflow_app.casework import outbox
from workflow_app.casework.models import Complaint, Notification, Task, User
from workflow_app.casework.outbox import SmtpSettings
from workflow_app.rules import clock
from workflow_app.rules.calendar import LONDON, calendar_for, london_date
from workflow_app.rules.errors import InvalidInput
from workflow_app.rules.landlords import Landlord
from workflow_app.rules.statuses import TaskStatus

ASSIGNED = "task_assigned"
DUE_SOON = "task_due_soon"
NOTIFY_BY = {"each": "An email for each notification", "digest": "One email a day: a digest"}
DIGEST_HOUR = 7
"""The hour (London) after which the day's digest goes."""
MAIL_WITHIN = timedelta(days=2)
"""Notifications older than this when first mailable (mail settings added later, say) are not emailed."""
SHOWN = 50
ADDRESS = re.compile(r"[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\".]+")


def assigned(session: Session, task: Task, complaint: Complaint, assignee: str, by: str) -> None:
    """Tell `assignee` a task is theirs (not when they took it themselves), in the assignment's transaction."""
    if assignee == by:
        return
    session.add(Notification(username=assignee, kind=ASSIGNED, complaint_id=complaint.id, task_id=task.id,
                             due_at=task.due_at, created_at=clock.now(),
                             text=f"{task.name} on {complaint.reference} is assigned to you by {by}."))


def notify_due_soon(sessions: sessionmaker[Session], landlords: Mapping[str, Landlord]) -> int:
    """Tell each assignee of an open task due within one working day (their landlord's), once per due time."""
    now = clock.now()
    by_nation: dict[str, list[str]] = {}
    for slug, landlord in landlords.items():
        by_nation.setdefault(landlord.nation, []).append(slug)
    told = 0
    for nation, slugs in by_nation.items():
        horizon = calendar_for(nation).working_days_after(now, 1)
        already = exists().where(Notification.username == Task.assignee, Notification.kind == DUE_SOON,
                                 Notification.task_id == Task.id, Notification.due_at == Task.due_at)
        try:
            with sessions.begin() as session:
                rows = session.execute(
                    select(Task, Complaint.reference).join(Complaint, Complaint.id == Task.complaint_id)
                    .where(Task.status == TaskStatus.OPEN, Task.assignee.is_not(None), Task.landlord.in_(slugs),
                           Task.due_at > now, Task.due_at <= horizon, ~already)).all()
                for task, reference in rows:
                    when = task.due_at.astimezone(LONDON).strftime("%a %-d %b %Y, %H:%M")
                    session.add(Notification(username=task.assignee, kind=DUE_SOON, complaint_id=task.complaint_id,
                                             task_id=task.id, due_at=task.due_at, created_at=now,
                                             text=f"{task.name} on {reference} is due by {when}."))
                told += len(rows)
        except IntegrityError:      # another scheduler told them first
            continue
    return told


def mail_due(sessions: sessionmaker[Session], smtp: SmtpSettings | None) -> int:
    """Queue the notifications' emails in the outbox (each, or the day's digest) and mark them mailed, in one
    transaction; nothing without mail settings. Returns the emails queued."""
    if smtp is None:
        return 0
    now = clock.now()
    today = london_date(now)
    queued = 0
    with sessions.begin() as session:
        rows = session.execute(
            select(Notification, User).join(User, User.username == Notification.username)
            .where(Notification.mailed_at.is_(None), Notification.created_at > now - MAIL_WITHIN,
                   User.email.is_not(None), User.active.is_(True))
            .order_by(Notification.username, Notification.id)).all()
        waiting: dict[str, tuple[User, list[Notification]]] = {}
        for notification, user in rows:
            waiting.setdefault(user.username, (user, []))[1].append(notification)
        for user, notifications in waiting.values():
            if user.notify_by == "digest":
                if user.digest_sent_on == today or now.astimezone(LONDON).hour < DIGEST_HOUR:
                    continue
                subject = f"Your complaints digest: {len(notifications)} notification" \
                          f"{'s' if len(notifications) != 1 else ''}"
                outbox.queue_notice(session, _message(smtp, user, subject, notifications), user.email)
                user.digest_sent_on = today
                queued += 1
            else:
                for notification in notifications:
                    outbox.queue_notice(session, _message(smtp, user, notification.text, [notification]),
                                        user.email)
                    queued += 1
            session.execute(update(Notification).where(Notification.id.in_([n.id for n in notifications]))
                            .values(mailed_at=now), execution_options={"synchronize_session": False})
    return queued


def _message(smtp: SmtpSettings, user: User, subject: str, notifications: list[Notification]) -> EmailMessage:
    message = EmailMessage()
    message["From"] = smtp.sender
    message["To"] = user.email
    message["Subject"] = subject[:250]
    lines = [f"Dear {user.display_name},", ""] + [f"- {n.text}" for n in notifications] + [
        "", "Your inbox has the details. You can choose a daily digest instead on your notifications page."]
    message.set_content("\n".join(lines) + "\n")
    return message


# --- in the app --------------------------------------------------------------------------------------------

def unread(session: Session, user: User) -> int:
    return session.scalar(select(func.count(Notification.id)).where(
        Notification.username == user.username, Notification.read_at.is_(None))) or 0


def recent(session: Session, user: User) -> list[tuple[Notification, str | None]]:
    """The person's latest notifications, newest first, with their complaints' references."""
    return list(session.execute(
        select(Notification, Complaint.reference).outerjoin(Complaint, Complaint.id == Notification.complaint_id)
        .where(Notification.username == user.username).order_by(Notification.id.desc()).limit(SHOWN)).all())


def mark_read(sessions: sessionmaker[Session], user: User) -> int:
    with sessions.begin() as session:
        return session.execute(update(Notification).where(
            Notification.username == user.username, Notification.read_at.is_(None)).values(read_at=clock.now()),
            execution_options={"synchronize_session": False}).rowcount


def choose(sessions: sessionmaker[Session], user: User, notify_by: str, email: str | None) -> None:
    """A person's own choice: each notification by email, or a daily digest; and where to."""
    errors = {}
    if notify_by not in NOTIFY_BY:
        errors["notify_by"] = "Choose how to hear about notifications"
    email = (email or "").strip() or None
    if email is not None and (len(email) > 320 or not ADDRESS.fullmatch(email)):
        errors["email"] = "Enter an email address like name@example.org"
    if errors:
        raise InvalidInput(errors)
    with sessions.begin() as session:
        record = session.scalars(select(User).where(User.username == user.username)).one()
        record.notify_by, record.email = notify_by, email

