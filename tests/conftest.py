"""Shared fixtures: a runtime on SQLite and, where a server is given, on PostgreSQL.

PostgreSQL tests use `WORKFLOW_APP_TEST_POSTGRES_URL`. On a laptop without it they skip
with a message; in CI (`CI=true`) a missing server is a failure, never a skip.
"""
from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from workflow_app.rules import clock
from workflow_app.casework.accounts import create_user
from workflow_app.diagrams.definitions import cache as definition_cache
from workflow_app.casework.deployments import deploy, diagram_files, read_forms
from workflow_app.casework.runtime import build_runtime

FIXTURES = Path(__file__).parent / "fixtures"
PROCESSES = FIXTURES / "processes"
FORMS = FIXTURES / "forms"
POSTGRES_URL = os.environ.get("WORKFLOW_APP_TEST_POSTGRES_URL")
IN_CI = os.environ.get("CI", "").lower() == "true"


def postgres_url_or_skip() -> str:
    if POSTGRES_URL:
        return POSTGRES_URL
    if IN_CI:
        pytest.fail("CI must run the PostgreSQL tests: WORKFLOW_APP_TEST_POSTGRES_URL is not set")
    pytest.skip("no PostgreSQL server: set WORKFLOW_APP_TEST_POSTGRES_URL to run these tests")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.sqlite3'}"
    url = postgres_url_or_skip()
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return url


@pytest.fixture
def virtual_clock():
    at = datetime.fromisoformat("2026-12-23T16:30:00+00:00")
    with clock.using(clock.VirtualClock(at)) as virtual:
        yield virtual


@pytest.fixture
def runtime(database_url, virtual_clock):
    definition_cache.clear()
    runtime = build_runtime(database_url, PROCESSES, FORMS)
    yield runtime
    runtime.close()


@pytest.fixture
def deployed(runtime):
    forms = read_forms(FORMS)
    with runtime.sessions.begin() as session:
        for landlord, path in diagram_files(PROCESSES):
            deploy(session, landlord, path.read_bytes(), forms, "tester")
    return runtime


def send_letters(runtime, reference: str, user) -> list[int]:
    """Send the letters the Code requires that the complaint's last step drafted (as a caseworker must
    before the next task)."""
    from workflow_app.casework.letters import LetterService
    return LetterService(runtime.sessions, runtime.casework, None).send_required(reference, user)


def make_user(runtime, username: str, roles: list[str], landlords: list[str] | None = None):
    with runtime.sessions.begin() as session:
        user = create_user(session, username, username.title(), roles, landlords or ["testshire"], "pw")
        session.expunge(user)
        return user


@pytest.fixture
def officer(deployed):
    return make_user(deployed, "olive", ["complaints_officer", "caseworker"])


@pytest.fixture
def caseworker(deployed):
    return make_user(deployed, "carl", ["caseworker"])


@pytest.fixture
def reviewer(deployed):
    return make_user(deployed, "rita", ["stage2_reviewer", "caseworker"])
