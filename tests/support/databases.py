"""Databases for the tests: built once per test session, copied for each test that needs one.

A template is a database brought to some state once (the Alembic migrations run, or the reporting
data set built) and then copied, never used: on SQLite the file is copied, on PostgreSQL a new
database is made with `CREATE DATABASE ... TEMPLATE`. Every test still starts from exactly what
building it from scratch gives (same rows, same ids, same sequences), for a fraction of the cost.

Under pytest-xdist the workers share the templates (the first worker to need one builds it under a
file lock; the others wait for it) and each worker has its own databases, named after its id
(PYTEST_XDIST_WORKER), so workers never touch each other's data.
"""
from __future__ import annotations

import fcntl
import itertools
import json
import os
import shutil
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")
_numbers = itertools.count(1)


def shared_root(tmp_path_factory) -> Path:
    """A folder every worker of this test session sees (pytest's base temp of the controller)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@contextmanager
def _locked(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _once(root: Path, key: str, build: Callable[[], Any]) -> Any:
    """Run `build` once per test session across every worker; return what it returned (as JSON)."""
    done = root / "templates" / f"{key}.json"
    if done.exists():
        return json.loads(done.read_text())
    with _locked(root / "templates" / f"{key}.lock"):
        if done.exists():
            return json.loads(done.read_text())
        result = build()
        done.write_text(json.dumps(result))
        return result


# --- SQLite -------------------------------------------------------------------------------------

def sqlite_template(root: Path, key: str, build: Callable[[str], Any]) -> tuple[Path, Any]:
    """The template file for `key`, built by `build(url)` once per session; returns (file, what build returned)."""
    path = root / "templates" / f"{key}.sqlite3"

    def make() -> Any:
        for stale in path.parent.glob(f"{key}.sqlite3*"):
            stale.unlink()
        result = build(f"sqlite:///{path}")
        # Every connection closed: SQLite has folded its write-ahead log into the file.
        assert not Path(f"{path}-wal").exists(), f"{path}: a connection is still open after the build"
        return result

    return path, _once(root, f"sqlite-{key}", make)


def sqlite_copy(root: Path, key: str, build: Callable[[str], Any], target: Path) -> tuple[str, Any]:
    """A copy of the template at `target`; returns (its URL, what the template's build returned)."""
    template, result = sqlite_template(root, key, build)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, target)
    return f"sqlite:///{target}", result


# --- PostgreSQL ---------------------------------------------------------------------------------

def _admin(base_url: str):
    return create_engine(base_url, isolation_level="AUTOCOMMIT")


def _name(base_url: str, suffix: str) -> str:
    name = f"{make_url(base_url).database}_{suffix}"
    assert len(name) <= 63, name
    return name


def _with_database(base_url: str, name: str) -> str:
    return make_url(base_url).set(database=name).render_as_string(hide_password=False)


def _create(base_url: str, name: str, template: str | None = None) -> str:
    engine = _admin(base_url)
    try:
        with engine.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")))
            # A test database need not outlive a crash of the server: commits return without waiting for
            # the disk (still atomic and visible to every other connection at once; a crash of the app's
            # processes, which the tests do cause, loses nothing committed).
            connection.execute(text(f'ALTER DATABASE "{name}" SET synchronous_commit TO off'))
    finally:
        engine.dispose()
    return _with_database(base_url, name)


def postgres_template(root: Path, base_url: str, key: str, build: Callable[[str], Any]) -> tuple[str, Any]:
    """The template database for `key`, built by `build(url)` once per session; returns (its name, what build
    returned). `build` must close every connection it opens (a template in use cannot be copied)."""
    name = _name(base_url, f"tpl_{key}")
    return name, _once(root, f"postgresql-{key}", lambda: build(_create(base_url, name)))


def postgres_copy(root: Path, base_url: str, key: str, build: Callable[[str], Any],
                  label: str = "t") -> tuple[str, Any]:
    """A new database for this worker copied from the template; returns (its URL, what the build returned).

    Label "t" is the one database of the test running now (dropped and made again for each test);
    other labels give a database of their own (a module's fixture beside the tests that use "t").
    """
    template, result = postgres_template(root, base_url, key, build)
    suffix = f"{WORKER}_{label}" if label == "t" else f"{WORKER}_{label}{next(_numbers)}"
    return _create(base_url, _name(base_url, suffix), template), result


def postgres_empty(base_url: str, label: str) -> str:
    """An empty database of this worker's own (dropped and made again each time)."""
    return _create(base_url, _name(base_url, f"{WORKER}_{label}"))


def drop_worker_databases(base_url: str) -> None:
    """Drop every database this worker made (the templates stay for the other workers; see drop_templates)."""
    _drop_like(base_url, _name(base_url, f"{WORKER}_"))


def drop_templates(base_url: str) -> None:
    _drop_like(base_url, _name(base_url, "tpl_"))


def _drop_like(base_url: str, prefix: str) -> None:
    engine = _admin(base_url)
    try:
        with engine.connect() as connection:
            names = connection.execute(text("SELECT datname FROM pg_database WHERE starts_with(datname, :p)"),
                                       {"p": prefix}).scalars().all()
            for name in names:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        engine.dispose()
