"""The schema: built by the Alembic migrations, and matching the models exactly."""
from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, insert, inspect, select, text

from workflow_app.casework.models import Base, Complaint, ReferenceCounter
from workflow_app.casework.search import outside_the_models


def test_migrations_build_exactly_the_models_schema(runtime):
    with runtime.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection, opts={"include_name": outside_the_models}),
                                       Base.metadata)
    assert differences == []
    tables = set(inspect(runtime.engine).get_table_names())
    assert {"complaints", "workflow_instances", "tasks", "deadlines", "audit_events",
            "alembic_version"} <= tables


def test_the_queries_that_matter_have_indexes(runtime):
    indexes = {ix["name"] for table in ("workflow_instances", "tasks", "deadlines", "audit_events")
               for ix in inspect(runtime.engine).get_indexes(table)}
    assert {"ix_workflow_instances_next_due_at", "ix_tasks_open_landlord_due", "ix_deadlines_complaint_key",
            "ix_audit_complaint"} <= indexes


def test_a_migration_refreshes_the_statistics_sqlite_already_keeps(tmp_path):
    """Statistics older than a new index would make SQLite's planner favour that index blindly."""
    from alembic import command

    from workflow_app.casework.db import alembic_config, create_schema, make_engine
    engine = make_engine(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), "0005_analysts")
        connection.exec_driver_sql("ANALYZE")
        connection.exec_driver_sql("INSERT INTO sqlite_stat1 VALUES ('tasks', 'ix_tasks_open_work', '100000 100 1')")
    create_schema(engine)                                    # brings 0006's new index on tasks
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'tasks'").scalar() == 0
    create_schema(engine)                                    # nothing to migrate: statistics left alone
    engine.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_read_on_postgresql_keeps_the_prepared_statements_and_an_unsaved_write_is_still_undone(database_url):
    """psycopg forgets its prepared statements on a ROLLBACK: a read ends in a COMMIT, so they are kept."""
    from workflow_app.casework.db import make_engine, make_session_factory
    engine = make_engine(database_url)
    sessions = make_session_factory(engine)
    try:
        for _ in range(6):      # psycopg prepares a statement the fifth time one connection runs it
            with sessions() as session:
                session.execute(select(Complaint.id).where(Complaint.reference == "GP-2026-000001")).all()
        with sessions() as session:
            assert session.scalar(text("SELECT count(*) FROM pg_prepared_statements")) >= 1
        with sessions() as session:       # a write the session did not commit
            session.execute(insert(ReferenceCounter).values(landlord="great_places", year=2026, last=7))
        with sessions() as session:
            assert session.scalar(select(func.count()).select_from(ReferenceCounter)) == 0
    finally:
        engine.dispose()
