"""Backups of the SQLite database, taken safely while the app runs.

SQLite's online backup copies a consistent snapshot even while complaints are being
changed. PostgreSQL deployments use pg_dump and pg_restore (docs/operations.md).
"""
from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from sqlalchemy.engine import make_url


class BackupError(Exception):
    pass


def sqlite_path(database_url: str) -> Path:
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        raise BackupError("backup and restore handle the SQLite database; for PostgreSQL use pg_dump and "
                          "pg_restore as docs/operations.md shows")
    return Path(url.database)


def backup(database_url: str, target: Path) -> int:
    """Copy a consistent snapshot to `target`; returns the number of complaints in it."""
    source_path = sqlite_path(database_url)
    if not source_path.exists():
        raise BackupError(f"no database at {source_path}")
    if target.exists():
        raise BackupError(f"{target} exists; choose a new file name")
    target.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(source_path) as source, sqlite3.connect(target) as copy:
        source.backup(copy)
    return _complaints_in(target)


def restore(database_url: str, backup_file: Path) -> int:
    """Replace the database with a backup after checking it; returns the complaints restored.

    Stop the app and the scheduler first: a running process keeps writing to the old file.
    """
    target = sqlite_path(database_url)
    count = _complaints_in(backup_file)
    if target.exists():
        shutil.copy2(target, target.with_name(target.name + ".before-restore"))
    for leftover in (target.with_name(target.name + "-wal"), target.with_name(target.name + "-shm")):
        leftover.unlink(missing_ok=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(backup_file) as source, sqlite3.connect(target) as copy:
        source.backup(copy)
    return count


def _complaints_in(path: Path) -> int:
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
            connection.execute("SELECT version_num FROM alembic_version").fetchone()
            (count,) = connection.execute("SELECT count(*) FROM complaints").fetchone()
    except sqlite3.DatabaseError as error:
        raise BackupError(f"{path} is not a workflow-app database: {error}") from None
    return count
