"""Shared fixtures: a runtime on SQLite and, where a server is given, on PostgreSQL.

PostgreSQL tests use `WORKFLOW_APP_TEST_POSTGRES_URL`. On a laptop without it they skip
with a message; in CI (`CI=true`) a missing server is a failure, never a skip. The tests make
databases of their own beside that one (named after it), so its role needs CREATEDB.

Each test's database is a copy of one migrated once per session (tests/support/databases.py).
"""
from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import settings

from tests.support import databases
from workflow_app.casework import accounts
from workflow_app.casework.accounts import create_user
from workflow_app.casework.db import create_schema, make_engine
from workflow_app.casework.deployments import deploy, diagram_files, read_forms
from workflow_app.casework.runtime import build_runtime
from workflow_app.diagrams.definitions import cache as definition_cache
from workflow_app.rules import clock

FIXTURES = Path(__file__).parent / "fixtures"
PROCESSES = FIXTURES / "processes"
FORMS = FIXTURES / "forms"
POSTGRES_URL = os.environ.get("WORKFLOW_APP_TEST_POSTGRES_URL")
IN_CI = os.environ.get("CI", "").lower() == "true"

# Examples run on loaded CI machines and in parallel: no per-example deadline.
settings.register_profile("workflow_app", deadline=None)
settings.load_profile("workflow_app")

# Passwords hashed with one round of PBKDF2 instead of scrypt: a test signs people in, it does not
# test the hash's cost. Production keeps accounts.PASSWORD_METHOD's default.
accounts.PASSWORD_METHOD = "pbkdf2:sha256:1"


def postgres_url_or_skip() -> str:
    if POSTGRES_URL:
        return POSTGRES_URL
    if IN_CI:
        pytest.fail("CI must run the PostgreSQL tests: WORKFLOW_APP_TEST_POSTGRES_URL is not set")
    pytest.skip("no PostgreSQL server: set WORKFLOW_APP_TEST_POSTGRES_URL to run these tests")


FIRST = ("tests/integration/test_service_processes.py", "tests/integration/test_demo.py")
"""The longest tests, started first so the parallel workers finish together (the order is otherwise kept)."""


def pytest_collection_modifyitems(items):
    def rank(item) -> int:
        path = item.nodeid.split("::", 1)[0]
        return FIRST.index(path) if path in FIRST else len(FIRST)
    items.sort(key=rank)


def migrate(url: str) -> None:
    """Bring an empty database to the newest schema (what build_runtime does on a new database)."""
    engine = make_engine(url)
    try:
        create_schema(engine)
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def templates(tmp_path_factory) -> Path:
    """Where this session's template databases live (shared by the xdist workers)."""
    root = databases.shared_root(tmp_path_factory)
    yield root
    if POSTGRES_URL:
        databases.drop_worker_databases(POSTGRES_URL)


def pytest_sessionfinish(session):
    """The controller (or a run without xdist) drops the PostgreSQL templates once every worker is done."""
    if POSTGRES_URL and not os.environ.get("PYTEST_XDIST_WORKER"):
        try:
            databases.drop_templates(POSTGRES_URL)
        except Exception as error:  # pragma: no cover - a server gone already
            print(f"could not drop the template databases: {error}")


def sqlite_migrated(templates: Path, target: Path) -> str:
    """A copy of the migrated SQLite template at `target`."""
    return databases.sqlite_copy(templates, "migrated", migrate, target)[0]


def postgres_migrated(templates: Path, label: str = "t") -> str:
    """A database of this worker's, copied from the migrated template; label "t" is the running test's."""
    return databases.postgres_copy(templates, postgres_url_or_skip(), "migrated", migrate, label)[0]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request, tmp_path, templates) -> str:
    """A migrated database of the test's own (a copy of one migrated once per session)."""
    if request.param == "sqlite":
        return sqlite_migrated(templates, tmp_path / "test.sqlite3")
    return postgres_migrated(templates)


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
