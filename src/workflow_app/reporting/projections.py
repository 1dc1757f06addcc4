"""Bringing the read side up to date: the measured responses, the answers the reports count
and the lessons-learnt log.

Each is written from what casework recorded (deadlines met, forms completed), never while
a page is read: the scheduler runs `bring_up_to_date` after each timer sweep, and the demo
and the tests run it after loading complaints. Each part only adds what is new, so running
it often costs an indexed query or two.

`jobs_after_each_sweep` is the one list of what the scheduler runs after its sweeps, in the
web process or in `workflow-app scheduler`: this, and forgetting old sign-in attempts.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping

from sqlalchemy.orm import Session, sessionmaker

from workflow_app.casework import notifications
from workflow_app.casework.outbox import SmtpSettings
from workflow_app.casework.retention import forget_old_sign_in_attempts
from workflow_app.casework.runtime import Runtime
from workflow_app.reporting import lessons
from workflow_app.reporting.measures import refresh
from workflow_app.rules.landlords import Landlord


def bring_up_to_date(sessions: sessionmaker[Session], landlords: Mapping[str, Landlord]) -> tuple[int, int]:
    """Measure new responses, copy new forms' answers and log new lessons for every landlord; returns
    (responses, lessons) added."""
    measured = refresh(sessions, landlords)
    with sessions.begin() as session:
        logged = lessons.collect(session, sorted(landlords))
    return measured, logged


def after_each_sweep(runtime: Runtime) -> Callable[[], tuple[int, int]]:
    """The read side's job after each timer sweep."""
    return lambda: bring_up_to_date(runtime.sessions, runtime.landlords)


def jobs_after_each_sweep(runtime: Runtime, smtp: SmtpSettings | None = None) -> list[Callable[[], object]]:
    """Every job the scheduler runs after its sweeps (in the web process or `workflow-app scheduler`): the read
    side brought up to date, the sign-in attempts older than `retention.SIGN_IN_ATTEMPTS_KEPT` forgotten, so
    they go without anyone running `workflow-app retention`, and the notifications of tasks due within a working
    day written and, with mail settings, emailed through the outbox."""
    return [after_each_sweep(runtime), lambda: forget_old_sign_in_attempts(runtime.sessions),
            lambda: notifications.notify_due_soon(runtime.sessions, runtime.landlords),
            lambda: notifications.mail_due(runtime.sessions, smtp)]
