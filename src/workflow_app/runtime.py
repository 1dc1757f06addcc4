"""Everything a running app needs, built once: database, landlords, services.

The web app, the CLI, the scheduler process and the simulator all build one of these,
so they share one way of wiring the product together.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from .complaints import ComplaintService
from .db import create_schema, make_engine, make_session_factory
from .engine import Casework
from .landlords import Landlord, load_landlords
from .tasks import TaskService

PROCESSES_VARIABLE = "WORKFLOW_APP_PROCESSES"
FORMS_VARIABLE = "WORKFLOW_APP_FORMS"


def default_processes_dir() -> Path:
    return Path(os.environ.get(PROCESSES_VARIABLE, "processes")).resolve()


def default_forms_dir() -> Path:
    return Path(os.environ.get(FORMS_VARIABLE, "forms")).resolve()


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

    def close(self) -> None:
        self.engine.dispose()


def build_runtime(database_url: str, processes_dir: Path | None = None, forms_dir: Path | None = None,
                  create_tables: bool = True) -> Runtime:
    processes_dir = processes_dir or default_processes_dir()
    forms_dir = forms_dir or default_forms_dir()
    landlords = load_landlords(processes_dir)
    engine = make_engine(database_url)
    if create_tables:
        create_schema(engine)
    sessions = make_session_factory(engine)
    casework = Casework(landlords)
    return Runtime(engine, sessions, landlords, processes_dir, forms_dir, casework,
                   ComplaintService(sessions, casework), TaskService(sessions, casework))
