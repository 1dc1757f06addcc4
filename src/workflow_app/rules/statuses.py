"""What state a complaint, a task, a deadline, a letter, its email or a lesson is in: one home for each status.

Each is a `StrEnum` whose members equal the strings stored in the `status` columns, so the
database keeps plain text (no migration), templates may compare strings and a member compares
equal to the string a query reads back.
"""
from __future__ import annotations

from enum import StrEnum


class CaseKind(StrEnum):
    """What a case (a row of `complaints`) is: a complaint under the Code, or a hazard case beside one."""

    COMPLAINT = "complaint"
    HAZARD = "hazard"        # Awaab's Law: the landlord's hazard process, linked to the complaint it came from


class ComplaintStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"        # the diagram finished: an outcome and a closing time are recorded


class TaskStatus(StrEnum):
    OPEN = "open"            # in someone's inbox
    COMPLETED = "completed"
    CANCELLED = "cancelled"  # the diagram moved on without it (a boundary timer, a version move, closure)


class DeadlineStatus(StrEnum):
    """A deadline runs while it is open, or after it was missed until the work it guards is done
    (`Deadline.running`)."""

    OPEN = "open"
    MET = "met"
    MISSED = "missed"        # a duty's timer fired before the work was done
    ELAPSED = "elapsed"      # a window's timer fired: nobody missed anything
    CANCELLED = "cancelled"  # the work it guarded was called off, or the complaint closed


class LetterStatus(StrEnum):
    DRAFT = "draft"
    SENT = "sent"
    NOT_NEEDED = "not_needed"  # never for a letter the regime requires


class EmailStatus(StrEnum):
    """A letter's email in the outbox (`casework.outbox`): queued with the letter, sent after it commits."""

    PENDING = "pending"      # waiting for its first try, or for the next one after a failure
    SENDING = "sending"      # claimed by a sender, which is talking to the mail server now
    SENT = "sent"            # the mail server accepted it
    FAILED = "failed"        # given up after the last try (or refused for good): staff may try again


class LessonStatus(StrEnum):
    """An entry in the lessons-learnt log (Code 9.1-9.4)."""

    OPEN = "open"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    NOT_TAKEN_FORWARD = "not_taken_forward"


LESSON_STATUS_NAMES: dict[str, str] = {
    LessonStatus.OPEN: "Open", LessonStatus.IN_PROGRESS: "In progress", LessonStatus.DONE: "Done",
    LessonStatus.NOT_TAKEN_FORWARD: "Not taken forward",
}
"""What people read for each lesson status, in the order the log offers them."""
assert LESSON_STATUS_NAMES.keys() == set(LessonStatus)

UNFINISHED_LESSONS: tuple[LessonStatus, ...] = (LessonStatus.OPEN, LessonStatus.IN_PROGRESS)
"""Lessons whose improvement is still to come."""
