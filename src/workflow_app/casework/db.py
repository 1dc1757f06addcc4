"""The database: where it is, and sessions on it.

`WORKFLOW_APP_DATABASE_URL` picks the database (PostgreSQL for real deployments);
without it the app uses a SQLite file in its instance folder.
"""
from __future__ import annotations

import weakref
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from workflow_app import settings

DATABASE_URL_VARIABLE = "WORKFLOW_APP_DATABASE_URL"
MIGRATIONS = Path(__file__).parent.parent / "migrations"
POOL_RECYCLE_SECONDS = 300
"""A pooled server connection is replaced after this long, so none outlives a firewall's or proxy's
idle timeout (they are commonly 5 to 15 minutes)."""

T = TypeVar("T")


def default_instance_dir() -> Path:
    """Where the default SQLite database lives: WORKFLOW_APP_INSTANCE, else ./instance.

    The web app and the CLI both use this, so `workflow-app demo` and `workflow-app serve`
    see the same database.
    """
    return settings.load().instance.resolve()


def database_url(instance_path: Path) -> str:
    url = settings.load().database_url
    if url:
        return url
    instance_path.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{instance_path / 'workflow_app.sqlite3'}"


def make_engine(url: str) -> Engine:
    """An engine that never writes statement parameters (residents' details) to logs or errors."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False},
                               hide_parameters=True)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            if ":memory:" not in url:
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    # No ping before each checkout: that is a round trip on every unit of work. A connection the
    # server has dropped (a restart, an idle timeout) fails on its first statement instead, and
    # SQLAlchemy then replaces every connection pooled before the failure ("optimistic" disconnect
    # handling); `read_retrying_dropped` repeats a first read once on a new connection. The pool
    # hands out the connection used last (LIFO): a web request's service takes the one its
    # identity read has just used, and spare connections age out under `pool_recycle`.
    engine = create_engine(url, pool_recycle=POOL_RECYCLE_SECONDS, pool_use_lifo=True, hide_parameters=True)
    if engine.dialect.driver == "psycopg":
        _end_reads_with_commit(engine)
    return engine


def _end_reads_with_commit(engine: Engine) -> None:
    """A transaction that only read ends in COMMIT rather than ROLLBACK, so psycopg keeps its prepared statements.

    psycopg prepares a statement the fifth time a connection runs it, and forgets every prepared statement on a
    ROLLBACK (DEALLOCATE ALL: it cannot tell a rollback that undid a CREATE from one that undid nothing). Every
    read-only unit of work (a page, a service's read, `with sessions() as session:`) ends in a rollback when its
    session closes, so on a connection shared by pages and actions the actions' statements were planned afresh,
    again and again. A COMMIT of a transaction that ran nothing but SELECTs changes and releases exactly what a
    ROLLBACK would; any other statement (a write, a savepoint, DDL) keeps the rollback, and so does a transaction
    in error."""
    from psycopg.pq import TransactionStatus

    wrote: weakref.WeakSet = weakref.WeakSet()     # the DBAPI connections whose transaction ran more than SELECTs

    @event.listens_for(engine, "before_cursor_execute")
    def _note_writes(_connection, cursor, statement, _parameters, _context, _executemany) -> None:
        if statement[:6].upper() != "SELECT":
            wrote.add(cursor.connection)

    dialect = engine.dialect
    rollback, commit = dialect.do_rollback, dialect.do_commit

    def do_rollback(dbapi_connection) -> None:
        connection = getattr(dbapi_connection, "dbapi_connection", dbapi_connection)   # the pool's wrapper, or not
        if connection in wrote or connection.info.transaction_status != TransactionStatus.INTRANS:
            wrote.discard(connection)
            rollback(dbapi_connection)
        else:
            commit(dbapi_connection)

    def do_commit(dbapi_connection) -> None:
        wrote.discard(getattr(dbapi_connection, "dbapi_connection", dbapi_connection))
        commit(dbapi_connection)

    dialect.do_rollback, dialect.do_commit = do_rollback, do_commit


def read_retrying_dropped(session: Session, read: Callable[[Session], T], **execution_options) -> T:
    """`read(session)` as the first statement of the session's transaction, tried once more on a new
    connection when the server had dropped the pooled one (after a database restart, say).

    Only for a read that begins the unit of work: nothing was done on the dropped connection, so
    repeating the read is safe. `execution_options` apply to the connection each attempt uses (e.g.
    `isolation_level="AUTOCOMMIT"` for a single SELECT that needs no transaction)."""
    def attempt() -> T:
        if execution_options:
            session.connection(execution_options=execution_options)
        return read(session)

    try:
        return attempt()
    except DBAPIError as error:
        if not error.connection_invalidated:
            raise
        session.rollback()   # SQLAlchemy has discarded the connections pooled before the failure
    return attempt()


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config(connection=None):
    from alembic.config import Config
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def create_schema(engine: Engine) -> None:
    """Bring the database up to the newest schema with the Alembic migrations."""
    from alembic import command
    from alembic.runtime.migration import MigrationContext
    with engine.begin() as connection:
        revision = MigrationContext.configure(connection).get_current_revision
        before = revision()
        command.upgrade(alembic_config(connection), "head")
        if engine.dialect.name == "sqlite" and before not in (None, revision()):
            _refresh_sqlite_statistics(connection)


def _refresh_sqlite_statistics(connection) -> None:
    """Analyse again each table SQLite holds statistics for, after a migration changed the schema.

    A new index with no statistics beside its table's older ones looks cheap to SQLite's
    planner, which then prefers it blindly (an uncovered index over a covering one).
    """
    if connection.exec_driver_sql("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").first() is None:
        return
    for (table,) in connection.exec_driver_sql("SELECT DISTINCT tbl FROM sqlite_stat1").all():
        connection.exec_driver_sql(f'ANALYZE "{table}"')
