"""The schema: built by the Alembic migrations, and matching the models exactly."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from workflow_app.models import Base


def test_migrations_build_exactly_the_models_schema(runtime):
    with runtime.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []
    tables = set(inspect(runtime.engine).get_table_names())
    assert {"complaints", "workflow_instances", "tasks", "deadlines", "audit_events",
            "alembic_version"} <= tables


def test_the_queries_that_matter_have_indexes(runtime):
    indexes = {ix["name"] for table in ("workflow_instances", "tasks", "deadlines", "audit_events")
               for ix in inspect(runtime.engine).get_indexes(table)}
    assert {"ix_workflow_instances_next_due_at", "ix_tasks_open_landlord_due", "ix_deadlines_complaint_key",
            "ix_audit_complaint"} <= indexes
