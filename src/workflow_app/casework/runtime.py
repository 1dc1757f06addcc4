"""Everything a running app needs, built once: database, landlords, services.

The web app, the CLI, the scheduler process and the simulator all build one of these,
so they share one way of wiring the product together.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from workflow_app import settings
from workflow_app.casework.complaints import ComplaintService
from workflow_app.casework.db import create_schema, make_engine, make_session_factory
from workflow_app.casework.engine import Casework
from workflow_app.casework.hazards import HazardService
from workflow_app.casework.scheduler import watch_deadlines
from workflow_app.casework.tasks import TaskService
from workflow_app.rules import clock
from workflow_app.rules.landlords import Landlord, SettingsError, load_landlords

PROCESSES_VARIABLE = "WORKFLOW_APP_PROCESSES"
FORMS_VARIABLE = "WORKFLOW_APP_FORMS"
NOW_VARIABLE = "WORKFLOW_APP_NOW"


def default_processes_dir() -> Path:
    return settings.load().processes.resolve()


def default_forms_dir() -> Path:
    return settings.load().forms.resolve()


def default_clock() -> clock.Clock:
    """The system clock, or a frozen one from WORKFLOW_APP_NOW (rehearsals and tests, never production)."""
    fixed = settings.load().now
    if not fixed:
        return clock.SYSTEM
    try:
        return clock.VirtualClock(datetime.fromisoformat(fixed))
    except ValueError as error:
        raise SettingsError(f"{NOW_VARIABLE}: {error}") from None


@dataclass
class Runtime:
    engine: Engine
    sessions: sessionmaker[Session]
    landlords: dict[str, Landlord]
    processes_dir: Path
    forms_dir: Path
    casework: Casework
    complaints: ComplaintService
    tasks: TaskService
    hazards: HazardService
    clock: clock.Clock = field(default=clock.SYSTEM)
    """The time this runtime's requests and sweeps read: the system clock except in a rehearsal."""

    def close(self) -> None:
        self.engine.dispose()


def build_runtime(database_url: str, processes_dir: Path | None = None, forms_dir: Path | None = None,
                  create_tables: bool = True, run_clock: clock.Clock | None = None) -> Runtime:
    processes_dir = processes_dir or default_processes_dir()
    forms_dir = forms_dir or default_forms_dir()
    landlords = load_landlords(processes_dir)
    engine = make_engine(database_url)
    if create_tables:
        create_schema(engine)
    watch_deadlines(engine)   # an earlier deadline wakes the timer scheduler, here or (PostgreSQL) anywhere
    sessions = make_session_factory(engine)
    casework = Casework(landlords)
    complaints = ComplaintService(sessions, casework)
    return Runtime(engine, sessions, landlords, processes_dir, forms_dir, casework, complaints,
                   TaskService(sessions, casework), HazardService(sessions, casework, complaints),
                   run_clock or default_clock())
