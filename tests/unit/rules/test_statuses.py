"""Statuses: the members are the strings the database already holds, so no row needs migrating."""
from __future__ import annotations

import json

from workflow_app.rules.statuses import (
    LESSON_STATUS_NAMES,
    UNFINISHED_LESSONS,
    ComplaintStatus,
    DeadlineStatus,
    LessonStatus,
    LetterStatus,
    TaskStatus,
)


def test_members_are_the_stored_strings():
    assert [s.value for s in ComplaintStatus] == ["open", "closed"]
    assert [s.value for s in TaskStatus] == ["open", "completed", "cancelled"]
    assert [s.value for s in DeadlineStatus] == ["open", "met", "missed", "elapsed", "cancelled"]
    assert [s.value for s in LetterStatus] == ["draft", "sent", "not_needed"]
    assert [s.value for s in LessonStatus] == ["open", "in_progress", "done", "not_taken_forward"]


def test_a_member_compares_formats_and_serialises_as_its_string():
    assert TaskStatus.OPEN == "open" and DeadlineStatus.OPEN == "open"
    assert TaskStatus.OPEN in {"open"} and "missed" in {DeadlineStatus.MISSED}
    assert f"it is {TaskStatus.COMPLETED}" == "it is completed"
    assert json.dumps({"status": LetterStatus.NOT_NEEDED}) == '{"status": "not_needed"}'
    assert DeadlineStatus("met") is DeadlineStatus.MET


def test_every_lesson_status_has_a_label_in_order():
    assert list(LESSON_STATUS_NAMES) == list(LessonStatus)
    assert LESSON_STATUS_NAMES["in_progress"] == "In progress"
    assert set(UNFINISHED_LESSONS) == {"open", "in_progress"}
