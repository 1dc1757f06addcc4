"""Whether every complaint's indexed record agrees with its instance and its audit trail.

Each action is one transaction, so a crash can only lose a whole action, never half of
one. This check proves it after the fact: run it after a crash or a restore
(`workflow-app verify`).
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workflow_app.casework.engine import Casework
from workflow_app.casework.models import AuditEvent, Complaint, Deadline, Task
from workflow_app.rules.statuses import ComplaintStatus, DeadlineStatus, TaskStatus


def complaint_problems(session: Session, casework: Casework, complaint: Complaint) -> list[str]:
    problems = []
    instance = casework.instance_of(complaint)
    open_rows = set(session.scalars(select(Task.id).where(Task.complaint_id == complaint.id,
                                                          Task.status == TaskStatus.OPEN)))
    open_now = {task.task_id for task in instance.open_tasks()}
    if open_rows != open_now:
        problems.append(f"open tasks differ: recorded {sorted(open_rows)}, instance {sorted(open_now)}")
    armed = instance.armed_timers()
    expected_due = armed[0].due_at if armed else None
    if complaint.instance.next_due_at != expected_due:
        problems.append(f"next_due_at is {complaint.instance.next_due_at}, instance says {expected_due}")
    open_keys = Counter(session.scalars(select(Deadline.key).where(Deadline.complaint_id == complaint.id,
                                                                   Deadline.status == DeadlineStatus.OPEN)))
    armed_keys = Counter(timer.key for timer in armed)
    if open_keys != armed_keys:
        problems.append(f"open deadlines {dict(open_keys)} but armed timers {dict(armed_keys)}")
    closed = complaint.status == ComplaintStatus.CLOSED
    if instance.finished and not closed:
        problems.append(f"status is {complaint.status} but the instance is finished")
    elif closed and not instance.finished and (open_now or armed):
        # A closed complaint's process may only wait for an event that reopens it (a late stage 2 request).
        problems.append(f"status is {complaint.status} but the instance is running")
    counts = dict(session.execute(select(AuditEvent.type, func.count(AuditEvent.id))
                                  .where(AuditEvent.complaint_id == complaint.id).group_by(AuditEvent.type)).all())
    tasks = session.scalar(select(func.count(Task.id)).where(Task.complaint_id == complaint.id))
    completed = session.scalar(select(func.count(Task.id)).where(Task.complaint_id == complaint.id,
                                                                 Task.status == TaskStatus.COMPLETED))
    if counts.get("complaint_logged", 0) != 1:
        problems.append(f"{counts.get('complaint_logged', 0)} complaint_logged events")
    if counts.get("task_ready", 0) != tasks:
        problems.append(f"{counts.get('task_ready', 0)} task_ready events for {tasks} tasks")
    if counts.get("task_completed", 0) != completed:
        problems.append(f"{counts.get('task_completed', 0)} task_completed events for {completed} completed tasks")
    return problems


def inconsistent_complaints(session: Session, casework: Casework) -> Iterator[tuple[str, list[str]]]:
    for complaint in session.scalars(select(Complaint).order_by(Complaint.id)).yield_per(200):
        problems = complaint_problems(session, casework, complaint)
        if problems:
            yield complaint.reference, problems
