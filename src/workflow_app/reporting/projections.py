"""Bringing the read side up to date: the measured responses, the answers the reports count
and the lessons-learnt log.

Each is written from what casework recorded (deadlines met, forms completed), never while
a page is read: the scheduler runs `bring_up_to_date` after each timer sweep, and the demo
and the tests run it after loading complaints. Each part only adds what is new, so running
it often costs an indexed query or two.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping

from sqlalchemy.orm import Session, sessionmaker

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
    """The job the scheduler runs after each timer sweep (in the web process or `workflow-app scheduler`)."""
    return lambda: bring_up_to_date(runtime.sessions, runtime.landlords)
