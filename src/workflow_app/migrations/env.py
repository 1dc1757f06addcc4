"""Alembic environment: migrations run on the connection the app hands over."""
from __future__ import annotations

from alembic import context

from workflow_app.casework.models import Base
from workflow_app.casework.search import outside_the_models

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        from sqlalchemy import create_engine
        with create_engine(config.get_main_option("sqlalchemy.url")).connect() as connection:
            _run(connection)
            connection.commit()
    else:
        _run(connection)


def _run(connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=connection.dialect.name == "sqlite", include_name=outside_the_models)
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
